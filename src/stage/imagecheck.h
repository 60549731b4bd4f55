/* imagecheck.h - the images of a run checked before its first image is computed: an image whose
 * model input would have a side of 0 pixels (the official preprocessing fails on it too) or whose
 * largest step needs more memory than the process can have is refused by id, file and size, all
 * such images at once, instead of stopping the run hours later with an internal message.
 * Only image headers are read.
 */
#ifndef WS_STAGE_IMAGECHECK_H
#define WS_STAGE_IMAGECHECK_H

#include <stddef.h>

/* What a stage makes of an image of w x h pixels: *ow, *oh its model input (0 = the resize fails),
 * *bytes a lower bound of the memory of its largest step (0 = no concern). ctx is the stage's. */
typedef void (*ws_image_need_fn)(const void *ctx, int w, int h, int *ow, int *oh, double *bytes);

typedef struct ws_image_need {
    const char *input;      /* the resize, for the message: "SAM's longest-side resize to 1024" */
    const char *step;       /* the largest step, for the message: "the attention over its patches" */
    const char *advice;     /* what to do about a thin image */
    ws_image_need_fn fn;
    const void *ctx;
} ws_image_need;

/* Checks the images `paths` (named `ids`) i in 0..n-1 with todo == NULL or todo[i] set. Returns 0,
 * or fails listing the first few offending images and their count. */
int ws_stage_check_images(char *const *ids, char *const *paths, int n, const unsigned char *todo,
                          const ws_image_need *need);
/* The same for the images of a dataset. */
struct ws_dataset;
int ws_stage_check_dataset(const struct ws_dataset *ds, const unsigned char *todo, const ws_image_need *need);
/* SAM's need (masks, boxseed): segment-anything's ResizeLongestSide, int(side * scale + 0.5), which is 0
 * for a side under half a pixel after scaling, and n_masks float masks upsampled to the image. */
typedef struct { int img_size, n_masks; } ws_sam_need_ctx;
void ws_stage_sam_need(const void *ctx, int w, int h, int *ow, int *oh, double *bytes);
/* The memory this process may use: the address-space limit (ulimit -v) when set, else the physical
 * memory; 0 when unknown. */
double ws_stage_memory_budget(void);

#endif

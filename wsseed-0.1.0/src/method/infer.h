/* infer.h - FMA-WSSS CAM inference for one image (infer_cam/run.py): PIL-bicubic resize to
 * multiples of 16 (single scale, no flip), CLIP normalisation, softmax Grad-CAM of the GT classes
 * without create_graph, and the mean head-averaged attention of the last blocks (patch tokens).
 */
#ifndef WS_METHOD_INFER_H
#define WS_METHOD_INFER_H
#include <stdint.h>
#include "method/prompt.h"

typedef struct ws_cam_result {
    int P, gh, gw, n_fg;
    float *cam;         /* (P, gh, gw) raw Grad-CAM */
    int64_t *fg_cls;    /* (P) class indices, ascending */
    float *fg_logit;    /* (P) */
    float *all_logit;   /* (n_fg) */
    float *att;         /* (gh*gw, gh*gw) mean attention of the last att_layers blocks, or NULL */
} ws_cam_result;
/* Frees the arrays of a result of ws_fma_infer; a zeroed result is a no-op. */
void ws_cam_result_free(ws_cam_result *r);

/* rgb (h, w, 3) with GT presence fg[n_fg]; att_layers 8 (0 = no attention). */
int ws_fma_infer(const ws_clip *m, const ws_prompt *p, const uint8_t *rgb, int h, int w, const uint8_t *fg, int n_fg,
                 int att_layers, ws_cam_result *out);
#endif

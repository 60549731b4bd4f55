/* report.h - the report stage: report.html of a pipeline run: one self-contained file (images embedded as PNG data
 * URIs made with libpng, no external assets) with the seed mIoUs and per-class IoU bars, the loss
 * and learning-rate curves of both trainings, and for a few images: the photo, the ground truth,
 * the CAM heat map and the coarse and fine seeds as overlays.
 */
#ifndef WS_STAGE_REPORT_H
#define WS_STAGE_REPORT_H
#include <stddef.h>
#include <stdint.h>

typedef struct ws_report_input {
    const char *run_dir;                     /* report.html goes here */
    const char *root, *split, *image_dir, *label_dir;   /* dataset (label_dir '' = no ground truth) */
    const char *seeds[2];                    /* coarse, fine seed folders */
    const char *metrics[2];                  /* cls, seg metrics.csv */
    const char *cams[2];                     /* cls, seg refined CAM stores (may be NULL) */
    int n_images;
    double miou_coarse, miou_fine;           /* NaN without ground truth */
    const double *iou[2];                    /* per-class IoU (21 or 81 values) or NULL */
    int n_classes;
    const char *const *class_names;          /* [n_classes] names by label value (0 background), borrowed */
} ws_report_input;

/* Writes <run_dir>/report.html (temp file + rename). */
int ws_stage_report(const ws_report_input *r);
/* PNG encoding of an RGB image into memory (malloc'd *out, *len). */
int ws_png_encode_rgb(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len);
/* A PNG plot: for each run i, seed mIoU y[0][i] (coarse, orange) and y[1][i] (fine, blue) at the
 * position of its value x[i] in 0..nx-1; y in 0..1 bottom to top, grid lines every 0.25. */
int ws_report_scatter_png(const char *path, const double *x, const double *const y[2], int n, int nx);
#endif

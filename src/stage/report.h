/* report.h - the report stage: report.html of a pipeline run, one self-contained file a person
 * reads instead of the logs: seed mIoU per seed mode, per-class IoU / precision / recall (sortable
 * table, labelled bar charts), the confusion matrix as a heat map, loss and learning-rate curves
 * of both trainings (inline SVG with axes, ticks and units), and for a few images the photo,
 * ground truth, CAM heat map with its colour scale, coarse and fine seeds with a legend of class
 * colours, and the SAM masks outlined (PNG data URIs made with libpng; no external assets).
 */
#ifndef WS_STAGE_REPORT_H
#define WS_STAGE_REPORT_H
#include <stddef.h>
#include <stdint.h>

#include "method/evaluate.h"

#define WS_REPORT_MODES 3   /* FMA coarse, FMA fine, boxed SAM */

typedef struct ws_report_input {
    const char *run_dir;                     /* report.html goes here */
    const char *root, *split, *image_dir, *label_dir;   /* dataset (label_dir '' = no ground truth) */
    const char *seeds[2];                    /* coarse, fine seed folders */
    const char *metrics[2];                  /* cls, seg metrics.csv */
    const char *cams[2];                     /* cls, seg refined CAM stores (may be NULL) */
    const char *masks;                       /* SAM mask store (may be NULL) */
    int n_images;                            /* image rows shown */
    int n_modes;                             /* seed modes evaluated: 2, or 3 with the boxed seeds */
    const ws_eval_metrics *eval;             /* n_modes metrics, or NULL without ground truth */
    const int64_t *conf[WS_REPORT_MODES];    /* (n_classes, n_classes) confusion matrices (rows gt) or NULL */
    const char *const *class_names;          /* [n_classes] names by label value (0 background), borrowed */
    int n_classes;
} ws_report_input;

/* Writes <run_dir>/report.html (temp file + rename). */
int ws_stage_report(const ws_report_input *r);
/* PNG encoding of an RGB image into memory (malloc'd *out, *len). */
int ws_png_encode_rgb(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len);
#endif

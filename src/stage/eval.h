/* eval.h - the eval stage: seed quality against the ground truth (AlchemyCat SegmentationMetric:
 * a dataset-level confusion matrix, per-class IoU / precision / recall, mIoU over the classes
 * present), and the image-label quality of a box store (precision / recall / F1). */
#ifndef WS_STAGE_EVAL_H
#define WS_STAGE_EVAL_H
#include "method/evaluate.h"

typedef struct ws_eval_settings {
    const char *pred;      /* folder of predicted <id>.png (borrowed) */
    const char *gt;        /* folder of ground-truth <id>.png (borrowed) */
    int n_cls;             /* classes including background (21 VOC, 81 COCO); 0 with class_file */
    const char *const *names;  /* NULL or the n_cls names by value (borrowed); NULL: VOC's when n_cls is 21 */
    const char *class_file;    /* NULL or a custom class file (data.class_file's format): names and n_cls */
    const char *json;      /* NULL or the JSON report to write */
    const char *md;        /* NULL or the Markdown table to write */
    int quiet;             /* 1: no table on stdout */
    int64_t *conf;         /* NULL or (n_cls, n_cls) receiving the confusion matrix (rows gt; caller's) */
} ws_eval_settings;

/* Evaluates every pred/<id>.png against gt/<id>.png (255 ignored); writes the reports given
 * (atomically); *m (may be NULL) receives the metrics. Fails naming the file at fault. */
int ws_stage_eval(const ws_eval_settings *s, ws_eval_metrics *m);
/* Image-label precision / recall / F1 of box store `store` against its gt_labels; prints a line,
 * writes json (may be NULL); *f1 (may be NULL) receives F1. */
int ws_stage_eval_labels(const char *store, const char *json, double *f1);
#endif

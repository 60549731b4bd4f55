/* evaluate.h - segmentation metrics of seeds against ground truth (AlchemyCat SegmentationMetric):
 * a dataset-level confusion matrix (rows gt, columns prediction) over n classes, gt values >= n
 * (255) ignored; IoU, precision, recall per class (NaN for 0/0), mIoU over classes with gt pixels,
 * pixel accuracy. */
#ifndef WS_METHOD_EVALUATE_H
#define WS_METHOD_EVALUATE_H
#include <stddef.h>
#include <stdint.h>

/* Adds one (pred, gt) pair of npix pixels to conf (n x n). A prediction >= n on a counted pixel is
 * an error (the message says which value). */
int ws_eval_add(int64_t *conf, int n, const uint8_t *pred, const uint8_t *gt, size_t npix);

typedef struct ws_eval_metrics {
    double iou[256], precision[256], recall[256];
    uint8_t valid[256];   /* gt pixels > 0 */
    double miou, accuracy;
} ws_eval_metrics;
/* Per-class IoU / precision / recall, mIoU over the classes present in the ground truth and pixel
 * accuracy of the n x n confusion matrix conf (rows: ground truth); NaN where undefined. */
void ws_eval_metrics_of(const int64_t *conf, int n, ws_eval_metrics *m);
#endif

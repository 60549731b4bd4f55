/* evaluate.c - confusion matrix and metrics (see evaluate.h). */
#include "method/evaluate.h"

#include <math.h>

#include "core/status.h"

int ws_eval_add(int64_t *conf, int n, const uint8_t *pred, const uint8_t *gt, size_t npix)
{
    for (size_t i = 0; i < npix; i++) {
        if (gt[i] >= n) continue;
        if (pred[i] >= n)
            return ws_fail(WS_EINVAL, "prediction value %d at pixel %zu is not a class (0..%d) nor ignored", pred[i], i, n - 1);
        conf[(size_t)gt[i] * n + pred[i]]++;
    }
    return 0;
}

void ws_eval_metrics_of(const int64_t *conf, int n, ws_eval_metrics *m)
{
    double tp_sum = 0, total = 0, miou = 0;
    int nv = 0;
    for (int c = 0; c < n; c++) {
        double tp = (double)conf[(size_t)c * n + c], row = 0, col = 0;
        for (int k = 0; k < n; k++) {
            row += (double)conf[(size_t)c * n + k];
            col += (double)conf[(size_t)k * n + c];
        }
        double fn = row - tp, fp = col - tp;
        m->iou[c] = tp + fp + fn > 0 ? tp / (tp + fp + fn) : NAN;
        m->precision[c] = tp + fp > 0 ? tp / (tp + fp) : NAN;
        m->recall[c] = tp + fn > 0 ? tp / (tp + fn) : NAN;
        m->valid[c] = row > 0;
        if (m->valid[c]) { miou += m->iou[c]; nv++; }
        tp_sum += tp;
        total += row;
    }
    m->miou = nv ? miou / nv : NAN;
    m->accuracy = total > 0 ? tp_sum / total : NAN;
}

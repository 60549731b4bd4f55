/* optim.h - torch.optim.SGD (momentum, weight decay, no dampening, no Nesterov) on one tensor,
 * and the FMA-WSSS learning-rate schedule (SequentialLR of a constant warm phase and cosine).
 * The momentum buffer is owned by the optimiser; ws_sgd_free releases it.
 */
#ifndef WS_TRAIN_OPTIM_H
#define WS_TRAIN_OPTIM_H
#include "shim/at.h"

typedef struct ws_sgd {
    double momentum, weight_decay;
    ws_at_tensor buf;   /* like the parameter; NULL before the first step */
} ws_sgd;

/* d = grad + wd * param; buf = d (first step) or momentum * buf + d; param -= lr * buf, in place
 * and without autograd (the previous grad mode is restored). The operations are torch's own, in
 * torch's order. param and grad are borrowed. Returns 0 or WS_ETORCH with libtorch's message. */
int ws_sgd_step(ws_sgd *s, ws_at_tensor param, ws_at_tensor grad, double lr);
void ws_sgd_free(ws_sgd *s);   /* frees the momentum buffer; NULL or a zeroed ws_sgd is a no-op */

typedef struct ws_lr_sched {
    double base_lr;       /* 1e-3 */
    int warm_iters;       /* 500 (COCO 1000) */
    double warm_factor;   /* 0.01: LinearLR(start = end = 0.01) */
    int max_iter;         /* cosine over max_iter - warm_iters */
    double eta_min;       /* 0 */
} ws_lr_sched;
/* LR at 0-based iteration t (read before the optimiser step); cannot fail. */
double ws_lr_at(const ws_lr_sched *s, long t);
#endif

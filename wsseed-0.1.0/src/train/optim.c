/* optim.c - SGD and the LR schedule (see optim.h). */
#include "train/optim.h"

#include <math.h>

#include "core/status.h"

int ws_sgd_step(ws_sgd *s, ws_at_tensor param, ws_at_tensor grad, double lr)
{
    ws_at_tensor d = NULL;
    ws_at_guard ng = NULL;
    int rc = 0;
    if (ws_at_grad_mode_enter(0, NULL, &ng) || ws_at_add_scaled(grad, param, s->weight_decay, &d)) goto fail;
    if (!s->buf) {
        if (ws_at_clone(d, &s->buf)) goto fail;
    } else if (ws_at_mul_scalar_(s->buf, s->momentum) || ws_at_add_scaled_(s->buf, d, 1.0)) {
        goto fail;
    }
    if (ws_at_add_scaled_(param, s->buf, -lr)) goto fail;
    goto done;
fail:
    rc = ws_fail(WS_ETORCH, "SGD step: %s", ws_at_last_error());
done:
    ws_at_free(d);
    ws_at_guard_exit(ng);
    return rc;
}

void ws_sgd_free(ws_sgd *s)
{
    if (!s) return;
    ws_at_free(s->buf);
    s->buf = NULL;
}

double ws_lr_at(const ws_lr_sched *s, long t)
{
    if (t < s->warm_iters) return s->base_lr * s->warm_factor;
    double T = (double)(s->max_iter - s->warm_iters);
    if (T <= 0) return s->eta_min;
    return s->eta_min + 0.5 * (s->base_lr - s->eta_min) * (1.0 + cos(3.14159265358979323846 * (double)(t - s->warm_iters) / T));
}

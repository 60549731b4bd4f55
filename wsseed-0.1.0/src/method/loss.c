/* loss.c - MCL and CAM activation losses (see loss.h). */
#include "method/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

ws_at_tensor ws_loss_mcl(ws_scope *g, ws_at_tensor fg_logits, const uint8_t *labels, int N, int C, int *n_pairs)
{
    float *pos = calloc((size_t)N * C * 2 + 1, sizeof *pos);   /* zeroed: N * C may be 0 */
    int pairs = 0;
    if (!pos) {
        ws_scope_poison(g, ws_fail(WS_ENOMEM, "MCL: out of memory"));
        return NULL;
    }
    float *neg = pos + (size_t)N * C;
    for (int n = 0; n < N; n++) {
        int np = 0;
        for (int c = 0; c < C; c++) np += labels[n * C + c] != 0;
        int valid = np > 0 && np < C;
        for (int c = 0; c < C; c++) {
            pos[n * C + c] = valid && labels[n * C + c];
            neg[n * C + c] = !labels[n * C + c];
        }
        pairs += valid ? np : 0;
    }
    *n_pairs = pairs;
    const int64_t s[2] = {N, C};
    ws_at_tensor P = ws_g_from_data(g, pos, WS_AT_F32, 2, s), Q = ws_g_from_data(g, neg, WS_AT_F32, 2, s);
    free(pos);
    if (!pairs) return ws_g_full(g, 0.0, WS_AT_F32, 0, NULL);
    /* l = -(S_p - m) + log(exp(S_p - m) + sum_neg exp(S_q - m)), m the row max */
    ws_at_tensor S = ws_g_sub(g, fg_logits, ws_g_detach(g, ws_g_reduce(g, WS_AT_RAMAX, fg_logits, 1, 1)));
    ws_at_tensor E = ws_g_unary(g, WS_AT_EXP, S);
    ws_at_tensor negsum = ws_g_reduce(g, WS_AT_RSUM, ws_g_mul(g, E, Q), 1, 1);
    ws_at_tensor l = ws_g_sub(g, ws_g_unary(g, WS_AT_LOG, ws_g_add(g, E, negsum)), S);
    return ws_g_mul_scalar(g, ws_g_reduce(g, WS_AT_RSUM, ws_g_mul(g, l, P), WS_AT_ALL, 0), 1.0 / pairs);
}

void ws_cam_loss_out_free(ws_cam_loss_out *o)
{
    if (!o) return;
    free(o->fg_count);
    free(o->bg_count);
    o->fg_count = o->bg_count = NULL;
}

int ws_loss_cam(ws_scope *g, ws_at_tensor cam, const uint8_t *seeds, int H, int W, const ws_positives *pos,
                ws_cam_loss_out *out)
{
    const int64_t P = pos->P, HW = (int64_t)H * W;
    memset(out, 0, sizeof *out);
    if (g->err) return g->err;
    float *F = malloc((size_t)(P * HW) * 2 * sizeof *F), *B = F ? F + P * HW : NULL;
    out->fg_count = calloc((size_t)(P ? P : 1), sizeof *out->fg_count);
    out->bg_count = calloc((size_t)(P ? P : 1), sizeof *out->bg_count);
    if (!F || !out->fg_count || !out->bg_count) {
        free(F);
        return ws_fail(WS_ENOMEM, "CAM loss: out of memory");
    }
    int64_t Z = 0;
    for (int64_t p = 0; p < P; p++) {
        const uint8_t *lb = seeds + pos->batch[p] * HW, c1 = (uint8_t)(pos->cls[p] + 1);
        for (int64_t i = 0; i < HW; i++) {
            int f = lb[i] == c1, b = !f && lb[i] != 255;
            F[p * HW + i] = (float)f;
            B[p * HW + i] = (float)b;
            out->fg_count[p] += f;
            out->bg_count[p] += b;
        }
        Z += out->fg_count[p] + out->bg_count[p];
    }
    const int64_t s3[3] = {P, H, W};
    int64_t cs[3];
    int nd = 0;
    ws_at_tensor Ft = ws_g_from_data(g, F, WS_AT_F32, 3, s3), Bt = ws_g_from_data(g, B, WS_AT_F32, 3, s3);
    free(F);
    if (g->err || ws_at_shape(cam, cs, 3, &nd) || nd != 3 || cs[0] != P)
        return g->err ? g->err : ws_fail(WS_ESHAPE, "CAM loss: cam must be (P=%lld, h, w)", (long long)P);
    if (Z == 0) return ws_fail(WS_EINVAL, "CAM loss: every label pixel is ignored (255)");
    const int64_t c4[4] = {P, 1, cs[1], cs[2]};
    out->upsampled = ws_g_reshape(g, ws_g_interpolate(g, ws_g_reshape(g, cam, 4, c4), WS_AT_INTERP_BILINEAR, H, W, 0),
                                  3, s3);
    /* m = max(0, max over F), detached; -inf outside F */
    ws_at_tensor det = ws_g_detach(g, out->upsampled);
    ws_at_tensor inf = ws_g_full(g, -INFINITY, WS_AT_F32, 0, NULL);
    ws_at_tensor fmask = ws_g_scalar_op(g, WS_AT_GT, Ft, 0.5);
    ws_at_tensor mx = ws_g_reduce(g, WS_AT_RAMAX, ws_g_reshape(g, ws_g_where(g, fmask, det, inf), 2,
                                                               (int64_t[2]){P, HW}), 1, 0);
    out->max_fg = ws_g_scalar_op(g, WS_AT_MAXIMUM, mx, 0.0);
    const int64_t m3[3] = {P, 1, 1};
    ws_at_tensor m = ws_g_reshape(g, out->max_fg, 3, m3);
    ws_at_tensor lfg = ws_g_mul(g, ws_g_unary(g, WS_AT_ABS, ws_g_sub(g, m, out->upsampled)), Ft);
    ws_at_tensor lbg = ws_g_mul(g, ws_g_unary(g, WS_AT_RELU, out->upsampled), Bt);
    out->fg = ws_g_mul_scalar(g, ws_g_reduce(g, WS_AT_RSUM, lfg, WS_AT_ALL, 0), 1.0 / (double)Z);
    out->bg = ws_g_mul_scalar(g, ws_g_reduce(g, WS_AT_RSUM, lbg, WS_AT_ALL, 0), 1.0 / (double)Z);
    return g->err;
}

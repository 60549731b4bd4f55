/* gradcam.c - logits, masked softmax and softmax Grad-CAM (see gradcam.h). */
#include "method/gradcam.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int ws_positives_from(ws_positives *p, const uint8_t *labels, int N, int C)
{
    memset(p, 0, sizeof *p);
    int n = 0;
    for (int i = 0; i < N * C; i++) n += labels[i] != 0;
    p->batch = malloc((size_t)(n ? n : 1) * sizeof *p->batch);
    p->cls = malloc((size_t)(n ? n : 1) * sizeof *p->cls);
    p->round = malloc((size_t)(n ? n : 1) * sizeof *p->round);
    if (!p->batch || !p->cls || !p->round) {
        ws_positives_free(p);
        return ws_fail(WS_ENOMEM, "positives: out of memory");
    }
    for (int b = 0; b < N; b++) {
        int r = 0;
        for (int c = 0; c < C; c++) {
            if (!labels[b * C + c]) continue;
            p->batch[p->P] = b;
            p->cls[p->P] = c;
            p->round[p->P++] = r++;
        }
        if (r > p->rounds) p->rounds = r;
    }
    return 0;
}

void ws_positives_free(ws_positives *p)
{
    if (!p) return;
    free(p->batch);
    free(p->cls);
    free(p->round);
    memset(p, 0, sizeof *p);
}

ws_at_tensor ws_fma_logits(ws_scope *g, ws_at_tensor img_emb, ws_at_tensor text_feat, ws_at_tensor scale)
{
    const int64_t tr[2] = {1, 0};
    ws_at_tensor f = ws_g_div(g, img_emb, ws_g_norm(g, img_emb, -1, 1));
    ws_at_tensor t = ws_g_div(g, text_feat, ws_g_norm(g, text_feat, -1, 1));
    return ws_g_matmul(g, ws_g_mul(g, scale, f), ws_g_permute(g, t, 2, tr));
}

ws_at_tensor ws_fma_masked_softmax(ws_scope *g, ws_at_tensor logits, ws_at_tensor mask, double eps)
{
    ws_at_tensor m = ws_g_reduce(g, WS_AT_RAMAX, logits, 1, 1);
    ws_at_tensor e = ws_g_mul(g, ws_g_unary(g, WS_AT_EXP, ws_g_sub(g, logits, m)), mask);
    ws_at_tensor z = ws_g_scalar_op(g, WS_AT_ADD, ws_g_reduce(g, WS_AT_RSUM, e, 1, 1), eps);
    return ws_g_div(g, e, z);
}

ws_at_tensor ws_fma_softmax_mask(ws_scope *g, const uint8_t *labels, int N, int n_fg, int G)
{
    float *m = malloc((size_t)N * G * sizeof *m);
    if (!m) {
        ws_scope_poison(g, ws_fail(WS_ENOMEM, "softmax mask: out of memory"));
        return NULL;
    }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < G; c++) m[n * G + c] = c < n_fg ? (labels[n * n_fg + c] != 0) : 1.0f;
    const int64_t s[2] = {N, G};
    ws_at_tensor t = ws_g_from_data(g, m, WS_AT_F32, 2, s);
    free(m);
    return t;
}

/* Index tensor from a C array. */
static ws_at_tensor idx_tensor(ws_scope *g, const int64_t *v, int64_t n)
{
    return ws_g_from_data(g, v, WS_AT_I64, 1, &n);
}

ws_at_tensor ws_gradcam_per_positive(ws_scope *g, ws_at_tensor targets, const ws_positives *pos, int64_t N,
                                     ws_at_tensor X, int create_graph)
{
    const int64_t P = pos->P;
    if (g->err) return NULL;
    int64_t *rows = malloc((size_t)P * 2 * sizeof *rows), *sel = rows ? rows + P : NULL;
    ws_at_tensor *grads = calloc((size_t)pos->rounds + 1, sizeof *grads), res = NULL;
    if (!rows || !grads) ws_scope_poison(g, ws_fail(WS_ENOMEM, "Grad-CAM: out of memory"));
    for (int r = 0; !g->err && r < pos->rounds; r++) {
        int64_t k = 0;   /* at most one positive per image and round: their sum separates them */
        for (int64_t p = 0; p < P; p++)
            if (pos->round[p] == r) sel[k++] = p;
        ws_at_tensor s = ws_g_reduce(g, WS_AT_RSUM, ws_g_index_select(g, targets, 0, idx_tensor(g, sel, k)),
                                     WS_AT_ALL, 0);
        if (g->err) break;
        if (ws_at_autograd_grad(&s, 1, NULL, &X, 1, 1, create_graph, 0, &grads[r]))
            ws_scope_poison(g, ws_fail(WS_ETORCH, "Grad-CAM gradient: %s", ws_at_last_error()));
        else
            ws_scope_adopt(g, grads[r]);
    }
    if (!g->err) {
        for (int64_t p = 0; p < P; p++) rows[p] = pos->round[p] * N + pos->batch[p];
        res = ws_g_index_select(g, ws_g_cat(g, grads, pos->rounds, 0), 0, idx_tensor(g, rows, P));
    }
    free(grads);
    free(rows);
    return res;
}

int ws_gradcam(ws_scope *g, ws_at_tensor y, ws_at_tensor A, const ws_positives *pos, int gh, int gw,
               int create_graph, ws_gradcam_out *out)
{
    int64_t ys[2], as[3];
    int nd = 0;
    memset(out, 0, sizeof *out);
    if (g->err) return g->err;
    if (ws_at_shape(y, ys, 2, &nd) || nd != 2 || ws_at_shape(A, as, 3, &nd) || nd != 3 || as[1] != 1 + (int64_t)gh * gw)
        return ws_fail(WS_ESHAPE, "Grad-CAM: y must be (N, G) and A (N, 1+%d, W)", gh * gw);
    const int64_t N = ys[0], G = ys[1], P = pos->P, hw = (int64_t)gh * gw, W = as[2];
    if (P == 0) return ws_fail(WS_EINVAL, "Grad-CAM: no positive class in the batch");
    int64_t *flat = malloc((size_t)P * sizeof *flat);
    if (!flat) return ws_fail(WS_ENOMEM, "Grad-CAM: out of memory");
    for (int64_t p = 0; p < P; p++) flat[p] = pos->batch[p] * G + pos->cls[p];
    const int64_t yflat[1] = {N * G};
    out->targets = ws_g_index_select(g, ws_g_reshape(g, y, 1, yflat), 0, idx_tensor(g, flat, P));
    free(flat);
    out->grad_A = ws_gradcam_per_positive(g, out->targets, pos, N, A, create_graph);
    out->weights = ws_g_reduce(g, WS_AT_RMEAN, ws_g_slice(g, out->grad_A, 1, 1, 1 + hw), 1, 0);
    ws_at_tensor a = ws_g_slice(g, ws_g_index_select(g, ws_g_detach(g, A), 0, idx_tensor(g, pos->batch, P)),
                                1, 1, 1 + hw);                                 /* (P, hw, W) */
    const int64_t ws3[3] = {P, W, 1}, cs[3] = {P, gh, gw};
    out->cam = ws_g_reshape(g, ws_g_matmul(g, a, ws_g_reshape(g, out->weights, 3, ws3)), 3, cs);
    return g->err;
}

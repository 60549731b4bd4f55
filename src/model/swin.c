/* swin.c - the Swin backbone of Grounding-DINO (see swin.h).
 *
 * Mirrors groundingdino/models/GroundingDINO/backbone/swin_transformer.py op by op: pad to the
 * window grid after norm1, cyclic shift with the -100 region mask, windowed attention with the
 * gathered relative position bias, PatchMerging's x0..x3 interleave. Loading, freeing and random
 * weights live beside the forward pass so that the key names are written in one file.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/swin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/weights.h"

/* ---- weights ------------------------------------------------------------------------------------ */

/* The relative position bias of a block, gathered once at load time instead of per forward as the
 * official code does: table ((2w-1)^2, heads)[index (N, N)] -> (heads, N, N), N = w^2. */
static int rel_bias(ws_at_ckpt ck, const char *pre, ws_swin_block *b, int ws, const char *kind)
{
    char n[320];
    ws_at_tensor table = NULL, index = NULL;
    int64_t sh[2];
    int nd = 0, rc;
    snprintf(n, sizeof n, "%s.attn.relative_position_bias_table", pre);
    if ((rc = ws_weight(ck, n, 2, (int64_t[2]){(2 * ws - 1) * (2 * ws - 1), -1}, kind, &table))) return rc;
    snprintf(n, sizeof n, "%s.attn.relative_position_index", pre);
    ws_at_tensor raw = NULL, i64 = NULL;
    /* the index goes where the table is (the current device): index_select needs both on one device */
    if (ws_at_ckpt_get(ck, n, &raw) || ws_at_to_dtype(raw, WS_AT_I64, &i64) || ws_at_to_current(i64, &index) ||
        ws_at_shape(table, sh, 2, &nd)) {
        ws_at_free(raw); ws_at_free(i64); ws_at_free(table); ws_at_free(index);
        return ws_fail(WS_EFORMAT, "%s: %s (is it %s checkpoint?)", n, ws_at_last_error(), kind);
    }
    b->heads = (int)sh[1];
    ws_scope g;
    ws_scope_init(&g);
    const int64_t N = (int64_t)ws * ws, flat[1] = {N * N}, s3[3] = {N, N, sh[1]}, perm[3] = {2, 0, 1};
    ws_at_tensor t = ws_g_permute(&g, ws_g_reshape(&g, ws_g_index_select(&g, table, 0, ws_g_reshape(&g, index, 1, flat)), 3, s3), 3, perm);
    b->bias = ws_scope_keep(&g, ws_g_contiguous(&g, t));
    rc = g.err;
    ws_scope_free(&g);
    ws_at_free(raw); ws_at_free(i64); ws_at_free(table); ws_at_free(index);
    return rc;
}

/* One weight "<pre>.<suffix>" of shape (d0[, d1[, d2, d3]]) (nd dims) into *t. */
static int sw(ws_at_ckpt ck, const char *kind, const char *pre, const char *suffix, ws_at_tensor *t, int nd, int64_t d0,
              int64_t d1, int64_t d2, int64_t d3)
{
    char n[320];
    const int64_t sh[4] = {d0, d1, d2, d3};
    snprintf(n, sizeof n, "%s.%s", pre, suffix);
    return ws_weight(ck, n, nd, sh, kind, t);
}

/* The blocks, PatchMerging and output norm of stage s (C channels) under `prefix`. */
static int load_stage(ws_swin *m, ws_at_ckpt ck, const char *prefix, const char *kind, int s)
{
    char pre[256];
    ws_swin_stage *st = &m->stages[s];
    const int64_t C = (int64_t)m->dim << s;
    int rc = 0;
    snprintf(pre, sizeof pre, "%s.layers.%d.blocks.", prefix, s);
    st->dim = (int)C;
    st->depth = ws_weight_count(ck, pre);
    if (st->depth < 1) return ws_fail(WS_EFORMAT, "no Swin blocks under %s (is it %s checkpoint?)", pre, kind);
    if (!(st->blocks = calloc((size_t)st->depth, sizeof *st->blocks))) return ws_fail(WS_ENOMEM, "out of memory");
    for (int b = 0; b < st->depth && !rc; b++) {
        ws_swin_block *k = &st->blocks[b];
        snprintf(pre, sizeof pre, "%s.layers.%d.blocks.%d", prefix, s, b);
        const struct { const char *s; ws_at_tensor *t; int64_t r, c; } w[] = {   /* c 0: a vector */
            {"norm1.weight", &k->n1_w, C, 0}, {"norm1.bias", &k->n1_b, C, 0},
            {"attn.qkv.weight", &k->qkv_w, 3 * C, C}, {"attn.qkv.bias", &k->qkv_b, 3 * C, 0},
            {"attn.proj.weight", &k->proj_w, C, C}, {"attn.proj.bias", &k->proj_b, C, 0},
            {"norm2.weight", &k->n2_w, C, 0}, {"norm2.bias", &k->n2_b, C, 0},
            {"mlp.fc1.weight", &k->fc1_w, 4 * C, C}, {"mlp.fc1.bias", &k->fc1_b, 4 * C, 0},
            {"mlp.fc2.weight", &k->fc2_w, C, 4 * C}, {"mlp.fc2.bias", &k->fc2_b, C, 0}};
        for (size_t i = 0; i < sizeof w / sizeof w[0] && !rc; i++)
            rc = sw(ck, kind, pre, w[i].s, w[i].t, w[i].c ? 2 : 1, w[i].r, w[i].c, 0, 0);
        if (!rc) rc = rel_bias(ck, pre, k, m->window, kind);
    }
    snprintf(pre, sizeof pre, "%s.layers.%d.downsample", prefix, s);
    if (!rc && s < 3 && !(rc = sw(ck, kind, pre, "reduction.weight", &st->down_w, 2, 2 * C, 4 * C, 0, 0)) &&
        !(rc = sw(ck, kind, pre, "norm.weight", &st->down_n_w, 1, 4 * C, 0, 0, 0)))
        rc = sw(ck, kind, pre, "norm.bias", &st->down_n_b, 1, 4 * C, 0, 0, 0);
    snprintf(pre, sizeof pre, "%s.norm%d", prefix, s);
    if (!rc && s >= 1 && !(rc = sw(ck, kind, pre, "weight", &st->out_n_w, 1, C, 0, 0, 0)))
        rc = sw(ck, kind, pre, "bias", &st->out_n_b, 1, C, 0, 0, 0);
    return rc;
}

int ws_swin_load(ws_swin *m, ws_at_ckpt ck, const char *prefix, const char *kind)
{
    char n[256];
    int64_t sh[4];
    int nd = 0, rc;
    snprintf(n, sizeof n, "%s.patch_embed.proj.weight", prefix);
    if ((rc = ws_weight_shape(ck, n, sh, &nd, kind))) return rc;
    m->dim = (int)sh[0];
    /* window size from the first relative position bias table: (2w - 1)^2 rows (Swin-T 7, Swin-B 12) */
    snprintf(n, sizeof n, "%s.layers.0.blocks.0.attn.relative_position_bias_table", prefix);
    if ((rc = ws_weight_shape(ck, n, sh, &nd, kind))) return rc;
    m->window = (int)lround((sqrt((double)sh[0]) + 1) / 2);
    if ((2 * m->window - 1) * (2 * m->window - 1) != sh[0] || m->window < 2)
        return ws_fail(WS_EFORMAT, "relative_position_bias_table has %lld rows, not (2w - 1)^2 (is it %s checkpoint?)",
                       (long long)sh[0], kind);
    const int64_t C0 = m->dim;
    snprintf(n, sizeof n, "%s.patch_embed", prefix);
    if ((rc = sw(ck, kind, n, "proj.weight", &m->pe_w, 4, C0, 3, 4, 4)) || (rc = sw(ck, kind, n, "proj.bias", &m->pe_b, 1, C0, 0, 0, 0)) ||
        (rc = sw(ck, kind, n, "norm.weight", &m->pe_n_w, 1, C0, 0, 0, 0)) || (rc = sw(ck, kind, n, "norm.bias", &m->pe_n_b, 1, C0, 0, 0, 0)))
        return rc;
    for (int s = 0; s < 4; s++)
        if ((rc = load_stage(m, ck, prefix, kind, s))) return rc;
    return 0;
}

void ws_swin_free(ws_swin *m)
{
    if (!m) return;
    ws_at_tensor pe[] = {m->pe_w, m->pe_b, m->pe_n_w, m->pe_n_b};
    for (size_t i = 0; i < 4; i++) ws_at_free(pe[i]);
    for (int s = 0; s < 4; s++) {
        ws_swin_stage *st = &m->stages[s];
        for (int b = 0; st->blocks && b < st->depth; b++) {
            ws_swin_block *k = &st->blocks[b];
            ws_at_tensor t[] = {k->n1_w, k->n1_b, k->qkv_w, k->qkv_b, k->proj_w, k->proj_b, k->n2_w, k->n2_b,
                                k->fc1_w, k->fc1_b, k->fc2_w, k->fc2_b, k->bias};
            for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) ws_at_free(t[i]);
        }
        free(st->blocks);
        ws_at_free(st->down_n_w); ws_at_free(st->down_n_b); ws_at_free(st->down_w);
        ws_at_free(st->out_n_w); ws_at_free(st->out_n_b);
    }
    memset(m, 0, sizeof *m);
}

/* One random block: the relative position index (w^2, w^2) in idx is the official one (the table
 * row of the offset (dy, dx)), so a random model gathers its bias like a released one. */
static int random_block(ws_at_gen gen, ws_at_ckpt ck, const char *p, int64_t C, int heads, int w, const int64_t *idx)
{
    char n[320];
    int rc;
    const int N = w * w;
    /* in 0: a LayerNorm of out channels; in the official module order (the draw order) */
    const struct { const char *s; int64_t out, in; } t[] = {
        {"norm1", C, 0}, {"attn.qkv", 3 * C, C}, {"attn.proj", C, C}, {"norm2", C, 0}, {"mlp.fc1", 4 * C, C},
        {"mlp.fc2", C, 4 * C}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        snprintf(n, sizeof n, "%s.%s", p, t[k].s);
        rc = t[k].in ? ws_weight_random_linear(gen, ck, n, t[k].out, t[k].in) : ws_weight_random_norm(gen, ck, n, t[k].out);
        if (rc) return rc;
    }
    snprintf(n, sizeof n, "%s.attn.relative_position_bias_table", p);
    const int64_t ts[2] = {(2 * w - 1) * (2 * w - 1), heads};
    if ((rc = ws_weight_random(gen, ck, n, NAN, 2, ts))) return rc;
    snprintf(n, sizeof n, "%s.attn.relative_position_index", p);
    ws_at_tensor ix = NULL;
    rc = ws_at_from_data(idx, WS_AT_I64, 2, (int64_t[2]){N, N}, &ix) || ws_at_ckpt_add(ck, n, ix);
    ws_at_free(ix);
    return rc ? ws_fail(WS_ETORCH, "%s: %s", n, ws_at_last_error()) : 0;
}

int ws_swin_random(ws_at_gen gen, ws_at_ckpt ck, const char *prefix, int dim, const int depths[4], const int heads[4],
                   int window)
{
    char n[320], p[256];
    const int64_t C0 = dim, pw[4] = {C0, 3, 4, 4}, pb[1] = {C0};
    const int w = window > 0 ? window : 7, N = w * w;
    int64_t *idx = malloc((size_t)N * N * sizeof *idx);
    if (!idx) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) idx[i * N + j] = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1);
    snprintf(n, sizeof n, "%s.patch_embed.proj.weight", prefix);
    int rc = ws_weight_random(gen, ck, n, NAN, 4, pw);
    snprintf(n, sizeof n, "%s.patch_embed.proj.bias", prefix);
    if (!rc) rc = ws_weight_random(gen, ck, n, NAN, 1, pb);
    snprintf(n, sizeof n, "%s.patch_embed.norm", prefix);
    if (!rc) rc = ws_weight_random_norm(gen, ck, n, C0);
    for (int s = 0; s < 4 && !rc; s++) {
        const int64_t C = C0 << s, red[2] = {2 * C, 4 * C};
        for (int b = 0; b < depths[s] && !rc; b++) {
            snprintf(p, sizeof p, "%s.layers.%d.blocks.%d", prefix, s, b);
            rc = random_block(gen, ck, p, C, heads[s], w, idx);
        }
        snprintf(n, sizeof n, "%s.layers.%d.downsample.reduction.weight", prefix, s);
        if (!rc && s < 3) rc = ws_weight_random(gen, ck, n, NAN, 2, red);
        snprintf(n, sizeof n, "%s.layers.%d.downsample.norm", prefix, s);
        if (!rc && s < 3) rc = ws_weight_random_norm(gen, ck, n, 4 * C);
        snprintf(n, sizeof n, "%s.norm%d", prefix, s);
        if (!rc && s >= 1) rc = ws_weight_random_norm(gen, ck, n, C);
    }
    free(idx);
    return rc;
}

/* ---- forward ------------------------------------------------------------------------------------ */

static ws_at_tensor slice_step(ws_scope *g, ws_at_tensor x, int dim, int64_t start, int64_t end, int64_t step)
{
    ws_at_tensor out = NULL;
    if (g->err) return NULL;
    int rc = ws_at_slice(x, dim, start, end, step, &out);   /* before reading out */
    return ws_scope_track(g, rc, out, "slice");
}

/* torch.roll of (1, H, W, C) by (sh, sw) along dims 1, 2, as two slices and a cat per axis. */
static ws_at_tensor roll2(ws_scope *g, ws_at_tensor x, int64_t H, int64_t W, int64_t sh, int64_t sw)
{
    int64_t a = ((sh % H) + H) % H, b = ((sw % W) + W) % W;
    if (a) { ws_at_tensor p[2] = {ws_g_slice(g, x, 1, H - a, H), ws_g_slice(g, x, 1, 0, H - a)}; x = ws_g_cat(g, p, 2, 1); }
    if (b) { ws_at_tensor p[2] = {ws_g_slice(g, x, 2, W - b, W), ws_g_slice(g, x, 2, 0, W - b)}; x = ws_g_cat(g, p, 2, 2); }
    return x;
}

/* The shifted-window mask (nW, N, N) of BasicLayer.forward: 0 within a region, -100 across
 * (regions [0,-ws), [-ws,-s), [-s,end) per axis). The official code builds it per forward too,
 * since it depends on the padded size. */
static ws_at_tensor shift_mask(ws_scope *g, int64_t Hp, int64_t Wp, int ws, int shift)
{
    int *reg = malloc((size_t)(Hp * Wp) * sizeof *reg);
    const int64_t nW = (Hp / ws) * (Wp / ws), N = (int64_t)ws * ws;
    float *m = malloc((size_t)(nW * N * N) * sizeof *m);
    if (!reg || !m) { free(reg); free(m); ws_scope_poison(g, ws_fail(WS_ENOMEM, "out of memory")); return NULL; }
    for (int64_t y = 0; y < Hp; y++)
        for (int64_t x = 0; x < Wp; x++) {
            int ry = y < Hp - ws ? 0 : y < Hp - shift ? 1 : 2, rx = x < Wp - ws ? 0 : x < Wp - shift ? 1 : 2;
            reg[y * Wp + x] = 3 * ry + rx;
        }
    for (int64_t wy = 0, w = 0; wy < Hp / ws; wy++)
        for (int64_t wx = 0; wx < Wp / ws; wx++, w++)
            for (int64_t i = 0; i < N; i++)
                for (int64_t j = 0; j < N; j++) {
                    int ri = reg[(wy * ws + i / ws) * Wp + wx * ws + i % ws], rj = reg[(wy * ws + j / ws) * Wp + wx * ws + j % ws];
                    m[(w * N + i) * N + j] = ri == rj ? 0.0f : -100.0f;
                }
    const int64_t s3[3] = {nW, N, N};
    ws_at_tensor t = ws_g_from_data(g, m, WS_AT_F32, 3, s3);
    free(reg);
    free(m);
    return t;
}

/* One SwinTransformerBlock on x (1, H*W, C): W-MSA (shift 0) or SW-MSA, then the MLP. */
static ws_at_tensor swin_block(ws_scope *g, const ws_swin_block *b, ws_at_tensor x, int64_t H, int64_t W, int64_t C,
                               int ws, int shift)
{
    const int64_t Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws, N = (int64_t)ws * ws;
    const int64_t nWh = Hp / ws, nWw = Wp / ws, nW = nWh * nWw, heads = b->heads, hd = C / heads;
    const int64_t s4[4] = {1, H, W, C};
    ws_at_tensor h = ws_g_reshape(g, ws_g_layer_norm(g, x, b->n1_w, b->n1_b, 1e-5), 4, s4);
    if (Hp != H || Wp != W) {   /* zero-pad right/bottom after the norm, as F.pad there */
        const int64_t perm[4] = {0, 3, 1, 2}, back[4] = {0, 2, 3, 1};
        h = ws_g_permute(g, ws_g_pad2d(g, ws_g_permute(g, h, 4, perm), Hp, Wp), 4, back);
    }
    if (shift) h = roll2(g, h, Hp, Wp, -shift, -shift);
    const int64_t w6[6] = {1, nWh, ws, nWw, ws, C}, p6[6] = {0, 1, 3, 2, 4, 5}, wn[3] = {nW, N, C};
    ws_at_tensor win = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, h, 6, w6), 6, p6), 3, wn);   /* (nW, N, C) */
    const int64_t q5[5] = {nW, N, 3, heads, hd}, qp[5] = {2, 0, 3, 1, 4};
    ws_at_tensor qkv = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, win, b->qkv_w, b->qkv_b), 5, q5), 5, qp);
    /* WindowAttention scales q before q k^T (q = q * self.scale): the same rounding */
    ws_at_tensor q = ws_g_mul_scalar(g, ws_g_select(g, qkv, 0, 0), 1.0 / sqrt((double)hd));
    ws_at_tensor a = ws_g_add(g, ws_g_matmul(g, q, ws_g_transpose(g, ws_g_select(g, qkv, 0, 1), -2, -1)), b->bias);
    if (shift) {
        const int64_t m4[4] = {nW, 1, N, N};
        a = ws_g_add(g, a, ws_g_reshape(g, shift_mask(g, Hp, Wp, ws, shift), 4, m4));
    }
    a = ws_g_softmax(g, a, -1);
    const int64_t op[4] = {0, 2, 1, 3};
    ws_at_tensor o = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, a, ws_g_select(g, qkv, 0, 2)), 4, op), 3, wn);
    o = ws_g_linear(g, o, b->proj_w, b->proj_b);
    const int64_t r6[6] = {1, nWh, nWw, ws, ws, C}, rp[6] = {0, 1, 3, 2, 4, 5}, full[4] = {1, Hp, Wp, C};
    o = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, o, 6, r6), 6, rp), 4, full);
    if (shift) o = roll2(g, o, Hp, Wp, shift, shift);
    if (Hp != H || Wp != W) o = ws_g_slice(g, ws_g_slice(g, o, 1, 0, H), 2, 0, W);
    const int64_t t3[3] = {1, H * W, C};
    x = ws_g_add(g, x, ws_g_reshape(g, ws_g_contiguous(g, o), 3, t3));
    ws_at_tensor f = ws_g_linear(g, ws_g_unary(g, WS_AT_GELU_ERF, ws_g_linear(g, ws_g_layer_norm(g, x, b->n2_w, b->n2_b, 1e-5),
                                                                              b->fc1_w, b->fc1_b)), b->fc2_w, b->fc2_b);
    return ws_g_add(g, x, f);
}

/* PatchMerging of x (1, H*W, C) -> (1, H/2 * W/2, 2C); *H, *W halve (odd sizes padded first).
 * The four strided views are concatenated in the official x0, x1, x2, x3 order (rows even/odd
 * first), which the reduction weight's column order depends on. */
static ws_at_tensor patch_merge(ws_scope *g, const ws_swin_stage *S, ws_at_tensor x, int64_t *H, int64_t *W, int64_t C)
{
    const int64_t s4[4] = {1, *H, *W, C};
    ws_at_tensor v = ws_g_reshape(g, x, 4, s4);
    const int64_t H2 = (*H + 1) / 2 * 2, W2 = (*W + 1) / 2 * 2;
    if (H2 != *H || W2 != *W) {
        const int64_t perm[4] = {0, 3, 1, 2}, back[4] = {0, 2, 3, 1};
        v = ws_g_permute(g, ws_g_pad2d(g, ws_g_permute(g, v, 4, perm), H2, W2), 4, back);
    }
    ws_at_tensor q[4] = {slice_step(g, slice_step(g, v, 1, 0, H2, 2), 2, 0, W2, 2),
                         slice_step(g, slice_step(g, v, 1, 1, H2, 2), 2, 0, W2, 2),
                         slice_step(g, slice_step(g, v, 1, 0, H2, 2), 2, 1, W2, 2),
                         slice_step(g, slice_step(g, v, 1, 1, H2, 2), 2, 1, W2, 2)};
    *H = H2 / 2;
    *W = W2 / 2;
    const int64_t m3[3] = {1, *H * *W, 4 * C};
    v = ws_g_reshape(g, ws_g_contiguous(g, ws_g_cat(g, q, 4, 3)), 3, m3);
    return ws_g_linear(g, ws_g_layer_norm(g, v, S->down_n_w, S->down_n_b, 1e-5), S->down_w, NULL);
}

/* (1, H*W, C) -> NCHW (1, C, H, W). */
static ws_at_tensor to_nchw(ws_scope *g, ws_at_tensor x, int64_t H, int64_t W, int64_t C)
{
    const int64_t s4[4] = {1, H, W, C}, p[4] = {0, 3, 1, 2};
    return ws_g_contiguous(g, ws_g_permute(g, ws_g_reshape(g, x, 4, s4), 4, p));
}

int ws_swin_forward(const ws_swin *m, ws_scope *g, ws_at_tensor img, ws_at_tensor *patch_embed, ws_at_tensor stage[4],
                    ws_at_tensor out[3])
{
    int64_t s[4];
    int nd = 0;
    if (ws_at_shape(img, s, 4, &nd) || nd != 4 || s[0] != 1 || s[1] != 3) return ws_fail(WS_ESHAPE, "image must be (1, 3, H, W)");
    int64_t H = s[2], W = s[3];
    ws_at_tensor x = img;
    if (H % 4 || W % 4) x = ws_g_pad2d(g, x, (H + 3) / 4 * 4, (W + 3) / 4 * 4);   /* PatchEmbed's F.pad */
    x = ws_g_conv2d(g, x, m->pe_w, m->pe_b, 4, 0);
    H = (H + 3) / 4;
    W = (W + 3) / 4;
    int64_t C = m->dim;
    const int64_t f3[3] = {1, C, H * W};
    x = ws_g_layer_norm(g, ws_g_transpose(g, ws_g_reshape(g, x, 3, f3), 1, 2), m->pe_n_w, m->pe_n_b, 1e-5);   /* (1, HW, C) */
    *patch_embed = to_nchw(g, x, H, W, C);
    for (int st = 0; st < 4; st++) {
        const ws_swin_stage *S = &m->stages[st];
        for (int b = 0; b < S->depth; b++) {   /* an inner scope per block: only its output stays */
            ws_scope in;
            ws_scope_init(&in);
            ws_at_tensor y = swin_block(&in, &S->blocks[b], x, H, W, C, m->window, b % 2 ? m->window / 2 : 0);
            x = ws_scope_move(&in, g, y);
            ws_scope_end(&in, g);
        }
        stage[st] = to_nchw(g, x, H, W, C);
        if (st >= 1) out[st - 1] = to_nchw(g, ws_g_layer_norm(g, x, S->out_n_w, S->out_n_b, 1e-5), H, W, C);
        if (st < 3) {
            x = patch_merge(g, S, x, &H, &W, C);
            C *= 2;
        }
    }
    return g->err;
}

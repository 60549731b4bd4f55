/* sam.c - the Segment Anything network in fp32 over the ATen shim (see sam.h): loading, the
 * image encoder, the prompt encoder, the mask decoder, pre/post-processing, random models.
 *
 * The forward passes follow facebookresearch/segment-anything op by op: ViT encoder with
 * windowed / global attention and decomposed relative positions, convolutional neck, random
 * Fourier prompt encoding, two-way transformer decoder with hypernetwork mask heads. The C mask
 * upsampling of the mask generator is sam_upsample.c.
 */
#include "model/sam.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "image/resize.h"
#include "model/weights.h"

#define SAM_KIND "a Segment Anything (sam_vit_*.pth)"
#define TRY(x) do { if ((rc = (x))) goto fail; } while (0)

/* ---- loading ------------------------------------------------------------------------------- */

static int w_any(ws_at_ckpt ck, ws_at_tensor *dst, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int w_any(ws_at_ckpt ck, ws_at_tensor *dst, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ws_weight(ck, name, -1, NULL, SAM_KIND, dst);
}

static int load_attn(ws_at_ckpt ck, const char *p, ws_sam_attn *a)
{
    int rc;
    TRY(w_any(ck, &a->q_w, "%s.q_proj.weight", p)); TRY(w_any(ck, &a->q_b, "%s.q_proj.bias", p));
    TRY(w_any(ck, &a->k_w, "%s.k_proj.weight", p)); TRY(w_any(ck, &a->k_b, "%s.k_proj.bias", p));
    TRY(w_any(ck, &a->v_w, "%s.v_proj.weight", p)); TRY(w_any(ck, &a->v_b, "%s.v_proj.bias", p));
    TRY(w_any(ck, &a->o_w, "%s.out_proj.weight", p)); TRY(w_any(ck, &a->o_b, "%s.out_proj.bias", p));
fail:
    return rc;
}

static int load_mlp(ws_at_ckpt ck, const char *p, ws_sam_mlp *m)
{
    char pre[200];
    int rc = 0;
    snprintf(pre, sizeof pre, "%s.layers.", p);
    m->n = ws_weight_count(ck, pre);
    if (m->n < 1 || m->n > 4) return ws_fail(WS_EFORMAT, "%s: MLP %s has %d layers", ws_at_ckpt_path(ck), p, m->n);
    for (int i = 0; i < m->n; i++) {
        TRY(w_any(ck, &m->w[i], "%s.layers.%d.weight", p, i));
        TRY(w_any(ck, &m->b[i], "%s.layers.%d.bias", p, i));
    }
fail:
    return rc;
}

static int load_encoder(ws_sam *m, ws_at_ckpt ck)
{
    int64_t sh[WS_AT_MAX_DIMS];
    int nd, rc;
    TRY(ws_weight_shape(ck, "image_encoder.patch_embed.proj.weight", sh, &nd, SAM_KIND));
    m->embed = (int)sh[0];
    m->patch = (int)sh[3];
    TRY(ws_weight_shape(ck, "image_encoder.pos_embed", sh, &nd, SAM_KIND));
    m->grid = (int)sh[1];
    m->img_size = m->grid * m->patch;
    m->depth = ws_weight_count(ck, "image_encoder.blocks.");
    TRY(ws_weight_shape(ck, "image_encoder.blocks.0.attn.rel_pos_h", sh, &nd, SAM_KIND));
    m->heads = m->embed / (int)sh[1];
    TRY(ws_weight_shape(ck, "image_encoder.neck.0.weight", sh, &nd, SAM_KIND));
    m->out_chans = (int)sh[0];
    TRY(w_any(ck, &m->patch_w, "image_encoder.patch_embed.proj.weight"));
    TRY(w_any(ck, &m->patch_b, "image_encoder.patch_embed.proj.bias"));
    TRY(w_any(ck, &m->pos_embed, "image_encoder.pos_embed"));
    if (!(m->blocks = calloc((size_t)m->depth, sizeof *m->blocks))) return ws_fail(WS_ENOMEM, "SAM: out of memory");
    for (int i = 0; i < m->depth; i++) {
        ws_sam_block *b = &m->blocks[i];
        char p[64];
        snprintf(p, sizeof p, "image_encoder.blocks.%d", i);
        TRY(w_any(ck, &b->n1_w, "%s.norm1.weight", p)); TRY(w_any(ck, &b->n1_b, "%s.norm1.bias", p));
        TRY(w_any(ck, &b->qkv_w, "%s.attn.qkv.weight", p)); TRY(w_any(ck, &b->qkv_b, "%s.attn.qkv.bias", p));
        TRY(w_any(ck, &b->proj_w, "%s.attn.proj.weight", p)); TRY(w_any(ck, &b->proj_b, "%s.attn.proj.bias", p));
        TRY(w_any(ck, &b->rel_h, "%s.attn.rel_pos_h", p)); TRY(w_any(ck, &b->rel_w, "%s.attn.rel_pos_w", p));
        TRY(w_any(ck, &b->n2_w, "%s.norm2.weight", p)); TRY(w_any(ck, &b->n2_b, "%s.norm2.bias", p));
        TRY(w_any(ck, &b->fc1_w, "%s.mlp.lin1.weight", p)); TRY(w_any(ck, &b->fc1_b, "%s.mlp.lin1.bias", p));
        TRY(w_any(ck, &b->fc2_w, "%s.mlp.lin2.weight", p)); TRY(w_any(ck, &b->fc2_b, "%s.mlp.lin2.bias", p));
        /* a relative-position table spanning the whole grid marks a global-attention block */
        char key[96];
        snprintf(key, sizeof key, "%s.attn.rel_pos_h", p);
        TRY(ws_weight_shape(ck, key, sh, &nd, SAM_KIND));
        int span = (int)(sh[0] + 1) / 2;
        b->window = span == m->grid ? 0 : span;
    }
    TRY(w_any(ck, &m->neck0_w, "image_encoder.neck.0.weight"));
    TRY(w_any(ck, &m->neck1_w, "image_encoder.neck.1.weight")); TRY(w_any(ck, &m->neck1_b, "image_encoder.neck.1.bias"));
    TRY(w_any(ck, &m->neck2_w, "image_encoder.neck.2.weight"));
    TRY(w_any(ck, &m->neck3_w, "image_encoder.neck.3.weight")); TRY(w_any(ck, &m->neck3_b, "image_encoder.neck.3.bias"));
fail:
    return rc;
}

static int load_prompt(ws_sam *m, ws_at_ckpt ck)
{
    int rc;
    TRY(w_any(ck, &m->pe_gauss, "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"));
    for (int i = 0; i < 4; i++) TRY(w_any(ck, &m->point_emb[i], "prompt_encoder.point_embeddings.%d.weight", i));
    TRY(w_any(ck, &m->not_a_point, "prompt_encoder.not_a_point_embed.weight"));
    TRY(w_any(ck, &m->no_mask, "prompt_encoder.no_mask_embed.weight"));
    ws_at_tensor *md[] = {&m->md0_w, &m->md0_b, &m->md1_w, &m->md1_b, &m->md3_w, &m->md3_b,
                          &m->md4_w, &m->md4_b, &m->md6_w, &m->md6_b};
    const int idx[] = {0, 0, 1, 1, 3, 3, 4, 4, 6, 6};
    for (int i = 0; i < 10; i++)
        TRY(w_any(ck, md[i], "prompt_encoder.mask_downscaling.%d.%s", idx[i], i % 2 ? "bias" : "weight"));
fail:
    return rc;
}

static int load_decoder(ws_sam *m, ws_at_ckpt ck)
{
    int rc;
    char p[128];
    m->dec_depth = ws_weight_count(ck, "mask_decoder.transformer.layers.");
    TRY(w_any(ck, &m->iou_token, "mask_decoder.iou_token.weight"));
    TRY(w_any(ck, &m->mask_tokens, "mask_decoder.mask_tokens.weight"));
    int64_t sh[WS_AT_MAX_DIMS];
    int nd;
    TRY(ws_weight_shape(ck, "mask_decoder.mask_tokens.weight", sh, &nd, SAM_KIND));
    m->n_mask_tokens = (int)sh[0];
    if (m->n_mask_tokens != 4) return ws_fail(WS_EUNSUP, "%s: %d mask tokens (expected 4)", ws_at_ckpt_path(ck), m->n_mask_tokens);
    if (!(m->layers = calloc((size_t)m->dec_depth, sizeof *m->layers))) return ws_fail(WS_ENOMEM, "SAM: out of memory");
    for (int i = 0; i < m->dec_depth; i++) {
        ws_sam_tw_layer *l = &m->layers[i];
        const char *pre = "mask_decoder.transformer.layers";
        snprintf(p, sizeof p, "%s.%d.self_attn", pre, i);
        TRY(load_attn(ck, p, &l->self_attn));
        snprintf(p, sizeof p, "%s.%d.cross_attn_token_to_image", pre, i);
        TRY(load_attn(ck, p, &l->t2i));
        snprintf(p, sizeof p, "%s.%d.cross_attn_image_to_token", pre, i);
        TRY(load_attn(ck, p, &l->i2t));
        ws_at_tensor *ns[] = {&l->n1_w, &l->n1_b, &l->n2_w, &l->n2_b, &l->n3_w, &l->n3_b, &l->n4_w, &l->n4_b};
        for (int k = 0; k < 8; k++) TRY(w_any(ck, ns[k], "%s.%d.norm%d.%s", pre, i, k / 2 + 1, k % 2 ? "bias" : "weight"));
        TRY(w_any(ck, &l->mlp1_w, "%s.%d.mlp.lin1.weight", pre, i)); TRY(w_any(ck, &l->mlp1_b, "%s.%d.mlp.lin1.bias", pre, i));
        TRY(w_any(ck, &l->mlp2_w, "%s.%d.mlp.lin2.weight", pre, i)); TRY(w_any(ck, &l->mlp2_b, "%s.%d.mlp.lin2.bias", pre, i));
    }
    TRY(load_attn(ck, "mask_decoder.transformer.final_attn_token_to_image", &m->final_attn));
    TRY(w_any(ck, &m->nf_w, "mask_decoder.transformer.norm_final_attn.weight"));
    TRY(w_any(ck, &m->nf_b, "mask_decoder.transformer.norm_final_attn.bias"));
    TRY(w_any(ck, &m->up0_w, "mask_decoder.output_upscaling.0.weight")); TRY(w_any(ck, &m->up0_b, "mask_decoder.output_upscaling.0.bias"));
    TRY(w_any(ck, &m->up1_w, "mask_decoder.output_upscaling.1.weight")); TRY(w_any(ck, &m->up1_b, "mask_decoder.output_upscaling.1.bias"));
    TRY(w_any(ck, &m->up3_w, "mask_decoder.output_upscaling.3.weight")); TRY(w_any(ck, &m->up3_b, "mask_decoder.output_upscaling.3.bias"));
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "mask_decoder.output_hypernetworks_mlps.%d", i);
        TRY(load_mlp(ck, p, &m->hyper[i]));
    }
    TRY(load_mlp(ck, "mask_decoder.iou_prediction_head", &m->iou_head));
fail:
    return rc;
}

int ws_sam_from_ckpt(ws_sam *m, ws_at_ckpt ck, int decoder_heads)
{
    int rc;
    const char *path = ws_at_ckpt_path(ck);
    memset(m, 0, sizeof *m);
    TRY(load_encoder(m, ck));
    TRY(load_prompt(m, ck));
    TRY(load_decoder(m, ck));
    /* not stored in the file: 8 in every released model (width 256); the 32-wide test model of
     * ../shared/golden uses 2; any other width needs the caller's value */
    m->dec_heads = decoder_heads > 0 ? decoder_heads : m->out_chans == 256 ? 8 : m->out_chans == 32 ? 2 : 0;
    if (m->dec_heads <= 0 || m->out_chans % m->dec_heads) {
        rc = ws_fail(WS_EUNSUP, "%s: cannot tell the mask decoder's head count for width %d: set it explicitly",
                     path, m->out_chans);
        goto fail;
    }
    const float mean[3] = {123.675f, 116.28f, 103.53f}, sd[3] = {58.395f, 57.12f, 57.375f};
    const int64_t c3[3] = {3, 1, 1};
    if (ws_at_from_data(mean, WS_AT_F32, 3, c3, &m->pixel_mean) || ws_at_from_data(sd, WS_AT_F32, 3, c3, &m->pixel_std))
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
fail:
    if (rc) ws_sam_free(m);
    return rc;
}

int ws_sam_load(ws_sam *m, const char *path, int decoder_heads)
{
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    int rc = ws_sam_from_ckpt(m, ck, decoder_heads);
    ws_at_ckpt_close(ck);
    return rc;
}

static void free_all(ws_at_tensor *t, size_t n)
{
    for (size_t i = 0; i < n; i++) ws_at_free(t[i]);
}

#define FREE_STRUCT(s) free_all((ws_at_tensor *)&(s), sizeof(s) / sizeof(ws_at_tensor))

void ws_sam_free(ws_sam *m)
{
    if (!m) return;
    for (int i = 0; m->blocks && i < m->depth; i++) {
        ws_sam_block *b = &m->blocks[i];
        free_all(&b->n1_w, 14);
    }
    for (int i = 0; m->layers && i < m->dec_depth; i++) FREE_STRUCT(m->layers[i]);
    for (int i = 0; i < 4; i++) { free_all(m->hyper[i].w, 4); free_all(m->hyper[i].b, 4); }
    free_all(m->iou_head.w, 4);
    free_all(m->iou_head.b, 4);
    FREE_STRUCT(m->final_attn);
    ws_at_tensor single[] = {m->patch_w, m->patch_b, m->pos_embed, m->neck0_w, m->neck1_w, m->neck1_b, m->neck2_w,
                              m->neck3_w, m->neck3_b, m->pe_gauss, m->point_emb[0], m->point_emb[1], m->point_emb[2],
                              m->point_emb[3], m->not_a_point, m->no_mask, m->md0_w, m->md0_b, m->md1_w, m->md1_b,
                              m->md3_w, m->md3_b, m->md4_w, m->md4_b, m->md6_w, m->md6_b, m->iou_token,
                              m->mask_tokens, m->nf_w, m->nf_b, m->up0_w, m->up0_b, m->up1_w, m->up1_b, m->up3_w,
                              m->up3_b, m->pixel_mean, m->pixel_std};
    free_all(single, sizeof single / sizeof single[0]);
    free(m->blocks);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

/* ---- shared pieces ------------------------------------------------------------------------ */

static int shape(ws_scope *g, ws_at_tensor x, int64_t *s, int want_nd)
{
    int nd = 0;
    if (g->err) return g->err;
    if (ws_at_shape(x, s, WS_AT_MAX_DIMS, &nd) || nd != want_nd) {
        ws_scope_poison(g, ws_fail(WS_ESHAPE, "SAM: expected a %d-d tensor", want_nd));
        return g->err;
    }
    return 0;
}

/* LayerNorm2d on (N, C, H, W): normalise over C (eps 1e-6), as layer_norm on channels-last; the
 * official module's mean / var formula is the same reduction, and the golden test checks it. */
static ws_at_tensor ln2d(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b)
{
    const int64_t to_last[4] = {0, 2, 3, 1}, to_first[4] = {0, 3, 1, 2};
    ws_at_tensor y = ws_g_layer_norm(g, ws_g_permute(g, x, 4, to_last), w, b, 1e-6);
    return ws_g_contiguous(g, ws_g_permute(g, y, 4, to_first));
}

static ws_at_tensor gelu(ws_scope *g, ws_at_tensor x) { return ws_g_unary(g, WS_AT_GELU_ERF, x); }
static ws_at_tensor relu(ws_scope *g, ws_at_tensor x) { return ws_g_unary(g, WS_AT_RELU, x); }

/* ---- image encoder ------------------------------------------------------------------------ */

/* get_rel_pos: (q, k, C) relative embeddings; resizes the table linearly when it does not span
 * 2*max(q,k)-1 positions. */
static ws_at_tensor rel_pos(ws_scope *g, int q, int k, ws_at_tensor table)
{
    int64_t s[2];
    if (shape(g, table, s, 2)) return NULL;
    int64_t need = 2 * (q > k ? q : k) - 1;
    if (s[0] != need) {
        const int64_t r4[4] = {1, s[0], s[1], 1}, perm[4] = {0, 2, 1, 3}, back[2] = {s[1], need};
        ws_at_tensor t = ws_g_permute(g, ws_g_reshape(g, table, 4, r4), 4, perm);   /* (1, C, L, 1) */
        t = ws_g_interpolate(g, ws_g_contiguous(g, t), WS_AT_INTERP_BILINEAR, need, 1, 0);
        table = ws_g_transpose(g, ws_g_reshape(g, t, 2, back), 0, 1);
    }
    int64_t *idx = malloc((size_t)q * k * sizeof *idx);
    if (!idx) { ws_scope_poison(g, ws_fail(WS_ENOMEM, "SAM: out of memory")); return NULL; }
    /* get_rel_pos's relative_coords (q_coords - k_coords + (k - 1) * k_scale, truncated like its
     * .long()); with q == k (every SAM block) the scales are 1 and every value an exact integer */
    double qs = k > q ? (double)k / q : 1.0, ks = q > k ? (double)q / k : 1.0;
    for (int i = 0; i < q; i++)
        for (int j = 0; j < k; j++) idx[i * k + j] = (int64_t)(i * qs - j * ks + (k - 1) * ks);
    const int64_t n1[1] = {(int64_t)q * k}, out_s[3] = {q, k, s[1]};
    ws_at_tensor it = ws_g_from_data(g, idx, WS_AT_I64, 1, n1);
    free(idx);
    return ws_g_reshape(g, ws_g_index_select(g, table, 0, it), 3, out_s);
}

/* Attention of one block on x (B, H, W, E) with decomposed relative positions. */
static ws_at_tensor enc_attention(const ws_sam *m, ws_scope *g, const ws_sam_block *b, ws_at_tensor x)
{
    int64_t s[4];
    if (shape(g, x, s, 4)) return NULL;
    const int64_t B = s[0], H = s[1], W = s[2], E = s[3], nh = m->heads, hd = E / nh, L = H * W;
    const int64_t split[5] = {B, L, 3, nh, hd}, perm[5] = {2, 0, 3, 1, 4}, flat[4] = {3, B * nh, L, hd};
    ws_at_tensor qkv = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, b->qkv_w, b->qkv_b), 5, split), 5, perm), 4, flat);
    ws_at_tensor q = ws_g_select(g, qkv, 0, 0), k = ws_g_select(g, qkv, 0, 1), v = ws_g_select(g, qkv, 0, 2);
    /* (q * scale) @ k^T in that order, as Attention.forward: scaling the product rounds differently */
    ws_at_tensor attn = ws_g_matmul(g, ws_g_mul_scalar(g, q, 1.0 / sqrt((double)hd)), ws_g_transpose(g, k, -2, -1));
    /* rel_h[b, y, x, ky] = q[b, y, x] . Rh[y, ky];  rel_w[b, y, x, kx] = q[b, y, x] . Rw[x, kx] */
    ws_at_tensor Rh = rel_pos(g, (int)H, (int)H, b->rel_h), Rw = rel_pos(g, (int)W, (int)W, b->rel_w);
    const int64_t rq_s[4] = {B * nh, H, W, hd}, ph[4] = {1, 0, 2, 3}, pw[4] = {2, 0, 1, 3};
    ws_at_tensor rq = ws_g_reshape(g, q, 4, rq_s);
    const int64_t hsh[3] = {H, B * nh * W, hd}, wsh[3] = {W, B * nh * H, hd};
    ws_at_tensor relh = ws_g_matmul(g, ws_g_reshape(g, ws_g_permute(g, rq, 4, ph), 3, hsh), ws_g_transpose(g, Rh, 1, 2));
    ws_at_tensor relw = ws_g_matmul(g, ws_g_reshape(g, ws_g_permute(g, rq, 4, pw), 3, wsh), ws_g_transpose(g, Rw, 1, 2));
    const int64_t hb[4] = {H, B * nh, W, H}, wb[4] = {W, B * nh, H, W};
    const int64_t hback[4] = {1, 0, 2, 3}, wback[4] = {1, 2, 0, 3};
    relh = ws_g_permute(g, ws_g_reshape(g, relh, 4, hb), 4, hback);        /* (BN, H, W, kH) */
    relw = ws_g_permute(g, ws_g_reshape(g, relw, 4, wb), 4, wback);        /* (BN, H, W, kW) */
    const int64_t a5[5] = {B * nh, H, W, H, W}, a3[3] = {B * nh, L, L};
    ws_at_tensor a = ws_g_reshape(g, attn, 5, a5);   /* a view of the fresh scores: add in place */
    a = ws_g_add_(g, a, ws_g_unsqueeze(g, relh, 4));
    a = ws_g_add_(g, a, ws_g_unsqueeze(g, relw, 3));
    a = ws_g_softmax(g, ws_g_reshape(g, a, 3, a3), -1);
    const int64_t o5[5] = {B, nh, H, W, hd}, op[5] = {0, 2, 3, 1, 4}, o4[4] = {B, H, W, E};
    ws_at_tensor o = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, ws_g_matmul(g, a, v), 5, o5), 5, op), 4, o4);
    return ws_g_linear(g, o, b->proj_w, b->proj_b);
}

/* (1, Hp, Wp, E) -> (nW, ws, ws, E) windows in row-major window order, and back. */
static ws_at_tensor win_partition(ws_scope *g, ws_at_tensor x, int64_t Hp, int64_t Wp, int64_t E, int64_t ws)
{
    const int64_t s6[6] = {1, Hp / ws, ws, Wp / ws, ws, E}, p6[6] = {0, 1, 3, 2, 4, 5}, o4[4] = {(Hp / ws) * (Wp / ws), ws, ws, E};
    return ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, x, 6, s6), 6, p6), 4, o4);
}

static ws_at_tensor win_unpartition(ws_scope *g, ws_at_tensor w, int64_t Hp, int64_t Wp, int64_t E, int64_t ws)
{
    const int64_t s6[6] = {1, Hp / ws, Wp / ws, ws, ws, E}, p6[6] = {0, 1, 3, 2, 4, 5}, o4[4] = {1, Hp, Wp, E};
    return ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, w, 6, s6), 6, p6), 4, o4);
}

static ws_at_tensor enc_block(const ws_sam *m, ws_scope *outer, const ws_sam_block *b, ws_at_tensor x, int i,
                              ws_sam_enc_trace *tr)
{
    int64_t s[4];
    ws_scope in, *g = &in;   /* the block's temporaries die with it: keeps the peak at one block */
    if (shape(outer, x, s, 4)) return NULL;
    ws_scope_init(g);
    const int64_t H = s[1], W = s[2], E = s[3];
    ws_at_tensor h = ws_g_layer_norm(g, x, b->n1_w, b->n1_b, 1e-6);
    if (tr) tr->norm1[i] = h;
    ws_at_tensor attn_out;
    if (b->window) {
        const int64_t ws = b->window, Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws;
        const int64_t chw[4] = {0, 3, 1, 2}, hwc[4] = {0, 2, 3, 1};
        /* zero padding of the norm1 output (unmasked: padded tokens are keys like any other) */
        ws_at_tensor p = ws_g_permute(g, ws_g_pad2d(g, ws_g_permute(g, h, 4, chw), Hp, Wp), 4, hwc);
        attn_out = enc_attention(m, g, b, win_partition(g, p, Hp, Wp, E, ws));
        h = ws_g_slice(g, ws_g_slice(g, win_unpartition(g, attn_out, Hp, Wp, E, ws), 1, 0, H), 2, 0, W);
    } else {
        h = attn_out = enc_attention(m, g, b, h);
    }
    x = ws_g_add(g, x, h);
    ws_at_tensor y = ws_g_layer_norm(g, x, b->n2_w, b->n2_b, 1e-6);
    y = ws_g_linear(g, gelu(g, ws_g_linear(g, y, b->fc1_w, b->fc1_b)), b->fc2_w, b->fc2_b);
    x = ws_g_add(g, x, y);
    if (tr) {
        tr->norm1[i] = ws_scope_move(g, outer, tr->norm1[i]);
        tr->attn_out[i] = ws_scope_move(g, outer, attn_out);
        tr->output[i] = x;
    }
    x = ws_scope_move(g, outer, x);
    ws_scope_end(g, outer);
    return outer->err ? NULL : x;
}

ws_at_tensor ws_sam_encode(const ws_sam *m, ws_scope *g, ws_at_tensor img, ws_sam_enc_trace *tr)
{
    const int64_t hwc[4] = {0, 2, 3, 1}, chw[4] = {0, 3, 1, 2};
    ws_at_tensor x = ws_g_permute(g, ws_g_conv2d(g, img, m->patch_w, m->patch_b, m->patch, 0), 4, hwc);
    if (tr) tr->patch_embed = x;
    x = ws_g_add(g, x, m->pos_embed);
    if (tr) tr->pos_added = x;
    for (int i = 0; i < m->depth; i++) x = enc_block(m, g, &m->blocks[i], x, i, tr);
    ws_at_tensor n = ws_g_conv2d(g, ws_g_contiguous(g, ws_g_permute(g, x, 4, chw)), m->neck0_w, NULL, 1, 0);
    ws_at_tensor n1 = ln2d(g, n, m->neck1_w, m->neck1_b);
    ws_at_tensor n2 = ws_g_conv2d(g, n1, m->neck2_w, NULL, 1, 1);
    ws_at_tensor n3 = ln2d(g, n2, m->neck3_w, m->neck3_b);
    if (tr) { tr->neck[0] = n; tr->neck[1] = n1; tr->neck[2] = n2; tr->neck[3] = n3; }
    return n3;
}

/* ---- prompt encoder ----------------------------------------------------------------------- */

/* Random Fourier features of coordinates in [0, 1]: (..., 2) -> (..., C). */
static ws_at_tensor pe_encode(const ws_sam *m, ws_scope *g, ws_at_tensor coords)
{
    ws_at_tensor c = ws_g_scalar_op(g, WS_AT_SUB, ws_g_mul_scalar(g, coords, 2.0), 1.0);
    c = ws_g_mul_scalar(g, ws_g_matmul(g, c, m->pe_gauss), 2.0 * 3.14159265358979323846);
    ws_at_tensor parts[2] = {ws_g_unary(g, WS_AT_SIN, c), ws_g_unary(g, WS_AT_COS, c)};
    return ws_g_cat(g, parts, 2, -1);
}

ws_at_tensor ws_sam_dense_pe(const ws_sam *m, ws_scope *g)
{
    const int n = m->grid;
    float *xy = malloc((size_t)n * n * 2 * sizeof *xy);
    if (!xy) { ws_scope_poison(g, ws_fail(WS_ENOMEM, "SAM: out of memory")); return NULL; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {   /* (cumsum - 0.5) / n, x first */
            xy[(i * n + j) * 2 + 0] = ((float)(j + 1) - 0.5f) / (float)n;
            xy[(i * n + j) * 2 + 1] = ((float)(i + 1) - 0.5f) / (float)n;
        }
    const int64_t s3[3] = {n, n, 2}, perm[3] = {2, 0, 1};
    ws_at_tensor pe = pe_encode(m, g, ws_g_from_data(g, xy, WS_AT_F32, 3, s3));
    free(xy);
    return ws_g_unsqueeze(g, ws_g_contiguous(g, ws_g_permute(g, pe, 3, perm)), 0);
}

/* Point embeddings (N, P, C) for points (N, P, 2) and labels (N, P) (already padded). */
static ws_at_tensor embed_points(const ws_sam *m, ws_scope *g, ws_at_tensor pts, ws_at_tensor labels)
{
    /* +0.5 and the division run in the points' own precision (float64 in the mask generator,
     * float32 in SamPredictor.predict), then the encoding in float32, as upstream */
    ws_at_tensor c = ws_g_scalar_op(g, WS_AT_DIV, ws_g_scalar_op(g, WS_AT_ADD, pts, 0.5), m->img_size);
    ws_at_tensor e = pe_encode(m, g, ws_g_to_dtype(g, c, WS_AT_F32));
    ws_at_tensor lab = ws_g_unsqueeze(g, labels, -1);
    ws_at_tensor pad = ws_g_scalar_op(g, WS_AT_EQ, lab, -1.0);
    e = ws_g_where(g, pad, ws_g_mul_scalar(g, e, 0.0), e);   /* padding points: zeros + not_a_point */
    e = ws_g_add(g, e, ws_g_mul(g, ws_g_to_dtype(g, pad, WS_AT_F32), m->not_a_point));
    e = ws_g_add(g, e, ws_g_mul(g, ws_g_to_dtype(g, ws_g_scalar_op(g, WS_AT_EQ, lab, 0.0), WS_AT_F32), m->point_emb[0]));
    e = ws_g_add(g, e, ws_g_mul(g, ws_g_to_dtype(g, ws_g_scalar_op(g, WS_AT_EQ, lab, 1.0), WS_AT_F32), m->point_emb[1]));
    return e;
}

int ws_sam_prompt(const ws_sam *m, ws_scope *g, ws_at_tensor points, ws_at_tensor labels, ws_at_tensor boxes,
                  ws_at_tensor mask, ws_at_tensor *sparse, ws_at_tensor *dense)
{
    int64_t s[4];
    int64_t n = 1;
    const int64_t C = m->out_chans;
    ws_at_tensor parts[2];
    int np = 0;
    if (points) {
        if (shape(g, points, s, 3)) return g->err;
        n = s[0];
        if (!boxes) {   /* a padding point (label -1) when there is no box */
            const int64_t zs[3] = {n, 1, 2}, ls[2] = {n, 1};
            int pdt = WS_AT_F32;
            if (!g->err) ws_at_dtype_of(points, &pdt);
            ws_at_tensor zp[2] = {points, ws_g_full(g, 0, pdt, 3, zs)};
            ws_at_tensor zl[2] = {ws_g_to_dtype(g, labels, WS_AT_F32), ws_g_full(g, -1, WS_AT_F32, 2, ls)};
            points = ws_g_cat(g, zp, 2, 1);
            labels = ws_g_cat(g, zl, 2, 1);
        }
        parts[np++] = embed_points(m, g, points, ws_g_to_dtype(g, labels, WS_AT_F32));
    }
    if (boxes) {
        if (shape(g, boxes, s, 2)) return g->err;
        n = s[0];
        const int64_t cs[3] = {n, 2, 2};
        ws_at_tensor c = ws_g_scalar_op(g, WS_AT_DIV, ws_g_scalar_op(g, WS_AT_ADD, ws_g_reshape(g, boxes, 3, cs), 0.5), m->img_size);
        ws_at_tensor e = pe_encode(m, g, c);
        ws_at_tensor corners[2] = {ws_g_add(g, ws_g_slice(g, e, 1, 0, 1), m->point_emb[2]),
                                   ws_g_add(g, ws_g_slice(g, e, 1, 1, 2), m->point_emb[3])};
        parts[np++] = ws_g_cat(g, corners, 2, 1);
    }
    if (mask && shape(g, mask, s, 4) == 0) n = s[0];
    if (np) *sparse = np == 1 ? parts[0] : ws_g_cat(g, parts, np, 1);
    else {
        const int64_t es[3] = {n, 0, C};
        *sparse = ws_g_full(g, 0, WS_AT_F32, 3, es);
    }
    if (mask) {
        ws_at_tensor d = gelu(g, ln2d(g, ws_g_conv2d(g, mask, m->md0_w, m->md0_b, 2, 0), m->md1_w, m->md1_b));
        d = gelu(g, ln2d(g, ws_g_conv2d(g, d, m->md3_w, m->md3_b, 2, 0), m->md4_w, m->md4_b));
        *dense = ws_g_conv2d(g, d, m->md6_w, m->md6_b, 1, 0);
    } else {   /* the same for every prompt: kept at batch 1 and broadcast where used */
        const int64_t r4[4] = {1, C, 1, 1}, e4[4] = {1, C, m->grid, m->grid};
        *dense = ws_g_contiguous(g, ws_g_expand(g, ws_g_reshape(g, m->no_mask, 4, r4), 4, e4));
    }
    return g->err;
}

/* ---- mask decoder ------------------------------------------------------------------------- */

/* Attention of many queries (the image tokens) over few keys (the prompt tokens), all heads in
 * two plain matrix products: the keys and values are laid out block-diagonally per head, so the
 * image side is never transposed into per-head batches. q (Bq, L, C'), k, v (Bk, S, C'). */
static ws_at_tensor many_to_few(ws_scope *g, ws_at_tensor q, ws_at_tensor k, ws_at_tensor v, int64_t nh, int64_t cph,
                                const int64_t *ks, ws_at_tensor wq, ws_at_tensor bq, ws_at_tensor wo)
{
    const int64_t B = ks[0], S = ks[1];
    float eye[64 * 64];
    if (nh > 64) { ws_scope_poison(g, ws_fail(WS_EUNSUP, "SAM decoder: more than 64 heads")); return NULL; }
    for (int64_t i = 0; i < nh * nh; i++) eye[i] = i / nh == i % nh;
    const int64_t e5k[5] = {1, nh, nh, 1, 1}, e5v[5] = {1, nh, 1, nh, 1};
    const int64_t k4[4] = {B, S, nh, cph}, pk[4] = {0, 2, 3, 1}, pk5[5] = {0, 1, 3, 2, 4}, kb[3] = {B, nh * cph, nh * S};
    const int64_t pv[4] = {0, 2, 1, 3}, vb[3] = {B, nh * S, nh * cph};
    /* Kbd[n, h*cph + d, h2*S + j] = k[n, j, h2, d] / sqrt(cph) if h == h2 */
    ws_at_tensor kt = ws_g_unsqueeze(g, ws_g_permute(g, ws_g_reshape(g, k, 4, k4), 4, pk), 1);   /* (B,1,H2,d,S) */
    ws_at_tensor kbd = ws_g_mul(g, kt, ws_g_from_data(g, eye, WS_AT_F32, 5, e5k));             /* (B,H,H2,d,S) */
    kbd = ws_g_reshape(g, ws_g_permute(g, kbd, 5, pk5), 3, kb);
    kbd = ws_g_mul_scalar(g, kbd, 1.0 / sqrt((double)cph));
    /* Vbd[n, h*S + j, h2*cph + d] = v[n, j, h, d] if h == h2 */
    ws_at_tensor vt = ws_g_unsqueeze(g, ws_g_permute(g, ws_g_reshape(g, v, 4, k4), 4, pv), 3);   /* (B,H,S,1,d) */
    ws_at_tensor vbd = ws_g_reshape(g, ws_g_mul(g, vt, ws_g_from_data(g, eye, WS_AT_F32, 5, e5v)), 3, vb);
    /* out_proj folded into the values: P (Vbd Wo^T) instead of (P Vbd) Wo^T, the same product
     * associated the cheap way round ((H*S) rows instead of L = 4096 rows through Wo) */
    if (wo) vbd = ws_g_matmul(g, vbd, ws_g_transpose(g, wo, 0, 1));
    int64_t qs[3];
    if (shape(g, q, qs, 3)) return NULL;
    ws_at_tensor sc;
    if (wq) {   /* q_proj folded into the keys: X (Wq^T Kbd) + bq Kbd, never projecting the L image tokens */
        const int64_t b3[3] = {1, 1, nh * cph};
        ws_at_tensor kq = ws_g_matmul(g, ws_g_transpose(g, wq, 0, 1), kbd);          /* (B, C_in, H*S) */
        sc = ws_g_add(g, ws_g_matmul(g, q, kq), ws_g_matmul(g, ws_g_reshape(g, bq, 3, b3), kbd));
    } else sc = ws_g_matmul(g, q, kbd);                                                         /* (Bq|B, L, H*S) */
    int64_t ss[3];
    if (shape(g, sc, ss, 3)) return NULL;
    const int64_t s4[4] = {ss[0], ss[1], nh, S}, s3[3] = {ss[0], ss[1], nh * S};
    ws_at_tensor p = ws_g_reshape(g, ws_g_softmax(g, ws_g_reshape(g, sc, 4, s4), -1), 3, s3);
    return ws_g_matmul(g, p, vbd);                                                               /* (.., L, C') */
}

/* Attention of few queries (the prompt tokens, q_in (N, T, C)) over many per-prompt keys (the
 * image tokens, k_in and v_in (N, L, C)) with k_proj and v_proj folded into the small side:
 * scores_h = (Q_h Wk_h) K^T + Q_h bk_h and out_h = (P_h V) Wv_h^T + bv_h (softmax rows sum to 1),
 * so the L image tokens never pass through either C -> C' projection. Returns (N, T, C') before
 * out_proj. */
static ws_at_tensor few_to_many(ws_scope *g, const ws_sam_attn *a, ws_at_tensor q_in, ws_at_tensor k_in, ws_at_tensor v_in,
                                int64_t nh, int64_t cph, const int64_t *xs, int64_t C)
{
    const int64_t N = xs[0], T = xs[1];
    const int64_t q4[4] = {N, T, nh, cph}, p4[4] = {0, 2, 1, 3}, w3[3] = {nh, cph, C}, b3[3] = {nh, cph, 1};
    const int64_t s3[3] = {N, nh * T, C}, h4[4] = {N, nh, T, C}, bv3[3] = {nh, 1, cph}, o3[3] = {N, T, nh * cph};
    ws_at_tensor Q = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, q_in, a->q_w, a->q_b), 4, q4), 4, p4);   /* (N,H,T,d) */
    ws_at_tensor Qk = ws_g_reshape(g, ws_g_matmul(g, Q, ws_g_reshape(g, a->k_w, 3, w3)), 3, s3);           /* (N,H*T,C) */
    ws_at_tensor qb = ws_g_matmul(g, Q, ws_g_reshape(g, a->k_b, 3, b3));                                    /* (N,H,T,1) */
    ws_at_tensor sc = ws_g_reshape(g, ws_g_matmul(g, Qk, ws_g_transpose(g, k_in, 1, 2)), 4,
                                   (int64_t[4]){N, nh, T, -1});                                              /* (N,H,T,L) */
    sc = ws_g_mul_scalar(g, ws_g_add(g, sc, qb), 1.0 / sqrt((double)cph));
    ws_at_tensor P = ws_g_reshape(g, ws_g_softmax(g, sc, -1), 3, (int64_t[3]){N, nh * T, -1});
    ws_at_tensor PV = ws_g_reshape(g, ws_g_matmul(g, P, v_in), 4, h4);                                     /* (N,H,T,C) */
    ws_at_tensor o = ws_g_matmul(g, PV, ws_g_transpose(g, ws_g_reshape(g, a->v_w, 3, w3), 1, 2));          /* (N,H,T,d) */
    o = ws_g_add(g, o, ws_g_reshape(g, a->v_b, 3, bv3));
    return ws_g_reshape(g, ws_g_contiguous(g, ws_g_permute(g, o, 4, p4)), 3, o3);
}

static ws_at_tensor dec_attention(const ws_sam *m, ws_scope *g, const ws_sam_attn *a, ws_at_tensor q, ws_at_tensor k,
                                  ws_at_tensor v)
{
    {   /* per-prompt image keys (batch > 1, many more than the queries): fold the projections */
        int64_t xs[3], ks[3], ws[2];
        if (shape(g, q, xs, 3) || shape(g, k, ks, 3) || shape(g, a->q_w, ws, 2)) return NULL;
        if (ks[0] > 1 && ks[0] == xs[0] && ks[1] >= 4 * xs[1])
            return ws_g_linear(g, few_to_many(g, a, q, k, v, m->dec_heads, ws[0] / m->dec_heads, xs, ks[2]), a->o_w, a->o_b);
    }
    k = ws_g_linear(g, k, a->k_w, a->k_b);
    v = ws_g_linear(g, v, a->v_w, a->v_b);
    int64_t xs[3], ks[3], ws[2];
    if (shape(g, q, xs, 3) || shape(g, k, ks, 3) || shape(g, a->q_w, ws, 2)) return NULL;
    const int64_t nh = m->dec_heads, cph = ws[0] / nh;
    /* many image tokens over few prompt tokens: q_proj and out_proj folded into the small side */
    if (xs[1] >= 4 * ks[1]) return ws_g_add(g, many_to_few(g, q, k, v, nh, cph, ks, a->q_w, a->q_b, a->o_w), a->o_b);
    q = ws_g_linear(g, q, a->q_w, a->q_b);
    int64_t qs[3];
    if (shape(g, q, qs, 3)) return NULL;
    const int64_t q4[4] = {qs[0], qs[1], nh, cph}, k4[4] = {ks[0], ks[1], nh, cph};
    q = ws_g_transpose(g, ws_g_reshape(g, q, 4, q4), 1, 2);
    k = ws_g_transpose(g, ws_g_reshape(g, k, 4, k4), 1, 2);
    v = ws_g_transpose(g, ws_g_reshape(g, v, 4, k4), 1, 2);
    ws_at_tensor attn = ws_g_mul_scalar(g, ws_g_matmul(g, q, ws_g_transpose(g, k, 2, 3)), 1.0 / sqrt((double)cph));
    ws_at_tensor o = ws_g_matmul(g, ws_g_softmax(g, attn, -1), v);
    int64_t os[4];   /* q or k/v may be shared by every prompt (batch 1): the batch comes from o */
    if (shape(g, o, os, 4)) return NULL;
    const int64_t o3[3] = {os[0], qs[1], qs[2]};
    o = ws_g_reshape(g, ws_g_transpose(g, o, 1, 2), 3, o3);
    return ws_g_linear(g, o, a->o_w, a->o_b);
}

static ws_at_tensor ln(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b)
{
    return ws_g_layer_norm(g, x, w, b, 1e-5);
}

static void two_way_layer(const ws_sam *m, ws_scope *outer, const ws_sam_tw_layer *l, int first, ws_at_tensor *queries,
                          ws_at_tensor *keys, ws_at_tensor qpe, ws_at_tensor kpe)
{
    ws_scope in, *g = &in;   /* the layer's temporaries (image-sized per prompt) die with it */
    ws_scope_init(g);
    ws_at_tensor q = *queries, k = *keys;
    if (first) q = dec_attention(m, g, &l->self_attn, q, q, q);
    else {
        ws_at_tensor qq = ws_g_add(g, q, qpe);
        q = ws_g_add(g, q, dec_attention(m, g, &l->self_attn, qq, qq, q));
    }
    q = ln(g, q, l->n1_w, l->n1_b);
    q = ws_g_add(g, q, dec_attention(m, g, &l->t2i, ws_g_add(g, q, qpe), ws_g_add(g, k, kpe), k));
    q = ln(g, q, l->n2_w, l->n2_b);
    q = ws_g_add(g, q, ws_g_linear(g, relu(g, ws_g_linear(g, q, l->mlp1_w, l->mlp1_b)), l->mlp2_w, l->mlp2_b));
    q = ln(g, q, l->n3_w, l->n3_b);
    k = ws_g_add(g, k, dec_attention(m, g, &l->i2t, ws_g_add(g, k, kpe), ws_g_add(g, q, qpe), q));
    k = ln(g, k, l->n4_w, l->n4_b);
    *queries = ws_scope_move(g, outer, q);
    *keys = ws_scope_move(g, outer, k);
    ws_scope_end(g, outer);
}

static ws_at_tensor mlp(ws_scope *g, const ws_sam_mlp *p, ws_at_tensor x)
{
    for (int i = 0; i < p->n; i++) {
        x = ws_g_linear(g, x, p->w[i], p->b[i]);
        if (i + 1 < p->n) x = relu(g, x);
    }
    return x;
}

/* ConvTranspose2d with kernel 2 and stride 2 on channels-last x (N, h, w, Ci), weight
 * (Ci, Co, 2, 2): one matrix product Ci -> Co*4 and a pixel shuffle; returns (N, 2h, 2w, Co). */
static ws_at_tensor conv_t2x2_cl(ws_scope *g, ws_at_tensor x, ws_at_tensor wt, ws_at_tensor b)
{
    int64_t xs[4], wsz[4];
    if (shape(g, x, xs, 4) || shape(g, wt, wsz, 4)) return NULL;
    const int64_t N = xs[0], h = xs[1], w = xs[2], ci = wsz[0], co = wsz[1];
    const int64_t wm[2] = {ci, co * 4}, s6[6] = {N, h, w, co, 2, 2}, p6[6] = {0, 1, 4, 2, 5, 3}, o4[4] = {N, 2 * h, 2 * w, co};
    ws_at_tensor y = ws_g_matmul(g, x, ws_g_reshape(g, wt, 2, wm));
    y = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, y, 6, s6), 6, p6), 4, o4);
    return ws_g_add(g, y, b);
}

int ws_sam_decode(const ws_sam *m, ws_scope *g, ws_at_tensor emb, ws_at_tensor sparse, ws_at_tensor dense,
                  int multimask, ws_sam_dec_out *out)
{
    int64_t ss[3], es[4];
    memset(out, 0, sizeof *out);
    if (shape(g, sparse, ss, 3) || shape(g, emb, es, 4)) return g->err;
    const int64_t N = ss[0], C = es[1], h = es[2], w = es[3];
    ws_at_tensor toks[2] = {m->iou_token, m->mask_tokens};
    const int64_t ot[3] = {N, 5, C};
    ws_at_tensor out_tokens = ws_g_expand(g, ws_g_unsqueeze(g, ws_g_cat(g, toks, 2, 0), 0), 3, ot);
    ws_at_tensor parts[2] = {out_tokens, sparse};
    ws_at_tensor tokens = ws_g_cat(g, parts, 2, 1);                      /* (N, 5+S, C) */
    /* Without mask prompts the image side is the same for every prompt until the first
     * image-to-token attention: it stays at batch 1 (computed once, broadcast in the attention
     * products), which removes about a third of the decoder's work for point batches. */
    int64_t ds[4];
    if (shape(g, dense, ds, 4)) return g->err;
    const int64_t flat[3] = {ds[0], C, h * w}, flat1[3] = {1, C, h * w};
    ws_at_tensor src = ws_g_add(g, emb, dense);                                   /* (1 or N, C, h, w) */
    ws_at_tensor keys = ws_g_transpose(g, ws_g_reshape(g, src, 3, flat), 1, 2);   /* (1 or N, hw, C) */
    ws_at_tensor kpe = ws_g_transpose(g, ws_g_reshape(g, ws_sam_dense_pe(m, g), 3, flat1), 1, 2);
    ws_at_tensor queries = tokens;
    for (int i = 0; i < m->dec_depth; i++) two_way_layer(m, g, &m->layers[i], i == 0, &queries, &keys, tokens, kpe);
    ws_at_tensor a = dec_attention(m, g, &m->final_attn, ws_g_add(g, queries, tokens), ws_g_add(g, keys, kpe), keys);
    ws_at_tensor hs = ln(g, ws_g_add(g, queries, a), m->nf_w, m->nf_b);
    out->hs = hs;
    out->keys = keys;
    /* upscaling: ConvT -> LayerNorm2d -> GELU -> ConvT -> GELU, kept channels-last (the keys
     * already are) so both transposed convolutions are single matrix products */
    const int64_t cl[4] = {N, h, w, C}, to_nchw[4] = {0, 3, 1, 2};
    ws_at_tensor up = ws_g_reshape(g, keys, 4, cl);
    up = gelu(g, ws_g_layer_norm(g, conv_t2x2_cl(g, up, m->up0_w, m->up0_b), m->up1_w, m->up1_b, 1e-6));
    up = gelu(g, conv_t2x2_cl(g, up, m->up3_w, m->up3_b));                 /* (N, 4h, 4w, C/8) */
    out->upscaled = ws_g_permute(g, up, 4, to_nchw);
    ws_at_tensor hyper[4];
    for (int i = 0; i < 4; i++) hyper[i] = mlp(g, &m->hyper[i], ws_g_select(g, hs, 1, 1 + i));
    ws_at_tensor hin = ws_g_cat(g, (ws_at_tensor[]){ws_g_unsqueeze(g, hyper[0], 1), ws_g_unsqueeze(g, hyper[1], 1),
                                                    ws_g_unsqueeze(g, hyper[2], 1), ws_g_unsqueeze(g, hyper[3], 1)}, 4, 1);
    int64_t us[4];
    if (shape(g, up, us, 4)) return g->err;
    const int64_t uf[3] = {N, us[1] * us[2], us[3]}, m4[4] = {N, 4, us[1], us[2]};
    ws_at_tensor masks = ws_g_reshape(g, ws_g_matmul(g, hin, ws_g_transpose(g, ws_g_reshape(g, up, 3, uf), 1, 2)), 4, m4);
    ws_at_tensor iou = mlp(g, &m->iou_head, ws_g_select(g, hs, 1, 0));
    out->masks = multimask ? ws_g_slice(g, masks, 1, 1, 4) : ws_g_slice(g, masks, 1, 0, 1);
    out->iou = multimask ? ws_g_slice(g, iou, 1, 1, 4) : ws_g_slice(g, iou, 1, 0, 1);
    return g->err;
}

/* ---- pre- and post-processing ------------------------------------------------------------- */

void ws_sam_preprocess_shape(int h, int w, int L, int *oh, int *ow)
{
    double scale = (double)L / (h > w ? h : w);
    *oh = (int)(h * scale + 0.5);
    *ow = (int)(w * scale + 0.5);
}

ws_at_tensor ws_sam_preprocess(const ws_sam *m, ws_scope *g, const uint8_t *rgb, int h, int w, int *rh, int *rw)
{
    ws_sam_preprocess_shape(h, w, m->img_size, rh, rw);
    if (g->err) return NULL;
    uint8_t *buf = malloc((size_t)*rh * *rw * 3);
    if (!buf) { ws_scope_poison(g, ws_fail(WS_ENOMEM, "SAM: out of memory")); return NULL; }
    int rc = ws_resize_u8(rgb, w, h, 3, buf, *rw, *rh, WS_RESAMPLE_BILINEAR);
    if (rc) { free(buf); ws_scope_poison(g, rc); return NULL; }
    const int64_t hwc[3] = {*rh, *rw, 3}, perm[3] = {2, 0, 1};
    ws_at_tensor x = ws_g_to_dtype(g, ws_g_from_data(g, buf, WS_AT_U8, 3, hwc), WS_AT_F32);
    free(buf);
    x = ws_g_div(g, ws_g_sub(g, ws_g_permute(g, x, 3, perm), m->pixel_mean), m->pixel_std);
    return ws_g_unsqueeze(g, ws_g_pad2d(g, x, m->img_size, m->img_size), 0);
}

ws_at_tensor ws_sam_postprocess(const ws_sam *m, ws_scope *g, ws_at_tensor low, int rh, int rw, int h, int w)
{
    /* upsampling to S x S and cropping to (rh, rw) is computed directly as the (rh, rw) corner of
     * the S x S result (same source coordinates), which saves the padded area */
    int64_t s[4];
    if (shape(g, low, s, 4)) return NULL;
    const double sc_h = (double)m->img_size / s[2], sc_w = (double)m->img_size / s[3];
    ws_at_tensor x = NULL;
    if (!g->err) {
        int rc = ws_at_interpolate_scaled(low, WS_AT_INTERP_BILINEAR, rh, rw, sc_h, sc_w, &x);
        x = ws_scope_track(g, rc, x, "interpolate");
    }
    return ws_g_interpolate(g, x, WS_AT_INTERP_BILINEAR, h, w, 0);
}

/* ---- random-weight models (benchmarks, the demo) ----------------------------------------------- */

const ws_sam_arch WS_SAM_VIT_B = {.embed = 768, .depth = 12, .heads = 12, .globals = {2, 5, 8, 11}, .grid = 64,
                                  .window = 14, .C = 256, .mlp_dim = 2048};
const ws_sam_arch WS_SAM_VIT_H = {.embed = 1280, .depth = 32, .heads = 16, .globals = {7, 15, 23, 31}, .grid = 64,
                                  .window = 14, .C = 256, .mlp_dim = 2048};
const ws_sam_arch WS_SAM_TINY = {.embed = 64, .depth = 2, .heads = 2, .globals = {1, -1, -1, -1}, .grid = 8,
                                 .window = 3, .C = 32, .mlp_dim = 64, .condition = 1};


static int add(ws_at_gen gen, ws_at_ckpt ck, const char *name, double fill, int nd, ...)
{
    int64_t sh[8];
    va_list ap;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++) sh[i] = va_arg(ap, int64_t);
    va_end(ap);
    return ws_weight_random(gen, ck, name, fill, nd, sh);
}

#define R NAN
#define I64(x) ((int64_t)(x))

static int attn(ws_at_gen gen, ws_at_ckpt ck, const char *p, int64_t C, int64_t inner)
{
    char n[256];
    int rc = 0;
    const char *qkv[3] = {"q", "k", "v"};
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(n, sizeof n, "%s.%s_proj.weight", p, qkv[i]);
        rc = add(gen, ck, n, R, 2, inner, C);
        snprintf(n, sizeof n, "%s.%s_proj.bias", p, qkv[i]);
        if (!rc) rc = add(gen, ck, n, R, 1, inner);
    }
    snprintf(n, sizeof n, "%s.out_proj.weight", p);
    if (!rc) rc = add(gen, ck, n, R, 2, C, inner);
    snprintf(n, sizeof n, "%s.out_proj.bias", p);
    if (!rc) rc = add(gen, ck, n, R, 1, C);
    return rc;
}

/* The image encoder: patch embedding, blocks (rel-pos tables span the window or, in global blocks,
 * the grid), neck. */
static int random_encoder(ws_at_gen gen, const ws_sam_arch *a, ws_at_ckpt ck)
{
    char n[256];
    int rc = 0;
    const int64_t E = a->embed, g = a->grid, C = a->C, win = a->window;
    rc |= add(gen, ck, "image_encoder.pos_embed", R, 4, I64(1), g, g, E);
    rc |= add(gen, ck, "image_encoder.patch_embed.proj.weight", R, 4, E, I64(3), I64(16), I64(16));
    rc |= add(gen, ck, "image_encoder.patch_embed.proj.bias", R, 1, E);
    for (int b = 0; b < a->depth && !rc; b++) {
        int global = 0;
        for (int k = 0; k < 4; k++) global |= a->globals[k] == b;
        int64_t span = global ? 2 * g - 1 : 2 * win - 1, hd = E / a->heads;
        const char *names[] = {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"};
        for (int k = 0; k < 4; k++) { snprintf(n, sizeof n, "image_encoder.blocks.%d.%s", b, names[k]); rc |= add(gen, ck, n, k % 2 ? 0 : 1, 1, E); }
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.rel_pos_h", b); rc |= add(gen, ck, n, R, 2, span, hd);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.rel_pos_w", b); rc |= add(gen, ck, n, R, 2, span, hd);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.qkv.weight", b); rc |= add(gen, ck, n, R, 2, 3 * E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.qkv.bias", b); rc |= add(gen, ck, n, R, 1, 3 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.proj.weight", b); rc |= add(gen, ck, n, R, 2, E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.proj.bias", b); rc |= add(gen, ck, n, R, 1, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin1.weight", b); rc |= add(gen, ck, n, R, 2, 4 * E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin1.bias", b); rc |= add(gen, ck, n, R, 1, 4 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin2.weight", b); rc |= add(gen, ck, n, R, 2, E, 4 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin2.bias", b); rc |= add(gen, ck, n, R, 1, E);
    }
    rc |= add(gen, ck, "image_encoder.neck.0.weight", R, 4, C, E, I64(1), I64(1));
    rc |= add(gen, ck, "image_encoder.neck.1.weight", 1, 1, C);
    rc |= add(gen, ck, "image_encoder.neck.1.bias", 0, 1, C);
    rc |= add(gen, ck, "image_encoder.neck.2.weight", R, 4, C, C, I64(3), I64(3));
    rc |= add(gen, ck, "image_encoder.neck.3.weight", 1, 1, C);
    rc |= add(gen, ck, "image_encoder.neck.3.bias", 0, 1, C);
    return rc;
}

/* The prompt encoder: Fourier matrix, point / box-corner / padding embeddings, mask downscaling. */
static int random_prompt(ws_at_gen gen, const ws_sam_arch *a, ws_at_ckpt ck)
{
    char n[256];
    int rc = 0;
    const int64_t C = a->C;
    rc |= add(gen, ck, "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", R, 2, I64(2), C / 2);
    for (int k = 0; k < 4; k++) { snprintf(n, sizeof n, "prompt_encoder.point_embeddings.%d.weight", k); rc |= add(gen, ck, n, R, 2, I64(1), C); }
    rc |= add(gen, ck, "prompt_encoder.not_a_point_embed.weight", R, 2, I64(1), C);
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.0.weight", R, 4, I64(4), I64(1), I64(2), I64(2));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.0.bias", R, 1, I64(4));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.1.weight", 1, 1, I64(4));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.1.bias", 0, 1, I64(4));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.3.weight", R, 4, I64(16), I64(4), I64(2), I64(2));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.3.bias", R, 1, I64(16));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.4.weight", 1, 1, I64(16));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.4.bias", 0, 1, I64(16));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.6.weight", R, 4, C, I64(16), I64(1), I64(1));
    rc |= add(gen, ck, "prompt_encoder.mask_downscaling.6.bias", R, 1, C);
    rc |= add(gen, ck, "prompt_encoder.no_mask_embed.weight", R, 2, I64(1), C);
    return rc;
}

/* The mask decoder: two-way transformer, output upscaling, hypernetwork MLPs and IoU head. */
static int random_decoder(ws_at_gen gen, const ws_sam_arch *a, ws_at_ckpt ck)
{
    char n[256];
    int rc = 0;
    const int64_t C = a->C;
    for (int l = 0; l < 2 && !rc; l++) {
        const char *pre = "mask_decoder.transformer.layers";
        snprintf(n, sizeof n, "%s.%d.self_attn", pre, l); rc |= attn(gen, ck, n, C, C);
        snprintf(n, sizeof n, "%s.%d.cross_attn_token_to_image", pre, l); rc |= attn(gen, ck, n, C, C / 2);
        snprintf(n, sizeof n, "%s.%d.cross_attn_image_to_token", pre, l); rc |= attn(gen, ck, n, C, C / 2);
        for (int k = 1; k <= 4; k++) {
            snprintf(n, sizeof n, "%s.%d.norm%d.weight", pre, l, k); rc |= add(gen, ck, n, 1, 1, C);
            snprintf(n, sizeof n, "%s.%d.norm%d.bias", pre, l, k); rc |= add(gen, ck, n, 0, 1, C);
        }
        snprintf(n, sizeof n, "%s.%d.mlp.lin1.weight", pre, l); rc |= add(gen, ck, n, R, 2, I64(a->mlp_dim), C);
        snprintf(n, sizeof n, "%s.%d.mlp.lin1.bias", pre, l); rc |= add(gen, ck, n, R, 1, I64(a->mlp_dim));
        snprintf(n, sizeof n, "%s.%d.mlp.lin2.weight", pre, l); rc |= add(gen, ck, n, R, 2, C, I64(a->mlp_dim));
        snprintf(n, sizeof n, "%s.%d.mlp.lin2.bias", pre, l); rc |= add(gen, ck, n, R, 1, C);
    }
    rc |= attn(gen, ck, "mask_decoder.transformer.final_attn_token_to_image", C, C / 2);
    rc |= add(gen, ck, "mask_decoder.transformer.norm_final_attn.weight", 1, 1, C);
    rc |= add(gen, ck, "mask_decoder.transformer.norm_final_attn.bias", 0, 1, C);
    rc |= add(gen, ck, "mask_decoder.iou_token.weight", R, 2, I64(1), C);
    rc |= add(gen, ck, "mask_decoder.mask_tokens.weight", R, 2, I64(4), C);
    rc |= add(gen, ck, "mask_decoder.output_upscaling.0.weight", R, 4, C, C / 4, I64(2), I64(2));
    rc |= add(gen, ck, "mask_decoder.output_upscaling.0.bias", R, 1, C / 4);
    rc |= add(gen, ck, "mask_decoder.output_upscaling.1.weight", 1, 1, C / 4);
    rc |= add(gen, ck, "mask_decoder.output_upscaling.1.bias", 0, 1, C / 4);
    rc |= add(gen, ck, "mask_decoder.output_upscaling.3.weight", R, 4, C / 4, C / 8, I64(2), I64(2));
    rc |= add(gen, ck, "mask_decoder.output_upscaling.3.bias", R, 1, C / 8);
    for (int h = 0; h < 5 && !rc; h++) {
        char p[128];
        if (h < 4) snprintf(p, sizeof p, "mask_decoder.output_hypernetworks_mlps.%d", h);
        else snprintf(p, sizeof p, "mask_decoder.iou_prediction_head");
        int64_t out = h < 4 ? C / 8 : 4;
        for (int l = 0; l < 3; l++) {
            snprintf(n, sizeof n, "%s.layers.%d.weight", p, l); rc |= add(gen, ck, n, l == 2 && a->condition ? (h < 4 ? -300.0 : -10.0) : R, 2, l == 2 ? out : C, C);
            snprintf(n, sizeof n, "%s.layers.%d.bias", p, l); rc |= add(gen, ck, n, R, 1, l == 2 ? out : C);
        }
    }
    return rc;
}

/* A random state dict with the released key names and shapes of arch a, drawn from gen in the
 * module order (encoder, prompt encoder, decoder): a seed always gives the same weights. */
static int random_sam(ws_at_gen gen, const ws_sam_arch *a, ws_at_ckpt ck)
{
    return random_encoder(gen, a, ck) || random_prompt(gen, a, ck) || random_decoder(gen, a, ck) ? WS_ETORCH : 0;
}


/* The golden tiny SAM's "decoder conditioning", so that a random decoder gives local masks with
 * contrast: image-to-token attention with q = k and a 4x output projection, and 2x2 upscaling
 * kernels close to their mean (smooth upsampling). */
static int condition_decoder(ws_at_gen gen, const ws_sam_arch *a, ws_at_ckpt ck)
{
    char n[256], n2[256];
    int rc = 0;
    (void)a;
    for (int l = 0; l < 2 && !rc; l++) {
        ws_at_tensor q = NULL, k = NULL, o = NULL;
        snprintf(n, sizeof n, "mask_decoder.transformer.layers.%d.cross_attn_image_to_token.q_proj.weight", l);
        snprintf(n2, sizeof n2, "mask_decoder.transformer.layers.%d.cross_attn_image_to_token.k_proj.weight", l);
        rc = ws_at_ckpt_get(ck, n, &q) || ws_at_ckpt_get(ck, n2, &k) || ws_at_copy_(q, k);
        snprintf(n, sizeof n, "mask_decoder.transformer.layers.%d.cross_attn_image_to_token.out_proj.weight", l);
        if (!rc) rc = ws_at_ckpt_get(ck, n, &o) || ws_at_mul_scalar_(o, 4.0);
        ws_at_free(q); ws_at_free(k); ws_at_free(o);
    }
    for (int u = 0; u < 2 && !rc; u++) {
        ws_at_tensor w = NULL, mean = NULL, noise = NULL;
        int64_t sh[4];
        int nd = 0;
        snprintf(n, sizeof n, "mask_decoder.output_upscaling.%d.weight", u ? 3 : 0);
        rc = ws_at_ckpt_get(ck, n, &w) || ws_at_shape(w, sh, 4, &nd);
        if (!rc) {
            ws_at_tensor m1 = NULL;
            rc = ws_at_reduce_dim(WS_AT_RMEAN, w, 3, 1, &m1) || ws_at_reduce_dim(WS_AT_RMEAN, m1, 2, 1, &mean);
            ws_at_free(m1);
        }
        if (!rc) rc = ws_at_empty(WS_AT_F32, 4, sh, &noise) || ws_at_normal_(noise, 0, 0.01, gen) ||
                      ws_at_copy_(w, noise) || ws_at_add_scaled_(w, mean, 1.0);
        ws_at_free(w); ws_at_free(mean); ws_at_free(noise);
    }
    return rc ? ws_fail(WS_ETORCH, "random SAM conditioning: %s", ws_at_last_error()) : 0;
}

int ws_sam_init_random(ws_sam *m, const ws_sam_arch *a, uint64_t seed)
{
    ws_at_gen gen = NULL;
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    int rc = ws_at_gen_new(seed, &gen) || ws_at_ckpt_new("random SAM", &ck) ? ws_fail(WS_ETORCH, "%s", ws_at_last_error()) : 0;
    if (!rc && random_sam(gen, a, ck)) rc = ws_fail(WS_ETORCH, "random SAM: %s", ws_last_error());
    if (!rc && a->condition) rc = condition_decoder(gen, a, ck);
    if (!rc) rc = ws_sam_from_ckpt(m, ck, 0);
    ws_at_ckpt_close(ck);
    ws_at_gen_free(gen);
    return rc;
}

/* The architecture of a "random:NAME" spec; NULL for an unknown NAME. */
static const ws_sam_arch *random_arch(const char *spec)
{
    const char *k = spec + 7;
    return !strcmp(k, "tiny") ? &WS_SAM_TINY : !strcmp(k, "vit_b") ? &WS_SAM_VIT_B : !strcmp(k, "vit_h") ? &WS_SAM_VIT_H : NULL;
}

int ws_sam_spec_check(const char *spec, int *random)
{
    *random = !strncmp(spec, "random:", 7);
    if (*random && !random_arch(spec))
        return ws_fail(WS_EINVAL, "unknown random SAM '%s' (random:tiny, random:vit_b, random:vit_h)", spec);
    return 0;
}

int ws_sam_open(ws_sam *m, const char *spec, int decoder_heads)
{
    int random, rc = ws_sam_spec_check(spec, &random);
    if (rc) return rc;
    if (random) return ws_sam_init_random(m, random_arch(spec), 0);
    return ws_sam_load(m, spec, decoder_heads);
}

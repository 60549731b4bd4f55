/* clip.c - OpenAI CLIP ViT + text transformer in fp32 over the ATen shim (see clip.h).
 *
 * Loading follows openai/CLIP build_model: every size comes from tensor shapes and key counts.
 * The forward pass is the official one written out op by op (NLD layout): conv1 patches,
 * class token, positional embedding, ln_pre, residual attention blocks, ln_post, projection.
 */
#include "model/clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/weights.h"

/* ---- loading ------------------------------------------------------------------------------ */

#define CLIP_KIND "an OpenAI CLIP ViT"

static int load_f32(ws_at_ckpt ck, const char *name, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    return ws_weight(ck, name, ndim, shape, CLIP_KIND, out);
}

static int shape_of(ws_at_ckpt ck, const char *name, int64_t *sh, int *nd)
{
    return ws_weight_shape(ck, name, sh, nd, CLIP_KIND);
}

static int load_block(ws_at_ckpt ck, const char *prefix, int w, ws_clip_block *b)
{
    char k[256];
    const int64_t v1[1] = {w}, v3[1] = {3 * w}, v4[1] = {4 * w};
    const int64_t in_s[2] = {3 * w, w}, out_s[2] = {w, w}, fc_s[2] = {4 * w, w}, pr_s[2] = {w, 4 * w};
    struct { const char *name; int nd; const int64_t *shape; ws_at_tensor *dst; } items[] = {
        {"ln_1.weight", 1, v1, &b->ln1_w}, {"ln_1.bias", 1, v1, &b->ln1_b},
        {"attn.in_proj_weight", 2, in_s, &b->in_w}, {"attn.in_proj_bias", 1, v3, &b->in_b},
        {"attn.out_proj.weight", 2, out_s, &b->out_w}, {"attn.out_proj.bias", 1, v1, &b->out_b},
        {"ln_2.weight", 1, v1, &b->ln2_w}, {"ln_2.bias", 1, v1, &b->ln2_b},
        {"mlp.c_fc.weight", 2, fc_s, &b->fc_w}, {"mlp.c_fc.bias", 1, v4, &b->fc_b},
        {"mlp.c_proj.weight", 2, pr_s, &b->proj_w}, {"mlp.c_proj.bias", 1, v1, &b->proj_b},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        snprintf(k, sizeof k, "%s%s", prefix, items[i].name);
        int rc = load_f32(ck, k, items[i].nd, items[i].shape, items[i].dst);
        if (rc) return rc;
    }
    return 0;
}

static void free_block(ws_clip_block *b)
{
    ws_at_tensor *t = &b->ln1_w;
    for (size_t i = 0; i < sizeof *b / sizeof *t; i++) ws_at_free(t[i]);
}

static int make_causal_mask(ws_clip *m)
{
    int n = m->context_length;
    float *buf = malloc((size_t)n * n * sizeof *buf);
    if (!buf) return ws_fail(WS_ENOMEM, "causal mask: out of memory");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) buf[i * n + j] = j > i ? -INFINITY : 0.0f;
    const int64_t sh[2] = {n, n};
    int rc = ws_at_from_data(buf, WS_AT_F32, 2, sh, &m->causal_mask);
    free(buf);
    return rc ? ws_fail(WS_ETORCH, "causal mask: %s", ws_at_last_error()) : 0;
}

static int infer_arch(ws_clip *m, ws_at_ckpt ck)
{
    int64_t sh[WS_AT_MAX_DIMS];
    int nd, rc;
    const char *path = ws_at_ckpt_path(ck);
    if (!ws_at_ckpt_has(ck, "visual.proj"))
        return ws_fail(WS_EFORMAT, "checkpoint %s lacks tensor 'visual.proj': not a CLIP ViT checkpoint "
                       "(ResNet CLIP models are not supported)", path);
    if ((rc = shape_of(ck, "visual.conv1.weight", sh, &nd))) return rc;
    if (nd != 4) return ws_fail(WS_ESHAPE, "%s: visual.conv1.weight must be 4-d", path);
    m->vision_width = (int)sh[0];
    m->patch_size = (int)sh[3];
    m->vision_heads = m->vision_width / 64;
    m->vision_layers = ws_weight_count(ck, "visual.transformer.resblocks.");
    if ((rc = shape_of(ck, "visual.positional_embedding", sh, &nd))) return rc;
    m->grid = (int)lround(sqrt((double)(sh[0] - 1)));
    if (nd != 2 || (int64_t)m->grid * m->grid + 1 != sh[0])
        return ws_fail(WS_ESHAPE, "%s: visual.positional_embedding must be (1 + grid^2, width)", path);
    m->image_resolution = m->patch_size * m->grid;
    if ((rc = shape_of(ck, "text_projection", sh, &nd))) return rc;
    m->embed_dim = (int)sh[1];
    if ((rc = shape_of(ck, "positional_embedding", sh, &nd))) return rc;
    m->context_length = (int)sh[0];
    if ((rc = shape_of(ck, "token_embedding.weight", sh, &nd))) return rc;
    m->vocab_size = (int)sh[0];
    if ((rc = shape_of(ck, "ln_final.weight", sh, &nd))) return rc;
    m->text_width = (int)sh[0];
    m->text_heads = m->text_width / 64;
    m->text_layers = ws_weight_count(ck, "transformer.resblocks.");
    if (m->vision_heads < 1 || m->text_heads < 1 || m->vision_layers < 1 || m->text_layers < 1)
        return ws_fail(WS_EFORMAT, "%s: implausible CLIP sizes (width %d, layers %d/%d)", path,
                       m->vision_width, m->vision_layers, m->text_layers);
    return 0;
}

int ws_clip_from_ckpt(ws_clip *m, ws_at_ckpt ck)
{
    int rc;
    char prefix[128];
    memset(m, 0, sizeof *m);
    if ((rc = infer_arch(m, ck))) return rc;
    const int wv = m->vision_width, wt = m->text_width, e = m->embed_dim, p = m->patch_size;
    const int64_t conv_s[4] = {wv, 3, p, p}, vpos_s[2] = {1 + m->grid * m->grid, wv}, wv1[1] = {wv};
    const int64_t vproj_s[2] = {wv, e}, tok_s[2] = {m->vocab_size, wt}, pos_s[2] = {m->context_length, wt};
    const int64_t wt1[1] = {wt}, tproj_s[2] = {wt, e};
    struct { const char *name; int nd; const int64_t *shape; ws_at_tensor *dst; } items[] = {
        {"visual.conv1.weight", 4, conv_s, &m->conv1_w}, {"visual.class_embedding", 1, wv1, &m->class_emb},
        {"visual.positional_embedding", 2, vpos_s, &m->vis_pos},
        {"visual.ln_pre.weight", 1, wv1, &m->ln_pre_w}, {"visual.ln_pre.bias", 1, wv1, &m->ln_pre_b},
        {"visual.ln_post.weight", 1, wv1, &m->ln_post_w}, {"visual.ln_post.bias", 1, wv1, &m->ln_post_b},
        {"visual.proj", 2, vproj_s, &m->vis_proj}, {"token_embedding.weight", 2, tok_s, &m->tok_emb},
        {"positional_embedding", 2, pos_s, &m->pos_emb}, {"ln_final.weight", 1, wt1, &m->ln_final_w},
        {"ln_final.bias", 1, wt1, &m->ln_final_b}, {"text_projection", 2, tproj_s, &m->text_proj},
        {"logit_scale", 0, NULL, &m->logit_scale},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        if ((rc = load_f32(ck, items[i].name, items[i].nd, items[i].shape, items[i].dst))) goto fail;
    m->vblocks = calloc((size_t)m->vision_layers, sizeof *m->vblocks);
    m->tblocks = calloc((size_t)m->text_layers, sizeof *m->tblocks);
    if (!m->vblocks || !m->tblocks) {
        rc = ws_fail(WS_ENOMEM, "CLIP: out of memory");
        goto fail;
    }
    for (int i = 0; i < m->vision_layers; i++) {
        snprintf(prefix, sizeof prefix, "visual.transformer.resblocks.%d.", i);
        if ((rc = load_block(ck, prefix, wv, &m->vblocks[i]))) goto fail;
    }
    for (int i = 0; i < m->text_layers; i++) {
        snprintf(prefix, sizeof prefix, "transformer.resblocks.%d.", i);
        if ((rc = load_block(ck, prefix, wt, &m->tblocks[i]))) goto fail;
    }
    if ((rc = make_causal_mask(m))) goto fail;
    return 0;
fail:
    ws_clip_free(m);
    return rc;
}

int ws_clip_load(ws_clip *m, const char *path)
{
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    int rc = ws_clip_from_ckpt(m, ck);
    ws_at_ckpt_close(ck);
    return rc;
}

void ws_clip_free(ws_clip *m)
{
    if (!m) return;
    ws_at_tensor *single[] = {&m->conv1_w, &m->class_emb, &m->vis_pos, &m->ln_pre_w, &m->ln_pre_b,
                              &m->ln_post_w, &m->ln_post_b, &m->vis_proj, &m->tok_emb, &m->pos_emb,
                              &m->ln_final_w, &m->ln_final_b, &m->text_proj, &m->logit_scale,
                              &m->causal_mask};
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) ws_at_free(*single[i]);
    for (int i = 0; m->vblocks && i < m->vision_layers; i++) free_block(&m->vblocks[i]);
    for (int i = 0; m->tblocks && i < m->text_layers; i++) free_block(&m->tblocks[i]);
    free(m->vblocks);
    free(m->tblocks);
    memset(m, 0, sizeof *m);
}

/* ---- forward ------------------------------------------------------------------------------ */

static int dims3(ws_scope *g, ws_at_tensor x, int64_t d[3])
{
    int nd = 0;
    if (g->err) return g->err;
    if (ws_at_shape(x, d, 3, &nd) || nd != 3) {
        ws_scope_poison(g, ws_fail(WS_ESHAPE, "expected a (N, L, W) token tensor"));
        return g->err;
    }
    return 0;
}

/* Multi-head self-attention of nn.MultiheadAttention on h = ln_1(x) (N, L, W); mask (L, L) or
 * NULL. *probs receives the (N, H, L, L) probabilities when asked. Returns (N, L, W). */
static ws_at_tensor attention(ws_scope *g, const ws_clip_block *b, int heads, ws_at_tensor h,
                              ws_at_tensor mask, ws_at_tensor *probs)
{
    int64_t d[3];
    if (dims3(g, h, d)) return NULL;
    const int64_t n = d[0], l = d[1], w = d[2], hd = w / heads;
    const int64_t split[5] = {n, l, 3, heads, hd}, perm[5] = {2, 0, 3, 1, 4};
    ws_at_tensor qkv = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, h, b->in_w, b->in_b), 5, split), 5, perm);
    ws_at_tensor q = ws_g_mul_scalar(g, ws_g_select(g, qkv, 0, 0), 1.0 / sqrt((double)hd));
    ws_at_tensor k = ws_g_select(g, qkv, 0, 1), v = ws_g_select(g, qkv, 0, 2);
    ws_at_tensor s = ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1));       /* (N, H, L, L) */
    if (mask) s = ws_g_add(g, s, mask);
    ws_at_tensor a = ws_g_softmax(g, s, -1);
    if (probs) *probs = a;
    const int64_t merge_perm[4] = {0, 2, 1, 3}, merged[3] = {n, l, w};
    ws_at_tensor o = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, a, v), 4, merge_perm), 3, merged);
    return ws_g_linear(g, o, b->out_w, b->out_b);
}

/* One residual block: x + attn(ln_1(x)), then + c_proj(QuickGELU(c_fc(ln_2(x)))).
 * ln1 may be given precomputed (the Grad-CAM leaf). */
static ws_at_tensor block_forward(ws_scope *g, const ws_clip_block *b, int heads, ws_at_tensor x,
                                  ws_at_tensor ln1, ws_at_tensor mask, ws_at_tensor *probs)
{
    if (!ln1) ln1 = ws_g_layer_norm(g, x, b->ln1_w, b->ln1_b, 1e-5);
    x = ws_g_add(g, x, attention(g, b, heads, ln1, mask, probs));
    ws_at_tensor h = ws_g_layer_norm(g, x, b->ln2_w, b->ln2_b, 1e-5);
    h = ws_g_quick_gelu(g, ws_g_linear(g, h, b->fc_w, b->fc_b));
    return ws_g_add(g, x, ws_g_linear(g, h, b->proj_w, b->proj_b));
}

ws_at_tensor ws_clip_pos_embed(const ws_clip *m, ws_scope *g, int h, int w, int mode)
{
    if (h == m->grid && w == m->grid) return m->vis_pos;
    const int64_t gw = m->grid, wd = m->vision_width;
    const int64_t grid4[4] = {1, gw, gw, wd}, to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    const int64_t flat[2] = {(int64_t)h * w, wd};
    ws_at_tensor patches = ws_g_permute(g, ws_g_reshape(g, ws_g_slice(g, m->vis_pos, 0, 1, 1 + gw * gw), 4, grid4),
                                        4, to_nchw);
    int im = mode == WS_CLIP_POS_BILINEAR ? WS_AT_INTERP_BILINEAR : WS_AT_INTERP_BICUBIC;
    patches = ws_g_interpolate(g, patches, im, h, w, 0);
    patches = ws_g_reshape(g, ws_g_permute(g, patches, 4, to_nhwc), 2, flat);
    ws_at_tensor parts[2] = {ws_g_slice(g, m->vis_pos, 0, 0, 1), patches};
    return ws_g_cat(g, parts, 2, 0);
}

static int alloc_lists(const ws_clip *m, const ws_clip_image_opts *o, ws_clip_image_out *out)
{
    size_t n = (size_t)m->vision_layers;
    if (o->block_tokens && !(out->block_tokens = calloc(n, sizeof(ws_at_tensor)))) return WS_ENOMEM;
    if (o->attn_mean && !(out->attn_mean = calloc(n, sizeof(ws_at_tensor)))) return WS_ENOMEM;
    if (o->attn_heads && !(out->attn_heads = calloc(n, sizeof(ws_at_tensor)))) return WS_ENOMEM;
    return 0;
}

/* Patch embedding + class token + positional embedding -> ln_pre; fills the early outputs. */
static ws_at_tensor embed_image(const ws_clip *m, ws_scope *g, ws_at_tensor images,
                                const ws_clip_image_opts *o, ws_clip_image_out *out)
{
    int64_t sh[4];
    int nd = 0;
    if (g->err) return NULL;
    if (ws_at_shape(images, sh, 4, &nd) || nd != 4 || sh[1] != 3 || sh[2] % m->patch_size ||
        sh[3] % m->patch_size) {
        ws_scope_poison(g, ws_fail(WS_ESHAPE, "CLIP image input must be (N, 3, H, W) with H and W "
                                   "multiples of %d", m->patch_size));
        return NULL;
    }
    const int64_t n = sh[0], wd = m->vision_width;
    out->grid_h = (int)(sh[2] / m->patch_size);
    out->grid_w = (int)(sh[3] / m->patch_size);
    const int64_t hw = (int64_t)out->grid_h * out->grid_w;
    const int64_t flat[3] = {n, wd, hw}, cls_s[3] = {n, 1, wd};
    ws_at_tensor x = ws_g_conv2d(g, images, m->conv1_w, NULL, m->patch_size, 0);
    out->patch_embed = ws_g_transpose(g, ws_g_reshape(g, x, 3, flat), 1, 2);   /* (N, hw, W) */
    ws_at_tensor parts[2] = {ws_g_expand(g, m->class_emb, 3, cls_s), out->patch_embed};
    out->pos = ws_clip_pos_embed(m, g, out->grid_h, out->grid_w, o->pos_interp);
    out->tokens_embedded = ws_g_add(g, ws_g_cat(g, parts, 2, 1), out->pos);
    out->tokens_ln_pre = ws_g_layer_norm(g, out->tokens_embedded, m->ln_pre_w, m->ln_pre_b, 1e-5);
    return out->tokens_ln_pre;
}

/* Blocks from..L-1 on x and the heads (ln_post, projections); the Grad-CAM leaf when asked. */
static int image_blocks(const ws_clip *m, ws_scope *g, ws_at_tensor x, int from, const ws_clip_image_opts *o,
                        ws_clip_image_out *out, ws_at_guard trunk_guard)
{
    const int last = m->vision_layers - 1;
    for (int i = from; i <= last; i++) {
        const ws_clip_block *b = &m->vblocks[i];
        ws_at_tensor ln1 = NULL, probs = NULL;
        int want_attn = (o->attn_mean || o->attn_heads) && i >= o->attn_from;
        if (i == last && o->gradcam_leaf) {
            /* the frozen trunk ends here: the last ln_1 output becomes a differentiable leaf */
            ln1 = ws_g_detach(g, ws_g_layer_norm(g, x, b->ln1_w, b->ln1_b, 1e-5));
            x = ws_g_detach(g, x);
            ws_at_guard_exit(trunk_guard);
            trunk_guard = NULL;
            if (!g->err && ws_at_set_requires_grad(ln1, 1))
                ws_scope_poison(g, ws_fail(WS_ETORCH, "grad leaf: %s", ws_at_last_error()));
            out->ln1_leaf = ln1;
        }
        x = block_forward(g, b, m->vision_heads, x, ln1, NULL, want_attn ? &probs : NULL);
        if (o->block_tokens) out->block_tokens[i] = x;
        if (want_attn && o->attn_heads) out->attn_heads[i] = probs;
        if (want_attn && o->attn_mean) out->attn_mean[i] = ws_g_reduce(g, WS_AT_RMEAN, probs, 1, 0);
    }
    ws_at_guard_exit(trunk_guard);
    if (o->proj_all || o->patch_mean) {
        ws_at_tensor lnx = ws_g_layer_norm(g, x, m->ln_post_w, m->ln_post_b, 1e-5);
        if (o->proj_all) out->proj_all = ws_g_matmul(g, lnx, m->vis_proj);
        if (o->patch_mean) {
            ws_at_tensor patches = ws_g_slice(g, lnx, 1, 1, 1 + (int64_t)out->grid_h * out->grid_w);
            out->patch_mean = ws_g_matmul(g, ws_g_reduce(g, WS_AT_RMEAN, patches, 1, 0), m->vis_proj);
        }
    }
    ws_at_tensor cls = ws_g_layer_norm(g, ws_g_select(g, x, 1, 0), m->ln_post_w, m->ln_post_b, 1e-5);
    out->embedding = ws_g_matmul(g, cls, m->vis_proj);
    return g->err;
}

int ws_clip_encode_image(const ws_clip *m, ws_scope *g, ws_at_tensor images,
                         const ws_clip_image_opts *opts, ws_clip_image_out *out)
{
    static const ws_clip_image_opts none = {0};
    const ws_clip_image_opts *o = opts ? opts : &none;
    ws_at_guard trunk_guard = NULL;
    memset(out, 0, sizeof *out);
    if (alloc_lists(m, o, out)) return ws_fail(WS_ENOMEM, "CLIP: out of memory");
    if (o->gradcam_leaf && ws_at_grad_mode_enter(0, NULL, &trunk_guard))
        return ws_fail(WS_ETORCH, "grad mode: %s", ws_at_last_error());
    ws_at_tensor x = embed_image(m, g, images, o, out);
    return image_blocks(m, g, x, 0, o, out, trunk_guard);
}

int ws_clip_image_trunk(const ws_clip *m, ws_scope *g, ws_at_tensor images, int pos_interp, ws_at_tensor *x,
                        int *grid_h, int *grid_w)
{
    ws_clip_image_opts o = {.pos_interp = pos_interp};
    ws_clip_image_out out = {0};
    ws_at_guard ng = NULL;
    *x = NULL;
    if (ws_at_grad_mode_enter(0, NULL, &ng)) return ws_fail(WS_ETORCH, "grad mode: %s", ws_at_last_error());
    ws_at_tensor t = embed_image(m, g, images, &o, &out);
    for (int i = 0; i < m->vision_layers - 1; i++) t = block_forward(g, &m->vblocks[i], m->vision_heads, t, NULL, NULL, NULL);
    ws_at_guard_exit(ng);
    *x = t;
    *grid_h = out.grid_h;
    *grid_w = out.grid_w;
    return g->err;
}

int ws_clip_encode_image_tail(const ws_clip *m, ws_scope *g, ws_at_tensor x, int grid_h, int grid_w,
                              const ws_clip_image_opts *opts, ws_clip_image_out *out)
{
    static const ws_clip_image_opts none = {0};
    const ws_clip_image_opts *o = opts ? opts : &none;
    memset(out, 0, sizeof *out);
    if (alloc_lists(m, o, out)) return ws_fail(WS_ENOMEM, "CLIP: out of memory");
    out->grid_h = grid_h;
    out->grid_w = grid_w;
    return image_blocks(m, g, x, m->vision_layers - 1, o, out, NULL);
}

void ws_clip_image_out_free(ws_clip_image_out *out)
{
    if (!out) return;
    free(out->block_tokens);
    free(out->attn_mean);
    free(out->attn_heads);
    out->block_tokens = out->attn_mean = out->attn_heads = NULL;
}

ws_at_tensor ws_clip_token_embed(const ws_clip *m, ws_scope *g, ws_at_tensor ids)
{
    int64_t sh[2];
    int nd = 0;
    if (g->err) return NULL;
    if (ws_at_shape(ids, sh, 2, &nd) || nd != 2) {
        ws_scope_poison(g, ws_fail(WS_ESHAPE, "token ids must be (G, context_length)"));
        return NULL;
    }
    const int64_t flat[1] = {sh[0] * sh[1]}, out_s[3] = {sh[0], sh[1], m->text_width};
    ws_at_tensor idx = ws_g_to_dtype(g, ws_g_reshape(g, ids, 1, flat), WS_AT_I64);
    return ws_g_reshape(g, ws_g_index_select(g, m->tok_emb, 0, idx), 3, out_s);
}

ws_at_tensor ws_clip_eot_index(ws_scope *g, ws_at_tensor ids)
{
    return ws_g_reduce(g, WS_AT_RARGMAX, ids, 1, 0);
}

/* Rows eot[i] of x (G, L, W) -> (G, W). */
static ws_at_tensor gather_rows(ws_scope *g, ws_at_tensor x, ws_at_tensor eot)
{
    int64_t d[3];
    if (dims3(g, x, d)) return NULL;
    int64_t *idx = malloc((size_t)d[0] * sizeof *idx);
    if (!idx || ws_at_read(eot, idx, (size_t)d[0] * sizeof *idx)) {
        free(idx);
        ws_scope_poison(g, ws_fail(WS_ESHAPE, "EOT index must be (G) int64: %s", ws_at_last_error()));
        return NULL;
    }
    for (int64_t i = 0; i < d[0]; i++) {
        if (idx[i] < 0 || idx[i] >= d[1]) {
            free(idx);
            ws_scope_poison(g, ws_fail(WS_EINVAL, "EOT index %lld out of range [0, %lld)",
                                       (long long)idx[i], (long long)d[1]));
            return NULL;
        }
        idx[i] += i * d[1];
    }
    const int64_t flat[2] = {d[0] * d[1], d[2]}, n[1] = {d[0]};
    ws_at_tensor it = ws_g_from_data(g, idx, WS_AT_I64, 1, n);
    free(idx);
    return ws_g_index_select(g, ws_g_reshape(g, x, 2, flat), 0, it);
}

int ws_clip_encode_text_emb(const ws_clip *m, ws_scope *g, ws_at_tensor prompt_emb, ws_at_tensor eot,
                            const ws_clip_text_opts *opts, ws_clip_text_out *out)
{
    static const ws_clip_text_opts none = {0};
    const ws_clip_text_opts *o = opts ? opts : &none;
    int64_t d[3];
    memset(out, 0, sizeof *out);
    if (dims3(g, prompt_emb, d)) return g->err;
    if (d[1] > m->context_length || d[2] != m->text_width)
        return ws_fail(WS_ESHAPE, "prompt embeddings (%lld, %lld, %lld) do not fit CLIP text (<= %d, %d)",
                       (long long)d[0], (long long)d[1], (long long)d[2], m->context_length, m->text_width);
    size_t n = (size_t)m->text_layers;
    if ((o->block_tokens && !(out->block_tokens = calloc(n, sizeof(ws_at_tensor)))) ||
        (o->attn_heads && !(out->attn_heads = calloc(n, sizeof(ws_at_tensor)))))
        return ws_fail(WS_ENOMEM, "CLIP text: out of memory");
    /* A prompt shorter than the context (causal truncation) uses the leading positions only. */
    ws_at_tensor pos = m->pos_emb, mask = m->causal_mask;
    if (d[1] < m->context_length) {
        pos = ws_g_slice(g, pos, 0, 0, d[1]);
        mask = ws_g_slice(g, ws_g_slice(g, mask, 0, 0, d[1]), 1, 0, d[1]);
    }
    ws_at_tensor x = out->embedded = ws_g_add(g, prompt_emb, pos);
    for (int i = 0; i < m->text_layers; i++) {
        ws_at_tensor probs = NULL;
        x = block_forward(g, &m->tblocks[i], m->text_heads, x, NULL, mask, o->attn_heads ? &probs : NULL);
        if (o->block_tokens) out->block_tokens[i] = x;
        if (o->attn_heads) out->attn_heads[i] = probs;
    }
    ws_at_tensor rows;
    if (o->ln_final_all) {
        out->ln_final = ws_g_layer_norm(g, x, m->ln_final_w, m->ln_final_b, 1e-5);
        rows = gather_rows(g, out->ln_final, eot);
    } else {
        rows = ws_g_layer_norm(g, gather_rows(g, x, eot), m->ln_final_w, m->ln_final_b, 1e-5);
    }
    out->features = ws_g_matmul(g, rows, m->text_proj);
    return g->err;
}

int ws_clip_encode_text(const ws_clip *m, ws_scope *g, ws_at_tensor ids, const ws_clip_text_opts *opts,
                        ws_clip_text_out *out)
{
    ws_at_tensor emb = ws_clip_token_embed(m, g, ids);
    ws_at_tensor eot = ws_clip_eot_index(g, ids);
    if (g->err) {
        memset(out, 0, sizeof *out);
        return g->err;
    }
    return ws_clip_encode_text_emb(m, g, emb, eot, opts, out);
}

void ws_clip_text_out_free(ws_clip_text_out *out)
{
    if (!out) return;
    free(out->block_tokens);
    free(out->attn_heads);
    out->block_tokens = out->attn_heads = NULL;
}

/* Multi-head attention of queries from hq (N, Lq, W) over keys/values from hkv (N, Lk, W) of the
 * same block; mask (Lq, Lk) or NULL. Returns (N, Lq, W). */
static ws_at_tensor cross_attention(ws_scope *g, const ws_clip_block *b, int heads, ws_at_tensor q_in,
                                    ws_at_tensor k, ws_at_tensor v, ws_at_tensor mask)
{
    int64_t d[4];
    int nd = 0;
    if (g->err) return NULL;
    ws_at_shape(q_in, d, 4, &nd);
    const int64_t n = d[0], lq = d[1], w = d[2], hd = w / heads;
    const int64_t split[4] = {n, lq, heads, hd}, perm[4] = {0, 2, 1, 3};
    ws_at_tensor wq = ws_g_slice(g, b->in_w, 0, 0, w), bq = ws_g_slice(g, b->in_b, 0, 0, w);
    ws_at_tensor q = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, q_in, wq, bq), 4, split), 4, perm);
    q = ws_g_mul_scalar(g, q, 1.0 / sqrt((double)hd));
    ws_at_tensor s = ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1));   /* (N, H, Lq, Lk) */
    if (mask) s = ws_g_add(g, s, mask);
    ws_at_tensor a = ws_g_softmax(g, s, -1);
    const int64_t merged[3] = {n, lq, w};
    ws_at_tensor o = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, a, v), 4, perm), 3, merged);
    return ws_g_linear(g, o, b->out_w, b->out_b);
}

/* Keys and values (N, H, L, hd) of h (N, L, W) for block b. */
static void keys_values(ws_scope *g, const ws_clip_block *b, int heads, ws_at_tensor h, ws_at_tensor *k,
                        ws_at_tensor *v)
{
    int64_t d[3];
    *k = *v = NULL;
    if (dims3(g, h, d)) return;
    const int64_t n = d[0], l = d[1], w = d[2], hd = w / heads;
    const int64_t split[5] = {n, l, 2, heads, hd}, perm[5] = {2, 0, 3, 1, 4};
    ws_at_tensor kv = ws_g_linear(g, h, ws_g_slice(g, b->in_w, 0, w, 3 * w), ws_g_slice(g, b->in_b, 0, w, 3 * w));
    kv = ws_g_permute(g, ws_g_reshape(g, kv, 5, split), 5, perm);
    *k = ws_g_select(g, kv, 0, 0);
    *v = ws_g_select(g, kv, 0, 1);
}

int ws_clip_encode_text_shared(const ws_clip *m, ws_scope *g, ws_at_tensor prefix, ws_at_tensor suffix,
                               ws_at_tensor eot, ws_clip_text_out *out)
{
    int64_t dp[3], ds[3];
    memset(out, 0, sizeof *out);
    if (dims3(g, prefix, dp) || dims3(g, suffix, ds)) return g->err;
    const int64_t P0 = dp[1], G = ds[0], Ls = ds[1], W = ds[2];
    if (dp[0] != 1 || P0 + Ls > m->context_length || W != m->text_width || dp[2] != W)
        return ws_fail(WS_ESHAPE, "shared-prefix text: prefix (1, P0, W) + suffix (G, Ls, W) must fit (%d, %d)",
                       m->context_length, m->text_width);
    /* the full causal mask's rows: prefix (P0, P0); suffix rows over all columns (Ls, P0 + Ls) */
    ws_at_tensor mp = ws_g_slice(g, ws_g_slice(g, m->causal_mask, 0, 0, P0), 1, 0, P0);
    ws_at_tensor ms = ws_g_slice(g, ws_g_slice(g, m->causal_mask, 0, P0, P0 + Ls), 1, 0, P0 + Ls);
    ws_at_tensor xp = ws_g_add(g, prefix, ws_g_slice(g, m->pos_emb, 0, 0, P0));
    ws_at_tensor xs = ws_g_add(g, suffix, ws_g_slice(g, m->pos_emb, 0, P0, P0 + Ls));
    const int64_t heads = m->text_heads, hd = W / heads, kshape[4] = {G, heads, P0, hd};
    for (int i = 0; i < m->text_layers; i++) {
        const ws_clip_block *b = &m->tblocks[i];
        ws_at_tensor hp = ws_g_layer_norm(g, xp, b->ln1_w, b->ln1_b, 1e-5);
        ws_at_tensor hs = ws_g_layer_norm(g, xs, b->ln1_w, b->ln1_b, 1e-5);
        ws_at_tensor kp, vp, ks, vs;
        keys_values(g, b, (int)heads, hp, &kp, &vp);
        keys_values(g, b, (int)heads, hs, &ks, &vs);
        ws_at_tensor kk[2] = {ws_g_expand(g, kp, 4, kshape), ks}, vv[2] = {ws_g_expand(g, vp, 4, kshape), vs};
        ws_at_tensor att_s = cross_attention(g, b, (int)heads, hs, ws_g_cat(g, kk, 2, 2), ws_g_cat(g, vv, 2, 2), ms);
        ws_at_tensor att_p = cross_attention(g, b, (int)heads, hp, kp, vp, mp);
        xp = ws_g_add(g, xp, att_p);
        xs = ws_g_add(g, xs, att_s);
        ws_at_tensor mlp[2] = {xp, xs};
        for (int k = 0; k < 2; k++) {
            ws_at_tensor h = ws_g_layer_norm(g, mlp[k], b->ln2_w, b->ln2_b, 1e-5);
            h = ws_g_quick_gelu(g, ws_g_linear(g, h, b->fc_w, b->fc_b));
            mlp[k] = ws_g_add(g, mlp[k], ws_g_linear(g, h, b->proj_w, b->proj_b));
        }
        xp = mlp[0];
        xs = mlp[1];
    }
    /* EOT rows live in the suffix: index - P0 */
    ws_at_tensor e = ws_g_scalar_op(g, WS_AT_SUB, eot, (double)P0);
    ws_at_tensor rows = ws_g_layer_norm(g, gather_rows(g, xs, ws_g_to_dtype(g, e, WS_AT_I64)), m->ln_final_w, m->ln_final_b, 1e-5);
    out->features = ws_g_matmul(g, rows, m->text_proj);
    return g->err;
}

ws_at_tensor ws_clip_l2_normalize(ws_scope *g, ws_at_tensor x)
{
    return ws_g_div(g, x, ws_g_norm(g, x, -1, 1));
}

/* ---- random-weight models (benchmarks) ------------------------------------------------------ */

const ws_clip_arch WS_CLIP_VIT_B16 = {.embed_dim = 512, .vision_width = 768, .vision_layers = 12,
                                      .patch_size = 16, .grid = 14, .context_length = 77,
                                      .vocab_size = 49408, .text_width = 512, .text_layers = 12};

static int rand_tensor(ws_at_gen gen, int nd, const int64_t *shape, double fill, ws_at_tensor *out)
{
    if (ws_at_empty(WS_AT_F32, nd, shape, out)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int rc = isnan(fill) ? ws_at_normal_(*out, 0, 0.02, gen) : ws_at_fill_(*out, fill);
    return rc ? ws_fail(WS_ETORCH, "%s", ws_at_last_error()) : 0;
}

static int rand_block(ws_at_gen gen, int w, ws_clip_block *b)
{
    const int64_t v1[1] = {w}, v3[1] = {3 * w}, v4[1] = {4 * w};
    const int64_t in_s[2] = {3 * w, w}, out_s[2] = {w, w}, fc_s[2] = {4 * w, w}, pr_s[2] = {w, 4 * w};
    struct { int nd; const int64_t *s; double fill; ws_at_tensor *dst; } it[] = {
        {1, v1, 1, &b->ln1_w}, {1, v1, 0, &b->ln1_b}, {2, in_s, NAN, &b->in_w}, {1, v3, 0, &b->in_b},
        {2, out_s, NAN, &b->out_w}, {1, v1, 0, &b->out_b}, {1, v1, 1, &b->ln2_w}, {1, v1, 0, &b->ln2_b},
        {2, fc_s, NAN, &b->fc_w}, {1, v4, 0, &b->fc_b}, {2, pr_s, NAN, &b->proj_w}, {1, v1, 0, &b->proj_b},
    };
    for (size_t i = 0; i < sizeof it / sizeof it[0]; i++) {
        int rc = rand_tensor(gen, it[i].nd, it[i].s, it[i].fill, it[i].dst);
        if (rc) return rc;
    }
    return 0;
}

int ws_clip_init_random(ws_clip *m, const ws_clip_arch *a, uint64_t seed)
{
    ws_at_gen gen = NULL;
    int rc;
    memset(m, 0, sizeof *m);
    m->embed_dim = a->embed_dim;
    m->vision_width = a->vision_width;
    m->vision_layers = a->vision_layers;
    m->vision_heads = a->vision_width / 64;
    m->patch_size = a->patch_size;
    m->grid = a->grid;
    m->image_resolution = a->patch_size * a->grid;
    m->context_length = a->context_length;
    m->vocab_size = a->vocab_size;
    m->text_width = a->text_width;
    m->text_heads = a->text_width / 64;
    m->text_layers = a->text_layers;
    if (ws_at_gen_new(seed, &gen)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    const int64_t wv = a->vision_width, wt = a->text_width, e = a->embed_dim, p = a->patch_size;
    const int64_t conv_s[4] = {wv, 3, p, p}, vpos_s[2] = {1 + (int64_t)a->grid * a->grid, wv}, wv1[1] = {wv};
    const int64_t vproj_s[2] = {wv, e}, tok_s[2] = {a->vocab_size, wt}, pos_s[2] = {a->context_length, wt};
    const int64_t wt1[1] = {wt}, tproj_s[2] = {wt, e};
    struct { int nd; const int64_t *s; double fill; ws_at_tensor *dst; } it[] = {
        {4, conv_s, NAN, &m->conv1_w}, {1, wv1, NAN, &m->class_emb}, {2, vpos_s, NAN, &m->vis_pos},
        {1, wv1, 1, &m->ln_pre_w}, {1, wv1, 0, &m->ln_pre_b}, {1, wv1, 1, &m->ln_post_w}, {1, wv1, 0, &m->ln_post_b},
        {2, vproj_s, NAN, &m->vis_proj}, {2, tok_s, NAN, &m->tok_emb}, {2, pos_s, NAN, &m->pos_emb},
        {1, wt1, 1, &m->ln_final_w}, {1, wt1, 0, &m->ln_final_b}, {2, tproj_s, NAN, &m->text_proj},
        {0, NULL, 4.6052, &m->logit_scale},
    };
    for (size_t i = 0; i < sizeof it / sizeof it[0]; i++)
        if ((rc = rand_tensor(gen, it[i].nd, it[i].s, it[i].fill, it[i].dst))) goto fail;
    m->vblocks = calloc((size_t)m->vision_layers, sizeof *m->vblocks);
    m->tblocks = calloc((size_t)m->text_layers, sizeof *m->tblocks);
    if (!m->vblocks || !m->tblocks) { rc = ws_fail(WS_ENOMEM, "CLIP: out of memory"); goto fail; }
    for (int i = 0; i < m->vision_layers; i++)
        if ((rc = rand_block(gen, (int)wv, &m->vblocks[i]))) goto fail;
    for (int i = 0; i < m->text_layers; i++)
        if ((rc = rand_block(gen, (int)wt, &m->tblocks[i]))) goto fail;
    if ((rc = make_causal_mask(m))) goto fail;
    ws_at_gen_free(gen);
    return 0;
fail:
    ws_at_gen_free(gen);
    ws_clip_free(m);
    return rc;
}

const ws_clip_arch WS_CLIP_TINY = {.embed_dim = 64, .vision_width = 128, .vision_layers = 3, .patch_size = 16,
                                   .grid = 7, .context_length = 77, .vocab_size = 49408, .text_width = 128,
                                   .text_layers = 3};

/* The architecture of a "random:NAME" spec; NULL for an unknown NAME. */
static const ws_clip_arch *random_arch(const char *spec)
{
    const char *k = spec + 7;
    return !strcmp(k, "tiny") ? &WS_CLIP_TINY : !strcmp(k, "vit_b16") ? &WS_CLIP_VIT_B16 : NULL;
}

int ws_clip_spec_check(const char *spec, int *random)
{
    *random = !strncmp(spec, "random:", 7);
    if (*random && !random_arch(spec)) return ws_fail(WS_EINVAL, "unknown random CLIP '%s' (random:tiny, random:vit_b16)", spec);
    return 0;
}

int ws_clip_open(ws_clip *m, const char *spec)
{
    int random, rc = ws_clip_spec_check(spec, &random);
    if (rc) return rc;
    return random ? ws_clip_init_random(m, random_arch(spec), 0) : ws_clip_load(m, spec);
}

/* fma.c - one FMA-WSSS forward pass (see fma.h). */
#include "method/fma.h"

#include <string.h>

#include "core/status.h"

void ws_fma_presence(const uint8_t *lb, size_t n, int n_fg, uint8_t *fg)
{
    memset(fg, 0, (size_t)n_fg);
    for (size_t i = 0; i < n; i++)
        if (lb[i] >= 1 && lb[i] <= n_fg) fg[lb[i] - 1] = 1;
}

void ws_fma_out_free(ws_fma_out *out)
{
    if (!out) return;
    ws_clip_image_out_free(&out->img);
    ws_clip_text_out_free(&out->text);
    ws_positives_free(&out->pos);
    ws_cam_loss_out_free(&out->cl);
}

/* total = w_mcl * mcl + w_fg * fg + w_bg * bg, leaving out zero-weight terms. */
static ws_at_tensor weighted_total(ws_scope *g, const ws_fma_opts *o, ws_fma_out *out)
{
    ws_at_tensor t = NULL;
    const struct { double w; ws_at_tensor v; } terms[3] = {
        {o->w_mcl, out->loss_mcl}, {o->w_cam_fg, out->cl.fg}, {o->w_cam_bg, out->cl.bg}};
    for (int i = 0; i < 3; i++) {
        if (terms[i].w == 0.0 || !terms[i].v) continue;
        ws_at_tensor x = terms[i].w == 1.0 ? terms[i].v : ws_g_mul_scalar(g, terms[i].v, terms[i].w);
        t = t ? ws_g_add(g, t, x) : x;
    }
    return t ? t : ws_g_full(g, 0.0, WS_AT_F32, 0, NULL);
}

/* Text features of the prompts: plain (all 77 positions) or fast (causal horizon, shared prefix). */
static int encode_prompts(const ws_clip *m, const ws_prompt *p, ws_scope *g, int fast, ws_fma_out *out)
{
    if (!fast || p->max_len <= 0 || p->max_len >= p->context_length) {
        out->prompt_emb = ws_prompt_embed(p, g);
        return ws_clip_encode_text_emb(m, g, out->prompt_emb, p->eot, NULL, &out->text);
    }
    const int64_t L = p->max_len, M = p->n_ctx;
    if (!p->csc && !p->front && L > 1 + M) {   /* one shared context in front: a shared prefix */
        const int64_t ps[3] = {1, M, p->width};
        ws_at_tensor parts[2] = {ws_g_slice(g, ws_g_slice(g, p->tok_emb, 0, 0, 1), 1, 0, 1),
                                 ws_g_reshape(g, p->ctx, 3, ps)};
        ws_at_tensor prefix = ws_g_cat(g, parts, 2, 1);
        ws_at_tensor suffix = ws_g_slice(g, p->tok_emb, 1, 1 + M, L);
        return ws_clip_encode_text_shared(m, g, prefix, suffix, p->eot, &out->text);
    }
    out->prompt_emb = ws_g_slice(g, ws_prompt_embed(p, g), 1, 0, L);
    return ws_clip_encode_text_emb(m, g, out->prompt_emb, p->eot, NULL, &out->text);
}

int ws_fma_forward(const ws_clip *m, const ws_prompt *p, ws_scope *g, const ws_fma_batch *b,
                   const ws_fma_opts *o, ws_fma_out *out)
{
    memset(out, 0, sizeof *out);
    /* without Grad-CAM (the cls task's zero-weight CAM loss) nothing of the image needs autograd */
    const int need_cam = o->cam || (b->seeds && (o->w_cam_fg != 0.0 || o->w_cam_bg != 0.0));
    ws_clip_image_opts io = {.pos_interp = o->pos_interp, .patch_mean = 1, .gradcam_leaf = need_cam,
                             .attn_mean = o->attn_mean, .proj_all = o->proj_all};
    ws_at_guard ng = NULL;
    int rc = 0;
    if (b->img_emb) {   /* cached embeddings */
        if (need_cam) return ws_fail(WS_EINVAL, "Grad-CAMs need the image, not cached embeddings");
        out->img.patch_mean = b->img_emb;
    } else {
        if (!need_cam && ws_at_grad_mode_enter(0, NULL, &ng)) return ws_fail(WS_ETORCH, "grad mode: %s", ws_at_last_error());
        rc = b->trunk ? ws_clip_encode_image_tail(m, g, b->trunk, b->grid_h, b->grid_w, &io, &out->img)
                      : ws_clip_encode_image(m, g, b->images, &io, &out->img);
        ws_at_guard_exit(ng);
    }
    if (rc) return rc;
    if ((rc = encode_prompts(m, p, g, o->fast_text, out))) return rc;
    out->logit_scale = ws_g_unary(g, WS_AT_EXP, m->logit_scale);
    out->logits = ws_fma_logits(g, out->img.patch_mean, out->text.features, out->logit_scale);
    out->sm_mask = ws_fma_softmax_mask(g, b->fg_labels, b->N, o->n_fg, p->n_cls);
    out->y = ws_fma_masked_softmax(g, out->logits, out->sm_mask, o->sm_eps);
    if (g->err) return g->err;
    if ((rc = ws_positives_from(&out->pos, b->fg_labels, b->N, o->n_fg))) return rc;
    if (need_cam && out->pos.P > 0) {
        rc = ws_gradcam(g, out->y, out->img.ln1_leaf, &out->pos, out->img.grid_h, out->img.grid_w, o->create_graph,
                        &out->gc);
        if (!rc && b->seeds) rc = ws_loss_cam(g, out->gc.cam, b->seeds, b->H, b->W, &out->pos, &out->cl);
        if (rc) return rc;
    }
    if (b->mcl_labels) {
        const int64_t fg[2] = {0, o->n_fg};
        ws_at_tensor fl = ws_g_slice(g, out->logits, 1, fg[0], fg[1]);
        out->loss_mcl = ws_loss_mcl(g, fl, b->mcl_labels, b->N, o->n_fg, &out->mcl_pairs);
    }
    out->loss_total = weighted_total(g, o, out);
    return g->err;
}

ws_at_tensor ws_fma_merge_att(ws_scope *g, const ws_at_tensor *attn, int layers, int keep)
{
    int from = layers > keep ? layers - keep : 0;
    ws_at_tensor acc = NULL;
    for (int i = from; i < layers; i++) acc = acc ? ws_g_add(g, acc, attn[i]) : attn[i];
    if (!acc) return NULL;
    int64_t L = 0;
    if (!g->err && ws_at_size(acc, -1, &L)) {
        ws_scope_poison(g, ws_fail(WS_ETORCH, "%s", ws_at_last_error()));
        return NULL;
    }
    acc = ws_g_mul_scalar(g, acc, 1.0 / (layers - from));
    return ws_g_slice(g, ws_g_slice(g, acc, 1, 1, L), 2, 1, L);
}

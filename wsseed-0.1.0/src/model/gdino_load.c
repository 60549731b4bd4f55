/* gdino_load.c - Grounding-DINO's weights: reading a release checkpoint, freeing, random models.
 *
 * The loader reads the "module."-prefixed keys of groundingdino_swin*_*.pth; BERT and Swin read
 * their own parts (bert.c, swin.c). Random models are written as an in-memory checkpoint with the
 * release's key names and then read by the same loader, so a key or shape the loader expects and
 * the generator lacks fails loudly. The forward passes are in gdino.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/gdino.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/weights.h"

static const char *KIND = "a Grounding-DINO (groundingdino_swin*_*.pth)";

/* ---- reading a checkpoint ----------------------------------------------------------------------- */

/* Any-shape fp32 weight (the sizes are checked where they meet). */
static int wany(ws_at_ckpt ck, const char *name, ws_at_tensor *out)
{
    return ws_weight(ck, name, -1, NULL, KIND, out);
}

/* MSDeformAttn's four linears; its 8 heads, 4 levels and 4 points are fixed in gdino.c's msda(),
 * as in every release. */
static int load_msda(ws_at_ckpt ck, const char *pre, ws_msda *a)
{
    char n[256];
    int rc = 0;
    const struct { const char *s; ws_at_tensor *t; } w[] = {
        {"sampling_offsets.weight", &a->off_w}, {"sampling_offsets.bias", &a->off_b},
        {"attention_weights.weight", &a->aw_w}, {"attention_weights.bias", &a->aw_b},
        {"value_proj.weight", &a->val_w}, {"value_proj.bias", &a->val_b},
        {"output_proj.weight", &a->out_w}, {"output_proj.bias", &a->out_b}};
    for (size_t i = 0; i < sizeof w / sizeof w[0] && !rc; i++) {
        snprintf(n, sizeof n, "%s.%s", pre, w[i].s);
        rc = wany(ck, n, w[i].t);
    }
    return rc;
}

/* The encoder layers: each layer's fusion, text-enhancer and deformable parts live in three
 * parallel module lists (fusion_layers, text_layers, layers) of transformer.encoder. */
static int load_encoder(ws_gdino *m, ws_at_ckpt ck)
{
    char n[256], pre[128];
    int rc = 0;
    m->enc_layers = ws_weight_count(ck, "module.transformer.encoder.layers.");
    if (m->enc_layers < 1 || m->enc_layers > 8) return ws_fail(WS_EFORMAT, "%d encoder layers (is it %s checkpoint?)", m->enc_layers, KIND);
    if (!(m->enc = calloc((size_t)m->enc_layers, sizeof *m->enc))) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < m->enc_layers && !rc; i++) {
        ws_gdino_enc_layer *e = &m->enc[i];
        const struct { const char *fmt; ws_at_tensor *t; } w[] = {
            {"fusion_layers.%d.gamma_v", &e->gamma_v}, {"fusion_layers.%d.gamma_l", &e->gamma_l},
            {"fusion_layers.%d.layer_norm_v.weight", &e->lnv_w}, {"fusion_layers.%d.layer_norm_v.bias", &e->lnv_b},
            {"fusion_layers.%d.layer_norm_l.weight", &e->lnl_w}, {"fusion_layers.%d.layer_norm_l.bias", &e->lnl_b},
            {"fusion_layers.%d.attn.v_proj.weight", &e->v_w}, {"fusion_layers.%d.attn.v_proj.bias", &e->v_b},
            {"fusion_layers.%d.attn.l_proj.weight", &e->l_w}, {"fusion_layers.%d.attn.l_proj.bias", &e->l_b},
            {"fusion_layers.%d.attn.values_v_proj.weight", &e->vv_w}, {"fusion_layers.%d.attn.values_v_proj.bias", &e->vv_b},
            {"fusion_layers.%d.attn.values_l_proj.weight", &e->vl_w}, {"fusion_layers.%d.attn.values_l_proj.bias", &e->vl_b},
            {"fusion_layers.%d.attn.out_v_proj.weight", &e->ov_w}, {"fusion_layers.%d.attn.out_v_proj.bias", &e->ov_b},
            {"fusion_layers.%d.attn.out_l_proj.weight", &e->ol_w}, {"fusion_layers.%d.attn.out_l_proj.bias", &e->ol_b},
            {"text_layers.%d.self_attn.in_proj_weight", &e->t_in_w}, {"text_layers.%d.self_attn.in_proj_bias", &e->t_in_b},
            {"text_layers.%d.self_attn.out_proj.weight", &e->t_out_w}, {"text_layers.%d.self_attn.out_proj.bias", &e->t_out_b},
            {"text_layers.%d.linear1.weight", &e->t_l1_w}, {"text_layers.%d.linear1.bias", &e->t_l1_b},
            {"text_layers.%d.linear2.weight", &e->t_l2_w}, {"text_layers.%d.linear2.bias", &e->t_l2_b},
            {"text_layers.%d.norm1.weight", &e->t_n1_w}, {"text_layers.%d.norm1.bias", &e->t_n1_b},
            {"text_layers.%d.norm2.weight", &e->t_n2_w}, {"text_layers.%d.norm2.bias", &e->t_n2_b},
            {"layers.%d.norm1.weight", &e->d_n1_w}, {"layers.%d.norm1.bias", &e->d_n1_b},
            {"layers.%d.linear1.weight", &e->d_l1_w}, {"layers.%d.linear1.bias", &e->d_l1_b},
            {"layers.%d.linear2.weight", &e->d_l2_w}, {"layers.%d.linear2.bias", &e->d_l2_b},
            {"layers.%d.norm2.weight", &e->d_n2_w}, {"layers.%d.norm2.bias", &e->d_n2_b}};
        for (size_t k = 0; k < sizeof w / sizeof w[0] && !rc; k++) {
            snprintf(pre, sizeof pre, w[k].fmt, i);
            snprintf(n, sizeof n, "module.transformer.encoder.%s", pre);
            rc = wany(ck, n, w[k].t);
        }
        snprintf(pre, sizeof pre, "module.transformer.encoder.layers.%d.self_attn", i);
        if (!rc) rc = load_msda(ck, pre, &e->da);
    }
    return rc;
}

/* An MLP head of up to 3 Linear layers (the count read from the keys). */
static int load_mlp(ws_at_ckpt ck, const char *pre, ws_mlp3 *mlp)
{
    char n[256];
    snprintf(n, sizeof n, "%s.layers.", pre);
    mlp->n = ws_weight_count(ck, n);
    if (mlp->n < 1 || mlp->n > 3) return ws_fail(WS_EFORMAT, "MLP %s has %d layers (is it %s checkpoint?)", pre, mlp->n, KIND);
    for (int i = 0; i < mlp->n; i++) {
        int rc;
        snprintf(n, sizeof n, "%s.layers.%d.weight", pre, i);
        if ((rc = wany(ck, n, &mlp->w[i]))) return rc;
        snprintf(n, sizeof n, "%s.layers.%d.bias", pre, i);
        if ((rc = wany(ck, n, &mlp->b[i]))) return rc;
    }
    return 0;
}

/* The decoder layers, the two-stage parts and the heads. The box head is shared by every layer in
 * the release (dec_pred_bbox_embed_share), so bbox_embed.0 is read once; the query count is the
 * number of tgt_embed rows. */
static int load_decoder(ws_gdino *m, ws_at_ckpt ck)
{
    char n[256], pre[128];
    int rc = 0;
    int64_t sh[2];
    int nd = 0;
    m->dec_layers = ws_weight_count(ck, "module.transformer.decoder.layers.");
    if (m->dec_layers < 1 || m->dec_layers > 8) return ws_fail(WS_EFORMAT, "%d decoder layers (is it %s checkpoint?)", m->dec_layers, KIND);
    if (!(m->dec = calloc((size_t)m->dec_layers, sizeof *m->dec))) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < m->dec_layers && !rc; i++) {
        ws_gdino_dec_layer *d = &m->dec[i];
        const struct { const char *s; ws_at_tensor *t; } w[] = {
            {"norm1.weight", &d->n1_w}, {"norm1.bias", &d->n1_b}, {"norm2.weight", &d->n2_w}, {"norm2.bias", &d->n2_b},
            {"norm3.weight", &d->n3_w}, {"norm3.bias", &d->n3_b}, {"catext_norm.weight", &d->ct_n_w}, {"catext_norm.bias", &d->ct_n_b},
            {"ca_text.in_proj_weight", &d->ct_in_w}, {"ca_text.in_proj_bias", &d->ct_in_b},
            {"ca_text.out_proj.weight", &d->ct_out_w}, {"ca_text.out_proj.bias", &d->ct_out_b},
            {"self_attn.in_proj_weight", &d->sa_in_w}, {"self_attn.in_proj_bias", &d->sa_in_b},
            {"self_attn.out_proj.weight", &d->sa_out_w}, {"self_attn.out_proj.bias", &d->sa_out_b},
            {"linear1.weight", &d->l1_w}, {"linear1.bias", &d->l1_b}, {"linear2.weight", &d->l2_w}, {"linear2.bias", &d->l2_b}};
        for (size_t k = 0; k < sizeof w / sizeof w[0] && !rc; k++) {
            snprintf(n, sizeof n, "module.transformer.decoder.layers.%d.%s", i, w[k].s);
            rc = wany(ck, n, w[k].t);
        }
        snprintf(pre, sizeof pre, "module.transformer.decoder.layers.%d.cross_attn", i);
        if (!rc) rc = load_msda(ck, pre, &d->ca);
    }
    if (!rc) rc = wany(ck, "module.transformer.decoder.norm.weight", &m->dec_norm_w);
    if (!rc) rc = wany(ck, "module.transformer.decoder.norm.bias", &m->dec_norm_b);
    if (!rc) rc = wany(ck, "module.transformer.tgt_embed.weight", &m->tgt_embed);
    if (!rc) rc = wany(ck, "module.transformer.enc_output.weight", &m->enc_out_w);
    if (!rc) rc = wany(ck, "module.transformer.enc_output.bias", &m->enc_out_b);
    if (!rc) rc = wany(ck, "module.transformer.enc_output_norm.weight", &m->enc_norm_w);
    if (!rc) rc = wany(ck, "module.transformer.enc_output_norm.bias", &m->enc_norm_b);
    if (!rc) rc = load_mlp(ck, "module.transformer.decoder.ref_point_head", &m->ref_head);
    if (!rc) rc = load_mlp(ck, "module.bbox_embed.0", &m->bbox);
    if (!rc) rc = load_mlp(ck, "module.transformer.enc_out_bbox_embed", &m->enc_bbox);
    if (!rc && !ws_at_shape(m->tgt_embed, sh, 2, &nd)) m->n_queries = (int)sh[0];
    return rc;
}

/* input_proj.<l>: conv (256, C_l, k, k) + GroupNorm(32, 256); C_l of Swin's returned stages 1..3
 * and, for the extra level 3, stage 3 again through a 3x3 stride-2 conv. Then level_embed. */
static int load_input_proj(ws_gdino *m, ws_at_ckpt ck)
{
    char n[256];
    int rc = 0;
    const int64_t C0 = m->swin.dim;
    for (int l = 0; l < 4 && !rc; l++) {
        const int64_t Cin = C0 << (l < 3 ? l + 1 : 3), k = l < 3 ? 1 : 3;
        const int64_t cw[4] = {256, Cin, k, k}, v[1] = {256};
        snprintf(n, sizeof n, "module.input_proj.%d.0.weight", l);
        if ((rc = ws_weight(ck, n, 4, cw, KIND, &m->ip_w[l]))) break;
        snprintf(n, sizeof n, "module.input_proj.%d.0.bias", l);
        if ((rc = ws_weight(ck, n, 1, v, KIND, &m->ip_b[l]))) break;
        snprintf(n, sizeof n, "module.input_proj.%d.1.weight", l);
        if ((rc = ws_weight(ck, n, 1, v, KIND, &m->gn_w[l]))) break;
        snprintf(n, sizeof n, "module.input_proj.%d.1.bias", l);
        rc = ws_weight(ck, n, 1, v, KIND, &m->gn_b[l]);
    }
    const int64_t le[2] = {4, 256};
    return rc ? rc : ws_weight(ck, "module.transformer.level_embed", 2, le, KIND, &m->level_embed);
}

/* Reads every tensor of ck (closed here) in the release's module order; m holds the BERT sizes
 * already. On failure frees what was read. */
static int from_ckpt(ws_gdino *m, ws_at_ckpt ck, const char *path)
{
    const int64_t fw[2] = {256, m->bert.hidden}, fb[1] = {256};
    int rc = ws_bert_load(&m->bert, ck, "module.bert", KIND, path);
    if (!rc) rc = ws_weight(ck, "module.feat_map.weight", 2, fw, KIND, &m->feat_map_w);
    if (!rc) rc = ws_weight(ck, "module.feat_map.bias", 1, fb, KIND, &m->feat_map_b);
    if (!rc) rc = ws_swin_load(&m->swin, ck, "module.backbone.0", KIND);
    if (!rc) rc = load_input_proj(m, ck);
    if (!rc) rc = load_encoder(m, ck);
    if (!rc) rc = load_decoder(m, ck);
    ws_at_ckpt_close(ck);
    if (rc) ws_gdino_free(m);
    return rc;
}

int ws_gdino_load(ws_gdino *m, const char *path, const char *bert_config)
{
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    int rc = ws_bert_config(&m->bert, bert_config);
    if (rc) return rc;
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    return from_ckpt(m, ck, path);
}

/* After a failed load the arrays may be partly filled (zeroed by calloc), hence the NULL checks;
 * ws_at_free(NULL) is a no-op. */
void ws_gdino_free(ws_gdino *m)
{
    if (!m) return;
    ws_bert_free(&m->bert);
    ws_swin_free(&m->swin);
    ws_at_free(m->feat_map_w);
    ws_at_free(m->feat_map_b);
    ws_at_free(m->level_embed);
    for (int i = 0; m->enc && i < m->enc_layers; i++) {
        ws_gdino_enc_layer *e = &m->enc[i];
        ws_at_tensor t[] = {e->gamma_v, e->gamma_l, e->lnv_w, e->lnv_b, e->lnl_w, e->lnl_b, e->v_w, e->v_b, e->l_w, e->l_b,
                            e->vv_w, e->vv_b, e->vl_w, e->vl_b, e->ov_w, e->ov_b, e->ol_w, e->ol_b, e->t_in_w, e->t_in_b,
                            e->t_out_w, e->t_out_b, e->t_l1_w, e->t_l1_b, e->t_l2_w, e->t_l2_b, e->t_n1_w, e->t_n1_b,
                            e->t_n2_w, e->t_n2_b, e->da.off_w, e->da.off_b, e->da.aw_w, e->da.aw_b, e->da.val_w, e->da.val_b,
                            e->da.out_w, e->da.out_b, e->d_n1_w, e->d_n1_b, e->d_l1_w, e->d_l1_b, e->d_l2_w, e->d_l2_b,
                            e->d_n2_w, e->d_n2_b};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) ws_at_free(t[k]);
    }
    free(m->enc);
    for (int i = 0; m->dec && i < m->dec_layers; i++) {
        ws_gdino_dec_layer *d = &m->dec[i];
        ws_at_tensor t[] = {d->n1_w, d->n1_b, d->n2_w, d->n2_b, d->n3_w, d->n3_b, d->ct_n_w, d->ct_n_b, d->ct_in_w, d->ct_in_b,
                            d->ct_out_w, d->ct_out_b, d->sa_in_w, d->sa_in_b, d->sa_out_w, d->sa_out_b, d->l1_w, d->l1_b,
                            d->l2_w, d->l2_b, d->ca.off_w, d->ca.off_b, d->ca.aw_w, d->ca.aw_b, d->ca.val_w, d->ca.val_b,
                            d->ca.out_w, d->ca.out_b};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) ws_at_free(t[k]);
    }
    free(m->dec);
    ws_at_tensor misc[] = {m->dec_norm_w, m->dec_norm_b, m->tgt_embed, m->enc_out_w, m->enc_out_b, m->enc_norm_w, m->enc_norm_b};
    for (size_t k = 0; k < sizeof misc / sizeof misc[0]; k++) ws_at_free(misc[k]);
    ws_mlp3 *mlps[3] = {&m->ref_head, &m->bbox, &m->enc_bbox};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < mlps[k]->n; i++) { ws_at_free(mlps[k]->w[i]); ws_at_free(mlps[k]->b[i]); }
    for (int l = 0; l < 4; l++) { ws_at_free(m->ip_w[l]); ws_at_free(m->ip_b[l]); ws_at_free(m->gn_w[l]); ws_at_free(m->gn_b[l]); }
    memset(m, 0, sizeof *m);
}

/* ---- random weights at any size (benchmarks, tests) ------------------------------------------- */

const ws_gdino_arch WS_GDINO_SWINT_OGC = {96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 6, 6, 2048, 900, 2000, 30522};
const ws_gdino_arch WS_GDINO_SWINB_COGCOOR = {128, {2, 2, 18, 2}, {4, 8, 16, 32}, 12, 6, 6, 2048, 900, 2000, 30522};

/* name formatted into n; one tensor of the given shape filled with fill (NaN: random) */
#define NM(...) snprintf(n, sizeof n, __VA_ARGS__)
#define T1(fill, ...) do { const int64_t s_[] = {__VA_ARGS__}; \
        if ((rc = ws_weight_random(gen, ck, n, fill, (int)(sizeof s_ / sizeof s_[0]), s_))) return rc; } while (0)
#define RLIN(pre, out, in) do { if ((rc = ws_weight_random_linear(gen, ck, pre, out, in))) return rc; } while (0)
#define RNORM(pre, d) do { if ((rc = ws_weight_random_norm(gen, ck, pre, d))) return rc; } while (0)

/* nn.MultiheadAttention(d): packed in_proj (3d, d), out_proj (d, d). */
static int rmha(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t d)
{
    char n[320];
    int rc;
    NM("%s.in_proj_weight", pre); T1(NAN, 3 * d, d);
    NM("%s.in_proj_bias", pre); T1(NAN, 3 * d);
    NM("%s.out_proj", pre);
    return ws_weight_random_linear(gen, ck, n, d, d);
}

/* MSDeformAttn(256, 4 levels, 8 heads, 4 points): offsets 8*4*4*2 = 256, weights 8*4*4 = 128. */
static int rmsda(ws_at_gen gen, ws_at_ckpt ck, const char *pre)
{
    char n[320];
    int rc;
    NM("%s.sampling_offsets", pre); RLIN(n, 256, 256);
    NM("%s.attention_weights", pre); RLIN(n, 128, 256);
    NM("%s.value_proj", pre); RLIN(n, 256, 256);
    NM("%s.output_proj", pre);
    return ws_weight_random_linear(gen, ck, n, 256, 256);
}

/* MLP(in, 256, 4, 3): the box heads. */
static int rmlp3(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t in)
{
    char n[320];
    int rc;
    for (int i = 0; i < 3; i++) {
        NM("%s.layers.%d", pre, i);
        RLIN(n, i == 2 ? 4 : 256, i == 0 ? in : 256);
    }
    return 0;
}

/* Encoder layer i: fusion (BiAttentionBlock, dim F/2), text enhancer, deformable layer. */
static int random_enc_layer(ws_at_gen gen, ws_at_ckpt ck, const ws_gdino_arch *a, int i)
{
    char n[320], p[256];
    int rc;
    const int64_t F = a->ffn, Fu = F / 2, D = 256;
    snprintf(p, sizeof p, "module.transformer.encoder.fusion_layers.%d", i);
    NM("%s.gamma_v", p); T1(1e-4, D);   /* init_values of the official block */
    NM("%s.gamma_l", p); T1(1e-4, D);
    NM("%s.layer_norm_v", p); RNORM(n, D);
    NM("%s.layer_norm_l", p); RNORM(n, D);
    static const char *const in[] = {"v_proj", "l_proj", "values_v_proj", "values_l_proj"};
    for (int k = 0; k < 4; k++) { NM("%s.attn.%s", p, in[k]); RLIN(n, Fu, D); }
    NM("%s.attn.out_v_proj", p); RLIN(n, D, Fu);
    NM("%s.attn.out_l_proj", p); RLIN(n, D, Fu);
    snprintf(p, sizeof p, "module.transformer.encoder.text_layers.%d", i);
    NM("%s.self_attn", p); if ((rc = rmha(gen, ck, n, D))) return rc;
    NM("%s.linear1", p); RLIN(n, Fu, D);
    NM("%s.linear2", p); RLIN(n, D, Fu);
    NM("%s.norm1", p); RNORM(n, D);
    NM("%s.norm2", p); RNORM(n, D);
    snprintf(p, sizeof p, "module.transformer.encoder.layers.%d", i);
    NM("%s.self_attn", p); if ((rc = rmsda(gen, ck, n))) return rc;
    NM("%s.linear1", p); RLIN(n, F, D);
    NM("%s.linear2", p); RLIN(n, D, F);
    NM("%s.norm1", p); RNORM(n, D);
    NM("%s.norm2", p); RNORM(n, D);
    return 0;
}

/* Decoder layer i and its box head copies (the loader reads only bbox_embed.0, the one the release
 * shares; the others keep the key layout). */
static int random_dec_layer(ws_at_gen gen, ws_at_ckpt ck, const ws_gdino_arch *a, int i)
{
    char n[320], p[256];
    int rc;
    const int64_t F = a->ffn, D = 256;
    snprintf(p, sizeof p, "module.transformer.decoder.layers.%d", i);
    NM("%s.cross_attn", p); if ((rc = rmsda(gen, ck, n))) return rc;
    NM("%s.ca_text", p); if ((rc = rmha(gen, ck, n, D))) return rc;
    NM("%s.self_attn", p); if ((rc = rmha(gen, ck, n, D))) return rc;
    static const char *const nn[] = {"norm1", "norm2", "norm3", "catext_norm"};
    for (int k = 0; k < 4; k++) { NM("%s.%s", p, nn[k]); RNORM(n, D); }
    NM("%s.linear1", p); RLIN(n, F, D);
    NM("%s.linear2", p); RLIN(n, D, F);
    NM("module.bbox_embed.%d", i); if ((rc = rmlp3(gen, ck, n, D))) return rc;
    NM("module.transformer.decoder.bbox_embed.%d", i); return rmlp3(gen, ck, n, D);
}

/* A whole random release in ck. The draw order (BERT, feat_map, Swin, input projections, encoder,
 * decoder, heads) fixes the weights a seed gives: keep it when adding tensors. */
static int random_gdino(ws_at_gen gen, ws_at_ckpt ck, const ws_gdino_arch *a, const ws_gdino *m)
{
    char n[320];
    int rc;
    const int64_t D = 256;
    if ((rc = ws_bert_random(&m->bert, gen, ck, "module.bert", a->vocab))) return rc;
    RLIN("module.feat_map", D, m->bert.hidden);
    if ((rc = ws_swin_random(gen, ck, "module.backbone.0", a->swin_dim, a->depths, a->heads, a->window))) return rc;
    for (int l = 0; l < 4; l++) {
        const int64_t Cin = (int64_t)a->swin_dim << (l < 3 ? l + 1 : 3), k = l < 3 ? 1 : 3;
        NM("module.input_proj.%d.0.weight", l); T1(NAN, D, Cin, k, k);
        NM("module.input_proj.%d.0.bias", l); T1(NAN, D);
        NM("module.input_proj.%d.1", l); RNORM(n, D);
    }
    NM("module.transformer.level_embed"); T1(NAN, 4, D);
    for (int i = 0; i < a->enc_layers; i++)
        if ((rc = random_enc_layer(gen, ck, a, i))) return rc;
    for (int i = 0; i < a->dec_layers; i++)
        if ((rc = random_dec_layer(gen, ck, a, i))) return rc;
    RNORM("module.transformer.decoder.norm", D);
    NM("module.transformer.tgt_embed.weight"); T1(NAN, a->queries, D);
    NM("module.label_enc.weight"); T1(NAN, a->label_book + 1, D);   /* unused at inference, present in releases */
    RLIN("module.transformer.enc_output", D, D);
    RNORM("module.transformer.enc_output_norm", D);
    if ((rc = rmlp3(gen, ck, "module.transformer.enc_out_bbox_embed", D))) return rc;
    /* ref_point_head: 2 layers 512 -> 256 -> 256 */
    RLIN("module.transformer.decoder.ref_point_head.layers.0", D, 2 * D);
    return ws_weight_random_linear(gen, ck, "module.transformer.decoder.ref_point_head.layers.1", D, D);
}
#undef NM
#undef T1
#undef RLIN
#undef RNORM

int ws_gdino_init_random(ws_gdino *m, const ws_gdino_arch *a, uint64_t seed)
{
    ws_at_gen gen = NULL;
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    int rc = ws_bert_config(&m->bert, NULL);   /* bert-base-uncased */
    if (!rc && (ws_at_gen_new(seed, &gen) || ws_at_ckpt_new("random Grounding-DINO", &ck)))
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) rc = random_gdino(gen, ck, a, m);
    ws_at_gen_free(gen);
    if (rc) { ws_at_ckpt_close(ck); return rc; }
    return from_ckpt(m, ck, "random Grounding-DINO");
}

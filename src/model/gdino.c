/* gdino.c - Grounding-DINO: BERT text encoder and feat_map so far (see gdino.h). */
#define _POSIX_C_SOURCE 200809L
#include "model/gdino.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/resize.h"
#include "model/weights.h"
#include "model/wordpiece.h"

static const char *KIND = "a Grounding-DINO (groundingdino_swin*_*.pth)";

/* "key": number in a config.json (no JSON library needed for these flat numbers). */
static int json_number(const char *text, const char *key, double *v)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    if (!p || !(p = strchr(p + strlen(pat), ':'))) return 0;
    *v = strtod(p + 1, NULL);
    return 1;
}

static int read_config(ws_gdino *m, const char *path)
{
    m->bert_hidden = 768; m->bert_layers = 12; m->bert_heads = 12; m->bert_intermediate = 3072; m->bert_eps = 1e-12;
    if (!path) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open BERT config %s", path);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    double v;
    if (json_number(buf, "hidden_size", &v)) m->bert_hidden = (int)v;
    if (json_number(buf, "num_hidden_layers", &v)) m->bert_layers = (int)v;
    if (json_number(buf, "num_attention_heads", &v)) m->bert_heads = (int)v;
    if (json_number(buf, "intermediate_size", &v)) m->bert_intermediate = (int)v;
    if (json_number(buf, "layer_norm_eps", &v)) m->bert_eps = v;
    if (m->bert_heads < 1 || m->bert_hidden % m->bert_heads)
        return ws_fail(WS_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path, m->bert_hidden,
                       m->bert_heads);
    return 0;
}

#define W(field, name, nd, ...) do { \
        const int64_t sh_[] = {__VA_ARGS__}; \
        if ((rc = ws_weight(ck, name, nd, sh_, KIND, &(field)))) goto done; } while (0)

/* The relative position bias of a block: table (169, heads)[index (49, 49)] -> (heads, 49, 49). */
static int rel_bias(ws_at_ckpt ck, const char *pre, ws_swin_block *b, int ws)
{
    char n[256];
    ws_at_tensor table = NULL, index = NULL;
    int64_t sh[2];
    int nd = 0, rc;
    snprintf(n, sizeof n, "%s.attn.relative_position_bias_table", pre);
    if ((rc = ws_weight(ck, n, 2, (int64_t[2]){(2 * ws - 1) * (2 * ws - 1), -1}, KIND, &table))) return rc;
    snprintf(n, sizeof n, "%s.attn.relative_position_index", pre);
    ws_at_tensor raw = NULL;
    if (ws_at_ckpt_get(ck, n, &raw) || ws_at_to_dtype(raw, WS_AT_I64, &index) || ws_at_shape(table, sh, 2, &nd)) {
        ws_at_free(raw); ws_at_free(table); ws_at_free(index);
        return ws_fail(WS_EFORMAT, "%s: %s (is it %s checkpoint?)", n, ws_at_last_error(), KIND);
    }
    b->heads = (int)sh[1];
    ws_scope g;
    ws_scope_init(&g);
    const int64_t N = (int64_t)ws * ws, flat[1] = {N * N}, s3[3] = {N, N, sh[1]}, perm[3] = {2, 0, 1};
    ws_at_tensor t = ws_g_permute(&g, ws_g_reshape(&g, ws_g_index_select(&g, table, 0, ws_g_reshape(&g, index, 1, flat)), 3, s3), 3, perm);
    b->bias = ws_scope_keep(&g, ws_g_contiguous(&g, t));
    rc = g.err;
    ws_scope_free(&g);
    ws_at_free(raw); ws_at_free(table); ws_at_free(index);
    return rc;
}

/* Any-shape fp32 weight (the sizes are checked where they meet). */
static int wany(ws_at_ckpt ck, const char *name, ws_at_tensor *out)
{
    return ws_weight(ck, name, -1, NULL, KIND, out);
}

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

static int load_swin(ws_gdino *m, ws_at_ckpt ck)
{
    char n[256], pre[160];
    int64_t sh[4];
    int nd = 0, rc;
    if ((rc = ws_weight_shape(ck, "module.backbone.0.patch_embed.proj.weight", sh, &nd, KIND))) return rc;
    m->swin_dim = (int)sh[0];
    /* window size from the first relative position bias table: (2w - 1)^2 rows (Swin-T 7, Swin-B 12) */
    if ((rc = ws_weight_shape(ck, "module.backbone.0.layers.0.blocks.0.attn.relative_position_bias_table", sh, &nd, KIND)))
        return rc;
    m->window = (int)lround((sqrt((double)sh[0]) + 1) / 2);
    if ((2 * m->window - 1) * (2 * m->window - 1) != sh[0] || m->window < 2)
        return ws_fail(WS_EFORMAT, "relative_position_bias_table has %lld rows, not (2w - 1)^2 (is it %s checkpoint?)",
                       (long long)sh[0], KIND);
#define W2(field, name, ...) do { const int64_t s_[] = {__VA_ARGS__}; \
        if ((rc = ws_weight(ck, name, (int)(sizeof s_ / sizeof s_[0]), s_, KIND, &(field)))) return rc; } while (0)
    const int64_t C0 = m->swin_dim;
    W2(m->pe_w, "module.backbone.0.patch_embed.proj.weight", C0, 3, 4, 4);
    W2(m->pe_b, "module.backbone.0.patch_embed.proj.bias", C0);
    W2(m->pe_n_w, "module.backbone.0.patch_embed.norm.weight", C0);
    W2(m->pe_n_b, "module.backbone.0.patch_embed.norm.bias", C0);
    for (int s = 0; s < 4; s++) {
        ws_swin_stage *st = &m->stages[s];
        const int64_t C = C0 << s;
        snprintf(pre, sizeof pre, "module.backbone.0.layers.%d.blocks.", s);
        st->dim = (int)C;
        st->depth = ws_weight_count(ck, pre);
        if (st->depth < 1) return ws_fail(WS_EFORMAT, "no Swin blocks under %s (is it %s checkpoint?)", pre, KIND);
        if (!(st->blocks = calloc((size_t)st->depth, sizeof *st->blocks))) return ws_fail(WS_ENOMEM, "out of memory");
        for (int b = 0; b < st->depth; b++) {
            ws_swin_block *k = &st->blocks[b];
            snprintf(pre, sizeof pre, "module.backbone.0.layers.%d.blocks.%d", s, b);
#define BW(f, suf, ...) snprintf(n, sizeof n, "%s.%s", pre, suf); W2(k->f, n, __VA_ARGS__)
            BW(n1_w, "norm1.weight", C); BW(n1_b, "norm1.bias", C);
            BW(qkv_w, "attn.qkv.weight", 3 * C, C); BW(qkv_b, "attn.qkv.bias", 3 * C);
            BW(proj_w, "attn.proj.weight", C, C); BW(proj_b, "attn.proj.bias", C);
            BW(n2_w, "norm2.weight", C); BW(n2_b, "norm2.bias", C);
            BW(fc1_w, "mlp.fc1.weight", 4 * C, C); BW(fc1_b, "mlp.fc1.bias", 4 * C);
            BW(fc2_w, "mlp.fc2.weight", C, 4 * C); BW(fc2_b, "mlp.fc2.bias", C);
#undef BW
            if ((rc = rel_bias(ck, pre, k, m->window))) return rc;
        }
        if (s < 3) {
            snprintf(n, sizeof n, "module.backbone.0.layers.%d.downsample.reduction.weight", s); W2(st->down_w, n, 2 * C, 4 * C);
            snprintf(n, sizeof n, "module.backbone.0.layers.%d.downsample.norm.weight", s); W2(st->down_n_w, n, 4 * C);
            snprintf(n, sizeof n, "module.backbone.0.layers.%d.downsample.norm.bias", s); W2(st->down_n_b, n, 4 * C);
        }
        if (s >= 1) {
            snprintf(n, sizeof n, "module.backbone.0.norm%d.weight", s); W2(st->out_n_w, n, C);
            snprintf(n, sizeof n, "module.backbone.0.norm%d.bias", s); W2(st->out_n_b, n, C);
        }
    }
    for (int l = 0; l < 4; l++) {
        const int64_t Cin = C0 << (l < 3 ? l + 1 : 3), k = l < 3 ? 1 : 3;
        snprintf(n, sizeof n, "module.input_proj.%d.0.weight", l); W2(m->ip_w[l], n, 256, Cin, k, k);
        snprintf(n, sizeof n, "module.input_proj.%d.0.bias", l); W2(m->ip_b[l], n, 256);
        snprintf(n, sizeof n, "module.input_proj.%d.1.weight", l); W2(m->gn_w[l], n, 256);
        snprintf(n, sizeof n, "module.input_proj.%d.1.bias", l); W2(m->gn_b[l], n, 256);
    }
    W2(m->level_embed, "module.transformer.level_embed", 4, 256);
#undef W2
    return (rc = load_encoder(m, ck)) ? rc : load_decoder(m, ck);
}

static int from_ckpt(ws_gdino *m, ws_at_ckpt ck, const char *path);

int ws_gdino_load(ws_gdino *m, const char *path, const char *bert_config)
{
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    int rc = read_config(m, bert_config);
    if (rc) return rc;
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    return from_ckpt(m, ck, path);
}

/* Reads every tensor of ck (closed here); m holds the BERT sizes already. */
static int from_ckpt(ws_gdino *m, ws_at_ckpt ck, const char *path)
{
    char n[256];
    int rc = 0;
    const int64_t H = m->bert_hidden, I = m->bert_intermediate;
    int nl = ws_weight_count(ck, "module.bert.encoder.layer.");
    if (nl != m->bert_layers) {
        rc = ws_fail(WS_EFORMAT, "%s has %d BERT layers, the BERT config says %d (pass --bert-config?)", path, nl, m->bert_layers);
        goto done;
    }
    W(m->word, "module.bert.embeddings.word_embeddings.weight", 2, -1, H);
    W(m->pos, "module.bert.embeddings.position_embeddings.weight", 2, -1, H);
    W(m->type, "module.bert.embeddings.token_type_embeddings.weight", 2, -1, H);
    W(m->emb_ln_w, "module.bert.embeddings.LayerNorm.weight", 1, H);
    W(m->emb_ln_b, "module.bert.embeddings.LayerNorm.bias", 1, H);
    if (!(m->layers = calloc((size_t)nl, sizeof *m->layers))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    for (int i = 0; i < nl; i++) {
        ws_bert_layer *l = &m->layers[i];
        const char *p = "module.bert.encoder.layer";
#define LW(f, s, nd, ...) snprintf(n, sizeof n, "%s.%d.%s", p, i, s); W(l->f, n, nd, __VA_ARGS__)
        LW(q_w, "attention.self.query.weight", 2, H, H); LW(q_b, "attention.self.query.bias", 1, H);
        LW(k_w, "attention.self.key.weight", 2, H, H); LW(k_b, "attention.self.key.bias", 1, H);
        LW(v_w, "attention.self.value.weight", 2, H, H); LW(v_b, "attention.self.value.bias", 1, H);
        LW(o_w, "attention.output.dense.weight", 2, H, H); LW(o_b, "attention.output.dense.bias", 1, H);
        LW(ln1_w, "attention.output.LayerNorm.weight", 1, H); LW(ln1_b, "attention.output.LayerNorm.bias", 1, H);
        LW(i_w, "intermediate.dense.weight", 2, I, H); LW(i_b, "intermediate.dense.bias", 1, I);
        LW(out_w, "output.dense.weight", 2, H, I); LW(out_b, "output.dense.bias", 1, H);
        LW(ln2_w, "output.LayerNorm.weight", 1, H); LW(ln2_b, "output.LayerNorm.bias", 1, H);
#undef LW
    }
    W(m->feat_map_w, "module.feat_map.weight", 2, 256, H);
    W(m->feat_map_b, "module.feat_map.bias", 1, 256);
    if ((rc = load_swin(m, ck))) goto done;
done:
    ws_at_ckpt_close(ck);
    if (rc) ws_gdino_free(m);
    return rc;
}
#undef W

void ws_gdino_free(ws_gdino *m)
{
    if (!m) return;
    ws_at_tensor *all[] = {&m->word, &m->pos, &m->type, &m->emb_ln_w, &m->emb_ln_b, &m->feat_map_w, &m->feat_map_b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ws_at_free(*all[i]);
    for (int i = 0; m->layers && i < m->bert_layers; i++) {
        ws_bert_layer *l = &m->layers[i];
        ws_at_tensor t[] = {l->q_w, l->q_b, l->k_w, l->k_b, l->v_w, l->v_b, l->o_w, l->o_b, l->ln1_w, l->ln1_b,
                            l->i_w, l->i_b, l->out_w, l->out_b, l->ln2_w, l->ln2_b};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) ws_at_free(t[k]);
    }
    free(m->layers);
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

void ws_gdino_text_out_free(ws_gdino_text_out *o)
{
    if (!o) return;
    free(o->layers);
    o->layers = NULL;
}

int ws_gdino_text(const ws_gdino *m, ws_scope *g, ws_at_tensor ids, ws_at_tensor pos, ws_at_tensor mask,
                  ws_gdino_text_out *out)
{
    int64_t s[2];
    int nd = 0;
    memset(out, 0, sizeof *out);
    if (ws_at_shape(ids, s, 2, &nd) || nd != 2 || s[0] != 1) return ws_fail(WS_ESHAPE, "BERT input ids must be (1, L)");
    const int64_t L = s[1], H = m->bert_hidden, heads = m->bert_heads, hd = H / heads;
    if (!(out->layers = calloc((size_t)m->bert_layers, sizeof *out->layers))) return ws_fail(WS_ENOMEM, "out of memory");
    const int64_t flat[1] = {L}, e3[3] = {1, L, H}, m4[4] = {1, 1, L, L};
    /* (1 - m) * finfo(float32).min: -0.0 where allowed */
    ws_at_tensor mf = ws_g_to_dtype(g, mask, WS_AT_F32);
    out->ext_mask = ws_g_reshape(g, ws_g_mul_scalar(g, ws_g_scalar_op(g, WS_AT_SUB, ws_g_mul_scalar(g, mf, -1.0), -1.0), -FLT_MAX),
                                 4, m4);
    ws_at_tensor tt = ws_g_full(g, 0, WS_AT_I64, 1, flat);
    ws_at_tensor x = ws_g_add(g, ws_g_add(g, ws_g_index_select(g, m->word, 0, ws_g_reshape(g, ws_g_to_dtype(g, ids, WS_AT_I64), 1, flat)),
                                          ws_g_index_select(g, m->pos, 0, ws_g_reshape(g, pos, 1, flat))),
                              ws_g_index_select(g, m->type, 0, tt));
    x = ws_g_reshape(g, ws_g_layer_norm(g, x, m->emb_ln_w, m->emb_ln_b, m->bert_eps), 3, e3);
    out->embeddings = x;
    const int64_t split[4] = {1, L, heads, hd}, perm[4] = {0, 2, 1, 3};
    for (int i = 0; i < m->bert_layers; i++) {
        const ws_bert_layer *l = &m->layers[i];
        ws_at_tensor q = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->q_w, l->q_b), 4, split), 4, perm);
        ws_at_tensor k = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->k_w, l->k_b), 4, split), 4, perm);
        ws_at_tensor v = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->v_w, l->v_b), 4, split), 4, perm);
        ws_at_tensor sc = ws_g_mul_scalar(g, ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1)), 1.0 / sqrt((double)hd));
        ws_at_tensor a = ws_g_softmax(g, ws_g_add(g, sc, out->ext_mask), -1);
        ws_at_tensor ctx = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, a, v), 4, perm), 3, e3);
        ws_at_tensor h = ws_g_layer_norm(g, ws_g_add(g, x, ws_g_linear(g, ctx, l->o_w, l->o_b)), l->ln1_w, l->ln1_b, m->bert_eps);
        ws_at_tensor f = ws_g_linear(g, ws_g_unary(g, WS_AT_GELU_ERF, ws_g_linear(g, h, l->i_w, l->i_b)), l->out_w, l->out_b);
        x = ws_g_layer_norm(g, ws_g_add(g, h, f), l->ln2_w, l->ln2_b, m->bert_eps);
        out->layers[i] = x;
    }
    out->encoded = ws_g_linear(g, x, m->feat_map_w, m->feat_map_b);
    return g->err;
}

/* ---- Swin backbone ------------------------------------------------------------------------------- */

void ws_gdino_resize_shape(int h, int w, int size, int max_size, int *oh, int *ow)
{
    double mn = h < w ? h : w, mx = h < w ? w : h;
    int s = size;
    if (max_size > 0 && mx / mn * size > max_size) s = (int)nearbyint(max_size * mn / mx);
    if ((w <= h && w == s) || (h <= w && h == s)) { *oh = h; *ow = w; return; }
    if (w < h) { *ow = s; *oh = (int)((double)s * h / w); }
    else { *oh = s; *ow = (int)((double)s * w / h); }
}

static ws_at_tensor slice_step(ws_scope *g, ws_at_tensor x, int dim, int64_t start, int64_t end, int64_t step)
{
    ws_at_tensor out = NULL;
    if (g->err) return NULL;
    int rc = ws_at_slice(x, dim, start, end, step, &out);   /* before reading out */
    return ws_scope_track(g, rc, out, "slice");
}

/* torch.roll of (1, H, W, C) by (sh, sw) along dims 1, 2. */
static ws_at_tensor roll2(ws_scope *g, ws_at_tensor x, int64_t H, int64_t W, int64_t sh, int64_t sw)
{
    int64_t a = ((sh % H) + H) % H, b = ((sw % W) + W) % W;
    if (a) { ws_at_tensor p[2] = {ws_g_slice(g, x, 1, H - a, H), ws_g_slice(g, x, 1, 0, H - a)}; x = ws_g_cat(g, p, 2, 1); }
    if (b) { ws_at_tensor p[2] = {ws_g_slice(g, x, 2, W - b, W), ws_g_slice(g, x, 2, 0, W - b)}; x = ws_g_cat(g, p, 2, 2); }
    return x;
}

/* The shifted-window mask (nW, N, N): 0 within a region, -100 across (regions [0,-ws), [-ws,-s), [-s,end)). */
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

/* One Swin block on x (1, H*W, C). */
static ws_at_tensor swin_block(ws_scope *g, const ws_swin_block *b, ws_at_tensor x, int64_t H, int64_t W, int64_t C,
                               int ws, int shift)
{
    const int64_t Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws, N = (int64_t)ws * ws;
    const int64_t nWh = Hp / ws, nWw = Wp / ws, nW = nWh * nWw, heads = b->heads, hd = C / heads;
    const int64_t s4[4] = {1, H, W, C};
    ws_at_tensor h = ws_g_reshape(g, ws_g_layer_norm(g, x, b->n1_w, b->n1_b, 1e-5), 4, s4);
    if (Hp != H || Wp != W) {   /* zero-pad right/bottom after the norm */
        const int64_t perm[4] = {0, 3, 1, 2}, back[4] = {0, 2, 3, 1};
        h = ws_g_permute(g, ws_g_pad2d(g, ws_g_permute(g, h, 4, perm), Hp, Wp), 4, back);
    }
    if (shift) h = roll2(g, h, Hp, Wp, -shift, -shift);
    const int64_t w6[6] = {1, nWh, ws, nWw, ws, C}, p6[6] = {0, 1, 3, 2, 4, 5}, wn[3] = {nW, N, C};
    ws_at_tensor win = ws_g_reshape(g, ws_g_permute(g, ws_g_reshape(g, h, 6, w6), 6, p6), 3, wn);   /* (nW, N, C) */
    const int64_t q5[5] = {nW, N, 3, heads, hd}, qp[5] = {2, 0, 3, 1, 4};
    ws_at_tensor qkv = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, win, b->qkv_w, b->qkv_b), 5, q5), 5, qp);
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

/* (1, H*W, C) -> NCHW (1, C, H, W). */
static ws_at_tensor to_nchw(ws_scope *g, ws_at_tensor x, int64_t H, int64_t W, int64_t C)
{
    const int64_t s4[4] = {1, H, W, C}, p[4] = {0, 3, 1, 2};
    return ws_g_contiguous(g, ws_g_permute(g, ws_g_reshape(g, x, 4, s4), 4, p));
}

/* GroupNorm(32) with affine, eps 1e-5, of (1, C, h, w). */
static ws_at_tensor group_norm(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, int64_t C, int64_t h, int64_t wd)
{
    const int64_t gs[3] = {1, 32, (C / 32) * h * wd}, s4[4] = {1, C, h, wd}, c4[4] = {1, C, 1, 1};
    ws_at_tensor n = ws_g_reshape(g, ws_g_layer_norm(g, ws_g_reshape(g, x, 3, gs), NULL, NULL, 1e-5), 4, s4);
    return ws_g_add(g, ws_g_mul(g, n, ws_g_reshape(g, w, 4, c4)), ws_g_reshape(g, b, 4, c4));
}

int ws_gdino_image(const ws_gdino *m, ws_scope *g, ws_at_tensor img, ws_gdino_image_out *out)
{
    int64_t s[4];
    int nd = 0;
    memset(out, 0, sizeof *out);
    if (ws_at_shape(img, s, 4, &nd) || nd != 4 || s[0] != 1 || s[1] != 3) return ws_fail(WS_ESHAPE, "image must be (1, 3, H, W)");
    int64_t H = s[2], W = s[3];
    ws_at_tensor x = img;
    if (H % 4 || W % 4) x = ws_g_pad2d(g, x, (H + 3) / 4 * 4, (W + 3) / 4 * 4);
    x = ws_g_conv2d(g, x, m->pe_w, m->pe_b, 4, 0);
    H = (H + 3) / 4;
    W = (W + 3) / 4;
    int64_t C = m->swin_dim;
    const int64_t f3[3] = {1, C, H * W};
    x = ws_g_layer_norm(g, ws_g_transpose(g, ws_g_reshape(g, x, 3, f3), 1, 2), m->pe_n_w, m->pe_n_b, 1e-5);   /* (1, HW, C) */
    out->patch_embed = to_nchw(g, x, H, W, C);
    for (int st = 0; st < 4; st++) {
        const ws_swin_stage *S = &m->stages[st];
        for (int b = 0; b < S->depth; b++) {   /* an inner scope per block: only its output stays */
            ws_scope in;
            ws_scope_init(&in);
            ws_at_tensor y = swin_block(&in, &S->blocks[b], x, H, W, C, m->window, b % 2 ? m->window / 2 : 0);
            x = ws_scope_move(&in, g, y);
            ws_scope_end(&in, g);
        }
        out->stage[st] = to_nchw(g, x, H, W, C);
        if (st >= 1) out->out[st - 1] = to_nchw(g, ws_g_layer_norm(g, x, S->out_n_w, S->out_n_b, 1e-5), H, W, C);
        if (st < 3) {   /* PatchMerging */
            const int64_t s4[4] = {1, H, W, C};
            ws_at_tensor v = ws_g_reshape(g, x, 4, s4);
            int64_t H2 = (H + 1) / 2 * 2, W2 = (W + 1) / 2 * 2;
            if (H2 != H || W2 != W) {
                const int64_t perm[4] = {0, 3, 1, 2}, back[4] = {0, 2, 3, 1};
                v = ws_g_permute(g, ws_g_pad2d(g, ws_g_permute(g, v, 4, perm), H2, W2), 4, back);
            }
            ws_at_tensor q[4] = {slice_step(g, slice_step(g, v, 1, 0, H2, 2), 2, 0, W2, 2),
                                 slice_step(g, slice_step(g, v, 1, 1, H2, 2), 2, 0, W2, 2),
                                 slice_step(g, slice_step(g, v, 1, 0, H2, 2), 2, 1, W2, 2),
                                 slice_step(g, slice_step(g, v, 1, 1, H2, 2), 2, 1, W2, 2)};
            H = H2 / 2;
            W = W2 / 2;
            const int64_t m3[3] = {1, H * W, 4 * C};
            v = ws_g_reshape(g, ws_g_contiguous(g, ws_g_cat(g, q, 4, 3)), 3, m3);
            x = ws_g_linear(g, ws_g_layer_norm(g, v, S->down_n_w, S->down_n_b, 1e-5), S->down_w, NULL);
            C *= 2;
        }
    }
    /* input projections */
    for (int l = 0; l < 4; l++) {
        ws_at_tensor src = l < 3 ? out->out[l] : out->out[2];
        int64_t ss[4];
        if (g->err || ws_at_shape(src, ss, 4, &nd)) break;
        ws_at_tensor c = l < 3 ? ws_g_conv2d(g, src, m->ip_w[l], m->ip_b[l], 1, 0) : ws_g_conv2d(g, src, m->ip_w[l], m->ip_b[l], 2, 1);
        int64_t cs[4];
        if (g->err || ws_at_shape(c, cs, 4, &nd)) break;
        out->srcs[l] = group_norm(g, c, m->gn_w[l], m->gn_b[l], 256, cs[2], cs[3]);
    }
    return g->err;
}

/* ---- positions and the multi-scale layout ------------------------------------------------------- */

/* PositionEmbeddingSineHW (128 features per axis, temperature 20, normalised) of an h x w map. */
static ws_at_tensor image_pos(ws_scope *g, int64_t h, int64_t w)
{
    float *p = malloc((size_t)(256 * h * w) * sizeof *p);
    if (!p) { ws_scope_poison(g, ws_fail(WS_ENOMEM, "out of memory")); return NULL; }
    const double two_pi = 6.283185307179586;
    for (int k = 0; k < 128; k++) {
        float d = powf(20.0f, (float)(2 * (k / 2)) / 128.0f);
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                float ye = (float)(y + 1) / ((float)h + 1e-6f) * (float)two_pi, xe = (float)(x + 1) / ((float)w + 1e-6f) * (float)two_pi;
                float vy = ye / d, vx = xe / d;
                p[((size_t)k * h + y) * w + x] = k % 2 ? cosf(vy) : sinf(vy);
                p[((size_t)(128 + k) * h + y) * w + x] = k % 2 ? cosf(vx) : sinf(vx);
            }
    }
    const int64_t s4[4] = {1, 256, h, w};
    ws_at_tensor t = ws_g_from_data(g, p, WS_AT_F32, 4, s4);
    free(p);
    return t;
}

ws_at_tensor ws_gdino_text_pos(ws_scope *g, const int64_t *pos, int L)
{
    float *p = malloc((size_t)L * 256 * sizeof *p);
    if (!p) { ws_scope_poison(g, ws_fail(WS_ENOMEM, "out of memory")); return NULL; }
    for (int i = 0; i < L; i++)
        for (int k = 0; k < 256; k++) {
            float d = powf(10000.0f, (float)(2 * (k / 2)) / 256.0f), v = (float)pos[i] * 6.2831855f / d;
            p[(size_t)i * 256 + k] = k % 2 ? cosf(v) : sinf(v);
        }
    const int64_t s3[3] = {1, L, 256};
    ws_at_tensor t = ws_g_from_data(g, p, WS_AT_F32, 3, s3);
    free(p);
    return t;
}

void ws_gdino_proposals(const int64_t (*shapes)[2], int levels, const uint8_t *padding, float *prop, uint8_t *valid)
{
    for (int l = 0, i = 0; l < levels; l++) {
        const int64_t h = shapes[l][0], w = shapes[l][1];
        const float wh = 0.05f * (float)(1 << l);
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++, i++) {
                float p[4] = {((float)x + 0.5f) / (float)w, ((float)y + 0.5f) / (float)h, wh, wh};
                int ok = !(padding && padding[i]);
                for (int k = 0; k < 4; k++) ok &= p[k] > 0.01f && p[k] < 0.99f;
                valid[i] = (uint8_t)ok;
                for (int k = 0; k < 4; k++) prop[(size_t)i * 4 + k] = ok ? logf(p[k] / (1.0f - p[k])) : INFINITY;
            }
    }
}

int ws_gdino_levels_of(const ws_gdino *m, ws_scope *g, const ws_gdino_image_out *img, ws_gdino_levels *out)
{
    memset(out, 0, sizeof *out);
    int64_t N = 0, s4[4];
    int nd = 0;
    ws_at_tensor flat[4];
    for (int l = 0; l < 4; l++) {
        if (g->err || ws_at_shape(img->srcs[l], s4, 4, &nd)) return g->err ? g->err : ws_fail(WS_ESHAPE, "srcs");
        const int64_t h = s4[2], w = s4[3], ms[3] = {1, h, w}, f3[3] = {1, 256, h * w}, e3[3] = {1, 1, 256};
        out->shapes[l][0] = h;
        out->shapes[l][1] = w;
        out->start[l] = N;
        N += h * w;
        out->masks[l] = ws_g_full(g, 0, WS_AT_U8, 3, ms);
        out->pos[l] = image_pos(g, h, w);
        ws_at_tensor pf = ws_g_transpose(g, ws_g_reshape(g, out->pos[l], 3, f3), 1, 2);   /* (1, hw, 256) */
        flat[l] = ws_g_add(g, pf, ws_g_reshape(g, ws_g_slice(g, m->level_embed, 0, l, l + 1), 3, e3));
    }
    out->n_tokens = (int)N;
    out->lvl_pos = ws_g_cat(g, flat, 4, 1);
    const int64_t vr[3] = {1, 4, 2};
    out->valid_ratios = ws_g_full(g, 1.0, WS_AT_F32, 3, vr);
    float *ref = malloc((size_t)N * 8 * sizeof *ref), *prop = malloc((size_t)N * 4 * sizeof *prop);
    uint8_t *valid = malloc((size_t)N);
    if (!ref || !prop || !valid) { free(ref); free(prop); free(valid); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (int l = 0; l < 4; l++) {
        const int64_t h = out->shapes[l][0], w = out->shapes[l][1];
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                int64_t i = out->start[l] + y * w + x;
                float rx = ((float)x + 0.5f) / (float)w, ry = ((float)y + 0.5f) / (float)h;
                for (int k = 0; k < 4; k++) { ref[(i * 4 + k) * 2] = rx; ref[(i * 4 + k) * 2 + 1] = ry; }
            }
    }
    ws_gdino_proposals(out->shapes, 4, NULL, prop, valid);
    const int64_t r4[4] = {1, N, 4, 2}, p3[3] = {1, N, 4}, v2[2] = {1, N};
    out->ref_points = ws_g_from_data(g, ref, WS_AT_F32, 4, r4);
    out->proposals = ws_g_from_data(g, prop, WS_AT_F32, 3, p3);
    out->proposal_valid = ws_g_from_data(g, valid, WS_AT_U8, 2, v2);
    free(ref); free(prop); free(valid);
    return g->err;
}

/* ---- the encoder ---------------------------------------------------------------------------------- */

/* MSDeformAttn of query (1, Nq, 256) over value (1, N, 256); ref (1, Nq, 4, 2) or (1, Nq, 4, 4). */
static ws_at_tensor msda(ws_scope *g, const ws_msda *a, ws_at_tensor query, ws_at_tensor ref, int ref_dim,
                         ws_at_tensor value, const ws_gdino_levels *lv, int64_t Nq)
{
    const int64_t H = 8, L = 4, P = 4, D = 32, N = lv->n_tokens;
    const int64_t v4[4] = {1, N, H, D}, o6[6] = {1, Nq, H, L, P, 2}, a4[4] = {1, Nq, H, L * P}, a5[5] = {1, Nq, H, L, P};
    ws_at_tensor val = ws_g_reshape(g, ws_g_linear(g, value, a->val_w, a->val_b), 4, v4);
    ws_at_tensor off = ws_g_reshape(g, ws_g_linear(g, query, a->off_w, a->off_b), 6, o6);
    ws_at_tensor aw = ws_g_reshape(g, ws_g_softmax(g, ws_g_reshape(g, ws_g_linear(g, query, a->aw_w, a->aw_b), 4, a4), -1), 5, a5);
    ws_at_tensor loc;
    if (ref_dim == 2) {
        float norm[8];
        for (int l = 0; l < 4; l++) { norm[2 * l] = (float)lv->shapes[l][1]; norm[2 * l + 1] = (float)lv->shapes[l][0]; }
        const int64_t n6[6] = {1, 1, 1, 4, 1, 2}, r6[6] = {1, Nq, 1, 4, 1, 2};
        loc = ws_g_add(g, ws_g_reshape(g, ref, 6, r6), ws_g_div(g, off, ws_g_from_data(g, norm, WS_AT_F32, 6, n6)));
    } else {
        const int64_t r6[6] = {1, Nq, 1, 4, 1, 4};
        ws_at_tensor r = ws_g_reshape(g, ref, 6, r6);
        ws_at_tensor xy = ws_g_slice(g, r, 5, 0, 2), wh = ws_g_slice(g, r, 5, 2, 4);
        loc = ws_g_add(g, xy, ws_g_mul_scalar(g, ws_g_mul(g, ws_g_mul_scalar(g, off, 1.0 / (double)P), wh), 0.5));
    }
    ws_at_tensor grids = ws_g_scalar_op(g, WS_AT_SUB, ws_g_mul_scalar(g, loc, 2.0), 1.0);   /* (1, Nq, H, L, P, 2) */
    ws_at_tensor samp[4];
    for (int l = 0; l < 4; l++) {
        const int64_t h = lv->shapes[l][0], w = lv->shapes[l][1], st = lv->start[l];
        const int64_t vp[4] = {0, 2, 3, 1}, vs[4] = {H, D, h, w}, gp[5] = {0, 2, 1, 3, 4}, gs[4] = {H, Nq, P, 2};
        /* value_l: (1, hw, H, D) -> (H, D, h, w) */
        ws_at_tensor vl = ws_g_reshape(g, ws_g_contiguous(g, ws_g_permute(g, ws_g_slice(g, val, 1, st, st + h * w), 4, vp)), 4, vs);
        ws_at_tensor gl = ws_g_reshape(g, ws_g_contiguous(g, ws_g_permute(g, ws_g_select(g, grids, 3, l), 5, gp)), 4, gs);
        samp[l] = ws_g_grid_sample(g, vl, gl, 0);   /* (H, D, Nq, P) */
    }
    const int64_t sv[4] = {H, D, Nq, L * P}, ap[4] = {0, 2, 1, 3}, as[4] = {H, 1, Nq, L * P}, o3[3] = {1, H * D, Nq};
    ws_at_tensor sv_all = ws_g_reshape(g, ws_g_cat(g, samp, 4, 3), 4, sv);   /* levels stacked on the point axis */
    ws_at_tensor awp = ws_g_reshape(g, ws_g_contiguous(g, ws_g_permute(g, ws_g_reshape(g, aw, 4, a4), 4, ap)), 4, as);
    ws_at_tensor outp = ws_g_reshape(g, ws_g_reduce(g, WS_AT_RSUM, ws_g_mul(g, sv_all, awp), -1, 0), 3, o3);
    return ws_g_linear(g, ws_g_transpose(g, outp, 1, 2), a->out_w, a->out_b);
}

/* nn.MultiheadAttention with packed in_proj (3E, E); mask (Lq, Lk) additive or NULL. */
static ws_at_tensor mha(ws_scope *g, ws_at_tensor q_in, ws_at_tensor k_in, ws_at_tensor v_in, ws_at_tensor in_w,
                        ws_at_tensor in_b, ws_at_tensor out_w, ws_at_tensor out_b, int heads, ws_at_tensor mask)
{
    int64_t qs[3], ks[3];
    int nd = 0;
    if (g->err || ws_at_shape(q_in, qs, 3, &nd) || ws_at_shape(k_in, ks, 3, &nd)) return NULL;
    const int64_t E = qs[2], hd = E / heads, Lq = qs[1], Lk = ks[1];
    const int64_t sq[4] = {1, Lq, heads, hd}, sk[4] = {1, Lk, heads, hd}, pm[4] = {0, 2, 1, 3}, o3[3] = {1, Lq, E};
    ws_at_tensor q = ws_g_linear(g, q_in, ws_g_slice(g, in_w, 0, 0, E), ws_g_slice(g, in_b, 0, 0, E));
    ws_at_tensor k = ws_g_linear(g, k_in, ws_g_slice(g, in_w, 0, E, 2 * E), ws_g_slice(g, in_b, 0, E, 2 * E));
    ws_at_tensor v = ws_g_linear(g, v_in, ws_g_slice(g, in_w, 0, 2 * E, 3 * E), ws_g_slice(g, in_b, 0, 2 * E, 3 * E));
    q = ws_g_mul_scalar(g, ws_g_permute(g, ws_g_reshape(g, q, 4, sq), 4, pm), 1.0 / sqrt((double)hd));
    k = ws_g_permute(g, ws_g_reshape(g, k, 4, sk), 4, pm);
    v = ws_g_permute(g, ws_g_reshape(g, v, 4, sk), 4, pm);
    ws_at_tensor s = ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1));
    if (mask) s = ws_g_add(g, s, mask);
    ws_at_tensor o = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, ws_g_softmax(g, s, -1), v), 4, pm), 3, o3);
    return ws_g_linear(g, o, out_w, out_b);
}

/* BiAttentionBlock: returns the new v and l. */
static void fusion(ws_scope *g, const ws_gdino_enc_layer *e, ws_at_tensor *v, ws_at_tensor *l)
{
    int64_t vs[3], ls[3];
    int nd = 0;
    if (g->err || ws_at_shape(*v, vs, 3, &nd) || ws_at_shape(*l, ls, 3, &nd)) return;
    ws_at_tensor vn = ws_g_layer_norm(g, *v, e->lnv_w, e->lnv_b, 1e-5), ln = ws_g_layer_norm(g, *l, e->lnl_w, e->lnl_b, 1e-5);
    int64_t es[2];
    ws_at_shape(e->v_w, es, 2, &nd);
    const int64_t heads = 4, E = es[0], hd = E / heads, Nv = vs[1], L = ls[1];
    const int64_t sv[4] = {1, Nv, heads, hd}, sl[4] = {1, L, heads, hd}, pm[4] = {0, 2, 1, 3};
    ws_at_tensor q = ws_g_permute(g, ws_g_reshape(g, ws_g_mul_scalar(g, ws_g_linear(g, vn, e->v_w, e->v_b), 1.0 / sqrt((double)hd)), 4, sv), 4, pm);
    ws_at_tensor k = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, ln, e->l_w, e->l_b), 4, sl), 4, pm);
    ws_at_tensor vv = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, vn, e->vv_w, e->vv_b), 4, sv), 4, pm);
    ws_at_tensor vl = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, ln, e->vl_w, e->vl_b), 4, sl), 4, pm);
    ws_at_tensor A = ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1));   /* (1, heads, Nv, L) */
    A = ws_g_sub(g, A, ws_g_reduce(g, WS_AT_RAMAX, A, WS_AT_ALL, 0));
    ws_at_tensor Av = NULL, At = NULL;
    {
        ws_at_tensor c = NULL;
        if (!g->err) { int rc = ws_at_clamp(A, -50000.0, 50000.0, &c); ws_scope_track(g, rc, c, "clamp"); }
        Av = c;
        At = ws_g_transpose(g, Av, -2, -1);
        At = ws_g_sub(g, At, ws_g_reduce(g, WS_AT_RAMAX, At, -1, 1));
        ws_at_tensor c2 = NULL;
        if (!g->err) { int rc = ws_at_clamp(At, -50000.0, 50000.0, &c2); ws_scope_track(g, rc, c2, "clamp"); }
        At = c2;
    }
    const int64_t ov[3] = {1, Nv, E}, ol[3] = {1, L, E};
    ws_at_tensor dv = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, ws_g_softmax(g, Av, -1), vl), 4, pm), 3, ov);
    ws_at_tensor dl = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, ws_g_softmax(g, At, -1), vv), 4, pm), 3, ol);
    dv = ws_g_linear(g, dv, e->ov_w, e->ov_b);
    dl = ws_g_linear(g, dl, e->ol_w, e->ol_b);
    *v = ws_g_add(g, vn, ws_g_mul(g, e->gamma_v, dv));
    *l = ws_g_add(g, ln, ws_g_mul(g, e->gamma_l, dl));
}

int ws_gdino_encode(const ws_gdino *m, ws_scope *g, const ws_gdino_image_out *img, const ws_gdino_levels *lv,
                    ws_at_tensor text, ws_at_tensor pos_text, ws_at_tensor text_mask, ws_at_tensor *memory,
                    ws_at_tensor *memory_text, ws_gdino_enc_trace *tr)
{
    ws_at_tensor flat[4];
    for (int l = 0; l < 4; l++) {
        const int64_t f3[3] = {1, 256, lv->shapes[l][0] * lv->shapes[l][1]};
        flat[l] = ws_g_transpose(g, ws_g_reshape(g, img->srcs[l], 3, f3), 1, 2);
    }
    ws_at_tensor v = ws_g_contiguous(g, ws_g_cat(g, flat, 4, 1)), l = text;
    /* ~text_self_attention_mask -> -inf where blocked */
    ws_at_tensor inf = ws_g_full(g, -INFINITY, WS_AT_F32, 0, NULL), zero = ws_g_full(g, 0.0, WS_AT_F32, 0, NULL);
    ws_at_tensor tmask = ws_g_where(g, ws_g_scalar_op(g, WS_AT_GT, ws_g_to_dtype(g, text_mask, WS_AT_F32), 0.5), zero, inf);
    for (int i = 0; i < m->enc_layers; i++) {   /* an inner scope per layer: its outputs (and traces) move out */
        const ws_gdino_enc_layer *e = &m->enc[i];
        ws_scope in;
        ws_scope_init(&in);
        ws_scope *o = g;
        g = &in;
        fusion(g, e, &v, &l);
        if (tr && i < 8) { tr->fusion_v[i] = ws_scope_move(g, o, v); tr->fusion_l[i] = ws_scope_move(g, o, l); }
        ws_at_tensor qk = ws_g_add(g, l, pos_text);
        l = ws_g_layer_norm(g, ws_g_add(g, l, mha(g, qk, qk, l, e->t_in_w, e->t_in_b, e->t_out_w, e->t_out_b, 4, tmask)),
                            e->t_n1_w, e->t_n1_b, 1e-5);
        ws_at_tensor f = ws_g_linear(g, ws_g_unary(g, WS_AT_RELU, ws_g_linear(g, l, e->t_l1_w, e->t_l1_b)), e->t_l2_w, e->t_l2_b);
        l = ws_g_layer_norm(g, ws_g_add(g, l, f), e->t_n2_w, e->t_n2_b, 1e-5);
        if (tr && i < 8) tr->text[i] = ws_scope_move(g, o, l);
        ws_at_tensor a = msda(g, &e->da, ws_g_add(g, v, lv->lvl_pos), lv->ref_points, 2, v, lv, lv->n_tokens);
        v = ws_g_layer_norm(g, ws_g_add(g, v, a), e->d_n1_w, e->d_n1_b, 1e-5);
        f = ws_g_linear(g, ws_g_unary(g, WS_AT_RELU, ws_g_linear(g, v, e->d_l1_w, e->d_l1_b)), e->d_l2_w, e->d_l2_b);
        v = ws_g_layer_norm(g, ws_g_add(g, v, f), e->d_n2_w, e->d_n2_b, 1e-5);
        if (tr && i < 8) tr->deform_attn[i] = ws_scope_move(g, o, a);
        v = ws_scope_move(g, o, v);
        if (!(tr && i < 8)) l = ws_scope_move(g, o, l);   /* traced: moved already as tr->text[i] */
        if (tr && i < 8) tr->deform[i] = v;
        ws_scope_end(&in, o);
        g = o;
    }
    *memory = v;
    *memory_text = l;
    return g->err;
}

/* ---- two-stage selection, decoder, heads ---------------------------------------------------------- */

static ws_at_tensor mlp_fwd(ws_scope *g, const ws_mlp3 *mlp, ws_at_tensor x)
{
    for (int i = 0; i < mlp->n; i++) {
        x = ws_g_linear(g, x, mlp->w[i], mlp->b[i]);
        if (i + 1 < mlp->n) x = ws_g_unary(g, WS_AT_RELU, x);
    }
    return x;
}

static ws_at_tensor clampt(ws_scope *g, ws_at_tensor x, double lo, double hi)
{
    ws_at_tensor o = NULL;
    if (g->err) return NULL;
    int rc = ws_at_clamp(x, lo, hi, &o);
    return ws_scope_track(g, rc, o, "clamp");
}

static ws_at_tensor inv_sigmoid(ws_scope *g, ws_at_tensor x)
{
    x = clampt(g, x, 0.0, 1.0);
    ws_at_tensor x1 = clampt(g, x, 1e-3, NAN), x2 = clampt(g, ws_g_scalar_op(g, WS_AT_SUB, ws_g_mul_scalar(g, x, -1.0), -1.0), 1e-3, NAN);
    return ws_g_unary(g, WS_AT_LOG, ws_g_div(g, x1, x2));
}

/* ContrastiveEmbed: x (1, Q, 256) . text (1, L, 256)^T, -inf padded to 256 columns. */
static ws_at_tensor contrastive(ws_scope *g, ws_at_tensor x, ws_at_tensor text)
{
    int64_t xs[3], ts[3];
    int nd = 0;
    if (g->err || ws_at_shape(x, xs, 3, &nd) || ws_at_shape(text, ts, 3, &nd)) return NULL;
    ws_at_tensor r = ws_g_matmul(g, x, ws_g_transpose(g, text, 1, 2));
    if (ts[1] >= 256) return ws_g_slice(g, r, 2, 0, 256);
    const int64_t ps[3] = {1, xs[1], 256 - ts[1]};
    ws_at_tensor parts[2] = {r, ws_g_full(g, -INFINITY, WS_AT_F32, 3, ps)};
    return ws_g_cat(g, parts, 2, 2);
}

/* gen_sineembed_for_position of (1, Q, 4) boxes: 128 features each for y, x, w, h. */
static ws_at_tensor box_sine(ws_scope *g, ws_at_tensor ref)
{
    int64_t s3[3];
    int nd = 0;
    if (g->err || ws_at_shape(ref, s3, 3, &nd)) return NULL;
    const int64_t Q = s3[1];
    float *r = malloc((size_t)Q * 4 * sizeof *r), *o = malloc((size_t)Q * 512 * sizeof *o);
    if (!r || !o || ws_at_read(ref, r, (size_t)Q * 4 * sizeof *r)) {
        free(r); free(o);
        ws_scope_poison(g, ws_fail(WS_ETORCH, "sine embedding: %s", ws_at_last_error()));
        return NULL;
    }
    static const int order[4] = {1, 0, 2, 3};   /* y, x, w, h */
    for (int64_t q = 0; q < Q; q++)
        for (int c = 0; c < 4; c++) {
            float e = r[q * 4 + order[c]] * 6.2831855f;
            for (int k = 0; k < 128; k++) {
                float d = powf(10000.0f, (float)(2 * (k / 2)) / 128.0f), v = e / d;
                o[q * 512 + c * 128 + k] = k % 2 ? cosf(v) : sinf(v);
            }
        }
    const int64_t os[3] = {1, Q, 512};
    ws_at_tensor t = ws_g_from_data(g, o, WS_AT_F32, 3, os);
    free(r);
    free(o);
    return t;
}

int ws_gdino_decode(const ws_gdino *m, ws_scope *g, const ws_gdino_levels *lv, ws_at_tensor memory,
                    ws_at_tensor memory_text, ws_at_tensor *pred_logits, ws_at_tensor *pred_boxes, ws_gdino_dec_trace *tr)
{
    ws_gdino_dec_trace local;
    if (!tr) tr = &local;
    memset(tr, 0, sizeof *tr);
    const int64_t N = lv->n_tokens, Q = m->n_queries;
    /* two-stage: invalid proposals' memory rows -> 0, enc_output + norm */
    ws_at_tensor valid = ws_g_to_dtype(g, ws_g_reshape(g, lv->proposal_valid, 3, (int64_t[3]){1, N, 1}), WS_AT_F32);
    ws_at_tensor om = ws_g_layer_norm(g, ws_g_linear(g, ws_g_mul(g, memory, valid), m->enc_out_w, m->enc_out_b),
                                      m->enc_norm_w, m->enc_norm_b, 1e-5);
    tr->output_memory = om;
    tr->enc_class = contrastive(g, om, memory_text);
    tr->topk_logits = ws_g_reduce(g, WS_AT_RAMAX, tr->enc_class, -1, 0);   /* (1, N) */
    float *tl = malloc((size_t)N * sizeof *tl);
    int64_t *idx = malloc((size_t)N * sizeof *idx);
    if (!tl || !idx || g->err || ws_at_read(tr->topk_logits, tl, (size_t)N * sizeof *tl)) {
        free(tl); free(idx);
        return g->err ? g->err : ws_fail(WS_ENOMEM, "two-stage selection: out of memory");
    }
    for (int64_t i = 0; i < N; i++) idx[i] = i;
    for (int64_t i = 0; i < Q && i < N; i++) {   /* partial selection: descending, ties by index */
        int64_t best = i;
        for (int64_t j = i + 1; j < N; j++)
            if (tl[idx[j]] > tl[idx[best]]) best = j;
        int64_t t = idx[i]; idx[i] = idx[best]; idx[best] = t;
    }
    float sc[1024];
    for (int64_t i = 0; i < Q && i < 1024; i++) sc[i] = tl[idx[i]];
    const int64_t q2[2] = {1, Q}, q1[1] = {Q};
    tr->topk_indices = ws_g_from_data(g, idx, WS_AT_I64, 2, q2);
    tr->topk_scores = ws_g_from_data(g, sc, WS_AT_F32, 2, q2);
    ws_at_tensor ti = ws_g_from_data(g, idx, WS_AT_I64, 1, q1);
    free(tl);
    free(idx);
    tr->enc_delta = mlp_fwd(g, &m->enc_bbox, om);
    tr->enc_coord = ws_g_add(g, tr->enc_delta, lv->proposals);
    tr->refpoint = ws_g_index_select(g, tr->enc_coord, 1, ti);
    tr->init_box = ws_g_unary(g, WS_AT_SIGMOID, ws_g_index_select(g, lv->proposals, 1, ti));
    ws_at_tensor tgt = ws_g_reshape(g, m->tgt_embed, 3, (int64_t[3]){1, Q, 256});
    ws_at_tensor ref = ws_g_unary(g, WS_AT_SIGMOID, tr->refpoint);
    tr->ref[0] = ref;
    for (int i = 0; i < m->dec_layers && i < 8; i++) {
        const ws_gdino_dec_layer *d = &m->dec[i];
        const int64_t r4[4] = {1, Q, 1, 4}, e4[4] = {1, Q, 4, 4};
        ws_at_tensor ref_in = ws_g_contiguous(g, ws_g_expand(g, ws_g_reshape(g, ref, 4, r4), 4, e4));   /* valid ratios 1 */
        tr->ref_in[i] = ref_in;
        tr->sine[i] = box_sine(g, ref);
        ws_at_tensor qpos = tr->qpos[i] = mlp_fwd(g, &m->ref_head, tr->sine[i]);
        ws_at_tensor qk = ws_g_add(g, tgt, qpos);
        tr->sa[i] = mha(g, qk, qk, tgt, d->sa_in_w, d->sa_in_b, d->sa_out_w, d->sa_out_b, 8, NULL);
        tgt = tr->after_sa[i] = ws_g_layer_norm(g, ws_g_add(g, tgt, tr->sa[i]), d->n2_w, d->n2_b, 1e-5);
        tr->ct[i] = mha(g, ws_g_add(g, tgt, qpos), memory_text, memory_text, d->ct_in_w, d->ct_in_b, d->ct_out_w, d->ct_out_b, 8, NULL);
        tgt = tr->after_ct[i] = ws_g_layer_norm(g, ws_g_add(g, tgt, tr->ct[i]), d->ct_n_w, d->ct_n_b, 1e-5);
        tr->ia[i] = msda(g, &d->ca, ws_g_add(g, tgt, qpos), ref_in, 4, memory, lv, Q);
        tgt = tr->after_ia[i] = ws_g_layer_norm(g, ws_g_add(g, tgt, tr->ia[i]), d->n1_w, d->n1_b, 1e-5);
        ws_at_tensor f = ws_g_linear(g, ws_g_unary(g, WS_AT_RELU, ws_g_linear(g, tgt, d->l1_w, d->l1_b)), d->l2_w, d->l2_b);
        tgt = tr->out[i] = ws_g_layer_norm(g, ws_g_add(g, tgt, f), d->n3_w, d->n3_b, 1e-5);
        tr->delta[i] = mlp_fwd(g, &m->bbox, tgt);
        ws_at_tensor inv = inv_sigmoid(g, ref);
        tr->hs[i] = ws_g_layer_norm(g, tgt, m->dec_norm_w, m->dec_norm_b, 1e-5);
        tr->coord[i] = ws_g_unary(g, WS_AT_SIGMOID, ws_g_add(g, mlp_fwd(g, &m->bbox, tr->hs[i]), inv));
        tr->cls[i] = contrastive(g, tr->hs[i], memory_text);
        ref = ws_g_unary(g, WS_AT_SIGMOID, ws_g_add(g, tr->delta[i], inv));
        tr->ref[i + 1] = ref;
    }
    *pred_logits = tr->cls[m->dec_layers - 1];
    *pred_boxes = tr->coord[m->dec_layers - 1];
    return g->err;
}

/* ---- predict() ------------------------------------------------------------------------------------ */

int ws_gdino_predict(const struct ws_wordpiece *w, const float *logits, const float *boxes, int Q, int T, const int32_t *ids,
                     int L, double box_th, double text_th, int remove_combined, int64_t *keep, float *score,
                     float *kept_boxes, char **phrases)
{
    int n = 0;
    float *sc = malloc((size_t)T * sizeof *sc);
    int32_t *sel = malloc((size_t)(L > 0 ? L : 1) * sizeof *sel);
    if (!sc || !sel) { free(sc); free(sel); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (int q = 0; q < Q; q++) {
        float best = 0;
        int arg = 0;
        for (int t = 0; t < T; t++) {
            float x = logits[(size_t)q * T + t];
            sc[t] = isinf(x) && x < 0 ? 0.0f : 1.0f / (1.0f + expf(-x));
            if (sc[t] > best) { best = sc[t]; arg = t; }
        }
        if (!(best > box_th)) continue;
        keep[n] = q;
        score[n] = best;
        memcpy(kept_boxes + 4 * n, boxes + 4 * q, 4 * sizeof(float));
        int lo = 0, hi = T;   /* columns allowed: (lo, hi) exclusive of lo */
        if (remove_combined) {
            int seps[512], ns = 0;
            for (int j = 0; j < L && ns < 512; j++)
                if (ids[j] == w->cls || ids[j] == w->sep || ids[j] == 1012) seps[ns++] = j;
            int i = 0;
            while (i < ns && seps[i] < arg) i++;   /* bisect_left */
            if (ns > 0) {
                hi = i < ns ? seps[i] : T;
                lo = seps[i > 0 ? i - 1 : ns - 1];
            }
        }
        size_t k = 0;
        for (int j = 1; j < T && j < 255 && j < L; j++)
            if (sc[j] > text_th && (!remove_combined || (j > lo && j < hi))) sel[k++] = ids[j];
        char *d = ws_wordpiece_decode(w, sel, k);
        if (!d) { free(sc); free(sel); return ws_fail(WS_ENOMEM, "out of memory"); }
        char *o = d;
        for (char *r = d; *r; r++) if (*r != '.') *o++ = *r;   /* .replace(".", "") */
        *o = '\0';
        phrases[n++] = d;
    }
    free(sc);
    free(sel);
    return n;
}

/* ---- detection ------------------------------------------------------------------------------- */

int ws_gdino_transform(const uint8_t *rgb, int h, int w, int size, int max_size, int *oh, int *ow, float **x,
                       uint8_t **resized)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    ws_gdino_resize_shape(h, w, size, max_size, oh, ow);
    const size_t n = (size_t)*oh * *ow;
    uint8_t *rs = malloc(n * 3);
    *x = malloc(3 * n * sizeof **x);
    int rc = rs && *x ? 0 : ws_fail(WS_ENOMEM, "Grounding-DINO: out of memory for a %dx%d image", *ow, *oh);
    if (!rc) rc = ws_resize_u8(rgb, w, h, 3, rs, *ow, *oh, WS_RESAMPLE_BILINEAR);
    for (int c = 0; !rc && c < 3; c++)
        for (size_t i = 0; i < n; i++) (*x)[c * n + i] = ((float)rs[3 * i + c] / 255.0f - mean[c]) / std[c];
    if (rc) { free(*x); *x = NULL; }
    if (!rc && resized) *resized = rs;
    else free(rs);
    return rc;
}

int ws_gdino_scene_begin(const ws_gdino *m, const uint8_t *rgb, int h, int w, int size, int max_size, ws_gdino_scene *s)
{
    int oh = 0, ow = 0;
    float *x = NULL;
    memset(s, 0, sizeof *s);
    ws_scope_init(&s->g);
    s->h = h;
    s->w = w;
    int rc = ws_gdino_transform(rgb, h, w, size, max_size, &oh, &ow, &x, NULL);
    if (!rc) rc = ws_gdino_image(m, &s->g, ws_g_from_data(&s->g, x, WS_AT_F32, 4, (int64_t[4]){1, 3, oh, ow}), &s->img);
    if (!rc) rc = ws_gdino_levels_of(m, &s->g, &s->img, &s->lv);
    free(x);
    if (rc) ws_gdino_scene_free(s);
    return rc;
}

void ws_gdino_scene_free(ws_gdino_scene *s)
{
    ws_scope_free(&s->g);
    memset(s, 0, sizeof *s);
}

void ws_gdino_dets_free(ws_gdino_dets *d)
{
    for (int i = 0; d->phrase && i < d->n; i++) free(d->phrase[i]);
    free(d->phrase);
    free(d->cxcywh);
    free(d->score);
    free(d->query);
    memset(d, 0, sizeof *d);
}

int ws_gdino_detect(const ws_gdino *m, const ws_wordpiece *w, ws_gdino_scene *s, const char *caption, double box_th,
                    double text_th, ws_gdino_dets *out)
{
    memset(out, 0, sizeof *out);
    char *cap = ws_gdino_caption(caption);
    int32_t *ids = NULL;
    size_t L = 0;
    uint8_t *mask = NULL;
    int64_t *pos = NULL;
    float *lg = NULL, *bx = NULL;
    ws_scope g;
    ws_gdino_text_out to = {0};
    ws_scope_init(&g);
    int rc = cap ? 0 : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !cap[strspn(cap, " .")]) rc = ws_fail(WS_EINVAL, "Grounding-DINO: empty caption \"%s\"", caption);
    if (!rc) rc = ws_wordpiece_encode(w, cap, &ids, &L);
    if (!rc && L > 256)
        rc = ws_fail(WS_EINVAL, "Grounding-DINO: caption \"%.60s...\" has %zu tokens (max_text_len 256); split it", caption, L);
    if (!rc && (!(mask = malloc(L * L)) || !(pos = malloc(L * sizeof *pos)))) rc = ws_fail(WS_ENOMEM, "out of memory");
    ws_at_tensor logits = NULL, boxes = NULL;
    if (!rc) {
        ws_gdino_text_masks(w, ids, (int)L, mask, pos);
        const int64_t s2[2] = {1, (int64_t)L}, mm[2] = {(int64_t)L, (int64_t)L};
        ws_at_tensor ti = ws_g_from_data(&g, ids, WS_AT_I32, 2, s2), tp = ws_g_from_data(&g, pos, WS_AT_I64, 2, s2);
        ws_at_tensor tm = ws_g_from_data(&g, mask, WS_AT_U8, 2, mm);
        rc = g.err ? g.err : ws_gdino_text(m, &g, ti, tp, tm, &to);
        ws_at_tensor mem = NULL, memt = NULL;
        if (!rc) rc = ws_gdino_encode(m, &g, &s->img, &s->lv, to.encoded, ws_gdino_text_pos(&g, pos, (int)L), tm, &mem, &memt, NULL);
        if (!rc) rc = ws_gdino_decode(m, &g, &s->lv, mem, memt, &logits, &boxes, NULL);
    }
    int64_t ls[3] = {0, 0, 0};
    int nd = 0;
    if (!rc && ws_at_shape(logits, ls, 3, &nd)) rc = ws_fail(WS_ETORCH, "Grounding-DINO: %s", ws_at_last_error());
    const int Q = (int)ls[1], T = (int)ls[2];
    if (!rc && (!(lg = malloc((size_t)Q * T * sizeof *lg)) || !(bx = malloc((size_t)Q * 4 * sizeof *bx)) ||
                !(out->cxcywh = malloc((size_t)Q * 4 * sizeof(float))) || !(out->score = malloc((size_t)Q * sizeof(float))) ||
                !(out->query = malloc((size_t)Q * sizeof(int64_t))) || !(out->phrase = calloc((size_t)Q, sizeof(char *)))))
        rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && (ws_at_read(logits, lg, (size_t)Q * T * sizeof *lg) || ws_at_read(boxes, bx, (size_t)Q * 4 * sizeof *bx)))
        rc = ws_fail(WS_ETORCH, "Grounding-DINO: %s", ws_at_last_error());
    if (!rc) {
        int n = ws_gdino_predict(w, lg, bx, Q, T, ids, (int)L, box_th, text_th, 0, out->query, out->score, out->cxcywh,
                                 out->phrase);
        if (n < 0) rc = n;
        else out->n = n;
    }
    ws_gdino_text_out_free(&to);
    ws_scope_free(&g);
    free(cap); free(ids); free(mask); free(pos); free(lg); free(bx);
    if (rc) ws_gdino_dets_free(out);
    return rc;
}

/* ---- random weights at any size (benchmarks) --------------------------------------------------- */

const ws_gdino_arch WS_GDINO_SWINT_OGC = {96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 6, 6, 2048, 900, 2000, 30522};
const ws_gdino_arch WS_GDINO_SWINB_COGCOOR = {128, {2, 2, 18, 2}, {4, 8, 16, 32}, 12, 6, 6, 2048, 900, 2000, 30522};

/* name formatted from fmt + a, b; a LayerNorm pair, a Linear pair, or one tensor */
#define NM(...) snprintf(n, sizeof n, __VA_ARGS__)
#define T1(fill, ...) do { const int64_t s_[] = {__VA_ARGS__}; \
        if ((rc = ws_weight_random(gen, ck, n, fill, (int)(sizeof s_ / sizeof s_[0]), s_))) return rc; } while (0)
static int rlin(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t out, int64_t in)
{
    char n[320];
    int rc;
    NM("%s.weight", pre); T1(NAN, out, in);
    NM("%s.bias", pre); T1(NAN, out);
    return 0;
}
static int rnorm(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t d)
{
    char n[320];
    int rc;
    NM("%s.weight", pre); T1(1.0, d);
    NM("%s.bias", pre); T1(0.0, d);
    return 0;
}
static int rmha(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t d)
{
    char n[320];
    int rc;
    NM("%s.in_proj_weight", pre); T1(NAN, 3 * d, d);
    NM("%s.in_proj_bias", pre); T1(NAN, 3 * d);
    NM("%s.out_proj", pre);
    return rlin(gen, ck, n, d, d);
}
static int rmsda(ws_at_gen gen, ws_at_ckpt ck, const char *pre)
{
    char n[320];
    int rc;
    NM("%s.sampling_offsets", pre); if ((rc = rlin(gen, ck, n, 256, 256))) return rc;
    NM("%s.attention_weights", pre); if ((rc = rlin(gen, ck, n, 128, 256))) return rc;
    NM("%s.value_proj", pre); if ((rc = rlin(gen, ck, n, 256, 256))) return rc;
    NM("%s.output_proj", pre); return rlin(gen, ck, n, 256, 256);
}
static int rmlp3(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t in)
{
    char n[320];
    int rc;
    for (int i = 0; i < 3; i++) {
        NM("%s.layers.%d", pre, i);
        if ((rc = rlin(gen, ck, n, i == 2 ? 4 : 256, i == 0 ? in : 256))) return rc;
    }
    return 0;
}

/* idx: room for (w^2)^2 int64 (the relative position index, w = the window) */
static int random_gdino(ws_at_gen gen, ws_at_ckpt ck, const ws_gdino_arch *a, const ws_gdino *m, int64_t *idx)
{
    char n[320], p[256];
    int rc;
    const int64_t H = m->bert_hidden, I = m->bert_intermediate, F = a->ffn, D = 256;
    NM("module.bert.embeddings.word_embeddings.weight"); T1(NAN, a->vocab, H);
    NM("module.bert.embeddings.position_embeddings.weight"); T1(NAN, 512, H);
    NM("module.bert.embeddings.token_type_embeddings.weight"); T1(NAN, 2, H);
    if ((rc = rnorm(gen, ck, "module.bert.embeddings.LayerNorm", H))) return rc;
    for (int i = 0; i < m->bert_layers; i++) {
        static const char *const sq[] = {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"};
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "module.bert.encoder.layer.%d.%s", i, sq[k]);
            if ((rc = rlin(gen, ck, p, H, H))) return rc;
        }
        snprintf(p, sizeof p, "module.bert.encoder.layer.%d.", i);
        NM("%sattention.output.LayerNorm", p); if ((rc = rnorm(gen, ck, n, H))) return rc;
        NM("%sintermediate.dense", p); if ((rc = rlin(gen, ck, n, I, H))) return rc;
        NM("%soutput.dense", p); if ((rc = rlin(gen, ck, n, H, I))) return rc;
        NM("%soutput.LayerNorm", p); if ((rc = rnorm(gen, ck, n, H))) return rc;
    }
    if ((rc = rlin(gen, ck, "module.feat_map", D, H))) return rc;
    /* Swin */
    const int64_t C0 = a->swin_dim;
    NM("module.backbone.0.patch_embed.proj.weight"); T1(NAN, C0, 3, 4, 4);
    NM("module.backbone.0.patch_embed.proj.bias"); T1(NAN, C0);
    if ((rc = rnorm(gen, ck, "module.backbone.0.patch_embed.norm", C0))) return rc;
    const int w = a->window > 0 ? a->window : 7, N = w * w;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) idx[i * N + j] = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1);
    for (int s = 0; s < 4; s++) {
        const int64_t C = C0 << s;
        for (int b = 0; b < a->depths[s]; b++) {
            snprintf(p, sizeof p, "module.backbone.0.layers.%d.blocks.%d", s, b);
            NM("%s.norm1", p); if ((rc = rnorm(gen, ck, n, C))) return rc;
            NM("%s.attn.qkv", p); if ((rc = rlin(gen, ck, n, 3 * C, C))) return rc;
            NM("%s.attn.proj", p); if ((rc = rlin(gen, ck, n, C, C))) return rc;
            NM("%s.norm2", p); if ((rc = rnorm(gen, ck, n, C))) return rc;
            NM("%s.mlp.fc1", p); if ((rc = rlin(gen, ck, n, 4 * C, C))) return rc;
            NM("%s.mlp.fc2", p); if ((rc = rlin(gen, ck, n, C, 4 * C))) return rc;
            NM("%s.attn.relative_position_bias_table", p);
            { const int64_t s_[2] = {(2 * w - 1) * (2 * w - 1), a->heads[s]};
              if ((rc = ws_weight_random(gen, ck, n, NAN, 2, s_))) return rc; }
            NM("%s.attn.relative_position_index", p);
            ws_at_tensor t = NULL;
            rc = ws_at_from_data(idx, WS_AT_I64, 2, (int64_t[2]){N, N}, &t) || ws_at_ckpt_add(ck, n, t);
            ws_at_free(t);
            if (rc) return ws_fail(WS_ETORCH, "%s: %s", n, ws_at_last_error());
        }
        if (s < 3) {
            NM("module.backbone.0.layers.%d.downsample.reduction.weight", s); T1(NAN, 2 * C, 4 * C);
            NM("module.backbone.0.layers.%d.downsample.norm", s); if ((rc = rnorm(gen, ck, n, 4 * C))) return rc;
        }
        if (s >= 1) { NM("module.backbone.0.norm%d", s); if ((rc = rnorm(gen, ck, n, C))) return rc; }
    }
    for (int l = 0; l < 4; l++) {
        const int64_t Cin = C0 << (l < 3 ? l + 1 : 3), k = l < 3 ? 1 : 3;
        NM("module.input_proj.%d.0.weight", l); T1(NAN, D, Cin, k, k);
        NM("module.input_proj.%d.0.bias", l); T1(NAN, D);
        NM("module.input_proj.%d.1", l); if ((rc = rnorm(gen, ck, n, D))) return rc;
    }
    NM("module.transformer.level_embed"); T1(NAN, 4, D);
    /* encoder: fusion, text enhancer, deformable layers */
    const int64_t Fu = F / 2;
    for (int i = 0; i < a->enc_layers; i++) {
        snprintf(p, sizeof p, "module.transformer.encoder.fusion_layers.%d", i);
        NM("%s.gamma_v", p); T1(1e-4, D);
        NM("%s.gamma_l", p); T1(1e-4, D);
        NM("%s.layer_norm_v", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
        NM("%s.layer_norm_l", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
        static const char *const in[] = {"v_proj", "l_proj", "values_v_proj", "values_l_proj"};
        for (int k = 0; k < 4; k++) { NM("%s.attn.%s", p, in[k]); if ((rc = rlin(gen, ck, n, Fu, D))) return rc; }
        NM("%s.attn.out_v_proj", p); if ((rc = rlin(gen, ck, n, D, Fu))) return rc;
        NM("%s.attn.out_l_proj", p); if ((rc = rlin(gen, ck, n, D, Fu))) return rc;
        snprintf(p, sizeof p, "module.transformer.encoder.text_layers.%d", i);
        NM("%s.self_attn", p); if ((rc = rmha(gen, ck, n, D))) return rc;
        NM("%s.linear1", p); if ((rc = rlin(gen, ck, n, Fu, D))) return rc;
        NM("%s.linear2", p); if ((rc = rlin(gen, ck, n, D, Fu))) return rc;
        NM("%s.norm1", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
        NM("%s.norm2", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
        snprintf(p, sizeof p, "module.transformer.encoder.layers.%d", i);
        NM("%s.self_attn", p); if ((rc = rmsda(gen, ck, n))) return rc;
        NM("%s.linear1", p); if ((rc = rlin(gen, ck, n, F, D))) return rc;
        NM("%s.linear2", p); if ((rc = rlin(gen, ck, n, D, F))) return rc;
        NM("%s.norm1", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
        NM("%s.norm2", p); if ((rc = rnorm(gen, ck, n, D))) return rc;
    }
    /* two-stage and decoder */
    for (int i = 0; i < a->dec_layers; i++) {
        snprintf(p, sizeof p, "module.transformer.decoder.layers.%d", i);
        NM("%s.cross_attn", p); if ((rc = rmsda(gen, ck, n))) return rc;
        NM("%s.ca_text", p); if ((rc = rmha(gen, ck, n, D))) return rc;
        NM("%s.self_attn", p); if ((rc = rmha(gen, ck, n, D))) return rc;
        static const char *const nn[] = {"norm1", "norm2", "norm3", "catext_norm"};
        for (int k = 0; k < 4; k++) { NM("%s.%s", p, nn[k]); if ((rc = rnorm(gen, ck, n, D))) return rc; }
        NM("%s.linear1", p); if ((rc = rlin(gen, ck, n, F, D))) return rc;
        NM("%s.linear2", p); if ((rc = rlin(gen, ck, n, D, F))) return rc;
        NM("module.bbox_embed.%d", i); if ((rc = rmlp3(gen, ck, n, D))) return rc;
        NM("module.transformer.decoder.bbox_embed.%d", i); if ((rc = rmlp3(gen, ck, n, D))) return rc;
    }
    if ((rc = rnorm(gen, ck, "module.transformer.decoder.norm", D))) return rc;
    NM("module.transformer.tgt_embed.weight"); T1(NAN, a->queries, D);
    NM("module.label_enc.weight"); T1(NAN, a->label_book + 1, D);
    if ((rc = rlin(gen, ck, "module.transformer.enc_output", D, D))) return rc;
    if ((rc = rnorm(gen, ck, "module.transformer.enc_output_norm", D))) return rc;
    if ((rc = rmlp3(gen, ck, "module.transformer.enc_out_bbox_embed", D))) return rc;
    /* ref_point_head: 2 layers 512 -> 256 -> 256 */
    if ((rc = rlin(gen, ck, "module.transformer.decoder.ref_point_head.layers.0", D, 2 * D))) return rc;
    return rlin(gen, ck, "module.transformer.decoder.ref_point_head.layers.1", D, D);
}
#undef NM
#undef T1

int ws_gdino_init_random(ws_gdino *m, const ws_gdino_arch *a, uint64_t seed)
{
    ws_at_gen gen = NULL;
    ws_at_ckpt ck = NULL;
    memset(m, 0, sizeof *m);
    int rc = read_config(m, NULL);   /* bert-base-uncased */
    if (!rc && (ws_at_gen_new(seed, &gen) || ws_at_ckpt_new("random Grounding-DINO", &ck)))
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    const int w = a->window > 0 ? a->window : 7;
    int64_t *idx = rc ? NULL : malloc((size_t)w * w * w * w * sizeof *idx);
    if (!rc && !idx) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc) rc = random_gdino(gen, ck, a, m, idx);
    free(idx);
    ws_at_gen_free(gen);
    if (rc) { ws_at_ckpt_close(ck); return rc; }
    return from_ckpt(m, ck, "random Grounding-DINO");
}

/* gdino.c - Grounding-DINO: BERT text encoder and feat_map so far (see gdino.h). */
#define _POSIX_C_SOURCE 200809L
#include "model/gdino.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/weights.h"

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

int ws_gdino_load(ws_gdino *m, const char *path, const char *bert_config)
{
    ws_at_ckpt ck = NULL;
    char n[256];
    memset(m, 0, sizeof *m);
    int rc = read_config(m, bert_config);
    if (rc) return rc;
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
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

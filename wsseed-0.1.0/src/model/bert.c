/* bert.c - the BERT text encoder of Grounding-DINO (see bert.h).
 *
 * Mirrors transformers' BertModel (4.x) op by op: embeddings = word + position + token type,
 * LayerNorm; per layer post-norm self-attention and an erf-GELU FFN. Loading, freeing and random
 * weights live beside the forward pass so that the key names are written in one file.
 */
#define _POSIX_C_SOURCE 200809L
#include "model/bert.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/weights.h"

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

int ws_bert_config(ws_bert *b, const char *path)
{
    b->hidden = 768; b->n_layers = 12; b->heads = 12; b->intermediate = 3072; b->eps = 1e-12;
    if (!path) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open BERT config %s", path);
    char buf[16384];   /* bert-base's config.json is under 1 kB */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    double v;
    if (json_number(buf, "hidden_size", &v)) b->hidden = (int)v;
    if (json_number(buf, "num_hidden_layers", &v)) b->n_layers = (int)v;
    if (json_number(buf, "num_attention_heads", &v)) b->heads = (int)v;
    if (json_number(buf, "intermediate_size", &v)) b->intermediate = (int)v;
    if (json_number(buf, "layer_norm_eps", &v)) b->eps = v;
    if (b->heads < 1 || b->hidden % b->heads)
        return ws_fail(WS_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path, b->hidden,
                       b->heads);
    return 0;
}

/* One weight "<pre>.<suffix>" of shape (d0) or (d0, d1) (d1 0: a vector) into *t. */
static int bw(ws_at_ckpt ck, const char *kind, const char *pre, const char *suffix, ws_at_tensor *t, int64_t d0,
              int64_t d1)
{
    char n[320];
    const int64_t sh[2] = {d0, d1};
    snprintf(n, sizeof n, "%s.%s", pre, suffix);
    return ws_weight(ck, n, d1 ? 2 : 1, sh, kind, t);
}

int ws_bert_load(ws_bert *b, ws_at_ckpt ck, const char *prefix, const char *kind, const char *path)
{
    char n[256];
    const int64_t H = b->hidden, I = b->intermediate;
    snprintf(n, sizeof n, "%s.encoder.layer.", prefix);
    int nl = ws_weight_count(ck, n), rc;
    if (nl != b->n_layers)
        return ws_fail(WS_EFORMAT, "%s has %d BERT layers, the BERT config says %d (pass --bert-config?)", path, nl,
                       b->n_layers);
    if ((rc = bw(ck, kind, prefix, "embeddings.word_embeddings.weight", &b->word, -1, H)) ||
        (rc = bw(ck, kind, prefix, "embeddings.position_embeddings.weight", &b->pos, -1, H)) ||
        (rc = bw(ck, kind, prefix, "embeddings.token_type_embeddings.weight", &b->type, -1, H)) ||
        (rc = bw(ck, kind, prefix, "embeddings.LayerNorm.weight", &b->emb_ln_w, H, 0)) ||
        (rc = bw(ck, kind, prefix, "embeddings.LayerNorm.bias", &b->emb_ln_b, H, 0)))
        return rc;
    if (!(b->layers = calloc((size_t)nl, sizeof *b->layers))) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < nl; i++) {
        ws_bert_layer *l = &b->layers[i];
        /* (suffix, tensor, rows, cols): cols 0 = a vector */
        const struct { const char *s; ws_at_tensor *t; int64_t r, c; } w[] = {
            {"attention.self.query.weight", &l->q_w, H, H}, {"attention.self.query.bias", &l->q_b, H, 0},
            {"attention.self.key.weight", &l->k_w, H, H}, {"attention.self.key.bias", &l->k_b, H, 0},
            {"attention.self.value.weight", &l->v_w, H, H}, {"attention.self.value.bias", &l->v_b, H, 0},
            {"attention.output.dense.weight", &l->o_w, H, H}, {"attention.output.dense.bias", &l->o_b, H, 0},
            {"attention.output.LayerNorm.weight", &l->ln1_w, H, 0}, {"attention.output.LayerNorm.bias", &l->ln1_b, H, 0},
            {"intermediate.dense.weight", &l->i_w, I, H}, {"intermediate.dense.bias", &l->i_b, I, 0},
            {"output.dense.weight", &l->out_w, H, I}, {"output.dense.bias", &l->out_b, H, 0},
            {"output.LayerNorm.weight", &l->ln2_w, H, 0}, {"output.LayerNorm.bias", &l->ln2_b, H, 0}};
        snprintf(n, sizeof n, "%s.encoder.layer.%d", prefix, i);
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
            if ((rc = bw(ck, kind, n, w[k].s, w[k].t, w[k].r, w[k].c))) return rc;
    }
    return 0;
}

void ws_bert_free(ws_bert *b)
{
    if (!b) return;
    ws_at_tensor emb[] = {b->word, b->pos, b->type, b->emb_ln_w, b->emb_ln_b};
    for (size_t i = 0; i < sizeof emb / sizeof emb[0]; i++) ws_at_free(emb[i]);
    for (int i = 0; b->layers && i < b->n_layers; i++) {
        ws_bert_layer *l = &b->layers[i];
        ws_at_tensor t[] = {l->q_w, l->q_b, l->k_w, l->k_b, l->v_w, l->v_b, l->o_w, l->o_b, l->ln1_w, l->ln1_b,
                            l->i_w, l->i_b, l->out_w, l->out_b, l->ln2_w, l->ln2_b};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) ws_at_free(t[k]);
    }
    free(b->layers);
    memset(b, 0, sizeof *b);
}

int ws_bert_random(const ws_bert *b, ws_at_gen gen, ws_at_ckpt ck, const char *prefix, int64_t vocab)
{
    char n[320], p[256];
    int rc;
    const int64_t H = b->hidden, I = b->intermediate;
    /* the embeddings first: benchmarks and tests rely on this draw order from gen */
    const int64_t tables[3][2] = {{vocab, H}, {512, H}, {2, H}};
    static const char *const tn[3] = {"word_embeddings", "position_embeddings", "token_type_embeddings"};
    for (int k = 0; k < 3; k++) {
        snprintf(n, sizeof n, "%s.embeddings.%s.weight", prefix, tn[k]);
        if ((rc = ws_weight_random(gen, ck, n, NAN, 2, tables[k]))) return rc;
    }
    snprintf(n, sizeof n, "%s.embeddings.LayerNorm", prefix);
    if ((rc = ws_weight_random_norm(gen, ck, n, H))) return rc;
    for (int i = 0; i < b->n_layers; i++) {
        static const char *const sq[] = {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"};
        for (int k = 0; k < 4; k++) {
            snprintf(n, sizeof n, "%s.encoder.layer.%d.%s", prefix, i, sq[k]);
            if ((rc = ws_weight_random_linear(gen, ck, n, H, H))) return rc;
        }
        snprintf(p, sizeof p, "%s.encoder.layer.%d.", prefix, i);
        snprintf(n, sizeof n, "%sattention.output.LayerNorm", p); if ((rc = ws_weight_random_norm(gen, ck, n, H))) return rc;
        snprintf(n, sizeof n, "%sintermediate.dense", p); if ((rc = ws_weight_random_linear(gen, ck, n, I, H))) return rc;
        snprintf(n, sizeof n, "%soutput.dense", p); if ((rc = ws_weight_random_linear(gen, ck, n, H, I))) return rc;
        snprintf(n, sizeof n, "%soutput.LayerNorm", p); if ((rc = ws_weight_random_norm(gen, ck, n, H))) return rc;
    }
    return 0;
}

int ws_bert_forward(const ws_bert *b, ws_scope *g, ws_at_tensor ids, ws_at_tensor pos, ws_at_tensor mask,
                    ws_at_tensor *ext_mask, ws_at_tensor *embeddings, ws_at_tensor *layers, ws_at_tensor *last)
{
    int64_t s[2];
    int nd = 0;
    if (ws_at_shape(ids, s, 2, &nd) || nd != 2 || s[0] != 1) return ws_fail(WS_ESHAPE, "BERT input ids must be (1, L)");
    const int64_t L = s[1], H = b->hidden, heads = b->heads, hd = H / heads;
    const int64_t flat[1] = {L}, e3[3] = {1, L, H}, m4[4] = {1, 1, L, L};
    /* get_extended_attention_mask: (1 - m) * finfo(float32).min in transformers' order of
     * operations (allowed entries come out as -0.0, blocked ones as -FLT_MAX) */
    ws_at_tensor mf = ws_g_to_dtype(g, mask, WS_AT_F32);
    *ext_mask = ws_g_reshape(g, ws_g_mul_scalar(g, ws_g_scalar_op(g, WS_AT_SUB, ws_g_mul_scalar(g, mf, -1.0), -1.0), -FLT_MAX),
                             4, m4);
    ws_at_tensor tt = ws_g_full(g, 0, WS_AT_I64, 1, flat);
    /* (word + position) + token type: the association order of BertEmbeddings */
    ws_at_tensor x = ws_g_add(g, ws_g_add(g, ws_g_index_select(g, b->word, 0, ws_g_reshape(g, ws_g_to_dtype(g, ids, WS_AT_I64), 1, flat)),
                                          ws_g_index_select(g, b->pos, 0, ws_g_reshape(g, pos, 1, flat))),
                              ws_g_index_select(g, b->type, 0, tt));
    x = ws_g_reshape(g, ws_g_layer_norm(g, x, b->emb_ln_w, b->emb_ln_b, b->eps), 3, e3);
    *embeddings = x;
    const int64_t split[4] = {1, L, heads, hd}, perm[4] = {0, 2, 1, 3};
    for (int i = 0; i < b->n_layers; i++) {
        const ws_bert_layer *l = &b->layers[i];
        ws_at_tensor q = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->q_w, l->q_b), 4, split), 4, perm);
        ws_at_tensor k = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->k_w, l->k_b), 4, split), 4, perm);
        ws_at_tensor v = ws_g_permute(g, ws_g_reshape(g, ws_g_linear(g, x, l->v_w, l->v_b), 4, split), 4, perm);
        /* BertSelfAttention scales the scores after q k^T (not q before): same rounding */
        ws_at_tensor sc = ws_g_mul_scalar(g, ws_g_matmul(g, q, ws_g_transpose(g, k, -2, -1)), 1.0 / sqrt((double)hd));
        ws_at_tensor a = ws_g_softmax(g, ws_g_add(g, sc, *ext_mask), -1);
        ws_at_tensor ctx = ws_g_reshape(g, ws_g_permute(g, ws_g_matmul(g, a, v), 4, perm), 3, e3);
        ws_at_tensor h = ws_g_layer_norm(g, ws_g_add(g, x, ws_g_linear(g, ctx, l->o_w, l->o_b)), l->ln1_w, l->ln1_b, b->eps);
        ws_at_tensor f = ws_g_linear(g, ws_g_unary(g, WS_AT_GELU_ERF, ws_g_linear(g, h, l->i_w, l->i_b)), l->out_w, l->out_b);
        x = ws_g_layer_norm(g, ws_g_add(g, h, f), l->ln2_w, l->ln2_b, b->eps);
        layers[i] = x;
    }
    *last = x;
    return g->err;
}

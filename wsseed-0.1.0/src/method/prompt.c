/* prompt.c - CoOp prompt learners (see prompt.h). */
#define _POSIX_C_SOURCE 200809L
#include "method/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha1.h"
#include "core/status.h"

char *ws_prompt_string(const char *name, int n_ctx)
{
    size_t n = strlen(name);
    char *s = malloc(2 * (size_t)n_ctx + n + 2);
    if (!s) return NULL;
    for (int i = 0; i < n_ctx; i++) memcpy(s + 2 * i, "X ", 2);
    memcpy(s + 2 * (size_t)n_ctx, name, n);
    memcpy(s + 2 * (size_t)n_ctx + n, ".", 2);
    return s;
}

/* Tokenises the G prompt strings into p->token_ids and the name lengths. */
static int tokenize_all(ws_prompt *p, const ws_bpe *bpe, const char *const *names)
{
    const int L = p->context_length;
    for (int c = 0; c < p->n_cls; c++) {
        int32_t *ids = NULL;
        size_t nl = 0;
        char *s = ws_prompt_string(names[c], p->n_ctx);
        if (!s) return ws_fail(WS_ENOMEM, "prompt: out of memory");
        int rc = ws_bpe_tokenize(bpe, s, 0, L, p->token_ids + (size_t)c * L, NULL);
        free(s);
        if (!rc) rc = ws_bpe_encode(bpe, names[c], &ids, &nl);
        free(ids);
        if (rc) return ws_fail(rc, "prompt for class '%s' (%d context tokens): %s", names[c], p->n_ctx,
                               ws_last_error());
        p->name_lens[c] = (int64_t)nl;
        int eot = 0;
        for (int j = 1; j < L; j++)
            if (p->token_ids[(size_t)c * L + j] > p->token_ids[(size_t)c * L + eot]) eot = j;
        if (eot + 1 > p->max_len) p->max_len = eot + 1;
    }
    return 0;
}

/* Front layout: output row j of prompt c is a row of cat(tok_emb (G*L rows), ctx (G*M rows)). */
static int build_gather(ws_prompt *p)
{
    const int64_t G = p->n_cls, L = p->context_length, M = p->n_ctx;
    int64_t *idx = malloc((size_t)(G * L) * sizeof *idx);
    if (!idx) return ws_fail(WS_ENOMEM, "prompt: out of memory");
    for (int64_t c = 0; c < G; c++) {
        int64_t nl = p->name_lens[c];
        for (int64_t j = 0; j < L; j++) {
            int64_t src;
            if (j == 0) src = c * L;                                   /* SOS */
            else if (j <= nl) src = c * L + M + j;                     /* name tokens */
            else if (j <= nl + M) src = G * L + c * M + (j - 1 - nl);  /* ctx */
            else src = c * L + j;                                      /* ".", EOT, padding */
            idx[c * L + j] = src;
        }
    }
    int64_t n = G * L;
    int rc = ws_at_from_data(idx, WS_AT_I64, 1, &n, &p->gather);
    free(idx);
    return rc ? ws_fail(WS_ETORCH, "prompt: %s", ws_at_last_error()) : 0;
}

int ws_prompt_build(ws_prompt *p, const ws_clip *m, const ws_bpe *bpe, const char *const *names, int G,
                    int n_ctx, int csc, int front)
{
    memset(p, 0, sizeof *p);
    p->n_cls = G;
    p->n_ctx = n_ctx;
    p->width = m->text_width;
    p->csc = csc;
    p->front = front;
    p->context_length = m->context_length;
    if (G < 1 || n_ctx < 1) return ws_fail(WS_EINVAL, "prompt learner needs classes and context tokens");
    if (front && !csc) return ws_fail(WS_EINVAL, "the 'front' class-token position needs class-specific context");
    p->name_lens = calloc((size_t)G, sizeof *p->name_lens);
    p->token_ids = calloc((size_t)G * p->context_length, sizeof *p->token_ids);
    if (!p->name_lens || !p->token_ids) return ws_fail(WS_ENOMEM, "prompt: out of memory");
    int rc = tokenize_all(p, bpe, names);
    if (rc) return rc;
    ws_scope g;
    ws_scope_init(&g);
    const int64_t is[2] = {G, p->context_length};
    ws_at_tensor ids = ws_g_from_data(&g, p->token_ids, WS_AT_I32, 2, is);
    p->tok_emb = ws_scope_keep(&g, ws_clip_token_embed(m, &g, ids));
    p->eot = ws_scope_keep(&g, ws_clip_eot_index(&g, ids));
    rc = g.err;
    ws_scope_free(&g);
    if (rc) return rc;
    if (front && (rc = build_gather(p))) return rc;
    const int64_t cs[3] = {G, n_ctx, p->width};
    if (ws_at_full(0.0, WS_AT_F32, csc ? 3 : 2, csc ? cs : cs + 1, &p->ctx) || ws_at_set_requires_grad(p->ctx, 1))
        return ws_fail(WS_ETORCH, "prompt ctx: %s", ws_at_last_error());
    return 0;
}

void ws_prompt_free(ws_prompt *p)
{
    if (!p) return;
    free(p->name_lens);
    free(p->token_ids);
    ws_at_free(p->eot);
    ws_at_free(p->tok_emb);
    ws_at_free(p->gather);
    ws_at_free(p->ctx);
    memset(p, 0, sizeof *p);
}

int ws_prompt_init_ctx(ws_prompt *p, const char *seed, double std)
{
    ws_at_gen gen = NULL;
    ws_at_guard ng = NULL;
    int rc = 0;
    if (ws_at_gen_new(ws_hash_str(seed), &gen) || ws_at_grad_mode_enter(0, NULL, &ng) ||
        ws_at_normal_(p->ctx, 0.0, std, gen))
        rc = ws_fail(WS_ETORCH, "prompt ctx initialisation: %s", ws_at_last_error());
    ws_at_guard_exit(ng);
    ws_at_gen_free(gen);
    return rc;
}

int ws_prompt_set_ctx(ws_prompt *p, const float *data, int ndim, const int64_t *shape)
{
    int64_t have[3];
    int nd = 0;
    if (ws_at_shape(p->ctx, have, 3, &nd)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int same = nd == ndim;
    for (int i = 0; same && i < nd; i++) same = have[i] == shape[i];
    if (!same)
        return ws_fail(WS_ESHAPE, "prompt context has shape (%lld, %lld%s) here (%s context, M = %d); the "
                       "given one does not match", (long long)have[0], (long long)have[1],
                       nd == 3 ? ", ..." : "", p->csc ? "class-specific" : "shared", p->n_ctx);
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)have[i];
    if (ws_at_write(p->ctx, data, n * sizeof(float))) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    return 0;
}

ws_at_tensor ws_prompt_embed(const ws_prompt *p, ws_scope *g)
{
    const int64_t G = p->n_cls, L = p->context_length, M = p->n_ctx, W = p->width;
    if (p->front) {
        const int64_t flat_t[2] = {G * L, W}, flat_c[2] = {G * M, W}, out[3] = {G, L, W};
        ws_at_tensor rows[2] = {ws_g_reshape(g, p->tok_emb, 2, flat_t), ws_g_reshape(g, p->ctx, 2, flat_c)};
        return ws_g_reshape(g, ws_g_index_select(g, ws_g_cat(g, rows, 2, 0), 0, p->gather), 3, out);
    }
    const int64_t sh[3] = {G, M, W};
    ws_at_tensor parts[3] = {ws_g_slice(g, p->tok_emb, 1, 0, 1), ws_g_expand(g, p->ctx, 3, sh),
                             ws_g_slice(g, p->tok_emb, 1, 1 + M, L)};
    return ws_g_cat(g, parts, 3, 1);
}

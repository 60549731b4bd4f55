/* clip.c - `wsseed dump clip`: every CLIP output of clip_tiny_ref.h5 from its inputs.
 *
 * Groups are produced when their inputs are present: /model, /checkpoint/<file> (manifest of
 * --model), /image, /image_interp, /tokenizer (needs --vocab), /text, /coop (prompt learning:
 * features from prompt embeddings and the context gradient of a fixed test loss by autograd).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "model/bpe.h"
#include "model/clip.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* Writes a scope tensor; the scope's first error wins over a missing tensor. */
static int put(ws_h5file *f, ws_scope *g, const char *name, ws_at_tensor t)
{
    if (g && g->err) return g->err;
    return ws_h5_put_tensor(f, name, t);
}

static int put_blocks(ws_h5file *f, ws_scope *g, const char *fmt, ws_at_tensor *ts, int n)
{
    char name[256];
    for (int i = 0; ts && i < n; i++) {
        snprintf(name, sizeof name, fmt, i);
        int rc = put(f, g, name, ts[i]);
        if (rc) return rc;
    }
    return 0;
}

/* ---- /model ---- */

static int dump_model(const ws_clip *m, ws_h5file *out)
{
    ws_scope g;
    ws_scope_init(&g);
    int rc = put(out, &g, "/model/logit_scale", m->logit_scale);
    if (!rc) rc = put(out, &g, "/model/logit_scale_exp", ws_g_unary(&g, WS_AT_EXP, m->logit_scale));
    ws_scope_free(&g);
    return rc;
}

/* ---- /image and /image_interp ---- */

static int dump_image(const ws_clip *m, const ws_h5file *in, ws_h5file *out, const char *grp)
{
    char name[256];
    ws_scope g;
    ws_at_tensor x = NULL;
    ws_clip_image_out o = {0};
    int rc;
    /* Every intermediate the golden file records is requested (block outputs, attention per head and mean,
     * all projected tokens), so a mismatch is located at the first block that differs rather than only at the
     * embedding. */
    ws_clip_image_opts opts = {.pos_interp = WS_CLIP_POS_BICUBIC, .block_tokens = 1, .attn_mean = 1,
                               .attn_heads = 1, .proj_all = 1};
    snprintf(name, sizeof name, "%s/input", grp);
    if (!ws_h5_exists(in, name)) return 0;
    ws_scope_init(&g);
    TRY(ws_h5_get_tensor(in, name, WS_F32, &x));
    ws_scope_adopt(&g, x);
    TRY(ws_clip_encode_image(m, &g, x, &opts, &o));
    const struct { const char *n; ws_at_tensor t; } items[] = {
        {"patch_embed", o.patch_embed}, {"tokens_embedded", o.tokens_embedded},
        {"tokens_ln_pre", o.tokens_ln_pre}, {"embedding", o.embedding},
        {"embedding_normalized", ws_clip_l2_normalize(&g, o.embedding)}, {"patch_tokens_proj", o.proj_all},
        {"pos_embedding_orig", m->vis_pos}, {"pos_embedding_interp", o.pos},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        snprintf(name, sizeof name, "%s/%s", grp, items[i].n);
        TRY(put(out, &g, name, items[i].t));
    }
    snprintf(name, sizeof name, "%s/tokens_after_block_%%d", grp);
    TRY(put_blocks(out, &g, name, o.block_tokens, m->vision_layers));
    snprintf(name, sizeof name, "%s/attn_weights_block_%%d", grp);
    TRY(put_blocks(out, &g, name, o.attn_mean, m->vision_layers));
    snprintf(name, sizeof name, "%s/attn_weights_per_head_block_%%d", grp);
    TRY(put_blocks(out, &g, name, o.attn_heads, m->vision_layers));
cleanup:
    ws_clip_image_out_free(&o);
    ws_scope_free(&g);
    return rc;
}

/* ---- /tokenizer ---- */

static int dump_tokenizer(const ws_h5file *in, ws_h5file *out, const char *vocab)
{
    char **strs = NULL, **cleaned = NULL, **pieces = NULL;
    size_t n = 0;
    int32_t *tokens = NULL, *ntok = NULL;
    uint8_t *too_long = NULL;
    ws_bpe bpe = {0};
    int rc;
    if (!ws_h5_exists(in, "/tokenizer/strings") && !ws_h5_exists(in, "/tokenizer/strings_utf8")) return 0;
    TRY(ws_h5_read_strings(in, "/tokenizer/strings", &strs, &n));
    TRY(ws_bpe_load(&bpe, vocab));
    tokens = calloc(n * WS_BPE_CONTEXT + 1, sizeof *tokens);
    ntok = calloc(n + 1, sizeof *ntok);
    too_long = calloc(n + 1, 1);
    cleaned = calloc(n + 1, sizeof *cleaned);
    pieces = calloc(n + 1, sizeof *pieces);
    if (!tokens || !ntok || !too_long || !cleaned || !pieces) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t k = 0, len = 0;
        /* Truncating and recording the untruncated length: the golden
         * file checks both the ids and which strings were too long. */
        TRY(ws_bpe_tokenize(&bpe, strs[i], 1, WS_BPE_CONTEXT, tokens + i * WS_BPE_CONTEXT, &ntok[i]));
        too_long[i] = ntok[i] > WS_BPE_CONTEXT;
        /* The cleaned text and the BPE pieces are compared separately from the ids, so a tokenizer mismatch
         * says whether the text cleaning or the merges differ. */
        TRY(ws_bpe_clean(strs[i], &cleaned[i]));
        TRY(ws_bpe_encode(&bpe, strs[i], &ids, &k));
        for (size_t j = 0; j < k; j++) len += strlen(ws_bpe_piece(&bpe, ids[j])) + 1;
        pieces[i] = calloc(len + 1, 1);
        for (size_t j = 0; pieces[i] && j < k; j++) {
            if (j) strcat(pieces[i], " ");
            strcat(pieces[i], ws_bpe_piece(&bpe, ids[j]));
        }
        free(ids);
        if (!pieces[i]) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    }
    const int64_t s2[2] = {(int64_t)n, WS_BPE_CONTEXT}, s1[1] = {(int64_t)n};
    TRY(ws_h5_write_raw(out, "/tokenizer/tokens", WS_I32, 2, s2, tokens));
    TRY(ws_h5_write_raw(out, "/tokenizer/too_long", WS_U8, 1, s1, too_long));
    TRY(ws_h5_write_raw(out, "/tokenizer/n_tokens_untruncated", WS_I32, 1, s1, ntok));
    TRY(ws_h5_write_strings(out, "/tokenizer/cleaned", cleaned, n));
    TRY(ws_h5_write_strings(out, "/tokenizer/bpe_pieces", pieces, n));
cleanup:
    ws_h5_strings_free(strs, n);
    ws_h5_strings_free(cleaned, n);
    ws_h5_strings_free(pieces, n);
    free(tokens);
    free(ntok);
    free(too_long);
    ws_bpe_free(&bpe);
    return rc;
}

/* ---- /text ---- */

static int dump_text(const ws_clip *m, const ws_h5file *in, ws_h5file *out)
{
    ws_scope g;
    ws_at_tensor ids = NULL, img = NULL;
    ws_clip_text_out t = {0};
    ws_clip_image_out io = {0};
    int rc;
    if (!ws_h5_exists(in, "/text/tokens")) return 0;
    ws_scope_init(&g);
    TRY(ws_h5_get_tensor(in, "/text/tokens", WS_I64, &ids));
    ws_scope_adopt(&g, ids);
    ws_clip_text_opts opts = {.block_tokens = 1, .attn_heads = 1, .ln_final_all = 1};
    TRY(ws_clip_encode_text(m, &g, ids, &opts, &t));
    TRY(put(out, &g, "/text/eot_index", ws_clip_eot_index(&g, ids)));
    TRY(put(out, &g, "/text/embedded", t.embedded));
    TRY(put_blocks(out, &g, "/text/tokens_after_block_%d", t.block_tokens, m->text_layers));
    TRY(put_blocks(out, &g, "/text/attn_weights_per_head_block_%d", t.attn_heads, m->text_layers));
    TRY(put(out, &g, "/text/ln_final", t.ln_final));
    TRY(put(out, &g, "/text/features", t.features));
    ws_at_tensor txt = ws_clip_l2_normalize(&g, t.features);
    TRY(put(out, &g, "/text/features_normalized", txt));
    if (ws_h5_exists(in, "/image/input")) {   /* CLIP.forward(image, text)[0] */
        TRY(ws_h5_get_tensor(in, "/image/input", WS_F32, &img));
        ws_scope_adopt(&g, img);
        TRY(ws_clip_encode_image(m, &g, img, NULL, &io));
        ws_at_tensor im = ws_clip_l2_normalize(&g, io.embedding);
        ws_at_tensor logits = ws_g_mul(&g, ws_g_unary(&g, WS_AT_EXP, m->logit_scale),
                                       ws_g_matmul(&g, im, ws_g_transpose(&g, txt, 0, 1)));
        TRY(put(out, &g, "/text/logits_per_image", logits));
    }
cleanup:
    ws_clip_text_out_free(&t);
    ws_clip_image_out_free(&io);
    ws_scope_free(&g);
    return rc;
}

/* ---- /coop: prompt learning through the text encoder ---- */

/* Replaces rows 1..n_ctx of the token embedding (G, L, W) by ctx ((n_ctx, W) shared or
 * (G, n_ctx, W) class-specific): CoOp's layout with the class token at the end, [SOS, ctx, name,
 * ".", EOT, pad], so the name tokens and EOT come from the tokenizer as in the official
 * PromptLearner. */
static ws_at_tensor substitute_ctx(ws_scope *g, ws_at_tensor tok_emb, ws_at_tensor ctx, int64_t G,
                                   int64_t n_ctx, int64_t L, int64_t W)
{
    const int64_t sh[3] = {G, n_ctx, W};
    ws_at_tensor c = ws_g_expand(g, ctx, 3, sh);
    ws_at_tensor parts[3] = {ws_g_slice(g, tok_emb, 1, 0, 1), c, ws_g_slice(g, tok_emb, 1, 1 + n_ctx, L)};
    return ws_g_cat(g, parts, 3, 1);
}

static int dump_coop_variant(const ws_clip *m, const ws_h5file *in, ws_h5file *out, const char *variant,
                             ws_at_tensor tok_emb, ws_at_tensor eot, ws_at_tensor R)
{
    char name[256];
    ws_scope g;
    ws_at_tensor ctx = NULL, grad = NULL;
    ws_clip_text_out t = {0};
    int64_t d[3], cs[3];
    int nd = 0, cnd = 0, rc;
    snprintf(name, sizeof name, "/coop/%s/ctx", variant);
    if (!ws_h5_exists(in, name)) return 0;
    ws_scope_init(&g);
    TRY(ws_h5_get_tensor(in, name, WS_F32, &ctx));
    ws_scope_adopt(&g, ctx);
    if (ws_at_shape(tok_emb, d, 3, &nd) || ws_at_shape(ctx, cs, 3, &cnd) || ws_at_set_requires_grad(ctx, 1)) {
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
        goto cleanup;
    }
    const int64_t n_ctx = cs[cnd - 2];
    ws_at_tensor emb = substitute_ctx(&g, tok_emb, ctx, d[0], n_ctx, d[1], d[2]);
    TRY(ws_clip_encode_text_emb(m, &g, emb, eot, NULL, &t));
    ws_at_tensor fn = ws_clip_l2_normalize(&g, t.features);
    /* A fixed linear test loss sum(f_normalized * R): its gradient w.r.t. ctx checks the whole backward path
     * through the text transformer with no training code involved. */
    ws_at_tensor loss = ws_g_reduce(&g, WS_AT_RSUM, ws_g_mul(&g, fn, R), WS_AT_ALL, 0);
    if (g.err) { rc = g.err; goto cleanup; }
    if (ws_at_autograd_grad(&loss, 1, NULL, &ctx, 1, 0, 0, 0, &grad)) {
        rc = ws_fail(WS_ETORCH, "coop gradient: %s", ws_at_last_error());
        goto cleanup;
    }
    ws_scope_adopt(&g, grad);
    const struct { const char *n; ws_at_tensor t; } items[] = {
        {"prompt_embedding", emb}, {"features", t.features}, {"features_normalized", fn},
        {"loss", loss}, {"grad_ctx", grad},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        snprintf(name, sizeof name, "/coop/%s/%s", variant, items[i].n);
        TRY(put(out, &g, name, items[i].t));
    }
cleanup:
    ws_clip_text_out_free(&t);
    ws_scope_free(&g);
    return rc;
}

static int dump_coop(const ws_clip *m, const ws_h5file *in, ws_h5file *out)
{
    ws_scope g;
    ws_at_tensor ids = NULL, R = NULL;
    char **variants = NULL;
    size_t nv = 0;
    int rc;
    if (!ws_h5_exists(in, "/coop/token_ids")) return 0;
    ws_scope_init(&g);
    TRY(ws_h5_get_tensor(in, "/coop/token_ids", WS_I64, &ids));
    ws_scope_adopt(&g, ids);
    TRY(ws_h5_get_tensor(in, "/coop/R", WS_F32, &R));
    ws_scope_adopt(&g, R);
    ws_at_tensor emb = ws_clip_token_embed(m, &g, ids), eot = ws_clip_eot_index(&g, ids);
    TRY(put(out, &g, "/coop/eot_index", eot));
    TRY(put(out, &g, "/coop/token_embedding", emb));
    /* every /coop/<variant> group with a ctx (the golden: shared (n_ctx, W), class_specific
     * (G, n_ctx, W)); the ctx shape says which */
    TRY(ws_verify_subgroups(in, "/coop", &variants, &nv));
    for (size_t i = 0; i < nv; i++) TRY(dump_coop_variant(m, in, out, variants[i], emb, eot, R));
cleanup:
    ws_h5_strings_free(variants, nv);
    ws_scope_free(&g);
    return rc;
}

int ws_verify_clip(const ws_verify_args *a)
{
    ws_at_ckpt ck = NULL;
    ws_clip m = {0};
    ws_h5file in = {0}, out = {0};
    int rc;
    if (ws_at_ckpt_open(a->model, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    TRY(ws_clip_from_ckpt(&m, ck));
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_h5_create(&out, a->output));
    TRY(dump_model(&m, &out));
    TRY(ws_verify_manifest(&out, ck));
    TRY(dump_image(&m, &in, &out, "/image"));
    TRY(dump_image(&m, &in, &out, "/image_interp"));
    TRY(dump_tokenizer(&in, &out, a->vocab));
    TRY(dump_text(&m, &in, &out));
    TRY(dump_coop(&m, &in, &out));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_clip_free(&m);
    ws_at_ckpt_close(ck);
    return rc;
}

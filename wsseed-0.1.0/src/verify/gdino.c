/* gdino.c - `wsseed dump gdino`: the Grounding-DINO outputs of gdino_tiny_ref.h5. Always
 * /tokenizer (BERT WordPiece: pieces, input ids, decode; preprocess_caption, caption ids,
 * position ids and the block-diagonal text self-attention mask) from /tokenizer/strings and
 * --vocab. With --model (and --bert-config for the BERT sizes): the checkpoint manifest,
 * /preprocess and /image (load_image's transform at /config@transform_short_side and
 * transform_max_size, Swin, input projections, positions) and, per /input/captions case,
 * /case/<name>/{text,encoder,decoder,predict} (BERT, fusion encoder, two-stage selection,
 * decoder, predict() at each /case/<name>/predict/<setting> group's thresholds).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "core/strmap.h"
#include "model/gdino.h"
#include "model/wordpiece.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* A ragged int dataset pair X_values / X_offsets. */
typedef struct ragged { void *v; int64_t *off; size_t n, cap, esz; int64_t k; } ragged;

static int rag_add(ragged *r, const void *data, size_t count)
{
    if (r->n + count > r->cap) {
        size_t cap = (r->cap + count) * 2 + 64;
        void *t = realloc(r->v, cap * r->esz);
        if (!t) return ws_fail(WS_ENOMEM, "out of memory");
        r->v = t;
        r->cap = cap;
    }
    memcpy((char *)r->v + r->n * r->esz, data, count * r->esz);
    r->n += count;
    r->off[++r->k] = (int64_t)r->n;
    return 0;
}

static int rag_write(ws_h5file *f, const char *name, const ragged *r, int dt)
{
    char p[256];
    int64_t n = (int64_t)r->n, k = r->k + 1;
    snprintf(p, sizeof p, "/tokenizer/%s_values", name);
    int rc = ws_h5_write_raw(f, p, dt, 1, &n, r->v ? r->v : "");
    snprintf(p, sizeof p, "/tokenizer/%s_offsets", name);
    return rc ? rc : ws_h5_write_raw(f, p, WS_I64, 1, &k, r->off);
}

/* /preprocess and the image side of /image: the official load_image transform
 * (RandomResize([short_side], max_size) at the input's /config@transform_short_side and
 * transform_max_size; the released 800/1333 scaled down in the golden), Swin, the input
 * projections. */
static int image_side(const ws_gdino *m, const ws_h5file *in, ws_h5file *out, ws_scope *gs, ws_gdino_image_out *iop,
                      ws_gdino_levels *lvp)
{
    ws_array img = {0};
    ws_scope g;
    uint8_t *rs = NULL;
    float *x = NULL;
    int rc, oh = 0, ow = 0;
    ws_scope_init(&g);
    long short_side = 0, max_size = 0;
    TRY(ws_verify_attr_int(in, "/config", "transform_short_side", 0, 0, &short_side));
    TRY(ws_verify_attr_int(in, "/config", "transform_max_size", 0, 0, &max_size));
    TRY(ws_h5_read(in, "/input/image_rgb", WS_U8, &img));
    const int H = (int)img.shape[0], W = (int)img.shape[1];
    TRY(ws_gdino_transform(img.data, H, W, (int)short_side, (int)max_size, &oh, &ow, &x, &rs));
    const int64_t s3[3] = {oh, ow, 3}, c3[3] = {3, oh, ow}, i4[4] = {1, 3, oh, ow};
    TRY(ws_h5_write_raw(out, "/preprocess/resized_uint8", WS_U8, 3, s3, rs));
    TRY(ws_h5_write_raw(out, "/preprocess/image", WS_F32, 3, c3, x));
    ws_gdino_image_out io;
    TRY(ws_gdino_image(m, gs, ws_g_from_data(gs, x, WS_AT_F32, 4, i4), &io));
    *iop = io;
    char p[128];
    TRY(ws_h5_put_tensor(out, "/image/swin/patch_embed", io.patch_embed));
    ws_gdino_levels lv;
    TRY(ws_gdino_levels_of(m, gs, &io, &lv));
    *lvp = lv;
    const int64_t l2[2] = {4, 2}, l1[1] = {4};
    TRY(ws_h5_write_raw(out, "/image/spatial_shapes", WS_I64, 2, l2, lv.shapes));
    TRY(ws_h5_write_raw(out, "/image/level_start_index", WS_I64, 1, l1, lv.start));
    TRY(ws_h5_put_tensor(out, "/image/valid_ratios", lv.valid_ratios));
    TRY(ws_h5_put_tensor(out, "/image/lvl_pos_embed_flatten", lv.lvl_pos));
    TRY(ws_h5_put_tensor(out, "/image/encoder_reference_points", lv.ref_points));
    TRY(ws_h5_put_tensor(out, "/image/output_proposals", lv.proposals));
    TRY(ws_h5_put_tensor(out, "/image/proposal_valid", lv.proposal_valid));
    uint8_t *zero = calloc((size_t)oh * ow, 1);
    if (!zero) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    rc = ws_h5_write_raw(out, "/image/mask", WS_U8, 3, (int64_t[3]){1, oh, ow}, zero);
    free(zero);
    if (rc) goto cleanup;
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "/image/pos/level_%d", i);
        TRY(ws_h5_put_tensor(out, p, lv.pos[i]));
        snprintf(p, sizeof p, "/image/masks/level_%d", i);
        TRY(ws_h5_put_tensor(out, p, lv.masks[i]));
        snprintf(p, sizeof p, "/image/swin/stage_%d", i);
        TRY(ws_h5_put_tensor(out, p, io.stage[i]));
        snprintf(p, sizeof p, "/image/srcs/level_%d", i);
        TRY(ws_h5_put_tensor(out, p, io.srcs[i]));
        if (i < 3) {
            snprintf(p, sizeof p, "/image/swin/out_%d", i);
            TRY(ws_h5_put_tensor(out, p, io.out[i]));
        }
    }
cleanup:
    ws_array_free(&img);
    ws_scope_free(&g);
    free(rs);
    free(x);
    return rc;
}

/* /wide_proposals: the proposals' +inf path on the synthetic layout of /input/wide_proposals. */
static int wide_proposals(const ws_h5file *in, ws_h5file *out)
{
    ws_array sh = {0}, mem = {0}, pad = {0};
    int rc;
    TRY(ws_h5_read(in, "/input/wide_proposals/spatial_shapes", WS_I64, &sh));
    TRY(ws_h5_read(in, "/input/wide_proposals/memory", WS_F32, &mem));
    TRY(ws_h5_read(in, "/input/wide_proposals/padding_mask", WS_U8, &pad));
    const int64_t N = mem.shape[1], C = mem.shape[2], levels = sh.shape[0];
    float *prop = malloc((size_t)N * 4 * sizeof *prop);
    uint8_t *valid = malloc((size_t)N);
    if (!prop || !valid) { free(prop); free(valid); rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    ws_gdino_proposals((const int64_t (*)[2])sh.data, (int)levels, pad.data, prop, valid);
    float *mm = mem.data;
    for (int64_t i = 0; i < N; i++)
        if (!valid[i]) for (int64_t c = 0; c < C; c++) mm[i * C + c] = 0.0f;
    const int64_t p3[3] = {1, N, 4};
    rc = ws_h5_write_raw(out, "/wide_proposals/output_proposals", WS_F32, 3, p3, prop);
    if (!rc) rc = ws_h5_write(out, "/wide_proposals/output_memory", &mem);
    free(prop);
    free(valid);
cleanup:
    ws_array_free(&sh);
    ws_array_free(&mem);
    ws_array_free(&pad);
    return rc;
}

/* torch.stack along a new dim 0. */
static ws_at_tensor ws_g_stack_(ws_scope *g, ws_at_tensor *ts, int n)
{
    ws_at_tensor u[9];
    for (int i = 0; i < n && i < 9; i++) u[i] = ws_g_unsqueeze(g, ts[i], 0);
    return ws_g_cat(g, u, n, 0);
}

/* /case/<name>/predict/<setting>: predict() for every setting group of the input's
 * /case/<name>/predict, at the box_threshold and text_threshold attributes it carries. */
static int predict_settings(const ws_wordpiece *w, const ws_h5file *in, ws_h5file *out, const char *name,
                            ws_at_tensor logits, ws_at_tensor boxes, const int32_t *ids, int L)
{
    char **settings = NULL;
    size_t ns = 0;
    int64_t ls[3];
    int nd = 0, rc = 0;
    if (ws_at_shape(logits, ls, 3, &nd)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    const int Q = (int)ls[1], T = (int)ls[2];
    float *lg = malloc((size_t)Q * T * sizeof *lg), *bx = malloc((size_t)Q * 4 * sizeof *bx);
    float *sc = malloc((size_t)Q * sizeof *sc), *kb = malloc((size_t)Q * 4 * sizeof *kb);
    int64_t *keep = malloc((size_t)Q * sizeof *keep);
    char **ph = calloc((size_t)Q, sizeof *ph), p[256];
    snprintf(p, sizeof p, "/case/%s/predict", name);
    if ((rc = ws_verify_subgroups(in, p, &settings, &ns))) goto cleanup;
    if (!lg || !bx || !sc || !kb || !keep || !ph || ws_at_read(logits, lg, (size_t)Q * T * sizeof *lg) ||
        ws_at_read(boxes, bx, (size_t)Q * 4 * sizeof *bx)) { rc = ws_fail(WS_ENOMEM, "predict: %s", ws_at_last_error()); goto cleanup; }
    for (size_t s = 0; s < ns && !rc; s++) {
        double bt, tt;
        snprintf(p, sizeof p, "/case/%s/predict/%s", name, settings[s]);
        TRY(ws_h5_attr_double(in, p, "box_threshold", &bt));
        TRY(ws_h5_attr_double(in, p, "text_threshold", &tt));
        for (int rcmb = 0; rcmb < 2 && !rc; rcmb++) {
            int n = ws_gdino_predict(w, lg, bx, Q, T, ids, L, bt, tt, rcmb, keep, sc, kb, ph);
            if (n < 0) { rc = n; break; }
            const int64_t n1 = n, n4[2] = {n, 4};
            snprintf(p, sizeof p, "/case/%s/predict/%s/%s", name, settings[s], rcmb ? "phrases_remove_combined" : "phrases");
            rc = ws_h5_write_strings(out, p, ph, (size_t)n);
            if (!rc && !rcmb) {
                snprintf(p, sizeof p, "/case/%s/predict/%s/query_index", name, settings[s]);
                rc = ws_h5_write_raw(out, p, WS_I64, 1, &n1, keep);
                snprintf(p, sizeof p, "/case/%s/predict/%s/logits", name, settings[s]);
                if (!rc) rc = ws_h5_write_raw(out, p, WS_F32, 1, &n1, sc);
                snprintf(p, sizeof p, "/case/%s/predict/%s/boxes", name, settings[s]);
                if (!rc) rc = ws_h5_write_raw(out, p, WS_F32, 2, n4, kb);
            }
            for (int i = 0; i < n; i++) { free(ph[i]); ph[i] = NULL; }
        }
    }
cleanup:
    free(lg); free(bx); free(sc); free(kb); free(keep); free(ph);
    ws_h5_strings_free(settings, ns);
    return rc;
}

typedef struct { const char *n; ws_at_tensor t; } named_tensor;

/* Writes each tensor of items[0..n) at /case/<name>/<sub><item name>. */
static int put_items(ws_h5file *out, const char *name, const char *sub, const named_tensor *items, size_t n)
{
    char p[256];
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        snprintf(p, sizeof p, "/case/%s/%s%s", name, sub, items[k].n);
        rc = ws_h5_put_tensor(out, p, items[k].t);
    }
    return rc;
}

/* cate_to_token_mask (P, L): row p marks the tokens between the p-th pair of delimiters (CLS,
 * SEP, '.', '?'), a delimiter at either end of the sequence closing no phrase. Returns P. */
static int cate_to_token(const ws_wordpiece *w, const int32_t *ids, size_t L, uint8_t *c2t)
{
    int64_t dot = -1, qm = -1;   /* the delimiter ids of this vocabulary (1012, 1029 in BERT's) */
    ws_strmap_get(&w->vocab, ".", 1, &dot);
    ws_strmap_get(&w->vocab, "?", 1, &qm);
    int P = 0, prev = 0;
    for (int c = 0; c < (int)L; c++) {
        int special = ids[c] == w->cls || ids[c] == w->sep || ids[c] == dot || ids[c] == qm;
        if (!special) continue;
        if (c != 0 && c != (int)L - 1) {
            for (int k = prev + 1; k < c; k++) c2t[(size_t)P * L + k] = 1;
            P++;
        }
        prev = c;
    }
    return P;
}

/* /case/<name>/text, the tokenizer side: the caption, its preprocessed form cap, the word pieces
 * and the BERT inputs (ids, token types, attention mask, self-attention mask, positions) with
 * the phrase mask. */
static int text_inputs(const ws_wordpiece *w, ws_h5file *out, const char *name, const char *caption, char *cap,
                       const int32_t *ids, size_t L, const uint8_t *mask, const int64_t *pos)
{
    char p[256], **pieces = calloc(L, sizeof *pieces);
    int32_t *zeros = calloc(L, sizeof *zeros);
    uint8_t *ones = malloc(L), *c2t = calloc(L * L, 1);
    int rc;
    if (!zeros || !ones || !c2t || !pieces) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    memset(ones, 1, L);
    const int P = cate_to_token(w, ids, L, c2t);
    for (size_t i = 0; i < L; i++) pieces[i] = w->tokens[ids[i]];
    const int64_t s2[2] = {1, (int64_t)L}, s3[3] = {1, (int64_t)L, (int64_t)L}, sp[3] = {1, P, (int64_t)L};
    char *capv[1] = {(char *)caption}, *prep[1] = {cap};
#define OUT(field, dt, nd, sh, d) snprintf(p, sizeof p, "/case/%s/text/%s", name, field); TRY(ws_h5_write_raw(out, p, dt, nd, sh, d))
    snprintf(p, sizeof p, "/case/%s/text/caption", name);
    TRY(ws_h5_write_strings(out, p, capv, 1));
    snprintf(p, sizeof p, "/case/%s/text/caption_preprocessed", name);
    TRY(ws_h5_write_strings(out, p, prep, 1));
    snprintf(p, sizeof p, "/case/%s/text/wordpieces", name);
    TRY(ws_h5_write_strings(out, p, pieces, L));
    OUT("input_ids", WS_I32, 2, s2, ids);
    OUT("token_type_ids", WS_I32, 2, s2, zeros);
    OUT("attention_mask", WS_U8, 2, s2, ones);
    OUT("text_self_attention_mask", WS_U8, 3, s3, mask);
    OUT("position_ids", WS_I64, 2, s2, pos);
    OUT("cate_to_token_mask", WS_U8, 3, sp, c2t);
#undef OUT
cleanup:
    free(zeros); free(ones); free(c2t); free(pieces);
    return rc;
}

/* /case/<name>/encoder: the fusion encoder over the image levels and the encoded text, with the
 * trace of each layer; its memories are returned in g. */
static int encoder_case(const ws_gdino *m, ws_scope *g, ws_h5file *out, const char *name, const ws_gdino_image_out *img,
                        const ws_gdino_levels *lv, ws_at_tensor text, ws_at_tensor pt, ws_at_tensor tm,
                        ws_at_tensor *mem, ws_at_tensor *memt)
{
    ws_gdino_enc_trace tr;
    char sub[64];
    int rc;
    memset(&tr, 0, sizeof tr);
    if ((rc = ws_gdino_encode(m, g, img, lv, text, pt, tm, mem, memt, &tr))) return rc;
    for (int i = 0; i < m->enc_layers && i < 8 && !rc; i++) {
        const named_tensor it[] = {
            {"fusion_vision", tr.fusion_v[i]}, {"fusion_text", tr.fusion_l[i]}, {"text_enhancer", tr.text[i]},
            {"deformable_self_attn", tr.deform_attn[i]}, {"deformable", tr.deform[i]}};
        snprintf(sub, sizeof sub, "encoder/layer_%d/", i);
        rc = put_items(out, name, sub, it, sizeof it / sizeof it[0]);
    }
    const named_tensor mems[] = {{"memory", *mem}, {"memory_text", *memt}};
    return rc ? rc : put_items(out, name, "encoder/", mems, 2);
}

/* The trace of each decoder layer, /case/<name>/decoder/layer_<i>. */
static int decoder_layers(const ws_gdino *m, ws_h5file *out, const char *name, const ws_gdino_dec_trace *dt)
{
    char sub[64];
    int rc = 0;
    for (int i = 0; i < m->dec_layers && i < 8 && !rc; i++) {
        const named_tensor it[] = {
            {"reference_points_input", dt->ref_in[i]}, {"query_sine_embed", dt->sine[i]}, {"query_pos", dt->qpos[i]},
            {"self_attn_out", dt->sa[i]}, {"after_self_attn", dt->after_sa[i]}, {"text_cross_attn_out", dt->ct[i]},
            {"after_text_cross_attn", dt->after_ct[i]}, {"image_cross_attn_out", dt->ia[i]},
            {"after_image_cross_attn", dt->after_ia[i]}, {"output", dt->out[i]}, {"bbox_delta", dt->delta[i]}};
        snprintf(sub, sizeof sub, "decoder/layer_%d/", i);
        rc = put_items(out, name, sub, it, sizeof it / sizeof it[0]);
    }
    return rc;
}

/* The two-stage selection, the decoder and its outputs, /case/<name>/{two_stage,output,decoder},
 * and predict() at each setting (written before the decoder layers, as the golden's order). */
static int decoder_case(const ws_gdino *m, const ws_wordpiece *w, const ws_h5file *in, ws_h5file *out, ws_scope *g,
                        const char *name, const ws_gdino_levels *lv, ws_at_tensor mem, ws_at_tensor memt,
                        const int32_t *ids, size_t L)
{
    ws_at_tensor logits = NULL, boxes = NULL;
    ws_gdino_dec_trace dt;
    int rc;
    if ((rc = ws_gdino_decode(m, g, lv, mem, memt, &logits, &boxes, &dt))) return rc;
    const named_tensor ts[] = {
        {"two_stage/output_memory", dt.output_memory}, {"two_stage/enc_outputs_class", dt.enc_class},
        {"two_stage/topk_logits", dt.topk_logits}, {"two_stage/topk_indices", dt.topk_indices},
        {"two_stage/topk_scores", dt.topk_scores}, {"two_stage/enc_bbox_delta", dt.enc_delta},
        {"two_stage/enc_outputs_coord_unselected", dt.enc_coord}, {"two_stage/refpoint_embed", dt.refpoint},
        {"two_stage/init_box_proposal", dt.init_box}, {"output/pred_logits", logits}, {"output/pred_boxes", boxes},
        {"decoder/reference_points", ws_g_stack_(g, dt.ref, m->dec_layers + 1)},
        {"decoder/hs", ws_g_stack_(g, dt.hs, m->dec_layers)},
        {"decoder/outputs_coord", ws_g_stack_(g, dt.coord, m->dec_layers)},
        {"decoder/outputs_class", ws_g_stack_(g, dt.cls, m->dec_layers)}};
    if ((rc = put_items(out, name, "", ts, sizeof ts / sizeof ts[0]))) return rc;
    if ((rc = predict_settings(w, in, out, name, logits, boxes, ids, (int)L))) return rc;
    return decoder_layers(m, out, name, &dt);
}

/* The model side of one caption case: BERT (/case/<name>/text), the text positions and, with
 * an image, the encoder and decoder; the BERT layers last. */
static int model_case(const ws_gdino *m, const ws_wordpiece *w, const ws_h5file *in, ws_h5file *out, const char *name,
                      const int32_t *ids, const int64_t *pos, const uint8_t *mask, size_t L,
                      const ws_gdino_image_out *img, const ws_gdino_levels *lv)
{
    ws_scope g;
    ws_gdino_text_out to = {0};
    char p[256];
    int rc;
    ws_scope_init(&g);
    const int64_t s2[2] = {1, (int64_t)L}, mm[2] = {(int64_t)L, (int64_t)L};
    ws_at_tensor ti = ws_g_from_data(&g, ids, WS_AT_I32, 2, s2), tp = ws_g_from_data(&g, pos, WS_AT_I64, 2, s2);
    ws_at_tensor tm = ws_g_from_data(&g, mask, WS_AT_U8, 2, mm);
    TRY(g.err);
    TRY(ws_gdino_text(m, &g, ti, tp, tm, &to));
    const named_tensor items[] = {
        {"bert_extended_attention_mask", to.ext_mask}, {"bert_embeddings", to.embeddings}, {"encoded_text", to.encoded}};
    TRY(put_items(out, name, "text/", items, sizeof items / sizeof items[0]));
    ws_at_tensor pt = ws_gdino_text_pos(&g, pos, (int)L);
    const named_tensor pos_text[] = {{"pos_text", pt}};
    TRY(put_items(out, name, "encoder/", pos_text, 1));
    if (img && lv) {
        ws_at_tensor mem = NULL, memt = NULL;
        TRY(encoder_case(m, &g, out, name, img, lv, to.encoded, pt, tm, &mem, &memt));
        TRY(decoder_case(m, w, in, out, &g, name, lv, mem, memt, ids, L));
    }
    for (int i = 0; i < m->bert.n_layers; i++) {
        snprintf(p, sizeof p, "/case/%s/text/bert_layer_%d", name, i);
        TRY(ws_h5_put_tensor(out, p, to.layers[i]));
    }
cleanup:
    ws_gdino_text_out_free(&to);
    ws_scope_free(&g);
    return rc;
}

/* One /input/captions case: the tokenizer side always, the model side with a model (m). */
static int text_case(const ws_gdino *m, const ws_wordpiece *w, ws_h5file *out, const char *name, const char *caption,
                     const ws_gdino_image_out *img, const ws_gdino_levels *lv, const ws_h5file *in)
{
    char *cap = ws_gdino_caption(caption);
    int32_t *ids = NULL;
    size_t L = 0;
    uint8_t *mask = NULL;
    int64_t *pos = NULL;
    int rc = cap ? ws_wordpiece_encode(w, cap, &ids, &L) : ws_fail(WS_ENOMEM, "out of memory");
    if (rc) goto cleanup;
    mask = malloc(L * L);
    pos = malloc(L * sizeof *pos);
    if (!mask || !pos) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    ws_gdino_text_masks(w, ids, (int)L, mask, pos);
    TRY(text_inputs(w, out, name, caption, cap, ids, L, mask, pos));
    if (m) rc = model_case(m, w, in, out, name, ids, pos, mask, L, img, lv);
cleanup:
    free(cap); free(ids); free(mask); free(pos);
    return rc;
}

/* The /tokenizer outputs of n strings: word pieces, decoded text and caption of each, and the
 * ragged input ids, caption ids, caption position ids and caption self-attention masks. */
typedef struct tok_dump {
    char **pieces, **decoded, **caps;   /* n each */
    size_t n;
    ragged ids, cids, cpos, cmask;
} tok_dump;

static int tok_init(tok_dump *t, size_t n)
{
    *t = (tok_dump){.n = n, .ids = {.esz = 4}, .cids = {.esz = 4}, .cpos = {.esz = 8}, .cmask = {.esz = 1}};
    t->pieces = calloc(n + 1, sizeof *t->pieces);
    t->decoded = calloc(n + 1, sizeof *t->decoded);
    t->caps = calloc(n + 1, sizeof *t->caps);
    t->ids.off = calloc(n + 1, 8); t->cids.off = calloc(n + 1, 8); t->cpos.off = calloc(n + 1, 8); t->cmask.off = calloc(n + 1, 8);
    if (!t->pieces || !t->decoded || !t->caps || !t->ids.off || !t->cids.off || !t->cpos.off || !t->cmask.off)
        return ws_fail(WS_ENOMEM, "out of memory");
    return 0;
}

static void tok_free(tok_dump *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->pieces) free(t->pieces[i]);
        if (t->decoded) free(t->decoded[i]);
        if (t->caps) free(t->caps[i]);
    }
    free(t->pieces); free(t->decoded); free(t->caps);
    free(t->ids.v); free(t->ids.off); free(t->cids.v); free(t->cids.off);
    free(t->cpos.v); free(t->cpos.off); free(t->cmask.v); free(t->cmask.off);
}

/* String i of the dump: its pieces, ids (decoded without CLS and SEP), the caption made from it
 * and the caption's ids, positions and self-attention mask. */
static int tok_add(const ws_wordpiece *w, const char *s, size_t i, tok_dump *t)
{
    int32_t *v = NULL, *cv = NULL;
    size_t nv = 0, nc = 0;
    uint8_t *mask = NULL;
    int64_t *pos = NULL;
    int rc;
    TRY(ws_wordpiece_encode(w, s, &v, &nv));
    t->pieces[i] = ws_wordpiece_pieces(w, s);
    t->decoded[i] = ws_wordpiece_decode(w, v + 1, nv - 2);
    t->caps[i] = ws_gdino_caption(s);
    if (!t->pieces[i] || !t->decoded[i] || !t->caps[i]) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    TRY(rag_add(&t->ids, v, nv));
    TRY(ws_wordpiece_encode(w, t->caps[i], &cv, &nc));
    mask = malloc(nc * nc);
    pos = malloc(nc * sizeof *pos);
    if (!mask || !pos) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    ws_gdino_text_masks(w, cv, (int)nc, mask, pos);
    TRY(rag_add(&t->cids, cv, nc));
    TRY(rag_add(&t->cpos, pos, nc));
    rc = rag_add(&t->cmask, mask, nc * nc);
cleanup:
    free(v); free(cv); free(mask); free(pos);
    return rc;
}

/* /tokenizer: the WordPiece outputs of each of strs[0..n). */
static int tokenizer_side(const ws_wordpiece *w, char **strs, size_t n, ws_h5file *out)
{
    tok_dump t;
    int rc = tok_init(&t, n);
    for (size_t i = 0; i < n && !rc; i++) rc = tok_add(w, strs[i], i, &t);
    if (rc) goto cleanup;
    TRY(ws_h5_write_strings(out, "/tokenizer/wordpieces", t.pieces, n));
    TRY(ws_h5_write_strings(out, "/tokenizer/decoded", t.decoded, n));
    TRY(ws_h5_write_strings(out, "/tokenizer/caption", t.caps, n));
    TRY(rag_write(out, "input_ids", &t.ids, WS_I32));
    TRY(rag_write(out, "caption_input_ids", &t.cids, WS_I32));
    TRY(rag_write(out, "caption_position_ids", &t.cpos, WS_I64));
    TRY(rag_write(out, "caption_self_attention_mask", &t.cmask, WS_U8));
cleanup:
    tok_free(&t);
    return rc;
}

/* The checkpoint manifest of the model at path. */
static int model_manifest(ws_h5file *out, const char *path)
{
    ws_at_ckpt ck = NULL;
    if (ws_at_ckpt_open(path, &ck)) return ws_fail(WS_EFORMAT, "%s", ws_at_last_error());
    int rc = ws_verify_manifest(out, ck);
    ws_at_ckpt_close(ck);
    return rc;
}

/* Every /input/captions case (named by /input/case_names): with --model, the image side once
 * (when the input has /input/image_rgb) and the model outputs of each case. */
static int caption_cases(const ws_verify_args *a, const ws_wordpiece *w, const ws_h5file *in, ws_h5file *out)
{
    char **caps_in = NULL, **names = NULL;
    size_t nc = 0, nn = 0;
    ws_gdino m = {0};
    ws_scope gs;
    ws_gdino_image_out io;
    ws_gdino_levels lv;
    int have_img = 0;
    ws_scope_init(&gs);
    int rc = ws_h5_read_strings(in, "/input/captions", &caps_in, &nc);
    if (!rc) rc = ws_h5_read_strings(in, "/input/case_names", &names, &nn);
    if (!rc && a->model) rc = ws_gdino_load(&m, a->model, a->bert_config);
    if (!rc && a->model && ws_h5_exists(in, "/input/image_rgb")) rc = image_side(&m, in, out, &gs, &io, &lv), have_img = !rc;
    for (size_t i = 0; !rc && i < nc && i < nn; i++)
        rc = text_case(a->model ? &m : NULL, w, out, names[i], caps_in[i], have_img ? &io : NULL, have_img ? &lv : NULL, in);
    ws_scope_free(&gs);
    ws_gdino_free(&m);
    ws_h5_strings_free(caps_in, nc);
    ws_h5_strings_free(names, nn);
    return rc;
}

int ws_verify_gdino(const ws_verify_args *a)
{
    ws_wordpiece w = {0};
    ws_h5file in = {0}, out = {0};
    char **strs = NULL;
    size_t n = 0;
    int rc;
    if (!a->vocab) return ws_fail(WS_EINVAL, "dump gdino needs --vocab (BERT vocab.txt)");
    TRY(ws_wordpiece_load(&w, a->vocab));
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_h5_read_strings(&in, "/tokenizer/strings", &strs, &n));
    TRY(ws_h5_create(&out, a->output));
    TRY(tokenizer_side(&w, strs, n, &out));
    if (ws_h5_exists(&in, "/input/wide_proposals")) TRY(wide_proposals(&in, &out));
    if (a->model) TRY(model_manifest(&out, a->model));
    if (ws_h5_exists(&in, "/input/captions")) TRY(caption_cases(a, &w, &in, &out));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_h5_strings_free(strs, n);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_wordpiece_free(&w);
    return rc;
}

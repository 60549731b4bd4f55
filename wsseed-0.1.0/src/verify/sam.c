/* sam.c - `wsseed dump sam`: every SAM output of sam_tiny_ref.h5 from its inputs.
 *
 * Inputs: /preprocess/image_uint8 (the decoded photo), the prompts group (points, labels, box,
 * mask prompt in model coordinates) and the predictor prompts (in image coordinates).
 * Outputs: /checkpoint/<file>, /preprocess, /image_encoder, /prompt_encoder, /decoder/<case>,
 * /predictor. The decoder head count comes from /config/decoder_transformer_num_heads when the
 * input file has it (it is not stored in checkpoints), else 8 as in the released models.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "model/sam.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

static int put(ws_h5file *f, ws_scope *g, const char *name, ws_at_tensor t)
{
    if (g->err) return g->err;
    return ws_h5_put_tensor(f, name, t);
}

static int putf(ws_h5file *f, ws_scope *g, ws_at_tensor t, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int putf(ws_h5file *f, ws_scope *g, ws_at_tensor t, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return put(f, g, name, t);
}

/* A failed read poisons the scope instead of returning an error: the following graph calls become no-ops and
 * the first error is reported once, which keeps the straight-line prompt code free of checks. */
static ws_at_tensor get(const ws_h5file *in, ws_scope *g, const char *name, int dtype)
{
    ws_at_tensor t = NULL;
    if (g->err) return NULL;
    int rc = ws_h5_get_tensor(in, name, dtype, &t);
    if (rc) { ws_scope_poison(g, rc); return NULL; }
    return ws_scope_adopt(g, t);
}

static ws_at_tensor reshape(ws_scope *g, ws_at_tensor t, int nd, const int64_t *s) { return ws_g_reshape(g, t, nd, s); }

typedef struct { const char *name; int points, box, mask; } prompt_case;

/* One /decoder/<case> group (both multimask settings) and its /prompt_encoder/<case> inputs. */
static int dump_case(const ws_sam *m, const ws_h5file *in, ws_h5file *out, ws_at_tensor emb, const prompt_case *c,
                     int rh, int rw, int oh, int ow)
{
    ws_scope g;
    ws_scope_init(&g);
    /* as many point prompts as the input holds: (n, 2) coordinates and n labels */
    int64_t np = 0, nl = 0;
    ws_at_tensor pts = c->points ? get(in, &g, "/prompts/points_model", WS_AT_F32) : NULL;
    ws_at_tensor lab = c->points ? get(in, &g, "/prompts/labels", WS_AT_I32) : NULL;
    if (pts && lab && !g.err && (ws_at_numel(pts, &np) || ws_at_numel(lab, &nl) || np != 2 * nl))
        ws_scope_poison(&g, ws_fail(WS_ESHAPE, "%s: /prompts/points_model must be (n, 2) for the n /prompts/labels",
                                    in->path));
    const int64_t p3[3] = {1, nl, 2}, l2[2] = {1, nl}, b2[2] = {1, 4};
    pts = pts ? reshape(&g, pts, 3, p3) : NULL;
    lab = lab ? reshape(&g, lab, 2, l2) : NULL;
    ws_at_tensor box = c->box ? reshape(&g, get(in, &g, "/prompts/box_model", WS_AT_F32), 2, b2) : NULL;
    ws_at_tensor mask = c->mask ? get(in, &g, "/prompts/mask_input", WS_AT_F32) : NULL;
    ws_at_tensor sparse = NULL, dense = NULL;
    int rc = g.err;
    if (!rc) rc = ws_sam_prompt(m, &g, pts, lab, box, mask, &sparse, &dense);
    if (!rc) rc = putf(out, &g, sparse, "/prompt_encoder/%s/sparse", c->name);
    if (!rc) rc = putf(out, &g, dense, "/prompt_encoder/%s/dense", c->name);
    /* Both multimask settings per case, as SamPredictor offers them: multimask 1 returns the three level
     * masks, 0 the single-mask token, and they take different output rows. */
    for (int mm = 1; !rc && mm >= 0; mm--) {
        ws_sam_dec_out d;
        if ((rc = ws_sam_decode(m, &g, emb, sparse, dense, mm, &d))) break;
        if (mm) {   /* the transformer does not depend on the multimask switch */
            if ((rc = putf(out, &g, d.hs, "/decoder/%s/transformer_hs", c->name))) break;
            if ((rc = putf(out, &g, d.keys, "/decoder/%s/transformer_keys", c->name))) break;
            if ((rc = putf(out, &g, d.upscaled, "/decoder/%s/upscaled_embedding", c->name))) break;
        }
        ws_at_tensor full = ws_sam_postprocess(m, &g, d.masks, rh, rw, oh, ow);
        ws_at_tensor bin = ws_g_to_dtype(&g, ws_g_scalar_op(&g, WS_AT_GT, full, 0.0), WS_AT_U8);
        if ((rc = putf(out, &g, d.masks, "/decoder/%s/multimask_%d/low_res_logits", c->name, mm))) break;
        if ((rc = putf(out, &g, d.iou, "/decoder/%s/multimask_%d/iou_predictions", c->name, mm))) break;
        if ((rc = putf(out, &g, bin, "/decoder/%s/multimask_%d/masks_binary", c->name, mm))) break;
        /* the full-resolution logits of every case (the golden has those of points/multimask_0):
         * they let a comparer accept binary flips exactly where our own logit is about 0 */
        if ((rc = putf(out, &g, full, "/decoder/%s/multimask_%d/masks_logits", c->name, mm))) break;
        if (!strcmp(c->name, "points")) {
            ws_at_tensor up = ws_g_interpolate(&g, d.masks, WS_AT_INTERP_BILINEAR, m->img_size, m->img_size, 0);
            if ((rc = putf(out, &g, up, "/decoder/points/multimask_%d/upscaled_128", mm))) break;
        }
    }
    ws_scope_free(&g);
    return rc;
}

/* SamPredictor.predict with prompts in original-image pixels (apply_coords in float64). */
static int dump_predictor(const ws_sam *m, const ws_h5file *in, ws_h5file *out, ws_at_tensor emb, int rh, int rw,
                          int oh, int ow)
{
    int rc = 0;
    /* ResizeLongestSide.apply_coords scales original-image coordinates to the resized frame in float64 before
     * the model sees float32: done the same way here so rounding matches. */
    const double sx = (double)rw / ow, sy = (double)rh / oh;
    for (int k = 0; k < 2 && !rc; k++) {
        const char *grp = k == 0 ? "point" : "box";
        char name[128];
        snprintf(name, sizeof name, "/predictor/%s/%s", grp, k == 0 ? "point_coords" : "box");
        if (!ws_h5_exists(in, name)) continue;
        ws_scope g;
        ws_scope_init(&g);
        ws_array a = {0};
        if ((rc = ws_h5_read(in, name, WS_F64, &a))) { ws_scope_free(&g); break; }
        int64_t n = ws_array_numel(&a);
        float *v = malloc((size_t)n * sizeof *v);
        for (int64_t i = 0; v && i < n; i++) v[i] = (float)(((double *)a.data)[i] * (i % 2 ? sy : sx));
        ws_array_free(&a);
        ws_at_tensor pts = NULL, lab = NULL, box = NULL, sparse = NULL, dense = NULL;
        if (k == 0) {
            const int64_t p3[3] = {1, n / 2, 2}, l2[2] = {1, n / 2};
            pts = ws_g_from_data(&g, v, WS_AT_F32, 3, p3);
            snprintf(name, sizeof name, "/predictor/point/point_labels");
            lab = reshape(&g, get(in, &g, name, WS_AT_I32), 2, l2);
        } else {
            const int64_t b2[2] = {1, 4};
            box = ws_g_from_data(&g, v, WS_AT_F32, 2, b2);
        }
        free(v);
        ws_sam_dec_out d;
        rc = g.err;
        if (!rc) rc = ws_sam_prompt(m, &g, pts, lab, box, NULL, &sparse, &dense);
        if (!rc) rc = ws_sam_decode(m, &g, emb, sparse, dense, k == 0, &d);
        if (!rc) {
            ws_at_tensor full = ws_sam_postprocess(m, &g, d.masks, rh, rw, oh, ow);
            ws_at_tensor bin = ws_g_to_dtype(&g, ws_g_scalar_op(&g, WS_AT_GT, full, 0.0), WS_AT_U8);
            rc = putf(out, &g, ws_g_select(&g, bin, 0, 0), "/predictor/%s/masks", grp);
            if (!rc) rc = putf(out, &g, ws_g_select(&g, full, 0, 0), "/predictor/%s/masks_logits", grp);
            if (!rc) rc = putf(out, &g, ws_g_select(&g, d.iou, 0, 0), "/predictor/%s/scores", grp);
            if (!rc) rc = putf(out, &g, ws_g_select(&g, d.masks, 0, 0), "/predictor/%s/low_res_logits", grp);
        }
        ws_scope_free(&g);
    }
    return rc;
}

static int dump_encoder(const ws_sam *m, const ws_h5file *in, ws_h5file *out, ws_scope *g, ws_at_tensor *emb,
                        int *rh, int *rw, int *oh, int *ow)
{
    ws_array img = {0};
    int rc = ws_h5_read(in, "/preprocess/image_uint8", WS_U8, &img);
    if (rc) return rc;
    if (img.ndim != 3 || img.shape[2] != 3) {
        ws_array_free(&img);
        return ws_fail(WS_ESHAPE, "/preprocess/image_uint8 must be (H, W, 3) uint8");
    }
    *oh = (int)img.shape[0];
    *ow = (int)img.shape[1];
    ws_at_tensor x = ws_sam_preprocess(m, g, img.data, *oh, *ow, rh, rw);
    ws_array_free(&img);
    ws_sam_enc_trace tr = {0};
    tr.norm1 = calloc((size_t)m->depth, sizeof(ws_at_tensor));
    tr.attn_out = calloc((size_t)m->depth, sizeof(ws_at_tensor));
    tr.output = calloc((size_t)m->depth, sizeof(ws_at_tensor));
    if (!tr.norm1 || !tr.attn_out || !tr.output) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    *emb = ws_sam_encode(m, g, x, &tr);
    /* the resized image: undo the normalisation of the unpadded part */
    ws_at_tensor rs = ws_g_slice(g, ws_g_slice(g, ws_g_select(g, x, 0, 0), 1, 0, *rh), 2, 0, *rw);
    rs = ws_g_add(g, ws_g_mul(g, rs, m->pixel_std), m->pixel_mean);
    const int64_t hwc[3] = {1, 2, 0};
    /* floor(x + 0.5) rounds the de-normalised floats back to the exact uint8 values the resize produced (the
     * normalisation error is far below 0.5), so the resize is compared exactly. */
    rs = ws_g_to_dtype(g, ws_g_unary(g, WS_AT_FLOOR, ws_g_scalar_op(g, WS_AT_ADD, ws_g_permute(g, rs, 3, hwc), 0.5)), WS_AT_U8);
    TRY(put(out, g, "/preprocess/resized_uint8", rs));
    TRY(put(out, g, "/preprocess/input_normalized_padded", x));
    TRY(put(out, g, "/image_encoder/patch_embed", tr.patch_embed));
    TRY(put(out, g, "/image_encoder/pos_embed_added", tr.pos_added));
    for (int i = 0; i < m->depth; i++) {
        TRY(putf(out, g, tr.norm1[i], "/image_encoder/block_%d/norm1", i));
        TRY(putf(out, g, tr.attn_out[i], "/image_encoder/block_%d/attn_out", i));
        TRY(putf(out, g, tr.output[i], "/image_encoder/block_%d/output", i));
    }
    /* The neck's four layers (conv, LayerNorm2d, conv, LayerNorm2d) separately, so a difference after the
     * last block is placed in the neck or before it. */
    for (int i = 0; i < 4; i++) TRY(putf(out, g, tr.neck[i], "/image_encoder/neck_%d", i));
    TRY(put(out, g, "/image_encoder/image_embedding", *emb));
    TRY(put(out, g, "/prompt_encoder/dense_pe", ws_sam_dense_pe(m, g)));
cleanup:
    free(tr.norm1);
    free(tr.attn_out);
    free(tr.output);
    return rc ? rc : g->err;
}

int ws_verify_sam(const ws_verify_args *a)
{
    ws_at_ckpt ck = NULL;
    ws_sam m = {0};
    ws_h5file in = {0}, out = {0};
    ws_scope g;
    ws_at_tensor emb = NULL;
    long heads = 0;
    int rc, rh = 0, rw = 0, oh = 0, ow = 0;
    ws_scope_init(&g);
    TRY(ws_h5_open(&in, a->input));
    /* optional: 0 lets ws_sam_load take the released models' 8 heads */
    TRY(ws_verify_attr_int(&in, "/config", "decoder_transformer_num_heads", 1, 0, &heads));
    TRY(ws_sam_load(&m, a->model, (int)heads));
    if (ws_at_ckpt_open(a->model, &ck)) { rc = ws_fail(WS_EFORMAT, "%s", ws_at_last_error()); goto cleanup; }
    TRY(ws_h5_create(&out, a->output));
    TRY(ws_verify_manifest(&out, ck));
    TRY(dump_encoder(&m, &in, &out, &g, &emb, &rh, &rw, &oh, &ow));
    /* Every combination the prompt encoder treats differently: points alone get a padding point, a box adds
     * corner tokens, a mask prompt replaces the no-mask embedding. */
    static const prompt_case cases[] = {{"points", 1, 0, 0}, {"box", 0, 1, 0}, {"box_points", 1, 1, 0},
                                        {"mask", 0, 0, 1}, {"points_mask", 1, 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) TRY(dump_case(&m, &in, &out, emb, &cases[i], rh, rw, oh, ow));
    TRY(dump_predictor(&m, &in, &out, emb, rh, rw, oh, ow));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_scope_free(&g);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_sam_free(&m);
    ws_at_ckpt_close(ck);
    return rc;
}

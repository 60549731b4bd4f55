/* boxsam.c - `wsseed dump boxsam`: the boxed-SAM seed mode of boxed_sam_ref.h5 on a SAM
 * checkpoint, from the detector outputs of each class (/class_<k>/{pred_logits, pred_boxes}):
 * box filter (/config@box_threshold), pixel boxes, SamPredictor boxes, one SAM mask per box
 * (mask token 0; the decoder head count from /config@decoder_transformer_num_heads, optional,
 * default 8), and the label map by the per-pixel max rule. With --vocab (BERT vocab.txt) also
 * the phrases: get_phrases_from_posmap over the caption of /input/prompts[k] (tokens whose sigmoid
 * exceeds the config's text_threshold, [CLS] excluded, "." kept) + "(" + str(score)[:4] + ")".
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "method/boxseed.h"
#include "model/sam.h"
#include "model/wordpiece.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* Python's str(float): the shortest decimal that reads back to the same double. */
static void py_float_str(double v, char *buf, size_t cap)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e')) strncat(buf, ".0", cap - strlen(buf) - 1);
}

/* pred_phrases of the kept queries of one class. */
static int phrases(const ws_wordpiece *w, const char *prompt, const float *logits, int T, const int64_t *keep,
                   const float *score, int n, double text_thresh, ws_h5file *out, int k)
{
    char *cap = ws_gdino_caption(prompt), **ph = calloc((size_t)(n ? n : 1), sizeof *ph), p[64];
    int32_t *ids = NULL, *sel = NULL;
    size_t L = 0;
    int rc = cap && ph ? ws_wordpiece_encode(w, cap, &ids, &L) : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !(sel = malloc((L ? L : 1) * sizeof *sel))) rc = ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        const float *row = logits + (size_t)keep[i] * T;
        size_t ns = 0;
        /* get_phrases_from_posmap's window: position 0 ([CLS]) is excluded and positions past the caption's
         * tokens are never text, so the scan stops at the shorter of the two. */
        for (int j = 1; j < T && j < 255 && (size_t)j < L; j++)   /* left_idx 0, right_idx 255 */
            if (1.0f / (1.0f + expf(-row[j])) > text_thresh) sel[ns++] = ids[j];
        char *d = ws_wordpiece_decode(w, sel, ns), num[40];
        py_float_str((double)score[i], num, sizeof num);
        if (!d || !(ph[i] = malloc(strlen(d) + 8))) { free(d); rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        /* The phrase format of Grounding-DINO's demo: f"{phrase}({str(logit.max().item())[:4]})", string
         * slicing included, hence str(float) above. */
        sprintf(ph[i], "%s(%.4s)", d, num);
        free(d);
    }
    snprintf(p, sizeof p, "/class_%d/pred_phrases", k);
    if (!rc) rc = ws_h5_write_strings(out, p, ph, (size_t)n);
    for (int i = 0; ph && i < n; i++) free(ph[i]);
    free(ph); free(cap); free(ids); free(sel);
    return rc;
}

/* Appends the n masks of one class (mask i at mk + i*hw, borrowed) to the growing list *bm: the
 * masks of every class stay until the composition. */
static int keep_masks(ws_boxmask **bm, int *nbm, int *cap, uint8_t *mk, int n, size_t hw, int value,
                      const float *score, const float *iou)
{
    if (*nbm + n > *cap) {
        ws_boxmask *nb = realloc(*bm, (size_t)(*nbm + n) * 2 * sizeof *nb);
        if (!nb) return ws_fail(WS_ENOMEM, "out of memory");
        *bm = nb;
        *cap = (*nbm + n) * 2;
    }
    for (int i = 0; i < n; i++)
        (*bm)[(*nbm)++] = (ws_boxmask){.mask = mk + (size_t)i * hw, .value = value, .score = score[i], .iou = iou[i]};
    return 0;
}

/* One class: filter, boxes, SAM; masks kept for the composition. */
static int boxsam_class(const ws_sam *m, const ws_h5file *in, ws_h5file *out, ws_at_tensor emb, int k, int rh, int rw,
                        int H, int W, double thresh, int value, ws_boxmask **bm, int *nbm, int *cap, uint8_t **store,
                        const ws_wordpiece *w, const char *prompt, double text_thresh)
{
    char p[256];
    ws_array lg = {0}, bx = {0};
    int rc;
    snprintf(p, sizeof p, "/class_%d/pred_logits", k);
    TRY(ws_h5_read(in, p, WS_F32, &lg));
    snprintf(p, sizeof p, "/class_%d/pred_boxes", k);
    TRY(ws_h5_read(in, p, WS_F32, &bx));
    const int Q = (int)lg.shape[1], T = (int)lg.shape[2];
    int64_t *keep = malloc((size_t)Q * sizeof *keep);
    float *score = malloc((size_t)Q * sizeof *score), *cxcy = malloc((size_t)Q * 4 * sizeof *cxcy);
    float *xyxy = malloc((size_t)Q * 4 * sizeof *xyxy), *sam = malloc((size_t)Q * 4 * sizeof *sam);
    if (!keep || !score || !cxcy || !xyxy || !sam) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    /* Queries whose max token score (sigmoid) exceeds box_threshold, in query order, each with that max as
     * its score. */
    int n = ws_box_filter(lg.data, Q, T, thresh, keep, score);
    for (int i = 0; i < n; i++) memcpy(cxcy + 4 * i, (float *)bx.data + 4 * keep[i], 4 * sizeof(float));
    ws_box_to_pixels(cxcy, n, W, H, xyxy);
    /* The box as SamPredictor.predict feeds it (apply_boxes to the resized frame): written so the transform
     * is compared on its own. */
    ws_box_to_sam_frame(xyxy, n, H, W, rh, rw, sam);
    const int64_t n1[1] = {n}, n4[2] = {n, 4};
    snprintf(p, sizeof p, "/class_%d/query_index", k);
    if ((rc = ws_h5_write_raw(out, p, WS_I64, 1, n1, keep))) goto done;
    snprintf(p, sizeof p, "/class_%d/scores", k);
    if ((rc = ws_h5_write_raw(out, p, WS_F32, 1, n1, score))) goto done;
    snprintf(p, sizeof p, "/class_%d/boxes_cxcywh", k);
    if ((rc = ws_h5_write_raw(out, p, WS_F32, 2, n4, cxcy))) goto done;
    snprintf(p, sizeof p, "/class_%d/boxes_xyxy", k);
    if ((rc = ws_h5_write_raw(out, p, WS_F32, 2, n4, xyxy))) goto done;
    snprintf(p, sizeof p, "/class_%d/boxes_sam", k);
    if ((rc = ws_h5_write_raw(out, p, WS_F32, 2, n4, sam))) goto done;
    if (w && (rc = phrases(w, prompt, lg.data, T, keep, score, n, text_thresh, out, k))) goto done;
    if (n > 0) {   /* the library path wsseed boxseed runs */
        const int64_t L = 4 * m->grid, m3[3] = {n, H, W}, l3[3] = {n, L, L};
        uint8_t *mk = malloc((size_t)n * H * W);
        float *iv = malloc((size_t)n * sizeof *iv), *lr = malloc((size_t)(n * L * L) * sizeof *lr);
        rc = mk && iv && lr ? ws_boxseed_sam(m, emb, rh, rw, H, W, xyxy, n, mk, iv, lr) : ws_fail(WS_ENOMEM, "out of memory");
        snprintf(p, sizeof p, "/class_%d/masks", k);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 3, m3, mk);
        snprintf(p, sizeof p, "/class_%d/iou_predictions", k);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_F32, 1, n1, iv);
        snprintf(p, sizeof p, "/class_%d/low_res_logits", k);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_F32, 3, l3, lr);
        free(lr);
        if (rc) { free(mk); free(iv); goto done; }
        store[k] = mk;
        rc = keep_masks(bm, nbm, cap, mk, n, (size_t)H * W, value, score, iv);
        free(iv);
        if (rc) goto done;
    }
done:
    free(keep); free(score); free(cxcy); free(xyxy); free(sam);
cleanup:
    ws_array_free(&lg);
    ws_array_free(&bx);
    return rc;
}

/* The /config settings: the box threshold, the SAM decoder's head count (not stored in a SAM
 * checkpoint: optional, 0 = the released models' 8) and SamPredictor's mask_threshold and
 * multimask_output, which the library path fixes at 0 and 0: other values are refused rather
 * than ignored. */
static int read_settings(const ws_h5file *in, long *heads, double *box_thresh)
{
    double mask_thr = 0;
    long multimask = 0;
    int rc = ws_verify_attr_int(in, "/config", "decoder_transformer_num_heads", 1, 0, heads);
    if (!rc) rc = ws_h5_attr_double(in, "/config", "box_threshold", box_thresh);
    if (!rc) rc = ws_verify_attr_num(in, "/config", "mask_threshold", 1, 0, &mask_thr);
    if (!rc) rc = ws_verify_attr_int(in, "/config", "multimask_output", 1, 0, &multimask);
    if (!rc && (mask_thr != 0 || multimask != 0))
        rc = ws_fail(WS_EFORMAT, "%s: /config mask_threshold = %g, multimask_output = %ld: the boxed-SAM seed mode "
                     "implements mask_threshold 0 with multimask_output 0 only", in->path, mask_thr, multimask);
    return rc;
}

int ws_verify_boxsam(const ws_verify_args *a)
{
    ws_sam m = {0};
    ws_h5file in = {0}, out = {0};
    ws_array img = {0}, ids = {0};
    ws_scope g;
    ws_boxmask *bm = NULL;
    uint8_t **store = NULL, *label = NULL;
    int nbm = 0, cap = 0, nc = 0, rc, rh = 0, rw = 0;
    double thresh = 0, text_thresh = 0.25;
    ws_wordpiece wp = {0};
    char **prompts = NULL;
    size_t np = 0;
    ws_scope_init(&g);
    long heads = 0;
    if (a->vocab) TRY(ws_wordpiece_load(&wp, a->vocab));
    TRY(ws_h5_open(&in, a->input));
    TRY(read_settings(&in, &heads, &thresh));
    TRY(ws_sam_load(&m, a->model, (int)heads));
    TRY(ws_h5_read(&in, "/input/image_rgb", WS_U8, &img));
    TRY(ws_h5_read(&in, "/input/class_ids", WS_I64, &ids));
    if (a->vocab) {
        TRY(ws_h5_attr_double(&in, "/config", "text_threshold", &text_thresh));
        TRY(ws_h5_read_strings(&in, "/input/prompts", &prompts, &np));
    }
    TRY(ws_h5_create(&out, a->output));
    const int H = (int)img.shape[0], W = (int)img.shape[1];
    nc = (int)ids.shape[0];
    ws_at_tensor x = ws_sam_preprocess(&m, &g, img.data, H, W, &rh, &rw);
    ws_at_tensor emb = ws_sam_encode(&m, &g, x, NULL);
    TRY(g.err);
    /* One embedding for every class's boxes, as the stage computes it once per image. */
    TRY(ws_h5_put_tensor(&out, "/sam/image_embedding", emb));
    if (!(store = calloc((size_t)nc + 1, sizeof *store))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (int k = 0; k < nc; k++)
        TRY(boxsam_class(&m, &in, &out, emb, k, rh, rw, H, W, thresh, (int)((int64_t *)ids.data)[k] + 1, &bm, &nbm, &cap, store,
                         a->vocab && (size_t)k < np ? &wp : NULL, (size_t)k < np ? prompts[k] : "", text_thresh));
    if (!(label = malloc((size_t)H * W))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    /* The golden file is made by the closest implementation, whose overlap rule is the per-pixel max of class
     * + 1 (np.maximum): maxid, not the stage's default score rule. */
    TRY(ws_boxseed_compose(bm, nbm, H, W, WS_OVERLAP_MAXID, label));
    TRY(ws_h5_write_raw(&out, "/label_map", WS_U8, 2, (int64_t[2]){H, W}, label));
    TRY(ws_h5_commit(&out));
cleanup:
    for (int k = 0; store && k < nc; k++) free(store[k]);
    free(store);
    free(bm);
    free(label);
    ws_array_free(&img);
    ws_array_free(&ids);
    ws_scope_free(&g);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_sam_free(&m);
    ws_wordpiece_free(&wp);
    ws_h5_strings_free(prompts, np);
    return rc;
}

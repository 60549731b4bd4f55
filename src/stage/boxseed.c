/* boxseed.c - the boxseed stage of the boxed-SAM mode: SAM prompted with every box of the box
 * store (one mask per box, multimask off, one image embedding per image), the masks composed into
 * a label map by boxseed.overlap, optional sanity filters and ignore band, 8-bit palette PNGs.
 * Existing PNGs are kept (each lands atomically), so an interrupted run continues.
 *
 * Owns the per-image body and the composition of one image's masks; the settings are the boxes
 * stage's (stage/boxes.h), since both halves of the mode read one section. The closest
 * implementation is sam_text_input_voc.py (method-gdino-boxed-sam.md §2, §5).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "shim/rank.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/boxstore.h"
#include "method/boxseed.h"
#include "model/sam.h"
#include "shim/scope.h"
#include "stage/boxes.h"
#include "stage/imagecheck.h"
#include "stage/runtime.h"

typedef struct boxseed_counts { int empty; long dropped; } boxseed_counts;

/* Masks of the n boxes of r on image img -> label (H, W): filters, composition, ignore band. */
static int compose(const ws_boxes_settings *s, const ws_sam *sam, const ws_box_rec *r, const ws_image *img, int n_fg,
                   int ov, const char *store, const char *id, uint8_t *label, boxseed_counts *k)
{
    const int n = r->n, H = img->h, W = img->w;
    uint8_t *masks = malloc((size_t)n * H * W);
    float *iou = malloc((size_t)n * sizeof *iou);
    ws_boxmask *bm = malloc((size_t)n * sizeof *bm);
    int rc = !masks || !iou || !bm ? ws_fail(WS_ENOMEM, "out of memory") : 0, rh = 0, rw = 0, kept = 0;
    ws_scope g;
    ws_scope_init(&g);
    /* One image embedding for all boxes of the image (the official set_image once per image): the encoder is
     * nearly all the cost, the decoder per box is cheap. */
    ws_at_tensor emb = rc ? NULL : ws_sam_encode(sam, &g, ws_sam_preprocess(sam, &g, img->rgb, H, W, &rh, &rw), NULL);
    if (!rc && g.err) rc = ws_fail(g.err, "SAM on %s: %s", id, ws_last_error());
    if (!rc) rc = ws_boxseed_sam(sam, emb, rh, rw, H, W, r->xyxy, n, masks, iou, NULL);
    for (int q = 0; !rc && q < n; q++) {
        const int64_t c = r->cls[q];
        const float *b = r->xyxy + 4 * q;
        const uint8_t *mk = masks + (size_t)q * H * W;
        /* A class outside the dataset's table means the store was made for another dataset: fail naming the
         * store instead of writing a wrong label value. */
        if (c < 0 || c >= n_fg) { rc = ws_fail(WS_EINVAL, "%s: image %s: class %lld out of range", store, id, (long long)c); break; }
        long area = 0;
        /* The mask area is counted only when the min_mask_frac filter is on (both filters are off by default,
         * for comparability with the closest implementation). */
        for (size_t p = 0; s->min_mask_frac > 0 && p < (size_t)H * W; p++) area += mk[p];
        if (ws_box_too_large(b, H, W, s->max_box_frac) || ws_mask_too_small(b, area, s->min_mask_frac)) { k->dropped++; continue; }
        /* Label value class + 1 (0 is background); the box score and SAM's IoU estimate are kept for
         * overlap=score, which ranks overlapping masks by their product. */
        bm[kept++] = (ws_boxmask){.mask = mk, .value = (int)c + 1, .score = r->score[q], .iou = iou[q]};
    }
    if (!rc) rc = ws_boxseed_compose(bm, kept, H, W, ov, label);
    /* The ignore band goes on after the composition because it marks pixels where two classes' masks nearly
     * tie, which only the composed scores reveal. */
    if (!rc) rc = ws_boxseed_ignore_band(bm, kept, H, W, s->ignore_band, s->ignore_delta, label);
    ws_scope_free(&g);
    free(bm); free(masks); free(iou);
    return rc;
}

/* The per-image body: image i of ds -> its seed PNG at path. */
static int boxseed_image(const ws_boxes_settings *s, const ws_sam *sam, const ws_h5file *f, const ws_dataset *ds, int i,
                         int n_fg, int ov, const char *path, const uint8_t *pal, boxseed_counts *k)
{
    const char *id = ds->ids[i];
    ws_box_rec r = {0};
    ws_image img = {0};
    uint8_t *label = NULL, fg[256];
    int rc = ws_boxstore_read(f, id, 0, &r);
    if (!rc) rc = ws_dataset_read(ds, i, &img, NULL, fg, 0);
    if (!rc && !(label = calloc((size_t)img.h * img.w, 1))) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && r.n > 0) rc = compose(s, sam, &r, &img, n_fg, ov, f->path, id, label, k);
    /* no box: background as the closest implementation saves it, or ignore (boxseed.ignore_empty) */
    k->empty += !rc && r.n == 0;
    if (!rc && r.n == 0 && s->ignore_empty) memset(label, 255, (size_t)img.h * img.w);
    if (!rc) rc = ws_png_write_u8(path, label, img.w, img.h, pal);
    ws_box_rec_free(&r);
    ws_image_free(&img);
    free(label);
    return rc;
}

int ws_stage_boxseed(const ws_boxes_settings *s)
{
    char store[2 * WS_CFG_STR_MAX], out[2 * WS_CFG_STR_MAX], path[4096];
    ws_dataset ds = {0};
    ws_sam sam = {0};
    ws_h5file f = {0};
    uint8_t pal[768];
    boxseed_counts k = {0};
    int n_fg = 0, rc, done = 0, todo = 0;
    /* maxid (the higher class index wins, np.maximum in the closest implementation) reproduces it; score is
     * the spec's proposed rule. */
    const int ov = !strcmp(s->overlap, "maxid") ? WS_OVERLAP_MAXID : !strcmp(s->overlap, "score") ? WS_OVERLAP_SCORE : -1;
    ws_boxes_outputs(s, store, sizeof store, out, sizeof out);
    ws_voc_palette(pal);
    /* Checked before SAM is loaded: a typo should fail in a second, not after minutes of loading. */
    if (ov < 0) return ws_fail(WS_EINVAL, "boxseed.overlap: '%s' is not maxid or score", s->overlap);
    if ((rc = ws_stage_set_runtime(&s->runtime)) || (rc = ws_boxes_check(s))) return rc;
    if ((rc = ws_boxes_open_dataset(s, &ds, &n_fg))) goto cleanup;
    if ((rc = ws_boxstore_open(&f, store))) goto cleanup;
    if ((rc = ws_sam_open(&sam, s->model.sam, s->model.decoder_heads))) goto cleanup;
    if ((rc = ws_mkdir_p(out))) goto cleanup;
    int share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    unsigned char *want = calloc((size_t)(ds.n > 0 ? ds.n : 1), 1);
    if (!want) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (int i = share_i; i < ds.n; i += share_n) {
        snprintf(path, sizeof path, "%s/%s.png", out, ds.ids[i]);
        todo += want[i] = access(path, F_OK) != 0;
    }
    /* The images to seed, checked by their headers before SAM runs on the first (imagecheck.h). */
    const ws_sam_need_ctx nc = {sam.img_size, 1};
    char input[96];
    snprintf(input, sizeof input, "SAM's longest-side resize to %d", sam.img_size);
    rc = ws_stage_check_dataset(&ds, want, &(ws_image_need){.input = input, .step = "a SAM mask at image size",
                                .advice = "leave them out of the split", .fn = ws_stage_sam_need, .ctx = &nc});
    free(want);
    if (rc) goto cleanup;
    ws_log("boxed-SAM seeds of %d images (%d done before), overlap %s -> %s", todo, ds.n - todo, s->overlap, out);
    ws_progress pg;
    ws_progress_start(&pg, "boxseed", s->max_images >= 0 && s->max_images < todo ? s->max_images : todo);
    ws_at_guard inf = NULL;
    ws_at_inference_mode_enter(1, NULL, &inf);   /* frozen models: no autograd bookkeeping */
    for (int i = share_i; i < ds.n && (s->max_images < 0 || done < s->max_images); i += share_n) {
        snprintf(path, sizeof path, "%s/%s.png", out, ds.ids[i]);
        if (!access(path, F_OK)) continue;
        if ((rc = boxseed_image(s, &sam, &f, &ds, i, n_fg, ov, path, pal, &k))) break;
        done++;
        ws_progress_step(&pg, 1, NULL);
    }
    ws_at_guard_exit(inf);
    /* every rank's PNGs are there before any rank says done */
    if ((rc = ws_rank_agree(rc, "boxseed"))) goto cleanup;
    ws_progress_end(&pg);
    if (k.empty)
        ws_log("warning: %d images had no box and are all %s", k.empty,
               s->ignore_empty ? "255 (boxseed.ignore_empty)" : "background (as the closest implementation saves them)");
    if (k.dropped) ws_log("%ld boxes dropped by boxseed.max_box_frac / min_mask_frac", k.dropped);
    /* the job's result, said once: the seeds of all ranks */
    float all = (float)done;
    if ((rc = ws_rank_sum_f32(&all, 1, "boxseed"))) goto cleanup;
    if (ws_rank_id() == 0) ws_log("done: %d seeds in %s (evaluate: wsseed eval %s --gt <label maps>)", (int)all, out, out);
cleanup:
    ws_h5_close(&f);
    ws_sam_free(&sam);
    ws_dataset_close(&ds);
    return rc;
}

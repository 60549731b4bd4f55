/* export.c - the export stage: stores and checkpoints to the files other tools read.
 *
 * Mask store (`wsseed masks export`):
 *   --png DIR    DIR/<id>/<i>.png (mask x 255, 8-bit grey) + DIR/<id>/metadata.csv, the layout of
 *                segment-anything's scripts/amg.py that the SAM-enhanced (seed-002) code reads
 *   --coco FILE  COCO-style JSON: images, annotations with uncompressed RLE segmentations
 *                (iscrowd 1) plus the generator's fields (level, scores, point, crop box)
 * Checkpoint (`wsseed export-ctx`): the learned prompt context as a PyTorch state dict
 * {'prompt_learner.ctx'}, what the official FMA-WSSS code loads.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stage/export.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "data/image.h"
#include "data/rle.h"
#include "io/ckpt.h"
#include "io/h5.h"
#include "io/h5tensor.h"
#include "io/store.h"
#include "shim/at.h"

/* Python's repr of a float: the shortest digits that read back as the same double, in fixed
 * notation for exponents -4..15 as Python prints them; "nan" / "NaN" (JSON) for NaN. */
static void pyfloat_mode(double v, char *buf, size_t cap, int json)
{
    if (isnan(v)) { snprintf(buf, cap, "%s", json ? "NaN" : "nan"); return; }
    if (isinf(v)) { snprintf(buf, cap, "%s%s", v < 0 ? "-" : "", json ? "Infinity" : "inf"); return; }
    int d = 1;
    char e[64];
    for (; d <= 17; d++) {
        snprintf(e, sizeof e, "%.*e", d - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    int exp10 = atoi(strchr(e, 'e') + 1);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = d - 1 - exp10;
        snprintf(buf, cap, "%.*f", decimals > 0 ? decimals : 0, v);
        if (!strchr(buf, '.')) strncat(buf, ".0", cap - strlen(buf) - 1);
    } else {
        snprintf(buf, cap, "%s", e);
    }
}

/* metadata.csv is to read like the file amg.py writes, whose floats are Python's str(); JSON has
 * no nan/inf literals, so the COCO file uses the spellings Python's json module writes and reads. */
static void pyfloat(double v, char *buf, size_t cap) { pyfloat_mode(v, buf, cap, 0); }
static void jsfloat(double v, char *buf, size_t cap) { pyfloat_mode(v, buf, cap, 1); }

static int export_png(const char *store, char **ids, int n, const char *dir)
{
    int rc = 0;
    /* Every file through core/fs's atomic writer (the PNGs by ws_png_write_u8): a kill or a full disk
     * leaves whole files only, and an image's folder is complete once its metadata.csv (written last)
     * is there. */
    if ((rc = ws_mkdir_p(dir))) return rc;
    ws_progress bar;
    ws_progress_start(&bar, "export", n);
    for (int i = 0; i < n && !rc; i++) {
        ws_mask_set s;
        char p[4200], f[4400];
        if ((rc = ws_store_read(store, ids[i], &s))) break;
        snprintf(p, sizeof p, "%s/%s", dir, ids[i]);
        if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = ws_fail(WS_EIO, "cannot create %s", p);
        uint8_t *m = rc ? NULL : malloc((size_t)s.H * s.W);
        if (!rc && !m) rc = ws_fail(WS_ENOMEM, "out of memory");
        char csv_path[4400], csv_tmp[4500];
        snprintf(csv_path, sizeof csv_path, "%s/metadata.csv", p);
        FILE *csv = rc ? NULL : ws_fs_open_tmp(csv_path, csv_tmp, sizeof csv_tmp);
        if (!rc && !csv) rc = WS_EIO;
        /* The header and column order of write_masks_to_folder in segment-anything's scripts/amg.py, and
         * <i>.png with 255 = inside: seed-002's merge code reads every *.png of the folder as mask == 255. */
        if (csv) fprintf(csv, "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,"
                              "stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n");
        for (int k = 0; k < s.n && !rc; k++) {
            const ws_mask_rec *r = &s.r[k];
            char px[64], py[64], iou[64], st[64];
            snprintf(f, sizeof f, "%s/%d.png", p, k);
            /* No palette: an 8-bit grey PNG of 0/255, as amg.py writes mask * 255. */
            if ((rc = ws_rle_decode(r->rle, r->n_rle, s.H, s.W, 255, m)) || (rc = ws_png_write_u8(f, m, s.W, s.H, NULL))) break;
            pyfloat(r->point[0], px, sizeof px);
            pyfloat(r->point[1], py, sizeof py);
            pyfloat(r->iou, iou, sizeof iou);
            pyfloat(r->stability, st, sizeof st);
            fprintf(csv, "%d,%lld,%lld,%lld,%lld,%lld,%s,%s,%s,%s,%lld,%lld,%lld,%lld\n", k, (long long)r->area,
                    (long long)r->bbox[0], (long long)r->bbox[1], (long long)r->bbox[2], (long long)r->bbox[3], px, py,
                    iou, st, (long long)r->crop_box[0], (long long)r->crop_box[1], (long long)r->crop_box[2],
                    (long long)r->crop_box[3]);
        }
        if (csv && !rc) rc = ws_fs_commit_file(csv, csv_tmp, csv_path);
        else if (csv) { fclose(csv); remove(csv_tmp); }
        free(m);
        ws_mask_set_free(&s);
        ws_progress_step(&bar, 1, NULL);
    }
    ws_progress_end(&bar);
    return rc;
}

static int export_coco(const char *store, char **ids, int n, const char *path)
{
    char tmp[4200];
    int rc0 = ws_mkdir_parent(path);
    if (rc0) return rc0;
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    int rc = 0;
    long ann = 1;
    /* Streamed rather than built in memory, since a split's counts can be large; hence two passes over the
     * store (the images array, then the annotations). One category: SAM masks are class-agnostic. */
    fprintf(f, "{\"info\": {\"description\": \"SAM masks exported by wsseed from %s\"},\n \"categories\": [{\"id\": 1, \"name\": \"mask\"}],\n \"images\": [", store);
    for (int i = 0; i < n && !rc; i++) {
        ws_mask_set s;
        if ((rc = ws_store_read(store, ids[i], &s))) break;
        fprintf(f, "%s\n  {\"id\": %d, \"file_name\": \"%s.jpg\", \"height\": %d, \"width\": %d}", i ? "," : "", i + 1, ids[i], s.H, s.W);
        ws_mask_set_free(&s);
    }
    fprintf(f, "],\n \"annotations\": [");
    for (int i = 0; i < n && !rc; i++) {
        ws_mask_set s;
        if ((rc = ws_store_read(store, ids[i], &s))) break;
        for (int k = 0; k < s.n; k++) {
            const ws_mask_rec *r = &s.r[k];
            char a[64], b[64], c[64], d[64];
            jsfloat(r->iou, a, sizeof a);
            jsfloat(r->stability, b, sizeof b);
            jsfloat(r->point[0], c, sizeof c);
            jsfloat(r->point[1], d, sizeof d);
            /* iscrowd 1 with counts as a list is COCO's uncompressed RLE: column-major run lengths starting
             * with a background run, which pycocotools decodes directly (the store keeps the counts in that
             * form, so nothing is re-encoded). */
            fprintf(f, "%s\n  {\"id\": %ld, \"image_id\": %d, \"category_id\": 1, \"iscrowd\": 1, \"area\": %lld, "
                       "\"bbox\": [%lld, %lld, %lld, %lld], \"level\": %lld, \"predicted_iou\": %s, \"stability_score\": %s, "
                       "\"point_coords\": [[%s, %s]], \"crop_box\": [%lld, %lld, %lld, %lld], "
                       "\"segmentation\": {\"size\": [%d, %d], \"counts\": [",
                    ann > 1 ? "," : "", ann, i + 1, (long long)r->area, (long long)r->bbox[0], (long long)r->bbox[1],
                    (long long)r->bbox[2], (long long)r->bbox[3], (long long)r->level, a, b, c, d,
                    (long long)r->crop_box[0], (long long)r->crop_box[1], (long long)r->crop_box[2], (long long)r->crop_box[3],
                    s.H, s.W);
            ann++;
            for (int j = 0; j < r->n_rle; j++) fprintf(f, "%s%lld", j ? ", " : "", (long long)r->rle[j]);
            fprintf(f, "]}}");
        }
        ws_mask_set_free(&s);
    }
    fprintf(f, "]\n}\n");
    /* A failed export leaves no half JSON under the final name. */
    if (rc) { fclose(f); remove(tmp); return rc; }
    return ws_fs_commit_file(f, tmp, path);
}

int ws_stage_masks_export(const char *store, const char *png, const char *coco)
{
    char **ids = NULL;
    int n = 0, rc = ws_store_ids(store, &ids, &n);
    if (!rc && png) rc = export_png(store, ids, n, png);
    if (!rc && coco) rc = export_coco(store, ids, n, coco);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

int ws_stage_export_ctx(const char *ckpt, const char *out_pth)
{
    ws_ckpt k;
    ws_at_ckpt out = NULL;
    ws_at_tensor t = NULL;
    int rc = ws_ckpt_read(ckpt, &k);
    if (rc) return rc;
    /* Only the context vectors: the official checkpoints hold nothing else (the rest of the prompt learner is
     * rebuilt from CLIP and the class names), so this file loads where theirs do. */
    if ((rc = ws_tensor_from_array(&k.ctx, "prompt_learner.ctx", &t))) goto cleanup;
    void *bytes = NULL;
    size_t len = 0;
    if (ws_at_ckpt_new(out_pth, &out) || ws_at_ckpt_add(out, "prompt_learner.ctx", t) || ws_at_ckpt_pickle(out, &bytes, &len))
        rc = ws_fail(WS_ETORCH, "%s: %s", out_pth, ws_at_last_error());
    if (!rc) rc = ws_fs_write_atomic(out_pth, bytes, len);
    free(bytes);
cleanup:
    ws_at_free(t);
    ws_at_ckpt_close(out);
    ws_ckpt_free(&k);
    return rc;
}

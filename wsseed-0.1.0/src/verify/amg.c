/* amg.c - `wsseed dump amg`: the automatic mask generator runs of a golden file.
 *
 * For every group /amg/<run> of the input, its attributes are the generator settings (upstream
 * SAM keys, plus FMA-WSSS's score_thresh_offset, score_nms_offset, stability_score_bias,
 * rock_sand_water_thresh when present); the image is /preprocess/image_uint8 or
 * /input/image_rgb. Outputs per run: the records (RLE, bbox, area, scores, points, crop boxes,
 * levels), the crop boxes and point grids, every decoded mask's scores (prefilter) and, for
 * the level-aware generator, the stage snapshots. /input/rsw/<case> masks give
 * /rsw/<case>/kept_index (the rock-sand-water filter alone, at /rsw/<case>@rock_sand_water_thresh).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "data/rle.h"
#include "io/store.h"
#include "method/amg.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

static int wr(ws_h5file *f, int dtype, int nd, const int64_t *shape, const void *data, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int wr(ws_h5file *f, int dtype, int nd, const int64_t *shape, const void *data, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ws_h5_write_raw(f, name, dtype, nd, shape, data);
}

/* The generator settings of /amg/<run>: its attributes, each optional (absent = upstream
 * SamAutomaticMaskGenerator's default, as the golden README states for these groups); a present
 * attribute of the wrong size or a fractional integer setting is an error naming it, never a
 * silent default. */
static int read_cfg(const ws_h5file *f, const char *grp, ws_amg_cfg *c)
{
    static const struct { const char *key; size_t off; int is_int; } SCALARS[] = {
        {"points_per_side", offsetof(ws_amg_cfg, points_per_side), 1},
        {"points_per_batch", offsetof(ws_amg_cfg, points_per_batch), 1},
        {"pred_iou_thresh", offsetof(ws_amg_cfg, pred_iou_thresh), 0},
        {"stability_score_thresh", offsetof(ws_amg_cfg, stability_score_thresh), 0},
        {"stability_score_offset", offsetof(ws_amg_cfg, stability_score_offset), 0},
        {"box_nms_thresh", offsetof(ws_amg_cfg, box_nms_thresh), 0},
        {"crop_n_layers", offsetof(ws_amg_cfg, crop_n_layers), 1},
        {"crop_nms_thresh", offsetof(ws_amg_cfg, crop_nms_thresh), 0},
        {"crop_overlap_ratio", offsetof(ws_amg_cfg, crop_overlap_ratio), 0},
        {"crop_n_points_downscale_factor", offsetof(ws_amg_cfg, crop_n_points_downscale_factor), 1},
        {"min_mask_region_area", offsetof(ws_amg_cfg, min_mask_region_area), 1},
        {"rock_sand_water_thresh", offsetof(ws_amg_cfg, rock_sand_water_thresh), 0}};
    static const struct { const char *key; size_t off; } LEVELS[] = {   /* FMA-WSSS per-level triples */
        {"score_thresh_offset", offsetof(ws_amg_cfg, score_thresh_offset)},
        {"score_nms_offset", offsetof(ws_amg_cfg, score_nms_offset)},
        {"stability_score_bias", offsetof(ws_amg_cfg, stability_score_bias)}};
    char mode[32] = "";
    int rc = 0;
    /* Start from upstream SamAutomaticMaskGenerator's defaults, not FMA-WSSS's: a run group of the golden
     * file lists only what differs from the upstream constructor. */
    ws_amg_cfg_sam_default(c);
    for (size_t i = 0; i < sizeof SCALARS / sizeof SCALARS[0] && !rc; i++) {
        char *dst = (char *)c + SCALARS[i].off;
        long iv = 0;
        if (SCALARS[i].is_int) {
            rc = ws_verify_attr_int(f, grp, SCALARS[i].key, 1, *(int *)dst, &iv);
            *(int *)dst = (int)iv;
        } else {
            rc = ws_verify_attr_num(f, grp, SCALARS[i].key, 1, *(double *)dst, (double *)dst);
        }
    }
    for (size_t i = 0; i < sizeof LEVELS / sizeof LEVELS[0] && !rc; i++) {
        double v[3];
        /* Absent = the level-aware extensions are off (zeros), which makes the generator upstream's. */
        if (H5Aexists_by_name(f->id, grp, LEVELS[i].key, H5P_DEFAULT) <= 0) continue;
        if ((rc = ws_verify_attr_vec(f, grp, LEVELS[i].key, v, 3))) break;
        for (int k = 0; k < 3; k++) ((float *)((char *)c + LEVELS[i].off))[k] = (float)v[k];
    }
    /* the records are written as uncompressed RLEs: another output mode cannot be honoured */
    if (!rc && H5Aexists_by_name(f->id, grp, "output_mode", H5P_DEFAULT) > 0 &&
        !(rc = ws_h5_attr_string(f, grp, "output_mode", mode, sizeof mode)) && strcmp(mode, "uncompressed_rle"))
        rc = ws_fail(WS_EFORMAT, "%s: %s@output_mode is '%s'; dump amg writes 'uncompressed_rle' only", f->path, grp, mode);
    return rc;
}

/* RLE lists and per-record fields of a list of records under prefix. */
static int write_records(ws_h5file *out, const char *p, const ws_amg_list *l, int H, int W, int stage)
{
    int rc = 0, n = l->n;
    int64_t nn = n;
    /* the store's record type, borrowing the RLEs, so that one writer lays out the RLE lists */
    ws_mask_rec *view = calloc((size_t)n + 1, sizeof *view);
    int64_t *i64 = malloc(((size_t)n * 4 + 1) * sizeof *i64);
    float *f32 = malloc(((size_t)n + 1) * sizeof *f32);
    double *f64 = malloc(((size_t)n * 2 + 1) * sizeof *f64);
    if (!view || !i64 || !f32 || !f64) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (int i = 0; i < n; i++) { view[i].rle = l->r[i].rle; view[i].n_rle = l->r[i].n_rle; }
    const ws_mask_set set = {.H = H, .W = W, .n = n, .r = view};
    const int64_t s1[1] = {n}, s4[2] = {n, 4}, s2[2] = {n, 2};
    TRY(wr(out, WS_I64, 0, NULL, &nn, "%s/n_masks", p));
    TRY(ws_store_write_rles(out, p, &set));
#define FIELD(dtype, buf, shape, nd, expr, name) \
    do { for (int i = 0; i < n; i++) { expr; } TRY(wr(out, dtype, nd, shape, buf, "%s/%s", p, name)); } while (0)
    /* Stage snapshots use the generator's internal names and XYXY boxes (the MaskData fields of segment-
     * anything's amg.py before its final conversion); final records use the output names and XYWH boxes of
     * SamAutomaticMaskGenerator.generate(). */
    if (stage) {
        FIELD(WS_I64, i64, s4, 2, memcpy(i64 + 4 * i, l->r[i].box, 4 * sizeof *i64), "boxes_xyxy");
        FIELD(WS_I64, i64, s4, 2, memcpy(i64 + 4 * i, l->r[i].crop_box, 4 * sizeof *i64), "crop_boxes");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou, "iou_preds");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou_thresh, "iou_preds_thresh");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou_nms, "iou_preds_nms");
        FIELD(WS_F64, f64, s2, 2, (f64[2 * i] = l->r[i].point[0], f64[2 * i + 1] = l->r[i].point[1]), "points");
    } else {
        FIELD(WS_I64, i64, s2, 2, (i64[2 * i] = H, i64[2 * i + 1] = W), "rle_size");
        FIELD(WS_I64, i64, s4, 2, (i64[4 * i] = l->r[i].box[0], i64[4 * i + 1] = l->r[i].box[1],
                                   i64[4 * i + 2] = l->r[i].box[2] - l->r[i].box[0], i64[4 * i + 3] = l->r[i].box[3] - l->r[i].box[1]), "bbox");
        FIELD(WS_I64, i64, s1, 1, i64[i] = l->r[i].area, "area");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou, "predicted_iou");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou_thresh, "predicted_iou_thresh");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].iou_nms, "predicted_iou_nms");
        FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].stab_bias, "stability_score_bias");
        FIELD(WS_F64, f64, s2, 2, (f64[2 * i] = l->r[i].point[0], f64[2 * i + 1] = l->r[i].point[1]), "point_coords");
        FIELD(WS_I64, i64, s4, 2, (i64[4 * i] = l->r[i].crop_box[0], i64[4 * i + 1] = l->r[i].crop_box[1],
                                   i64[4 * i + 2] = l->r[i].crop_box[2] - l->r[i].crop_box[0],
                                   i64[4 * i + 3] = l->r[i].crop_box[3] - l->r[i].crop_box[1]), "crop_box");
    }
    FIELD(WS_I64, i64, s1, 1, i64[i] = l->r[i].level, "level");
    FIELD(WS_I64, i64, s1, 1, i64[i] = l->r[i].borderline, "borderline_pixels");
    FIELD(WS_F32, f32, s1, 1, f32[i] = l->r[i].stability, "stability_score");
#undef FIELD
cleanup:
    free(view);
    free(i64);
    free(f32);
    free(f64);
    return rc;
}

static int write_trace(ws_h5file *out, const char *p, const ws_amg_trace *t, const ws_amg_cfg *cfg, int H, int W)
{
    int rc = 0;
    const ws_amg_prefilter *pf = &t->pre;
    const int64_t k1[1] = {pf->n}, k2[2] = {pf->n, 2}, c1[1] = {t->n_crops}, c4[2] = {t->n_crops, 4};
    TRY(wr(out, WS_I64, 2, c4, t->crop_boxes, "%s/crop_boxes", p));
    TRY(wr(out, WS_I32, 1, c1, t->crop_layer, "%s/crop_layer", p));
    for (int l = 0; l <= cfg->crop_n_layers; l++) {
        /* Each crop layer's grid has points_per_side / downscale^layer points per side, as amg.py's
         * build_all_layer_point_grids. */
        int n = cfg->points_per_side;
        for (int k = 0; k < l; k++) n /= cfg->crop_n_points_downscale_factor;
        double *g = malloc((size_t)n * n * 2 * sizeof *g);
        if (!g) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
        ws_amg_point_grid(n, g);
        const int64_t gs[2] = {(int64_t)n * n, 2};
        rc = wr(out, WS_F64, 2, gs, g, "%s/point_grid_layer_%d", p, l);
        free(g);
        if (rc) goto cleanup;
    }
    TRY(wr(out, WS_I32, 1, k1, pf->crop_index, "%s/prefilter/crop_index", p));
    TRY(wr(out, WS_I32, 1, k1, pf->batch_index, "%s/prefilter/batch_index", p));
    TRY(wr(out, WS_I32, 1, k1, pf->point_in_batch, "%s/prefilter/point_in_batch", p));
    TRY(wr(out, WS_I32, 1, k1, pf->slot, "%s/prefilter/mask_slot", p));
    /* The level of a decoded mask is its multimask output slot (0, 1, 2: FMA-WSSS's level of the mask),
     * hence the same array under both names. */
    TRY(wr(out, WS_I32, 1, k1, pf->slot, "%s/prefilter/level", p));
    TRY(wr(out, WS_F32, 1, k1, pf->iou, "%s/prefilter/iou_preds", p));
    TRY(wr(out, WS_F32, 1, k1, pf->stability, "%s/prefilter/stability_score", p));
    TRY(wr(out, WS_F64, 2, k2, pf->point_crop, "%s/prefilter/point_crop_frame", p));
    TRY(wr(out, WS_F64, 2, k2, pf->point_model, "%s/prefilter/point_model_frame", p));
    /* The first batch alone, as (points, 3 masks): a small, order-checked slice that locates a mismatch
     * before the filters reorder anything. */
    int nb = pf->n < 3 * cfg->points_per_batch ? pf->n / 3 : cfg->points_per_batch;
    const int64_t fb[2] = {nb, 3};
    TRY(wr(out, WS_F32, 2, fb, pf->iou, "%s/prefilter_first_batch/iou_preds", p));
    TRY(wr(out, WS_F32, 2, fb, pf->stability, "%s/prefilter_first_batch/stability_score", p));
    char sp[512];
    snprintf(sp, sizeof sp, "%s/stage_generate", p);
    TRY(write_records(out, sp, &t->stage_generate, H, W, 1));
    if (cfg->min_mask_region_area > 0) {
        snprintf(sp, sizeof sp, "%s/stage_small_regions", p);
        TRY(write_records(out, sp, &t->stage_small_regions, H, W, 1));
    }
    if (cfg->rock_sand_water_thresh > 0) {
        snprintf(sp, sizeof sp, "%s/stage_rock_sand_water", p);
        TRY(write_records(out, sp, &t->stage_rsw, H, W, 1));
    }
cleanup:
    return rc;
}

static int dump_rsw(const ws_h5file *in, ws_h5file *out)
{
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (!ws_h5_exists(in, "/input/rsw")) return 0;
    if ((rc = ws_h5_list(in, "/input/rsw", &names, &n))) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *slash = strrchr(names[i], '/');
        /* One case per folder holding a "level" dataset: the listing gives every dataset, so cases are found
         * by one of their members. */
        if (!slash || strcmp(slash + 1, "level")) continue;
        *slash = '\0';
        char p[512];
        ws_array lv = {0}, vals = {0}, offs = {0}, size = {0};
        double thresh = 0;
        snprintf(p, sizeof p, "/rsw/%s", names[i]);   /* the case's setting: an attribute of its output group */
        rc = ws_verify_attr_num(in, p, "rock_sand_water_thresh", 0, 0, &thresh);
        snprintf(p, sizeof p, "/input/rsw/%s/level", names[i]);
        if (!rc) rc = ws_h5_read(in, p, WS_I64, &lv);
        snprintf(p, sizeof p, "/input/rsw/%s/rle_counts_values", names[i]);
        if (!rc) rc = ws_h5_read(in, p, WS_I64, &vals);
        snprintf(p, sizeof p, "/input/rsw/%s/rle_counts_offsets", names[i]);
        if (!rc) rc = ws_h5_read(in, p, WS_I64, &offs);
        snprintf(p, sizeof p, "/input/rsw/%s/rle_size", names[i]);
        if (!rc) rc = ws_h5_read(in, p, WS_I64, &size);
        int nm = (int)ws_array_numel(&lv);
        uint8_t **masks = calloc((size_t)nm + 1, sizeof *masks);
        int *levels = malloc(((size_t)nm + 1) * sizeof *levels), *keep = malloc(((size_t)nm + 1) * sizeof *keep), nk = 0;
        if (!rc && (!masks || !levels || !keep)) rc = ws_fail(WS_ENOMEM, "out of memory");
        const int64_t *sz = size.data, *of = offs.data;
        for (int k = 0; !rc && k < nm; k++) {
            int64_t H = sz[2 * k], W = sz[2 * k + 1];
            if (!(masks[k] = malloc((size_t)(H * W)))) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
            levels[k] = (int)((int64_t *)lv.data)[k];
            rc = ws_rle_decode((int64_t *)vals.data + of[k], of[k + 1] - of[k], H, W, 1, masks[k]);
        }
        /* The filter alone on given masks, so it is checked independently of SAM's numerics. */
        if (!rc && nm) rc = ws_amg_rock_sand_water(masks, levels, nm, sz[0] * sz[1], thresh, keep, &nk);
        if (!rc) {
            int64_t *k64 = malloc(((size_t)nk + 1) * sizeof *k64);
            for (int k = 0; k64 && k < nk; k++) k64[k] = keep[k];
            const int64_t s1[1] = {nk};
            rc = k64 ? wr(out, WS_I64, 1, s1, k64, "/rsw/%s/kept_index", names[i]) : ws_fail(WS_ENOMEM, "out of memory");
            free(k64);
        }
        for (int k = 0; masks && k < nm; k++) free(masks[k]);
        free(masks);
        free(levels);
        free(keep);
        ws_array_free(&lv);
        ws_array_free(&vals);
        ws_array_free(&offs);
        ws_array_free(&size);
    }
    ws_h5_strings_free(names, n);
    return rc;
}

int ws_verify_amg(const ws_verify_args *a)
{
    ws_sam m = {0};
    ws_h5file in = {0}, out = {0};
    ws_array img = {0};
    char **runs = NULL;
    size_t nruns = 0;
    int rc;
    TRY(ws_h5_open(&in, a->input));
    long heads = 0;   /* optional (a SAM checkpoint does not store it): 0 = the released models' 8 */
    TRY(ws_verify_attr_int(&in, "/config", "decoder_transformer_num_heads", 1, 0, &heads));
    TRY(ws_sam_load(&m, a->model, (int)heads));
    /* Two golden layouts name the image differently; /input/image_rgb wins when both exist. */
    TRY(ws_h5_read(&in, ws_h5_exists(&in, "/input/image_rgb") ? "/input/image_rgb" : "/preprocess/image_uint8", WS_U8, &img));
    if (img.ndim != 3 || img.shape[2] != 3) { rc = ws_fail(WS_ESHAPE, "%s: the image must be (H, W, 3) uint8", a->input); goto cleanup; }
    const int H = (int)img.shape[0], W = (int)img.shape[1];
    /* Created after the inputs are read: a bad input fails before anything is written. */
    TRY(ws_h5_create(&out, a->output));
    if (ws_h5_exists(&in, "/amg")) {
        hid_t gid = H5Gopen2(in.id, "/amg", H5P_DEFAULT);
        hsize_t nobj = 0;
        /* Runs in the order HDF5 lists them; each run's outputs go under its own group, so the order does not
         * affect the file's contents. */
        H5Gget_num_objs(gid, &nobj);
        runs = calloc((size_t)nobj + 1, sizeof *runs);
        for (hsize_t i = 0; runs && i < nobj; i++) {
            char name[256];
            H5Gget_objname_by_idx(gid, i, name, sizeof name);
            runs[nruns++] = strdup(name);
        }
        H5Gclose(gid);
    }
    for (size_t r = 0; r < nruns; r++) {
        char grp[300];
        ws_amg_cfg cfg;
        ws_amg_list res = {0};
        ws_amg_trace tr = {.prefilter = 1};
        snprintf(grp, sizeof grp, "/amg/%s", runs[r]);
        rc = read_cfg(&in, grp, &cfg);
        if (!rc) rc = ws_amg_generate(&m, &cfg, img.data, H, W, &res, &tr);
        if (!rc) rc = write_records(&out, grp, &res, H, W, 0);
        if (!rc) rc = write_trace(&out, grp, &tr, &cfg, H, W);
        ws_amg_list_free(&res);
        ws_amg_trace_free(&tr);
        if (rc) { ws_fail_ctx(rc, "run %s", grp); goto cleanup; }
    }
    TRY(dump_rsw(&in, &out));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_h5_strings_free(runs, nruns);
    ws_array_free(&img);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_sam_free(&m);
    return rc;
}

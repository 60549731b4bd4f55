/* masks.c - the masks stage: SAM masks (FMA-WSSS's level-aware automatic mask generator) of
 * every image of a split into the resumable HDF5 mask store of io/store.h.
 *
 * Owns the stage's settings (key table + defaults, also the pipeline's masks.* section), the image
 * list of the split and the conversion of generator records into store records. A kill loses at
 * most the image in flight: every image is its own atomic part of the store.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage/masks.h"
#include "stage/imagecheck.h"
#include "stage/runtime.h"
#include "core/log.h"
#include "core/status.h"
#include "core/strmap.h"
#include "data/image.h"
#include "io/config.h"
#include "io/store.h"
#include "io/store_ranks.h"
#include "shim/rank.h"
#include "method/amg.h"
#include "model/sam.h"

#define OFF(f) offsetof(ws_masks_settings, f)
/* model.sam, model.decoder_heads, data.* (io/settings.h) come first, then: */
static const ws_cfg_key OUT_KEYS[] = {
    {"output.store", WS_CFG_STR, OFF(store), "mask store (HDF5); empty = experiments/masks/<split>.h5"},
};
/* then runtime.threads/device/precision, then the generator (the store's settings are the amg.* rows: keep them last) */
static const ws_cfg_key AMG_KEYS[] = {
    {"amg.points_per_side", WS_CFG_INT, OFF(amg.points_per_side), "point grid of the full image"},
    {"amg.points_per_batch", WS_CFG_INT, OFF(amg.points_per_batch), "points decoded before their masks are upsampled (memory only: 256 keep ~200 MB of low-res logits at ViT sizes)"},
    {"amg.pred_iou_thresh", WS_CFG_FLOAT, OFF(amg.pred_iou_thresh), "keep iou + score_thresh_offset[level] > this"},
    {"amg.stability_score_thresh", WS_CFG_FLOAT, OFF(amg.stability_score_thresh), "keep stability + bias[level] >= this"},
    {"amg.stability_score_offset", WS_CFG_FLOAT, OFF(amg.stability_score_offset), "logit offset of the stability score"},
    {"amg.box_nms_thresh", WS_CFG_FLOAT, OFF(amg.box_nms_thresh), "within-crop box NMS IoU"},
    {"amg.crop_n_layers", WS_CFG_INT, OFF(amg.crop_n_layers), "crop layers (1 = full image + 2x2 crops)"},
    {"amg.crop_nms_thresh", WS_CFG_FLOAT, OFF(amg.crop_nms_thresh), "cross-crop box NMS IoU"},
    {"amg.crop_overlap_ratio", WS_CFG_FLOAT, OFF(amg.crop_overlap_ratio), "crop overlap / short side"},
    {"amg.crop_n_points_downscale_factor", WS_CFG_INT, OFF(amg.crop_n_points_downscale_factor), "grid divisor per crop layer"},
    {"amg.min_mask_region_area", WS_CFG_INT, OFF(amg.min_mask_region_area), "small holes/islands removed (0 = off)"},
    {"amg.score_thresh_offset", WS_CFG_FLOAT3, OFF(amg.score_thresh_offset), "per level 0/1/2, added before the IoU filter"},
    {"amg.score_nms_offset", WS_CFG_FLOAT3, OFF(amg.score_nms_offset), "per level, added to the within-crop NMS score"},
    {"amg.stability_score_bias", WS_CFG_FLOAT3, OFF(amg.stability_score_bias), "per level, added before the stability filter"},
    {"amg.rock_sand_water_thresh", WS_CFG_FLOAT, OFF(amg.rock_sand_water_thresh), "cross-level recall filter (0 = off)"},
};

/* Built once, on first use, and kept for the process: the masks command and the pipeline both read it. */
static ws_cfg_cached table;

static int build_table(ws_cfg_key **t, size_t *n)
{
    static const char *const model[] = {"model.sam", "model.decoder_heads", NULL};
    static const char *const data[] = {"data.dataset", "data.classes", "data.class_file",
                                       "data.root", "data.split", "data.image_dir", "data.split_file",
                                       "data.list", NULL};
    static const char *const runtime[] = {"runtime.threads", "runtime.device", "runtime.precision", NULL};
    int rc = ws_settings_add(t, n, WS_MODEL_KEYS, WS_MODEL_NKEYS, model, "", OFF(model));
    if (!rc) rc = ws_settings_add(t, n, WS_DATA_KEYS, WS_DATA_NKEYS, data, "", OFF(data));
    if (!rc) rc = ws_cfg_table_add(t, n, OUT_KEYS, sizeof OUT_KEYS / sizeof OUT_KEYS[0], NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(t, n, WS_RUNTIME_KEYS, WS_RUNTIME_NKEYS, runtime, "", OFF(runtime));
    if (!rc) rc = ws_cfg_table_add(t, n, AMG_KEYS, sizeof AMG_KEYS / sizeof AMG_KEYS[0], NULL, NULL, "", 0);
    return rc;
}

const ws_cfg_key *ws_masks_keys(size_t *n)
{
    return ws_cfg_cached_table(&table, build_table, n);
}

void ws_masks_defaults(ws_masks_settings *s)
{
    memset(s, 0, sizeof *s);
    ws_model_paths_defaults(&s->model);
    ws_data_defaults(&s->data);
    ws_runtime_defaults(&s->runtime);
    ws_amg_cfg_fma_voc(&s->amg);
    s->shard_i = 0;
    s->shard_n = 1;
    s->max_images = -1;
}

/* Bounds against typos: 1024 points a side is a million prompts per crop, 4 crop layers 341 crops. */
int ws_masks_check(const ws_masks_settings *s)
{
    const ws_amg_cfg *a = &s->amg;
#define NEED(cond, ...) do { if (!(cond)) return ws_fail(WS_EINVAL, __VA_ARGS__); } while (0)
#define UNIT(f) NEED(a->f >= 0 && a->f <= 1, "amg." #f ": %g is not in [0, 1]", a->f)
    NEED(a->points_per_side >= 1 && a->points_per_side <= 1024, "amg.points_per_side: %d is not in 1..1024", a->points_per_side);
    NEED(a->points_per_batch >= 1 && a->points_per_batch <= 65536, "amg.points_per_batch: %d is not in 1..65536",
         a->points_per_batch);
    UNIT(pred_iou_thresh);
    UNIT(stability_score_thresh);
    UNIT(box_nms_thresh);
    UNIT(crop_nms_thresh);
    NEED(a->crop_overlap_ratio >= 0 && a->crop_overlap_ratio < 1, "amg.crop_overlap_ratio: %g is not in [0, 1)",
         a->crop_overlap_ratio);
    NEED(a->stability_score_offset >= 0 && isfinite(a->stability_score_offset),
         "amg.stability_score_offset: %g is not a finite number >= 0", a->stability_score_offset);
    NEED(a->crop_n_layers >= 0 && a->crop_n_layers <= 4, "amg.crop_n_layers: %d is not in 0..4", a->crop_n_layers);
    NEED(a->crop_n_points_downscale_factor >= 1, "amg.crop_n_points_downscale_factor: %d must be >= 1",
         a->crop_n_points_downscale_factor);
    NEED(a->min_mask_region_area >= 0, "amg.min_mask_region_area: %d is negative", a->min_mask_region_area);
    NEED(a->rock_sand_water_thresh <= 1 && isfinite(a->rock_sand_water_thresh),
         "amg.rock_sand_water_thresh: %g must be <= 1 (<= 0: off)", a->rock_sand_water_thresh);
    for (int l = 0; l < 3; l++)
        NEED(isfinite(a->score_thresh_offset[l]) && isfinite(a->score_nms_offset[l]) && isfinite(a->stability_score_bias[l]),
             "amg.score_thresh_offset, amg.score_nms_offset and amg.stability_score_bias must be finite (level %d)", l);
#undef UNIT
#undef NEED
    return 0;
}

/* Image ids and paths of data.list: one image path per line (relative to the list's folder unless
 * absolute; the split reader's rules for blanks, comments and marks), the id being the file name
 * without its extension. Two paths with one id would collide in the store: refused naming both. */
static int list_file(const char *list, char ***ids, char ***paths, int *n)
{
    char dir[WS_CFG_STR_MAX] = ".", **ent = NULL;
    int *lines = NULL, m = 0, rc = ws_split_read(list, 0, &ent, &lines, &m);
    ws_strmap seen = {0};
    if (!rc && ws_strmap_init(&seen, (size_t)m)) rc = ws_fail(WS_ENOMEM, "out of memory");
    const char *slash = strrchr(list, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - list), list);
    *n = 0;
    *ids = rc ? NULL : calloc((size_t)m + 1, sizeof **ids);
    *paths = rc ? NULL : calloc((size_t)m + 1, sizeof **paths);
    if (!rc && (!*ids || !*paths)) rc = ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < m; i++) {
        char path[3 * WS_CFG_STR_MAX];
        /* relative paths are taken from the list's folder, not the current one, so a list and its images
         * can move together (the pipeline writes absolute paths anyway) */
        const char *t = ent[i], *base = strrchr(t, '/') ? strrchr(t, '/') + 1 : t, *dot = strrchr(base, '.');
        snprintf(path, sizeof path, t[0] == '/' ? "%.0s%s" : "%s/%s", dir, t);
        (*ids)[i] = strndup(base, dot ? (size_t)(dot - base) : strlen(base));
        (*paths)[i] = strdup(path);
        *n = i + 1;
        int64_t k;
        if (!(*ids)[i] || !(*paths)[i]) rc = ws_fail(WS_ENOMEM, "out of memory");
        else if (ws_strmap_get(&seen, (*ids)[i], strlen((*ids)[i]), &k))
            rc = ws_fail(WS_EFORMAT, "%s:%d: image id '%s' is also the id of line %d: the store keeps one per id", list,
                         lines[i], (*ids)[i], lines[k]);
        else if (ws_strmap_put(&seen, (*ids)[i], strlen((*ids)[i]), i)) rc = ws_fail(WS_ENOMEM, "out of memory");
    }
    ws_strmap_free(&seen);
    for (int i = 0; i < m; i++) free(ent[i]);
    free(ent);
    free(lines);
    return rc;
}

/* Image ids and paths of the split: data.list, or the dataset's split file read by the one
 * split reader every stage uses (data/dataset.c). */
static int list_images(const ws_masks_settings *s, char ***ids, char ***paths, int *n)
{
    if (s->data.list[0]) return list_file(s->data.list, ids, paths, n);
    ws_dataset ds = {0};
    int rc = ws_data_open(&s->data, WS_DATA_IMAGES_ONLY, &ds, NULL);
    *n = 0;
    *ids = rc ? NULL : calloc((size_t)ds.n + 1, sizeof **ids);
    *paths = rc ? NULL : calloc((size_t)ds.n + 1, sizeof **paths);
    if (!rc && (!*ids || !*paths)) rc = ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < ds.n; i++) {
        char path[3 * WS_CFG_STR_MAX];
        snprintf(path, sizeof path, "%s/%s%s", ds.image_dir, ds.ids[i], ds.image_ext);
        (*ids)[i] = strdup(ds.ids[i]);
        (*paths)[i] = strdup(path);
        *n = i + 1;
    }
    ws_dataset_close(&ds);
    return rc;
}

/* The generator's records -> the store's: boxes go from XYXY to the XYWH of amg.py's output (and of COCO), so
 * the store and its exports need no conversion. */
static int to_mask_set(const ws_amg_list *l, int H, int W, ws_mask_set *m)
{
    m->H = H;
    m->W = W;
    m->n = l->n;
    m->r = calloc((size_t)(l->n ? l->n : 1), sizeof *m->r);
    if (!m->r) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        const ws_amg_rec *a = &l->r[i];
        ws_mask_rec *r = &m->r[i];
        r->rle = a->rle;   /* borrowed: the list keeps ownership */
        r->n_rle = a->n_rle;
        r->area = a->area;
        r->bbox[0] = a->box[0]; r->bbox[1] = a->box[1]; r->bbox[2] = a->box[2] - a->box[0]; r->bbox[3] = a->box[3] - a->box[1];
        r->crop_box[0] = a->crop_box[0]; r->crop_box[1] = a->crop_box[1];
        r->crop_box[2] = a->crop_box[2] - a->crop_box[0]; r->crop_box[3] = a->crop_box[3] - a->crop_box[1];
        r->level = a->level;
        r->iou = a->iou; r->iou_thresh = a->iou_thresh; r->iou_nms = a->iou_nms;
        r->stability = a->stability; r->stab_bias = a->stab_bias;
        r->point[0] = a->point[0]; r->point[1] = a->point[1];
    }
    return 0;
}

/* Only the checkpoint's file name is recorded, not its path: moving the checkpoints folder must not make a
 * finished store refuse a resume. Threads and paths are left out too, since they do not change a mask. */
/* The part of the settings that decides the masks (the store refuses to mix others). */
static char *store_settings(const ws_masks_settings *s)
{
    char *amg = ws_cfg_dump(AMG_KEYS, sizeof AMG_KEYS / sizeof AMG_KEYS[0], s), *out = NULL;
    const char *base = strrchr(s->model.sam, '/');
    if (amg && (out = malloc(strlen(amg) + 2 * WS_CFG_STR_MAX)))
        sprintf(out, "model: %s (decoder heads %d)\n%s", base ? base + 1 : s->model.sam, s->model.decoder_heads, amg);
    free(amg);
    return out;
}

int ws_stage_masks_image(const ws_masks_settings *s, const ws_sam *m, ws_store *st, const char *id, const char *path,
                         int *n_masks)
{
    ws_image im;
    ws_amg_list res = {0};
    ws_mask_set set = {0};
    int rc = ws_image_read(path, &im);
    if (rc) return rc;
    rc = ws_amg_generate(m, &s->amg, im.rgb, im.h, im.w, &res, NULL);
    if (!rc) rc = to_mask_set(&res, im.h, im.w, &set);
    if (!rc) rc = ws_store_put(st, id, &set);
    if (rc) ws_fail_ctx(rc, "image %s (%s)", id, path);
    *n_masks = res.n;
    free(set.r);   /* the RLEs belong to res */
    ws_amg_list_free(&res);
    ws_image_free(&im);
    return rc;
}

/* Every image this process will compute (todo: its shard, subdivided among the ranks: another rank's
 * images are not opened here), checked by its header before the first is (imagecheck.h). */
static int check_todo(const ws_masks_settings *s, const ws_sam *m, char **ids, char **paths, int n, const unsigned char *todo)
{
    char input[96];
    snprintf(input, sizeof input, "SAM's longest-side resize to %d", m->img_size);
    const ws_sam_need_ctx c = {m->img_size, 3 * s->amg.points_per_batch};
    const ws_image_need need = {.input = input, .step = "the masks of one point batch at image size (amg.points_per_batch)",
                                .advice = "leave them out of the split, or pad them to a less extreme aspect ratio",
                                .fn = ws_stage_sam_need, .ctx = &c};
    return ws_stage_check_images(ids, paths, n, todo, &need);
}

int ws_stage_masks(ws_masks_settings *s)
{
    char **ids = NULL, **paths = NULL, *settings = NULL;
    unsigned char *mine = NULL;   /* mine[i]: image i is this process's and not stored yet */
    int n = 0, rc, done_new = 0, todo = 0, complete = 0;
    int shard_i, shard_n;   /* --shard i/n, subdivided among the ranks of this job */
    ws_rank_share(s->shard_i, s->shard_n, &shard_i, &shard_n);
    ws_sam m = {0};
    ws_store st = {0};
    if (!s->store[0] && snprintf(s->store, sizeof s->store, "experiments/masks/%.900s.h5", s->data.split) < 0) return WS_EINVAL;
    if ((rc = ws_stage_set_runtime(&s->runtime)) || (rc = ws_masks_check(s))) return rc;
    if ((rc = list_images(s, &ids, &paths, &n))) goto done;
    if (!(settings = store_settings(s))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    if ((rc = ws_store_open_write(&st, s->store, settings))) goto done;
    /* Shard i of n takes images i, i + n, ...: every process computes the same split without talking to the
     * others, and all write their parts into one <store>.parts folder. */
    if (!(mine = ws_store_todo(&st, ids, n, shard_i, shard_n, &todo))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    ws_log("%d images in the split, %d to do in shard %d/%d -> %s", n, todo, shard_i, shard_n, s->store);
    /* SAM is loaded only when there is work: a finished split just (re)assembles its store */
    if (todo > 0 && (rc = ws_sam_open(&m, s->model.sam, s->model.decoder_heads))) goto done;
    if (todo > 0 && (rc = check_todo(s, &m, ids, paths, n, mine))) goto done;
    ws_progress bar;
    ws_progress_start(&bar, "masks", todo);
    for (int i = 0; i < n && !rc; i++) {
        if (!mine[i] || ws_store_has(&st, ids[i])) continue;   /* stored meanwhile by another run on the same store: skipped */
        /* max_images bounds the new work of this run (a quick try or a time-boxed job), not the split: stored
         * images do not count. */
        if (s->max_images >= 0 && done_new >= s->max_images) break;
        int n_masks = 0;
        rc = ws_stage_masks_image(s, &m, &st, ids[i], paths[i], &n_masks);
        char extra[64];
        snprintf(extra, sizeof extra, " %s: %d masks", ids[i], n_masks);
        if (!rc) { done_new++; ws_progress_step(&bar, 1, extra); }
    }
    if (todo > 0) ws_progress_end(&bar);
    /* rank 0 of the job assembles the store once all ranks are done; of independent --shard jobs, the
     * one that finds the split complete does */
    rc = ws_store_finish_ranks(&st, ids, n, rc, "masks", &complete);
    if (!rc && ws_rank_id() == 0) {   /* the job's result, said once (every rank knows it) */
        if (complete) ws_log("store complete: %s (%d images). Next: wsseed masks export %s", s->store, n, s->store);
        else ws_log("stopped with images still to do: run the same command again to resume (%s.parts)", s->store);
    }
done:
    for (int i = 0; i < n; i++) { free(ids[i]); free(paths[i]); }
    free(ids);
    free(paths);
    free(settings);
    free(mine);
    ws_store_close(&st);
    ws_sam_free(&m);
    return rc;
}

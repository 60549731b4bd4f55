/* cache.c - the opt-in feature cache of the frozen trunk (see cache.h). The store lives at
 * train.feature_cache: /views/<id>/{x (K, T, Wv), fg (K, n_fg), grid (2), map (K, C, C) (seg)},
 * its `settings` attribute naming everything the views depend on, so a changed setting is an
 * error instead of silently stale features.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "data/augment.h"
#include "data/classes.h"
#include "io/h5tensor.h"
#include "io/store.h"
#include "io/store_ranks.h"
#include "shim/rank.h"
#include "method/fma.h"
#include "train/trainer.h"

#define CACHE_FORMAT "wsseed-views-1"

/* What the cached views depend on: model, data, augmentation, K, storage, seed, task. */
static char *cache_settings(const ws_trainer *t)
{
    static const char *const pre[] = {"task", "model.clip", "data.", "aug.", "train.seed", "train.cache_", NULL};
    ws_cfg_key sub[64];
    size_t k = 0;
    size_t nk = 0;
    const ws_cfg_key *keys = ws_train_keys(&nk);
    for (size_t i = 0; keys && i < nk && k < 64; i++)
        for (int j = 0; pre[j]; j++)
            if (!strncmp(keys[i].key, pre[j], strlen(pre[j]))) { sub[k++] = keys[i]; break; }
    ws_train_cfg c = *t->c;
    if (!t->seg) c.data.seed_dir[0] = '\0';   /* unused by the cls task */
    char *text = ws_cfg_dump(sub, k, &c), *out = NULL;
    if (text && (out = malloc(strlen(text) + 128)))
        sprintf(out, "%sarch: %lld %lld %lld %lld\ncontent: %s\n", text, (long long)t->arch[0], (long long)t->arch[1],
                (long long)t->arch[2], (long long)t->arch[3], t->cache.emb ? "image embeddings" : "last-block inputs");
    free(text);
    return out;
}

/* Writes a float32/float16 tensor as a dataset. */
/* The frozen part of the forward over the K views x (K, 3, C, C): the trunk's last-block inputs
 * (float16 when cache_fp16), or with cache.emb the whole image encoder run without autograd
 * (no Grad-CAM needs its graph). *trunk is g-owned. */
static int cache_encode(ws_trainer *t, ws_scope *g, float *x, ws_at_tensor *trunk, int *gh, int *gw)
{
    const int64_t is[4] = {t->c->cache_views, 3, t->c->crop, t->c->crop};
    int rc = 0;
    if (t->cache.emb) {   /* (K, E) embeddings */
        ws_clip_image_opts io = {.pos_interp = WS_CLIP_POS_BILINEAR, .patch_mean = 1};
        ws_clip_image_out o = {0};
        ws_at_guard ng = NULL;
        if (ws_at_grad_mode_enter(0, NULL, &ng)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
        if (!rc) rc = ws_clip_encode_image(&t->m, g, ws_g_from_data(g, x, WS_AT_F32, 4, is), &io, &o);
        ws_at_guard_exit(ng);
        *trunk = o.patch_mean;
        *gh = o.grid_h;
        *gw = o.grid_w;
        ws_clip_image_out_free(&o);
    } else {
        rc = ws_clip_image_trunk(&t->m, g, ws_g_from_data(g, x, WS_AT_F32, 4, is), WS_CLIP_POS_BILINEAR, trunk, gh, gw);
        if (!rc && t->c->cache_fp16) *trunk = ws_g_to_dtype(g, *trunk, WS_AT_F16);
    }
    return rc;
}

/* The K views of image i: augmentation from (seed, image, view), the trunk in one batch of K.
 * *trunk (g-owned) is (K, T, Wv) (float16 when cached so), fg (K, n_fg), maps (K, C, C) (seg). */
static int cache_views(ws_trainer *t, ws_scope *g, int i, ws_at_tensor *trunk, int *gh, int *gw, uint8_t *fg,
                       uint8_t *maps)
{
    const ws_train_cfg *c = t->c;
    const int K = c->cache_views, C = c->crop, n_fg = t->n_fg;
    const size_t CC = (size_t)C * C;
    const ws_aug_cfg ac = {.jitter = c->jitter, .scale_low = c->scale_low, .scale_high = c->scale_high,
                           .short_thresh = c->short_thresh, .crop = C, .flip = c->flip};
    ws_image img = {0};
    uint8_t *map = NULL, lab[WS_CLASSES_MAX];   /* the image label of any class list (data/classes.h) */
    float *x = malloc((size_t)K * 3 * CC * sizeof *x);
    int rc = x ? 0 : ws_fail(WS_ENOMEM, "feature cache: out of memory");
    if (!rc) rc = ws_dataset_read(&t->ds, i, &img, &map, lab, t->seg);
    for (int v = 0; !rc && v < K; v++) {
        ws_rng r;
        ws_rng_seed(&r, ws_rng_derive((uint64_t)c->seed ^ 0xCAC4Eu, (uint64_t)i, (uint64_t)v));
        rc = ws_aug_train(&ac, &r, img.rgb, map, img.h, img.w, x + (size_t)v * 3 * CC, map ? maps + v * CC : NULL);
        if (map) ws_fma_presence(maps + v * CC, CC, n_fg, fg + (size_t)v * n_fg);
        else memcpy(fg + (size_t)v * n_fg, lab, (size_t)n_fg);
    }
    if (!rc) rc = cache_encode(t, g, x, trunk, gh, gw);
    ws_image_free(&img);
    free(map);
    free(x);
    return rc ? rc : g->err;
}

/* One part of the store: image i's views. */
static int cache_image(ws_trainer *t, ws_store *st, int i)
{
    const int K = t->c->cache_views, C = t->c->crop, n_fg = t->n_fg;
    uint8_t *maps = malloc((size_t)K * C * C), *fg = calloc((size_t)K * n_fg, 1);
    ws_scope g;
    ws_h5file f = {0};
    ws_at_tensor trunk = NULL;
    int gh = 0, gw = 0;
    char p[512];
    ws_scope_init(&g);
    int rc = maps && fg ? cache_views(t, &g, i, &trunk, &gh, &gw, fg, maps) : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc) rc = ws_store_part_begin(st, t->ds.ids[i], &f);
    snprintf(p, sizeof p, "/views/%s/x", t->ds.ids[i]);
    if (!rc) rc = ws_h5_put_tensor(&f, p, trunk);
    const int64_t fs[2] = {K, n_fg}, ms[3] = {K, C, C}, grid[2] = {gh, gw}, two = 2;
    snprintf(p, sizeof p, "/views/%s/fg", t->ds.ids[i]);
    if (!rc) rc = ws_h5_write_raw(&f, p, WS_U8, 2, fs, fg);
    snprintf(p, sizeof p, "/views/%s/grid", t->ds.ids[i]);
    if (!rc) rc = ws_h5_write_raw(&f, p, WS_I64, 1, &two, grid);
    snprintf(p, sizeof p, "/views/%s/map", t->ds.ids[i]);
    if (!rc && t->seg) rc = ws_h5_write_raw(&f, p, WS_U8, 3, ms, maps);
    if (!rc) rc = ws_store_part_commit(&f);
    else ws_h5_close(&f);
    ws_scope_free(&g);
    free(maps);
    free(fg);
    return rc;
}

/* The images st lacks, one part each (an interrupted build continues where it stopped). */
static int cache_build(ws_trainer *t, ws_store *st)
{
    int rc = 0, todo = 0, share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    unsigned char *mine = ws_store_todo(st, t->ds.ids, t->ds.n, share_i, share_n, &todo);
    if (!mine) return ws_fail(WS_ENOMEM, "out of memory");
    if (todo) {
        ws_train_log(t, "feature cache: %d views of %d images -> %s", t->c->cache_views, todo, t->c->feature_cache);
        ws_progress pg;
        ws_progress_start(&pg, "cache", todo);
        for (int i = share_i; i < t->ds.n && !rc; i += share_n)
            /* (an image stored meanwhile by another run on the same cache is skipped) */
            if (mine[i] && !ws_store_has(st, t->ds.ids[i]) && !(rc = cache_image(t, st, i))) ws_progress_step(&pg, 1, NULL);
        ws_progress_end(&pg);
    }
    free(mine);
    return rc;
}

/* The trunk's shape, from the first image of the opened cache. */
static int cache_shape(ws_trainer *t)
{
    ws_array x = {0}, grid = {0};
    char p[512];
    snprintf(p, sizeof p, "/views/%s/x", t->ds.ids[0]);
    int rc = ws_h5_read_row(&t->cache.f, p, 0, WS_F32, &x);
    snprintf(p, sizeof p, "/views/%s/grid", t->ds.ids[0]);
    if (!rc) rc = ws_h5_read(&t->cache.f, p, WS_I64, &grid);
    if (!rc) {
        t->cache.T = x.ndim == 2 ? (int)x.shape[0] : 1;
        t->cache.W = (int)x.shape[x.ndim - 1];
        t->cache.gh = (int)((int64_t *)grid.data)[0];
        t->cache.gw = (int)((int64_t *)grid.data)[1];
    }
    ws_array_free(&x);
    ws_array_free(&grid);
    return rc;
}

int ws_train_cache_prepare(ws_trainer *t)
{
    const ws_train_cfg *c = t->c;
    ws_store st = {0};
    int rc, complete = 0;
    t->cache.emb = !t->seg && c->w_cam_fg == 0 && c->w_cam_bg == 0;
    char *settings = cache_settings(t);
    if (c->cache_views < 1) { free(settings); return ws_fail(WS_EINVAL, "train.cache_views must be >= 1"); }
    if (!settings) return ws_fail(WS_ENOMEM, "out of memory");
    rc = ws_store_open_write_as(&st, c->feature_cache, settings, "views", CACHE_FORMAT);
    if (rc) {
        rc = ws_fail(rc, "%s (the feature cache's model, images, augmentation, views or seed changed?)", ws_last_error());
        goto cleanup;
    }
    /* Each rank builds its share; rank 0 assembles; every rank then reads the whole cache. */
    rc = ws_store_finish_ranks(&st, t->ds.ids, t->ds.n, cache_build(t, &st), "the feature cache", &complete);
    if (!rc && !complete) rc = ws_fail(WS_EIO, "feature cache %s is incomplete", c->feature_cache);
    if (!rc) rc = ws_h5_open(&t->cache.f, c->feature_cache);
    if (!rc) rc = cache_shape(t);
cleanup:
    ws_store_close(&st);
    free(settings);
    return rc;
}

int ws_train_cache_load(ws_trainer *t, ws_batch *b, int k, int64_t pos)
{
    const char *id = t->ds.ids[b->index[k]];
    const int64_t v = ws_rng_derive((uint64_t)t->c->seed ^ 0x5EEDu, (uint64_t)t->ord.epoch, (uint64_t)pos) % t->c->cache_views;
    const size_t TW = (size_t)t->cache.T * t->cache.W, CC = (size_t)b->C * b->C;
    ws_array x = {0}, fg = {0}, map = {0};
    char p[512];
    snprintf(p, sizeof p, "/views/%s/x", id);
    int rc = ws_h5_read_row(&t->cache.f, p, v, WS_F32, &x);
    snprintf(p, sizeof p, "/views/%s/fg", id);
    if (!rc) rc = ws_h5_read_row(&t->cache.f, p, v, WS_U8, &fg);
    snprintf(p, sizeof p, "/views/%s/map", id);
    if (!rc && b->want_map) rc = ws_h5_read_row(&t->cache.f, p, v, WS_U8, &map);
    if (!rc && (size_t)ws_array_numel(&x) != TW) rc = ws_fail(WS_ESHAPE, "feature cache: %s has another shape", p);
    if (!rc) {
        memcpy(b->trunk + k * TW, x.data, TW * sizeof(float));
        memcpy(b->fg + (size_t)k * b->n_fg, fg.data, (size_t)b->n_fg);
        memcpy(b->ol + (size_t)k * b->n_fg, fg.data, (size_t)b->n_fg);
        if (b->want_map) memcpy(b->maps + k * CC, map.data, CC);
    }
    ws_array_free(&x);
    ws_array_free(&fg);
    ws_array_free(&map);
    return rc;
}

int ws_train_cache_recompute(const ws_train_cfg *c, int image, float **out, int64_t *numel)
{
    ws_trainer t;
    ws_scope g;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.seg = !strcmp(c->task, "seg");
    *out = NULL;
    ws_scope_init(&g);
    int rc = ws_train_setup_model(&t);
    if (!rc) rc = ws_train_open_data(&t);
    t.cache.emb = !t.seg && c->w_cam_fg == 0 && c->w_cam_bg == 0;
    uint8_t *fg = malloc((size_t)c->cache_views * 80), *maps = malloc((size_t)c->cache_views * c->crop * c->crop);
    ws_at_tensor trunk = NULL, t32 = NULL;
    int gh, gw;
    if (!rc && (!fg || !maps)) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && (image < 0 || image >= t.ds.n)) rc = ws_fail(WS_EINVAL, "image %d out of range", image);
    if (!rc) rc = cache_views(&t, &g, image, &trunk, &gh, &gw, fg, maps);
    if (!rc) t32 = ws_g_to_dtype(&g, trunk, WS_AT_F32);
    if (!rc && !g.err && !ws_at_numel(t32, numel) && (*out = malloc((size_t)*numel * sizeof **out)))
        rc = ws_at_read(t32, *out, (size_t)*numel * sizeof **out) ? ws_fail(WS_ETORCH, "%s", ws_at_last_error()) : 0;
    else if (!rc) rc = g.err ? g.err : ws_fail(WS_ENOMEM, "out of memory");
    free(fg);
    free(maps);
    ws_scope_free(&g);
    ws_train_state_free(&t);
    return rc;
}

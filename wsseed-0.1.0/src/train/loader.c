/* loader.c - training batches: epoch order, worker threads, prefetch (see loader.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/loader.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/augment.h"
#include "method/fma.h"
#include "train/trainer.h"

int ws_train_open_data(ws_trainer *t)
{
    const ws_train_cfg *c = t->c;
    ws_dataset_spec s = {.root = c->data.root, .split = c->data.split, .image_dir = c->data.image_dir, .label_dir = c->data.label_dir,
                         .split_file = c->data.split_file, .labels_file = c->data.labels_file,
                         .seed_dir = t->seg ? c->data.seed_dir : "", .image_ext = ".jpg", .n_fg = t->n_fg};
    if (t->seg && (c->w_cam_fg != 0 || c->w_cam_bg != 0) && !c->data.seed_dir[0] && !c->data.label_dir[0])
        return ws_fail(WS_EINVAL, "the seg task needs data.seed_dir (coarse seeds from `wsseed seeds`)");
    int rc = ws_dataset_open(&t->ds, &s);
    if (rc) return rc;
    if (t->ds.n < c->batch)
        return ws_fail(WS_EINVAL, "split %s has %d images, fewer than train.batch = %d", c->data.split, t->ds.n, c->batch);
    return 0;
}

void ws_train_new_epoch(ws_trainer *t)
{
    for (int64_t i = 0; i < t->ds.n; i++) t->ord.perm[i] = i;
    ws_rng_shuffle_i64(&t->ord.rng, t->ord.perm, t->ds.n);
    t->ord.cursor = 0;
}

int ws_train_order_start(ws_trainer *t)
{
    t->ord.perm = malloc((size_t)t->ds.n * sizeof *t->ord.perm);
    t->snap.perm = malloc((size_t)t->ds.n * sizeof *t->snap.perm);
    if (!t->ord.perm || !t->snap.perm) return ws_fail(WS_ENOMEM, "out of memory");
    ws_rng_seed(&t->ord.rng, (uint32_t)t->c->seed);
    ws_train_new_epoch(t);
    return 0;
}

void ws_train_order_snapshot(ws_trainer *t)
{
    t->snap.epoch = t->ord.epoch;
    t->snap.cursor = t->ord.cursor;
    t->snap.rng = t->ord.rng;
    memcpy(t->snap.perm, t->ord.perm, (size_t)t->ds.n * sizeof *t->ord.perm);
}

int ws_train_batch_alloc(const ws_trainer *t, ws_batch *b)
{
    const ws_train_cfg *c = t->c;
    *b = (ws_batch){.B = c->batch, .C = c->crop, .n_fg = t->n_fg, .want_map = t->seg};
    const size_t CC = (size_t)b->C * b->C;
    b->images = malloc((size_t)b->B * 3 * CC * sizeof *b->images);
    b->maps = malloc((size_t)b->B * CC);
    b->fg = malloc((size_t)b->B * b->n_fg);
    b->ol = calloc((size_t)b->B * b->n_fg, 1);
    b->index = malloc((size_t)b->B * sizeof *b->index);
    b->seeds = malloc((size_t)b->B * sizeof *b->seeds);
    if (c->feature_cache[0]) b->trunk = malloc((size_t)b->B * t->cache.T * t->cache.W * sizeof *b->trunk);
    return b->images && b->maps && b->fg && b->ol && b->index && b->seeds && (b->trunk || !c->feature_cache[0])
           ? 0 : ws_fail(WS_ENOMEM, "out of memory");
}

void ws_train_batch_free(ws_batch *b)
{
    free(b->images); free(b->maps); free(b->fg); free(b->ol); free(b->index); free(b->seeds); free(b->trunk);
}

/* Sample k: decode, augment from its own seed (so any thread may do it), seed-map classes. */
static int load_one(ws_trainer *t, ws_batch *b, int k)
{
    ws_image img = {0};
    uint8_t *map = NULL;
    ws_rng r;
    const ws_aug_cfg ac = {.jitter = t->c->jitter, .scale_low = t->c->scale_low, .scale_high = t->c->scale_high,
                           .short_thresh = t->c->short_thresh, .crop = t->c->crop, .flip = t->c->flip};
    size_t CC = (size_t)b->C * b->C;
    int rc = ws_dataset_read(&t->ds, (int)b->index[k], &img, &map, b->fg + (size_t)k * b->n_fg, b->want_map);
    if (rc) return rc;
    ws_rng_seed(&r, b->seeds[k]);
    rc = ws_aug_train(&ac, &r, img.rgb, map, img.h, img.w, b->images + (size_t)k * 3 * CC, map ? b->maps + k * CC : NULL);
    if (!rc && map) ws_fma_presence(b->maps + k * CC, CC, b->n_fg, b->ol + (size_t)k * b->n_fg);
    ws_image_free(&img);
    free(map);
    return rc;
}

typedef struct worker_arg { ws_trainer *t; ws_batch *b; int k0, step, rc; char msg[1024]; } worker_arg;

/* Samples k0, k0 + step, ... of the batch. */
static void *worker(void *arg)
{
    worker_arg *w = arg;
    for (int k = w->k0; k < w->b->B && !w->rc; k += w->step)
        if ((w->rc = load_one(w->t, w->b, k))) snprintf(w->msg, sizeof w->msg, "%s", ws_last_error());
    return NULL;
}

/* All samples of b over runtime.workers threads (this one included). */
static int load_parallel(ws_trainer *t, ws_batch *b)
{
    int nw = t->c->runtime.workers < 1 ? 1 : t->c->runtime.workers > 16 ? 16 : t->c->runtime.workers;
    pthread_t th[16];
    worker_arg wa[16];
    int started[16] = {0}, rc = 0;
    for (int i = 0; i < nw; i++) wa[i] = (worker_arg){.t = t, .b = b, .k0 = i, .step = nw};
    for (int i = 1; i < nw; i++) started[i] = !pthread_create(&th[i], NULL, worker, &wa[i]);
    for (int i = 1; i < nw; i++)   /* a thread that did not start: its share runs here */
        if (!started[i]) worker(&wa[i]);
    worker(&wa[0]);
    for (int i = 0; i < nw; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        if (wa[i].rc && !rc) rc = ws_fail(wa[i].rc, "%s", wa[i].msg);
    }
    return rc;
}

int ws_train_next_batch(ws_trainer *t, ws_batch *b)
{
    ws_train_order *o = &t->ord;
    if (o->cursor + b->B > t->ds.n) { o->epoch++; ws_train_new_epoch(t); }
    for (int k = 0; k < b->B; k++) {
        b->index[k] = o->perm[o->cursor + k];
        b->seeds[k] = ws_rng_derive((uint64_t)t->c->seed, (uint64_t)o->epoch, (uint64_t)(o->cursor + k));
    }
    if (b->trunk) {   /* feature cache: HDF5 reads in this thread */
        int rc = 0;
        for (int k = 0; k < b->B && !rc; k++) rc = ws_train_cache_load(t, b, k, o->cursor + k);
        o->cursor += b->B;
        return rc;
    }
    o->cursor += b->B;
    return load_parallel(t, b);
}

static void *prefetch_run(void *arg)
{
    ws_prefetch *p = arg;
    if ((p->rc = ws_train_next_batch(p->t, p->b))) snprintf(p->msg, sizeof p->msg, "%s", ws_last_error());
    return NULL;
}

void ws_train_prefetch_begin(ws_trainer *t, ws_batch *b, ws_prefetch *pf)
{
    *pf = (ws_prefetch){.t = t, .b = b};
    pf->started = !pthread_create(&pf->th, NULL, prefetch_run, pf);
    if (!pf->started) prefetch_run(pf);   /* no thread: load it now */
}

int ws_train_prefetch_end(ws_prefetch *pf, int rc)
{
    if (pf->started) pthread_join(pf->th, NULL);
    pf->started = 0;
    return rc ? rc : pf->rc ? ws_fail(pf->rc, "%s", pf->msg) : 0;
}

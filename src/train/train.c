/* train.c - the FMA-WSSS prompt-training loop (see train.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/train.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/status.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "io/ckpt.h"
#include "io/store.h"
#include "method/fma.h"
#include "method/names.h"
#include "train/optim.h"

#define OFF(f) offsetof(ws_train_cfg, f)
const ws_cfg_key WS_TRAIN_KEYS[] = {
    {"task", WS_CFG_STR, OFF(task), "cls (classification prompts, MCL) or seg (segmentation prompts, CAM loss)"},
    {"run", WS_CFG_STR, OFF(run), "run name: outputs go to <out_dir>/<run>/"},
    {"out_dir", WS_CFG_STR, OFF(out_dir), "folder of runs"},
    {"model.clip", WS_CFG_STR, OFF(clip), "CLIP checkpoint (OpenAI ViT-B-16.pt as released, or a state dict)"},
    {"model.vocab", WS_CFG_STR, OFF(vocab), "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)"},
    {"data.dataset", WS_CFG_STR, OFF(dataset), "voc (20 classes) or coco (80 classes): class names"},
    {"data.root", WS_CFG_STR, OFF(root), "dataset root"},
    {"data.split", WS_CFG_STR, OFF(split), "training split (train_aug)"},
    {"data.image_dir", WS_CFG_STR, OFF(image_dir), "images below root; {split} is replaced"},
    {"data.label_dir", WS_CFG_STR, OFF(label_dir), "label maps below root (image labels); '' = none"},
    {"data.split_file", WS_CFG_STR, OFF(split_file), "id list below root"},
    {"data.labels_file", WS_CFG_STR, OFF(labels_file), "'' or '<id> <class 1..C> ...' lines (when no label maps)"},
    {"data.seed_dir", WS_CFG_STR, OFF(seed_dir), "seg task: folder of coarse-seed PNGs replacing the label maps"},
    {"prompt.n_ctx", WS_CFG_INT, OFF(n_ctx), "learnable context tokens M"},
    {"prompt.csc", WS_CFG_BOOL, OFF(csc), "class-specific context (seg) instead of one shared context (cls)"},
    {"prompt.cls_token_pos", WS_CFG_STR, OFF(cls_token_pos), "end: [ctx, name] (cls); front: [name, ctx] (seg)"},
    {"prompt.bg_names", WS_CFG_STR, OFF(bg_names), "clip_es (CLIP-ES bg words) or empty (pure learnable bg prompts)"},
    {"prompt.n_bg", WS_CFG_INT, OFF(n_bg), "number of bg prompts (VOC 25; COCO words: 23)"},
    {"prompt.init_seed", WS_CFG_STR, OFF(init_seed), "ctx init: torch seed = sha1(string) mod 2^32 (cls '真', seg '机')"},
    {"prompt.init_std", WS_CFG_FLOAT, OFF(init_std), "ctx init: N(0, std^2) (cls 0.015, seg 0.0125)"},
    {"prompt.init_file", WS_CFG_STR, OFF(init_file), "'' or a start ctx (.h5 checkpoint or .pth with prompt_learner.ctx)"},
    {"aug.jitter", WS_CFG_BOOL, OFF(jitter), "RandColorJitter (OpenCV HSV, each op p = 0.5)"},
    {"aug.scale_low", WS_CFG_INT, OFF(scale_low), "RandRangeScale: long-side target from"},
    {"aug.scale_high", WS_CFG_INT, OFF(scale_high), "... to (inclusive)"},
    {"aug.short_thresh", WS_CFG_INT, OFF(short_thresh), "... with the short side at least"},
    {"aug.crop", WS_CFG_INT, OFF(crop), "random square crop (the CLIP input size)"},
    {"aug.flip", WS_CFG_BOOL, OFF(flip), "random horizontal flip"},
    {"aug.online_labels", WS_CFG_BOOL, OFF(online_labels), "positives = classes in the cropped seed (VOC seg)"},
    {"loss.mcl", WS_CFG_FLOAT, OFF(w_mcl), "weight of the multi-label contrastive loss"},
    {"loss.cam_fg", WS_CFG_FLOAT, OFF(w_cam_fg), "weight of the CAM activation loss, in-seed term"},
    {"loss.cam_bg", WS_CFG_FLOAT, OFF(w_cam_bg), "weight of the CAM activation loss, outside term"},
    {"loss.softmax_eps", WS_CFG_FLOAT, OFF(sm_eps), "MaskedSoftmax epsilon"},
    {"optim.lr", WS_CFG_FLOAT, OFF(lr), "SGD base learning rate (cosine after the warm phase)"},
    {"optim.momentum", WS_CFG_FLOAT, OFF(momentum), "SGD momentum"},
    {"optim.weight_decay", WS_CFG_FLOAT, OFF(weight_decay), "SGD weight decay on the ctx"},
    {"optim.warm_iters", WS_CFG_INT, OFF(warm_iters), "warm iterations at lr * warm_factor"},
    {"optim.warm_factor", WS_CFG_FLOAT, OFF(warm_factor), "LinearLR start = end factor"},
    {"optim.eta_min", WS_CFG_FLOAT, OFF(eta_min), "cosine floor"},
    {"train.batch", WS_CFG_INT, OFF(batch), "images per iteration (drop_last)"},
    {"train.max_iter", WS_CFG_INT, OFF(max_iter), "iterations (VOC: cls 1800, seg 17000)"},
    {"train.sub_iters", WS_CFG_INT, OFF(sub_iters), "gradient accumulation: the batch in this many chunks"},
    {"train.seed", WS_CFG_INT, OFF(seed), "run seed (data order, augmentation)"},
    {"train.save_every", WS_CFG_INT, OFF(save_every), "checkpoint interval; 0 = max(max_iter/10, 1000)"},
    {"train.fast_text", WS_CFG_BOOL, OFF(fast_text), "text encoder on the causal horizon, shared prefix once (exact)"},
    {"train.feature_cache", WS_CFG_STR, OFF(feature_cache), "'' or an HDF5 store of the frozen trunk's output for K views per image (opt-in)"},
    {"train.cache_views", WS_CFG_INT, OFF(cache_views), "K augmented views per image in the feature cache"},
    {"train.cache_fp16", WS_CFG_BOOL, OFF(cache_fp16), "store cached features as float16 (half the disk; not exact)"},
    {"runtime.threads", WS_CFG_INT, OFF(threads), "libtorch intra-op threads"},
    {"runtime.workers", WS_CFG_INT, OFF(workers), "image loading/augmentation threads (results identical)"},
};
const size_t WS_TRAIN_NKEYS = sizeof WS_TRAIN_KEYS / sizeof WS_TRAIN_KEYS[0];

void ws_train_defaults(ws_train_cfg *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->task, "cls");
    strcpy(c->run, "voc_cls");
    strcpy(c->out_dir, "experiments");
    strcpy(c->clip, "checkpoints/ViT-B-16.pt");
    strcpy(c->vocab, "checkpoints/bpe_simple_vocab_16e6.txt.gz");
    strcpy(c->dataset, "voc");
    strcpy(c->root, "data/VOC2012");
    strcpy(c->split, "train_aug");
    strcpy(c->image_dir, "JPEGImages");
    strcpy(c->label_dir, "SegmentationClassAug");
    strcpy(c->split_file, "ImageSets/Segmentation/{split}.txt");
    c->n_ctx = 16;
    strcpy(c->cls_token_pos, "end");
    strcpy(c->bg_names, "clip_es");
    c->n_bg = 25;
    strcpy(c->init_seed, "\xe7\x9c\x9f");   /* 真 */
    c->init_std = 0.015;
    c->jitter = c->flip = 1;
    c->scale_low = 288;
    c->scale_high = 480;
    c->short_thresh = c->crop = 224;
    c->w_mcl = 1;
    c->sm_eps = 1e-5;
    c->lr = 1e-3;
    c->momentum = 0.9;
    c->weight_decay = 5e-4;
    c->warm_iters = 500;
    c->warm_factor = 0.01;
    c->batch = 16;
    c->max_iter = 1800;
    c->sub_iters = 1;
    c->threads = 1;
    c->workers = 2;
    c->fast_text = 1;
    c->cache_views = 4;
    c->cache_fp16 = 1;
}

void ws_train_defaults_seg(ws_train_cfg *c)
{
    ws_train_defaults(c);
    strcpy(c->task, "seg");
    strcpy(c->run, "voc_seg");
    c->csc = 1;
    strcpy(c->cls_token_pos, "front");
    strcpy(c->bg_names, "empty");
    strcpy(c->init_seed, "\xe6\x9c\xba");   /* 机 */
    c->init_std = 0.0125;
    c->online_labels = 1;
    c->w_mcl = 0;
    c->w_cam_fg = c->w_cam_bg = 1;
    c->max_iter = 17000;
}

/* ---- the run's state -------------------------------------------------------------------------- */

typedef struct trainer {
    const ws_train_cfg *c;
    int seg, n_fg;
    char dir[2 * WS_CFG_STR_MAX + 8];
    ws_clip m;
    ws_bpe bpe;
    ws_prompt p;
    ws_dataset ds;
    ws_sgd sgd;
    ws_lr_sched sched;
    ws_rng data_rng;
    int64_t it, epoch, cursor, *perm;
    int64_t arch[WS_CKPT_ARCH_N];
    FILE *log, *csv;
    char *config_text;
    ws_h5file cache;        /* the merged feature cache, when used */
    int64_t snap_epoch, snap_cursor, *snap_perm;   /* loader state after the batch in use (checkpoints) */
    ws_rng snap_rng;
    int cache_T, cache_W, cache_gh, cache_gw;
    int cache_emb;          /* no Grad-CAM in this task: the cache holds image embeddings (K, E) */
} trainer;

static void tlog(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tlog(trainer *t, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ws_log("%s", buf);
    if (t->log) { fprintf(t->log, "%s\n", buf); fflush(t->log); }
}

static int setup_model(trainer *t)
{
    const ws_train_cfg *c = t->c;
    const char *names[256];
    int coco = !strcmp(c->dataset, "coco");
    if (!coco && strcmp(c->dataset, "voc")) return ws_fail(WS_EINVAL, "data.dataset must be voc or coco, not '%s'", c->dataset);
    t->n_fg = coco ? 80 : 20;
    int empty = !strcmp(c->bg_names, "empty"), max_bg = coco ? 23 : 25;
    if (!empty && strcmp(c->bg_names, "clip_es")) return ws_fail(WS_EINVAL, "prompt.bg_names must be clip_es or empty");
    if (c->n_bg < 0 || (!empty && c->n_bg > max_bg) || c->n_bg > 100)
        return ws_fail(WS_EINVAL, "prompt.n_bg = %d: the %s bg word list has %d words", c->n_bg, c->dataset, max_bg);
    int front = !strcmp(c->cls_token_pos, "front");
    if (!front && strcmp(c->cls_token_pos, "end")) return ws_fail(WS_EINVAL, "prompt.cls_token_pos must be end or front");
    for (int i = 0; i < t->n_fg; i++) names[i] = coco ? WS_COCO_FG[i] : WS_VOC_FG[i];
    for (int i = 0; i < c->n_bg; i++) names[t->n_fg + i] = empty ? "" : coco ? WS_COCO_BG[i] : WS_VOC_BG[i];
    int rc = ws_clip_open(&t->m, c->clip);
    if (!rc) rc = ws_bpe_load(&t->bpe, c->vocab);
    if (!rc) rc = ws_prompt_build(&t->p, &t->m, &t->bpe, names, t->n_fg + c->n_bg, c->n_ctx, c->csc, front);
    if (!rc && t->m.image_resolution != c->crop)
        tlog(t, "note: aug.crop %d differs from the model's native %d; positional embeddings are resized",
             c->crop, t->m.image_resolution);
    if (rc) return rc;
    const int64_t a[WS_CKPT_ARCH_N] = {t->m.text_width, t->m.embed_dim, t->m.vision_width, t->m.vision_layers,
                                       t->p.n_cls, c->n_ctx, c->csc, front};
    memcpy(t->arch, a, sizeof a);
    return 0;
}

int ws_train_build_prompt(const ws_train_cfg *c, ws_clip *m, ws_bpe *bpe, ws_prompt *p, int *n_fg)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    int rc = setup_model(&t);
    *m = t.m;
    *bpe = t.bpe;
    *p = t.p;
    *n_fg = t.n_fg;
    return rc;
}

int ws_train_load_ctx(ws_prompt *p, const char *f)
{
    size_t n = strlen(f);
    if (n > 3 && !strcmp(f + n - 3, ".h5")) {
        ws_ckpt k;
        int rc = ws_ckpt_read(f, &k);
        if (!rc) rc = ws_prompt_set_ctx(p, k.ctx.data, k.ctx.ndim, k.ctx.shape);
        ws_ckpt_free(&k);
        return rc ? ws_fail(rc, "prompt context %s: %s", f, ws_last_error()) : 0;
    }
    ws_at_ckpt ck = NULL;
    ws_at_tensor x = NULL, x32 = NULL;
    int64_t sh[3], numel = 0;
    int nd = 0, rc = 0;
    float *buf = NULL;
    if (ws_at_ckpt_open(f, &ck) || ws_at_ckpt_get(ck, "prompt_learner.ctx", &x) || ws_at_shape(x, sh, 3, &nd))
        rc = ws_fail(WS_EFORMAT, "prompt context %s: %s", f, ws_at_last_error());
    if (!rc && ws_at_to_dtype(x, WS_AT_F32, &x32)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) ws_at_numel(x32, &numel);
    if (!rc && !(buf = malloc((size_t)numel * sizeof *buf))) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && ws_at_read(x32, buf, (size_t)numel * sizeof *buf)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) rc = ws_prompt_set_ctx(p, buf, nd, sh);
    free(buf);
    ws_at_free(x);
    ws_at_free(x32);
    ws_at_ckpt_close(ck);
    return rc;
}

/* The start ctx: the official initialisation, or a given file. */
static int init_ctx(trainer *t)
{
    const char *f = t->c->init_file;
    if (!f[0]) return ws_prompt_init_ctx(&t->p, t->c->init_seed, t->c->init_std);
    int rc = ws_train_load_ctx(&t->p, f);
    return rc ? ws_fail(rc, "prompt.init_file: %s", ws_last_error()) : 0;
}

static int setup_data(trainer *t)
{
    const ws_train_cfg *c = t->c;
    ws_dataset_spec s = {.root = c->root, .split = c->split, .image_dir = c->image_dir, .label_dir = c->label_dir,
                         .split_file = c->split_file, .labels_file = c->labels_file,
                         .seed_dir = t->seg ? c->seed_dir : "", .image_ext = ".jpg", .n_fg = t->n_fg};
    if (t->seg && (c->w_cam_fg != 0 || c->w_cam_bg != 0) && !c->seed_dir[0] && !c->label_dir[0])
        return ws_fail(WS_EINVAL, "the seg task needs data.seed_dir (coarse seeds from `wsseed seeds`)");
    int rc = ws_dataset_open(&t->ds, &s);
    if (rc) return rc;
    if (t->ds.n < c->batch)
        return ws_fail(WS_EINVAL, "split %s has %d images, fewer than train.batch = %d", c->split, t->ds.n, c->batch);
    return 0;
}

static void new_epoch(trainer *t)
{
    for (int64_t i = 0; i < t->ds.n; i++) t->perm[i] = i;
    ws_rng_shuffle_i64(&t->data_rng, t->perm, t->ds.n);
    t->cursor = 0;
}

/* ---- batches -------------------------------------------------------------------------------- */

typedef struct batch {
    int B, C, n_fg, want_map;
    float *images;      /* (B, 3, C, C) */
    uint8_t *maps;      /* (B, C, C) */
    uint8_t *fg;        /* (B, n_fg) image labels */
    uint8_t *ol;        /* (B, n_fg) classes in the cropped map */
    int64_t *index;     /* [B] dataset indices */
    uint32_t *seeds;    /* [B] augmentation seeds */
    float *trunk;       /* (B, T, Wv) cached trunk outputs (feature cache), or NULL */
} batch;

typedef struct worker_arg { trainer *t; batch *b; int k0, step, rc; char msg[1024]; } worker_arg;

static int load_one(trainer *t, batch *b, int k)
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

static void *worker(void *arg)
{
    worker_arg *w = arg;
    for (int k = w->k0; k < w->b->B && !w->rc; k += w->step)
        if ((w->rc = load_one(w->t, w->b, k))) snprintf(w->msg, sizeof w->msg, "%s", ws_last_error());
    return NULL;
}

static int cache_load(trainer *t, batch *b, int k, int64_t pos);

/* Fills b with the next batch (advancing the epoch permutation, drop_last). */
static int next_batch(trainer *t, batch *b)
{
    if (t->cursor + b->B > t->ds.n) { t->epoch++; new_epoch(t); }
    for (int k = 0; k < b->B; k++) {
        b->index[k] = t->perm[t->cursor + k];
        b->seeds[k] = ws_rng_derive((uint64_t)t->c->seed, (uint64_t)t->epoch, (uint64_t)(t->cursor + k));
    }
    if (b->trunk) {   /* feature cache: HDF5 reads in this thread */
        int rc = 0;
        for (int k = 0; k < b->B && !rc; k++) rc = cache_load(t, b, k, t->cursor + k);
        t->cursor += b->B;
        return rc;
    }
    t->cursor += b->B;
    int nw = t->c->workers < 1 ? 1 : t->c->workers > 16 ? 16 : t->c->workers;
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

/* ---- the feature cache (opt-in) --------------------------------------------------------------------- */

#define CACHE_FORMAT "wsseed-views-1"

/* What the cached views depend on: model, data, augmentation, K, storage, seed, task. */
static char *cache_settings(const trainer *t)
{
    static const char *const pre[] = {"task", "model.clip", "data.", "aug.", "train.seed", "train.cache_", NULL};
    ws_cfg_key sub[64];
    size_t k = 0;
    for (size_t i = 0; i < WS_TRAIN_NKEYS && k < 64; i++)
        for (int j = 0; pre[j]; j++)
            if (!strncmp(WS_TRAIN_KEYS[i].key, pre[j], strlen(pre[j]))) { sub[k++] = WS_TRAIN_KEYS[i]; break; }
    ws_train_cfg c = *t->c;
    if (!t->seg) c.seed_dir[0] = '\0';   /* unused by the cls task */
    char *text = ws_cfg_dump(sub, k, &c), *out = NULL;
    if (text && (out = malloc(strlen(text) + 128)))
        sprintf(out, "%sarch: %lld %lld %lld %lld\ncontent: %s\n", text, (long long)t->arch[0], (long long)t->arch[1],
                (long long)t->arch[2], (long long)t->arch[3], t->cache_emb ? "image embeddings" : "last-block inputs");
    free(text);
    return out;
}

/* Writes a float32/float16 tensor as a dataset. */
static int put_tensor(ws_h5file *f, const char *name, ws_at_tensor x)
{
    int64_t sh[8], n = 0;
    int nd = 0, dt = 0;
    if (ws_at_shape(x, sh, 8, &nd) || ws_at_dtype_of(x, &dt) || ws_at_numel(x, &n))
        return ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error());
    size_t bytes = (size_t)n * ws_at_dtype_size(dt);
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) return ws_fail(WS_ENOMEM, "out of memory");
    int rc = ws_at_read(x, buf, bytes) ? ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error())
                                       : ws_h5_write_raw(f, name, dt, nd, sh, buf);
    free(buf);
    return rc;
}

/* The K views of image i: augmentation from (seed, image, view), the trunk in one batch of K.
 * *trunk (g-owned) is (K, T, Wv) (float16 when cached so), fg (K, n_fg), maps (K, C, C) (seg). */
static int cache_views(trainer *t, ws_scope *g, int i, ws_at_tensor *trunk, int *gh, int *gw, uint8_t *fg, uint8_t *maps)
{
    const ws_train_cfg *c = t->c;
    const int K = c->cache_views, C = c->crop, n_fg = t->n_fg;
    const size_t CC = (size_t)C * C;
    const ws_aug_cfg ac = {.jitter = c->jitter, .scale_low = c->scale_low, .scale_high = c->scale_high,
                           .short_thresh = c->short_thresh, .crop = C, .flip = c->flip};
    ws_image img = {0};
    uint8_t *map = NULL, lab[80];
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
    const int64_t is[4] = {K, 3, C, C};
    if (!rc && t->cache_emb) {   /* the whole image encoder, no autograd: (K, E) embeddings */
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
    } else if (!rc) {
        rc = ws_clip_image_trunk(&t->m, g, ws_g_from_data(g, x, WS_AT_F32, 4, is), WS_CLIP_POS_BILINEAR, trunk, gh, gw);
        if (!rc && c->cache_fp16) *trunk = ws_g_to_dtype(g, *trunk, WS_AT_F16);
    }
    ws_image_free(&img);
    free(map);
    free(x);
    return rc ? rc : g->err;
}

/* One part of the store: /views/<id>/{x (K, T, Wv), fg (K, n_fg), grid (2), map (K, C, C) (seg)}. */
static int cache_image(trainer *t, ws_store *st, int i)
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
    if (!rc) rc = put_tensor(&f, p, trunk);
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

/* Builds what is missing of the cache (resumable), then opens it for reading. */
static int cache_prepare(trainer *t)
{
    const ws_train_cfg *c = t->c;
    ws_store st = {0};
    int rc, complete = 0, todo = 0;
    t->cache_emb = !t->seg && c->w_cam_fg == 0 && c->w_cam_bg == 0;
    char *settings = cache_settings(t);
    if (c->cache_views < 1) { free(settings); return ws_fail(WS_EINVAL, "train.cache_views must be >= 1"); }
    if (!settings) return ws_fail(WS_ENOMEM, "out of memory");
    rc = ws_store_open_write_as(&st, c->feature_cache, settings, "views", CACHE_FORMAT);
    if (rc) {
        rc = ws_fail(rc, "%s (the feature cache's model, images, augmentation, views or seed changed?)", ws_last_error());
        goto done;
    }
    for (int i = 0; i < t->ds.n; i++) todo += !ws_store_has(&st, t->ds.ids[i]);
    if (todo) {
        tlog(t, "feature cache: %d views of %d images -> %s", c->cache_views, todo, c->feature_cache);
        ws_progress pg;
        ws_progress_start(&pg, "cache", todo);
        for (int i = 0; i < t->ds.n && !rc; i++) {
            if (ws_store_has(&st, t->ds.ids[i])) continue;
            if (!(rc = cache_image(t, &st, i))) ws_progress_step(&pg, 1, NULL);
        }
        ws_progress_end(&pg);
    }
    if (!rc) rc = ws_store_finish(&st, t->ds.ids, t->ds.n, &complete);
    if (!rc && !complete) rc = ws_fail(WS_EIO, "feature cache %s is incomplete", c->feature_cache);
    if (!rc) rc = ws_h5_open(&t->cache, c->feature_cache);
    if (!rc) {   /* the trunk's shape, from the first image */
        ws_array x = {0}, grid = {0};
        char p[512];
        snprintf(p, sizeof p, "/views/%s/x", t->ds.ids[0]);
        rc = ws_h5_read_row(&t->cache, p, 0, WS_F32, &x);
        snprintf(p, sizeof p, "/views/%s/grid", t->ds.ids[0]);
        if (!rc) rc = ws_h5_read(&t->cache, p, WS_I64, &grid);
        if (!rc) {
            t->cache_T = x.ndim == 2 ? (int)x.shape[0] : 1;
            t->cache_W = (int)x.shape[x.ndim - 1];
            t->cache_gh = (int)((int64_t *)grid.data)[0];
            t->cache_gw = (int)((int64_t *)grid.data)[1];
        }
        ws_array_free(&x);
        ws_array_free(&grid);
    }
done:
    ws_store_close(&st);
    free(settings);
    return rc;
}

/* Sample k of the batch from the cache: view (seed, epoch, position) mod K. */
static int cache_load(trainer *t, batch *b, int k, int64_t pos)
{
    const char *id = t->ds.ids[b->index[k]];
    const int64_t v = ws_rng_derive((uint64_t)t->c->seed ^ 0x5EEDu, (uint64_t)t->epoch, (uint64_t)pos) % t->c->cache_views;
    const size_t TW = (size_t)t->cache_T * t->cache_W, CC = (size_t)b->C * b->C;
    ws_array x = {0}, fg = {0}, map = {0};
    char p[512];
    snprintf(p, sizeof p, "/views/%s/x", id);
    int rc = ws_h5_read_row(&t->cache, p, v, WS_F32, &x);
    snprintf(p, sizeof p, "/views/%s/fg", id);
    if (!rc) rc = ws_h5_read_row(&t->cache, p, v, WS_U8, &fg);
    snprintf(p, sizeof p, "/views/%s/map", id);
    if (!rc && b->want_map) rc = ws_h5_read_row(&t->cache, p, v, WS_U8, &map);
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

/* ---- one iteration ---------------------------------------------------------------------------- */

typedef struct step_stats { double loss, mcl, cam_fg, cam_bg; int positives; } step_stats;

/* Forward + d loss / d ctx over chunk [k0, k0 + n) of the batch; adds grad / sub_iters to *acc. */
static int chunk_grad(trainer *t, batch *b, int k0, int n, ws_at_tensor *acc, step_stats *st)
{
    const ws_train_cfg *c = t->c;
    const size_t CC = (size_t)b->C * b->C;
    const int64_t is[4] = {n, 3, b->C, b->C};
    ws_scope g;
    ws_fma_out fo;
    ws_at_tensor grad = NULL;
    ws_scope_init(&g);
    const uint8_t *fg = b->fg + (size_t)k0 * b->n_fg;
    const uint8_t *pos = t->seg && c->online_labels ? b->ol + (size_t)k0 * b->n_fg : fg;
    ws_fma_batch fb = {.N = n, .H = b->C, .W = b->C, .fg_labels = pos, .mcl_labels = c->w_mcl != 0 ? fg : NULL,
                       .seeds = b->want_map ? b->maps + k0 * CC : NULL};
    if (b->trunk && t->cache_emb) {
        const int64_t es[2] = {n, t->cache_W};
        fb.img_emb = ws_g_from_data(&g, b->trunk + (size_t)k0 * t->cache_W, WS_AT_F32, 2, es);
    } else if (b->trunk) {
        const int64_t ts[3] = {n, t->cache_T, t->cache_W};
        fb.trunk = ws_g_from_data(&g, b->trunk + (size_t)k0 * t->cache_T * t->cache_W, WS_AT_F32, 3, ts);
        fb.grid_h = t->cache_gh;
        fb.grid_w = t->cache_gw;
    } else {
        fb.images = ws_g_from_data(&g, b->images + (size_t)k0 * 3 * CC, WS_AT_F32, 4, is);
    }
    ws_fma_opts o = {.n_fg = b->n_fg, .sm_eps = c->sm_eps, .w_mcl = c->w_mcl, .w_cam_fg = c->w_cam_fg,
                     .w_cam_bg = c->w_cam_bg, .create_graph = 1, .pos_interp = WS_CLIP_POS_BILINEAR,
                     .fast_text = c->fast_text};
    int rc = g.err ? g.err : ws_fma_forward(&t->m, &t->p, &g, &fb, &o, &fo);
    double v = 0;
    if (!rc && ws_at_item(fo.loss_total, &v)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int has_grad = 0;
    if (!rc) ws_at_requires_grad(fo.loss_total, &has_grad);
    if (!rc && has_grad) {
        if (ws_at_autograd_grad(&fo.loss_total, 1, NULL, &t->p.ctx, 1, 0, 0, 1, &grad))
            rc = ws_fail(WS_ETORCH, "d loss / d ctx: %s", ws_at_last_error());
        else if (grad && c->sub_iters > 1) ws_at_mul_scalar_(grad, 1.0 / c->sub_iters);
    }
    if (!rc && grad) {
        if (!*acc) *acc = grad, grad = NULL;
        else if (ws_at_add_scaled_(*acc, grad, 1.0)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    }
    double item = 0;
    st->loss += v / c->sub_iters;
    if (!rc && fo.loss_mcl && !ws_at_item(fo.loss_mcl, &item)) st->mcl += item / c->sub_iters;
    if (!rc && fo.cl.fg && !ws_at_item(fo.cl.fg, &item)) st->cam_fg += item / c->sub_iters;
    if (!rc && fo.cl.bg && !ws_at_item(fo.cl.bg, &item)) st->cam_bg += item / c->sub_iters;
    if (!rc) st->positives += fo.pos.P;
    ws_at_free(grad);
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    return rc;
}

static int train_step(trainer *t, batch *b, double lr, step_stats *st)
{
    ws_at_tensor acc = NULL;
    int rc = 0, per = b->B / t->c->sub_iters;
    memset(st, 0, sizeof *st);
    for (int s = 0; !rc && s < t->c->sub_iters; s++) rc = chunk_grad(t, b, s * per, per, &acc, st);
    if (!rc && !isfinite(st->loss))
        rc = ws_fail(WS_ENUM, "iteration %lld: the loss is %g (images %s, ...); nothing was written for this "
                     "iteration; lower optim.lr or check the data", (long long)t->it + 1, st->loss,
                     t->ds.ids[b->index[0]]);
    if (!rc && !acc) {   /* no positive pair in the batch: a zero gradient (decay and momentum still act) */
        ws_at_tensor d = NULL;
        if (ws_at_detach(t->p.ctx, &d) || ws_at_clone(d, &acc) || ws_at_fill_(acc, 0.0))
            rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
        ws_at_free(d);
    }
    if (!rc) rc = ws_sgd_step(&t->sgd, t->p.ctx, acc, lr);
    ws_at_free(acc);
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

static int tensor_array(ws_at_tensor x, ws_array *a)
{
    int64_t sh[4];
    int nd = 0;
    if (ws_at_shape(x, sh, 4, &nd)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int rc = ws_array_alloc(a, WS_F32, nd, sh);
    if (!rc && ws_at_read(x, a->data, (size_t)ws_array_numel(a) * sizeof(float))) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    return rc;
}

static int save(trainer *t, const char *name)
{
    char path[sizeof t->dir + 64];
    ws_ckpt k = {.format_version = WS_CKPT_FORMAT, .iteration = t->it, .seed = t->c->seed, .data_rng = t->snap_rng,
                 .epoch = t->snap_epoch, .cursor = t->snap_cursor, .config = t->config_text};
    snprintf(k.task, sizeof k.task, "%.15s", t->c->task);
    memcpy(k.arch, t->arch, sizeof k.arch);
    int rc = tensor_array(t->p.ctx, &k.ctx);
    if (!rc && t->sgd.buf) rc = tensor_array(t->sgd.buf, &k.momentum);
    int64_t n = t->ds.n;
    if (!rc) rc = ws_array_alloc(&k.perm, WS_I64, 1, &n);
    if (!rc) memcpy(k.perm.data, t->snap_perm, (size_t)n * sizeof *t->perm);
    snprintf(path, sizeof path, "%s/checkpoints/%s", t->dir, name);
    if (!rc) rc = ws_ckpt_write(path, &k);
    k.config = NULL;
    ws_ckpt_free(&k);
    return rc;
}

/* The newest checkpoint of the run ("" when none): final.h5, else the highest iter-*.h5. */
static void newest_ckpt(const trainer *t, char *out, size_t cap)
{
    char d[sizeof t->dir + 16];
    long best = -1;
    out[0] = '\0';
    snprintf(d, sizeof d, "%s/checkpoints", t->dir);
    DIR *dir = opendir(d);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        long it;
        char tail[8];
        if (!strcmp(e->d_name, "final.h5")) { snprintf(out, cap, "%s/final.h5", d); best = 1L << 40; }
        else if (sscanf(e->d_name, "iter-%ld%4s", &it, tail) == 2 && !strcmp(tail, ".h5") && it > best) {
            int k = snprintf(out, cap, "%s/%s", d, e->d_name);
            if (k > 0 && (size_t)k < cap) best = it;
            else out[0] = '\0';
        }
    }
    if (dir) closedir(dir);
}

static int resume_from(trainer *t, const char *path)
{
    ws_ckpt k;
    int rc = ws_ckpt_read(path, &k);
    if (rc) return rc;
    if (!(rc = ws_ckpt_check(&k, path, t->c->task, t->arch)) && ws_array_numel(&k.perm) != t->ds.n)
        rc = ws_fail(WS_EINVAL, "%s was written for a split of %lld images; this one has %d", path,
                     (long long)ws_array_numel(&k.perm), t->ds.n);
    if (!rc) rc = ws_prompt_set_ctx(&t->p, k.ctx.data, k.ctx.ndim, k.ctx.shape);
    if (!rc && k.momentum.data) {
        if (ws_at_from_data(k.momentum.data, WS_AT_F32, k.momentum.ndim, k.momentum.shape, &t->sgd.buf))
            rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    }
    if (!rc) {
        t->it = k.iteration;
        t->epoch = k.epoch;
        t->cursor = k.cursor;
        t->data_rng = k.data_rng;
        memcpy(t->perm, k.perm.data, (size_t)t->ds.n * sizeof *t->perm);
        if (k.seed != t->c->seed) tlog(t, "note: the checkpoint's train.seed %lld replaces %d", (long long)k.seed, t->c->seed);
        tlog(t, "resuming from %s at iteration %lld", path, (long long)t->it);
    }
    ws_ckpt_free(&k);
    return rc;
}

/* metrics.csv keeps the rows of iterations <= it (those after it were from a killed run). */
static int open_metrics(trainer *t)
{
    char path[sizeof t->dir + 16], line[512];
    snprintf(path, sizeof path, "%s/metrics.csv", t->dir);
    FILE *old = t->it > 0 ? fopen(path, "r") : NULL;
    char *kept = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&kept, &len);
    fputs("iter,loss,loss_mcl,loss_cam_fg,loss_cam_bg,lr,positives,sec\n", mem);
    if (old) {
        if (fgets(line, sizeof line, old)) {}   /* header */
        while (fgets(line, sizeof line, old))
            if (atol(line) <= t->it) fputs(line, mem);
        fclose(old);
    }
    fclose(mem);
    t->csv = fopen(path, "w");
    if (t->csv) fputs(kept, t->csv);
    free(kept);
    return t->csv ? 0 : ws_fail(WS_EIO, "cannot write %s", path);
}

static int write_text(const trainer *t, const char *name, const char *text)
{
    char path[sizeof t->dir + 64], tmp[sizeof path + 8];
    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ws_fail(WS_EIO, "cannot write %s", tmp);
    fputs(text, f);
    if (fclose(f) || rename(tmp, path)) return ws_fail(WS_EIO, "cannot write %s", path);
    return 0;
}

static int write_run_files(trainer *t)
{
    char build[1024];
    snprintf(build, sizeof build, "wsseed %s\nlibtorch %s\nconfigure %s\ntrain.seed %d\nruntime.threads %d\n",
             PACKAGE_VERSION, ws_at_version(), WS_CONFIGURE_ARGS, t->c->seed, t->c->threads);
    int rc = write_text(t, "config.yaml", t->config_text);
    return rc ? rc : write_text(t, "build.txt", build);
}

/* ---- the loop --------------------------------------------------------------------------------- */

static int batch_alloc(trainer *t, batch *b)
{
    const ws_train_cfg *c = t->c;
    *b = (batch){.B = c->batch, .C = c->crop, .n_fg = t->n_fg, .want_map = t->seg};
    const size_t CC = (size_t)b->C * b->C;
    b->images = malloc((size_t)b->B * 3 * CC * sizeof *b->images);
    b->maps = malloc((size_t)b->B * CC);
    b->fg = malloc((size_t)b->B * b->n_fg);
    b->ol = calloc((size_t)b->B * b->n_fg, 1);
    b->index = malloc((size_t)b->B * sizeof *b->index);
    b->seeds = malloc((size_t)b->B * sizeof *b->seeds);
    if (c->feature_cache[0]) b->trunk = malloc((size_t)b->B * t->cache_T * t->cache_W * sizeof *b->trunk);
    return b->images && b->maps && b->fg && b->ol && b->index && b->seeds && (b->trunk || !c->feature_cache[0])
           ? 0 : ws_fail(WS_ENOMEM, "out of memory");
}

static void batch_free(batch *b)
{
    free(b->images); free(b->maps); free(b->fg); free(b->ol); free(b->index); free(b->seeds); free(b->trunk);
}

/* The loader's state after the batch about to be used: what a checkpoint after it records. */
static void snapshot(trainer *t)
{
    t->snap_epoch = t->epoch;
    t->snap_cursor = t->cursor;
    t->snap_rng = t->data_rng;
    memcpy(t->snap_perm, t->perm, (size_t)t->ds.n * sizeof *t->perm);
}

typedef struct prefetch { trainer *t; batch *b; int rc; char msg[1024]; } prefetch;

static void *prefetch_run(void *arg)
{
    prefetch *p = arg;
    if ((p->rc = next_batch(p->t, p->b))) snprintf(p->msg, sizeof p->msg, "%s", ws_last_error());
    return NULL;
}

/* The loop: the next batch is decoded and augmented in a thread while the current step computes
 * (the loader's state is snapshot before, so checkpoints and results do not change). */
static int loop(trainer *t)
{
    const ws_train_cfg *c = t->c;
    batch b[2];
    memset(b, 0, sizeof b);
    int rc = batch_alloc(t, &b[0]), cur = 0;
    if (!rc) rc = batch_alloc(t, &b[1]);
    if (!rc && t->it < c->max_iter) rc = next_batch(t, &b[cur]);
    int save_every = c->save_every > 0 ? c->save_every : (c->max_iter / 10 > 1000 ? c->max_iter / 10 : 1000);
    ws_progress pg;
    ws_progress_start(&pg, c->task, c->max_iter);
    pg.done = t->it;
    while (!rc && t->it < c->max_iter) {
        double t0 = ws_now(), lr = ws_lr_at(&t->sched, (long)t->it);
        step_stats st;
        snapshot(t);
        pthread_t th;
        prefetch pf = {.t = t, .b = &b[1 - cur]};
        int started = t->it + 1 < c->max_iter && !pthread_create(&th, NULL, prefetch_run, &pf);
        if (t->it + 1 < c->max_iter && !started) prefetch_run(&pf);   /* no thread: load it now */
        rc = train_step(t, &b[cur], lr, &st);
        if (started) pthread_join(th, NULL);
        if (!rc && pf.rc) rc = ws_fail(pf.rc, "%s", pf.msg);
        if (rc) break;
        cur = 1 - cur;
        t->it++;
        double dt = ws_now() - t0;
        fprintf(t->csv, "%lld,%.8g,%.8g,%.8g,%.8g,%.8g,%d,%.4f\n", (long long)t->it, st.loss, st.mcl, st.cam_fg,
                st.cam_bg, lr, st.positives, dt);
        fflush(t->csv);
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4g lr %.2e %.2f it/s", st.loss, lr, dt > 0 ? 1.0 / dt : 0.0);
        ws_progress_step(&pg, 1, extra);
        if (t->it % save_every == 0 && t->it < c->max_iter) {
            char name[32];
            snprintf(name, sizeof name, "iter-%06lld.h5", (long long)t->it);
            rc = save(t, name);
        }
    }
    ws_progress_end(&pg);
    if (!rc) rc = save(t, "final.h5");
    if (!rc) tlog(t, "done: %s/checkpoints/final.h5 (export the context with `wsseed export-ctx`)", t->dir);
    batch_free(&b[0]);
    batch_free(&b[1]);
    return rc;
}

static int run(trainer *t, const char *resume)
{
    const ws_train_cfg *c = t->c;
    char ck[sizeof t->dir + 32], path[sizeof t->dir + 32];
    int rc;
    if (strcmp(c->task, "cls") && strcmp(c->task, "seg")) return ws_fail(WS_EINVAL, "task must be cls or seg, not '%s'", c->task);
    if (c->batch < 1 || c->sub_iters < 1 || c->batch % c->sub_iters || c->max_iter < 1 || c->crop < 16)
        return ws_fail(WS_EINVAL, "train.batch must be a positive multiple of train.sub_iters, max_iter >= 1, crop >= 16");
    t->seg = !strcmp(c->task, "seg");
    snprintf(t->dir, sizeof t->dir, "%s/%s", c->out_dir, c->run);
    snprintf(ck, sizeof ck, "%s/checkpoints", t->dir);
    if ((rc = ws_mkdir_p(ck))) return rc;
    snprintf(path, sizeof path, "%s/train.log", t->dir);
    t->log = fopen(path, "a");
    if (!(t->config_text = ws_cfg_dump(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, c))) return ws_fail(WS_ENOMEM, "out of memory");
    ws_at_set_num_threads(c->threads);
    if ((rc = setup_model(t)) || (rc = init_ctx(t)) || (rc = setup_data(t))) return rc;
    if (c->feature_cache[0] && (rc = cache_prepare(t))) return rc;
    t->sgd = (ws_sgd){.momentum = c->momentum, .weight_decay = c->weight_decay};
    t->sched = (ws_lr_sched){.base_lr = c->lr, .warm_iters = c->warm_iters, .warm_factor = c->warm_factor,
                             .max_iter = c->max_iter, .eta_min = c->eta_min};
    if (!(t->perm = malloc((size_t)t->ds.n * sizeof *t->perm))) return ws_fail(WS_ENOMEM, "out of memory");
    ws_rng_seed(&t->data_rng, (uint32_t)c->seed);
    new_epoch(t);
    char from[sizeof ck + 32] = "";
    if (resume && !strcmp(resume, "auto")) {
        newest_ckpt(t, from, sizeof from);
        if (!from[0]) tlog(t, "no checkpoint in %s yet: starting from iteration 0", ck);
    } else if (resume) {
        snprintf(from, sizeof from, "%s", resume);
    }
    if (from[0] && (rc = resume_from(t, from))) return rc;
    if (t->it >= c->max_iter) {
        tlog(t, "%s is already at iteration %lld of %d: nothing to do", from, (long long)t->it, c->max_iter);
        return 0;
    }
    if (!(t->snap_perm = malloc((size_t)t->ds.n * sizeof *t->snap_perm))) return ws_fail(WS_ENOMEM, "out of memory");
    snapshot(t);   /* what start.h5 (and a run that stops before its first step) records */
    if ((rc = write_run_files(t)) || (rc = open_metrics(t))) return rc;
    if (t->it == 0 && (rc = save(t, "start.h5"))) return rc;
    tlog(t, "training %s prompts: %d images of %s/%s, batch %d, %d iterations, %d prompts x %d ctx tokens -> %s",
         c->task, t->ds.n, c->root, c->split, c->batch, c->max_iter, t->p.n_cls, c->n_ctx, t->dir);
    return loop(t);
}

int ws_train_run(const ws_train_cfg *c, const char *resume)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    int rc = run(&t, resume);
    if (rc) {   /* keep the message: cleanup below must not overwrite it */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ws_last_error());
        if (t.log) fprintf(t.log, "error: %s\n", msg);   /* stderr gets it from the caller */
        ws_fail(rc, "%s", msg);
    }
    if (t.csv) fclose(t.csv);
    if (t.log) fclose(t.log);
    ws_h5_close(&t.cache);
    free(t.snap_perm);
    free(t.perm);
    free(t.config_text);
    ws_sgd_free(&t.sgd);
    ws_dataset_close(&t.ds);
    ws_prompt_free(&t.p);
    ws_bpe_free(&t.bpe);
    ws_clip_free(&t.m);
    return rc;
}

int ws_train_cache_recompute(const ws_train_cfg *c, int image, float **out, int64_t *numel)
{
    trainer t;
    ws_scope g;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.seg = !strcmp(c->task, "seg");
    *out = NULL;
    ws_scope_init(&g);
    int rc = setup_model(&t);
    if (!rc) rc = setup_data(&t);
    t.cache_emb = !t.seg && c->w_cam_fg == 0 && c->w_cam_bg == 0;
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
    ws_dataset_close(&t.ds);
    ws_prompt_free(&t.p);
    ws_bpe_free(&t.bpe);
    ws_clip_free(&t.m);
    return rc;
}

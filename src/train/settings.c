/* settings.c - the training settings: the key table (config file, --set, --help, the resolved
 * config.yaml of a run) and the VOC defaults of both tasks (see settings.h). The table's order and
 * key strings are part of the on-disk format: the resolved config.yaml and the pipeline's
 * content-addressed cache keys are derived from them.
 */
#include "train/settings.h"

#include <string.h>

#include "core/status.h"

#define OFF(f) offsetof(ws_train_cfg, f)
static const ws_cfg_key HEAD_KEYS[] = {
    {"task", WS_CFG_STR, OFF(task), "cls (classification prompts, MCL) or seg (segmentation prompts, CAM loss)"},
    {"run", WS_CFG_STR, OFF(run), "run name: outputs go to <out_dir>/<run>/"},
    {"out_dir", WS_CFG_STR, OFF(out_dir), "folder of runs"},
};
/* then model.clip, model.vocab, data.* (io/settings.h), then: */
static const ws_cfg_key OWN_KEYS[] = {
    {"prompt.n_ctx", WS_CFG_INT, OFF(prompt.n_ctx), "learnable context tokens M"},
    {"prompt.csc", WS_CFG_BOOL, OFF(prompt.csc), "class-specific context (seg) instead of one shared context (cls)"},
    {"prompt.cls_token_pos", WS_CFG_STR, OFF(prompt.cls_token_pos), "end: [ctx, name] (cls); front: [name, ctx] (seg)"},
    {"prompt.bg_names", WS_CFG_STR, OFF(prompt.bg_names), "clip_es (CLIP-ES bg words) or empty (pure learnable bg prompts)"},
    {"prompt.n_bg", WS_CFG_INT, OFF(prompt.n_bg), "number of bg prompts (VOC 25; COCO words: 23)"},
    {"prompt.init_seed", WS_CFG_STR, OFF(prompt.init_seed), "ctx init: torch seed = sha1(string) mod 2^32 (cls '真', seg '机')"},
    {"prompt.init_std", WS_CFG_FLOAT, OFF(prompt.init_std), "ctx init: N(0, std^2) (cls 0.015, seg 0.0125)"},
    {"prompt.init_file", WS_CFG_STR, OFF(prompt.init_file), "'' or a start ctx (.h5 checkpoint or .pth with prompt_learner.ctx)"},
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
};
/* then runtime.threads, runtime.workers */

static ws_cfg_cached table;

static int build_table(ws_cfg_key **t, size_t *n)
{
    static const char *const model[] = {"model.clip", "model.vocab", NULL};
    static const char *const data[] = {"data.dataset", "data.classes", "data.class_file",
                                       "data.root", "data.split", "data.image_dir", "data.label_dir",
                                       "data.split_file", "data.labels_file", "data.seed_dir", NULL};
    int rc = ws_cfg_table_add(t, n, HEAD_KEYS, sizeof HEAD_KEYS / sizeof HEAD_KEYS[0], NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(t, n, WS_MODEL_KEYS, WS_MODEL_NKEYS, model, "", OFF(model));
    if (!rc) rc = ws_settings_add(t, n, WS_DATA_KEYS, WS_DATA_NKEYS, data, "", OFF(data));
    if (!rc) rc = ws_cfg_table_add(t, n, OWN_KEYS, sizeof OWN_KEYS / sizeof OWN_KEYS[0], NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(t, n, WS_RUNTIME_KEYS, WS_RUNTIME_NKEYS, NULL, "", OFF(runtime));
    return rc;
}

const ws_cfg_key *ws_train_keys(size_t *n)
{
    return ws_cfg_cached_table(&table, build_table, n);
}

void ws_train_defaults(ws_train_cfg *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->task, "cls");
    strcpy(c->run, "voc_cls");
    strcpy(c->out_dir, "experiments");
    ws_model_paths_defaults(&c->model);
    ws_data_defaults(&c->data);
    ws_runtime_defaults(&c->runtime);
    c->prompt.n_ctx = 16;
    strcpy(c->prompt.cls_token_pos, "end");
    strcpy(c->prompt.bg_names, "clip_es");
    c->prompt.n_bg = 25;
    strcpy(c->prompt.init_seed, "\xe7\x9c\x9f");   /* 真 */
    c->prompt.init_std = 0.015;
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
    c->fast_text = 1;
    c->cache_views = 4;
    c->cache_fp16 = 1;
}

void ws_train_defaults_seg(ws_train_cfg *c)
{
    ws_train_defaults(c);
    strcpy(c->task, "seg");
    strcpy(c->run, "voc_seg");
    c->prompt.csc = 1;
    strcpy(c->prompt.cls_token_pos, "front");
    strcpy(c->prompt.bg_names, "empty");
    strcpy(c->prompt.init_seed, "\xe6\x9c\xba");   /* 机 */
    c->prompt.init_std = 0.0125;
    c->online_labels = 1;
    c->w_mcl = 0;
    c->w_cam_fg = c->w_cam_bg = 1;
    c->max_iter = 17000;
}

/* The range rules of ws_train_check, one row per rule: a value outside stops the run before any
 * work (a negative learning rate would train by gradient ascent, an inverted scale range would
 * fail deep inside the augmentation with an unrelated message). */
int ws_train_check(const ws_train_cfg *c)
{
#define NEED(cond, ...) do { if (!(cond)) return ws_fail(WS_EINVAL, __VA_ARGS__); } while (0)
    NEED(!strcmp(c->task, "cls") || !strcmp(c->task, "seg"), "task: '%s' is not cls or seg", c->task);
    NEED(c->run[0] && !strchr(c->run, '/'), "run: '%s' must be a non-empty folder name (outputs go to out_dir/run)", c->run);
    NEED(c->lr >= 0, "optim.lr: %g is negative (it would train by gradient ascent)", c->lr);
    NEED(c->momentum >= 0 && c->momentum < 1, "optim.momentum: %g is not in [0, 1)", c->momentum);
    NEED(c->weight_decay >= 0, "optim.weight_decay: %g is negative", c->weight_decay);
    NEED(c->warm_factor >= 0 && c->eta_min >= 0, "optim.warm_factor and optim.eta_min must be >= 0 (%g, %g)",
         c->warm_factor, c->eta_min);
    NEED(c->warm_iters >= 0, "optim.warm_iters: %d is negative", c->warm_iters);
    NEED(c->scale_low >= 16 && c->scale_low <= c->scale_high, "aug.scale_low %d must be >= 16 and <= aug.scale_high %d",
         c->scale_low, c->scale_high);
    NEED(c->crop >= 16 && c->short_thresh >= 1, "aug.crop (%d) must be >= 16 and aug.short_thresh (%d) >= 1", c->crop,
         c->short_thresh);
    NEED(c->batch >= 1 && c->sub_iters >= 1 && c->batch % c->sub_iters == 0,
         "train.batch (%d) must be a positive multiple of train.sub_iters (%d)", c->batch, c->sub_iters);
    NEED(c->max_iter >= 1 && c->save_every >= 0, "train.max_iter (%d) must be >= 1 and train.save_every (%d) >= 0",
         c->max_iter, c->save_every);
    NEED(c->cache_views >= 1, "train.cache_views: %d must be >= 1", c->cache_views);
    NEED(c->prompt.n_ctx >= 1 && c->prompt.n_bg >= 0, "prompt.n_ctx (%d) must be >= 1 and prompt.n_bg (%d) >= 0",
         c->prompt.n_ctx, c->prompt.n_bg);
    NEED(c->runtime.threads >= 1 && c->runtime.threads <= 1024, "runtime.threads: %d is not in 1..1024", c->runtime.threads);
    NEED(c->runtime.workers >= 0 && c->runtime.workers <= 256, "runtime.workers: %d is not in 0..256", c->runtime.workers);
#undef NEED
    return 0;
}

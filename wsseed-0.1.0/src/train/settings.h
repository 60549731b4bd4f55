/* settings.h - the settings of a prompt-training run (both tasks): the struct, its key table and
 * the VOC defaults. Separate from train.h so that code which only reads a training config (CAM
 * inference, the pipeline's config sections) does not see the trainer. Plain data, no ownership.
 */
#ifndef WS_TRAIN_SETTINGS_H
#define WS_TRAIN_SETTINGS_H
#include <stddef.h>
#include "io/config.h"
#include "io/settings.h"
#include "method/prompt_build.h"

typedef struct ws_train_cfg {
    char task[WS_CFG_STR_MAX];            /* cls | seg */
    char run[WS_CFG_STR_MAX];             /* run name: experiments/<run> */
    char out_dir[WS_CFG_STR_MAX];         /* experiments */
    ws_model_paths model;                 /* model.clip, model.vocab (io/settings.h) */
    ws_data_cfg data;                     /* data.*: the split trained on; seed_dir for seg */
    ws_prompt_cfg prompt;                 /* the prompt.* keys: learner layout and start ctx */
    int jitter, scale_low, scale_high, short_thresh, crop, flip, online_labels;
    double w_mcl, w_cam_fg, w_cam_bg, sm_eps;
    double lr, momentum, weight_decay, warm_factor, eta_min;
    int warm_iters;
    int batch, max_iter, sub_iters, seed, save_every;
    int fast_text;                        /* causal horizon + shared prefix in the text encoder */
    char feature_cache[WS_CFG_STR_MAX];   /* '' or the HDF5 store of cached trunk outputs */
    int cache_views, cache_fp16;          /* K augmented views per image; float16 storage */
    ws_runtime_cfg runtime;               /* runtime.threads, runtime.workers */
} ws_train_cfg;

/* The key table of ws_train_cfg, in the order of the resolved config.yaml: its own keys with the
 * shared model.clip, model.vocab, data.* and runtime.* rows of io/settings.h. Built on the first
 * call, then static and read-only for the life of the process; *n receives its length. NULL only
 * when out of memory at the first call. */
const ws_cfg_key *ws_train_keys(size_t *n);
/* Checks every numeric setting of c against its range and the ones that must agree (naming the
 * key and the value): learning rates, momentum, decay >= 0 and finite, scale_low <= scale_high,
 * crop, batch a multiple of sub_iters, a non-empty run name, threads and workers within bounds. */
int ws_train_check(const ws_train_cfg *c);
/* Sets *c to the VOC cls defaults (configs/voc/cls.yaml states the same values); cannot fail. */
void ws_train_defaults(ws_train_cfg *c);
/* Sets *c to the VOC seg task's settings (configs/voc/seg.yaml minus data.seed_dir); cannot fail. */
void ws_train_defaults_seg(ws_train_cfg *c);
#endif

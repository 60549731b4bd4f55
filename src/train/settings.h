/* settings.h - the settings of a prompt-training run (both tasks): the struct, its key table and
 * the VOC defaults. Separate from train.h so that code which only reads a training config (CAM
 * inference, the pipeline's config sections) does not see the trainer. Plain data, no ownership.
 */
#ifndef WS_TRAIN_SETTINGS_H
#define WS_TRAIN_SETTINGS_H
#include <stddef.h>
#include "io/config.h"
#include "method/prompt_build.h"

typedef struct ws_train_cfg {
    char task[WS_CFG_STR_MAX];            /* cls | seg */
    char run[WS_CFG_STR_MAX];             /* run name: experiments/<run> */
    char out_dir[WS_CFG_STR_MAX];         /* experiments */
    char clip[WS_CFG_STR_MAX], vocab[WS_CFG_STR_MAX];
    char dataset[WS_CFG_STR_MAX];         /* voc | coco (names, n_fg) */
    char root[WS_CFG_STR_MAX], split[WS_CFG_STR_MAX];
    char image_dir[WS_CFG_STR_MAX], label_dir[WS_CFG_STR_MAX], split_file[WS_CFG_STR_MAX];
    char labels_file[WS_CFG_STR_MAX], seed_dir[WS_CFG_STR_MAX];
    ws_prompt_cfg prompt;                 /* the prompt.* keys: learner layout and start ctx */
    int jitter, scale_low, scale_high, short_thresh, crop, flip, online_labels;
    double w_mcl, w_cam_fg, w_cam_bg, sm_eps;
    double lr, momentum, weight_decay, warm_factor, eta_min;
    int warm_iters;
    int batch, max_iter, sub_iters, seed, save_every, threads, workers;
    int fast_text;                        /* causal horizon + shared prefix in the text encoder */
    char feature_cache[WS_CFG_STR_MAX];   /* '' or the HDF5 store of cached trunk outputs */
    int cache_views, cache_fp16;          /* K augmented views per image; float16 storage */
} ws_train_cfg;

/* The key table of ws_train_cfg, in the order of the resolved config.yaml (static, read-only). */
extern const ws_cfg_key WS_TRAIN_KEYS[];
extern const size_t WS_TRAIN_NKEYS;
/* Sets *c to the VOC cls defaults (configs/voc/cls.yaml states the same values); cannot fail. */
void ws_train_defaults(ws_train_cfg *c);
/* Sets *c to the VOC seg task's settings (configs/voc/seg.yaml minus data.seed_dir); cannot fail. */
void ws_train_defaults_seg(ws_train_cfg *c);
#endif

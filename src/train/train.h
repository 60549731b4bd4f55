/* train.h - the FMA-WSSS prompt-training loop (both tasks) and its settings.
 *
 * build (CLIP, tokenizer, prompt learner, dataset) -> for each iteration: load + augment a batch,
 * forward (frozen trunk without autograd), d loss / d ctx (second order in seg), SGD step, LR
 * schedule, metrics -> checkpoints every save_every iterations and at the end. A run lives in
 * experiments/<run>/ (config.yaml, build.txt, train.log, metrics.csv, checkpoints/).
 */
#ifndef WS_TRAIN_TRAIN_H
#define WS_TRAIN_TRAIN_H
#include <stddef.h>
#include "io/config.h"
#include "method/prompt.h"

typedef struct ws_train_cfg {
    char task[WS_CFG_STR_MAX];            /* cls | seg */
    char run[WS_CFG_STR_MAX];             /* run name: experiments/<run> */
    char out_dir[WS_CFG_STR_MAX];         /* experiments */
    char clip[WS_CFG_STR_MAX], vocab[WS_CFG_STR_MAX];
    char dataset[WS_CFG_STR_MAX];         /* voc | coco (names, n_fg) */
    char root[WS_CFG_STR_MAX], split[WS_CFG_STR_MAX];
    char image_dir[WS_CFG_STR_MAX], label_dir[WS_CFG_STR_MAX], split_file[WS_CFG_STR_MAX];
    char labels_file[WS_CFG_STR_MAX], seed_dir[WS_CFG_STR_MAX];
    int n_ctx, csc;
    char cls_token_pos[WS_CFG_STR_MAX];   /* end | front */
    char bg_names[WS_CFG_STR_MAX];        /* clip_es | empty */
    int n_bg;                             /* number of bg prompts (25 VOC; COCO 23 words) */
    char init_seed[WS_CFG_STR_MAX];
    double init_std;
    char init_file[WS_CFG_STR_MAX];       /* optional start ctx: wsseed .h5 checkpoint or .pth */
    int jitter, scale_low, scale_high, short_thresh, crop, flip, online_labels;
    double w_mcl, w_cam_fg, w_cam_bg, sm_eps;
    double lr, momentum, weight_decay, warm_factor, eta_min;
    int warm_iters;
    int batch, max_iter, sub_iters, seed, save_every, threads, workers;
    int fast_text;                        /* causal horizon + shared prefix in the text encoder */
    char feature_cache[WS_CFG_STR_MAX];   /* '' or the HDF5 store of cached trunk outputs */
    int cache_views, cache_fp16;          /* K augmented views per image; float16 storage */
} ws_train_cfg;

extern const ws_cfg_key WS_TRAIN_KEYS[];
extern const size_t WS_TRAIN_NKEYS;
/* The VOC cls defaults (configs/voc/cls.yaml states the same values). */
void ws_train_defaults(ws_train_cfg *c);
/* The VOC seg task's settings (configs/voc/seg.yaml minus data.seed_dir). */
void ws_train_defaults_seg(ws_train_cfg *c);
/* Runs (or resumes: resume NULL, "auto" = newest checkpoint of the run, or a path) the training
 * described by c. Returns 0 or a WS_E* code; the message names the file/iteration at fault. */
int ws_train_run(const ws_train_cfg *c, const char *resume);
/* Loads CLIP, the tokenizer and the prompt learner c describes (names, layout, bg prompts), ctx
 * zero; *n_fg = 20 or 80. On failure the parts built so far are in *m, *bpe, *p (free them). */
int ws_train_build_prompt(const ws_train_cfg *c, ws_clip *m, ws_bpe *bpe, ws_prompt *p, int *n_fg);
/* Recomputes what the feature cache holds for image index `image` of c's split: its K views'
 * trunk outputs (K, T, Wv) as float32 (*out malloc'd, *numel values), exactly as the cache
 * builder computes them (for round-trip tests). */
int ws_train_cache_recompute(const ws_train_cfg *c, int image, float **out, int64_t *numel);
/* Sets p's ctx from a wsseed .h5 checkpoint or a .pth state dict with prompt_learner.ctx. */
int ws_train_load_ctx(ws_prompt *p, const char *path);
#endif

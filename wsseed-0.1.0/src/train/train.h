/* train.h - the FMA-WSSS prompt-training loop (both tasks).
 *
 * build (CLIP, tokenizer, prompt learner, dataset) -> for each iteration: load + augment a batch,
 * forward (frozen trunk without autograd), d loss / d ctx (second order in seg), SGD step, LR
 * schedule, metrics -> checkpoints every save_every iterations and at the end. A run lives in
 * experiments/<run>/ (config.yaml, build.txt, train.log, metrics.csv, checkpoints/). The settings
 * (ws_train_cfg, its key table and defaults) are in train/settings.h.
 */
#ifndef WS_TRAIN_TRAIN_H
#define WS_TRAIN_TRAIN_H
#include <stdint.h>
#include "train/settings.h"

/* Runs (or resumes: resume NULL, "auto" = newest checkpoint of the run, or a path) the training
 * described by c, writing <out_dir>/<run>/. Returns 0 or a WS_E* code; the message (also in
 * train.log) names the file/iteration at fault. Everything it opens is closed on return. */
int ws_train_run(const ws_train_cfg *c, const char *resume);
/* Recomputes what the feature cache holds for image index `image` of c's split: its K views'
 * trunk outputs (K, T, Wv) as float32 (*out malloc'd, caller frees, NULL on failure; *numel
 * values), exactly as the cache builder computes them (for round-trip tests). Returns 0 or a
 * WS_E* code (a bad setting, an unreadable image, an index out of range). */
int ws_train_cache_recompute(const ws_train_cfg *c, int image, float **out, int64_t *numel);
#endif

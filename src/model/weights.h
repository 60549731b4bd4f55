/* weights.h - reading named fp32 weights out of an opened checkpoint, with errors that say which
 * tensor of which file is missing or malformed and what kind of checkpoint was expected. */
#ifndef WS_MODEL_WEIGHTS_H
#define WS_MODEL_WEIGHTS_H

#include "shim/at.h"

/* Copies tensor `name` as contiguous fp32 on the current device (ws_at_set_device) into *out
 * (caller frees). ndim < 0 accepts any rank;
 * shape entries < 0 accept any size. `kind` completes "is it <kind> checkpoint?" in messages. */
int ws_weight(ws_at_ckpt ck, const char *name, int ndim, const int64_t *shape, const char *kind, ws_at_tensor *out);
/* Shape of tensor `name` without converting it: up to WS_AT_MAX_DIMS sizes into shape, the rank
 * into *ndim. Fails with WS_EFORMAT when the tensor is absent (naming file, key and `kind`). */
int ws_weight_shape(ws_at_ckpt ck, const char *name, int64_t *shape, int *ndim, const char *kind);
/* Number of distinct integers <i> in keys "<prefix><i>." (like build_model's layer counting). */
int ws_weight_count(ws_at_ckpt ck, const char *prefix);
/* Random weights (benchmarks, demos): adds a float32 tensor `name` of the given shape to ck, filled
 * with `fill`, or N(0, (0.02 s)^2) when fill is NaN (s = 1) or negative (s = -fill). */
int ws_weight_random(ws_at_gen gen, ws_at_ckpt ck, const char *name, double fill, int ndim, const int64_t *shape);
/* nn.Linear(in, out) as random weights: "<pre>.weight" (out, in) then "<pre>.bias" (out), both
 * N(0, 0.02^2), drawn from gen in that order. Returns 0 or WS_ETORCH naming the tensor. */
int ws_weight_random_linear(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t out, int64_t in);
/* nn.LayerNorm(d) (or GroupNorm) at its initial values: "<pre>.weight" all 1, "<pre>.bias" all 0
 * (draws nothing from gen). Returns 0 or WS_ETORCH naming the tensor. */
int ws_weight_random_norm(ws_at_gen gen, ws_at_ckpt ck, const char *pre, int64_t d);

#endif

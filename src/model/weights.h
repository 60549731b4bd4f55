/* weights.h - reading named fp32 weights out of an opened checkpoint, with errors that say which
 * tensor of which file is missing or malformed and what kind of checkpoint was expected. */
#ifndef WS_MODEL_WEIGHTS_H
#define WS_MODEL_WEIGHTS_H

#include "shim/at.h"

/* Copies tensor `name` as contiguous fp32 into *out (caller frees). ndim < 0 accepts any rank;
 * shape entries < 0 accept any size. `kind` completes "is it <kind> checkpoint?" in messages. */
int ws_weight(ws_at_ckpt ck, const char *name, int ndim, const int64_t *shape, const char *kind, ws_at_tensor *out);
/* Shape of tensor `name` without converting it. */
int ws_weight_shape(ws_at_ckpt ck, const char *name, int64_t *shape, int *ndim, const char *kind);
/* Number of distinct integers <i> in keys "<prefix><i>." (like build_model's layer counting). */
int ws_weight_count(ws_at_ckpt ck, const char *prefix);
/* Random weights (benchmarks, demos): adds a float32 tensor `name` of the given shape to ck, filled
 * with `fill`, or N(0, (0.02 s)^2) when fill is NaN (s = 1) or negative (s = -fill). */
int ws_weight_random(ws_at_gen gen, ws_at_ckpt ck, const char *name, double fill, int ndim, const int64_t *shape);

#endif

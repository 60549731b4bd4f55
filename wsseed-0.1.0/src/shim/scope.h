/* scope.h - a tensor scope with a sticky error, so that model code reads like the maths.
 *
 * Every ws_g_* call runs one shim operation and registers its result in the scope, which owns
 * it until ws_scope_free() (or until ws_scope_keep() hands it to the caller). After the first
 * failure the scope is "poisoned": later calls return NULL without running anything, so a
 * forward pass checks g->err once at the end; the message of the first failure (naming the
 * operation) stays in ws_last_error(). Inputs may be any handle, owned by the scope or not.
 */
#ifndef WS_SHIM_SCOPE_H
#define WS_SHIM_SCOPE_H

#include "shim/at.h"

typedef struct ws_scope {
    ws_at_tensor *items; /* owned results, freed by ws_scope_free */
    int n, cap;
    int err;             /* 0, or the WS_E* code of the first failure */
} ws_scope;

/* An empty scope (no tensors, no error). */
void ws_scope_init(ws_scope *g);
/* Frees every tensor still owned by the scope; the scope can be reused after ws_scope_init. */
void ws_scope_free(ws_scope *g);
/* Transfers ownership of t from the scope to the caller (returns t; NULL stays NULL). */
ws_at_tensor ws_scope_keep(ws_scope *g, ws_at_tensor t);
/* Takes ownership of a tensor the caller made (returns t). */
ws_at_tensor ws_scope_adopt(ws_scope *g, ws_at_tensor t);
/* Moves t from scope `from` to scope `to` (returns t): an inner scope for the temporaries of one
 * step hands its results to the outer one and frees the rest. */
ws_at_tensor ws_scope_move(ws_scope *from, ws_scope *to, ws_at_tensor t);
/* Frees the inner scope, moving its first error (if any) into the outer one. */
void ws_scope_end(ws_scope *inner, ws_scope *outer);
/* In place: t += other (broadcasting); returns t. For tensors outside autograd. */
ws_at_tensor ws_g_add_(ws_scope *g, ws_at_tensor t, ws_at_tensor other);
/* Registers the result of a shim call: on rc != 0 poisons the scope with "op: message". */
ws_at_tensor ws_scope_track(ws_scope *g, int rc, ws_at_tensor t, const char *op);
/* Poisons the scope with a caller-made error (code + message already set via ws_fail). */
void ws_scope_poison(ws_scope *g, int code);

/* ---- operations (see at.h for semantics); each returns a scope-owned tensor or NULL ---- */
ws_at_tensor ws_g_add(ws_scope *g, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_sub(ws_scope *g, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_mul(ws_scope *g, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_div(ws_scope *g, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_binary(ws_scope *g, int op, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_scalar_op(ws_scope *g, int op, ws_at_tensor a, double s);
ws_at_tensor ws_g_mul_scalar(ws_scope *g, ws_at_tensor a, double s);
ws_at_tensor ws_g_unary(ws_scope *g, int op, ws_at_tensor a);
ws_at_tensor ws_g_where(ws_scope *g, ws_at_tensor cond, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_matmul(ws_scope *g, ws_at_tensor a, ws_at_tensor b);
ws_at_tensor ws_g_linear(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b);
ws_at_tensor ws_g_layer_norm(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, double eps);
ws_at_tensor ws_g_softmax(ws_scope *g, ws_at_tensor x, int dim);
ws_at_tensor ws_g_reshape(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *shape);
ws_at_tensor ws_g_permute(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *dims);
ws_at_tensor ws_g_transpose(ws_scope *g, ws_at_tensor x, int d0, int d1);
ws_at_tensor ws_g_slice(ws_scope *g, ws_at_tensor x, int dim, int64_t start, int64_t end);
ws_at_tensor ws_g_select(ws_scope *g, ws_at_tensor x, int dim, int64_t index);
ws_at_tensor ws_g_unsqueeze(ws_scope *g, ws_at_tensor x, int dim);
ws_at_tensor ws_g_expand(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *shape);
ws_at_tensor ws_g_index_select(ws_scope *g, ws_at_tensor x, int dim, ws_at_tensor idx);
ws_at_tensor ws_g_cat(ws_scope *g, const ws_at_tensor *ts, int n, int dim);
ws_at_tensor ws_g_reduce(ws_scope *g, int op, ws_at_tensor x, int dim, int keepdim);
ws_at_tensor ws_g_norm(ws_scope *g, ws_at_tensor x, int dim, int keepdim);   /* L2 */
ws_at_tensor ws_g_interpolate(ws_scope *g, ws_at_tensor x, int mode, int64_t h, int64_t w, int ac);
ws_at_tensor ws_g_grid_sample(ws_scope *g, ws_at_tensor x, ws_at_tensor grid, int ac);   /* bilinear, zeros */
ws_at_tensor ws_g_conv2d(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, int64_t stride,
                         int64_t padding);
/* F.conv_transpose2d(x, w, b, stride) without padding (SAM's mask upscaling). */
ws_at_tensor ws_g_conv_transpose2d(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, int64_t stride);
/* Zero-pads (.., H, W) at the bottom and right to h x w. */
ws_at_tensor ws_g_pad2d(ws_scope *g, ws_at_tensor x, int64_t h, int64_t w);
ws_at_tensor ws_g_contiguous(ws_scope *g, ws_at_tensor x);
ws_at_tensor ws_g_detach(ws_scope *g, ws_at_tensor x);
ws_at_tensor ws_g_clone(ws_scope *g, ws_at_tensor x);
ws_at_tensor ws_g_to_dtype(ws_scope *g, ws_at_tensor x, int dtype);
ws_at_tensor ws_g_from_data(ws_scope *g, const void *data, int dtype, int ndim, const int64_t *shape);
ws_at_tensor ws_g_full(ws_scope *g, double v, int dtype, int ndim, const int64_t *shape);
/* x * sigmoid(1.702 x) (CLIP's QuickGELU) */
ws_at_tensor ws_g_quick_gelu(ws_scope *g, ws_at_tensor x);

#endif

/* scope.c - tensor scope with sticky error (see scope.h). */
#include "shim/scope.h"

#include <stdlib.h>

#include "core/status.h"

void ws_scope_init(ws_scope *g)
{
    g->items = NULL;
    g->n = g->cap = 0;
    g->err = 0;
}

void ws_scope_free(ws_scope *g)
{
    for (int i = 0; i < g->n; i++) ws_at_free(g->items[i]);
    free(g->items);
    ws_scope_init(g);
}

ws_at_tensor ws_scope_adopt(ws_scope *g, ws_at_tensor t)
{
    if (!t) return NULL;
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        ws_at_tensor *p = realloc(g->items, (size_t)cap * sizeof *p);
        if (!p) {
            ws_at_free(t);
            ws_scope_poison(g, ws_fail(WS_ENOMEM, "tensor scope: out of memory"));
            return NULL;
        }
        g->items = p;
        g->cap = cap;
    }
    g->items[g->n++] = t;
    return t;
}

ws_at_tensor ws_scope_keep(ws_scope *g, ws_at_tensor t)
{
    for (int i = g->n - 1; i >= 0; i--)
        if (g->items[i] == t) {
            g->items[i] = g->items[--g->n];
            break;
        }
    return t;
}

ws_at_tensor ws_scope_move(ws_scope *from, ws_scope *to, ws_at_tensor t)
{
    if (!t) return NULL;
    ws_scope_keep(from, t);
    return ws_scope_adopt(to, t);
}

void ws_scope_end(ws_scope *inner, ws_scope *outer)
{
    if (inner->err) ws_scope_poison(outer, inner->err);
    ws_scope_free(inner);
}

ws_at_tensor ws_g_add_(ws_scope *g, ws_at_tensor t, ws_at_tensor other)
{
    if (g->err) return NULL;
    if (ws_at_add_scaled_(t, other, 1.0)) {
        ws_scope_poison(g, ws_fail(WS_ETORCH, "add_: %s", ws_at_last_error()));
        return NULL;
    }
    return t;
}

void ws_scope_poison(ws_scope *g, int code)
{
    if (!g->err) g->err = code ? code : WS_EINVAL;
}

ws_at_tensor ws_scope_track(ws_scope *g, int rc, ws_at_tensor t, const char *op)
{
    if (rc != 0) {
        if (!g->err) g->err = ws_fail(WS_ETORCH, "%s: %s", op, ws_at_last_error());
        return NULL;
    }
    return ws_scope_adopt(g, t);
}

/* Runs `call` (which writes into `out`) unless the scope is already poisoned. */
#define G_RUN(name, call)                                   \
    do {                                                    \
        ws_at_tensor out = NULL;                            \
        if (g->err) return NULL;                            \
        int rc_ = (call);                                   \
        return ws_scope_track(g, rc_, out, name);           \
    } while (0)

ws_at_tensor ws_g_binary(ws_scope *g, int op, ws_at_tensor a, ws_at_tensor b)
{
    G_RUN("binary op", ws_at_binary(op, a, b, &out));
}
ws_at_tensor ws_g_add(ws_scope *g, ws_at_tensor a, ws_at_tensor b) { G_RUN("add", ws_at_binary(WS_AT_ADD, a, b, &out)); }
ws_at_tensor ws_g_sub(ws_scope *g, ws_at_tensor a, ws_at_tensor b) { G_RUN("sub", ws_at_binary(WS_AT_SUB, a, b, &out)); }
ws_at_tensor ws_g_mul(ws_scope *g, ws_at_tensor a, ws_at_tensor b) { G_RUN("mul", ws_at_binary(WS_AT_MUL, a, b, &out)); }
ws_at_tensor ws_g_div(ws_scope *g, ws_at_tensor a, ws_at_tensor b) { G_RUN("div", ws_at_binary(WS_AT_DIV, a, b, &out)); }
ws_at_tensor ws_g_scalar_op(ws_scope *g, int op, ws_at_tensor a, double s)
{
    G_RUN("scalar op", ws_at_binary_scalar(op, a, s, &out));
}
ws_at_tensor ws_g_mul_scalar(ws_scope *g, ws_at_tensor a, double s)
{
    G_RUN("mul_scalar", ws_at_binary_scalar(WS_AT_MUL, a, s, &out));
}
ws_at_tensor ws_g_unary(ws_scope *g, int op, ws_at_tensor a) { G_RUN("unary op", ws_at_unary(op, a, &out)); }
ws_at_tensor ws_g_where(ws_scope *g, ws_at_tensor cond, ws_at_tensor a, ws_at_tensor b)
{
    G_RUN("where", ws_at_where(cond, a, b, &out));
}
ws_at_tensor ws_g_matmul(ws_scope *g, ws_at_tensor a, ws_at_tensor b) { G_RUN("matmul", ws_at_matmul(a, b, &out)); }
ws_at_tensor ws_g_linear(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b)
{
    G_RUN("linear", ws_at_linear(x, w, b, &out));
}
ws_at_tensor ws_g_layer_norm(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, double eps)
{
    G_RUN("layer_norm", ws_at_layer_norm(x, 1, w, b, eps, &out));
}
ws_at_tensor ws_g_softmax(ws_scope *g, ws_at_tensor x, int dim) { G_RUN("softmax", ws_at_softmax(x, dim, &out)); }
ws_at_tensor ws_g_reshape(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *shape)
{
    G_RUN("reshape", ws_at_reshape(x, ndim, shape, &out));
}
ws_at_tensor ws_g_permute(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *dims)
{
    G_RUN("permute", ws_at_permute(x, ndim, dims, &out));
}
ws_at_tensor ws_g_transpose(ws_scope *g, ws_at_tensor x, int d0, int d1)
{
    G_RUN("transpose", ws_at_transpose(x, d0, d1, &out));
}
ws_at_tensor ws_g_slice(ws_scope *g, ws_at_tensor x, int dim, int64_t start, int64_t end)
{
    G_RUN("slice", ws_at_slice(x, dim, start, end, 1, &out));
}
ws_at_tensor ws_g_select(ws_scope *g, ws_at_tensor x, int dim, int64_t index)
{
    G_RUN("select", ws_at_select(x, dim, index, &out));
}
ws_at_tensor ws_g_unsqueeze(ws_scope *g, ws_at_tensor x, int dim) { G_RUN("unsqueeze", ws_at_unsqueeze(x, dim, &out)); }
ws_at_tensor ws_g_expand(ws_scope *g, ws_at_tensor x, int ndim, const int64_t *shape)
{
    G_RUN("expand", ws_at_expand(x, ndim, shape, &out));
}
ws_at_tensor ws_g_index_select(ws_scope *g, ws_at_tensor x, int dim, ws_at_tensor idx)
{
    G_RUN("index_select", ws_at_index_select(x, dim, idx, &out));
}
ws_at_tensor ws_g_cat(ws_scope *g, const ws_at_tensor *ts, int n, int dim)
{
    G_RUN("cat", ws_at_cat(ts, n, dim, &out));
}
ws_at_tensor ws_g_reduce(ws_scope *g, int op, ws_at_tensor x, int dim, int keepdim)
{
    G_RUN("reduce", ws_at_reduce_dim(op, x, dim, keepdim, &out));
}
ws_at_tensor ws_g_norm(ws_scope *g, ws_at_tensor x, int dim, int keepdim)
{
    G_RUN("norm", ws_at_norm(x, 2.0, dim, keepdim, &out));
}
ws_at_tensor ws_g_grid_sample(ws_scope *g, ws_at_tensor x, ws_at_tensor grid, int ac)
{
    G_RUN("grid_sample", ws_at_grid_sample(x, grid, ac, &out));
}
ws_at_tensor ws_g_interpolate(ws_scope *g, ws_at_tensor x, int mode, int64_t h, int64_t w, int ac)
{
    G_RUN("interpolate", ws_at_interpolate(x, mode, h, w, ac, &out));
}
ws_at_tensor ws_g_conv2d(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, int64_t stride,
                         int64_t padding)
{
    const int64_t st[2] = {stride, stride}, pd[2] = {padding, padding}, dl[2] = {1, 1};
    G_RUN("conv2d", ws_at_conv2d(x, w, b, st, pd, dl, 1, &out));
}
ws_at_tensor ws_g_conv_transpose2d(ws_scope *g, ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, int64_t stride)
{
    const int64_t st[2] = {stride, stride}, pd[2] = {0, 0};
    G_RUN("conv_transpose2d", ws_at_conv_transpose2d(x, w, b, st, pd, &out));
}

ws_at_tensor ws_g_pad2d(ws_scope *g, ws_at_tensor x, int64_t h, int64_t w)
{
    G_RUN("pad2d", ws_at_pad2d(x, h, w, &out));
}

ws_at_tensor ws_g_contiguous(ws_scope *g, ws_at_tensor x) { G_RUN("contiguous", ws_at_contiguous(x, &out)); }
ws_at_tensor ws_g_detach(ws_scope *g, ws_at_tensor x) { G_RUN("detach", ws_at_detach(x, &out)); }
ws_at_tensor ws_g_clone(ws_scope *g, ws_at_tensor x) { G_RUN("clone", ws_at_clone(x, &out)); }
ws_at_tensor ws_g_to_dtype(ws_scope *g, ws_at_tensor x, int dtype) { G_RUN("to_dtype", ws_at_to_dtype(x, dtype, &out)); }
ws_at_tensor ws_g_from_data(ws_scope *g, const void *data, int dtype, int ndim, const int64_t *shape)
{
    G_RUN("from_data", ws_at_from_data(data, dtype, ndim, shape, &out));
}
ws_at_tensor ws_g_full(ws_scope *g, double v, int dtype, int ndim, const int64_t *shape)
{
    G_RUN("full", ws_at_full(v, dtype, ndim, shape, &out));
}

ws_at_tensor ws_g_quick_gelu(ws_scope *g, ws_at_tensor x)
{
    return ws_g_mul(g, x, ws_g_unary(g, WS_AT_SIGMOID, ws_g_mul_scalar(g, x, 1.702)));
}

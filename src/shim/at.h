/* at.h - the C API over ATen/libtorch (implemented in at.cpp, the project's only C++).
 *
 * OWNERSHIP RULE: every handle a function returns through an `out` pointer is a NEW reference
 * owned by the caller and released with the matching *_free function, which accepts NULL;
 * functions that return borrowed pointers say so in their contract.
 *
 * Every call returns an int status (0 = ok, WS_AT_ERR on failure) and never lets a C++
 * exception escape. On failure the outputs are left untouched and ws_at_last_error() holds a
 * per-thread message (borrowed; valid until the next failing shim call on that thread).
 * Handles are distinct opaque types; dtypes are the shim's own enum. Signatures that tests
 * depend on never change: a changed behaviour gets a new name with a _v2 suffix.
 * DEVICES: the creation functions below (from_data, empty, full, scalar, arange) make their
 * tensors on the current device (ws_at_set_device; the CPU until a stage sets another), so a
 * model whose weights and inputs were made there computes there. Host code never sees device
 * memory: ws_at_read, ws_at_item and ws_at_to_host copy to the host, ws_at_write and
 * ws_at_from_data copy from it, ws_at_data_ptr refuses a tensor that is not on the CPU, and
 * checkpoints are read to and written from host tensors.
 */
#ifndef WS_SHIM_AT_H
#define WS_SHIM_AT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_AT_OK 0
#define WS_AT_ERR (-6) /* == WS_ETORCH in core/status.h */
#define WS_AT_MAX_DIMS 8

typedef struct ws_at_tensor_opaque *ws_at_tensor;  /* a torch::Tensor (may share storage) */
typedef struct ws_at_gen_opaque *ws_at_gen;        /* a CPU torch::Generator */
typedef struct ws_at_guard_opaque *ws_at_guard;    /* an active grad/inference-mode scope */
typedef struct ws_at_ckpt_opaque *ws_at_ckpt;      /* named tensors read from a checkpoint */

typedef enum {
    WS_AT_F32 = 0, WS_AT_F16 = 1, WS_AT_F64 = 2, WS_AT_I64 = 3, WS_AT_I32 = 4,
    WS_AT_U8 = 5, WS_AT_BOOL = 6, WS_AT_BF16 = 7, WS_AT_I8 = 8, WS_AT_I16 = 9
} ws_at_dtype;

/* Bytes per element of a dtype; 0 for an invalid value. */
size_t ws_at_dtype_size(int dtype);
/* Name of a dtype in torch spelling ("float32", "float16", ...); static string. */
const char *ws_at_dtype_name(int dtype);

/* The calling thread's last shim error; borrowed; "" when none. */
const char *ws_at_last_error(void);

/* ---- lifetime -------------------------------------------------------------------------- */
void ws_at_free(ws_at_tensor t);                                 /* NULL is a no-op */
/* New handle to the same tensor (shares storage and autograd identity). */
int ws_at_ref(ws_at_tensor t, ws_at_tensor *out);

/* ---- creation ------------------------------------------------------------------------- */
/* Copies numel(shape) elements of `dtype` from data into a new contiguous tensor. */
int ws_at_from_data(const void *data, int dtype, int ndim, const int64_t *shape, ws_at_tensor *out);
int ws_at_empty(int dtype, int ndim, const int64_t *shape, ws_at_tensor *out);
int ws_at_full(double value, int dtype, int ndim, const int64_t *shape, ws_at_tensor *out);
int ws_at_scalar(double value, int dtype, ws_at_tensor *out);       /* 0-d tensor */
int ws_at_arange(int64_t n, int dtype, ws_at_tensor *out);          /* 0..n-1 */
int ws_at_clone(ws_at_tensor t, ws_at_tensor *out);                 /* deep copy, same graph */
int ws_at_detach(ws_at_tensor t, ws_at_tensor *out);                /* shares storage, no graph */
int ws_at_contiguous(ws_at_tensor t, ws_at_tensor *out);
int ws_at_to_dtype(ws_at_tensor t, int dtype, ws_at_tensor *out);

/* ---- inspection ----------------------------------------------------------------------- */
int ws_at_ndim(ws_at_tensor t, int *out);
/* Writes min(ndim, cap) sizes into shape; *ndim receives the true rank. */
int ws_at_shape(ws_at_tensor t, int64_t *shape, int cap, int *ndim);
int ws_at_size(ws_at_tensor t, int dim, int64_t *out);              /* negative dim counts back */
int ws_at_numel(ws_at_tensor t, int64_t *out);
int ws_at_dtype_of(ws_at_tensor t, int *out);
/* Copies the tensor (any layout) into dst as contiguous row-major data of its own dtype;
 * nbytes must equal numel * dtype size. */
int ws_at_read(ws_at_tensor t, void *dst, size_t nbytes);
/* Copies src (numel * dtype size bytes, row-major) into t in place (t keeps its dtype). */
int ws_at_write(ws_at_tensor t, const void *src, size_t nbytes);
int ws_at_item(ws_at_tensor t, double *out);                         /* 1-element tensors */
/* Borrowed pointer to the first element; t must be contiguous; valid while t lives. */
int ws_at_data_ptr(ws_at_tensor t, void **out);

/* ---- views and indexing ------------------------------------------------------------------ */
int ws_at_reshape(ws_at_tensor t, int ndim, const int64_t *shape, ws_at_tensor *out);
int ws_at_permute(ws_at_tensor t, int ndim, const int64_t *dims, ws_at_tensor *out);
int ws_at_transpose(ws_at_tensor t, int d0, int d1, ws_at_tensor *out);
int ws_at_slice(ws_at_tensor t, int dim, int64_t start, int64_t end, int64_t step, ws_at_tensor *out);
int ws_at_select(ws_at_tensor t, int dim, int64_t index, ws_at_tensor *out);
int ws_at_unsqueeze(ws_at_tensor t, int dim, ws_at_tensor *out);
int ws_at_squeeze_dim(ws_at_tensor t, int dim, ws_at_tensor *out);
int ws_at_expand(ws_at_tensor t, int ndim, const int64_t *shape, ws_at_tensor *out);
int ws_at_index_select(ws_at_tensor t, int dim, ws_at_tensor index_i64, ws_at_tensor *out);
/* Gathers along dim (torch.gather). */
int ws_at_gather(ws_at_tensor t, int dim, ws_at_tensor index_i64, ws_at_tensor *out);
int ws_at_cat(const ws_at_tensor *ts, int n, int dim, ws_at_tensor *out);
int ws_at_stack(const ws_at_tensor *ts, int n, int dim, ws_at_tensor *out);

/* Zero-pads the last two dims (bottom/right) to h x w (h, w >= current sizes). */
int ws_at_pad2d(ws_at_tensor t, int64_t h, int64_t w, ws_at_tensor *out);

/* ---- elementwise ------------------------------------------------------------------------ */
typedef enum {
    WS_AT_ADD, WS_AT_SUB, WS_AT_MUL, WS_AT_DIV, WS_AT_MAXIMUM, WS_AT_MINIMUM, WS_AT_POW,
    WS_AT_EQ, WS_AT_NE, WS_AT_LT, WS_AT_LE, WS_AT_GT, WS_AT_GE
} ws_at_binop;
typedef enum {
    WS_AT_NEG, WS_AT_EXP, WS_AT_LOG, WS_AT_SQRT, WS_AT_RSQRT, WS_AT_ABS, WS_AT_SIGMOID,
    WS_AT_RELU, WS_AT_TANH, WS_AT_GELU_ERF, WS_AT_GELU_TANH, WS_AT_SIN, WS_AT_COS, WS_AT_FLOOR,
    WS_AT_LOGICAL_NOT, WS_AT_SIGN, WS_AT_RECIPROCAL
} ws_at_unop;
/* Broadcasting a (op) b. Comparisons return WS_AT_BOOL. */
int ws_at_binary(int op, ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out);
/* a (op) s with a Python-number scalar s; POW is a**s. */
int ws_at_binary_scalar(int op, ws_at_tensor a, double s, ws_at_tensor *out);
int ws_at_unary(int op, ws_at_tensor a, ws_at_tensor *out);
/* a + alpha * b */
int ws_at_add_scaled(ws_at_tensor a, ws_at_tensor b, double alpha, ws_at_tensor *out);
int ws_at_clamp(ws_at_tensor a, double lo, double hi, ws_at_tensor *out); /* NaN bound = open */
int ws_at_where(ws_at_tensor cond, ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out);
int ws_at_masked_fill(ws_at_tensor a, ws_at_tensor mask, double value, ws_at_tensor *out);

/* In place (no autograd history allowed on t unless grad mode is off). */
int ws_at_copy_(ws_at_tensor dst, ws_at_tensor src);
int ws_at_add_scaled_(ws_at_tensor t, ws_at_tensor other, double alpha);   /* t += alpha*other */
int ws_at_mul_scalar_(ws_at_tensor t, double s);
int ws_at_fill_(ws_at_tensor t, double value);

/* ---- linear algebra and nn --------------------------------------------------------------- */
int ws_at_matmul(ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out);
/* x @ w^T + b; b may be NULL. */
int ws_at_linear(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, ws_at_tensor *out);
/* beta*c + alpha*(a @ b) batched (torch.baddbmm). */
int ws_at_baddbmm(ws_at_tensor c, ws_at_tensor a, ws_at_tensor b, double beta, double alpha,
                  ws_at_tensor *out);
/* 2-d convolution; b may be NULL; stride/padding/dilation are [h, w]. */
int ws_at_conv2d(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, const int64_t stride[2],
                 const int64_t padding[2], const int64_t dilation[2], int64_t groups, ws_at_tensor *out);
/* 2-d transposed convolution (weight (in, out, kh, kw)); b may be NULL. */
int ws_at_conv_transpose2d(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, const int64_t stride[2],
                           const int64_t padding[2], ws_at_tensor *out);
/* LayerNorm over the last nd dims; w/b may be NULL. */
int ws_at_layer_norm(ws_at_tensor x, int nd, ws_at_tensor w, ws_at_tensor b, double eps,
                     ws_at_tensor *out);
/* softmax / log_softmax of x along dim into a new tensor *out (caller frees). */
int ws_at_softmax(ws_at_tensor x, int dim, ws_at_tensor *out);
int ws_at_log_softmax(ws_at_tensor x, int dim, ws_at_tensor *out);

typedef enum { WS_AT_INTERP_NEAREST, WS_AT_INTERP_BILINEAR, WS_AT_INTERP_BICUBIC } ws_at_interp;
/* F.interpolate on (N, C, H, W) to (out_h, out_w); align_corners is ignored for nearest. */
int ws_at_interpolate(ws_at_tensor x, int mode, int64_t out_h, int64_t out_w, int align_corners,
                      ws_at_tensor *out);
/* The same with explicit scale factors (F.interpolate(scale_factor=...) semantics for the source
 * coordinates): the output is the top-left out_h x out_w part of the full-size result. */
int ws_at_interpolate_scaled(ws_at_tensor x, int mode, int64_t out_h, int64_t out_w, double scale_h, double scale_w,
                             ws_at_tensor *out);

/* F.grid_sample(x (N, C, H, W), grid (N, Ho, Wo, 2) in [-1, 1] (x, y), bilinear, zeros outside)
 * -> (N, C, Ho, Wo). */
int ws_at_grid_sample(ws_at_tensor x, ws_at_tensor grid, int align_corners, ws_at_tensor *out);

/* ---- reductions ------------------------------------------------------------------------- */
typedef enum { WS_AT_RSUM, WS_AT_RMEAN, WS_AT_RAMAX, WS_AT_RAMIN, WS_AT_RARGMAX } ws_at_reduce;
/* Reduces over one dim (dim) or, with dim == WS_AT_ALL, over every element. RARGMAX returns I64. */
#define WS_AT_ALL 0x7fff
/* New tensor *out (caller frees): x reduced by op over dim (see above). */
int ws_at_reduce_dim(int op, ws_at_tensor x, int dim, int keepdim, ws_at_tensor *out);
/* p-norm over one dim. */
int ws_at_norm(ws_at_tensor x, double p, int dim, int keepdim, ws_at_tensor *out);

/* ---- autograd ---------------------------------------------------------------------------- */
int ws_at_set_requires_grad(ws_at_tensor t, int flag);
int ws_at_requires_grad(ws_at_tensor t, int *out);
/* The accumulated .grad; *out is set to NULL when there is none. */
int ws_at_grad_of(ws_at_tensor t, ws_at_tensor *out);
int ws_at_zero_grad(ws_at_tensor t);                                  /* sets .grad to undefined */
/* root.backward(grad_output) ; grad_output may be NULL for a scalar root. */
int ws_at_backward(ws_at_tensor root, ws_at_tensor grad_output, int retain_graph, int create_graph);
/* torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused).
 * grad_outputs may be NULL (all ones-like scalars) or hold NULL entries. grads[i] receives a
 * new handle, or NULL when allow_unused and inputs[i] is unused. */
int ws_at_autograd_grad(const ws_at_tensor *outputs, int n_out, const ws_at_tensor *grad_outputs,
                        const ws_at_tensor *inputs, int n_in, int retain_graph, int create_graph,
                        int allow_unused, ws_at_tensor *grads);

/* Grad mode: enters a scope with grad enabled/disabled; *prev receives the previous mode.
 * Scopes are per thread and must be exited in reverse order with ws_at_guard_exit. */
int ws_at_grad_mode_enter(int enabled, int *prev, ws_at_guard *out);
/* Inference mode (c10::InferenceMode): faster than no-grad; tensors made inside cannot later
 * join an autograd graph. *prev receives whether inference mode was already on. */
int ws_at_inference_mode_enter(int enabled, int *prev, ws_at_guard *out);
void ws_at_guard_exit(ws_at_guard g);                                 /* NULL is a no-op */
int ws_at_is_grad_enabled(void);
int ws_at_is_inference_mode(void);

/* ---- random numbers --------------------------------------------------------------------- */
/* The process-wide default CPU generator: torch.manual_seed(seed). */
int ws_at_manual_seed(uint64_t seed);
/* A new CPU generator seeded like torch.Generator().manual_seed(seed). */
int ws_at_gen_new(uint64_t seed, ws_at_gen *out);
void ws_at_gen_free(ws_at_gen g);                                     /* NULL is a no-op */
/* Serialised generator state (torch.Generator.get_state() bytes). With buf == NULL only *len
 * is set; otherwise *len must equal the state size. */
int ws_at_gen_get_state(ws_at_gen g, uint8_t *buf, size_t *len);
int ws_at_gen_set_state(ws_at_gen g, const uint8_t *buf, size_t len);
/* t.normal_(mean, std, generator=g); g NULL = the default generator. */
int ws_at_normal_(ws_at_tensor t, double mean, double std, ws_at_gen g);
/* t.uniform_(lo, hi, generator=g). */
int ws_at_uniform_(ws_at_tensor t, double lo, double hi, ws_at_gen g);

/* ---- threads ----------------------------------------------------------------------------- */
int ws_at_set_num_threads(int n);
int ws_at_get_num_threads(void);

/* ---- checkpoints ------------------------------------------------------------------------- */
/* Opens a TorchScript archive (torch.jit.save, e.g. OpenAI CLIP's ViT-B-16.pt) or a torch.save
 * zip file holding a dict of tensors (optionally nested under one key such as 'model' or
 * 'state_dict'). Entries keep the file's order (for archives: parameters, then buffers, then
 * submodules, as state_dict()) and the file's storage dtype. */
int ws_at_ckpt_open(const char *path, ws_at_ckpt *out);
void ws_at_ckpt_close(ws_at_ckpt c);                                  /* NULL is a no-op */
int ws_at_ckpt_count(ws_at_ckpt c);
/* Borrowed name of entry i (valid while c lives); NULL when out of range. */
const char *ws_at_ckpt_name(ws_at_ckpt c, int i);
/* 1 if the key exists, else 0. */
int ws_at_ckpt_has(ws_at_ckpt c, const char *name);
/* New handle to the tensor `name`; fails naming the key and the file when it is absent. */
int ws_at_ckpt_get(ws_at_ckpt c, const char *name, ws_at_tensor *out);
/* An empty in-memory checkpoint named `label` (for models built without a file, e.g.
 * benchmarks with random weights); entries are added with ws_at_ckpt_add. */
int ws_at_ckpt_new(const char *label, ws_at_ckpt *out);
/* Appends tensor t under `name` (the checkpoint keeps its own reference). */
int ws_at_ckpt_add(ws_at_ckpt c, const char *name, ws_at_tensor t);
/* The entries as the bytes of a torch.save-compatible zip archive of a {name: tensor} dict (what
 * torch.load and load_state_dict read): *data is malloc'd, the caller frees it with free() and
 * writes it (core/fs.h's atomic, flushed write, so a full disk is named as everywhere). */
int ws_at_ckpt_pickle(ws_at_ckpt c, void **data, size_t *len);
/* Borrowed path the checkpoint was opened from. */
const char *ws_at_ckpt_path(ws_at_ckpt c);

/* ---- devices and precision ---------------------------------------------------------------- */
typedef enum { WS_AT_CPU = 0, WS_AT_CUDA = 1 } ws_at_device_type;
typedef struct ws_at_device {
    int type;       /* ws_at_device_type */
    int index;      /* CUDA ordinal (>= 0); 0 for the CPU */
} ws_at_device;

/* 1 when this libtorch carries CUDA (its CUDA libraries are loaded in the process), else 0. */
int ws_at_cuda_built(void);
/* CUDA devices this process can use (0 on a CPU-only libtorch or a machine without a GPU). */
int ws_at_cuda_device_count(void);
/* Makes d the device new tensors are created on (process-wide; set it before a stage's work, not
 * while tensors are being made on other threads). Fails, leaving the device unchanged, with a
 * message naming what is missing when d is CUDA and this libtorch has no CUDA, no GPU is
 * visible or d.index >= the device count. */
int ws_at_set_device(ws_at_device d);
/* The current device (see ws_at_set_device). */
ws_at_device ws_at_get_device(void);
/* "cpu" or "cuda:N" into buf (cap bytes). */
void ws_at_device_str(ws_at_device d, char *buf, size_t cap);
/* A human-readable name: "cpu", or "cuda:N (<GPU model>)" when the driver names it. */
void ws_at_device_describe(ws_at_device d, char *buf, size_t cap);
/* The device t lives on. */
int ws_at_device_of(ws_at_tensor t, ws_at_device *out);
/* t on device d (t itself, as a new handle, when it is already there; autograd flows through the
 * copy). */
int ws_at_to_device(ws_at_tensor t, ws_at_device d, ws_at_tensor *out);
/* t on the current device (ws_at_get_device). */
int ws_at_to_current(ws_at_tensor t, ws_at_tensor *out);
/* A host (CPU) copy of t for C code that reads tensor memory (t itself when already on the CPU). */
int ws_at_to_host(ws_at_tensor t, ws_at_tensor *out);
/* Waits until the current device has finished its queued work (timings); a no-op on the CPU. */
int ws_at_synchronize(void);

/* Precision of the matrix products (linear, matmul, baddbmm, conv2d, conv_transpose2d) on float32
 * inputs: WS_AT_F32 (default: unchanged), WS_AT_F16 or WS_AT_BF16. With a lower precision those
 * products cast their float32 inputs (weights included) to it, compute, and return float32 again, so
 * norms, softmax, losses, prompt contexts, gradients reaching them and optimizer state stay float32
 * (what autocast does to the products, with float32 results). Process-wide; the stage layer allows
 * it on CUDA only (ATen's CPU kernels lack float16 products and bf16 is slower there). */
int ws_at_set_precision(int dtype);
int ws_at_get_precision(void);

/* ---- misc -------------------------------------------------------------------------------- */
/* libtorch version string, e.g. "1.13.1"; static. */
const char *ws_at_version(void);
/* libtorch's build description (at::show_config(): compiler, BLAS, CPU capability, CUDA) into
 * buf (cap bytes; truncated, always NUL-terminated). */
int ws_at_build_config(char *buf, size_t cap);
/* *count = the CUDA devices libtorch can use (0 when built without CUDA or none is visible). */
int ws_at_cuda_devices(int *count);

#ifdef __cplusplus
}
#endif
#endif

// at.cpp - the C API of at.h over ATen/libtorch: the only C++ in wsseed.
//
// Each entry point converts handles to at::Tensor, runs one ATen call inside a try block and
// turns any exception into WS_AT_ERR plus a per-thread message. Handles are heap boxes around
// at::Tensor (reference counted by ATen), so freeing a handle never frees a tensor another
// handle still uses.
#include "shim/at.h"
#include "shim/ptload.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct ws_at_tensor_opaque { at::Tensor t; };
struct ws_at_gen_opaque { at::Generator g; };
struct ws_at_guard_opaque {
    std::unique_ptr<at::AutoGradMode> grad;
    std::unique_ptr<c10::InferenceMode> inference;
};
struct ws_at_ckpt_opaque {
    std::string path;
    std::vector<std::string> names;
    std::vector<at::Tensor> tensors;
};

namespace {

// A fixed per-thread buffer: the pointer ws_at_last_error() returns stays valid forever.
thread_local char g_err[1024];

void set_err(const std::string &m) { std::snprintf(g_err, sizeof g_err, "%s", m.c_str()); }

ws_at_tensor wrap(at::Tensor t) { return new ws_at_tensor_opaque{std::move(t)}; }

const at::Tensor &T(ws_at_tensor h)
{
    if (!h) throw std::invalid_argument("NULL tensor handle");
    return h->t;
}

at::ScalarType to_st(int d)
{
    switch (d) {
    case WS_AT_F32: return at::kFloat;
    case WS_AT_F16: return at::kHalf;
    case WS_AT_F64: return at::kDouble;
    case WS_AT_I64: return at::kLong;
    case WS_AT_I32: return at::kInt;
    case WS_AT_U8: return at::kByte;
    case WS_AT_BOOL: return at::kBool;
    case WS_AT_BF16: return at::kBFloat16;
    case WS_AT_I8: return at::kChar;
    case WS_AT_I16: return at::kShort;
    }
    throw std::invalid_argument("unknown ws_at_dtype " + std::to_string(d));
}

int from_st(at::ScalarType s)
{
    switch (s) {
    case at::kFloat: return WS_AT_F32;
    case at::kHalf: return WS_AT_F16;
    case at::kDouble: return WS_AT_F64;
    case at::kLong: return WS_AT_I64;
    case at::kInt: return WS_AT_I32;
    case at::kByte: return WS_AT_U8;
    case at::kBool: return WS_AT_BOOL;
    case at::kBFloat16: return WS_AT_BF16;
    case at::kChar: return WS_AT_I8;
    case at::kShort: return WS_AT_I16;
    default: break;
    }
    throw std::invalid_argument(std::string("unsupported tensor dtype ") + c10::toString(s));
}

std::vector<int64_t> dims_of(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > WS_AT_MAX_DIMS || (ndim > 0 && !shape))
        throw std::invalid_argument("bad shape (ndim " + std::to_string(ndim) + ")");
    return std::vector<int64_t>(shape, shape + ndim);
}

// Sets *out only after the computation succeeded (outputs untouched on failure).
void put(ws_at_tensor *out, at::Tensor t)
{
    if (!out) throw std::invalid_argument("NULL output pointer");
    *out = wrap(std::move(t));
}

// The device new tensors are made on and the precision of the products (at.h): process-wide,
// set by the stage layer before the work starts.
std::atomic<int> g_dev_type{WS_AT_CPU}, g_dev_index{0}, g_prec{WS_AT_F32};

c10::Device cur_device()
{
    if (g_dev_type.load() == WS_AT_CUDA) return c10::Device(c10::kCUDA, (c10::DeviceIndex)g_dev_index.load());
    return c10::Device(c10::kCPU);
}

at::TensorOptions opts(int dtype) { return at::TensorOptions().dtype(to_st(dtype)).device(cur_device()); }

// The products in the precision of ws_at_set_precision: float32 operands go down, the result comes
// back to float32 (other dtypes, e.g. the float64 geometry, are left alone).
bool lowp_active(const at::Tensor &x) { return g_prec.load() != WS_AT_F32 && x.scalar_type() == at::kFloat; }
at::Tensor lowp(const at::Tensor &x) { return x.defined() && x.scalar_type() == at::kFloat ? x.to(to_st(g_prec.load())) : x; }
c10::optional<at::Tensor> lowp(const c10::optional<at::Tensor> &x) { return x ? c10::optional<at::Tensor>(lowp(*x)) : x; }

// Random numbers are always drawn by the CPU generator and copied to the device, so a seed gives
// the same tensor on every device (prompt contexts, random models).
template <class F>
void draw(const at::Tensor &t, F fill)
{
    at::NoGradGuard ng;
    if (t.device().is_cpu()) { fill(t); return; }
    at::Tensor h = at::empty(t.sizes(), t.options().device(c10::kCPU));
    fill(h);
    t.copy_(h);
}

// Whether a CUDA library of libtorch is loaded in this process (a CPU-only libtorch has none);
// scanning the loaded objects works for every soname spelling (wheel, release, Debian).
int has_cuda_lib(struct dl_phdr_info *info, size_t, void *data)
{
    if (info->dlpi_name && std::strstr(info->dlpi_name, "libtorch_cuda")) *(int *)data = 1;
    return 0;
}

at::Generator *gen_or_null(ws_at_gen g) { return g ? &g->g : nullptr; }

template <class A, class B>
at::Tensor binop(int op, const A &a, const B &b)
{
    switch (op) {
    case WS_AT_ADD: return at::add(a, b);
    case WS_AT_SUB: return at::sub(a, b);
    case WS_AT_MUL: return at::mul(a, b);
    case WS_AT_DIV: return at::div(a, b);
    case WS_AT_POW: return at::pow(a, b);
    case WS_AT_EQ: return at::eq(a, b);
    case WS_AT_NE: return at::ne(a, b);
    case WS_AT_LT: return at::lt(a, b);
    case WS_AT_LE: return at::le(a, b);
    case WS_AT_GT: return at::gt(a, b);
    case WS_AT_GE: return at::ge(a, b);
    }
    throw std::invalid_argument("unknown binary op " + std::to_string(op));
}

std::vector<at::Tensor> tensor_list(const ws_at_tensor *ts, int n)
{
    if (n <= 0 || !ts) throw std::invalid_argument("empty tensor list");
    std::vector<at::Tensor> v;
    v.reserve(n);
    for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
    return v;
}

}  // namespace

#define WS_TRY try {
#define WS_CATCH                                                             \
    }                                                                        \
    catch (const c10::Error &e) { set_err(e.what_without_backtrace()); return WS_AT_ERR; } \
    catch (const std::exception &e) { set_err(e.what()); return WS_AT_ERR; } \
    catch (...) { set_err("unknown C++ exception"); return WS_AT_ERR; }     \
    return WS_AT_OK;

extern "C" {

size_t ws_at_dtype_size(int d)
{
    try { return c10::elementSize(to_st(d)); } catch (...) { return 0; }
}

const char *ws_at_dtype_name(int d)
{
    static const char *names[] = {"float32", "float16", "float64", "int64", "int32",
                                  "uint8", "bool", "bfloat16", "int8", "int16"};
    return d >= 0 && d < 10 ? names[d] : "invalid";
}

const char *ws_at_last_error(void) { return g_err; }

void ws_at_free(ws_at_tensor t) { delete t; }

int ws_at_ref(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t)); WS_CATCH }

/* ---- creation ---- */
int ws_at_from_data(const void *data, int dtype, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    WS_TRY
    at::Tensor t = at::empty(dims_of(ndim, shape), at::TensorOptions().dtype(to_st(dtype)));
    if (t.numel() > 0) {
        if (!data) throw std::invalid_argument("NULL data");
        std::memcpy(t.data_ptr(), data, t.numel() * t.element_size());
    }
    put(out, t.to(cur_device()));
    WS_CATCH
}

int ws_at_empty(int dtype, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    WS_TRY put(out, at::empty(dims_of(ndim, shape), opts(dtype))); WS_CATCH
}

int ws_at_full(double v, int dtype, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    WS_TRY put(out, at::full(dims_of(ndim, shape), v, opts(dtype))); WS_CATCH
}

int ws_at_scalar(double v, int dtype, ws_at_tensor *out)
{
    WS_TRY put(out, at::scalar_tensor(v, opts(dtype))); WS_CATCH
}

int ws_at_arange(int64_t n, int dtype, ws_at_tensor *out)
{
    WS_TRY put(out, at::arange(n, opts(dtype))); WS_CATCH
}

int ws_at_clone(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t).clone()); WS_CATCH }
int ws_at_detach(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t).detach()); WS_CATCH }
int ws_at_contiguous(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t).contiguous()); WS_CATCH }
int ws_at_to_dtype(ws_at_tensor t, int dtype, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).to(to_st(dtype))); WS_CATCH
}

/* ---- inspection ---- */
int ws_at_ndim(ws_at_tensor t, int *out) { WS_TRY *out = (int)T(t).dim(); WS_CATCH }

int ws_at_shape(ws_at_tensor t, int64_t *shape, int cap, int *ndim)
{
    WS_TRY
    const at::Tensor &x = T(t);
    for (int i = 0; i < (int)x.dim() && i < cap; i++) shape[i] = x.size(i);
    if (ndim) *ndim = (int)x.dim();
    WS_CATCH
}

int ws_at_size(ws_at_tensor t, int dim, int64_t *out) { WS_TRY *out = T(t).size(dim); WS_CATCH }
int ws_at_numel(ws_at_tensor t, int64_t *out) { WS_TRY *out = T(t).numel(); WS_CATCH }
int ws_at_dtype_of(ws_at_tensor t, int *out) { WS_TRY *out = from_st(T(t).scalar_type()); WS_CATCH }

int ws_at_read(ws_at_tensor t, void *dst, size_t nbytes)
{
    WS_TRY
    at::Tensor x = T(t).detach().to(c10::kCPU).contiguous();
    size_t need = (size_t)x.numel() * x.element_size();
    if (need != nbytes)
        throw std::invalid_argument("ws_at_read: buffer has " + std::to_string(nbytes) +
                                    " bytes, tensor needs " + std::to_string(need));
    if (need) std::memcpy(dst, x.data_ptr(), need);
    WS_CATCH
}

int ws_at_write(ws_at_tensor t, const void *src, size_t nbytes)
{
    WS_TRY
    const at::Tensor &x = T(t);
    size_t need = (size_t)x.numel() * x.element_size();
    if (need != nbytes)
        throw std::invalid_argument("ws_at_write: buffer has " + std::to_string(nbytes) +
                                    " bytes, tensor needs " + std::to_string(need));
    at::Tensor tmp = at::empty(x.sizes(), x.options().device(c10::kCPU));
    if (need) std::memcpy(tmp.data_ptr(), src, need);
    at::NoGradGuard ng;
    x.copy_(tmp);
    WS_CATCH
}

int ws_at_item(ws_at_tensor t, double *out) { WS_TRY *out = T(t).item<double>(); WS_CATCH }

int ws_at_data_ptr(ws_at_tensor t, void **out)
{
    WS_TRY
    const at::Tensor &x = T(t);
    if (!x.device().is_cpu())
        throw std::invalid_argument("ws_at_data_ptr: the tensor is on " + x.device().str() +
                                    ": copy it to the host first (ws_at_to_host or ws_at_read)");
    if (!x.is_contiguous()) throw std::invalid_argument("ws_at_data_ptr: tensor is not contiguous");
    *out = x.data_ptr();
    WS_CATCH
}

/* ---- views ---- */
int ws_at_reshape(ws_at_tensor t, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).reshape(dims_of(ndim, shape))); WS_CATCH
}
int ws_at_permute(ws_at_tensor t, int ndim, const int64_t *dims, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).permute(dims_of(ndim, dims))); WS_CATCH
}
int ws_at_transpose(ws_at_tensor t, int d0, int d1, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).transpose(d0, d1)); WS_CATCH
}
int ws_at_slice(ws_at_tensor t, int dim, int64_t start, int64_t end, int64_t step, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).slice(dim, start, end, step)); WS_CATCH
}
int ws_at_select(ws_at_tensor t, int dim, int64_t index, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).select(dim, index)); WS_CATCH
}
int ws_at_unsqueeze(ws_at_tensor t, int dim, ws_at_tensor *out) { WS_TRY put(out, T(t).unsqueeze(dim)); WS_CATCH }
int ws_at_squeeze_dim(ws_at_tensor t, int dim, ws_at_tensor *out) { WS_TRY put(out, T(t).squeeze(dim)); WS_CATCH }
int ws_at_expand(ws_at_tensor t, int ndim, const int64_t *shape, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).expand(dims_of(ndim, shape))); WS_CATCH
}
int ws_at_index_select(ws_at_tensor t, int dim, ws_at_tensor idx, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).index_select(dim, T(idx))); WS_CATCH
}
int ws_at_gather(ws_at_tensor t, int dim, ws_at_tensor idx, ws_at_tensor *out)
{
    WS_TRY put(out, T(t).gather(dim, T(idx))); WS_CATCH
}

int ws_at_cat(const ws_at_tensor *ts, int n, int dim, ws_at_tensor *out)
{
    WS_TRY put(out, at::cat(tensor_list(ts, n), dim)); WS_CATCH
}
int ws_at_stack(const ws_at_tensor *ts, int n, int dim, ws_at_tensor *out)
{
    WS_TRY put(out, at::stack(tensor_list(ts, n), dim)); WS_CATCH
}

int ws_at_pad2d(ws_at_tensor t, int64_t h, int64_t w, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &x = T(t);
    if (x.dim() < 2 || h < x.size(-2) || w < x.size(-1)) throw std::invalid_argument("pad2d: target smaller than input");
    put(out, at::constant_pad_nd(x, {0, w - x.size(-1), 0, h - x.size(-2)}, 0));
    WS_CATCH
}

/* ---- elementwise ---- */
int ws_at_binary(int op, ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out)
{
    WS_TRY
    if (op == WS_AT_MAXIMUM) put(out, at::maximum(T(a), T(b)));
    else if (op == WS_AT_MINIMUM) put(out, at::minimum(T(a), T(b)));
    else put(out, binop(op, T(a), T(b)));
    WS_CATCH
}

int ws_at_binary_scalar(int op, ws_at_tensor a, double s, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &x = T(a);
    if (op == WS_AT_MAXIMUM) put(out, at::clamp_min(x, s));
    else if (op == WS_AT_MINIMUM) put(out, at::clamp_max(x, s));
    else put(out, binop(op, x, at::Scalar(s)));
    WS_CATCH
}

int ws_at_unary(int op, ws_at_tensor a, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &x = T(a);
    at::Tensor y;
    switch (op) {
    case WS_AT_NEG: y = at::neg(x); break;
    case WS_AT_EXP: y = at::exp(x); break;
    case WS_AT_LOG: y = at::log(x); break;
    case WS_AT_SQRT: y = at::sqrt(x); break;
    case WS_AT_RSQRT: y = at::rsqrt(x); break;
    case WS_AT_ABS: y = at::abs(x); break;
    case WS_AT_SIGMOID: y = at::sigmoid(x); break;
    case WS_AT_RELU: y = at::relu(x); break;
    case WS_AT_TANH: y = at::tanh(x); break;
    case WS_AT_GELU_ERF: y = at::gelu(x); break;
    case WS_AT_GELU_TANH: y = at::gelu(x, "tanh"); break;
    case WS_AT_SIN: y = at::sin(x); break;
    case WS_AT_COS: y = at::cos(x); break;
    case WS_AT_FLOOR: y = at::floor(x); break;
    case WS_AT_LOGICAL_NOT: y = at::logical_not(x); break;
    case WS_AT_SIGN: y = at::sign(x); break;
    case WS_AT_RECIPROCAL: y = at::reciprocal(x); break;
    default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
    put(out, y);
    WS_CATCH
}

int ws_at_add_scaled(ws_at_tensor a, ws_at_tensor b, double alpha, ws_at_tensor *out)
{
    WS_TRY put(out, at::add(T(a), T(b), alpha)); WS_CATCH
}

int ws_at_clamp(ws_at_tensor a, double lo, double hi, ws_at_tensor *out)
{
    WS_TRY
    c10::optional<at::Scalar> l, h;
    if (lo == lo) l = lo;
    if (hi == hi) h = hi;
    put(out, at::clamp(T(a), l, h));
    WS_CATCH
}

int ws_at_where(ws_at_tensor c, ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out)
{
    WS_TRY put(out, at::where(T(c), T(a), T(b))); WS_CATCH
}

int ws_at_masked_fill(ws_at_tensor a, ws_at_tensor mask, double v, ws_at_tensor *out)
{
    WS_TRY put(out, T(a).masked_fill(T(mask), v)); WS_CATCH
}

int ws_at_copy_(ws_at_tensor dst, ws_at_tensor src) { WS_TRY T(dst).copy_(T(src)); WS_CATCH }
int ws_at_add_scaled_(ws_at_tensor t, ws_at_tensor o, double alpha) { WS_TRY T(t).add_(T(o), alpha); WS_CATCH }
int ws_at_mul_scalar_(ws_at_tensor t, double s) { WS_TRY T(t).mul_(s); WS_CATCH }
int ws_at_fill_(ws_at_tensor t, double v) { WS_TRY T(t).fill_(v); WS_CATCH }

/* ---- linear algebra and nn ---- */
int ws_at_matmul(ws_at_tensor a, ws_at_tensor b, ws_at_tensor *out)
{
    WS_TRY
    if (lowp_active(T(a))) put(out, at::matmul(lowp(T(a)), lowp(T(b))).to(at::kFloat));
    else put(out, at::matmul(T(a), T(b)));
    WS_CATCH
}

int ws_at_linear(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, ws_at_tensor *out)
{
    WS_TRY
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    if (lowp_active(T(x))) put(out, at::linear(lowp(T(x)), lowp(T(w)), lowp(bias)).to(at::kFloat));
    else put(out, at::linear(T(x), T(w), bias));
    WS_CATCH
}

int ws_at_baddbmm(ws_at_tensor c, ws_at_tensor a, ws_at_tensor b, double beta, double alpha, ws_at_tensor *out)
{
    WS_TRY
    if (lowp_active(T(a))) put(out, at::baddbmm(lowp(T(c)), lowp(T(a)), lowp(T(b)), beta, alpha).to(at::kFloat));
    else put(out, at::baddbmm(T(c), T(a), T(b), beta, alpha));
    WS_CATCH
}

int ws_at_conv2d(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, const int64_t stride[2],
                 const int64_t padding[2], const int64_t dilation[2], int64_t groups, ws_at_tensor *out)
{
    WS_TRY
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    bool lp = lowp_active(T(x));
    at::Tensor y = at::conv2d(lp ? lowp(T(x)) : T(x), lp ? lowp(T(w)) : T(w), lp ? lowp(bias) : bias,
                              at::IntArrayRef(stride, 2), at::IntArrayRef(padding, 2), at::IntArrayRef(dilation, 2), groups);
    put(out, lp ? y.to(at::kFloat) : y);
    WS_CATCH
}

int ws_at_conv_transpose2d(ws_at_tensor x, ws_at_tensor w, ws_at_tensor b, const int64_t stride[2],
                           const int64_t padding[2], ws_at_tensor *out)
{
    WS_TRY
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    bool lp = lowp_active(T(x));
    at::Tensor y = at::conv_transpose2d(lp ? lowp(T(x)) : T(x), lp ? lowp(T(w)) : T(w), lp ? lowp(bias) : bias,
                                        at::IntArrayRef(stride, 2), at::IntArrayRef(padding, 2));
    put(out, lp ? y.to(at::kFloat) : y);
    WS_CATCH
}

int ws_at_layer_norm(ws_at_tensor x, int nd, ws_at_tensor w, ws_at_tensor b, double eps, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &t = T(x);
    if (nd < 1 || nd > t.dim()) throw std::invalid_argument("layer_norm: bad number of dims");
    std::vector<int64_t> shp(t.sizes().end() - nd, t.sizes().end());
    c10::optional<at::Tensor> wt, bt;
    if (w) wt = T(w);
    if (b) bt = T(b);
    put(out, at::layer_norm(t, shp, wt, bt, eps));
    WS_CATCH
}

int ws_at_softmax(ws_at_tensor x, int dim, ws_at_tensor *out) { WS_TRY put(out, at::softmax(T(x), dim)); WS_CATCH }
int ws_at_log_softmax(ws_at_tensor x, int dim, ws_at_tensor *out) { WS_TRY put(out, at::log_softmax(T(x), dim)); WS_CATCH }

int ws_at_grid_sample(ws_at_tensor x, ws_at_tensor grid, int align_corners, ws_at_tensor *out)
{
    WS_TRY
    /* interpolation 0 = bilinear, padding 0 = zeros (F.grid_sample's defaults) */
    put(out, at::grid_sampler(T(x), T(grid), 0, 0, align_corners != 0));
    WS_CATCH
}

int ws_at_interpolate(ws_at_tensor x, int mode, int64_t oh, int64_t ow, int align_corners, ws_at_tensor *out)
{
    WS_TRY
    std::vector<int64_t> sz{oh, ow};
    const at::Tensor &t = T(x);
    if (t.dim() != 4) throw std::invalid_argument("interpolate expects (N, C, H, W)");
    switch (mode) {
    case WS_AT_INTERP_NEAREST: put(out, at::upsample_nearest2d(t, sz)); break;
    case WS_AT_INTERP_BILINEAR: put(out, at::upsample_bilinear2d(t, sz, align_corners != 0)); break;
    case WS_AT_INTERP_BICUBIC: put(out, at::upsample_bicubic2d(t, sz, align_corners != 0)); break;
    default: throw std::invalid_argument("unknown interpolation mode");
    }
    WS_CATCH
}

int ws_at_interpolate_scaled(ws_at_tensor x, int mode, int64_t oh, int64_t ow, double sh, double sw, ws_at_tensor *out)
{
    WS_TRY
    std::vector<int64_t> sz{oh, ow};
    const at::Tensor &t = T(x);
    if (t.dim() != 4) throw std::invalid_argument("interpolate expects (N, C, H, W)");
    switch (mode) {
    case WS_AT_INTERP_BILINEAR: put(out, at::upsample_bilinear2d(t, sz, false, sh, sw)); break;
    case WS_AT_INTERP_BICUBIC: put(out, at::upsample_bicubic2d(t, sz, false, sh, sw)); break;
    case WS_AT_INTERP_NEAREST: put(out, at::upsample_nearest2d(t, sz, sh, sw)); break;
    default: throw std::invalid_argument("unknown interpolation mode");
    }
    WS_CATCH
}

/* ---- reductions ---- */
int ws_at_reduce_dim(int op, ws_at_tensor x, int dim, int keepdim, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &t = T(x);
    bool all = dim == WS_AT_ALL;
    bool k = keepdim != 0;
    at::Tensor y;
    switch (op) {
    case WS_AT_RSUM: y = all ? t.sum() : t.sum(dim, k); break;
    case WS_AT_RMEAN: y = all ? t.mean() : t.mean(dim, k); break;
    case WS_AT_RAMAX: y = all ? t.max() : t.amax(dim, k); break;
    case WS_AT_RAMIN: y = all ? t.min() : t.amin(dim, k); break;
    case WS_AT_RARGMAX: y = all ? t.argmax() : t.argmax(dim, k); break;
    default: throw std::invalid_argument("unknown reduction");
    }
    put(out, y);
    WS_CATCH
}

int ws_at_norm(ws_at_tensor x, double p, int dim, int keepdim, ws_at_tensor *out)
{
    WS_TRY put(out, T(x).norm(p, {dim}, keepdim != 0)); WS_CATCH
}

/* ---- autograd ---- */
int ws_at_set_requires_grad(ws_at_tensor t, int flag) { WS_TRY T(t).requires_grad_(flag != 0); WS_CATCH }
int ws_at_requires_grad(ws_at_tensor t, int *out) { WS_TRY *out = T(t).requires_grad(); WS_CATCH }

int ws_at_grad_of(ws_at_tensor t, ws_at_tensor *out)
{
    WS_TRY
    const at::Tensor &g = T(t).grad();
    if (!out) throw std::invalid_argument("NULL output pointer");
    *out = g.defined() ? wrap(g) : nullptr;
    WS_CATCH
}

int ws_at_zero_grad(ws_at_tensor t) { WS_TRY T(t).mutable_grad() = at::Tensor(); WS_CATCH }

int ws_at_backward(ws_at_tensor root, ws_at_tensor grad_output, int retain_graph, int create_graph)
{
    WS_TRY
    at::Tensor g;
    if (grad_output) g = T(grad_output);
    T(root).backward(g, retain_graph != 0, create_graph != 0);
    WS_CATCH
}

int ws_at_autograd_grad(const ws_at_tensor *outputs, int n_out, const ws_at_tensor *grad_outputs,
                        const ws_at_tensor *inputs, int n_in, int retain_graph, int create_graph,
                        int allow_unused, ws_at_tensor *grads)
{
    WS_TRY
    std::vector<at::Tensor> outs = tensor_list(outputs, n_out), ins = tensor_list(inputs, n_in), gos;
    if (grad_outputs)
        for (int i = 0; i < n_out; i++) gos.push_back(grad_outputs[i] ? grad_outputs[i]->t : at::Tensor());
    auto res = torch::autograd::grad(outs, ins, gos, retain_graph != 0, create_graph != 0,
                                     allow_unused != 0);
    for (int i = 0; i < n_in; i++) grads[i] = res[i].defined() ? wrap(res[i]) : nullptr;
    WS_CATCH
}

int ws_at_grad_mode_enter(int enabled, int *prev, ws_at_guard *out)
{
    WS_TRY
    auto g = std::make_unique<ws_at_guard_opaque>();
    if (prev) *prev = at::GradMode::is_enabled();
    g->grad = std::make_unique<at::AutoGradMode>(enabled != 0);
    *out = g.release();
    WS_CATCH
}

int ws_at_inference_mode_enter(int enabled, int *prev, ws_at_guard *out)
{
    WS_TRY
    auto g = std::make_unique<ws_at_guard_opaque>();
    if (prev) *prev = c10::InferenceMode::is_enabled();
    g->inference = std::make_unique<c10::InferenceMode>(enabled != 0);
    *out = g.release();
    WS_CATCH
}

void ws_at_guard_exit(ws_at_guard g) { delete g; }
int ws_at_is_grad_enabled(void) { return at::GradMode::is_enabled(); }
int ws_at_is_inference_mode(void) { return c10::InferenceMode::is_enabled(); }

/* ---- random numbers ---- */
int ws_at_manual_seed(uint64_t seed)
{
    WS_TRY
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
    WS_CATCH
}

int ws_at_gen_new(uint64_t seed, ws_at_gen *out)
{
    WS_TRY *out = new ws_at_gen_opaque{at::make_generator<at::CPUGeneratorImpl>(seed)}; WS_CATCH
}

void ws_at_gen_free(ws_at_gen g) { delete g; }

int ws_at_gen_get_state(ws_at_gen g, uint8_t *buf, size_t *len)
{
    WS_TRY
    if (!g) throw std::invalid_argument("NULL generator");
    std::lock_guard<std::mutex> lock(g->g.mutex());
    at::Tensor s = g->g.get_state();
    size_t n = (size_t)s.numel();
    if (buf) {
        if (*len != n) throw std::invalid_argument("generator state has " + std::to_string(n) + " bytes");
        std::memcpy(buf, s.data_ptr(), n);
    }
    *len = n;
    WS_CATCH
}

int ws_at_gen_set_state(ws_at_gen g, const uint8_t *buf, size_t len)
{
    WS_TRY
    if (!g) throw std::invalid_argument("NULL generator");
    at::Tensor s = at::empty({(int64_t)len}, at::kByte);
    std::memcpy(s.data_ptr(), buf, len);
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_state(s);
    WS_CATCH
}

int ws_at_normal_(ws_at_tensor t, double mean, double std, ws_at_gen g)
{
    WS_TRY
    c10::optional<at::Generator> gen;
    if (g) gen = g->g;
    draw(T(t), [&](const at::Tensor &x) { x.normal_(mean, std, gen); });
    WS_CATCH
}

int ws_at_uniform_(ws_at_tensor t, double lo, double hi, ws_at_gen g)
{
    WS_TRY
    c10::optional<at::Generator> gen;
    if (g) gen = g->g;
    draw(T(t), [&](const at::Tensor &x) { x.uniform_(lo, hi, gen); });
    WS_CATCH
}

/* ---- threads ---- */
int ws_at_set_num_threads(int n)
{
    WS_TRY
    if (n < 1) throw std::invalid_argument("thread count must be >= 1");
    at::set_num_threads(n);
    WS_CATCH
}
int ws_at_get_num_threads(void) { return at::get_num_threads(); }

/* ---- checkpoints ---- */
static void collect_module(const torch::jit::Module &m, const std::string &prefix, ws_at_ckpt_opaque *c)
{
    for (const auto &p : m.named_parameters(false)) {
        c->names.push_back(prefix + p.name);
        c->tensors.push_back(p.value.detach());
    }
    for (const auto &b : m.named_buffers(false)) {
        c->names.push_back(prefix + b.name);
        c->tensors.push_back(b.value.detach());
    }
    for (const auto &ch : m.named_children()) collect_module(ch.value, prefix + ch.name + ".", c);
}

static void collect_pt(const char *path, ws_at_ckpt_opaque *c)
{
    ws_pt_file f;
    char err[1024];
    if (ws_pt_open(path, &f, err, sizeof err)) throw std::runtime_error(err);
    try {
        for (int i = 0; i < f.n; i++) {
            const ws_pt_tensor &t = f.tensors[i];
            at::Tensor storage = at::from_blob(const_cast<uint8_t *>(t.data), {t.storage_numel},
                                               at::TensorOptions().dtype(to_st(t.dtype)));
            at::Tensor view = storage.as_strided(at::IntArrayRef(t.shape, t.ndim), at::IntArrayRef(t.stride, t.ndim),
                                                 t.offset);
            c->names.push_back(t.name);
            c->tensors.push_back(view.clone(at::MemoryFormat::Contiguous));   // copy out of the mapping
        }
    } catch (...) {
        ws_pt_close(&f);
        throw;
    }
    ws_pt_close(&f);
}

static bool is_zip(const char *path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(std::string(path) + ": cannot open for reading");
    char m[2] = {0, 0};
    f.read(m, 2);
    return m[0] == 'P' && m[1] == 'K';
}

// A TorchScript archive (torch.jit.save) has a code/ folder next to data.pkl: look for the
// entry name in the zip's central directory (the last 1 MiB of the file holds it).
static bool is_torchscript(const char *path)
{
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    std::streamoff size = f.tellg(), tail = std::min<std::streamoff>(size, 1 << 20);
    std::string buf((size_t)tail, '\0');
    f.seekg(size - tail);
    f.read(&buf[0], tail);
    return buf.find("/code/__torch__") != std::string::npos;
}

int ws_at_ckpt_open(const char *path, ws_at_ckpt *out)
{
    WS_TRY
    if (!path || !out) throw std::invalid_argument("NULL argument");
    auto c = std::make_unique<ws_at_ckpt_opaque>();
    c->path = path;
    if (!is_zip(path))
        throw std::runtime_error(std::string(path) +
                                 ": not a zip checkpoint (torch.save/torch.jit.save >= 1.6 format)");
    if (is_torchscript(path)) {
        try {
            torch::jit::Module m = torch::jit::load(std::string(path), c10::Device(c10::kCPU));
            collect_module(m, "", c.get());
        } catch (const c10::Error &e) {
            throw std::runtime_error(std::string(path) + ": cannot read TorchScript archive (truncated or corrupt?): " +
                                     e.what_without_backtrace());
        }
    } else {
        collect_pt(path, c.get());
    }
    *out = c.release();
    WS_CATCH
}

void ws_at_ckpt_close(ws_at_ckpt c) { delete c; }
int ws_at_ckpt_count(ws_at_ckpt c) { return c ? (int)c->names.size() : 0; }
const char *ws_at_ckpt_name(ws_at_ckpt c, int i)
{
    return c && i >= 0 && i < (int)c->names.size() ? c->names[i].c_str() : nullptr;
}
const char *ws_at_ckpt_path(ws_at_ckpt c) { return c ? c->path.c_str() : nullptr; }

int ws_at_ckpt_has(ws_at_ckpt c, const char *name)
{
    if (!c || !name) return 0;
    for (const auto &n : c->names)
        if (n == name) return 1;
    return 0;
}

int ws_at_ckpt_get(ws_at_ckpt c, const char *name, ws_at_tensor *out)
{
    WS_TRY
    if (!c || !name) throw std::invalid_argument("NULL argument");
    for (size_t i = 0; i < c->names.size(); i++)
        if (c->names[i] == name) { put(out, c->tensors[i]); return WS_AT_OK; }
    throw std::runtime_error(c->path + " lacks tensor '" + name + "'");
    WS_CATCH
}

int ws_at_ckpt_new(const char *label, ws_at_ckpt *out)
{
    WS_TRY *out = new ws_at_ckpt_opaque{label ? label : "(memory)", {}, {}}; WS_CATCH
}

int ws_at_ckpt_add(ws_at_ckpt c, const char *name, ws_at_tensor t)
{
    WS_TRY
    if (!c || !name) throw std::invalid_argument("NULL argument");
    c->names.push_back(name);
    c->tensors.push_back(T(t));
    WS_CATCH
}

int ws_at_ckpt_pickle(ws_at_ckpt c, void **data, size_t *len)
{
    WS_TRY
    if (!c || !data || !len) throw std::invalid_argument("NULL argument");
    *data = NULL;
    *len = 0;
    c10::Dict<std::string, at::Tensor> d;
    for (size_t i = 0; i < c->names.size(); i++) d.insert(c->names[i], c->tensors[i].detach().to(c10::kCPU).contiguous());
    std::vector<char> bytes = torch::jit::pickle_save(at::IValue(d));
    void *p = std::malloc(bytes.size() ? bytes.size() : 1);
    if (!p) throw std::bad_alloc();
    std::memcpy(p, bytes.data(), bytes.size());
    *data = p;
    *len = bytes.size();
    WS_CATCH
}

/* ---- devices and precision ---- */
int ws_at_cuda_built(void)
{
    int found = 0;
    dl_iterate_phdr(has_cuda_lib, &found);
    return found;
}

int ws_at_cuda_device_count(void)
{
    try { return ws_at_cuda_built() ? (int)torch::cuda::device_count() : 0; } catch (...) { return 0; }
}

void ws_at_device_str(ws_at_device d, char *buf, size_t cap)
{
    if (d.type == WS_AT_CUDA) std::snprintf(buf, cap, "cuda:%d", d.index);
    else std::snprintf(buf, cap, "cpu");
}

int ws_at_set_device(ws_at_device d)
{
    WS_TRY
    char name[32];
    ws_at_device_str(d, name, sizeof name);
    if (d.type == WS_AT_CUDA) {
        std::string lib = std::string("this libtorch (") + TORCH_VERSION;
        if (!ws_at_cuda_built())
            throw std::runtime_error(std::string(name) + " requested but " + lib +
                                     ", CPU-only build) has no CUDA; build against a CUDA libtorch: see README");
        int n = ws_at_cuda_device_count();
        if (n == 0)
            throw std::runtime_error(std::string(name) + " requested but " + lib +
                                     ", CUDA build) sees no CUDA device: no NVIDIA GPU, driver or CUDA_VISIBLE_DEVICES hides them");
        if (d.index < 0 || d.index >= n)
            throw std::runtime_error(std::string(name) + " requested but this machine has " + std::to_string(n) +
                                     " CUDA device" + (n == 1 ? "" : "s") + " (cuda:0" +
                                     (n > 1 ? "..cuda:" + std::to_string(n - 1) : std::string()) + ")");
    } else if (d.type != WS_AT_CPU) {
        throw std::invalid_argument("unknown device type " + std::to_string(d.type));
    }
    g_dev_index = d.type == WS_AT_CUDA ? d.index : 0;
    g_dev_type = d.type;
    WS_CATCH
}

ws_at_device ws_at_get_device(void) { return ws_at_device{g_dev_type.load(), g_dev_index.load()}; }

void ws_at_device_describe(ws_at_device d, char *buf, size_t cap)
{
    ws_at_device_str(d, buf, cap);
    if (d.type != WS_AT_CUDA) return;
    // The driver API names the GPU without the CUDA headers a CPU-only build lacks: libcuda is
    // already loaded when libtorch uses the GPU. Unnamed when anything is missing.
    void *lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!lib) return;
    typedef int (*get_fn)(int *, int);
    typedef int (*name_fn)(char *, int, int);
    auto get = (get_fn)dlsym(lib, "cuDeviceGet");
    auto nm = (name_fn)dlsym(lib, "cuDeviceGetName");
    int dev = 0;
    char model[256] = "";
    if (get && nm && get(&dev, d.index) == 0 && nm(model, (int)sizeof model, dev) == 0 && model[0]) {
        std::string s = std::string(buf) + " (" + model + ")";
        std::snprintf(buf, cap, "%s", s.c_str());
    }
    dlclose(lib);
}

int ws_at_device_of(ws_at_tensor t, ws_at_device *out)
{
    WS_TRY
    c10::Device d = T(t).device();
    if (d.is_cuda()) *out = ws_at_device{WS_AT_CUDA, d.has_index() ? (int)d.index() : 0};
    else if (d.is_cpu()) *out = ws_at_device{WS_AT_CPU, 0};
    else throw std::invalid_argument("tensor on unsupported device " + d.str());
    WS_CATCH
}

int ws_at_to_device(ws_at_tensor t, ws_at_device d, ws_at_tensor *out)
{
    WS_TRY
    c10::Device dev = d.type == WS_AT_CUDA ? c10::Device(c10::kCUDA, (c10::DeviceIndex)d.index) : c10::Device(c10::kCPU);
    put(out, T(t).to(dev));
    WS_CATCH
}

int ws_at_to_current(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t).to(cur_device())); WS_CATCH }
int ws_at_to_host(ws_at_tensor t, ws_at_tensor *out) { WS_TRY put(out, T(t).to(c10::kCPU)); WS_CATCH }

int ws_at_synchronize(void)
{
    WS_TRY
    if (g_dev_type.load() == WS_AT_CUDA) torch::cuda::synchronize(g_dev_index.load());
    WS_CATCH
}

int ws_at_set_precision(int dtype)
{
    WS_TRY
    if (dtype != WS_AT_F32 && dtype != WS_AT_F16 && dtype != WS_AT_BF16)
        throw std::invalid_argument(std::string("precision ") + ws_at_dtype_name(dtype) + ": not float32, float16 or bfloat16");
    // float32 means float32: cuBLAS and cuDNN may otherwise use TF32 (10-bit mantissa) for float32
    // products, outside the golden tolerances (1e-4 relative). A no-op on a CPU-only libtorch.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
    g_prec = dtype;
    WS_CATCH
}

int ws_at_get_precision(void) { return g_prec.load(); }

const char *ws_at_version(void) { return TORCH_VERSION; }

int ws_at_build_config(char *buf, size_t cap)
{
    WS_TRY
    if (!buf || !cap) throw std::invalid_argument("ws_at_build_config: no buffer");
    std::string s = at::show_config();
    snprintf(buf, cap, "%s", s.c_str());
    WS_CATCH
}

int ws_at_cuda_devices(int *count)
{
    WS_TRY
    /* hasCUDA is false for a CPU-only build and for a CUDA build without a usable driver or device */
    *count = at::hasCUDA() ? (int)at::detail::getCUDAHooks().getNumGPUs() : 0;
    WS_CATCH
}

}  // extern "C"

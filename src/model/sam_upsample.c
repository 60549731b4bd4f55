/* sam_upsample.c - SAM's mask-logit upsampling in C, bit for bit ATen's (see sam_upsample.h).
 *
 * postprocess_masks is two bilinear resizes (low-res -> S x S read at its (rh, rw) corner, then ->
 * (h, w)); each is separable, so each map streams row by row through two gathering passes and two
 * row blends. The kernels come in AVX-512, AVX2 + FMA and portable C versions selected at run time
 * (per-function target attributes, so the file needs no special compile flags) that give the same
 * bits. Maps are split over threads.
 */
#include "model/sam_upsample.h"
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/status.h"
#include "model/sam.h"
#include "shim/at.h"

/* Bilinear (align_corners = False) source indices and weights of one axis, as the linked ATen
 * computes them for float maps (upsample_bilinear2d's generic kernel, HelperInterpLinear): ratio in
 * float (from the scale factor when given, else in / out); equal sizes copy. How the source
 * position is rounded differs between releases, and one rounding step moves a weight by an ulp:
 * - ATen 1.x computes source = ratio (dst + 0.5) - 0.5 in double (acc_type<float> on the CPU),
 *   clamped at 0, index = its integer part, weight = (float)(source - index);
 * - ATen 2.x computes it in float (opmath_type<float>: ratio * (dst + 0.5f) - 0.5f, the multiply
 *   and subtract fused into one rounding by the FMA-enabled kernel build), clamped at 0,
 *   index = floorf(source), weight = source - index in float.
 * The blend itself (below) is the same in both. */
typedef struct { int32_t *i0, *i1; float *l0, *l1; } lin_taps;   /* per output index (arrays: vectorisable gathers) */

#if WS_TORCH_VERSION_MAJOR >= 2
static float source_weight(float ratio, int d, int in, int *i0)
{
    float src = fmaf(ratio, (float)d + 0.5f, -0.5f);
    if (src < 0) src = 0;
    *i0 = (int)floorf(src);
    if (*i0 > in - 1) *i0 = in - 1;
    return src - (float)*i0;
}
#else
static float source_weight(float ratio, int d, int in, int *i0)
{
    double src = ratio * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    *i0 = (int)src;
    if (*i0 > in - 1) *i0 = in - 1;
    return (float)(src - *i0);
}
#endif

static void linear_taps(lin_taps *t, int in, int out, double scale)
{
    const float ratio = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        if (in == out) { t->i0[d] = t->i1[d] = d; t->l0[d] = 1.0f; t->l1[d] = 0.0f; continue; }
        int i0;
        float l1 = source_weight(ratio, d, in, &i0);
        l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
        t->i0[d] = i0;
        t->i1[d] = i0 + (i0 < in - 1 ? 1 : 0);
        t->l1[d] = l1;
        t->l0[d] = 1.0f - l1;
    }
}

/* Every blend below is ATen's two-tap a * wa + b * wb as its compiled kernel evaluates it, the first
 * product fused into the sum: fmaf(a, wa, b * wb) (verified bit for bit in tests/test_sam_up). The
 * kernels come in three SIMD levels, 2 AVX-512, 1 AVX2 + FMA, 0 portable C, which give the same bits;
 * the SIMD ones finish their rows with the portable one. */

/* out[x] = src[i0[x]] l0[x] + src[i1[x]] l1[x]: the two gathering passes. */
static void gather_blend_c(float *out, const float *src, const int32_t *i0, const int32_t *i1, const float *l0,
                           const float *l1, int n)
{
    for (int x = 0; x < n; x++) out[x] = fmaf(src[i0[x]], l0[x], src[i1[x]] * l1[x]);
}

/* out[x] = a[x] w0 + b[x] w1 over a row; with cnt, adds the outputs > +thr and > -thr to cnt[0..1]. */
static void blend_rows_c(float *out, const float *a, const float *b, float w0, float w1, int n, float thr,
                         int32_t *cnt)
{
    for (int x = 0; x < n; x++) out[x] = fmaf(a[x], w0, b[x] * w1);
    if (cnt)
        for (int x = 0; x < n; x++) { cnt[0] += out[x] > thr; cnt[1] += out[x] > -thr; }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Compilers do not vectorise the gathers for generic tuning. Indices are non-decreasing, so 16
 * outputs read a window of src that usually fits one or two registers, where a permute replaces
 * the (slow) gather. */
__attribute__((target("avx512f"))) static void gather_blend_avx512(float *out, const float *src, int nsrc,
                                                                    const int32_t *i0, const int32_t *i1,
                                                                    const float *l0, const float *l1, int n)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        const int base = i0[x], span = i1[x + 15] - base;
        const __m512i k0 = _mm512_loadu_si512(i0 + x), k1 = _mm512_loadu_si512(i1 + x);
        __m512 a, b;
        if (span < 16 && base + 16 <= nsrc) {
            const __m512i o = _mm512_set1_epi32(base);
            const __m512 v = _mm512_loadu_ps(src + base);
            a = _mm512_permutexvar_ps(_mm512_sub_epi32(k0, o), v);
            b = _mm512_permutexvar_ps(_mm512_sub_epi32(k1, o), v);
        } else if (span < 32 && base + 32 <= nsrc) {
            const __m512i o = _mm512_set1_epi32(base);
            const __m512 v0 = _mm512_loadu_ps(src + base), v1 = _mm512_loadu_ps(src + base + 16);
            a = _mm512_permutex2var_ps(v0, _mm512_sub_epi32(k0, o), v1);
            b = _mm512_permutex2var_ps(v0, _mm512_sub_epi32(k1, o), v1);
        } else if (i1[x + 15] - i0[x + 8] < 32 && i1[x + 7] - base < 32 && i0[x + 8] + 32 <= nsrc &&
                   base + 32 <= nsrc) {   /* two windows, one per half */
            const int base8 = i0[x + 8];
            const __m512i o = _mm512_mask_set1_epi32(_mm512_set1_epi32(base), 0xFF00, base8);
            const __m512 v0 = _mm512_loadu_ps(src + base), v1 = _mm512_loadu_ps(src + base + 16);
            const __m512 w0 = _mm512_loadu_ps(src + base8), w1 = _mm512_loadu_ps(src + base8 + 16);
            const __m512i d0 = _mm512_sub_epi32(k0, o), d1 = _mm512_sub_epi32(k1, o);
            a = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(v0, d0, v1), _mm512_permutex2var_ps(w0, d0, w1));
            b = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(v0, d1, v1), _mm512_permutex2var_ps(w0, d1, w1));
        } else {
            a = _mm512_i32gather_ps(k0, src, 4);
            b = _mm512_i32gather_ps(k1, src, 4);
        }
        _mm512_storeu_ps(out + x, _mm512_fmadd_ps(a, _mm512_loadu_ps(l0 + x), _mm512_mul_ps(b, _mm512_loadu_ps(l1 + x))));
    }
    gather_blend_c(out + x, src, i0 + x, i1 + x, l0 + x, l1 + x, n - x);
}

__attribute__((target("avx2,fma"))) static void gather_blend_avx2(float *out, const float *src, const int32_t *i0,
                                                                   const int32_t *i1, const float *l0, const float *l1,
                                                                   int n)
{
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_i32gather_ps(src, _mm256_loadu_si256((const __m256i *)(i0 + x)), 4);
        __m256 b = _mm256_i32gather_ps(src, _mm256_loadu_si256((const __m256i *)(i1 + x)), 4);
        _mm256_storeu_ps(out + x, _mm256_fmadd_ps(a, _mm256_loadu_ps(l0 + x), _mm256_mul_ps(b, _mm256_loadu_ps(l1 + x))));
    }
    gather_blend_c(out + x, src, i0 + x, i1 + x, l0 + x, l1 + x, n - x);
}

__attribute__((target("avx512f"))) static void blend_rows_avx512(float *out, const float *a, const float *b, float w0,
                                                                  float w1, int n, float thr, int32_t *cnt)
{
    const __m512 vw0 = _mm512_set1_ps(w0), vw1 = _mm512_set1_ps(w1), hi = _mm512_set1_ps(thr), lo = _mm512_set1_ps(-thr);
    int32_t ch = 0, cl = 0;
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(a + x), vw0, _mm512_mul_ps(_mm512_loadu_ps(b + x), vw1));
        _mm512_storeu_ps(out + x, v);
        ch += __builtin_popcount(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ));
        cl += __builtin_popcount(_mm512_cmp_ps_mask(v, lo, _CMP_GT_OQ));
    }
    if (cnt) { cnt[0] += ch; cnt[1] += cl; }
    blend_rows_c(out + x, a + x, b + x, w0, w1, n - x, thr, cnt);
}

__attribute__((target("avx2,fma,popcnt"))) static void blend_rows_avx2(float *out, const float *a, const float *b,
                                                                        float w0, float w1, int n, float thr,
                                                                        int32_t *cnt)
{
    const __m256 vw0 = _mm256_set1_ps(w0), vw1 = _mm256_set1_ps(w1), hi = _mm256_set1_ps(thr), lo = _mm256_set1_ps(-thr);
    int32_t ch = 0, cl = 0;
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(a + x), vw0, _mm256_mul_ps(_mm256_loadu_ps(b + x), vw1));
        _mm256_storeu_ps(out + x, v);
        ch += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, hi, _CMP_GT_OQ)));
        cl += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, lo, _CMP_GT_OQ)));
    }
    if (cnt) { cnt[0] += ch; cnt[1] += cl; }
    blend_rows_c(out + x, a + x, b + x, w0, w1, n - x, thr, cnt);
}
#endif

static int simd_forced = -1;

void ws_sam_upsample_force_simd(int level) { simd_forced = level; }

/* The SIMD level to use: forced by a test, else what the CPU has. */
static int simd_level(void)
{
    if (simd_forced >= 0) return simd_forced;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
#else
    return 0;
#endif
}

static void gather_blend(int isa, float *out, const float *src, int nsrc, const int32_t *i0, const int32_t *i1,
                         const float *l0, const float *l1, int n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == 2) { gather_blend_avx512(out, src, nsrc, i0, i1, l0, l1, n); return; }
    if (isa == 1) { gather_blend_avx2(out, src, i0, i1, l0, l1, n); return; }
#endif
    (void)isa; (void)nsrc;
    gather_blend_c(out, src, i0, i1, l0, l1, n);
}

static void blend_rows(int isa, float *out, const float *a, const float *b, float w0, float w1, int n, float thr,
                       int32_t *cnt)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == 2) { blend_rows_avx512(out, a, b, w0, w1, n, thr, cnt); return; }
    if (isa == 1) { blend_rows_avx2(out, a, b, w0, w1, n, thr, cnt); return; }
#endif
    (void)isa;
    blend_rows_c(out, a, b, w0, w1, n, thr, cnt);
}

typedef struct {
    const float *low; float *out;
    int lh, lw, rh, rw, h, w, m0, m1;
    lin_taps ay, ax, by, bx;   /* pass 1 (low -> rh, rw), pass 2 (rh, rw -> h, w) */
    float thr;                 /* counts of logits > +thr and > -thr, when counts != NULL */
    int32_t *counts;
    int isa;                   /* SIMD level of the kernels */
    int direct1, direct2;      /* pass 1 / 2 in ATen 2.x's channels-last arithmetic (see blend2d_row) */
    int rc;
} up_job;

/* ATen 2.x sends a bilinear resize of a float (N, C, H, W) map to its channels-last kernel instead
 * of the separable one when the output is small (out_h + out_w <= 128) or when ATen runs on one
 * thread and C == 3 (the generator's (points, 3 masks) layout): each output is the four-tap
 * i00 w00 + i01 w01 + i10 w10 + i11 w11 with w00 = ly0 lx0 ... rounded in float, summed left to
 * right with each product fused into the running sum except the second (its FMA build). */
static void blend2d_row(float *out, const float *r0, const float *r1, float ly0, float ly1, const lin_taps *tx,
                        int n, float thr, int32_t *cnt)
{
    for (int x = 0; x < n; x++) {
        const int a = tx->i0[x], b = tx->i1[x];
        const float w00 = ly0 * tx->l0[x], w01 = ly0 * tx->l1[x], w10 = ly1 * tx->l0[x], w11 = ly1 * tx->l1[x];
        out[x] = fmaf(r1[b], w11, fmaf(r1[a], w10, fmaf(r0[a], w00, r0[b] * w01)));
    }
    if (cnt)
        for (int x = 0; x < n; x++) { cnt[0] += out[x] > thr; cnt[1] += out[x] > -thr; }
}

/* Two-slot row cache: the slot holding row k, or (negative: -1 - slot) the slot to compute it in,
 * never the one holding `keep` (the other row of the pair being formed). */
static inline int row_slot(int *key, int k, int keep)
{
    if (key[0] == k) return 0;
    if (key[1] == k) return 1;
    int s = key[0] == keep ? 1 : key[1] == keep ? 0 : key[0] < key[1] ? 0 : 1;
    key[s] = k;
    return -1 - s;
}

/* Intermediate row r (the S x S resize's row r, rw wide) into I: a blend of pass-1 rows
 * ay[r].i0/i1, each gathered from a low-res row once (two-slot cache T2), or in one 2-D step. */
static void inter_row(const up_job *j, const float *L, int r, float *I, float *T2, int *tkey)
{
    if (j->direct1) {
        blend2d_row(I, L + (size_t)j->ay.i0[r] * j->lw, L + (size_t)j->ay.i1[r] * j->lw, j->ay.l0[r], j->ay.l1[r],
                    &j->ax, j->rw, 0, NULL);
        return;
    }
    const float *tr[2];
    for (int f = 0; f < 2; f++) {
        const int k = f ? j->ay.i1[r] : j->ay.i0[r];
        int ts = row_slot(tkey, k, f ? j->ay.i0[r] : -1);
        if (ts < 0) {
            ts = -1 - ts;
            gather_blend(j->isa, T2 + (size_t)ts * j->rw, L + (size_t)k * j->lw, j->lw, j->ax.i0, j->ax.i1, j->ax.l0,
                         j->ax.l1, j->rw);
        }
        tr[f] = T2 + (size_t)ts * j->rw;
    }
    blend_rows(j->isa, I, tr[0], tr[1], j->ay.l0[r], j->ay.l1[r], j->rw, 0, NULL);
}

/* One map, streamed row by row: output row y blends pass-2 rows by[y].i0/i1 (non-decreasing in
 * y); each of those comes from one intermediate row r, a blend of pass-1 rows ay[r].i0/i1
 * (non-decreasing in r). Two-slot caches keep every row computed once, only rows the output reads
 * computed, and the working set in cache. X2 holds two pass-2 rows: gathered to the output width
 * (w), or, for a 2-D pass 2, the intermediate rows themselves (rw). The arithmetic is ATen's,
 * value for value. */
static void upsample_map(const up_job *j, const float *L, float *O, float *T2, float *I, float *X2, int32_t *cnt)
{
    int tkey[2] = {-1, -1}, xkey[2] = {-1, -1};
    int32_t hl[2] = {0, 0};   /* logits > +thr, > -thr */
    const int xw = j->direct2 ? j->rw : j->w;
    for (int y = 0; y < j->h; y++) {
        const float *xr[2];
        for (int e = 0; e < 2; e++) {
            const int r = e ? j->by.i1[y] : j->by.i0[y];
            int xs = row_slot(xkey, r, e ? j->by.i0[y] : -1);
            if (xs < 0) {
                xs = -1 - xs;
                if (j->direct2) inter_row(j, L, r, X2 + (size_t)xs * xw, T2, tkey);
                else {
                    inter_row(j, L, r, I, T2, tkey);
                    gather_blend(j->isa, X2 + (size_t)xs * xw, I, j->rw, j->bx.i0, j->bx.i1, j->bx.l0, j->bx.l1, j->w);
                }
            }
            xr[e] = X2 + (size_t)xs * xw;
        }
        float *o = O + (size_t)y * j->w;
        if (j->direct2) blend2d_row(o, xr[0], xr[1], j->by.l0[y], j->by.l1[y], &j->bx, j->w, j->thr, cnt ? hl : NULL);
        else blend_rows(j->isa, o, xr[0], xr[1], j->by.l0[y], j->by.l1[y], j->w, j->thr, cnt ? hl : NULL);
    }
    if (cnt) { cnt[0] = hl[0]; cnt[1] = hl[1]; }
}

static void *upsample_run(void *arg)
{
    up_job *j = arg;
    float *T2 = malloc((size_t)2 * j->rw * sizeof *T2), *I = malloc((size_t)j->rw * sizeof *I);
    float *X2 = malloc((size_t)2 * (j->w > j->rw ? j->w : j->rw) * sizeof *X2);
    if (!T2 || !I || !X2) j->rc = WS_ENOMEM;
    for (int mi = j->m0; mi < j->m1 && !j->rc; mi++)
        upsample_map(j, j->low + (size_t)mi * j->lh * j->lw, j->out + (size_t)mi * j->h * j->w, T2, I, X2,
                     j->counts ? j->counts + 2 * (size_t)mi : NULL);
    free(T2); free(I); free(X2);
    return NULL;
}

int ws_sam_upsample_logits(const ws_sam *m, const float *low, int n_maps, int lh, int lw, int rh, int rw, int h,
                           int w, float *out, float thr, int32_t *counts, int threads)
{
    const int len[4] = {rh, rw, h, w};
    lin_taps t[4] = {{0}};   /* ay, ax, by, bx */
    int rc = 0;
    for (int k = 0; k < 4; k++) {
        t[k].i0 = malloc((size_t)len[k] * sizeof(int32_t));
        t[k].i1 = malloc((size_t)len[k] * sizeof(int32_t));
        t[k].l0 = malloc((size_t)len[k] * sizeof(float));
        t[k].l1 = malloc((size_t)len[k] * sizeof(float));
        if (!t[k].i0 || !t[k].i1 || !t[k].l0 || !t[k].l1) rc = ws_fail(WS_ENOMEM, "mask upsampling: out of memory");
    }
    if (rc) goto done;
    /* pass 1 is the S x S resize read at its (rh, rw) corner: the scale factor S / lh decides */
    linear_taps(&t[0], lh, rh, (double)m->img_size / lh);
    linear_taps(&t[1], lw, rw, (double)m->img_size / lw);
    linear_taps(&t[2], rh, h, 0);
    linear_taps(&t[3], rw, w, 0);
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    if (threads > n_maps) threads = n_maps > 0 ? n_maps : 1;
    up_job jobs[16];
    pthread_t th[16];
    int started[16] = {0};
    const int isa = simd_level();
    int direct1 = 0, direct2 = 0;
#if WS_TORCH_VERSION_MAJOR >= 2
    /* ATen 2.x's kernel choice (blend2d_row), per resize: pass 1 outputs S x S, pass 2 h x w, both
     * of C = 3 maps in ws_sam_postprocess's layout. */
    const int one_thread = ws_at_get_num_threads() == 1;
    direct1 = one_thread || 2 * m->img_size <= 128;
    direct2 = one_thread || h + w <= 128;
#endif
    for (int k = 0; k < threads; k++) {
        jobs[k] = (up_job){.low = low, .out = out, .lh = lh, .lw = lw, .rh = rh, .rw = rw, .h = h, .w = w,
                           .m0 = (int)((int64_t)n_maps * k / threads), .m1 = (int)((int64_t)n_maps * (k + 1) / threads),
                           .ay = t[0], .ax = t[1], .by = t[2], .bx = t[3], .thr = thr, .counts = counts, .isa = isa,
                           .direct1 = direct1, .direct2 = direct2};
        if (k > 0) started[k] = !pthread_create(&th[k], NULL, upsample_run, &jobs[k]);
    }
    upsample_run(&jobs[0]);
    for (int k = 1; k < threads; k++) {
        if (started[k]) pthread_join(th[k], NULL);
        else upsample_run(&jobs[k]);   /* no thread: do its share here */
    }
    for (int k = 0; k < threads; k++)
        if (jobs[k].rc) rc = ws_fail(WS_ENOMEM, "mask upsampling: out of memory");
done:
    for (int k = 0; k < 4; k++) { free(t[k].i0); free(t[k].i1); free(t[k].l0); free(t[k].l1); }
    return rc;
}

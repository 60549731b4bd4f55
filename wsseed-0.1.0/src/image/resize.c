/* resize.c - Pillow-exact 8-bit resampling (see resize.h).
 *
 * A transcription of Pillow's libImaging/Resample.c (ImagingResampleHorizontal/Vertical_8bpc)
 * and Pillow's NEAREST index rule, so that SAM's and Grounding-DINO's preprocessing and
 * the training augmentation see the very pixels PIL gives the official Python code.
 */
#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* Pillow's fixed point: 8-bit pixels times 22-bit coefficients summed over a kernel stay in 32 bits */
#define PRECISION_BITS (32 - 8 - 2)

static double bilinear(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double bicubic(double x)   /* Keys cubic with a = -0.5, as Pillow */
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct { int ksize; int *bounds; int32_t *k; } coeffs;

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
static int precompute(int in_size, int out_size, double (*filter)(double), double support0, coeffs *c)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc((size_t)out_size * ksize * sizeof *kk);
    c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
    c->k = malloc((size_t)out_size * ksize * sizeof *c->k);
    c->ksize = ksize;
    if (!kk || !c->bounds || !c->k) { free(kk); return ws_fail(WS_ENOMEM, "resize: out of memory"); }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax;
        if (xmin < 0) xmin = 0;
        xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = kk + (size_t)xx * ksize;
        int x;
        for (x = 0; x < xmax; x++) { k[x] = filter((x + xmin - center + 0.5) * ss); ww += k[x]; }
        for (x = 0; x < xmax; x++) if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        c->k[i] = (int32_t)(kk[i] < 0 ? -0.5 + kk[i] * (1 << PRECISION_BITS) : 0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    return 0;
}

static void free_coeffs(coeffs *c) { free(c->bounds); free(c->k); }

/* Back from fixed point with Pillow's clip8 (the rounding half was added to the sum's start). */
static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The horizontal pass over source rows y0..y1 into tmp (y1 - y0, ow, ch), rounded to 8 bits as
 * Pillow does before the vertical pass. */
static void horizontal_pass(const uint8_t *src, int w, int ch, const coeffs *chz, int ow, int y0, int y1, uint8_t *tmp)
{
    for (int yy = y0; yy < y1; yy++)
        for (int xx = 0; xx < ow; xx++) {
            const int32_t *k = chz->k + (size_t)xx * chz->ksize;
            int xmin = chz->bounds[2 * xx], xmax = chz->bounds[2 * xx + 1];
            for (int c = 0; c < ch; c++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++) ss += src[((size_t)yy * w + x + xmin) * ch + c] * k[x];
                tmp[((size_t)(yy - y0) * ow + xx) * ch + c] = clip8(ss);
            }
        }
}

/* The vertical pass of vin (rows from vin_off on, vin_w wide) into dst (oh, vin_w, ch). */
static void vertical_pass(const uint8_t *vin, int vin_w, int vin_off, int ch, const coeffs *cv, int oh, uint8_t *dst)
{
    for (int yy = 0; yy < oh; yy++) {
        const int32_t *k = cv->k + (size_t)yy * cv->ksize;
        int ymin = cv->bounds[2 * yy] - vin_off, ymax = cv->bounds[2 * yy + 1];
        for (int xx = 0; xx < vin_w; xx++)
            for (int c = 0; c < ch; c++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++) ss += vin[((size_t)(y + ymin) * vin_w + xx) * ch + c] * k[y];
                dst[((size_t)yy * vin_w + xx) * ch + c] = clip8(ss);
            }
    }
}

int ws_resize_u8(const uint8_t *src, int w, int h, int ch, uint8_t *dst, int ow, int oh, int filter)
{
    if (w < 1 || h < 1 || ow < 1 || oh < 1 || ch < 1 || ch > 4)
        return ws_fail(WS_EINVAL, "resize: bad size %dx%d -> %dx%d (%d channels)", w, h, ow, oh, ch);
    double (*fn)(double) = filter == WS_RESAMPLE_BILINEAR ? bilinear : filter == WS_RESAMPLE_BICUBIC ? bicubic : NULL;
    double support = filter == WS_RESAMPLE_BILINEAR ? 1.0 : 2.0;
    if (!fn) return ws_fail(WS_EINVAL, "resize: unsupported filter %d", filter);
    coeffs cv = {0}, chz = {0};
    uint8_t *tmp = NULL;
    int rc = precompute(h, oh, fn, support, &cv);
    if (rc) goto done;
    /* like ImagingResampleInner: only the source rows the vertical pass reads go through the
     * horizontal one, and a pass whose size does not change is skipped */
    int y0 = cv.bounds[0], y1 = cv.bounds[2 * oh - 2] + cv.bounds[2 * oh - 1];
    const uint8_t *vin = src;   /* input of the vertical pass, rows y0..y1 (or all) */
    int vin_w = w, vin_off = 0;
    if (ow != w) {
        if ((rc = precompute(w, ow, fn, support, &chz))) goto done;
        tmp = malloc((size_t)ow * (y1 - y0) * ch);
        if (!tmp) { rc = ws_fail(WS_ENOMEM, "resize: out of memory"); goto done; }
        horizontal_pass(src, w, ch, &chz, ow, y0, y1, tmp);
        vin = tmp;
        vin_w = ow;
        vin_off = y0;
    }
    if (oh != h) vertical_pass(vin, vin_w, vin_off, ch, &cv, oh, dst);
    else memcpy(dst, vin, (size_t)ow * oh * ch);   /* vin holds rows 0..h when only the width changed */
done:
    free(tmp);
    free_coeffs(&cv);
    free_coeffs(&chz);
    return rc;
}

/* Source indices of one axis for NEAREST; the accumulation order is Pillow's. */
static int *nearest_index(int n, int m)
{
    int *idx = malloc((size_t)m * sizeof *idx);
    if (!idx) return NULL;
    double scale = (double)n / m, acc = scale * 0.5;
    for (int i = 0; i < m; i++, acc += scale) {
        int v = (int)acc;
        idx[i] = v < n ? v : n - 1;
    }
    return idx;
}

int ws_resize_nearest_u8(const uint8_t *src, int w, int h, int ch, uint8_t *dst, int ow, int oh)
{
    if (w < 1 || h < 1 || ow < 1 || oh < 1 || ch < 1)
        return ws_fail(WS_EINVAL, "resize: bad size %dx%d -> %dx%d", w, h, ow, oh);
    int *xs = nearest_index(w, ow), *ys = nearest_index(h, oh);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return ws_fail(WS_ENOMEM, "resize: out of memory");
    }
    for (int y = 0; y < oh; y++) {
        const uint8_t *row = src + (size_t)ys[y] * w * ch;
        for (int x = 0; x < ow; x++)
            memcpy(dst + ((size_t)y * ow + x) * ch, row + (size_t)xs[x] * ch, (size_t)ch);
    }
    free(xs);
    free(ys);
    return 0;
}

/* augment.c - sizes, colour jitter and OpenCV-exact 8-bit HSV (see augment.h).
 *
 * Owns FMA-WSSS's training augmentation (VOC2Auger, method-fma-wsss.md §2.3): colour jitter on the
 * uint8 image, RandRangeScale with PIL's bicubic, a 224 crop, a flip, CLIP's normalisation. Every
 * step is bit-exact with the Python (OpenCV's integer HSV tables, its vector/scalar lanes, float32
 * rounding), so a resumed or verified run draws exactly the official crops.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/augment.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

void ws_aug_scaled_size(int h, int w, double s, int *oh, int *ow)
{
    /* Python's round() rounds half to even, which is what the official new size round(s * H) does. */
    double a = nearbyint(s * h), b = nearbyint(s * w);   /* current rounding mode: half to even */
    *oh = a < 1 ? 1 : (int)a;
    *ow = b < 1 ? 1 : (int)b;
}

/* s = max(t / long side, short_thresh / short side): the long side reaches t unless that leaves the short
 * side under the crop size. */
double ws_aug_range_scale(int h, int w, int t, int short_thresh)
{
    int lo = h < w ? h : w, hi = h < w ? w : h;
    double a = (double)t / hi, b = (double)short_thresh / lo;
    return a > b ? a : b;
}

int ws_aug_ceil_to(int x, int n) { return (x + n - 1) / n * n; }

/* ---- colour jitter ---------------------------------------------------------------------- */

void ws_jitter_draw(ws_rng *r, ws_jitter *j)
{
    /* RandColorJitter's defaults: brightness +-25, contrast x[0.6, 1.4], saturation x[0.5, 1.5], hue +-25.
     * Each op is on with p = 0.5 (NaN = off). The values are drawn before the order is shuffled:
     * swapping the two would change every later draw. */
    static const double lo[4] = {-25, 0.6, 0.5, -25}, hi[4] = {25, 1.4, 1.5, 25};
    int64_t order[4] = {0, 1, 2, 3};
    for (int k = 0; k < 4; k++)
        j->value[k] = ws_rng_double(r) < 0.5 ? ws_rng_uniform(r, lo[k], hi[k]) : NAN;
    ws_rng_shuffle_i64(r, order, 4);
    for (int k = 0; k < 4; k++) j->order[k] = (int)order[k];
}

/* cv::convertScaleAbs for one value: saturate_u8(rint(|x*a + b|)) in float32. */
static inline uint8_t scale_abs(uint8_t x, float a, float b)
{
    float v = nearbyintf(fabsf(fmaf((float)x, a, b)));
    return (uint8_t)(v > 255.f ? 255.f : v);
}

/* built once per process, whichever loader thread jitters first (pthread_once: no half-built tables) */
static pthread_once_t hsv_once = PTHREAD_ONCE_INIT;
/* OpenCV's fixed-point reciprocal tables (12 fraction bits) for 8-bit RGB->HSV: integer arithmetic, which
 * float code would not reproduce bit for bit. */
static int sdiv[256], hdiv180[256], hdiv256[256];

static void build_hsv_tables(void)
{
    sdiv[0] = hdiv180[0] = hdiv256[0] = 0;
    for (int i = 1; i < 256; i++) {
        sdiv[i] = (int)nearbyint((255 << 12) / (1.0 * i));
        hdiv180[i] = (int)nearbyint((180 << 12) / (6.0 * i));
        hdiv256[i] = (int)nearbyint((256 << 12) / (6.0 * i));
    }
}

static void hsv_tables(void) { pthread_once(&hsv_once, build_hsv_tables); }

void ws_bgr2hsv_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr)
{
    hsv_tables();
    const int hr = full ? 256 : 180, *hdiv = full ? hdiv256 : hdiv180;
    const int ib = bgr ? 0 : 2, ir = bgr ? 2 : 0;
    for (size_t i = 0; i < (size_t)h * w; i++) {
        const uint8_t *p = src + 3 * i;
        int b = p[ib], g = p[1], r = p[ir];
        int v = b > g ? b : g, vmin = b < g ? b : g;
        v = v > r ? v : r;
        vmin = vmin < r ? vmin : r;
        int diff = v - vmin;
        int s = (diff * sdiv[v] + (1 << 11)) >> 12;
        int hh = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
        hh = (hh * hdiv[diff] + (1 << 11)) >> 12;   /* arithmetic shift: floor */
        /* No wrap-around beyond this: hue 0..179 (or 0..255 for HSV_FULL), as OpenCV. */
        if (hh < 0) hh += hr;
        dst[3 * i] = (uint8_t)(hh > 255 ? 255 : hh);
        dst[3 * i + 1] = (uint8_t)s;
        dst[3 * i + 2] = (uint8_t)v;
    }
}

/* The (b, g, r) of a sector from t0..t3 (OpenCV's table). */
static const int sector_tab[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};

static inline uint8_t trunc_u8(float x)
{
    float v = truncf(x * 255.0f);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline uint8_t round_u8(float x)
{
    float v = nearbyintf(x * 255.0f);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* OpenCV's vectorised HSV->BGR lane (first floor(W/32)*32 pixels of a row). */
/* OpenCV converts 8-bit HSV->BGR with a SIMD lane over blocks of 32 pixels and a scalar loop for the rest of
 * a row; the two round differently (truncate vs round), so both are mirrored and chosen by the pixel's
 * column. */
static void hsv2bgr_vec(float h, float s, float v, float out[3])
{
    float p = truncf(h), f = h - p, t[4];
    int sector = (int)(p - 6.0f * truncf(p * (1.0f / 6)));
    t[0] = v;
    t[1] = v * (1.0f - s);
    t[2] = v * fmaf(-s, f, 1.0f);
    t[3] = v * fmaf(-s, 1.0f - f, 1.0f);
    if (sector < 0 || sector > 5) sector = 0;
    for (int c = 0; c < 3; c++) out[c] = t[sector_tab[sector][c]];
}

/* OpenCV's scalar HSV->BGR (row tails). */
static void hsv2bgr_scalar(float h, float s, float v, float out[3])
{
    if (s == 0.0f) {
        out[0] = out[1] = out[2] = v;
        return;
    }
    h = fmodf(h, 6.0f);
    int sector = (int)floorf(h);
    h -= (float)sector;
    if (sector < 0 || sector > 5) { sector = 0; h = 0.0f; }
    volatile float sh = s * h, s1h = s * (1.0f - h);   /* no contraction into fma here */
    float t[4] = {v, v * (1.0f - s), v * (1.0f - sh), v * (1.0f - s1h)};
    for (int c = 0; c < 3; c++) out[c] = t[sector_tab[sector][c]];
}

void ws_hsv2bgr_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr)
{
    const float hs = 6.0f / (full ? 255.0f : 180.0f);
    const int ib = bgr ? 0 : 2, ir = bgr ? 2 : 0, nvec = w / 32 * 32;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = src + 3 * ((size_t)y * w + x);
            uint8_t *q = dst + 3 * ((size_t)y * w + x);
            float hh = p[0] * hs, s = p[1] * (1.0f / 255), v = p[2] * (1.0f / 255), o[3];
            if (x < nvec) {
                hsv2bgr_vec(hh, s, v, o);
                q[ib] = trunc_u8(o[0]); q[1] = trunc_u8(o[1]); q[ir] = trunc_u8(o[2]);
            } else {
                hsv2bgr_scalar(hh, s, v, o);
                q[ib] = round_u8(o[0]); q[1] = round_u8(o[1]); q[ir] = round_u8(o[2]);
            }
        }
}

/* HSV round trip with convertScaleAbs(a, b) on channel ch. */
static int hsv_op(uint8_t *img, int h, int w, int bgr, int full, int ch, float a, float b)
{
    size_t n = (size_t)h * w;
    uint8_t *hsv = malloc(3 * n);
    if (!hsv) return ws_fail(WS_ENOMEM, "colour jitter: out of memory");
    ws_bgr2hsv_u8(img, hsv, h, w, full, bgr);
    for (size_t i = 0; i < n; i++) hsv[3 * i + ch] = scale_abs(hsv[3 * i + ch], a, b);
    ws_hsv2bgr_u8(hsv, img, h, w, full, bgr);
    free(hsv);
    return 0;
}

int ws_jitter_apply(uint8_t *img, int h, int w, int bgr, const ws_jitter *j)
{
    size_t n = (size_t)h * w * 3;
    for (int k = 0; k < 4; k++) {
        int op = j->order[k];
        if (op < 0 || op > 3) return ws_fail(WS_EINVAL, "colour jitter: bad op %d", op);
        double val = j->value[op];
        if (isnan(val)) continue;
        float fv = (float)val;
        int rc = 0;
        switch (op) {
        case 0: for (size_t i = 0; i < n; i++) img[i] = scale_abs(img[i], 1.0f, fv); break;
        case 1: for (size_t i = 0; i < n; i++) img[i] = scale_abs(img[i], fv, 0.0f); break;
        /* Saturation on HSV (hue 0..179), hue on HSV_FULL (0..255) with a saturating add, as the spec's
         * jitter does. */
        case 2: rc = hsv_op(img, h, w, bgr, 0, 1, fv, 0.0f); break;
        default: rc = hsv_op(img, h, w, bgr, 1, 0, 1.0f, fv); break;
        }
        if (rc) return rc;
    }
    return 0;
}

/* ---- the training pipeline ------------------------------------------------------------------ */

void ws_aug_normalize(const uint8_t *rgb, int h, int w, float *out)
{
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    const size_t hw = (size_t)h * w;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < hw; i++) out[c * hw + i] = ((float)rgb[3 * i + c] / 255.0f - mean[c]) / std[c];
}

int ws_aug_train(const ws_aug_cfg *c, ws_rng *r, const uint8_t *rgb, const uint8_t *map, int h, int w, float *out,
                 uint8_t *map_out)
{
    uint8_t *img = malloc((size_t)h * w * 3), *sim = NULL, *smap = NULL, *crop = NULL;
    int rc = 0;
    if (!img) return ws_fail(WS_ENOMEM, "augmentation: out of memory");
    memcpy(img, rgb, (size_t)h * w * 3);
    if (c->jitter) {
        ws_jitter j;
        ws_jitter_draw(r, &j);
        if ((rc = ws_jitter_apply(img, h, w, 0, &j))) goto done;
    }
    /* Order of the spec: jitter, RandRangeScale (t uniform in [low, high]), crop, flip. The RNG draws happen
     * in that order too; reordering them would change every crop. */
    int t = (int)ws_rng_randint(r, c->scale_low, c->scale_high + 1), oh, ow;
    ws_aug_scaled_size(h, w, ws_aug_range_scale(h, w, t, c->short_thresh), &oh, &ow);
    sim = malloc((size_t)oh * ow * 3);
    smap = map ? malloc((size_t)oh * ow) : NULL;
    crop = malloc((size_t)c->crop * c->crop * 3);
    if (!sim || (map && !smap) || !crop) { rc = ws_fail(WS_ENOMEM, "augmentation: out of memory"); goto done; }
    if ((rc = ws_resize_u8(img, w, h, 3, sim, ow, oh, WS_RESAMPLE_BICUBIC))) goto done;
    /* Labels are resized with nearest neighbour: interpolating class indices would invent classes. */
    if (map && (rc = ws_resize_nearest_u8(map, w, h, 1, smap, ow, oh))) goto done;
    const int C = c->crop;
    int y0 = oh > C ? (int)ws_rng_randint(r, 0, oh - C + 1) : 0, x0 = ow > C ? (int)ws_rng_randint(r, 0, ow - C + 1) : 0;
    int flip = c->flip && ws_rng_double(r) < 0.5;
    for (int y = 0; y < C; y++)
        for (int x = 0; x < C; x++) {
            int sy = y0 + y, sx = x0 + (flip ? C - 1 - x : x), in = sy < oh && sx < ow;
            for (int k = 0; k < 3; k++) crop[((size_t)y * C + x) * 3 + k] = in ? sim[((size_t)sy * ow + sx) * 3 + k] : 0;
            /* Outside the scaled image the crop is padded with 0 in the image and 255 (ignore) in the label,
             * so padding never counts as background. */
            if (map) map_out[(size_t)y * C + x] = in ? smap[(size_t)sy * ow + sx] : 255;
        }
    ws_aug_normalize(crop, C, C, out);
done:
    free(img);
    free(sim);
    free(smap);
    free(crop);
    return rc;
}

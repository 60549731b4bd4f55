/* sams.c - SAM-based seeding (see sams.h). */
#include "method/sams.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "shim/at.h"

int ws_cam_upsample(const float *cam, int P, int h, int w, int H, int W, float *out)
{
    ws_at_tensor x = NULL, y = NULL;
    const int64_t s[4] = {1, P, h, w};
    int rc = 0;
    if (ws_at_from_data(cam, WS_AT_F32, 4, s, &x) || ws_at_interpolate(x, WS_AT_INTERP_BILINEAR, H, W, 0, &y) ||
        ws_at_read(y, out, (size_t)P * H * W * sizeof *out))
        rc = ws_fail(WS_ETORCH, "CAM upsampling: %s", ws_at_last_error());
    ws_at_free(x);
    ws_at_free(y);
    return rc;
}

typedef struct { int64_t level; float conf; int64_t idx; } paint_key;

static int cmp_paint(const void *a, const void *b)
{
    const paint_key *x = a, *y = b;
    if (x->level != y->level) return x->level < y->level ? -1 : 1;
    if (x->conf != y->conf) return x->conf < y->conf ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;   /* stable */
}

/* u[c, s] = mean over mask s of max(cam_up[c], 0), from the masks' column-major runs and per-class
 * prefix sums of the ReLU'd CAM in column-major order (O(runs) per mask and class). */
static int gather(const float *cam_up, int P, int H, int W, const int64_t *vals, const int64_t *offs, int S,
                  float *u)
{
    const int64_t HW = (int64_t)H * W;
    double *pre = malloc((size_t)(HW + 1) * sizeof *pre);
    if (!pre) return ws_fail(WS_ENOMEM, "SAMS: out of memory");
    for (int c = 0; c < P; c++) {
        const float *m = cam_up + (size_t)c * HW;
        pre[0] = 0;
        for (int x = 0, k = 0; x < W; x++)
            for (int y = 0; y < H; y++, k++) {
                float v = m[(size_t)y * W + x];
                pre[k + 1] = pre[k] + (v > 0 ? v : 0.0);
            }
        for (int s = 0; s < S; s++) {
            int64_t pos = 0, area = 0;
            double acc = 0;
            for (int64_t r = offs[s]; r < offs[s + 1]; r++) {
                int64_t len = vals[r], end = pos + len > HW ? HW : pos + len;
                if ((r - offs[s]) % 2 == 1) { acc += pre[end] - pre[pos]; area += end - pos; }
                pos = end;
            }
            if (pos != HW) { free(pre); return ws_fail(WS_EFORMAT, "SAMS: mask %d does not cover %dx%d", s, H, W); }
            u[(size_t)c * S + s] = area ? (float)(acc / (double)area) : 0.0f;
        }
    }
    free(pre);
    return 0;
}

/* Paints value v over the ones of a column-major RLE into the row-major map (H, W). */
static void paint(uint8_t *map, int H, int W, const int64_t *counts, int64_t n, uint8_t v)
{
    int64_t pos = 0, HW = (int64_t)H * W;
    for (int64_t r = 0; r < n && pos < HW; r++) {
        int64_t end = pos + counts[r] > HW ? HW : pos + counts[r];
        if (r % 2 == 1)
            for (int64_t k = pos; k < end; k++) map[(size_t)(k % H) * W + (size_t)(k / H)] = v;
        pos = end;
    }
}

int ws_sams_seed(const float *cam_up, int P, int H, int W, const int64_t *fg_cls, const int64_t *rle_values,
                 const int64_t *rle_offsets, const int64_t *level, int S, double pow_bg, uint8_t *seed,
                 ws_sams_out *out)
{
    const size_t HW = (size_t)H * W;
    float *u = malloc((size_t)(P ? P : 1) * (S ? S : 1) * sizeof *u);
    float *sc = malloc((size_t)(S ? S : 1) * (P + 1) * sizeof *sc);
    paint_key *key = malloc((size_t)(S ? S : 1) * sizeof *key);
    int64_t *lab = malloc((size_t)(S ? S : 1) * sizeof *lab);
    int rc = u && sc && key && lab ? 0 : ws_fail(WS_ENOMEM, "SAMS: out of memory");
    if (!rc) rc = gather(cam_up, P, H, W, rle_values, rle_offsets, S, u);
    for (int c = 0; !rc && c < P; c++) {   /* per-class min-max across the masks, float32 */
        float mn = 0, mx = 0;
        for (int s = 0; s < S; s++) {
            float v = u[(size_t)c * S + s];
            if (!s || v < mn) mn = v;
            if (!s || v > mx) mx = v;
        }
        volatile float r = mx - mn, d = r + 1e-7f;
        for (int s = 0; s < S; s++) sc[(size_t)s * (P + 1) + 1 + c] = (u[(size_t)c * S + s] - mn) / d;
    }
    for (int s = 0; !rc && s < S; s++) {
        float *row = sc + (size_t)s * (P + 1), m = 0;
        for (int c = 0; c < P; c++) m = c == 0 || row[1 + c] > m ? row[1 + c] : m;
        row[0] = P ? powf(1.0f - m, (float)pow_bg) : 1.0f;
        int k = 0;
        for (int j = 1; j <= P; j++)
            if (row[j] > row[k]) k = j;
        lab[s] = k ? fg_cls[k - 1] + 1 : 0;
        key[s] = (paint_key){level[s], row[k], s};
    }
    if (!rc) {
        qsort(key, (size_t)S, sizeof *key, cmp_paint);
        memset(seed, 0, HW);
        for (int k = 0; k < S; k++) {
            int64_t s = key[k].idx;
            paint(seed, H, W, rle_values + rle_offsets[s], rle_offsets[s + 1] - rle_offsets[s], (uint8_t)lab[s]);
        }
    }
    if (!rc && out) {
        if (out->u) memcpy(out->u, u, (size_t)P * S * sizeof *u);
        if (out->score) memcpy(out->score, sc, (size_t)S * (P + 1) * sizeof *sc);
        if (out->label) memcpy(out->label, lab, (size_t)S * sizeof *lab);
        for (int k = 0; k < S; k++) {
            if (out->conf) out->conf[key[k].idx] = key[k].conf;
            if (out->order) out->order[k] = key[k].idx;
        }
    }
    free(u); free(sc); free(key); free(lab);
    return rc;
}

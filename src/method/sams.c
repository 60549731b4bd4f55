/* sams.c - SAM-based seeding (see sams.h). */
#include "method/sams.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/rle.h"
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

/* u[c, s] = mean over mask s of max(cam_up[c], 0). */
static int gather(const float *cam_up, int P, int H, int W, const int64_t *vals, const int64_t *offs, int S,
                  float *u, uint8_t *scratch)
{
    const size_t HW = (size_t)H * W;
    for (int s = 0; s < S; s++) {
        int rc = ws_rle_decode(vals + offs[s], offs[s + 1] - offs[s], H, W, 1, scratch);
        if (rc) return rc;
        int64_t area = 0;
        for (size_t i = 0; i < HW; i++) area += scratch[i];
        for (int c = 0; c < P; c++) {
            const float *m = cam_up + c * HW;
            double acc = 0;
            for (size_t i = 0; i < HW; i++)
                if (scratch[i] && m[i] > 0) acc += m[i];
            u[(size_t)c * S + s] = area ? (float)(acc / (double)area) : 0.0f;
        }
    }
    return 0;
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
    uint8_t *scratch = malloc(HW);
    int rc = u && sc && key && lab && scratch ? 0 : ws_fail(WS_ENOMEM, "SAMS: out of memory");
    if (!rc) rc = gather(cam_up, P, H, W, rle_values, rle_offsets, S, u, scratch);
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
        for (int k = 0; k < S && !rc; k++) {
            int64_t s = key[k].idx;
            rc = ws_rle_decode(rle_values + rle_offsets[s], rle_offsets[s + 1] - rle_offsets[s], H, W, 1, scratch);
            for (size_t i = 0; !rc && i < HW; i++)
                if (scratch[i]) seed[i] = (uint8_t)lab[s];
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
    free(u); free(sc); free(key); free(lab); free(scratch);
    return rc;
}

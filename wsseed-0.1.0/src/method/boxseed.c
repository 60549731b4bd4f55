/* boxseed.c - box filtering, box conversion and label-map composition (see boxseed.h). */
#include "method/boxseed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int ws_box_filter(const float *logits, int Q, int T, double thresh, int64_t *keep, float *score)
{
    int n = 0;
    for (int q = 0; q < Q; q++) {
        float best = 0.0f;   /* sigmoid(-inf) = 0 */
        for (int t = 0; t < T; t++) {
            float x = logits[(size_t)q * T + t], s = isinf(x) && x < 0 ? 0.0f : 1.0f / (1.0f + expf(-x));
            if (s > best) best = s;
        }
        if (best > thresh) {
            keep[n] = q;
            score[n++] = best;
        }
    }
    return n;
}

void ws_box_to_pixels(const float *b, int n, int W, int H, float *o)
{
    const float sc[4] = {(float)W, (float)H, (float)W, (float)H};
    for (int i = 0; i < n; i++) {
        float s[4];
        for (int k = 0; k < 4; k++) s[k] = b[4 * i + k] * sc[k];
        float x0 = s[0] - s[2] / 2, y0 = s[1] - s[3] / 2;
        o[4 * i] = x0;
        o[4 * i + 1] = y0;
        o[4 * i + 2] = s[2] + x0;
        o[4 * i + 3] = s[3] + y0;
    }
}

int ws_boxseed_compose(const ws_boxmask *m, int n, int H, int W, int overlap, uint8_t *out)
{
    const size_t HW = (size_t)H * W;
    float *best = overlap == WS_OVERLAP_SCORE ? malloc(HW * sizeof *best) : NULL;
    if (overlap == WS_OVERLAP_SCORE && !best) return ws_fail(WS_ENOMEM, "compose: out of memory");
    if (overlap != WS_OVERLAP_SCORE && overlap != WS_OVERLAP_MAXID) return ws_fail(WS_EINVAL, "compose: unknown overlap rule %d", overlap);
    memset(out, 0, HW);
    for (size_t i = 0; best && i < HW; i++) best[i] = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float s = m[j].score * m[j].iou;
        for (size_t i = 0; i < HW; i++) {
            if (!m[j].mask[i]) continue;
            if (overlap == WS_OVERLAP_MAXID) {
                if (m[j].value > out[i]) out[i] = (uint8_t)m[j].value;
            } else if (s > best[i]) {
                best[i] = s;
                out[i] = (uint8_t)m[j].value;
            }
        }
    }
    free(best);
    return 0;
}

void ws_box_to_sam_frame(const float *xyxy, int n, int H, int W, int rh, int rw, float *out)
{
    const float sx = (float)((double)rw / W), sy = (float)((double)rh / H);
    for (int i = 0; i < 4 * n; i++) out[i] = xyxy[i] * (i % 2 ? sy : sx);
}

int ws_boxseed_sam(const ws_sam *m, ws_at_tensor emb, int rh, int rw, int H, int W, const float *xyxy, int n,
                   uint8_t *masks, float *iou, float *low_res)
{
    const size_t L2 = (size_t)(4 * m->grid) * (4 * m->grid);
    int rc = 0;
    for (int s = 0; s < n && !rc; s += 16) {
        const int k = n - s < 16 ? n - s : 16;
        float b[16 * 4];
        ws_box_to_sam_frame(xyxy + 4 * s, k, H, W, rh, rw, b);
        ws_scope g;
        ws_scope_init(&g);
        ws_at_tensor sparse = NULL, dense = NULL;
        ws_sam_dec_out d;
        const int64_t k4[2] = {k, 4};
        rc = ws_sam_prompt(m, &g, NULL, NULL, ws_g_from_data(&g, b, WS_AT_F32, 2, k4), NULL, &sparse, &dense);
        if (!rc) rc = ws_sam_decode(m, &g, emb, sparse, dense, 0, &d);
        if (!rc) {
            ws_at_tensor full = ws_sam_postprocess(m, &g, d.masks, rh, rw, H, W);
            ws_at_tensor bin = ws_g_to_dtype(&g, ws_g_scalar_op(&g, WS_AT_GT, ws_g_select(&g, full, 1, 0), 0.0), WS_AT_U8);
            ws_at_tensor q = ws_g_select(&g, d.iou, 1, 0);
            ws_at_tensor lr = low_res ? ws_g_contiguous(&g, ws_g_select(&g, d.masks, 1, 0)) : NULL;
            if (g.err || ws_at_read(bin, masks + (size_t)s * H * W, (size_t)k * H * W) ||
                ws_at_read(q, iou + s, (size_t)k * sizeof *iou) ||
                (lr && ws_at_read(lr, low_res + (size_t)s * L2, (size_t)k * L2 * sizeof *low_res)))
                rc = ws_fail(g.err ? g.err : WS_ETORCH, "boxed SAM: %s", g.err ? ws_last_error() : ws_at_last_error());
        }
        ws_scope_free(&g);
    }
    return rc;
}

int ws_box_too_large(const float *b, int H, int W, double max_frac)
{
    if (max_frac <= 0) return 0;
    const double x0 = fmax(b[0], 0), y0 = fmax(b[1], 0), x1 = fmin(b[2], W), y1 = fmin(b[3], H);
    const double a = (x1 > x0 ? x1 - x0 : 0) * (y1 > y0 ? y1 - y0 : 0);
    return a > max_frac * (double)H * W;
}

int ws_mask_too_small(const float *b, long area, double min_frac)
{
    if (min_frac <= 0) return 0;
    const double a = fmax(b[2] - b[0], 0) * fmax(b[3] - b[1], 0);
    return (double)area < min_frac * a;
}

int ws_boxseed_ignore_band(const ws_boxmask *m, int n, int H, int W, int k, double delta, uint8_t *out)
{
    if (k <= 0 || n < 2) return 0;
    const size_t HW = (size_t)H * W;
    float *b1 = malloc(HW * sizeof *b1), *b2 = malloc(HW * sizeof *b2);   /* best score, best of another class */
    int *c1 = malloc(HW * sizeof *c1);
    uint8_t *conflict = calloc(HW, 1), *rows = calloc(HW, 1);
    if (!b1 || !b2 || !c1 || !conflict || !rows) {
        free(b1); free(b2); free(c1); free(conflict); free(rows);
        return ws_fail(WS_ENOMEM, "ignore band: out of memory");
    }
    for (size_t i = 0; i < HW; i++) { b1[i] = b2[i] = -INFINITY; c1[i] = -1; }
    for (int j = 0; j < n; j++) {
        const float s = m[j].score * m[j].iou;
        for (size_t i = 0; i < HW; i++) {
            if (!m[j].mask[i]) continue;
            if (m[j].value == c1[i]) { if (s > b1[i]) b1[i] = s; }
            else if (s > b1[i]) { b2[i] = b1[i]; b1[i] = s; c1[i] = m[j].value; }
            else if (s > b2[i]) b2[i] = s;
        }
    }
    for (size_t i = 0; i < HW; i++) conflict[i] = isfinite(b2[i]) && b1[i] - b2[i] <= delta;
    /* square dilation by k: rows, then columns */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (conflict[(size_t)y * W + x])
                for (int dx = -k; dx <= k; dx++)
                    if (x + dx >= 0 && x + dx < W) rows[(size_t)y * W + x + dx] = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (rows[(size_t)y * W + x])
                for (int dy = -k; dy <= k; dy++)
                    if (y + dy >= 0 && y + dy < H) out[(size_t)(y + dy) * W + x] = 255;
    free(b1); free(b2); free(c1); free(conflict); free(rows);
    return 0;
}

/* caa.c - CAA refinement (see caa.h). */
#include "method/caa.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

void ws_caa_cfg_fma(ws_caa_cfg *c, int seg)
{
    c->sinkhorn_iters = 1;
    c->power = 2;
    c->box_thresh = seg ? 0.5 : 0.4;
    c->at_cam = seg;
}

void ws_caa_score(const float *cam, int P, int n, float *score)
{
    for (int c = 0; c < P; c++) {
        const float *x = cam + (size_t)c * n;
        float mn = 0, mx = 0;
        for (int i = 0; i < n; i++) {
            float v = x[i] > 0 ? x[i] : 0.0f;
            if (i == 0 || v < mn) mn = v;
            if (i == 0 || v > mx) mx = v;
        }
        volatile float r = mx - mn, d = r + 1e-7f;   /* each operation rounded to float32 */
        for (int i = 0; i < n; i++) {
            float v = x[i] > 0 ? x[i] : 0.0f;
            score[(size_t)c * n + i] = (v - mn) / d;
        }
    }
}

void ws_caa_affinity(const float *att, int n, int iters, float *W)
{
    float *A = malloc((size_t)n * n * sizeof *A), *s = malloc((size_t)n * sizeof *s);
    if (!A || !s) { free(A); free(s); memset(W, 0, (size_t)n * n * sizeof *W); return; }
    memcpy(A, att, (size_t)n * n * sizeof *A);
    for (int it = 0; it < iters; it++) {
        for (int j = 0; j < n; j++) s[j] = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) s[j] += A[(size_t)i * n + j];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) A[(size_t)i * n + j] /= s[j];
        for (int i = 0; i < n; i++) {
            float r = 0;
            for (int j = 0; j < n; j++) r += A[(size_t)i * n + j];
            for (int j = 0; j < n; j++) A[(size_t)i * n + j] /= r;
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) W[(size_t)i * n + j] = (A[(size_t)i * n + j] + A[(size_t)j * n + i]) / 2;
    free(A);
    free(s);
}

int ws_caa_power(const float *W, int n, int k, float *T)
{
    size_t nn = (size_t)n * n;
    memcpy(T, W, nn * sizeof *T);
    if (k <= 1) return 0;
    float *tmp = malloc(nn * sizeof *tmp);
    if (!tmp) return ws_fail(WS_ENOMEM, "CAA: out of memory");
    for (int i = 1; i < k; i++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, T, n, W, n, 0.0f, tmp, n);
        memcpy(T, tmp, nn * sizeof *T);
    }
    free(tmp);
    return 0;
}

/* ---- boxes --------------------------------------------------------------------------------- */

/* Flood fill from (y, x) over pixels with img == val (8- or 4-connected); labels them with id
 * and returns the bounding box and whether the region touches the border. */
static void fill(const uint8_t *img, int h, int w, int *lab, int *stack, int y, int x, uint8_t val, int conn8, int id,
                 int box[4], int *border)
{
    int sp = 0;
    stack[sp++] = y * w + x;
    lab[y * w + x] = id;
    box[0] = box[2] = x;
    box[1] = box[3] = y;
    *border = 0;
    while (sp) {
        int p = stack[--sp], py = p / w, px = p % w;
        if (px < box[0]) box[0] = px;
        if (px > box[2]) box[2] = px;
        if (py < box[1]) box[1] = py;
        if (py > box[3]) box[3] = py;
        if (py == 0 || px == 0 || py == h - 1 || px == w - 1) *border = 1;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if ((!dy && !dx) || (!conn8 && dy && dx)) continue;
                int yy = py + dy, xx = px + dx;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                int q = yy * w + xx;
                if (lab[q] || img[q] != val) continue;
                lab[q] = id;
                stack[sp++] = q;
            }
    }
}

int ws_caa_boxes(const float *score, int h, int w, double theta, uint8_t *mask, int64_t **boxes, int *n,
                 int *thresh_value, uint8_t *quantized)
{
    const int hw = h * w;
    uint8_t *q = malloc((size_t)hw), *fg = malloc((size_t)hw);
    int *lab = calloc((size_t)hw, sizeof *lab), *stack = malloc((size_t)hw * sizeof *stack), mq = 0, nb = 0, cap = 16;
    int64_t *bx = malloc((size_t)cap * 4 * sizeof *bx);
    if (!q || !fg || !lab || !stack || !bx) {
        free(q); free(fg); free(lab); free(stack); free(bx);
        return ws_fail(WS_ENOMEM, "CAA boxes: out of memory");
    }
    for (int i = 0; i < hw; i++) {
        float v = score[i] * 255.0f;
        q[i] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)v);
        if (q[i] > mq) mq = q[i];
    }
    int T = (int)(theta * mq);
    for (int i = 0; i < hw; i++) fg[i] = q[i] > T;
    memset(mask, 0, (size_t)hw);
    /* outer contours: 8-connected foreground components; holes: 4-connected background
     * components that do not reach the border (the image is padded with background) */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < hw; i++) {
            if (lab[i] || fg[i] != (pass == 0)) continue;
            int b[4], border;
            fill(fg, h, w, lab, stack, i / w, i % w, fg[i], pass == 0, 1, b, &border);
            if (pass == 1 && border) continue;
            if (pass == 1) { b[0]--; b[1]--; b[2]++; b[3]++; }   /* a hole's contour runs on its rim */
            int x0 = b[0], y0 = b[1], x1 = b[2] + 1 < w - 1 ? b[2] + 1 : w - 1, y1 = b[3] + 1 < h - 1 ? b[3] + 1 : h - 1;
            if (nb == cap) {
                int64_t *t = realloc(bx, (size_t)(cap *= 2) * 4 * sizeof *bx);
                if (!t) { free(q); free(fg); free(lab); free(stack); free(bx); return ws_fail(WS_ENOMEM, "out of memory"); }
                bx = t;
            }
            bx[4 * nb] = x0; bx[4 * nb + 1] = y0; bx[4 * nb + 2] = x1; bx[4 * nb + 3] = y1;
            nb++;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) mask[y * w + x] = 1;
        }
    if (!nb) { memset(bx, 0, 4 * sizeof *bx); nb = 1; }   /* the reference's [[0, 0, 0, 0]] */
    if (thresh_value) *thresh_value = T;
    if (quantized) memcpy(quantized, q, (size_t)hw);
    if (boxes) *boxes = bx;
    else free(bx);
    if (n) *n = nb;
    free(q); free(fg); free(lab); free(stack);
    return 0;
}

/* Sinkhorn's scalings: after the iterations A = diag(R) att diag(C) (columns, then rows, each
 * iteration), so W = (A + A^T)/2 never needs to be formed. */
static void sinkhorn_scalings(const float *att, int n, int iters, float *R, float *C, float *tmp)
{
    for (int i = 0; i < n; i++) R[i] = C[i] = 1.0f;
    for (int it = 0; it < iters; it++) {
        for (int j = 0; j < n; j++) tmp[j] = 0;   /* column sums of diag(R) att diag(C) */
        for (int i = 0; i < n; i++) {
            const float *row = att + (size_t)i * n;
            for (int j = 0; j < n; j++) tmp[j] += R[i] * row[j];
        }
        for (int j = 0; j < n; j++) C[j] = tmp[j] != 0 ? 1.0f / tmp[j] : 1.0f;   /* = C / (C o tmp) */
        for (int i = 0; i < n; i++) {              /* row sums with the new columns */
            const float *row = att + (size_t)i * n;
            float r = 0;
            for (int j = 0; j < n; j++) r += row[j] * C[j];
            R[i] = 1.0f / r;
        }
    }
}

int ws_caa_run(const ws_caa_cfg *c, const float *att, const float *cam, int P, int h, int w, float *out,
               float *score, uint8_t *box_mask)
{
    /* out_c = W^k (box_c * v_c) with W = (A + A^T)/2, A = diag(R) att diag(C): each power step is two
     * products of att with the (n, P) block of all classes, W^k itself is never formed */
    const int n = h * w, Pp = P > 0 ? P : 1;
    float *s = malloc((size_t)Pp * n * sizeof *s), *R = malloc((size_t)n * sizeof *R), *C = malloc((size_t)n * sizeof *C);
    float *V = malloc((size_t)n * Pp * sizeof *V), *X = malloc((size_t)n * Pp * sizeof *X), *Y = malloc((size_t)n * Pp * sizeof *Y);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    uint8_t *m = malloc((size_t)Pp * n);
    int rc = s && R && C && V && X && Y && tmp && m ? 0 : ws_fail(WS_ENOMEM, "CAA: out of memory");
    if (!rc) {
        ws_caa_score(cam, P, n, s);
        sinkhorn_scalings(att, n, c->sinkhorn_iters, R, C, tmp);
    }
    for (int k = 0; !rc && k < P; k++) {   /* V (n, P): the in-box values of every class */
        rc = ws_caa_boxes(s + (size_t)k * n, h, w, c->box_thresh, m + (size_t)k * n, NULL, NULL, NULL, NULL);
        const float *src = c->at_cam ? cam + (size_t)k * n : s + (size_t)k * n;
        for (int j = 0; j < n; j++) V[(size_t)j * P + k] = m[(size_t)k * n + j] ? src[j] : 0.0f;
    }
    for (int it = 0; !rc && P > 0 && it < (c->power > 0 ? c->power : 1); it++) {
        /* X = att (C o V), Y = att^T (R o V); V <- (R o X + C o Y) / 2 */
        for (int j = 0; j < n; j++)
            for (int k = 0; k < P; k++) Y[(size_t)j * P + k] = C[j] * V[(size_t)j * P + k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, P, n, 1.0f, att, n, Y, P, 0.0f, X, P);
        for (int j = 0; j < n; j++)
            for (int k = 0; k < P; k++) Y[(size_t)j * P + k] = R[j] * V[(size_t)j * P + k];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, P, n, 1.0f, att, n, Y, P, 0.0f, V, P);
        for (int j = 0; j < n; j++)
            for (int k = 0; k < P; k++)
                V[(size_t)j * P + k] = (R[j] * X[(size_t)j * P + k] + C[j] * V[(size_t)j * P + k]) / 2;
    }
    for (int k = 0; !rc && k < P; k++)
        for (int j = 0; j < n; j++) out[(size_t)k * n + j] = V[(size_t)j * P + k];
    if (!rc && score) memcpy(score, s, (size_t)P * n * sizeof *s);
    if (!rc && box_mask) memcpy(box_mask, m, (size_t)P * n);
    free(s); free(R); free(C); free(V); free(X); free(Y); free(tmp); free(m);
    return rc;
}

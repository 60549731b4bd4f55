/* caa.h - FMA-WSSS class-aware attention-based affinity refinement (CAA, `att_cam`).
 *
 * Per image at patch resolution: score = min-max of ReLU(cam) per class (float32, bit-exact to
 * the reference); affinity = Sinkhorn-normalised attention (columns, then rows) symmetrised,
 * raised to a matrix power (OpenBLAS); a box mask per class from its thresholded score (the
 * union of the bounding boxes of OpenCV's contours, with CLIP-ES's clipped exclusive ends);
 * refined_c = T @ (box_c * v_c) with v the score (cls task) or the raw cam (seg task).
 * All buffers are the caller's.
 */
#ifndef WS_METHOD_CAA_H
#define WS_METHOD_CAA_H
#include <stdint.h>

typedef struct ws_caa_cfg {
    int sinkhorn_iters;   /* 1 */
    int power;            /* 2 */
    double box_thresh;    /* 0.4 cls, 0.5 seg */
    int at_cam;           /* 0: propagate the score (cls); 1: the raw cam (seg) */
} ws_caa_cfg;
/* The official settings: task 0 cls (score, 0.4), 1 seg (cam, 0.5). */
void ws_caa_cfg_fma(ws_caa_cfg *c, int seg);

/* score (P, n) from cam (P, n): (x - min)/(max - min + 1e-7f), x = max(cam, 0), float32. */
void ws_caa_score(const float *cam, int P, int n, float *score);
/* W (n, n) from att (n, n): iters x (columns / column sums, rows / row sums), W = (A + A^T)/2. */
void ws_caa_affinity(const float *att, int n, int iters, float *W);
/* T = W^k (n, n), k >= 1. Returns 0 or WS_ENOMEM. */
int ws_caa_power(const float *W, int n, int k, float *T);

/* Box extraction of one score map (h, w) at threshold theta (scoremap2bbox): q = trunc(score *
 * 255), foreground q > (int)(theta * max q); boxes (x0, y0, x1, y1) of every contour of
 * findContours(RETR_TREE): outer borders of 8-connected foreground components and borders of
 * their 4-connected holes, ends clipped to w-1 / h-1; mask (h, w) = union of the boxes.
 * *boxes (malloc'd, 4 per box, may be NULL to skip) gets [[0,0,0,0]] when there is no contour;
 * *n the box count. Returns 0 or WS_ENOMEM. */
int ws_caa_boxes(const float *score, int h, int w, double theta, uint8_t *mask, int64_t **boxes, int *n,
                 int *thresh_value, uint8_t *quantized);

/* The whole refinement: cam (P, h, w), att (hw, hw) -> out (P, h, w); optional score (P, h, w)
 * and box masks (P, h, w) outputs (NULL to skip). W^k is applied as k matrix-vector products per
 * class (the matrix power itself, ws_caa_power, is never formed: n^3 work saved). */
int ws_caa_run(const ws_caa_cfg *c, const float *att, const float *cam, int P, int h, int w, float *out,
               float *score, uint8_t *box_mask);
#endif

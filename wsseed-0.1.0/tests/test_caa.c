/* test_caa.c - the factored CAA (ws_caa_run: Sinkhorn scalings and matrix-vector power steps,
 * never forming W or W^k) against the explicit recipe the golden file checks (ws_caa_affinity,
 * ws_caa_power, T @ (box * v)), for 1-3 Sinkhorn iterations, powers 1-3 and both propagated
 * maps, on random attention; within 1e-5 max|ref| + 1e-4|ref| (the golden CAA tolerance). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "method/caa.h"
#include "tap.h"

int main(void)
{
    const int h = 9, w = 11, n = h * w, P = 3;
    ws_rng r;
    ws_rng_seed(&r, 7);
    float *att = malloc((size_t)n * n * sizeof *att), *cam = malloc((size_t)P * n * sizeof *cam);
    float *W = malloc((size_t)n * n * sizeof *W), *T = malloc((size_t)n * n * sizeof *T);
    float *s = malloc((size_t)P * n * sizeof *s), *v = malloc((size_t)n * sizeof *v);
    float *ref = malloc((size_t)P * n * sizeof *ref), *got = malloc((size_t)P * n * sizeof *got);
    uint8_t *box = malloc((size_t)P * n);
    for (int i = 0; i < n * n; i++) att[i] = (float)(ws_rng_double(&r) + ((i / n - i % n) * (i / n - i % n) < 4 ? 5 : 0));
    for (int k = 0; k < P; k++)
        for (int i = 0; i < n; i++) {
            double dy = i / w - 2.0 - 2 * k, dx = i % w - 3.0 - 2 * k;
            cam[k * n + i] = (float)(exp(-(dx * dx + dy * dy) / 6) - 0.3 + 0.2 * ws_rng_double(&r));
        }
    for (int iters = 1; iters <= 3; iters++)
        for (int pw = 1; pw <= 3; pw++)
            for (int at = 0; at < 2; at++) {
                ws_caa_cfg c = {.sinkhorn_iters = iters, .power = pw, .box_thresh = 0.4, .at_cam = at};
                ws_caa_score(cam, P, n, s);
                ws_caa_affinity(att, n, iters, W);
                ws_caa_power(W, n, pw, T);
                double maxref = 0, worst = 0;
                for (int k = 0; k < P; k++) {
                    ws_caa_boxes(s + k * n, h, w, 0.4, box + k * n, NULL, NULL, NULL, NULL);
                    for (int j = 0; j < n; j++) v[j] = box[k * n + j] ? (at ? cam : s)[k * n + j] : 0.0f;
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0f, T, n, v, 1, 0.0f, ref + k * n, 1);
                }
                for (int i = 0; i < P * n; i++) maxref = fmax(maxref, fabs(ref[i]));
                int rc = ws_caa_run(&c, att, cam, P, h, w, got, NULL, NULL), bad = rc != 0;
                for (int i = 0; i < P * n; i++) {
                    double d = fabs(got[i] - ref[i]);
                    worst = fmax(worst, d);
                    bad |= d > 1e-5 * maxref + 1e-4 * fabs(ref[i]);
                }
                ok(!bad, "sinkhorn %d, power %d, propagate %s: max|diff| %.3g (max|ref| %.3g)", iters, pw,
                   at ? "cam" : "score", worst, maxref);
            }
    free(att); free(cam); free(W); free(T); free(s); free(v); free(ref); free(got); free(box);
    return done_testing();
}

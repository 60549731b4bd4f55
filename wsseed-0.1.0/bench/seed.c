/* bench/seed.c - CAA and SAMS per VOC-sized image: a 24x32 patch grid (a 375x500 image seen at
 * 384x512), 3 classes, 768x768 attention, ~100 SAM masks of random ellipses and boxes.
 * caa_s: score + Sinkhorn affinity + matrix power + boxes + propagation (cls settings);
 * sams_s: CAM upsampling to 375x500 + per-mask means + labels + painting. Prints the median of R
 * runs; with --json the last line is one JSON object.
 *
 * Usage: bench/seed [--json] [--reps R] [--masks S]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/rng.h"
#include "core/runtime.h"
#include "core/status.h"
#include "data/rle.h"
#include "method/caa.h"
#include "method/sams.h"
#include "shim/at.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int json = 0, reps = 5, S = 100;
    ws_runtime_tune_malloc();
    ws_at_set_num_threads(1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--masks") && i + 1 < argc) S = atoi(argv[++i]);
        else { fprintf(stderr, "usage: bench/seed [--json] [--reps R] [--masks S]\n"); return 2; }
    }
    if (reps < 1 || reps > 64 || S < 1) return 2;
    const int h = 24, w = 32, n = h * w, P = 3, H = 375, W = 500;
    ws_rng r;
    ws_rng_seed(&r, 1);
    float *att = malloc((size_t)n * n * sizeof *att), *cam = malloc((size_t)P * n * sizeof *cam);
    float *out = malloc((size_t)P * n * sizeof *out), *up = malloc((size_t)P * H * W * sizeof *up);
    uint8_t *mask = malloc((size_t)H * W), *seed = malloc((size_t)H * W);
    int64_t fg[3] = {1, 7, 19}, *level = malloc((size_t)S * sizeof *level);
    for (int i = 0; i < n; i++) {   /* positive rows summing to ~1, peaked near the diagonal */
        double sum = 0;
        for (int j = 0; j < n; j++) sum += att[(size_t)i * n + j] = (float)(ws_rng_double(&r) + (abs(i - j) < 3 ? 20 : 0));
        for (int j = 0; j < n; j++) att[(size_t)i * n + j] /= (float)sum;
    }
    for (int c = 0; c < P; c++)
        for (int i = 0; i < n; i++) {
            double dy = i / w - (6 + 6 * c), dx = i % w - (8 + 8 * c);
            cam[c * n + i] = (float)(1.5 * exp(-(dx * dx + dy * dy) / 30) - 0.2 + 0.1 * ws_rng_double(&r));
        }
    /* masks: random ellipses and boxes as column-major RLEs */
    int64_t **counts = malloc((size_t)S * sizeof *counts), *vals = NULL, *offs = NULL, total = 0;
    int *lens = malloc((size_t)S * sizeof *lens);
    for (int s = 0; s < S; s++) {
        double cx = ws_rng_uniform(&r, 0, W), cy = ws_rng_uniform(&r, 0, H), rx = ws_rng_uniform(&r, 5, 150), ry = ws_rng_uniform(&r, 5, 120);
        int ell = ws_rng_double(&r) < 0.5;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double a = (x - cx) / rx, b = (y - cy) / ry;
                mask[y * W + x] = ell ? a * a + b * b <= 1 : fabs(a) <= 1 && fabs(b) <= 1;
            }
        ws_rle_encode(mask, H, W, &counts[s], &lens[s]);
        level[s] = ws_rng_randint(&r, 0, 3);
    }
    ws_rle_concat(counts, lens, S, &vals, &offs, &total);
    ws_caa_cfg cfg;
    ws_caa_cfg_fma(&cfg, 0);
    double tc[64], ts[64];
    int rc = 0;
    for (int k = -1; k < reps && !rc; k++) {   /* k = -1: warm-up */
        double t0 = ws_now();
        rc = ws_caa_run(&cfg, att, cam, P, h, w, out, NULL, NULL);
        double t1 = ws_now();
        if (!rc) rc = ws_cam_upsample(out, P, h, w, H, W, up);
        if (!rc) rc = ws_sams_seed(up, P, H, W, fg, vals, offs, level, S, 0.6, seed, NULL);
        double t2 = ws_now();
        if (k >= 0) { tc[k] = t1 - t0; ts[k] = t2 - t1; }
    }
    if (rc) { fprintf(stderr, "bench/seed: %s\n", ws_last_error()); return 1; }
    qsort(tc, (size_t)reps, sizeof *tc, cmp_double);
    qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("CAA + SAMS per image: grid %dx%d, %d classes, image %dx%d, %d masks\n", h, w, P, W, H, S);
    printf("  caa_s   %8.4f s  (Sinkhorn, W^2 by OpenBLAS, boxes, propagation)\n", tc[reps / 2]);
    printf("  sams_s  %8.4f s  (upsampling, per-mask means, labels, painting)\n", ts[reps / 2]);
    printf("  peak RSS %.0f MB\n", ru.ru_maxrss / 1024.0);
    if (json)
        printf("{\"caa_s\": %.6f, \"sams_s\": %.6f, \"masks\": %d, \"peak_rss_mb\": %.1f}\n", tc[reps / 2], ts[reps / 2], S,
               ru.ru_maxrss / 1024.0);
    for (int s = 0; s < S; s++) free(counts[s]);
    free(counts); free(lens); free(vals); free(offs); free(att); free(cam); free(out); free(up); free(mask); free(seed);
    free(level);
    return 0;
}

/* bench/dist.c - what running as ranks costs on this machine: the all-reduce a data-parallel
 * training step adds (the prompt context's gradient, float32, plus the step's statistics) and the
 * assembly of a per-image store (parts written by the ranks' shares, merged by rank 0 after the
 * ranks agree). Run alone for the one-process figures and under `wsseed launch -n 2 bench/dist`
 * for 2 ranks; rank 0 prints the medians of R repetitions.
 *
 * Usage: bench/dist [--ctx N] [--reps R] [--images P] [--dir D]
 *   --ctx N     gradient elements per step (default 8192: 16 ctx tokens x 512, ViT-B/16)
 *   --images P  images of the store (default 200), each a 64 KiB part
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"
#include "io/store.h"
#include "io/store_ranks.h"
#include "shim/rank.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one training step's collectives: 6 doubles of statistics, then the gradient. */
static double allreduce_s(int n, int reps)
{
    float *g = calloc((size_t)n, sizeof *g);
    double *t = calloc((size_t)reps, sizeof *t), v[6] = {0};
    for (int r = 0; r < reps && g && t; r++) {
        double t0 = ws_now();
        if (ws_rank_sum_f64(v, 6, "bench stats") || ws_rank_sum_f32(g, (size_t)n, "bench gradient")) {
            fprintf(stderr, "bench/dist: %s\n", ws_last_error());
            exit(1);
        }
        t[r] = ws_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t ? t[reps / 2] : 0;
    free(g);
    free(t);
    return m;
}

/* Seconds from the end of this rank's share to a whole store on every rank. */
static double assembly_s(const char *dir, int images, int rep)
{
    char path[4096], id[32];
    snprintf(path, sizeof path, "%s/store-%d.h5", dir, rep);
    char **ids = malloc((size_t)images * sizeof *ids);
    static float data[16384];   /* 64 KiB per image */
    const int64_t shape[1] = {16384};
    ws_store st = {0};
    int rc = ids ? ws_store_open_write_as(&st, path, "bench", "views", "bench-1") : WS_ENOMEM, complete = 0;
    int share_i, share_n;
    ws_rank_share(0, 1, &share_i, &share_n);
    for (int i = 0; i < images && !rc; i++) {
        snprintf(id, sizeof id, "img%05d", i);
        ids[i] = strdup(id);
        if (i % share_n != share_i) continue;
        ws_h5file f;
        rc = ws_store_part_begin(&st, id, &f);
        if (!rc) rc = ws_store_write_field(&f, "views", id, "x", WS_F32, 1, shape, data);
        if (!rc) rc = ws_store_part_commit(&f);
    }
    double t0 = ws_now();
    rc = ws_store_finish_ranks(&st, ids, images, rc, "the bench store", &complete);
    double dt = ws_now() - t0;
    if (rc || !complete) { fprintf(stderr, "bench/dist: %s\n", rc ? ws_last_error() : "store incomplete"); exit(1); }
    ws_store_close(&st);
    if (ws_rank_id() == 0) unlink(path);
    for (int i = 0; i < images; i++) free(ids[i]);
    free(ids);
    return dt;
}

int main(int argc, char **argv)
{
    int n = 8192, reps = 50, images = 200;
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ctx") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else { fprintf(stderr, "usage: bench/dist [--ctx N] [--reps R] [--images P] [--dir D]\n"); return 2; }
    }
    if (n < 1 || reps < 1 || images < 1) { fprintf(stderr, "bench/dist: values must be >= 1\n"); return 2; }
    if (ws_rank_init()) { fprintf(stderr, "bench/dist: %s\n", ws_last_error()); return 1; }
    double ar = allreduce_s(n, reps), as[3];
    for (int r = 0; r < 3; r++) as[r] = assembly_s(dir, images, r);
    qsort(as, 3, sizeof *as, cmp_double);
    if (ws_rank_id() == 0)
        printf("ranks %d: all-reduce per training step (%d floats + 6 doubles) %.3f ms; store assembly of %d "
               "images (64 KiB each) %.3f s\n", ws_rank_world(), n, 1e3 * ar, images, as[1]);
    ws_rank_shutdown();
    return 0;
}

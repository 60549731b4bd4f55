/* bench/gdino.c - Grounding-DINO speed at the released Swin-T OGC size with random weights.
 *
 * One 375x500 image (a smooth synthetic picture) through the official transform (short side 800,
 * long side at most 1333: 800x1066), one caption of the 20 VOC prompt names ("aeroplane . bicycle .
 * ... ."): Swin-T, BERT-base, 6 fusion + encoder layers, 900 queries, 6 decoder layers, predict().
 * Prints seconds (image side, text + encoder + decoder + predict, whole) and peak RSS; with --json
 * the last line is one JSON object with gdino_swint_800_s (whole, median of --runs after a warm-up
 * run), image_side_s, caption_s, peak_rss_mb.
 *
 * --swin-b: the groundingdino_swinb_cogcoor sizes instead (Swin-B, window 12); its JSON key is
 * gdino_swinb_800_s.
 *
 * Usage: bench/gdino [--json] [--runs N] [--threads N] [--swin-b]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/runtime.h"
#include "core/status.h"
#include "method/names.h"
#include "model/gdino.h"
#include "model/wordpiece.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int json = 0, runs = 3, swin_b = 0;
    ws_runtime_tune_malloc();
    ws_at_set_num_threads(2);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ws_at_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--swin-b")) swin_b = 1;
        else { fprintf(stderr, "usage: bench/gdino [--json] [--runs N] [--threads N] [--swin-b]\n"); return 2; }
    }
    if (runs < 1 || runs > 50) runs = 3;
    ws_gdino m;
    struct rusage u0;
    if (ws_gdino_init_random(&m, swin_b ? &WS_GDINO_SWINB_COGCOOR : &WS_GDINO_SWINT_OGC, 0)) { fprintf(stderr, "bench/gdino: %s\n", ws_last_error()); return 1; }
    getrusage(RUSAGE_SELF, &u0);
    printf("  peak RSS after building the random model: %.0f MB\n", (double)u0.ru_maxrss / 1024.0);
    /* a vocabulary holding the caption's pieces: the special tokens at BERT's ids, then words */
    char vpath[] = "/tmp/wsseed-bench-vocab-XXXXXX";
    int fd = mkstemp(vpath);
    FILE *vf = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!vf) { fprintf(stderr, "bench/gdino: cannot write a vocabulary in /tmp\n"); return 1; }
    for (int i = 0; i < 30522; i++) {
        if (i == 0) fputs("[PAD]\n", vf);
        else if (i == 100) fputs("[UNK]\n", vf);
        else if (i == 101) fputs("[CLS]\n", vf);
        else if (i == 102) fputs("[SEP]\n", vf);
        else if (i == 103) fputs("[MASK]\n", vf);
        else if (i == 1012) fputs(".\n", vf);
        else if (i == 1013) fputs("/\n", vf);
        else if (i >= 2000 && i < 2020) {
            char w[64];
            snprintf(w, sizeof w, "%s", WS_VOC_DINO[i - 2000]);
            for (char *c = w; *c; c++) if (*c == ' ' || *c == '/') *c = '\0';
            fprintf(vf, "%s\n", w);
        } else if (i >= 2020 && i < 2030) fprintf(vf, "%s\n", i == 2020 ? "table" : i == 2021 ? "tv" : i == 2022 ? "bird" : "[unused]");
        else fprintf(vf, "[unused%d]\n", i);
    }
    fclose(vf);
    ws_wordpiece wp = {0};
    int rc = ws_wordpiece_load(&wp, vpath);
    remove(vpath);
    if (rc) { fprintf(stderr, "bench/gdino: %s\n", ws_last_error()); return 1; }
    char caption[1024] = "";
    for (int c = 0; c < 20; c++) { strcat(caption, WS_VOC_DINO[c]); strcat(caption, " . "); }
    const int W = 500, H = 375;
    uint8_t *img = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double r = hypot(x - 0.6 * W, y - 0.5 * H);
            img[(y * W + x) * 3 + 0] = (uint8_t)(r < 90 ? 200 : 60 + x % 40);
            img[(y * W + x) * 3 + 1] = (uint8_t)(r < 90 ? 80 : 120 + y % 50);
            img[(y * W + x) * 3 + 2] = (uint8_t)(r < 90 ? 40 : 180 - y % 60);
        }
    printf("Grounding-DINO %s (random weights), %d intra-op threads, 500x375 -> 800x1066, 20-class caption\n",
           swin_b ? "Swin-B cogcoor" : "Swin-T OGC", ws_at_get_num_threads());
    double whole[50], img_s[50], cap_s[50];
    int boxes = 0;
    ws_at_guard inf = NULL;
    ws_at_inference_mode_enter(1, NULL, &inf);
    for (int r = -1; r < runs; r++) {   /* r = -1: warm-up */
        ws_gdino_scene sc;
        ws_gdino_dets d;
        double t0 = ws_now();
        if (ws_gdino_scene_begin(&m, img, H, W, 800, 1333, &sc)) { fprintf(stderr, "bench/gdino: %s\n", ws_last_error()); return 1; }
        double t1 = ws_now();
        if (r < 0) {
            struct rusage u;
            getrusage(RUSAGE_SELF, &u);
            printf("  peak RSS after the model and the image side: %.0f MB\n", (double)u.ru_maxrss / 1024.0);
        }
        if (ws_gdino_detect(&m, &wp, &sc, caption, 0.3, 0.25, &d)) { fprintf(stderr, "bench/gdino: %s\n", ws_last_error()); return 1; }
        double t2 = ws_now();
        boxes = d.n;
        ws_gdino_dets_free(&d);
        ws_gdino_scene_free(&sc);
        if (r >= 0) { img_s[r] = t1 - t0; cap_s[r] = t2 - t1; whole[r] = t2 - t0; }
        printf("  run %d: image side %.3f s, caption %.3f s, whole %.3f s (%d boxes)\n", r + 1, t1 - t0, t2 - t1, t2 - t0, boxes);
        fflush(stdout);
    }
    ws_at_guard_exit(inf);
    qsort(whole, (size_t)runs, sizeof *whole, cmp_d);
    qsort(img_s, (size_t)runs, sizeof *img_s, cmp_d);
    qsort(cap_s, (size_t)runs, sizeof *cap_s, cmp_d);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0;
    const char *key = swin_b ? "gdino_swinb_800_s" : "gdino_swint_800_s";
    printf("  %s %.3f s (median of %d), peak RSS %.0f MB\n", key, whole[runs / 2], runs, rss);
    if (json)
        printf("{\"%s\": %.3f, \"image_side_s\": %.3f, \"caption_s\": %.3f, \"threads\": %d, \"peak_rss_mb\": %.1f}\n",
               key, whole[runs / 2], img_s[runs / 2], cap_s[runs / 2], ws_at_get_num_threads(), rss);
    free(img);
    ws_wordpiece_free(&wp);
    ws_gdino_free(&m);
    return 0;
}

/* bench/sam.c - SAM speed at released sizes with random weights.
 *
 * Cases: the ViT-B image encoder at 1024x1024 (and ViT-H with --vit-h), and the whole automatic
 * mask generator with FMA-WSSS's settings (32 points per side, one crop layer, level-aware
 * filters, small regions, rock-sand-water) on a 500x375 image (a smooth synthetic picture).
 * Random weights decide how many masks survive the filters, so the filters are also reported
 * (the built-in random ViT-B lets none through; see --model).
 * Prints seconds per stage and peak RSS; with --json the last line is one JSON object with
 * encoder_vitb_1024_s, amg_vitb_fma_s, amg_post_s (everything but encoder and decoder passes:
 * measured as the generator minus its encoder and decoder time; amg_upsample_s and amg_filter_s
 * are its two largest parts), peak_rss_mb.
 *
 * --model SAM.pth runs a released-format checkpoint instead of the random ViT-B (for example the
 * random weights the official Python generator was timed with, so both sides produce the same
 * masks; see README "Speed").
 *
 * Usage: bench/sam [--json] [--vit-h] [--points N] [--threads N] [--model SAM.pth] [--device D] [--precision P]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/runtime.h"
#include "core/status.h"
#include "method/amg.h"
#include "model/sam.h"
#include "device.h"

static ws_at_gen gen;   /* the benchmark's input images */

static double encoder_time(const ws_sam *m)
{
    ws_scope g;
    ws_at_guard inf = NULL;
    ws_at_tensor x = NULL;
    const int64_t s[4] = {1, 3, 1024, 1024};
    ws_at_empty(WS_AT_F32, 4, s, &x);
    ws_at_normal_(x, 0, 1, gen);
    ws_at_inference_mode_enter(1, NULL, &inf);
    ws_scope_init(&g);
    double t0 = ws_now();
    ws_sam_encode(m, &g, x, NULL);
    bench_sync();
    double t = g.err ? NAN : ws_now() - t0;
    ws_scope_free(&g);
    ws_at_guard_exit(inf);
    ws_at_free(x);
    return t;
}

int main(int argc, char **argv)
{
    int json = 0, vit_h = 0, points = 32;
    const char *model = NULL;
    ws_runtime_cfg rt;
    ws_runtime_defaults(&rt);
    ws_runtime_tune_malloc();
    ws_at_set_num_threads(1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--vit-h")) vit_h = 1;
        else if (!strcmp(argv[i], "--points") && i + 1 < argc) points = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ws_at_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (bench_runtime_opt(argc, argv, &i, &rt)) continue;
        else {
            fprintf(stderr, "usage: bench/sam [--json] [--vit-h] [--points N] [--threads N] [--model SAM.pth] " BENCH_RUNTIME_USAGE "\n");
            return 2;
        }
    }
    if (bench_runtime_apply("bench/sam", &rt)) return 1;
    ws_at_gen_new(0, &gen);
    ws_sam m;
    if (model ? ws_sam_load(&m, model, 0) : ws_sam_init_random(&m, &WS_SAM_VIT_B, 0)) {
        fprintf(stderr, "bench/sam: %s\n", ws_last_error());
        return 1;
    }
    char where[400];
    ws_stage_describe_runtime(where, sizeof where);
    printf("SAM %s, %s, %d intra-op threads\n", model ? model : "ViT-B (random weights)", where, ws_at_get_num_threads());
    encoder_time(&m);   /* warm-up */
    double enc = encoder_time(&m);
    printf("  encoder_vitb_1024_s   %8.3f s\n", enc);

    /* the generator on a smooth 500x375 picture */
    const int W = 500, H = 375;
    uint8_t *img = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double r = hypot(x - 0.6 * W, y - 0.5 * H);
            img[(y * W + x) * 3 + 0] = (uint8_t)(r < 90 ? 200 : 60 + x % 40);
            img[(y * W + x) * 3 + 1] = (uint8_t)(r < 90 ? 80 : 120 + y % 50);
            img[(y * W + x) * 3 + 2] = (uint8_t)((x + y) % 256);
        }
    ws_amg_cfg cfg;
    ws_amg_cfg_fma_voc(&cfg);
    cfg.points_per_side = points;
    ws_amg_list res = {0};
    ws_amg_trace tr = {0};
    double t0 = ws_now();
    int rc = ws_amg_generate(&m, &cfg, img, H, W, &res, &tr);
    double amg = ws_now() - t0;
    if (rc) { fprintf(stderr, "bench/sam: %s\n", ws_last_error()); return 1; }
    printf("  amg_vitb_fma_s        %8.3f s  (%d crops, %d masks decoded, %d pass IoU, %d pass stability, %d out)\n",
           amg, tr.n_crops, tr.n_decoded, tr.n_pass_iou, tr.n_pass_iou_and_stability, res.n);
    printf("  amg_encoder_s         %8.3f s  amg_decoder_s %8.3f s\n", tr.t_encoder, tr.t_decoder);
    double post = amg - tr.t_encoder - tr.t_decoder;
    printf("  amg_post_s            %8.3f s  (upsampling %.3f s, scores and filters %.3f s, rest: boxes, RLE, NMS,\n"
           "                                   small regions, rock-sand-water)\n", post, tr.t_upsample, tr.t_filter);
    double vith = NAN;
    if (vit_h) {
        ws_sam mh;
        if (ws_sam_init_random(&mh, &WS_SAM_VIT_H, 0)) { fprintf(stderr, "bench/sam: %s\n", ws_last_error()); return 1; }
        vith = encoder_time(&mh);
        printf("  encoder_vith_1024_s   %8.3f s\n", vith);
        ws_sam_free(&mh);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0;
    printf("  peak RSS %.0f MB\n", rss);
    if (json) {
        printf("{\"encoder_vitb_1024_s\": %.4f, \"amg_vitb_fma_s\": %.4f, \"amg_post_s\": %.4f, \"amg_encoder_s\": %.4f, "
               "\"amg_decoder_s\": %.4f, \"amg_upsample_s\": %.4f, \"amg_filter_s\": %.4f, \"masks_decoded\": %d, "
               "\"masks_out\": %d, ", enc, amg, post, tr.t_encoder, tr.t_decoder, tr.t_upsample, tr.t_filter, tr.n_decoded, res.n);
        if (vit_h) printf("\"encoder_vith_1024_s\": %.4f, ", vith);
        printf("\"peak_rss_mb\": %.1f, ", rss);
        bench_json_device(stdout);
        printf("}\n");
    }
    ws_amg_list_free(&res);
    ws_amg_trace_free(&tr);
    free(img);
    ws_sam_free(&m);
    ws_at_gen_free(gen);
    return 0;
}

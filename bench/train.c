/* bench/train.c - seconds per FMA-WSSS training step at full ViT-B/16 size (random weights).
 *
 * One step = batch forward (frozen trunk without autograd up to the last ln_1, last block +
 * text encoder of 45 prompts in the graph), d loss / d ctx and the SGD update, exactly the
 * loop's train step minus data loading. cls: shared ctx, MCL (no Grad-CAM: zero weight). seg:
 * class-specific ctx, softmax Grad-CAM with create_graph and the CAM loss (second order).
 * Batch 16 of 224x224 images, 1-3 positives each. Each case runs plain (the text encoder over all
 * 77 positions of every prompt) and fast (causal horizon + a shared context's prefix once, the
 * training default). Prints the median of R steps after one warm-up, and peak RSS; with --json
 * the last line is one JSON object. cls_cached_s: the cls step from cached image embeddings (what
 * the feature cache holds for a task without Grad-CAM; the HDF5 read of 16 x 2 KB is not included).
 *
 * Usage: bench/train [--json] [--reps R] [--threads N] [--batch B] [--device D] [--precision P]
 *        (WSSEED_BPE: vocabulary)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/rng.h"
#include "core/runtime.h"
#include "core/status.h"
#include "method/fma.h"
#include "method/names.h"
#include "train/optim.h"
#include "device.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_case {
    const ws_clip *m;
    ws_prompt *p;
    ws_at_tensor images;
    uint8_t *fg, *seeds;
    int B, seg, fast;
    ws_at_tensor trunk16;   /* cached cls mode: (B, 512) image embeddings */
    ws_sgd sgd;
} bench_case;

static int step(bench_case *c)
{
    ws_scope g;
    ws_fma_out fo;
    ws_at_tensor grad = NULL;
    ws_scope_init(&g);
    ws_fma_batch b = {.N = c->B, .H = 224, .W = 224, .images = c->images, .fg_labels = c->fg,
                      .mcl_labels = c->seg ? NULL : c->fg, .seeds = c->seg ? c->seeds : NULL};
    ws_fma_opts o = {.n_fg = 20, .sm_eps = 1e-5, .w_mcl = c->seg ? 0 : 1, .w_cam_fg = c->seg, .w_cam_bg = c->seg,
                     .create_graph = 1, .pos_interp = WS_CLIP_POS_BILINEAR, .fast_text = c->fast};
    if (c->trunk16) b.img_emb = c->trunk16;   /* a cached cls step: the image embeddings */
    int rc = ws_fma_forward(c->m, c->p, &g, &b, &o, &fo);
    if (!rc && ws_at_autograd_grad(&fo.loss_total, 1, NULL, &c->p->ctx, 1, 0, 0, 0, &grad))
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) rc = ws_sgd_step(&c->sgd, c->p->ctx, grad, 1e-5);
    ws_at_free(grad);
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    return rc;
}

static double time_case(bench_case *c, int reps)
{
    double t[32];
    if (step(c)) return -1;   /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = ws_now();
        if (step(c)) return -1;
        bench_sync();
        t[r] = ws_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return t[reps / 2];
}

int main(int argc, char **argv)
{
    int json = 0, reps = 3, B = 16, quick = 0;
    ws_runtime_cfg rt;
    ws_runtime_defaults(&rt);
    ws_runtime_tune_malloc();
    ws_at_set_num_threads(1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ws_at_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cached-only")) quick = 1;
        else if (bench_runtime_opt(argc, argv, &i, &rt)) continue;
        else {
            fprintf(stderr, "usage: bench/train [--json] [--reps R] [--threads N] [--batch B] [--cached-only] " BENCH_RUNTIME_USAGE "\n");
            return 2;
        }
    }
    if (bench_runtime_apply("bench/train", &rt)) return 1;
    if (reps < 1 || reps > 32 || B < 1) return 2;
    const char *vocab = getenv("WSSEED_BPE");
    if (!vocab) vocab = "../shared/golden/bpe_simple_vocab_16e6.txt.gz";
    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_prompt pc = {0}, ps = {0};
    const char *cls_names[45], *seg_names[45];
    for (int i = 0; i < 45; i++) {
        cls_names[i] = i < 20 ? WS_VOC_FG[i] : WS_VOC_BG[i - 20];
        seg_names[i] = i < 20 ? WS_VOC_FG[i] : "";
    }
    if (ws_clip_init_random(&m, &WS_CLIP_VIT_B16, 0) || ws_bpe_load(&bpe, vocab) ||
        ws_prompt_build(&pc, &m, &bpe, cls_names, 45, 16, 0, 0) || ws_prompt_init_ctx(&pc, "\xe7\x9c\x9f", 0.015) ||
        ws_prompt_build(&ps, &m, &bpe, seg_names, 45, 16, 1, 1) || ws_prompt_init_ctx(&ps, "\xe6\x9c\xba", 0.0125)) {
        fprintf(stderr, "bench/train: %s (set WSSEED_BPE to the CLIP vocabulary)\n", ws_last_error());
        return 1;
    }
    /* images N(0, 1); 1-3 positives per image; seeds: each positive owns a horizontal band */
    ws_rng r;
    ws_rng_seed(&r, 7);
    uint8_t *fg = calloc((size_t)B * 20, 1), *seeds = malloc((size_t)B * 224 * 224);
    for (int n = 0; n < B; n++) {
        int k = (int)ws_rng_randint(&r, 1, 4), cls[3];
        for (int j = 0; j < k; j++) fg[n * 20 + (cls[j] = (int)ws_rng_randint(&r, 0, 20))] = 1;
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) seeds[((size_t)n * 224 + y) * 224 + x] = (uint8_t)(y < 56 ? 0 : cls[(y - 56) * k / 168] + 1);
    }
    int64_t is[4] = {B, 3, 224, 224};
    ws_at_tensor images = NULL;
    if (ws_at_empty(WS_AT_F32, 4, is, &images) || ws_at_normal_(images, 0, 1, NULL)) return 1;
    bench_case cc = {.m = &m, .p = &pc, .images = images, .fg = fg, .seeds = seeds, .B = B, .seg = 0,
                     .sgd = {.momentum = 0.9, .weight_decay = 5e-4}};
    bench_case cs = cc;
    cs.p = &ps;
    cs.seg = 1;
    double tc = quick ? 1 : time_case(&cc, reps), ts = quick ? 1 : time_case(&cs, reps);
    cc.fast = cs.fast = 1;
    double tcf = quick ? 1 : time_case(&cc, reps), tsf = quick ? 1 : time_case(&cs, reps);
    const int64_t es[2] = {B, 512};
    if (ws_at_empty(WS_AT_F32, 2, es, &cc.trunk16) || ws_at_normal_(cc.trunk16, 0, 1, NULL)) return 1;
    double tcc = time_case(&cc, reps);
    ws_at_free(cc.trunk16);
    if (tc < 0 || ts < 0 || tcf < 0 || tsf < 0 || tcc < 0) { fprintf(stderr, "bench/train: %s\n", ws_last_error()); return 1; }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = ru.ru_maxrss / 1024.0;
    char where[400];
    ws_stage_describe_runtime(where, sizeof where);
    printf("FMA-WSSS training step, ViT-B/16 (random weights), batch %d, 45 prompts x 16 ctx, %s, %d ATen thread(s)\n",
           B, where, ws_at_get_num_threads());
    printf("  cls step (MCL, shared ctx)                       plain %8.2f s  fast %8.2f s  (x%.2f)\n", tc, tcf, tcf / tc);
    printf("  seg step (Grad-CAM 2nd order, CAM loss, csc ctx) plain %8.2f s  fast %8.2f s  (x%.2f)\n", ts, tsf, tsf / ts);
    printf("  cls step from the feature cache (image embeddings)    %8.2f s  (x%.2f of plain)\n", tcc, tcc / tc);
    printf("  peak RSS %.0f MB\n", rss);
    if (json)
        printf("{\"batch\": %d, \"cls_plain_s\": %.4f, \"cls_fast_s\": %.4f, \"cls_cached_s\": %.4f, \"seg_plain_s\": %.4f, "
               "\"seg_fast_s\": %.4f, \"peak_rss_mb\": %.1f, \"threads\": %d, ", B, tc, tcf, tcc, ts, tsf, rss,
               ws_at_get_num_threads());
    if (json) {
        bench_json_device(stdout);
        printf("}\n");
    }
    ws_sgd_free(&cc.sgd);
    ws_sgd_free(&cs.sgd);
    ws_at_free(images);
    free(fg);
    free(seeds);
    ws_prompt_free(&pc);
    ws_prompt_free(&ps);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return 0;
}

/* bench/clip.c - CLIP speed at full ViT-B/16 size (random weights, same shapes as the release).
 *
 * Cases: image forward at 224x224 (batch 1 and 16) and 512x384 (batch 1, bilinear position
 * embedding resize as FMA), under inference mode; text encoder forward + backward for 45 prompts
 * x 77 tokens with a learnable shared 16-token context (gradient to the context only, weights
 * frozen). Prints the median seconds of R runs (after one warm-up), GFLOP/s (forward
 * multiply-adds x 2; the backward counted as one more forward, since only input gradients flow)
 * and peak RSS; with --json the last line is one JSON object.
 *
 * Usage: bench/clip [--json] [--reps R] [--threads N] [--device D] [--precision P]
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
#include "model/clip.h"
#include "device.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FLOPs of one transformer pass over n sequences of l tokens of width w, with `layers` blocks. */
static double tf_flops(double n, double l, double w, int layers)
{
    return n * layers * (2 * l * 12 * w * w + 4 * l * l * w);
}

static double image_flops(const ws_clip *m, int n, int h, int w)
{
    double hw = (double)(h / m->patch_size) * (w / m->patch_size), wd = m->vision_width;
    double conv = 2.0 * n * hw * wd * 3 * m->patch_size * m->patch_size;
    return conv + tf_flops(n, hw + 1, wd, m->vision_layers) + 2.0 * n * wd * m->embed_dim;
}

static int run_image(const ws_clip *m, ws_at_tensor x, int pos_mode)
{
    ws_scope g;
    ws_clip_image_out o;
    ws_at_guard inf = NULL;
    ws_scope_init(&g);
    ws_clip_image_opts opts = {.pos_interp = pos_mode, .patch_mean = 1};
    if (ws_at_inference_mode_enter(1, NULL, &inf)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int rc = ws_clip_encode_image(m, &g, x, &opts, &o);
    ws_clip_image_out_free(&o);
    ws_scope_free(&g);
    ws_at_guard_exit(inf);
    return rc;
}

typedef struct { const ws_clip *m; ws_at_tensor tok_emb, eot, ctx, R; int mode; } text_case;   /* mode 0 plain, 1 causal horizon, 2 + shared prefix */

static int run_text(const text_case *c)
{
    ws_scope g;
    ws_clip_text_out o;
    ws_at_tensor grad = NULL;
    const ws_clip *m = c->m;
    ws_scope_init(&g);
    const int64_t G = 45, W = m->text_width, M = 16, L = c->mode ? 16 + 2 + 3 + 1 : m->context_length;
    const int64_t sh[3] = {G, M, W}, ps[3] = {1, M, W};
    int rc;
    if (c->mode == 2) {
        ws_at_tensor pp[2] = {ws_g_slice(&g, ws_g_slice(&g, c->tok_emb, 0, 0, 1), 1, 0, 1), ws_g_reshape(&g, c->ctx, 3, ps)};
        rc = ws_clip_encode_text_shared(m, &g, ws_g_cat(&g, pp, 2, 1), ws_g_slice(&g, c->tok_emb, 1, 1 + M, L), c->eot, &o);
    } else {
        ws_at_tensor parts[3] = {ws_g_slice(&g, c->tok_emb, 1, 0, 1), ws_g_expand(&g, c->ctx, 3, sh),
                                 ws_g_slice(&g, c->tok_emb, 1, 1 + M, L)};
        rc = ws_clip_encode_text_emb(m, &g, ws_g_cat(&g, parts, 3, 1), c->eot, NULL, &o);
    }
    ws_at_tensor loss = ws_g_reduce(&g, WS_AT_RSUM, ws_g_mul(&g, ws_clip_l2_normalize(&g, o.features), c->R), WS_AT_ALL, 0);
    if (!rc && !g.err && ws_at_autograd_grad(&loss, 1, NULL, &c->ctx, 1, 0, 0, 0, &grad))
        rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) rc = g.err;
    ws_at_free(grad);
    ws_clip_text_out_free(&o);
    ws_scope_free(&g);
    return rc;
}

typedef int (*bench_fn)(const void *);
typedef struct { const ws_clip *m; ws_at_tensor x; int pos; } image_case;
static int image_thunk(const void *p) { const image_case *c = p; return run_image(c->m, c->x, c->pos); }
static int text_thunk(const void *p) { return run_text(p); }

static double median_time(bench_fn f, const void *arg, int reps)
{
    double t[64];
    if (f(arg)) return NAN;   /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = ws_now();
        if (f(arg)) return NAN;
        bench_sync();
        t[r] = ws_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

static ws_at_tensor randn(int nd, const int64_t *shape, ws_at_gen gen)
{
    ws_at_tensor t = NULL;
    if (ws_at_empty(WS_AT_F32, nd, shape, &t) || ws_at_normal_(t, 0, 1, gen)) return NULL;
    return t;
}

int main(int argc, char **argv)
{
    int json = 0, reps = 5;
    ws_runtime_cfg rt;
    ws_runtime_defaults(&rt);
    ws_runtime_tune_malloc();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ws_at_set_num_threads(atoi(argv[++i]));
        else if (bench_runtime_opt(argc, argv, &i, &rt)) continue;
        else { fprintf(stderr, "usage: bench/clip [--json] [--reps R] [--threads N] " BENCH_RUNTIME_USAGE "\n"); return 2; }
    }
    if (bench_runtime_apply("bench/clip", &rt)) return 1;
    if (reps < 1 || reps > 63) reps = 5;
    ws_clip m;
    ws_at_gen gen = NULL;
    if (ws_clip_init_random(&m, &WS_CLIP_VIT_B16, 0) || ws_at_gen_new(1, &gen)) {
        fprintf(stderr, "bench/clip: %s\n", ws_last_error());
        return 1;
    }
    char where[400];
    ws_stage_describe_runtime(where, sizeof where);
    printf("CLIP ViT-B/16 (random weights), %s, %d intra-op threads, median of %d runs\n", where, ws_at_get_num_threads(), reps);
    const int64_t s1[4] = {1, 3, 224, 224}, s16[4] = {16, 3, 224, 224}, s512[4] = {1, 3, 384, 512};
    image_case ic[3] = {{&m, randn(4, s1, gen), WS_CLIP_POS_BILINEAR}, {&m, randn(4, s16, gen), WS_CLIP_POS_BILINEAR},
                        {&m, randn(4, s512, gen), WS_CLIP_POS_BILINEAR}};
    const char *names[6] = {"image_b1_224_s", "image_b16_224_s", "image_b1_512x384_s", "text_fwdbwd_45_s",
                            "text_fwdbwd_45_trunc_s", "text_fwdbwd_45_shared_s"};
    double flops[6] = {image_flops(&m, 1, 224, 224), image_flops(&m, 16, 224, 224), image_flops(&m, 1, 384, 512),
                       2 * (tf_flops(45, 77, m.text_width, m.text_layers) + 2.0 * 45 * m.text_width * m.embed_dim),
                       2 * (tf_flops(45, 22, m.text_width, m.text_layers) + 2.0 * 45 * m.text_width * m.embed_dim),
                       2 * (tf_flops(45, 22, m.text_width, m.text_layers) + 2.0 * 45 * m.text_width * m.embed_dim)};
    double secs[6];
    for (int i = 0; i < 3; i++) secs[i] = median_time(image_thunk, &ic[i], reps);

    /* text: token embeddings of random ids (EOT at 16 + name length), a learnable shared ctx */
    const int64_t G = 45, L = m.context_length, ctx_s[2] = {16, m.text_width}, r_s[2] = {G, m.embed_dim};
    const int64_t emb_s[3] = {G, L, m.text_width}, eot_s[1] = {G};
    int64_t eot[45];
    for (int i = 0; i < 45; i++) eot[i] = 16 + 2 + i % 4;
    text_case tc = {&m, randn(3, emb_s, gen), NULL, randn(2, ctx_s, gen), randn(2, r_s, gen), 0};
    ws_at_from_data(eot, WS_AT_I64, 1, eot_s, &tc.eot);
    ws_at_set_requires_grad(tc.ctx, 1);
    for (int k = 0; k < 3; k++) {   /* plain (77 positions), causal horizon (22), + shared prefix */
        tc.mode = k;
        secs[3 + k] = median_time(text_thunk, &tc, reps);
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    for (int i = 0; i < 6; i++)
        printf("  %-24s %9.4f s  %7.1f GFLOP/s%s\n", names[i], secs[i], flops[i] / secs[i] / 1e9,
               i == 5 ? " (counted as the truncated work)" : "");
    printf("  peak RSS %.0f MB\n", rss_mb);
    if (json) {
        printf("{\"image_b1_224_s\": %.6f, \"image_b16_224_s\": %.6f, \"image_b1_512x384_s\": %.6f, "
               "\"text_fwdbwd_45_s\": %.6f, \"text_fwdbwd_45_trunc_s\": %.6f, \"text_fwdbwd_45_shared_s\": %.6f, "
               "\"peak_rss_mb\": %.1f, \"threads\": %d, ",
               secs[0], secs[1], secs[2], secs[3], secs[4], secs[5], rss_mb, ws_at_get_num_threads());
        bench_json_device(stdout);
        printf("}\n");
    }
    for (int i = 0; i < 3; i++) ws_at_free(ic[i].x);
    ws_at_free(tc.tok_emb);
    ws_at_free(tc.eot);
    ws_at_free(tc.ctx);
    ws_at_free(tc.R);
    ws_at_gen_free(gen);
    ws_clip_free(&m);
    return isnan(secs[0] + secs[1] + secs[2] + secs[3]) ? 1 : 0;
}

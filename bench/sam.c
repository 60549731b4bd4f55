/* bench/sam.c - SAM speed at released sizes with random weights.
 *
 * Cases: the ViT-B image encoder at 1024x1024 (and ViT-H with --vit-h), and the whole automatic
 * mask generator with FMA-WSSS's settings (32 points per side, one crop layer, level-aware
 * filters, small regions, rock-sand-water) on a 500x375 image (a smooth synthetic picture).
 * Random weights decide how many masks survive the filters, so the filters are also reported.
 * Prints seconds per stage and peak RSS; with --json the last line is one JSON object with
 * encoder_vitb_1024_s, amg_vitb_fma_s, amg_post_s (everything but encoder and decoder passes:
 * measured as the generator minus its encoder and decoder time), peak_rss_mb.
 *
 * Usage: bench/sam [--json] [--vit-h] [--points N] [--threads N]
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

typedef struct { int embed, depth, heads, globals[4]; } vit_arch;

static ws_at_gen gen;

static int add(ws_at_ckpt ck, const char *name, double fill, int nd, ...)
{
    int64_t sh[8];
    va_list ap;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++) sh[i] = va_arg(ap, int64_t);
    va_end(ap);
    ws_at_tensor t = NULL;
    int rc = ws_at_empty(WS_AT_F32, nd, sh, &t) || (isnan(fill) ? ws_at_normal_(t, 0, 0.02, gen) : ws_at_fill_(t, fill)) ||
             ws_at_ckpt_add(ck, name, t);
    ws_at_free(t);
    return rc ? ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error()) : 0;
}

#define R NAN
#define I64(x) ((int64_t)(x))

static int attn(ws_at_ckpt ck, const char *p, int64_t C, int64_t inner)
{
    char n[256];
    int rc = 0;
    const char *qkv[3] = {"q", "k", "v"};
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(n, sizeof n, "%s.%s_proj.weight", p, qkv[i]);
        rc = add(ck, n, R, 2, inner, C);
        snprintf(n, sizeof n, "%s.%s_proj.bias", p, qkv[i]);
        if (!rc) rc = add(ck, n, R, 1, inner);
    }
    snprintf(n, sizeof n, "%s.out_proj.weight", p);
    if (!rc) rc = add(ck, n, R, 2, C, inner);
    snprintf(n, sizeof n, "%s.out_proj.bias", p);
    if (!rc) rc = add(ck, n, R, 1, C);
    return rc;
}

/* A random state dict with the released key names and shapes. */
static int random_sam(const vit_arch *a, ws_at_ckpt ck)
{
    char n[256];
    int rc = 0;
    const int64_t E = a->embed, g = 64, C = 256;
    rc |= add(ck, "image_encoder.pos_embed", R, 4, I64(1), g, g, E);
    rc |= add(ck, "image_encoder.patch_embed.proj.weight", R, 4, E, I64(3), I64(16), I64(16));
    rc |= add(ck, "image_encoder.patch_embed.proj.bias", R, 1, E);
    for (int b = 0; b < a->depth && !rc; b++) {
        int global = 0;
        for (int k = 0; k < 4; k++) global |= a->globals[k] == b;
        int64_t span = global ? 2 * 64 - 1 : 2 * 14 - 1, hd = E / a->heads;
        const char *names[] = {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"};
        for (int k = 0; k < 4; k++) { snprintf(n, sizeof n, "image_encoder.blocks.%d.%s", b, names[k]); rc |= add(ck, n, k % 2 ? 0 : 1, 1, E); }
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.rel_pos_h", b); rc |= add(ck, n, R, 2, span, hd);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.rel_pos_w", b); rc |= add(ck, n, R, 2, span, hd);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.qkv.weight", b); rc |= add(ck, n, R, 2, 3 * E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.qkv.bias", b); rc |= add(ck, n, R, 1, 3 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.proj.weight", b); rc |= add(ck, n, R, 2, E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.attn.proj.bias", b); rc |= add(ck, n, R, 1, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin1.weight", b); rc |= add(ck, n, R, 2, 4 * E, E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin1.bias", b); rc |= add(ck, n, R, 1, 4 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin2.weight", b); rc |= add(ck, n, R, 2, E, 4 * E);
        snprintf(n, sizeof n, "image_encoder.blocks.%d.mlp.lin2.bias", b); rc |= add(ck, n, R, 1, E);
    }
    rc |= add(ck, "image_encoder.neck.0.weight", R, 4, C, E, I64(1), I64(1));
    rc |= add(ck, "image_encoder.neck.1.weight", 1, 1, C);
    rc |= add(ck, "image_encoder.neck.1.bias", 0, 1, C);
    rc |= add(ck, "image_encoder.neck.2.weight", R, 4, C, C, I64(3), I64(3));
    rc |= add(ck, "image_encoder.neck.3.weight", 1, 1, C);
    rc |= add(ck, "image_encoder.neck.3.bias", 0, 1, C);
    rc |= add(ck, "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", R, 2, I64(2), C / 2);
    for (int k = 0; k < 4; k++) { snprintf(n, sizeof n, "prompt_encoder.point_embeddings.%d.weight", k); rc |= add(ck, n, R, 2, I64(1), C); }
    rc |= add(ck, "prompt_encoder.not_a_point_embed.weight", R, 2, I64(1), C);
    rc |= add(ck, "prompt_encoder.mask_downscaling.0.weight", R, 4, I64(4), I64(1), I64(2), I64(2));
    rc |= add(ck, "prompt_encoder.mask_downscaling.0.bias", R, 1, I64(4));
    rc |= add(ck, "prompt_encoder.mask_downscaling.1.weight", 1, 1, I64(4));
    rc |= add(ck, "prompt_encoder.mask_downscaling.1.bias", 0, 1, I64(4));
    rc |= add(ck, "prompt_encoder.mask_downscaling.3.weight", R, 4, I64(16), I64(4), I64(2), I64(2));
    rc |= add(ck, "prompt_encoder.mask_downscaling.3.bias", R, 1, I64(16));
    rc |= add(ck, "prompt_encoder.mask_downscaling.4.weight", 1, 1, I64(16));
    rc |= add(ck, "prompt_encoder.mask_downscaling.4.bias", 0, 1, I64(16));
    rc |= add(ck, "prompt_encoder.mask_downscaling.6.weight", R, 4, C, I64(16), I64(1), I64(1));
    rc |= add(ck, "prompt_encoder.mask_downscaling.6.bias", R, 1, C);
    rc |= add(ck, "prompt_encoder.no_mask_embed.weight", R, 2, I64(1), C);
    for (int l = 0; l < 2 && !rc; l++) {
        const char *pre = "mask_decoder.transformer.layers";
        snprintf(n, sizeof n, "%s.%d.self_attn", pre, l); rc |= attn(ck, n, C, C);
        snprintf(n, sizeof n, "%s.%d.cross_attn_token_to_image", pre, l); rc |= attn(ck, n, C, C / 2);
        snprintf(n, sizeof n, "%s.%d.cross_attn_image_to_token", pre, l); rc |= attn(ck, n, C, C / 2);
        for (int k = 1; k <= 4; k++) {
            snprintf(n, sizeof n, "%s.%d.norm%d.weight", pre, l, k); rc |= add(ck, n, 1, 1, C);
            snprintf(n, sizeof n, "%s.%d.norm%d.bias", pre, l, k); rc |= add(ck, n, 0, 1, C);
        }
        snprintf(n, sizeof n, "%s.%d.mlp.lin1.weight", pre, l); rc |= add(ck, n, R, 2, I64(2048), C);
        snprintf(n, sizeof n, "%s.%d.mlp.lin1.bias", pre, l); rc |= add(ck, n, R, 1, I64(2048));
        snprintf(n, sizeof n, "%s.%d.mlp.lin2.weight", pre, l); rc |= add(ck, n, R, 2, C, I64(2048));
        snprintf(n, sizeof n, "%s.%d.mlp.lin2.bias", pre, l); rc |= add(ck, n, R, 1, C);
    }
    rc |= attn(ck, "mask_decoder.transformer.final_attn_token_to_image", C, C / 2);
    rc |= add(ck, "mask_decoder.transformer.norm_final_attn.weight", 1, 1, C);
    rc |= add(ck, "mask_decoder.transformer.norm_final_attn.bias", 0, 1, C);
    rc |= add(ck, "mask_decoder.iou_token.weight", R, 2, I64(1), C);
    rc |= add(ck, "mask_decoder.mask_tokens.weight", R, 2, I64(4), C);
    rc |= add(ck, "mask_decoder.output_upscaling.0.weight", R, 4, C, C / 4, I64(2), I64(2));
    rc |= add(ck, "mask_decoder.output_upscaling.0.bias", R, 1, C / 4);
    rc |= add(ck, "mask_decoder.output_upscaling.1.weight", 1, 1, C / 4);
    rc |= add(ck, "mask_decoder.output_upscaling.1.bias", 0, 1, C / 4);
    rc |= add(ck, "mask_decoder.output_upscaling.3.weight", R, 4, C / 4, C / 8, I64(2), I64(2));
    rc |= add(ck, "mask_decoder.output_upscaling.3.bias", R, 1, C / 8);
    for (int h = 0; h < 5 && !rc; h++) {
        char p[128];
        if (h < 4) snprintf(p, sizeof p, "mask_decoder.output_hypernetworks_mlps.%d", h);
        else snprintf(p, sizeof p, "mask_decoder.iou_prediction_head");
        int64_t out = h < 4 ? C / 8 : 4;
        for (int l = 0; l < 3; l++) {
            snprintf(n, sizeof n, "%s.layers.%d.weight", p, l); rc |= add(ck, n, R, 2, l == 2 ? out : C, C);
            snprintf(n, sizeof n, "%s.layers.%d.bias", p, l); rc |= add(ck, n, R, 1, l == 2 ? out : C);
        }
    }
    return rc ? WS_ETORCH : 0;
}

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
    double t = g.err ? NAN : ws_now() - t0;
    ws_scope_free(&g);
    ws_at_guard_exit(inf);
    ws_at_free(x);
    return t;
}

int main(int argc, char **argv)
{
    int json = 0, vit_h = 0, points = 32;
    ws_runtime_tune_malloc();
    ws_at_set_num_threads(1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--vit-h")) vit_h = 1;
        else if (!strcmp(argv[i], "--points") && i + 1 < argc) points = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ws_at_set_num_threads(atoi(argv[++i]));
        else { fprintf(stderr, "usage: bench/sam [--json] [--vit-h] [--points N] [--threads N]\n"); return 2; }
    }
    ws_at_gen_new(0, &gen);
    const vit_arch B = {768, 12, 12, {2, 5, 8, 11}}, Hh = {1280, 32, 16, {7, 15, 23, 31}};
    ws_at_ckpt ck = NULL;
    ws_sam m;
    ws_at_ckpt_new("random ViT-B SAM", &ck);
    if (random_sam(&B, ck) || ws_sam_from_ckpt(&m, ck, 0)) { fprintf(stderr, "bench/sam: %s\n", ws_last_error()); return 1; }
    ws_at_ckpt_close(ck);
    printf("SAM ViT-B (random weights), %d intra-op threads\n", ws_at_get_num_threads());
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
    printf("  amg_post_s            %8.3f s  (filters, boxes, RLE, NMS, small regions, rock-sand-water)\n", post);
    double vith = NAN;
    if (vit_h) {
        ws_sam mh;
        ws_at_ckpt_new("random ViT-H SAM", &ck);
        if (random_sam(&Hh, ck) || ws_sam_from_ckpt(&mh, ck, 0)) { fprintf(stderr, "bench/sam: %s\n", ws_last_error()); return 1; }
        ws_at_ckpt_close(ck);
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
               "\"amg_decoder_s\": %.4f, \"masks_decoded\": %d, \"masks_out\": %d, ",
               enc, amg, post, tr.t_encoder, tr.t_decoder, tr.n_decoded, res.n);
        if (vit_h) printf("\"encoder_vith_1024_s\": %.4f, ", vith);
        printf("\"peak_rss_mb\": %.1f}\n", rss);
    }
    ws_amg_list_free(&res);
    ws_amg_trace_free(&tr);
    free(img);
    ws_sam_free(&m);
    ws_at_gen_free(gen);
    return 0;
}

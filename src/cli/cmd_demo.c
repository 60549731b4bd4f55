/* cmd_demo.c - `wsseed demo`: the README's first command until the seed pipeline lands.
 *
 * Encodes one image and the 20 VOC class prompts ("a photo of a {name}.") with CLIP and prints
 * the zero-shot similarity table. It looks for real weights in checkpoints/ first and falls
 * back to the tiny random-weight CLIP of ../shared/golden (numbers then carry no meaning, the
 * run still exercises loading, tokenizing and both encoders end to end).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/status.h"
#include "data/image.h"
#include "model/bpe.h"
#include "model/clip.h"

static const char *help =
    "Usage: wsseed demo [--model CLIP.pt] [--vocab BPE.txt.gz] [--image IMG]\n"
    "\n"
    "Zero-shot CLIP on one image against the 20 PASCAL VOC classes; prints cosine similarity\n"
    "and softmax probability per class. Defaults, first that exists:\n"
    "  --model  checkpoints/ViT-B-16.pt, ../shared/golden/clip_tiny.pt\n"
    "  --vocab  checkpoints/bpe_simple_vocab_16e6.txt.gz, ../shared/golden/bpe_simple_vocab_16e6.txt.gz\n"
    "  --image  data/demo.jpg, ../shared/golden/dog.jpg\n"
    "The image is squashed to the model's input size (torch bicubic); the PIL-exact resize of\n"
    "the training pipeline is not used here.\n";

static const char *voc_names[20] = {"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
                                    "chair", "cow", "dining table", "dog", "horse", "motorbike", "person",
                                    "potted plant", "sheep", "sofa", "train", "tv monitor"};

static const char *first_existing(const char *given, const char *a, const char *b)
{
    if (given) return given;
    if (access(a, R_OK) == 0) return a;
    return access(b, R_OK) == 0 ? b : a;
}

/* RGB image -> (1, 3, R, R) normalised with CLIP's mean and std. */
static ws_at_tensor preprocess(ws_scope *g, const ws_image *im, int res)
{
    static const double mean[3] = {0.48145466, 0.4578275, 0.40821073}, sd[3] = {0.26862954, 0.26130258, 0.27577711};
    const int64_t hwc[4] = {1, im->h, im->w, 3}, perm[4] = {0, 3, 1, 2}, c3[4] = {1, 3, 1, 1};
    float ms[3], ss[3];
    for (int i = 0; i < 3; i++) { ms[i] = (float)mean[i]; ss[i] = (float)sd[i]; }
    ws_at_tensor x = ws_g_from_data(g, im->rgb, WS_AT_U8, 4, hwc);
    x = ws_g_mul_scalar(g, ws_g_to_dtype(g, ws_g_permute(g, x, 4, perm), WS_AT_F32), 1.0 / 255.0);
    x = ws_g_interpolate(g, ws_g_contiguous(g, x), WS_AT_INTERP_BICUBIC, res, res, 0);
    x = ws_g_scalar_op(g, WS_AT_MINIMUM, ws_g_scalar_op(g, WS_AT_MAXIMUM, x, 0.0), 1.0);
    x = ws_g_sub(g, x, ws_g_from_data(g, ms, WS_AT_F32, 4, c3));
    return ws_g_div(g, x, ws_g_from_data(g, ss, WS_AT_F32, 4, c3));
}

int ws_cmd_demo(int argc, char **argv)
{
    const char *model = NULL, *vocab = NULL, *image = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(help, stdout); return 0; }
        const char **dst = !strcmp(argv[i], "--model") ? &model : !strcmp(argv[i], "--vocab") ? &vocab
                         : !strcmp(argv[i], "--image") ? &image : NULL;
        if (!dst || i + 1 >= argc) { fprintf(stderr, "wsseed demo: bad option '%s'\n%s", argv[i], help); return 2; }
        *dst = argv[++i];
    }
    model = first_existing(model, "checkpoints/ViT-B-16.pt", "../shared/golden/clip_tiny.pt");
    vocab = first_existing(vocab, "checkpoints/bpe_simple_vocab_16e6.txt.gz", "../shared/golden/bpe_simple_vocab_16e6.txt.gz");
    image = first_existing(image, "data/demo.jpg", "../shared/golden/dog.jpg");

    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_image im = {0};
    ws_scope g;
    ws_clip_image_out io = {0};
    ws_clip_text_out to = {0};
    int32_t ids[20 * WS_BPE_CONTEXT];
    float sim[20], prob[20];
    int status = 1;
    ws_scope_init(&g);
    double t0 = ws_now();
    if (ws_clip_load(&m, model) || ws_bpe_load(&bpe, vocab) || ws_image_read(image, &im)) {
        ws_cli_error();
        fprintf(stderr, "hint: put ViT-B-16.pt and bpe_simple_vocab_16e6.txt.gz from openai/CLIP in checkpoints/,\n"
                        "      or pass --model/--vocab/--image (see wsseed demo --help)\n");
        goto cleanup;
    }
    printf("model  %s: ViT width %d, %d layers, %d heads, patch %d, input %d; text width %d, %d layers; embed %d\n",
           model, m.vision_width, m.vision_layers, m.vision_heads, m.patch_size, m.image_resolution,
           m.text_width, m.text_layers, m.embed_dim);
    printf("image  %s (%dx%d)\n", image, im.w, im.h);
    for (int c = 0; c < 20; c++) {
        char prompt[96];
        snprintf(prompt, sizeof prompt, "a photo of a %s.", voc_names[c]);
        if (ws_bpe_tokenize(&bpe, prompt, 1, WS_BPE_CONTEXT, ids + c * WS_BPE_CONTEXT, NULL)) { ws_cli_error(); goto cleanup; }
    }
    const int64_t ids_s[2] = {20, WS_BPE_CONTEXT};
    ws_at_tensor tok = ws_g_to_dtype(&g, ws_g_from_data(&g, ids, WS_AT_I32, 2, ids_s), WS_AT_I64);
    if (ws_clip_encode_image(&m, &g, preprocess(&g, &im, m.image_resolution), NULL, &io) ||
        ws_clip_encode_text(&m, &g, tok, NULL, &to)) { ws_cli_error(); goto cleanup; }
    ws_at_tensor s = ws_g_matmul(&g, ws_clip_l2_normalize(&g, io.embedding),
                                 ws_g_transpose(&g, ws_clip_l2_normalize(&g, to.features), 0, 1));
    ws_at_tensor p = ws_g_softmax(&g, ws_g_mul(&g, s, ws_g_unary(&g, WS_AT_EXP, m.logit_scale)), -1);
    if (g.err || ws_at_read(s, sim, sizeof sim) || ws_at_read(p, prob, sizeof prob)) { ws_cli_error(); goto cleanup; }
    int order[20];
    for (int i = 0; i < 20; i++) order[i] = i;
    for (int i = 0; i < 20; i++)          /* selection sort by probability, descending */
        for (int j = i + 1; j < 20; j++)
            if (prob[order[j]] > prob[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    printf("\n  %-14s %8s %8s\n", "class", "cosine", "prob");
    for (int i = 0; i < 20; i++)
        printf("  %-14s %8.4f %8.4f\n", voc_names[order[i]], sim[order[i]], prob[order[i]]);
    printf("\ndone in %.2f s. Next: wsseed dump --help (verification against golden references)\n", ws_now() - t0);
    status = 0;
cleanup:
    ws_clip_image_out_free(&io);
    ws_clip_text_out_free(&to);
    ws_scope_free(&g);
    ws_image_free(&im);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return status;
}

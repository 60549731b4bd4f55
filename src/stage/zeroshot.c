/* zeroshot.c - `wsseed demo`: zero-shot CLIP on one image (stage/tokenize.h).
 *
 * Encodes one image and the 20 VOC class prompts ("a photo of a {name}.") with CLIP and prints
 * the zero-shot similarity table. With the tiny random-weight CLIP of ../shared/golden the
 * numbers carry no meaning; the run still exercises loading, tokenizing and both encoders.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage/tokenize.h"
#include "data/names.h"
#include "core/log.h"
#include "core/status.h"
#include "data/image.h"
#include "model/bpe.h"
#include "model/clip.h"

static ws_at_tensor preprocess(ws_scope *g, const ws_image *im, int res)
{
    /* CLIP's own preprocessing (openai/CLIP _transform): bicubic resize to the input size, then the ImageNet-
     * like mean/std it was trained with. Clamping to [0, 1] mirrors PIL, whose bicubic output is clipped to
     * bytes. */
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

int ws_stage_zeroshot(const char *model, const char *vocab, const char *image, FILE *out)
{
    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_image im = {0};
    ws_scope g;
    ws_clip_image_out io = {0};
    ws_clip_text_out to = {0};
    int32_t ids[20 * WS_BPE_CONTEXT];
    float sim[20], prob[20];
    int status = WS_EINVAL;
    ws_scope_init(&g);
    double t0 = ws_now();
    /* demo is the first command a newcomer runs: a missing file gets the hint where the weights come from,
     * not just the path. */
    if ((status = ws_clip_load(&m, model)) || (status = ws_bpe_load(&bpe, vocab)) || (status = ws_image_read(image, &im))) {
        ws_fail(status, "%s\nhint: put ViT-B-16.pt and bpe_simple_vocab_16e6.txt.gz from openai/CLIP in checkpoints/,\n"
                        "      or pass --model/--vocab/--image (see wsseed demo --help)", ws_last_error());
        goto cleanup;
    }
    fprintf(out, "model  %s: ViT width %d, %d layers, %d heads, patch %d, input %d; text width %d, %d layers; embed %d\n",
           model, m.vision_width, m.vision_layers, m.vision_heads, m.patch_size, m.image_resolution,
           m.text_width, m.text_layers, m.embed_dim);
    fprintf(out, "image  %s (%dx%d)\n", image, im.w, im.h);
    for (int c = 0; c < 20; c++) {
        char prompt[96];
        /* CLIP's README zero-shot template ("a photo of a {c}"), with a full stop; plain class names
         * (method/names.c), not FMA-WSSS's learned prompts. */
        snprintf(prompt, sizeof prompt, "a photo of a %s.", WS_VOC_PLAIN[c]);
        if (ws_bpe_tokenize(&bpe, prompt, 1, WS_BPE_CONTEXT, ids + c * WS_BPE_CONTEXT, NULL)) { status = WS_ETORCH; goto cleanup; }
    }
    const int64_t ids_s[2] = {20, WS_BPE_CONTEXT};
    ws_at_tensor tok = ws_g_to_dtype(&g, ws_g_from_data(&g, ids, WS_AT_I32, 2, ids_s), WS_AT_I64);
    if (ws_clip_encode_image(&m, &g, preprocess(&g, &im, m.image_resolution), NULL, &io) ||
        ws_clip_encode_text(&m, &g, tok, NULL, &to)) { status = WS_ETORCH; goto cleanup; }
    ws_at_tensor s = ws_g_matmul(&g, ws_clip_l2_normalize(&g, io.embedding),
                                 ws_g_transpose(&g, ws_clip_l2_normalize(&g, to.features), 0, 1));
    /* CLIP stores the log of its temperature: logits = exp(logit_scale) * cosine, as in CLIP.forward. */
    ws_at_tensor p = ws_g_softmax(&g, ws_g_mul(&g, s, ws_g_unary(&g, WS_AT_EXP, m.logit_scale)), -1);
    if (g.err || ws_at_read(s, sim, sizeof sim) || ws_at_read(p, prob, sizeof prob)) { status = WS_ETORCH; goto cleanup; }
    int order[20];
    for (int i = 0; i < 20; i++) order[i] = i;
    for (int i = 0; i < 20; i++)          /* selection sort by probability, descending */
        for (int j = i + 1; j < 20; j++)
            if (prob[order[j]] > prob[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    fprintf(out, "\n  %-14s %8s %8s\n", "class", "cosine", "prob");
    for (int i = 0; i < 20; i++)
        fprintf(out, "  %-14s %8.4f %8.4f\n", WS_VOC_PLAIN[order[i]], sim[order[i]], prob[order[i]]);
    fprintf(out, "\ndone in %.2f s. Next: wsseed dump --help (verification against golden references)\n", ws_now() - t0);
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

/* cmd_demo.c - `wsseed demo`: argv -> ws_stage_zeroshot (stage/zeroshot.c). Looks for real
 * weights in checkpoints/ first and falls back to the tiny random CLIP of ../shared/golden. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/tokenize.h"

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

/* An explicit option wins; otherwise the real file, then the golden fallback; when neither exists the real
 * path is returned so the error message names the file the user should provide. */
static const char *first_existing(const char *given, const char *a, const char *b)
{
    if (given) return given;
    if (access(a, R_OK) == 0) return a;
    return access(b, R_OK) == 0 ? b : a;
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
    return ws_stage_zeroshot(model, vocab, image, stdout) ? ws_cli_error() : 0;
}

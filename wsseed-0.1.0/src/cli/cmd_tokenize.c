/* cmd_tokenize.c - `wsseed tokenize`: CLIP BPE ids of each input line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "core/status.h"
#include "stage/tokenize.h"

static const char *help =
    "Usage: wsseed tokenize [--vocab PATH] [--truncate] [--context N] < lines\n"
    "\n"
    "Reads UTF-8 text from standard input and prints, for each line, the N (default 77) token\n"
    "ids of openai/CLIP's clip.tokenize: SOT, the BPE ids, EOT, zero padding.\n"
    "  --vocab PATH   bpe_simple_vocab_16e6.txt.gz (default $WSSEED_BPE, else\n"
    "                 checkpoints/bpe_simple_vocab_16e6.txt.gz)\n"
    "  --truncate     keep the first N ids of a too-long line and end it with EOT\n"
    "                 (without it a too-long line is an error, as in clip.tokenize)\n";

int ws_cmd_tokenize(int argc, char **argv)
{
    const char *vocab = ws_cli_default_vocab();
    /* 77: CLIP's context length (clip.tokenize's default); without --truncate an over-long line fails, as
     * clip.tokenize does. */
    int truncate = 0, context = 77;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(help, stdout); return 0; }
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = argv[++i];
        else if (!strcmp(argv[i], "--truncate")) truncate = 1;
        else if (!strcmp(argv[i], "--context") && i + 1 < argc) {
            long v;
            if (ws_cli_long("tokenize", argv[i], argv[i + 1], 2, 1 << 20, &v)) return 2;
            context = (int)v;
            i++;
        }
        else {
            fprintf(stderr, "wsseed tokenize: unknown option '%s'\n%s", argv[i], help);
            return 2;
        }
    }
    if (context < 2) { fprintf(stderr, "wsseed tokenize: --context must be >= 2\n"); return 2; }
    if (ws_stage_tokenize(vocab, truncate, context, stdin, stdout)) {
        fprintf(stderr, "wsseed tokenize: %s\n", ws_last_error());
        return 1;
    }
    return 0;
}

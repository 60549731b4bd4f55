/* cmd_tokenize.c - `wsseed tokenize`: CLIP BPE ids of each input line. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"
#include "model/bpe.h"

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
    int truncate = 0, context = 77;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(help, stdout); return 0; }
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = argv[++i];
        else if (!strcmp(argv[i], "--truncate")) truncate = 1;
        else if (!strcmp(argv[i], "--context") && i + 1 < argc) context = atoi(argv[++i]);
        else {
            fprintf(stderr, "wsseed tokenize: unknown option '%s'\n%s", argv[i], help);
            return 2;
        }
    }
    if (context < 2) { fprintf(stderr, "wsseed tokenize: --context must be >= 2\n"); return 2; }
    ws_bpe bpe;
    if (ws_bpe_load(&bpe, vocab)) return ws_cli_error();
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int status = 0;
    ssize_t len;
    while (ids && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (ws_bpe_tokenize(&bpe, line, truncate, context, ids, NULL)) {
            fprintf(stderr, "wsseed tokenize: line %ld: %s\n", lineno, ws_last_error());
            status = 1;
            break;
        }
        for (int k = 0; k < context; k++) printf(k ? " %d" : "%d", ids[k]);
        putchar('\n');
    }
    free(line);
    free(ids);
    ws_bpe_free(&bpe);
    return status;
}

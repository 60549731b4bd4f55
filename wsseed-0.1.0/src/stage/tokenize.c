/* tokenize.c - the tokenize tool stage (see tokenize.h): one line of text in, one line of CLIP
 * token ids out (SOT ... EOT, zero-padded to the context length), the same ids as
 * clip.tokenize(), so the BPE can be compared with the Python tokenizer line by line.
 */
#define _POSIX_C_SOURCE 200809L
#include "stage/tokenize.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "core/status.h"
#include "model/bpe.h"

int ws_stage_tokenize(const char *vocab, int truncate, int context, FILE *in, FILE *out)
{
    ws_bpe bpe;
    /* Checked before loading the vocabulary so a bad option fails at once, with the reason. */
    if (context < 2) return ws_fail(WS_EINVAL, "context length %d: at least 2 (SOT and EOT)", context);
    int rc = ws_bpe_load(&bpe, vocab);
    if (rc) return rc;
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    if (!ids) rc = ws_fail(WS_ENOMEM, "out of memory");
    while (!rc && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        /* CR too: a file written on Windows would otherwise tokenize the CR as part of the text. */
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if ((rc = ws_bpe_tokenize(&bpe, line, truncate, context, ids, NULL))) {
            /* Stop at the first bad line, naming it: with truncate off an over-long line is an error, not a
             * silently shortened prompt. */
            rc = ws_fail(rc, "line %ld: %s", lineno, ws_last_error());
            break;
        }
        for (int k = 0; k < context; k++) fprintf(out, k ? " %d" : "%d", ids[k]);
        fputc('\n', out);
    }
    free(line);
    free(ids);
    ws_bpe_free(&bpe);
    return rc;
}

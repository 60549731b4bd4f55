/* bpe.h - the CLIP byte-level BPE tokenizer (openai/CLIP simple_tokenizer + clip.tokenize).
 *
 * Reads the official merges file bpe_simple_vocab_16e6.txt.gz. Text goes through the official
 * cleaning (html.unescape twice, white-space runs to one space, strip, Python-exact Unicode
 * lower-casing), the pre-tokenizer regex (special literals, contractions, letter runs, single
 * digits, punctuation runs), byte-to-unicode mapping and BPE merges. ftfy.fix_text is not
 * applied: it only changes mojibake and similar damaged text (see README).
 */
#ifndef WS_MODEL_BPE_H
#define WS_MODEL_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/strmap.h"

#define WS_BPE_SOT 49406
#define WS_BPE_EOT 49407
#define WS_BPE_CONTEXT 77

typedef struct ws_bpe {
    ws_strmap encoder;      /* vocabulary string (UTF-8) -> id */
    ws_strmap ranks;        /* "first second" -> merge rank */
    char **decoder;         /* [vocab_size] id -> vocabulary string */
    int vocab_size;         /* 49408 */
    uint32_t byte_enc[256]; /* byte -> printable code point (bytes_to_unicode) */
    int bytes_only;         /* "builtin:bytes": ids are the UTF-8 bytes of the cleaned text */
} ws_bpe;

/* Loads the merges file (gzip). Fails naming the file when it is missing or not a CLIP BPE file.
 * The path "builtin:bytes" gives a stand-in for random-weight models (the demo): each byte of the
 * cleaned text is one id (0..255), SOT/EOT as CLIP's; it is not CLIP's tokenizer. */
int ws_bpe_load(ws_bpe *b, const char *path);
/* Checks path without reading it: *builtin = 1 for a "builtin:" name (no file), which must be
 * builtin:bytes (else it fails naming it). */
int ws_bpe_spec_check(const char *path, int *builtin);
void ws_bpe_free(ws_bpe *b);                       /* zeroed tokenizer is a no-op */

/* The text the pre-tokenizer sees (cleaned + lower-cased), malloc'd UTF-8 in *out. */
int ws_bpe_clean(const char *text, char **out);
/* Token ids of text without SOT/EOT; *ids is malloc'd (caller frees), *n its length. */
int ws_bpe_encode(const ws_bpe *b, const char *text, int32_t **ids, size_t *n);
/* clip.tokenize for one string: out[context] = [SOT, ids..., EOT, 0...]. When the ids do not fit,
 * truncate != 0 keeps the first `context` and sets the last to EOT; otherwise fails with
 * WS_EINVAL ("too long"). *n_untruncated (may be NULL) gets len(SOT + ids + EOT). */
int ws_bpe_tokenize(const ws_bpe *b, const char *text, int truncate, int context, int32_t *out,
                    int *n_untruncated);
/* Borrowed vocabulary string of an id (NULL when out of range). */
const char *ws_bpe_piece(const ws_bpe *b, int id);

#endif

/* wordpiece.h - BERT's uncased tokenizer (transformers BertTokenizer, do_lower_case) and
 * Grounding-DINO's caption handling.
 *
 * Reads a BERT vocab.txt (line i = token id i). Basic tokenisation: drop control characters and
 * U+0000/U+FFFD, white space to spaces, spaces around CJK ideographs, split on spaces; per word
 * Python lower(), NFD, drop combining marks (Mn), split off punctuation. WordPiece: greedy
 * longest match from the left with "##" continuations; a word longer than 100 characters or with
 * no match becomes [UNK]. The tokenizer owns its vocabulary.
 */
#ifndef WS_MODEL_WORDPIECE_H
#define WS_MODEL_WORDPIECE_H
#include <stddef.h>
#include <stdint.h>
#include "core/strmap.h"

typedef struct ws_wordpiece {
    ws_strmap vocab;      /* piece -> id */
    char **tokens;        /* [n] id -> piece */
    int n;
    int unk, cls, sep, pad;
} ws_wordpiece;

/* Loads vocab.txt; fails naming the file when it is missing or lacks [UNK]/[CLS]/[SEP]/[PAD]. */
int ws_wordpiece_load(ws_wordpiece *w, const char *path);
void ws_wordpiece_free(ws_wordpiece *w);   /* zeroed tokenizer is a no-op */
/* tokenizer(text)['input_ids']: [CLS] ids [SEP] (no truncation); *ids malloc'd. */
int ws_wordpiece_encode(const ws_wordpiece *w, const char *text, int32_t **ids, size_t *n);
/* tokenize(text) pieces joined by single spaces (malloc'd). */
char *ws_wordpiece_pieces(const ws_wordpiece *w, const char *text);
/* decode(ids): pieces joined, "##" continuations glued, clean_up_tokenization_spaces (malloc'd). */
char *ws_wordpiece_decode(const ws_wordpiece *w, const int32_t *ids, size_t n);

/* Grounding-DINO preprocess_caption: lower(), strip(), "." appended unless it ends with one
 * (malloc'd). */
char *ws_gdino_caption(const char *text);
/* generate_masks_with_special_tokens_and_transfer_map for ids[L]: the L x L block-diagonal
 * self-attention mask (row-major, 0/1) and position ids; the delimiters are [CLS], [SEP], "." and
 * "?" (ids 101, 102, 1012, 1029 in BERT's vocabulary, looked up in w). */
void ws_gdino_text_masks(const ws_wordpiece *w, const int32_t *ids, int L, uint8_t *mask, int64_t *pos);
#endif

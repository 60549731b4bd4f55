/* tokenize.h - the tokenize tool stage: openai/CLIP's clip.tokenize over lines of text, and the
 * zero-shot CLIP table of one image (`wsseed demo`). Small checks a user runs by hand. */
#ifndef WS_STAGE_TOKENIZE_H
#define WS_STAGE_TOKENIZE_H
#include <stdio.h>

/* For each line of in (UTF-8; LF or CRLF), writes the `context` token ids (SOT, BPE ids, EOT, zero
 * padding) as one line of out. truncate: keep the first ids of a too-long line and end it with EOT
 * (else a too-long line is an error naming the line, as in clip.tokenize). */
int ws_stage_tokenize(const char *vocab, int truncate, int context, FILE *in, FILE *out);

/* Zero-shot CLIP (`wsseed demo`): encodes image with model and the 20 VOC class prompts
 * "a photo of a {name}" and writes the cosine similarity and softmax probability per class to out. */
int ws_stage_zeroshot(const char *model, const char *vocab, const char *image, FILE *out);
#endif

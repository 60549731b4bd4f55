/* prompt.h - CoOp prompt learners of FMA-WSSS (CoOpLearner): the only trainable tensors.
 *
 * G class names (fg then bg; '' is a pure learnable prompt) are tokenised as
 * "X X ... X <name>." with M placeholder X's; their frozen token embeddings are kept and the
 * M placeholder rows are replaced at every forward by the learnable context: shared (M, W)
 * with the name at the end (cls task) or class-specific (G, M, W) with the name in front (seg
 * task). The learner owns its tensors; ws_prompt_free releases them.
 */
#ifndef WS_METHOD_PROMPT_H
#define WS_METHOD_PROMPT_H
#include <stdint.h>
#include "model/bpe.h"
#include "model/clip.h"

typedef struct ws_prompt {
    int n_cls;              /* G prompts */
    int n_ctx;              /* M learnable tokens */
    int width;              /* W text width */
    int csc;                /* 1: class-specific ctx (G, M, W); 0: shared (M, W) */
    int front;              /* 1: [SOS, name, ctx, ".", EOT]; 0: [SOS, ctx, name, ".", EOT] */
    int64_t *name_lens;     /* [G] BPE length of each name (0 for '') */
    int32_t *token_ids;     /* [G * context_length] clip.tokenize of the prompt strings */
    ws_at_tensor eot;       /* (G) i64 argmax of each id row */
    ws_at_tensor tok_emb;   /* (G, L, W) f32 frozen token embeddings of the prompt strings */
    ws_at_tensor gather;    /* front layout: (G*L) i64 rows of cat(tok_emb, ctx) per output row */
    ws_at_tensor ctx;       /* (M, W) or (G, M, W) f32, requires grad: the learned context */
    int context_length;     /* L (77) */
    int max_len;            /* 1 + the largest EOT position: the text encoder's causal horizon */
} ws_prompt;

/* Builds the learner for names[G] over CLIP m (token embeddings) and tokenizer bpe; ctx is
 * zero until ws_prompt_init_ctx or ws_prompt_set_ctx. Fails when a prompt does not fit L. */
int ws_prompt_build(ws_prompt *p, const ws_clip *m, const ws_bpe *bpe, const char *const *names, int G,
                    int n_ctx, int csc, int front);
/* Frees the learner's tensors and names; a zeroed learner is a no-op. */
void ws_prompt_free(ws_prompt *p);
/* CoOpLearner.initialize(seed): a private torch CPU generator seeded with hash_str(seed)
 * (sha1 mod 2^32) draws ctx ~ N(0, std^2) in place; the global torch RNG is untouched. */
int ws_prompt_init_ctx(ws_prompt *p, const char *seed, double std);
/* Copies data (ctx shape, f32) into ctx; fails naming the shape on mismatch. */
int ws_prompt_set_ctx(ws_prompt *p, const float *data, int ndim, const int64_t *shape);
/* The prompt embeddings (G, L, W) with the context substituted (differentiable in ctx). */
ws_at_tensor ws_prompt_embed(const ws_prompt *p, ws_scope *g);
/* The prompt string of name with M placeholders: "X X ... X name." (malloc'd). */
char *ws_prompt_string(const char *name, int n_ctx);
#endif

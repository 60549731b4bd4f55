/* bert.h - the BERT text encoder as Grounding-DINO uses it (transformers BertModel, post-norm,
 * erf GELU), over the ATen shim.
 *
 * Grounding-DINO feeds it a block-diagonal self-attention mask (one block per phrase) and
 * per-phrase position ids instead of BERT's usual padding mask; both are inputs here. The sizes
 * are bert-base-uncased's unless a config.json says otherwise (a state dict cannot say the head
 * count). A ws_bert owns its tensors; ws_bert_free releases them.
 */
#ifndef WS_MODEL_BERT_H
#define WS_MODEL_BERT_H
#include "shim/at.h"
#include "shim/scope.h"

typedef struct ws_bert_layer {
    ws_at_tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln1_w, ln1_b;   /* attention (H, H), (H) */
    ws_at_tensor i_w, i_b, out_w, out_b, ln2_w, ln2_b;                   /* FFN (I, H), (H, I) */
} ws_bert_layer;

typedef struct ws_bert {
    int hidden, n_layers, heads, intermediate;   /* H, depth, heads, I */
    double eps;                                  /* layer_norm_eps (1e-12) */
    ws_at_tensor word, pos, type;                /* (V, H), (512, H), (2, H) */
    ws_at_tensor emb_ln_w, emb_ln_b;             /* (H) */
    ws_bert_layer *layers;                       /* [n_layers], malloc'd */
} ws_bert;

/* Sets b's sizes: bert-base-uncased's (768, 12 layers, 12 heads, 3072, eps 1e-12), overridden by
 * the flat numbers of config.json `path` when path is not NULL. Touches no tensor. Fails (WS_EIO,
 * WS_EFORMAT, naming the file) when the file cannot be read or hidden_size is not a multiple of
 * num_attention_heads. */
int ws_bert_config(ws_bert *b, const char *path);

/* Reads the tensors under `prefix` ("module.bert" in a Grounding-DINO release) of ck into b, whose
 * sizes ws_bert_config set. The checkpoint stays open (the caller closes it); `kind` and `path`
 * complete error messages. On failure b may hold some tensors: ws_bert_free releases them. */
int ws_bert_load(ws_bert *b, ws_at_ckpt ck, const char *prefix, const char *kind, const char *path);

/* Frees b's tensors and layer array and zeroes b; NULL or a zeroed b is a no-op. */
void ws_bert_free(ws_bert *b);

/* Adds random tensors with BertModel's key names under `prefix` to ck, sized as b says (vocabulary
 * `vocab` words), drawing from gen in a fixed order (benchmarks, tests). Returns 0 or a WS_E* code
 * with the message set. */
int ws_bert_random(const ws_bert *b, ws_at_gen gen, ws_at_ckpt ck, const char *prefix, int64_t vocab);

/* BertModel's forward on ids (1, L) with position ids pos (1, L) i64 and the (L, L) 0/1
 * self-attention mask; token types are all 0. Every tensor it returns belongs to scope g:
 * ext_mask (1, 1, L, L) additive, embeddings (1, L, H), layers[i] (1, L, H) for each of the
 * n_layers layers (caller's array), last (1, L, H) = layers[n_layers - 1]. Returns g's error
 * (WS_ESHAPE when ids is not (1, L)). */
int ws_bert_forward(const ws_bert *b, ws_scope *g, ws_at_tensor ids, ws_at_tensor pos, ws_at_tensor mask,
                    ws_at_tensor *ext_mask, ws_at_tensor *embeddings, ws_at_tensor *layers, ws_at_tensor *last);
#endif

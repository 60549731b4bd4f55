/* gdino.h - Grounding-DINO (Swin-T/B OGC release layout) over the ATen shim. So far: the BERT text
 * encoder with Grounding-DINO's block-diagonal attention mask and per-phrase position ids, and the
 * feat_map projection. Reads the released checkpoint as it is ({'model': state dict}, "module."
 * prefixes); BERT's head count comes from a config.json (the file cannot say it).
 */
#ifndef WS_MODEL_GDINO_H
#define WS_MODEL_GDINO_H
#include "shim/at.h"
#include "shim/scope.h"

typedef struct ws_bert_layer {
    ws_at_tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln1_w, ln1_b;   /* attention (H, H) */
    ws_at_tensor i_w, i_b, out_w, out_b, ln2_w, ln2_b;                   /* FFN (I, H), (H, I) */
} ws_bert_layer;

typedef struct ws_gdino {
    int bert_hidden, bert_layers, bert_heads, bert_intermediate;
    double bert_eps;                      /* layer_norm_eps (1e-12) */
    ws_at_tensor word, pos, type;         /* (V, H), (512, H), (2, H) */
    ws_at_tensor emb_ln_w, emb_ln_b;
    ws_bert_layer *layers;
    ws_at_tensor feat_map_w, feat_map_b;  /* (256, H) */
} ws_gdino;

/* Reads the checkpoint's BERT + feat_map; bert_config NULL = bert-base-uncased's sizes (12 heads). */
int ws_gdino_load(ws_gdino *m, const char *path, const char *bert_config);
void ws_gdino_free(ws_gdino *m);

typedef struct ws_gdino_text_out {
    ws_at_tensor ext_mask;     /* (1, 1, L, L) additive: (1 - mask) * finfo(float32).min */
    ws_at_tensor embeddings;   /* (1, L, H) */
    ws_at_tensor *layers;      /* [bert_layers] (1, L, H); malloc'd array (free with ws_gdino_text_out_free) */
    ws_at_tensor encoded;      /* (1, L, 256) feat_map(last_hidden_state) */
} ws_gdino_text_out;
/* BERT on ids (1, L) with position ids (1, L) and the (L, L) 0/1 self-attention mask. */
int ws_gdino_text(const ws_gdino *m, ws_scope *g, ws_at_tensor ids, ws_at_tensor pos, ws_at_tensor mask,
                  ws_gdino_text_out *out);
void ws_gdino_text_out_free(ws_gdino_text_out *o);
#endif

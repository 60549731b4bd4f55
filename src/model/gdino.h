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

typedef struct ws_swin_block {
    ws_at_tensor n1_w, n1_b, qkv_w, qkv_b, proj_w, proj_b, n2_w, n2_b, fc1_w, fc1_b, fc2_w, fc2_b;
    ws_at_tensor bias;        /* (heads, N, N) relative position bias = table[index], N = ws^2 */
    int heads;
} ws_swin_block;

typedef struct ws_swin_stage {
    int depth, dim;
    ws_swin_block *blocks;
    ws_at_tensor down_n_w, down_n_b, down_w;   /* PatchMerging (absent in the last stage) */
    ws_at_tensor out_n_w, out_n_b;             /* norm<i> of the returned stages, or NULL */
} ws_swin_stage;

typedef struct ws_msda {   /* MSDeformAttn: 8 heads, 4 levels, 4 points */
    ws_at_tensor off_w, off_b, aw_w, aw_b, val_w, val_b, out_w, out_b;
} ws_msda;

typedef struct ws_gdino_enc_layer {
    /* fusion (BiAttentionBlock) */
    ws_at_tensor gamma_v, gamma_l, lnv_w, lnv_b, lnl_w, lnl_b, v_w, v_b, l_w, l_b, vv_w, vv_b, vl_w, vl_b, ov_w, ov_b, ol_w, ol_b;
    /* text enhancer (post-norm TransformerEncoderLayer) */
    ws_at_tensor t_in_w, t_in_b, t_out_w, t_out_b, t_l1_w, t_l1_b, t_l2_w, t_l2_b, t_n1_w, t_n1_b, t_n2_w, t_n2_b;
    /* deformable self-attention layer */
    ws_msda da;
    ws_at_tensor d_n1_w, d_n1_b, d_l1_w, d_l1_b, d_l2_w, d_l2_b, d_n2_w, d_n2_b;
} ws_gdino_enc_layer;

typedef struct ws_mlp3 { ws_at_tensor w[3], b[3]; int n; } ws_mlp3;   /* Linear+ReLU ... Linear */

typedef struct ws_gdino_dec_layer {
    ws_msda ca;                                            /* image cross-attention */
    ws_at_tensor n1_w, n1_b, n2_w, n2_b, n3_w, n3_b, ct_n_w, ct_n_b;
    ws_at_tensor ct_in_w, ct_in_b, ct_out_w, ct_out_b;     /* ca_text */
    ws_at_tensor sa_in_w, sa_in_b, sa_out_w, sa_out_b;     /* self_attn */
    ws_at_tensor l1_w, l1_b, l2_w, l2_b;
} ws_gdino_dec_layer;

typedef struct ws_gdino {
    int dec_layers, n_queries;
    ws_gdino_dec_layer *dec;
    ws_at_tensor dec_norm_w, dec_norm_b, tgt_embed, enc_out_w, enc_out_b, enc_norm_w, enc_norm_b;
    ws_mlp3 ref_head, bbox, enc_bbox;
    int enc_layers;
    ws_gdino_enc_layer *enc;
    /* Swin backbone */
    int swin_dim, window;
    ws_at_tensor pe_w, pe_b, pe_n_w, pe_n_b;   /* patch embedding (dim, 3, 4, 4), LayerNorm */
    ws_swin_stage stages[4];
    /* input projections to d_model = 256: conv1x1 + GroupNorm(32) per level, level 3 conv3x3/2 */
    ws_at_tensor ip_w[4], ip_b[4], gn_w[4], gn_b[4];
    ws_at_tensor level_embed;                  /* (4, 256) */
    int bert_hidden, bert_layers, bert_heads, bert_intermediate;
    double bert_eps;                      /* layer_norm_eps (1e-12) */
    ws_at_tensor word, pos, type;         /* (V, H), (512, H), (2, H) */
    ws_at_tensor emb_ln_w, emb_ln_b;
    ws_bert_layer *layers;
    ws_at_tensor feat_map_w, feat_map_b;  /* (256, H) */
} ws_gdino;

typedef struct ws_gdino_image_out {
    ws_at_tensor patch_embed;   /* (1, C, H/4, W/4) */
    ws_at_tensor stage[4];      /* (1, C_s, H_s, W_s) before merging and the output norm */
    ws_at_tensor out[3];        /* norm1..3 of stages 1..3 (strides 8, 16, 32) */
    ws_at_tensor srcs[4];       /* (1, 256, h_l, w_l) input_proj */
} ws_gdino_image_out;
/* The backbone and input projections on a normalised image (1, 3, H, W). */
int ws_gdino_image(const ws_gdino *m, ws_scope *g, ws_at_tensor img, ws_gdino_image_out *out);
/* The flattened multi-scale layout of srcs (batch 1, no padding): per level the sine position
 * embedding (1, 256, h, w) and the all-zero masks; spatial shapes, level starts, valid ratios
 * (all 1); the encoder's pos (pos + level_embed) (1, N, 256), reference points (1, N, 4, 2), and
 * the two-stage proposals (1, N, 4) (log-odds, +inf when invalid) with their validity (1, N) u8. */
typedef struct ws_gdino_levels {
    int n_tokens;
    int64_t shapes[4][2], start[4];
    ws_at_tensor pos[4], masks[4], valid_ratios, lvl_pos, ref_points, proposals, proposal_valid;
} ws_gdino_levels;
int ws_gdino_levels_of(const ws_gdino *m, ws_scope *g, const ws_gdino_image_out *img, ws_gdino_levels *out);
typedef struct ws_gdino_enc_trace {   /* per encoder layer (the golden's intermediates) */
    ws_at_tensor fusion_v[8], fusion_l[8], text[8], deform_attn[8], deform[8];
} ws_gdino_enc_trace;
/* The encoder: memory (1, N, 256) from srcs, memory_text (1, L, 256) from the encoded text, with the
 * text position embedding pos_text (1, L, 256) and the (L, L) 0/1 text self-attention mask. */
int ws_gdino_encode(const ws_gdino *m, ws_scope *g, const ws_gdino_image_out *img, const ws_gdino_levels *lv,
                    ws_at_tensor text, ws_at_tensor pos_text, ws_at_tensor text_mask, ws_at_tensor *memory,
                    ws_at_tensor *memory_text, ws_gdino_enc_trace *tr);

typedef struct ws_gdino_dec_trace {
    ws_at_tensor output_memory, enc_class, topk_logits, topk_scores, topk_indices, enc_delta, enc_coord, refpoint, init_box;
    ws_at_tensor ref[9];        /* sigmoid reference boxes before each layer and after the last */
    ws_at_tensor ref_in[8], sine[8], qpos[8], sa[8], after_sa[8], ct[8], after_ct[8], ia[8], after_ia[8], out[8], delta[8];
    ws_at_tensor hs[8], coord[8], cls[8];
} ws_gdino_dec_trace;
/* Two-stage query selection, the decoder and the heads: pred_logits (1, Q, 256) (-inf from column L)
 * and pred_boxes (1, Q, 4) (cx, cy, w, h normalised). tr (may be NULL) gets the intermediates. */
int ws_gdino_decode(const ws_gdino *m, ws_scope *g, const ws_gdino_levels *lv, ws_at_tensor memory,
                    ws_at_tensor memory_text, ws_at_tensor *pred_logits, ws_at_tensor *pred_boxes, ws_gdino_dec_trace *tr);

/* predict(): queries whose max sigmoid score exceeds box_th (strict, query order) -> keep[], their
 * max scores and boxes; and their phrases: tokens of ids[L] whose score exceeds text_th ([CLS]
 * and columns >= 255 excluded; with remove_combined only those between the delimiters around the
 * best token), decoded, "." removed (malloc'd strings). Returns the count, or < 0 on error. */
struct ws_wordpiece;
int ws_gdino_predict(const struct ws_wordpiece *w, const float *logits, const float *boxes, int Q, int T, const int32_t *ids,
                     int L, double box_th, double text_th, int remove_combined, int64_t *keep, float *score,
                     float *kept_boxes, char **phrases);

/* gen_encoder_output_proposals for `levels` (h, w) levels: (cx, cy, w, h) = ((x+.5)/W, (y+.5)/H, 0.05*2^l)
 * as log-odds, +inf where a coordinate leaves (0.01, 0.99) or the token is padding (padding may be
 * NULL); valid[i] 0/1. prop holds 4 floats per token. */
void ws_gdino_proposals(const int64_t (*shapes)[2], int levels, const uint8_t *padding, float *prop, uint8_t *valid);

/* get_sine_pos_embed of the text position ids (1, L) i64: (1, L, 256). */
ws_at_tensor ws_gdino_text_pos(ws_scope *g, const int64_t *pos, int L);

/* Grounding-DINO's load_image resize (RandomResize([size], max_size)): the output (h, w). */
void ws_gdino_resize_shape(int h, int w, int size, int max_size, int *oh, int *ow);

/* Sizes of a random model (benchmarks): Swin embed dim, depths, heads, window; encoder and decoder layers;
 * dim_feedforward (text-enhancer FFN and fusion dim = half of it); queries; dn label book; BERT
 * vocabulary. BERT itself is bert-base-uncased's. */
typedef struct ws_gdino_arch {
    int swin_dim, depths[4], heads[4], window, enc_layers, dec_layers, ffn, queries, label_book, vocab;
} ws_gdino_arch;
extern const ws_gdino_arch WS_GDINO_SWINT_OGC;       /* the released groundingdino_swint_ogc sizes */
extern const ws_gdino_arch WS_GDINO_SWINB_COGCOOR;   /* groundingdino_swinb_cogcoor (swin_B_384_22k) */
int ws_gdino_init_random(ws_gdino *m, const ws_gdino_arch *a, uint64_t seed);

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

/* ---- detection: one image, several captions (the image side is computed once) ---- */
typedef struct ws_gdino_scene {
    ws_scope g;                 /* owns the image-side tensors */
    ws_gdino_image_out img;
    ws_gdino_levels lv;
    int h, w;                   /* original image size (boxes are scaled to it) */
} ws_gdino_scene;
/* load_image's transform of an RGB image (h, w, 3): RandomResize([size], max_size) (PIL bilinear;
 * the release uses 800 / 1333) to (*oh, *ow) and ImageNet mean/std -> *x (3, oh, ow) malloc'd;
 * resized (may be NULL) receives the malloc'd uint8 (oh, ow, 3) picture. */
int ws_gdino_transform(const uint8_t *rgb, int h, int w, int size, int max_size, int *oh, int *ow, float **x,
                       uint8_t **resized);
/* The transform, Swin and the multi-scale layout of an RGB image (h, w, 3). */
int ws_gdino_scene_begin(const ws_gdino *m, const uint8_t *rgb, int h, int w, int size, int max_size, ws_gdino_scene *s);
void ws_gdino_scene_free(ws_gdino_scene *s);

typedef struct ws_gdino_dets {
    int n;
    float *cxcywh;     /* (n, 4) normalised model output */
    float *score;      /* (n) max token sigmoid */
    int64_t *query;    /* (n) query index */
    char **phrase;     /* (n) predict() phrases (remove_combined off) */
} ws_gdino_dets;
/* Grounded-SAM's get_grounding_output on one caption (ws_gdino_caption normalisation; more than 256
 * tokens is an error): queries whose max token score exceeds box_th, phrases at text_th. An empty
 * caption is an error. */
int ws_gdino_detect(const ws_gdino *m, const struct ws_wordpiece *w, ws_gdino_scene *s, const char *caption, double box_th,
                    double text_th, ws_gdino_dets *out);
void ws_gdino_dets_free(ws_gdino_dets *d);
#endif

/* gdino.h - Grounding-DINO (Swin-T / Swin-B, OGC release layout) over the ATen shim: the text side
 * (BERT, bert.h, + feat_map), the image side (Swin, swin.h, + input projections), the multi-scale
 * layout, the deformable encoder with text-image fusion, two-stage query selection, the decoder and
 * its heads, predict()'s post-processing, and a detection API (one image, many captions). Reads the
 * released checkpoint as it is ({'model': state dict}, "module." prefixes); BERT's head count comes
 * from a config.json (the file cannot say it). A ws_gdino owns its tensors (ws_gdino_free).
 */
#ifndef WS_MODEL_GDINO_H
#define WS_MODEL_GDINO_H
#include "model/bert.h"
#include "model/swin.h"
#include "shim/at.h"
#include "shim/scope.h"

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
    ws_bert bert;                              /* text encoder */
    ws_at_tensor feat_map_w, feat_map_b;       /* (256, H): BERT -> d_model */
    ws_swin swin;                              /* image backbone */
    /* input projections to d_model = 256: conv1x1 + GroupNorm(32) per level, level 3 conv3x3/2 */
    ws_at_tensor ip_w[4], ip_b[4], gn_w[4], gn_b[4];
    ws_at_tensor level_embed;                  /* (4, 256) */
    int enc_layers;
    ws_gdino_enc_layer *enc;                   /* [enc_layers], malloc'd */
    int dec_layers, n_queries;
    ws_gdino_dec_layer *dec;                   /* [dec_layers], malloc'd */
    ws_at_tensor dec_norm_w, dec_norm_b;       /* (256) */
    ws_at_tensor tgt_embed;                    /* (Q, 256) */
    ws_at_tensor enc_out_w, enc_out_b, enc_norm_w, enc_norm_b;   /* two-stage enc_output + norm */
    ws_mlp3 ref_head, bbox, enc_bbox;          /* ref_point_head, bbox_embed (shared), enc_out_bbox_embed */
} ws_gdino;

/* ---- loading ---- */

/* Reads a Grounding-DINO checkpoint `path` into *m (zeroed first): BERT (sizes from the config.json
 * bert_config, NULL = bert-base-uncased's), feat_map, Swin, input projections, encoder, decoder and
 * heads. On failure (WS_EIO, WS_EFORMAT, WS_ESHAPE, WS_ETORCH naming the file and tensor) *m holds
 * nothing. The caller releases a loaded model with ws_gdino_free. */
int ws_gdino_load(ws_gdino *m, const char *path, const char *bert_config);
/* Frees every tensor and array of m and zeroes it; NULL or a zeroed model is a no-op. */
void ws_gdino_free(ws_gdino *m);

/* Sizes of a random model (benchmarks, tests): Swin embed dim, depths, heads, window; encoder and
 * decoder layers; dim_feedforward (text-enhancer FFN and fusion dim = half of it); queries; dn label
 * book; BERT vocabulary. BERT itself is bert-base-uncased's. */
typedef struct ws_gdino_arch {
    int swin_dim, depths[4], heads[4], window, enc_layers, dec_layers, ffn, queries, label_book, vocab;
} ws_gdino_arch;
extern const ws_gdino_arch WS_GDINO_SWINT_OGC;       /* the released groundingdino_swint_ogc sizes */
extern const ws_gdino_arch WS_GDINO_SWINB_COGCOOR;   /* groundingdino_swinb_cogcoor (swin_B_384_22k) */
/* A model of arch a with N(0, 0.02^2) weights (norms 1 / 0, fusion gammas 1e-4) drawn from a
 * generator seeded with `seed`, built through the same loader as a release (so the same checks
 * apply). Same seed, same weights. *m as after ws_gdino_load; on failure it holds nothing. */
int ws_gdino_init_random(ws_gdino *m, const ws_gdino_arch *a, uint64_t seed);

/* ---- the forward pieces (the golden dump calls them one by one) ---- */

typedef struct ws_gdino_text_out {
    ws_at_tensor ext_mask;     /* (1, 1, L, L) additive: (1 - mask) * finfo(float32).min */
    ws_at_tensor embeddings;   /* (1, L, H) */
    ws_at_tensor *layers;      /* [bert.n_layers] (1, L, H); malloc'd array (free with ws_gdino_text_out_free) */
    ws_at_tensor encoded;      /* (1, L, 256) feat_map(last_hidden_state) */
} ws_gdino_text_out;
/* BERT on ids (1, L) with position ids (1, L) and the (L, L) 0/1 self-attention mask, then feat_map.
 * The tensors in *out belong to scope g; the layers array is malloc'd: release it with
 * ws_gdino_text_out_free even when this fails. Returns g's error, WS_ESHAPE or WS_ENOMEM. */
int ws_gdino_text(const ws_gdino *m, ws_scope *g, ws_at_tensor ids, ws_at_tensor pos, ws_at_tensor mask,
                  ws_gdino_text_out *out);
/* Frees the layers array of o (not the tensors: scope-owned); NULL is a no-op. */
void ws_gdino_text_out_free(ws_gdino_text_out *o);

/* get_sine_pos_embed of the text position ids pos[L]: (1, L, 256), owned by g (NULL and g poisoned
 * when out of memory). */
ws_at_tensor ws_gdino_text_pos(ws_scope *g, const int64_t *pos, int L);

typedef struct ws_gdino_image_out {
    ws_at_tensor patch_embed;   /* (1, C, H/4, W/4) */
    ws_at_tensor stage[4];      /* (1, C_s, H_s, W_s) before merging and the output norm */
    ws_at_tensor out[3];        /* norm1..3 of stages 1..3 (strides 8, 16, 32) */
    ws_at_tensor srcs[4];       /* (1, 256, h_l, w_l) input_proj */
} ws_gdino_image_out;
/* Swin and the input projections on a normalised image img (1, 3, H, W); the tensors in *out belong
 * to scope g. Returns g's error, or WS_ESHAPE when img is not (1, 3, H, W). */
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
/* Fills *out for img->srcs; its tensors belong to scope g. Returns g's error, WS_ESHAPE or
 * WS_ENOMEM. */
int ws_gdino_levels_of(const ws_gdino *m, ws_scope *g, const ws_gdino_image_out *img, ws_gdino_levels *out);

/* gen_encoder_output_proposals for `levels` (h, w) levels: (cx, cy, w, h) = ((x+.5)/W, (y+.5)/H, 0.05*2^l)
 * as log-odds, +inf where a coordinate leaves (0.01, 0.99) or the token is padding (padding may be
 * NULL); valid[i] 0/1. prop holds 4 floats per token (caller's arrays; nothing can fail). */
void ws_gdino_proposals(const int64_t (*shapes)[2], int levels, const uint8_t *padding, float *prop, uint8_t *valid);

typedef struct ws_gdino_enc_trace {   /* per encoder layer (the golden's intermediates) */
    ws_at_tensor fusion_v[8], fusion_l[8], text[8], deform_attn[8], deform[8];
} ws_gdino_enc_trace;
/* The encoder: memory (1, N, 256) from srcs, memory_text (1, L, 256) from the encoded text, with the
 * text position embedding pos_text (1, L, 256) and the (L, L) 0/1 text self-attention mask. Outputs
 * and tr's tensors (tr may be NULL) belong to scope g. Returns g's error. */
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
 * and pred_boxes (1, Q, 4) (cx, cy, w, h normalised), owned by scope g. tr (may be NULL) gets the
 * intermediates (also g's). Returns g's error or WS_ENOMEM. */
int ws_gdino_decode(const ws_gdino *m, ws_scope *g, const ws_gdino_levels *lv, ws_at_tensor memory,
                    ws_at_tensor memory_text, ws_at_tensor *pred_logits, ws_at_tensor *pred_boxes, ws_gdino_dec_trace *tr);

/* ---- post-processing and detection ---- */

struct ws_wordpiece;
/* Grounded-SAM's predict() on one image's outputs: logits (Q, T) and boxes (Q, 4) as floats, the
 * caption's token ids[L]. Keeps the queries whose max sigmoid score exceeds box_th (strict, in
 * query order): keep[] their indices, score[] their max scores, kept_boxes (4 per query) their
 * boxes; phrases[] the tokens of ids whose score exceeds text_th ([CLS] and columns >= 255
 * excluded; with remove_combined only those between the delimiters around the best token),
 * decoded, "." removed. Every output array is the caller's with room for Q entries; the phrases
 * are malloc'd strings the caller frees (also those written before an error). Returns the count,
 * or WS_ENOMEM. */
int ws_gdino_predict(const struct ws_wordpiece *w, const float *logits, const float *boxes, int Q, int T, const int32_t *ids,
                     int L, double box_th, double text_th, int remove_combined, int64_t *keep, float *score,
                     float *kept_boxes, char **phrases);

/* Grounding-DINO's load_image resize (RandomResize([size], max_size)): the output (*oh, *ow) of an
 * (h, w) image; max_size <= 0 means none. */
void ws_gdino_resize_shape(int h, int w, int size, int max_size, int *oh, int *ow);

/* load_image's transform of an RGB image (h, w, 3): RandomResize([size], max_size) (PIL bilinear;
 * the release uses 800 / 1333) to (*oh, *ow) and ImageNet mean/std -> *x (3, oh, ow) malloc'd;
 * resized (may be NULL) receives the malloc'd uint8 (oh, ow, 3) picture. The caller frees both;
 * on failure (WS_ENOMEM, WS_EINVAL) neither is allocated. */
int ws_gdino_transform(const uint8_t *rgb, int h, int w, int size, int max_size, int *oh, int *ow, float **x,
                       uint8_t **resized);

/* One image, several captions: the image side is computed once. */
typedef struct ws_gdino_scene {
    ws_scope g;                 /* owns the image-side tensors */
    ws_gdino_image_out img;
    ws_gdino_levels lv;
    int h, w;                   /* original image size (boxes are scaled to it) */
} ws_gdino_scene;
/* The transform, Swin and the multi-scale layout of an RGB image (h, w, 3) into *s, which owns them
 * until ws_gdino_scene_free; m must outlive s. On failure s holds nothing. */
int ws_gdino_scene_begin(const ws_gdino *m, const uint8_t *rgb, int h, int w, int size, int max_size, ws_gdino_scene *s);
/* Frees the scene's tensors and zeroes it (a zeroed scene is a no-op). */
void ws_gdino_scene_free(ws_gdino_scene *s);

typedef struct ws_gdino_dets {
    int n;
    float *cxcywh;     /* (n, 4) normalised model output */
    float *score;      /* (n) max token sigmoid */
    int64_t *query;    /* (n) query index */
    char **phrase;     /* (n) predict() phrases (remove_combined off) */
} ws_gdino_dets;
/* Grounded-SAM's get_grounding_output on one caption (ws_gdino_caption normalisation): queries
 * whose max token score exceeds box_th, phrases at text_th, into *out (malloc'd arrays: release
 * with ws_gdino_dets_free). An empty caption or one of more than 256 tokens is WS_EINVAL (the
 * message says why); on any failure *out holds nothing. */
int ws_gdino_detect(const ws_gdino *m, const struct ws_wordpiece *w, ws_gdino_scene *s, const char *caption, double box_th,
                    double text_th, ws_gdino_dets *out);
/* Frees the arrays and phrases of d and zeroes it (a zeroed d is a no-op). */
void ws_gdino_dets_free(ws_gdino_dets *d);
#endif

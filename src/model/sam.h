/* sam.h - frozen Segment Anything (image encoder, prompt encoder, mask decoder) over the shim.
 *
 * Loads the released sam_vit_{b,l,h}_*.pth state dicts as they are; the architecture is read
 * from the tensors (depth, width, heads from the relative-position tables, window size,
 * global-attention blocks, neck channels, decoder depth). The decoder's head count is not in
 * the file: the caller's value, else 8 for width 256 (every released model) and 2 for width 32
 * (the test model of ../shared/golden); other widths must be given. Layouts: the encoder runs
 * in BHWC like the official code; everything convolutional is NCHW. fp32 throughout.
 */
#ifndef WS_MODEL_SAM_H
#define WS_MODEL_SAM_H

#include "shim/at.h"
#include "shim/scope.h"

typedef struct ws_sam_block {
    ws_at_tensor n1_w, n1_b, qkv_w, qkv_b, proj_w, proj_b;  /* (E), (3E, E), (3E), (E, E), (E) */
    ws_at_tensor rel_h, rel_w;                               /* (2S-1, head_dim) */
    ws_at_tensor n2_w, n2_b, fc1_w, fc1_b, fc2_w, fc2_b;     /* MLP E -> mlp -> E */
    int window;                                              /* 0 = global attention */
} ws_sam_block;

typedef struct ws_sam_attn {   /* decoder attention with optional internal downsampling */
    ws_at_tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
} ws_sam_attn;

typedef struct ws_sam_tw_layer {   /* TwoWayAttentionBlock */
    ws_sam_attn self_attn, t2i, i2t;
    ws_at_tensor n1_w, n1_b, n2_w, n2_b, n3_w, n3_b, n4_w, n4_b;
    ws_at_tensor mlp1_w, mlp1_b, mlp2_w, mlp2_b;
} ws_sam_tw_layer;

typedef struct ws_sam_mlp { int n; ws_at_tensor w[4], b[4]; } ws_sam_mlp;  /* Linear (+ReLU) x n */

typedef struct ws_sam {
    /* image encoder */
    int img_size, patch, grid, embed, depth, heads, out_chans;
    ws_at_tensor patch_w, patch_b, pos_embed;                /* (E,3,p,p), (E), (1,g,g,E) */
    ws_sam_block *blocks;
    ws_at_tensor neck0_w, neck1_w, neck1_b, neck2_w, neck3_w, neck3_b;
    /* prompt encoder */
    ws_at_tensor pe_gauss;                                   /* (2, C/2) */
    ws_at_tensor point_emb[4], not_a_point, no_mask;         /* (1, C) each */
    ws_at_tensor md0_w, md0_b, md1_w, md1_b, md3_w, md3_b, md4_w, md4_b, md6_w, md6_b; /* mask downscaling */
    /* mask decoder */
    int dec_depth, dec_heads, n_mask_tokens;
    ws_at_tensor iou_token, mask_tokens;                     /* (1, C), (4, C) */
    ws_sam_tw_layer *layers;
    ws_sam_attn final_attn;
    ws_at_tensor nf_w, nf_b;
    ws_at_tensor up0_w, up0_b, up1_w, up1_b, up3_w, up3_b;   /* output upscaling */
    ws_sam_mlp hyper[4], iou_head;
    ws_at_tensor pixel_mean, pixel_std;                      /* (3,1,1) */
} ws_sam;

/* Loads a SAM state dict into *m (zeroed first); decoder_heads <= 0 applies the default rule above.
 * Fails (WS_EFORMAT, WS_ESHAPE, WS_EUNSUP, WS_ETORCH) naming the file and tensor; *m then holds
 * nothing. A loaded model is released with ws_sam_free. */
int ws_sam_load(ws_sam *m, const char *path, int decoder_heads);
/* The same from an opened (or in-memory) checkpoint, which stays open (the caller closes it; the
 * model holds fp32 copies). */
int ws_sam_from_ckpt(ws_sam *m, ws_at_ckpt ck, int decoder_heads);
/* Frees every tensor and array of m and zeroes it; NULL or a zeroed model is a no-op. */
void ws_sam_free(ws_sam *m);

/* Sizes of a SAM for random-weight construction (the released key names and shapes). */
typedef struct ws_sam_arch {
    int embed, depth, heads, globals[4];   /* encoder; globals: global-attention blocks (-1 unused) */
    int grid, window;                      /* patch grid (img_size / 16) and window size */
    int C, mlp_dim;                        /* decoder width and MLP size */
    int condition;                         /* scale the mask/IoU heads so random masks have contrast */
} ws_sam_arch;
extern const ws_sam_arch WS_SAM_VIT_B, WS_SAM_VIT_H, WS_SAM_TINY;
/* A SAM of arch a with N(0, 0.02) weights (norms 1/0) from generator seed. */
int ws_sam_init_random(ws_sam *m, const ws_sam_arch *a, uint64_t seed);
/* A checkpoint path, or "random:tiny" / "random:vit_b" / "random:vit_h" (random weights). */
int ws_sam_open(ws_sam *m, const char *spec, int decoder_heads);
/* Checks spec without building anything: *random = 1 for a "random:" spec (no file), which must
 * name a known architecture (else it fails as ws_sam_open would, naming the choices). */
int ws_sam_spec_check(const char *spec, int *random);

typedef struct ws_sam_enc_trace {   /* optional intermediate outputs of the encoder */
    ws_at_tensor patch_embed, pos_added;        /* (1, g, g, E) */
    ws_at_tensor *norm1, *attn_out, *output;    /* [depth] */
    ws_at_tensor neck[4];                       /* (1, C, g, g) */
} ws_sam_enc_trace;

/* Image encoder on (1, 3, S, S) normalised, padded input -> (1, C, g, g). trace may be NULL
 * (its arrays must then be allocated by the caller with depth entries). */
ws_at_tensor ws_sam_encode(const ws_sam *m, ws_scope *g, ws_at_tensor x, ws_sam_enc_trace *trace);

/* Prompt encoder. points (N, P, 2) in model-input pixels (float32 or float64) with labels
 * (N, P) i32 (1 fg, 0 bg, -1 padding), boxes (N, 4) XYXY, mask (N, 1, 4g, 4g); any may be NULL.
 * sparse: (N, S, C); dense: (N, C, g, g) with mask prompts, else (1, C, g, g) (the same for every
 * prompt; it broadcasts). */
int ws_sam_prompt(const ws_sam *m, ws_scope *g, ws_at_tensor points, ws_at_tensor labels, ws_at_tensor boxes,
                  ws_at_tensor mask, ws_at_tensor *sparse, ws_at_tensor *dense);
/* get_dense_pe(): (1, C, g, g). */
ws_at_tensor ws_sam_dense_pe(const ws_sam *m, ws_scope *g);

typedef struct ws_sam_dec_out {
    ws_at_tensor hs, keys, upscaled;   /* transformer tokens, image side, upscaled embedding */
    ws_at_tensor masks, iou;           /* (N, k, 4g, 4g), (N, k): k = 3 (multimask) or 1 */
} ws_sam_dec_out;

/* Mask decoder for N prompts on one image embedding (1, C, g, g). */
int ws_sam_decode(const ws_sam *m, ws_scope *g, ws_at_tensor emb, ws_at_tensor sparse, ws_at_tensor dense,
                  int multimask, ws_sam_dec_out *out);

/* ResizeLongestSide target size of an (h, w) image for a long side L. */
void ws_sam_preprocess_shape(int h, int w, int L, int *oh, int *ow);
/* uint8 RGB (h, w, 3) -> resized (PIL bilinear) -> normalised -> padded (1, 3, S, S).
 * *rh, *rw receive the resized size (the "input size"). */
ws_at_tensor ws_sam_preprocess(const ws_sam *m, ws_scope *g, const uint8_t *rgb, int h, int w, int *rh, int *rw);
/* postprocess_masks: (N, k, 4g, 4g) logits -> bilinear to S x S, crop to (rh, rw), bilinear to
 * (h, w). */
ws_at_tensor ws_sam_postprocess(const ws_sam *m, ws_scope *g, ws_at_tensor low, int rh, int rw, int h, int w);
/* The same upsampling computed in C for the mask generator: ws_sam_upsample_logits in
 * model/sam_upsample.h. */

#endif

/* clip.h - frozen OpenAI CLIP (ViT image encoder + causal text transformer) over the ATen shim.
 *
 * Reads the released checkpoints as they are (TorchScript `ViT-B-16.pt` or a torch.save state
 * dict), infers the architecture exactly like openai/CLIP's build_model, converts the fp16
 * weights to fp32 once, and computes in fp32. Activations are NLD ([batch, tokens, width]).
 * The model owns its weight tensors; outputs are owned by the caller's ws_scope.
 */
#ifndef WS_MODEL_CLIP_H
#define WS_MODEL_CLIP_H

#include "shim/at.h"
#include "shim/scope.h"

typedef struct ws_clip_block {
    ws_at_tensor ln1_w, ln1_b;    /* (W) */
    ws_at_tensor in_w, in_b;      /* (3W, W), (3W): rows q | k | v */
    ws_at_tensor out_w, out_b;    /* (W, W), (W) */
    ws_at_tensor ln2_w, ln2_b;    /* (W) */
    ws_at_tensor fc_w, fc_b;      /* (4W, W), (4W) */
    ws_at_tensor proj_w, proj_b;  /* (W, 4W), (W) */
} ws_clip_block;

typedef struct ws_clip {
    /* architecture, as build_model infers it */
    int embed_dim;                      /* E: text_projection.shape[1] */
    int vision_width, vision_layers, vision_heads, patch_size, grid, image_resolution;
    int context_length, vocab_size, text_width, text_heads, text_layers;
    /* vision weights (fp32) */
    ws_at_tensor conv1_w;               /* (Wv, 3, p, p) */
    ws_at_tensor class_emb;             /* (Wv) */
    ws_at_tensor vis_pos;               /* (1 + grid^2, Wv) */
    ws_at_tensor ln_pre_w, ln_pre_b, ln_post_w, ln_post_b; /* (Wv) */
    ws_at_tensor vis_proj;              /* (Wv, E), used as x @ proj */
    ws_clip_block *vblocks;             /* [vision_layers] */
    /* text weights (fp32) */
    ws_at_tensor tok_emb;               /* (vocab, Wt) */
    ws_at_tensor pos_emb;               /* (context_length, Wt) */
    ws_at_tensor ln_final_w, ln_final_b;/* (Wt) */
    ws_at_tensor text_proj;             /* (Wt, E) */
    ws_at_tensor logit_scale;           /* () */
    ws_clip_block *tblocks;             /* [text_layers] */
    ws_at_tensor causal_mask;           /* (ctx, ctx): 0 on/below the diagonal, -inf above */
} ws_clip;

/* Loads CLIP from a checkpoint file. Fails with a message naming the file and the missing or
 * malformed tensor (e.g. a ResNet CLIP, a SAM file, a truncated archive). */
int ws_clip_load(ws_clip *m, const char *path);
/* Builds from an already opened checkpoint (the tensors are converted to fp32 copies). */
int ws_clip_from_ckpt(ws_clip *m, ws_at_ckpt ck);
void ws_clip_free(ws_clip *m);                      /* NULL or zeroed model is a no-op */

/* Positional-embedding resize used when the patch grid is not the checkpoint's. */
enum { WS_CLIP_POS_BICUBIC = 0, WS_CLIP_POS_BILINEAR = 1 };

typedef struct ws_clip_image_opts {
    int pos_interp;       /* WS_CLIP_POS_*: torch bicubic (openai) or bilinear (FMA adaptive) */
    int block_tokens;     /* keep every block's output tokens */
    int attn_mean;        /* keep head-averaged attention probabilities per block */
    int attn_heads;       /* keep per-head attention probabilities per block */
    int attn_from;        /* with attn_*: keep only blocks >= attn_from (0 = all) */
    int proj_all;         /* ln_post + proj of all tokens */
    int patch_mean;       /* FMA's embedding: mean over patches of ln_post(tokens), @ proj */
    int gradcam_leaf;     /* run blocks < L-1 without autograd; last ln_1 output = grad leaf */
} ws_clip_image_opts;

typedef struct ws_clip_image_out {
    int grid_h, grid_w;               /* patch grid of this input */
    ws_at_tensor pos;                 /* (1+hw, Wv) the positional embedding used */
    ws_at_tensor patch_embed;         /* (N, hw, Wv) conv1 output as tokens */
    ws_at_tensor tokens_embedded;     /* (N, 1+hw, Wv) before ln_pre */
    ws_at_tensor tokens_ln_pre;       /* (N, 1+hw, Wv) */
    ws_at_tensor *block_tokens;       /* [layers] (N, 1+hw, Wv) or NULL */
    ws_at_tensor *attn_mean;          /* [layers] (N, 1+hw, 1+hw) or NULL */
    ws_at_tensor *attn_heads;         /* [layers] (N, heads, 1+hw, 1+hw) or NULL */
    ws_at_tensor embedding;           /* (N, E) class token: ln_post(x0) @ proj */
    ws_at_tensor proj_all;            /* (N, 1+hw, E) or NULL */
    ws_at_tensor patch_mean;          /* (N, E) or NULL */
    ws_at_tensor ln1_leaf;            /* (N, 1+hw, Wv) requires grad, or NULL */
} ws_clip_image_out;

/* Encodes images (N, 3, H, W) f32, already normalised, H and W multiples of the patch size.
 * All outputs are owned by scope g; the arrays in *out are malloc'd and freed by
 * ws_clip_image_out_free. Returns 0 or a WS_E* code (message in ws_last_error). */
int ws_clip_encode_image(const ws_clip *m, ws_scope *g, ws_at_tensor images,
                         const ws_clip_image_opts *opts, ws_clip_image_out *out);
/* Frees the malloc'd arrays of out (not its tensors: they belong to the scope); NULL is a no-op. */
void ws_clip_image_out_free(ws_clip_image_out *out);
/* The frozen trunk alone: blocks 0..L-2 without autograd -> the last block's input x (N, 1+hw, Wv)
 * (what a feature cache stores), and the patch grid. */
int ws_clip_image_trunk(const ws_clip *m, ws_scope *g, ws_at_tensor images, int pos_interp, ws_at_tensor *x,
                        int *grid_h, int *grid_w);
/* The rest of ws_clip_encode_image from that x: the last block (with the Grad-CAM leaf when
 * asked) and the heads. ws_clip_encode_image = trunk + tail, exactly. */
int ws_clip_encode_image_tail(const ws_clip *m, ws_scope *g, ws_at_tensor x, int grid_h, int grid_w,
                              const ws_clip_image_opts *opts, ws_clip_image_out *out);

/* The (1+h*w, Wv) positional embedding for an h x w grid (the checkpoint's own when equal). */
ws_at_tensor ws_clip_pos_embed(const ws_clip *m, ws_scope *g, int h, int w, int mode);

typedef struct ws_clip_text_opts {
    int block_tokens;   /* keep every block's output */
    int attn_heads;     /* keep per-head attention probabilities per block */
    int ln_final_all;   /* keep ln_final at every position */
} ws_clip_text_opts;

typedef struct ws_clip_text_out {
    ws_at_tensor embedded;        /* (G, ctx, Wt) prompt embedding + positional embedding */
    ws_at_tensor *block_tokens;   /* [layers] (G, ctx, Wt) or NULL */
    ws_at_tensor *attn_heads;     /* [layers] (G, heads, ctx, ctx) or NULL */
    ws_at_tensor ln_final;        /* (G, ctx, Wt) or NULL */
    ws_at_tensor features;        /* (G, E) */
} ws_clip_text_out;

/* Token ids (G, ctx) i64 -> embeddings (G, ctx, Wt) (token_embedding lookup). */
ws_at_tensor ws_clip_token_embed(const ws_clip *m, ws_scope *g, ws_at_tensor ids);
/* EOT index per row: argmax of the ids, (G) i64. */
ws_at_tensor ws_clip_eot_index(ws_scope *g, ws_at_tensor ids);
/* Text transformer from prompt embeddings (G, ctx, Wt) (differentiable) with EOT pooling at
 * eot (G) i64. opts may be NULL. */
int ws_clip_encode_text_emb(const ws_clip *m, ws_scope *g, ws_at_tensor prompt_emb, ws_at_tensor eot,
                            const ws_clip_text_opts *opts, ws_clip_text_out *out);
/* encode_text from token ids (G, ctx) i64. */
int ws_clip_encode_text(const ws_clip *m, ws_scope *g, ws_at_tensor ids, const ws_clip_text_opts *opts,
                        ws_clip_text_out *out);
/* Frees the malloc'd arrays of out (not its tensors: they belong to the scope); NULL is a no-op. */
void ws_clip_text_out_free(ws_clip_text_out *out);
/* The text transformer for G prompts whose first P0 positions are identical (SOS + one shared
 * context): the prefix (1, P0, Wt) is computed once per layer and every suffix (G, Ls, Wt)
 * (positions P0..P0+Ls-1) attends to it; under the causal mask this equals the full computation
 * (gradients reach the one prefix copy). eot (G) indexes the full sequence (>= P0). Only
 * out->features is set. */
int ws_clip_encode_text_shared(const ws_clip *m, ws_scope *g, ws_at_tensor prefix, ws_at_tensor suffix,
                               ws_at_tensor eot, ws_clip_text_out *out);

/* x / ||x||_2 along the last dim. */
ws_at_tensor ws_clip_l2_normalize(ws_scope *g, ws_at_tensor x);


/* Sizes that define a ViT CLIP (what build_model reads off a checkpoint). */
typedef struct ws_clip_arch {
    int embed_dim, vision_width, vision_layers, patch_size, grid;
    int context_length, vocab_size, text_width, text_layers;
} ws_clip_arch;
/* The released ViT-B/16 sizes. */
extern const ws_clip_arch WS_CLIP_VIT_B16;
/* A model of the given sizes with random weights (N(0, 0.02), LayerNorm weight 1, bias 0),
 * from generator seed; for benchmarks and tests that need full-size shapes without weights. */
int ws_clip_init_random(ws_clip *m, const ws_clip_arch *a, uint64_t seed);
/* A reduced random CLIP (width 128, 3 layers, 7x7 grid at 112 px; the demo). */
extern const ws_clip_arch WS_CLIP_TINY;
/* A checkpoint path, or "random:tiny" / "random:vit_b16" (random weights, seed 0). */
int ws_clip_open(ws_clip *m, const char *spec);
/* Checks spec without building anything: *random = 1 for a "random:" spec (no file), which must
 * name a known architecture (else it fails as ws_clip_open would, naming the choices). */
int ws_clip_spec_check(const char *spec, int *random);
#endif

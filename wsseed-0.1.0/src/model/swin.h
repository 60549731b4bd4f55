/* swin.h - the Swin Transformer backbone of Grounding-DINO (Swin-T / Swin-B, OGC release layout)
 * over the ATen shim.
 *
 * Four stages of shifted-window blocks with PatchMerging between them; the window size is read
 * from the relative position bias tables (Swin-T 7, Swin-B 12). It returns stages 1..3 through
 * their output norms (strides 8, 16, 32), as Grounding-DINO's backbone (out_indices 1, 2, 3) does.
 * A ws_swin owns its tensors; ws_swin_free releases them.
 */
#ifndef WS_MODEL_SWIN_H
#define WS_MODEL_SWIN_H
#include "shim/at.h"
#include "shim/scope.h"

typedef struct ws_swin_block {
    ws_at_tensor n1_w, n1_b, qkv_w, qkv_b, proj_w, proj_b;   /* (C), (3C, C), (3C), (C, C), (C) */
    ws_at_tensor n2_w, n2_b, fc1_w, fc1_b, fc2_w, fc2_b;     /* MLP C -> 4C -> C */
    ws_at_tensor bias;        /* (heads, N, N) relative position bias = table[index], N = ws^2 */
    int heads;
} ws_swin_block;

typedef struct ws_swin_stage {
    int depth, dim;
    ws_swin_block *blocks;                     /* [depth], malloc'd */
    ws_at_tensor down_n_w, down_n_b, down_w;   /* PatchMerging (4C), (4C), (2C, 4C); NULL in the last stage */
    ws_at_tensor out_n_w, out_n_b;             /* norm<i> (C) of the returned stages 1..3, else NULL */
} ws_swin_stage;

typedef struct ws_swin {
    int dim, window;                           /* embed dim C0 (96 / 128), window (7 / 12) */
    ws_at_tensor pe_w, pe_b, pe_n_w, pe_n_b;   /* patch embedding (C0, 3, 4, 4), (C0); LayerNorm (C0) */
    ws_swin_stage stages[4];
} ws_swin;

/* Reads the backbone under `prefix` ("module.backbone.0" in a Grounding-DINO release) of ck into
 * s: embed dim and window from the tensors, stage depths by counting blocks. The checkpoint stays
 * open; `kind` completes error messages ("is it <kind> checkpoint?"). On failure s may hold some
 * tensors: ws_swin_free releases them. */
int ws_swin_load(ws_swin *s, ws_at_ckpt ck, const char *prefix, const char *kind);

/* Frees s's tensors and block arrays and zeroes s; NULL or a zeroed s is a no-op. */
void ws_swin_free(ws_swin *s);

/* Adds random tensors with the backbone's key names under `prefix` to ck: embed dim `dim`, depths
 * and heads per stage, window `window` (<= 0: 7); draws from gen in a fixed order (benchmarks,
 * tests). Returns 0 or a WS_E* code with the message set. */
int ws_swin_random(ws_at_gen gen, ws_at_ckpt ck, const char *prefix, int dim, const int depths[4], const int heads[4],
                   int window);

/* The backbone on a normalised image img (1, 3, H, W) (any H, W: padded to the patch and window
 * grids as the official code does). Every tensor it returns belongs to scope g: patch_embed
 * (1, C0, H/4, W/4); stage[s] (1, C_s, H_s, W_s), each stage's output before its PatchMerging and
 * output norm; out[s - 1] = norm<s>(stage s) for s = 1..3. Returns g's error (WS_ESHAPE when img
 * is not (1, 3, H, W)). */
int ws_swin_forward(const ws_swin *s, ws_scope *g, ws_at_tensor img, ws_at_tensor *patch_embed, ws_at_tensor stage[4],
                    ws_at_tensor out[3]);
#endif

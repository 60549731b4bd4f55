/* fma.h - one FMA-WSSS forward: prompts -> text features, images -> mean-patch embedding and
 * the Grad-CAM leaf, logits, masked softmax, softmax Grad-CAM and the task's losses.
 *
 * The CLIP trunk runs without autograd up to the last block's ln_1 output A (the leaf); only
 * the last block, ln_post, the projection and the text side are in the graph. Everything is
 * owned by the caller's scope g; the caller takes gradients of out->loss_total w.r.t. the ctx.
 */
#ifndef WS_METHOD_FMA_H
#define WS_METHOD_FMA_H
#include "method/gradcam.h"
#include "method/loss.h"
#include "method/prompt.h"

enum { WS_FMA_CLS = 0, WS_FMA_SEG = 1 };

typedef struct ws_fma_batch {
    int N, H, W;
    ws_at_tensor images;        /* (N, 3, H, W) f32, normalised */
    const uint8_t *fg_labels;   /* (N, n_fg) presence: softmax mask and Grad-CAM positives */
    const uint8_t *mcl_labels;  /* (N, n_fg) MCL labels (cls: = fg_labels), or NULL */
    const uint8_t *seeds;       /* (N, H, W) seed maps for the CAM loss, or NULL */
    ws_at_tensor trunk;         /* or: (N, 1+gh*gw, Wv) the last block's input (a feature cache) */
    int grid_h, grid_w;         /* with trunk */
    ws_at_tensor img_emb;       /* or: (N, E) the image embeddings themselves (no Grad-CAM then) */
} ws_fma_batch;

typedef struct ws_fma_opts {
    int n_fg;                  /* fg prompts come first: 20 VOC, 80 COCO */
    double sm_eps;             /* MaskedSoftmax epsilon, 1e-5 */
    double w_mcl;              /* MCL weight (cls 1, seg 0) */
    double w_cam_fg, w_cam_bg; /* CAM-loss weights (cls 0, seg 1) */
    int cam;                   /* compute Grad-CAM even when its loss weights are 0 */
    int create_graph;          /* CAMs differentiable in the prompts (training) */
    int pos_interp;            /* WS_CLIP_POS_* for non-native grids (FMA: bilinear) */
    int attn_mean;             /* keep head-averaged attention of every block */
    int proj_all;              /* keep ln_post + proj of every token (diagnostics) */
    int fast_text;             /* text encoder on positions < max EOT + 1 only, and a shared context's
                                * prefix computed once (exact under the causal mask); 0 = plain */
} ws_fma_opts;

typedef struct ws_fma_out {
    ws_clip_image_out img;     /* image path (img.patch_mean = img_emb, img.ln1_leaf = A) */
    ws_clip_text_out text;     /* text path (text.features) */
    ws_at_tensor prompt_emb;   /* (G, L, Wt); NULL on the shared-prefix path */
    ws_at_tensor logit_scale;  /* () exp(logit_scale) */
    ws_at_tensor logits;       /* (N, G) */
    ws_at_tensor sm_mask;      /* (N, G) f32 */
    ws_at_tensor y;            /* (N, G) masked softmax */
    ws_positives pos;          /* Grad-CAM positives */
    ws_gradcam_out gc;         /* when computed */
    ws_cam_loss_out cl;        /* when seeds are given and CAMs computed */
    ws_at_tensor loss_mcl;     /* () or NULL */
    ws_at_tensor loss_total;   /* () */
    int mcl_pairs;
} ws_fma_out;

/* One FMA-WSSS training forward (model.py's forward for the batch b): image features through the
 * frozen trunk (the graph starts at the Grad-CAM leaf when CAMs are needed), text features of the
 * prompts, logits, the MCL loss and, with seeds, softmax Grad-CAM and the CAM activation loss, as
 * o selects. Tensors of *out belong to scope g; its malloc'd parts are freed by ws_fma_out_free.
 * Fails with g's first error, naming the step. */
int ws_fma_forward(const ws_clip *m, const ws_prompt *p, ws_scope *g, const ws_fma_batch *b,
                   const ws_fma_opts *o, ws_fma_out *out);
/* Frees the malloc'd parts of out (its tensors belong to the scope); zeroed is a no-op. */
void ws_fma_out_free(ws_fma_out *out);
/* Presence of the classes 1..n_fg in a seed/label map (255 ignored): lb2cls_lb's fg part. */
void ws_fma_presence(const uint8_t *lb, size_t n, int n_fg, uint8_t *fg);
/* infer_cam's `att`: the mean of the head-averaged attention (N, 1+hw, 1+hw) of the last `keep`
 * blocks (all when fewer), class-token row and column dropped -> (N, hw, hw). */
ws_at_tensor ws_fma_merge_att(ws_scope *g, const ws_at_tensor *attn, int layers, int keep);
#endif

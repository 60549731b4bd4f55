/* gradcam.h - FMA-WSSS's class scores and softmax Grad-CAM (GradCAMCLIP.forward).
 *
 * Logits are exp(logit_scale)-scaled cosines between the mean-patch image embedding and the
 * prompt text features; a masked softmax over the present fg classes plus every bg prompt
 * turns them into the Grad-CAM targets; the CAM of each positive (image n, class c) is the
 * last block's ln_1 output A (detached) weighted by the patch-mean of dy_{n,c}/dA. Positives are
 * processed in rounds (at most one per image per round), which gives torch's batched gradients.
 */
#ifndef WS_METHOD_GRADCAM_H
#define WS_METHOD_GRADCAM_H
#include <stdint.h>
#include "shim/scope.h"

/* The positive (image, class) pairs of a presence matrix, in row-major order. */
typedef struct ws_positives {
    int P;            /* number of pairs */
    int64_t *batch;   /* [P] image index */
    int64_t *cls;     /* [P] fg class index */
    int64_t *round;   /* [P] which Grad-CAM round the pair is in (its rank within its image) */
    int rounds;       /* max positives per image */
} ws_positives;
/* From labels (N, C) uint8 (non-zero = present). */
int ws_positives_from(ws_positives *p, const uint8_t *labels, int N, int C);
void ws_positives_free(ws_positives *p);

/* scale * normalize(img) @ normalize(text)^T : (N, E), (G, E), () -> (N, G). */
ws_at_tensor ws_fma_logits(ws_scope *g, ws_at_tensor img_emb, ws_at_tensor text_feat, ws_at_tensor scale);
/* AlchemyCat MaskedSoftmax along dim 1: exp(s - max s) * mask / (sum(exp(s - max s) * mask) + eps);
 * mask (N, G) f32 0/1; the max runs over every logit, masked ones included. */
ws_at_tensor ws_fma_masked_softmax(ws_scope *g, ws_at_tensor logits, ws_at_tensor mask, double eps);
/* The softmax mask: 1 for present fg classes (labels (N, n_fg)) and every one of the G - n_fg bg
 * prompts, as an (N, G) f32 tensor. */
ws_at_tensor ws_fma_softmax_mask(ws_scope *g, const uint8_t *labels, int N, int n_fg, int G);

typedef struct ws_gradcam_out {
    ws_at_tensor targets;   /* (P) y at the positives */
    ws_at_tensor grad_A;    /* (P, 1+hw, W) dy_p / dA[image of p] */
    ws_at_tensor weights;   /* (P, W) patch-row mean of grad_A */
    ws_at_tensor cam;       /* (P, gh, gw) raw CAMs (no ReLU, no normalisation) */
} ws_gradcam_out;
/* Grad-CAM of every positive from y (N, G) and the leaf A (N, 1+hw, W). With create_graph the
 * CAMs stay differentiable in whatever y depends on (the prompts): seg training. */
int ws_gradcam(ws_scope *g, ws_at_tensor y, ws_at_tensor A, const ws_positives *pos, int gh, int gw,
               int create_graph, ws_gradcam_out *out);
/* d targets[p] / d X[image of p] for every positive (one autograd pass per round): X is (N, ...)
 * and the result (P, ...). retain_graph is kept for later passes. */
ws_at_tensor ws_gradcam_per_positive(ws_scope *g, ws_at_tensor targets, const ws_positives *pos, int64_t N,
                                     ws_at_tensor X, int create_graph);
#endif

/* loss.h - the two FMA-WSSS losses.
 *
 * MCL (MultiLabelCLLoss, gamma None, reduce pos_mean): each positive fg logit is contrasted
 * against the image's negatives only, averaged over all positive pairs of the batch. CAM
 * activation loss (CAMIntensityLoss l1 / all / detach_max / bg_thresh 0): in-seed pixels are
 * pulled up to the detached in-seed maximum, positive activations outside the seed pushed to 0.
 */
#ifndef WS_METHOD_LOSS_H
#define WS_METHOD_LOSS_H
#include <stdint.h>
#include "method/gradcam.h"

/* MCL of fg_logits (N, C) with labels (N, C) uint8. Images without both a positive and a
 * negative are skipped; *n_pairs gets the number of (image, positive) terms (the loss is a
 * constant 0 without gradient when it is 0). Stable form: identical to the exp/log formula. */
ws_at_tensor ws_loss_mcl(ws_scope *g, ws_at_tensor fg_logits, const uint8_t *labels, int N, int C, int *n_pairs);

typedef struct ws_cam_loss_out {
    ws_at_tensor fg, bg;        /* () L_fg, L_bg */
    ws_at_tensor upsampled;     /* (P, H, W) bilinear CAMs */
    ws_at_tensor max_fg;        /* (P) detached max(0, max over F) */
    int64_t *fg_count, *bg_count; /* [P] |F|, |B| (malloc'd; ws_cam_loss_out_free) */
} ws_cam_loss_out;
/* CAM activation loss of cam (P, h, w) against seed maps (N, H, W) uint8 (0 bg, c+1 class c,
 * 255 ignore) for the positives pos. */
int ws_loss_cam(ws_scope *g, ws_at_tensor cam, const uint8_t *seeds, int H, int W, const ws_positives *pos,
                ws_cam_loss_out *out);
/* Frees the malloc'd parts of o (its tensors belong to the scope); zeroed is a no-op. */
void ws_cam_loss_out_free(ws_cam_loss_out *o);
#endif

/* boxseed.h - the boxed-SAM seed mode (Ravanbakhsh et al.; spec method-gdino-boxed-sam.md): boxes
 * of a detector for the image's classes prompt SAM (one mask per box) and the masks compose a
 * label map. Box handling follows zhaozhengChen/SAM_WSSS (the closest public implementation).
 */
#ifndef WS_METHOD_BOXSEED_H
#define WS_METHOD_BOXSEED_H
#include <stdint.h>

#include "model/sam.h"

/* Grounding-DINO's get_grounding_output filter: queries whose max sigmoid score over the text
 * tokens (logits (Q, T), -inf padding) exceeds thresh; keep[] receives their indices, score[] the
 * max scores. Returns the count. */
int ws_box_filter(const float *logits, int Q, int T, double thresh, int64_t *keep, float *score);
/* Normalised cx, cy, w, h -> pixel x0, y0, x1, y1 in float32, in the reference's operation order
 * (s = box * (W, H, W, H); x0y0 = s.xy - s.wh / 2; x1y1 = s.wh + x0y0). Boxes may leave the image. */
void ws_box_to_pixels(const float *cxcywh, int n, int W, int H, float *xyxy);

/* SamPredictor.transform.apply_boxes_torch: pixel boxes of an (H, W) image into the (rh, rw)
 * ResizeLongestSide frame (x * rw / W, y * rh / H in float32). */
void ws_box_to_sam_frame(const float *xyxy, int n, int H, int W, int rh, int rw, float *out);

enum { WS_OVERLAP_MAXID = 0,   /* per-pixel max of class_id + 1 (the closest implementation) */
       WS_OVERLAP_SCORE = 1 }; /* the mask with the highest box score x SAM IoU estimate wins */
typedef struct ws_boxmask {
    const uint8_t *mask;   /* (H, W) 0/1 */
    int value;             /* label value: class index + 1 */
    float score, iou;      /* detector score, SAM IoU prediction */
} ws_boxmask;
/* Composes n masks into out (H, W) (0 where no mask). */
int ws_boxseed_compose(const ws_boxmask *m, int n, int H, int W, int overlap, uint8_t *out);

/* The spec's [PROPOSED] sanity filters (§5, off at 0): does box xyxy (pixels) cover more than
 * max_frac of the (H, W) image (its part inside the image)? */
int ws_box_too_large(const float *xyxy, int H, int W, double max_frac);
/* ... is a mask of `area` pixels smaller than min_frac of its box's area? */
int ws_mask_too_small(const float *xyxy, long area, double min_frac);
/* The spec's optional ignore band: 255 on every pixel within k pixels (square neighbourhood) of a
 * pixel where the best box score x SAM IoU of two different classes' masks differ by <= delta. */
int ws_boxseed_ignore_band(const ws_boxmask *m, int n, int H, int W, int k, double delta, uint8_t *out);

/* SamPredictor.predict_torch with boxes (multimask_output=False): n pixel boxes xyxy of the (H, W)
 * image (transformed to the (rh, rw) ResizeLongestSide frame as apply_boxes_torch does) on the
 * image embedding emb -> masks (n, H, W) 0/1 (logits > 0), the IoU predictions (n) and, when
 * low_res is not NULL, the decoder's mask logits (n, 4 grid, 4 grid). Boxes are decoded in chunks of
 * 16 (results do not depend on the chunking). */
int ws_boxseed_sam(const ws_sam *m, ws_at_tensor emb, int rh, int rw, int H, int W, const float *xyxy, int n,
                   uint8_t *masks, float *iou, float *low_res);
#endif

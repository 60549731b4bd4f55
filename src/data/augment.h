/* augment.h - FMA-WSSS training and inference image operations, exact to the reference.
 *
 * Sizes follow AlchemyCat's scale_img_label (Python round-half-even of s*H in double), images
 * are resampled with Pillow BICUBIC and labels with Pillow NEAREST (data/resize.h), and the
 * colour jitter is AlchemyCat's RandColorJitter over OpenCV's 8-bit HSV conversions, bit for
 * bit (golden image_ops_ref.h5). Random draws come from an explicit ws_rng (core/rng.h).
 */
#ifndef WS_DATA_AUGMENT_H
#define WS_DATA_AUGMENT_H
#include <stdint.h>
#include "core/rng.h"

/* (round(s*h), round(s*w)), half to even; at least 1. */
void ws_aug_scaled_size(int h, int w, double s, int *oh, int *ow);
/* RandRangeScale's factor for long-side target t: max(t/long, short_thresh/short). */
double ws_aug_range_scale(int h, int w, int t, int short_thresh);
/* Smallest multiple of n >= x (divisible_by_n(..., 'larger')). */
int ws_aug_ceil_to(int x, int n);

/* RandColorJitter parameters: value[k] is NaN when op k is not applied; ops run in order[].
 * k: 0 brightness (add), 1 contrast (multiply), 2 saturation (HSV S multiply), 3 hue (HSV_FULL
 * H add). */
typedef struct ws_jitter {
    double value[4];
    int order[4];
} ws_jitter;
/* AlchemyCat's defaults: bright U(-25,25), contrast U(0.6,1.4), saturation U(0.5,1.5),
 * hue U(-25,25), each with probability 0.5, then a shuffled order; numpy's draw sequence. */
void ws_jitter_draw(ws_rng *r, ws_jitter *j);
/* Applies j in place to an 8-bit 3-channel image (h, w, 3); bgr = 1 when channel 0 is blue
 * (AlchemyCat's order), 0 for RGB. Returns 0 or WS_ENOMEM. */
int ws_jitter_apply(uint8_t *img, int h, int w, int bgr, const ws_jitter *j);

/* OpenCV cvtColor pieces, exposed for tests: 8-bit BGR<->HSV with hue range 180 or 256 (FULL). */
void ws_bgr2hsv_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr);
void ws_hsv2bgr_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr);
#endif

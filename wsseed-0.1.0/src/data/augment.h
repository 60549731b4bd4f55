/* augment.h - FMA-WSSS training and inference image operations, exact to the reference.
 *
 * Sizes follow AlchemyCat's scale_img_label (Python round-half-even of s*H in double), images
 * are resampled with Pillow BICUBIC and labels with Pillow NEAREST (image/resize.h), and the
 * colour jitter is AlchemyCat's RandColorJitter over OpenCV's 8-bit HSV conversions, bit for
 * bit (golden image_ops_ref.h5). Random draws come from an explicit ws_rng (core/rng.h).
 */
#ifndef WS_DATA_AUGMENT_H
#define WS_DATA_AUGMENT_H
#include <stdint.h>
#include "core/rng.h"
#include "image/resize.h"

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

/* FMA-WSSS training augmentation (VOC2Auger): colour jitter, RandRangeScale (t uniform in
 * [scale_low, scale_high], PIL bicubic image / nearest map), random crop x crop (label padding
 * 255 and image padding 0 if a side is short), horizontal flip p = 0.5, ToTensor + CLIP
 * normalisation. Draw order: jitter, t, crop y, crop x, flip. */
typedef struct ws_aug_cfg {
    int jitter;                 /* RandColorJitter on/off */
    int scale_low, scale_high;  /* 288, 480 */
    int short_thresh;           /* 224 */
    int crop;                   /* 224 */
    int flip;                   /* random horizontal flip on/off */
} ws_aug_cfg;
/* rgb (h, w, 3) and map (h, w) (may be NULL) -> out (3, crop, crop) f32 normalised and
 * map_out (crop, crop) (when map). Returns 0 or WS_ENOMEM. */
int ws_aug_train(const ws_aug_cfg *c, ws_rng *r, const uint8_t *rgb, const uint8_t *map, int h, int w, float *out,
                 uint8_t *map_out);
/* ToTensor + Normalize(CLIP mean, std) of rgb (h, w, 3) into out (3, h, w). */
void ws_aug_normalize(const uint8_t *rgb, int h, int w, float *out);

/* OpenCV cvtColor pieces, exposed for tests: 8-bit BGR<->HSV with hue range 180 or 256 (FULL). */
void ws_bgr2hsv_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr);
void ws_hsv2bgr_u8(const uint8_t *src, uint8_t *dst, int h, int w, int full, int bgr);
#endif

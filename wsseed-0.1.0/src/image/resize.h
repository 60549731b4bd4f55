/* resize.h - Pillow-exact resampling of 8-bit images (Image.resize with BILINEAR / BICUBIC).
 *
 * Separable two-pass convolution exactly as Pillow's Resample.c: the filter widens with the
 * scale when downscaling (antialiasing), coefficients are normalised, rounded to 22-bit fixed
 * point, and the horizontal pass is rounded to 8 bits before the vertical one. It sits in
 * image/, below model/ and data/, because model preprocessing (SAM, Grounding-DINO) and data
 * augmentation both resample.
 */
#ifndef WS_IMAGE_RESIZE_H
#define WS_IMAGE_RESIZE_H

#include <stdint.h>

enum { WS_RESAMPLE_BILINEAR = 2, WS_RESAMPLE_BICUBIC = 3 };   /* PIL's filter numbers */

/* Resizes src (h, w, ch) uint8 interleaved (ch 1..4) into the caller's dst (oh, ow, ch) with PIL
 * filter WS_RESAMPLE_BILINEAR or WS_RESAMPLE_BICUBIC. Returns 0, WS_EINVAL for bad sizes or filter,
 * WS_ENOMEM (message set; dst then undefined). */
int ws_resize_u8(const uint8_t *src, int w, int h, int ch, uint8_t *dst, int ow, int oh, int filter);

/* Pillow NEAREST (labels): output i of an axis takes source index (int)acc_i, acc_0 = scale/2,
 * acc_{i+1} = acc_i + scale, accumulated in double with scale = in/out. Any channel count; dst is
 * the caller's (oh, ow, ch). Returns 0, WS_EINVAL for bad sizes, WS_ENOMEM. */
int ws_resize_nearest_u8(const uint8_t *src, int w, int h, int ch, uint8_t *dst, int ow, int oh);

#endif

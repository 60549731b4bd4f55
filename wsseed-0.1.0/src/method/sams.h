/* sams.h - FMA-WSSS's SAM-based seeding module (gather_norm_bg_argmax) and the CAM upsampling
 * it starts from.
 *
 * Per image: the CAM (P, h, w) upsampled bilinearly to the image; for every SAM mask s the mean
 * of the ReLU'd CAM of each class (u), min-max normalised per class across the masks (v); a
 * background score (1 - max_c v)^p; each mask takes the argmax label and its confidence; masks are
 * painted in ascending (level, confidence) order (stable), later ones winning, background masks
 * painting 0; uncovered pixels stay 0. The caller owns every buffer.
 */
#ifndef WS_METHOD_SAMS_H
#define WS_METHOD_SAMS_H
#include <stdint.h>

/* cam (P, h, w) -> out (P, H, W): F.interpolate(bilinear, align_corners=False) through ATen. */
int ws_cam_upsample(const float *cam, int P, int h, int w, int H, int W, float *out);

typedef struct ws_sams_out {
    float *u;        /* (P, S) mean ReLU'd CAM per mask */
    float *score;    /* (S, P+1): column 0 background, then the classes */
    int64_t *label;  /* (S) seed value: 0 or fg_cls + 1 */
    float *conf;     /* (S) */
    int64_t *order;  /* (S) paint order */
} ws_sams_out;

/* masks: S uncompressed column-major RLEs (values + offsets[S+1], as the mask store) of an H x W
 * image, level[S]; cam_up (P, H, W); fg_cls[P] class indices (seed value fg_cls + 1). seed (H, W)
 * receives the seed map; out's arrays (caller-allocated, any may be NULL) the intermediates. */
int ws_sams_seed(const float *cam_up, int P, int H, int W, const int64_t *fg_cls, const int64_t *rle_values,
                 const int64_t *rle_offsets, const int64_t *level, int S, double pow_bg, uint8_t *seed,
                 ws_sams_out *out);
#endif

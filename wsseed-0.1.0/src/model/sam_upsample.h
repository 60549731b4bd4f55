/* sam_upsample.h - SAM's postprocess_masks upsampling computed in C, bit for bit, for the mask
 * generator (where upsampling every decoded mask dominated everything but the network passes).
 *
 * Kept apart from sam.c (the network) because it is plain C kernels with run-time selected SIMD
 * variants; the only thing it needs from the model is its input size S.
 */
#ifndef WS_MODEL_SAM_UPSAMPLE_H
#define WS_MODEL_SAM_UPSAMPLE_H

#include <stdint.h>

#include "model/sam.h"

/* ws_sam_postprocess's two bilinear resizes on plain floats: low holds n_maps float maps (lh, lw)
 * in C order (m's decoder output at input size S = m->img_size), out receives n_maps maps (h, w)
 * (caller-owned, n_maps * h * w floats); rh, rw is the resized input size. Each map is streamed
 * row by row (every source and intermediate row computed once, only those the output reads), maps
 * are split over `threads` threads (1..16; fewer when threads cannot start). counts, when not
 * NULL, receives per map the number of logits > +thr and > -thr (the stability score's
 * intersection and union), 2 int32 per map. Returns 0 or WS_ENOMEM (message set). */
int ws_sam_upsample_logits(const ws_sam *m, const float *low, int n_maps, int lh, int lw, int rh, int rw, int h,
                           int w, float *out, float thr, int32_t *counts, int threads);

/* Tests: force the upsampling kernels' SIMD level (2 AVX-512, 1 AVX2 + FMA, 0 portable C; -1 = by
 * CPU, the default). Not thread-safe: call it while no upsampling runs. The caller must not force a
 * level the CPU lacks. */
void ws_sam_upsample_force_simd(int level);

#endif

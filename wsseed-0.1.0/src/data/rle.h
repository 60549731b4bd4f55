/* rle.h - uncompressed COCO run-length encoding of binary masks (column-major, first run = 0s),
 * the format of SAM's mask generator (output_mode "uncompressed_rle") and of the mask store. */
#ifndef WS_DATA_RLE_H
#define WS_DATA_RLE_H

#include <stdint.h>

/* Counts of a (H, W) row-major 0/1 mask scanned in column-major order; *counts malloc'd. */
int ws_rle_encode(const uint8_t *mask, int H, int W, int64_t **counts, int *n);
/* Decodes counts into a (H, W) row-major mask of 0 / `one`; fails when the counts do not cover
 * exactly H*W pixels. */
int ws_rle_decode(const int64_t *counts, int64_t n, int64_t H, int64_t W, uint8_t one, uint8_t *mask);
/* Concatenates k count lists into *values (sum of lengths) and *offsets (k+1), both malloc'd. */
int ws_rle_concat(int64_t *const *counts, const int *lens, int k, int64_t **values, int64_t **offsets, int64_t *total);

#endif

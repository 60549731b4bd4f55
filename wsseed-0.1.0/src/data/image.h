/* image.h - decoding JPEG and PNG files into 8-bit RGB, and writing 8-bit PNGs.
 * Pixels are row-major interleaved RGB (H, W, 3) uint8, as PIL's Image.convert('RGB'). */
#ifndef WS_DATA_IMAGE_H
#define WS_DATA_IMAGE_H

#include <stdint.h>

typedef struct ws_image {
    int w, h;
    uint8_t *rgb;   /* (h, w, 3), owned */
} ws_image;

/* Reads a JPEG or PNG (chosen by content); fails naming the file when it is missing,
 * truncated or corrupt. Grey and palette images are converted to RGB. */
int ws_image_read(const char *path, ws_image *img);
void ws_image_free(ws_image *img);   /* zeroed image is a no-op */

/* Writes an 8-bit single-channel PNG (h, w); palette (256 RGB triples) may be NULL for grey.
 * The file appears atomically (temp file + rename). */
int ws_png_write_u8(const char *path, const uint8_t *data, int w, int h, const uint8_t *palette);

/* Reads a label map: an 8-bit palette or greyscale PNG as its raw indices (h, w) (VOC's
 * SegmentationClass[Aug], seeds). *data is malloc'd. Other PNG kinds fail naming the file. */
int ws_png_read_index(const char *path, uint8_t **data, int *w, int *h);
/* Writes an RGB JPEG (quality 1..100) atomically (temp file + rename). */
int ws_jpeg_write(const char *path, const uint8_t *rgb, int w, int h, int quality);

#endif

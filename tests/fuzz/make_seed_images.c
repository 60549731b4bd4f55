/* make_seed_images.c - writes the JPEG and 8-bit PNG seeds of corpus/image/ with wsseed's own
 * writers (make_seeds.py writes the other PNG kinds): `make -f tests/fuzz/fuzz.mk seeds`. */
#include <stdio.h>
#include <stdlib.h>

#include "data/image.h"

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    uint8_t rgb[5 * 7 * 3], idx[5 * 7], pal[768];
    for (int i = 0; i < 5 * 7 * 3; i++) rgb[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 5 * 7; i++) idx[i] = (uint8_t)(i % 3 ? i % 21 : 255);
    for (int i = 0; i < 768; i++) pal[i] = (uint8_t)i;
    char p[4096];
    int rc = 0;
    snprintf(p, sizeof p, "%s/rgb_7x5.jpg", argv[1]);
    rc |= ws_jpeg_write(p, rgb, 7, 5, 90);
    snprintf(p, sizeof p, "%s/rgb_1x1.jpg", argv[1]);
    rc |= ws_jpeg_write(p, rgb, 1, 1, 50);
    snprintf(p, sizeof p, "%s/palette_7x5.png", argv[1]);
    rc |= ws_png_write_u8(p, idx, 7, 5, pal);
    snprintf(p, sizeof p, "%s/grey_7x5.png", argv[1]);
    rc |= ws_png_write_u8(p, idx, 7, 5, NULL);
    return rc ? 1 : 0;
}

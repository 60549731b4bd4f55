/* jpegcmyk.c - four-component JPEGs for the input tests, and what wsseed's reader makes of an image.
 *   jpegcmyk write OUT.jpg cmyk|ycck patches|noise [--no-adobe]
 *       writes a 64x32 JPEG with libjpeg at quality 100 from stored samples (C,M,Y,K): "patches" are
 *       eight flat 16x16 squares whose samples are the table below (grey ones for ycck, whose chroma
 *       then stays flat so the samples come back exactly), "noise" is a fixed pseudo-random image;
 *       --no-adobe leaves out the Adobe marker (cmyk only)
 *   jpegcmyk flat OUT.jpg W H
 *       writes a mid-grey RGB JPEG of W x H pixels (any size libjpeg allows, fast: for the size checks)
 *   jpegcmyk label OUT.png W H V
 *       writes a W x H greyscale label map, every pixel V
 *   jpegcmyk dump FILE
 *       prints "W H" then one "R G B" line per pixel, as ws_image_read decodes FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "core/status.h"
#include "data/image.h"

enum { W = 64, H = 32 };

/* stored samples of the patches, in the order left to right, top row then bottom row */
static const int PATCH[2][8][4] = {
    {{255, 255, 255, 255}, {0, 255, 255, 255}, {255, 0, 255, 200}, {255, 255, 0, 100},
     {40, 90, 160, 230}, {200, 10, 70, 0}, {128, 128, 128, 128}, {0, 0, 0, 0}},
    {{255, 255, 255, 255}, {0, 0, 0, 255}, {100, 100, 100, 200}, {200, 200, 200, 100},
     {30, 30, 30, 230}, {77, 77, 77, 0}, {128, 128, 128, 128}, {250, 250, 250, 17}},
};

static void sample(int ycck, int noise, int x, int y, JSAMPLE *out)
{
    static unsigned s = 12345u;
    for (int ch = 0; ch < 4; ch++) {
        if (noise) { s = s * 1103515245u + 12345u; out[ch] = (JSAMPLE)((s >> 16) & 255); }
        else out[ch] = (JSAMPLE)PATCH[ycck][(y / 16) * 4 + x / 16][ch];
    }
}

static int write_jpeg(const char *path, int ycck, int noise, int adobe)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) { perror(path); return 1; }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = W;
    c.image_height = H;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, ycck ? JCS_YCCK : JCS_CMYK);
    c.write_Adobe_marker = (boolean)adobe;
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    JSAMPLE row[W * 4];
    while (c.next_scanline < H) {
        for (int x = 0; x < W; x++) sample(ycck, noise, x, (int)c.next_scanline, row + 4 * x);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(fp) != 0;
}

static int write_flat(const char *path, int w, int h)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || w < 1 || h < 1) { fprintf(stderr, "jpegcmyk: cannot write %s at %dx%d\n", path, w, h); return 1; }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    JSAMPLE *row = malloc((size_t)w * 3);
    if (row) memset(row, 128, (size_t)w * 3);
    while (row && c.next_scanline < c.image_height) jpeg_write_scanlines(&c, &row, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return fclose(fp) != 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "flat")) return write_flat(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 6 && !strcmp(argv[1], "label")) {
        int w = atoi(argv[3]), h = atoi(argv[4]);
        uint8_t *m = w > 0 && h > 0 ? malloc((size_t)w * h) : NULL;
        if (m) memset(m, atoi(argv[5]), (size_t)w * h);
        int rc = !m || ws_png_write_u8(argv[2], m, w, h, NULL);
        free(m);
        return rc;
    }
    if (argc >= 5 && !strcmp(argv[1], "write"))
        return write_jpeg(argv[2], !strcmp(argv[3], "ycck"), !strcmp(argv[4], "noise"),
                          !(argc >= 6 && !strcmp(argv[5], "--no-adobe")));
    ws_image im;
    if (argc != 3 || strcmp(argv[1], "dump")) {
        fprintf(stderr, "usage: jpegcmyk write OUT.jpg cmyk|ycck patches|noise [--no-adobe] | jpegcmyk dump FILE\n");
        return 2;
    }
    if (ws_image_read(argv[2], &im)) { fprintf(stderr, "jpegcmyk: %s\n", ws_last_error()); return 1; }
    printf("%d %d\n", im.w, im.h);
    for (long i = 0; i < (long)im.w * im.h; i++) printf("%d %d %d\n", im.rgb[3 * i], im.rgb[3 * i + 1], im.rgb[3 * i + 2]);
    ws_image_free(&im);
    return 0;
}

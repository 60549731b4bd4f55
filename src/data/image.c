/* image.c - JPEG (libjpeg) and PNG (libpng) decoding into RGB, label-map PNGs as class indices,
 * and atomic 8-bit PNG and JPEG writing (see image.h).
 *
 * Decoding follows PIL (the reader of the official code): libjpeg's default decompression settings
 * and RGB output, PNG grey/palette expanded to RGB for images, but label maps read as their raw
 * palette indices, which is what PIL's Image.open gives for a "P" PNG.
 */
#include "data/image.h"

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "core/fs.h"
#include "core/status.h"

/* err: errno when the error was raised (a failed write of the output file: ENOSPC names a full disk) */
typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; char msg[JMSG_LENGTH_MAX]; int warned, err; } jerr_t;

/* libjpeg's default error_exit calls exit(); only src/cli may end the process, so errors jump back to the
 * reader, which frees its buffer and names the file. */
static void jpeg_fail(j_common_ptr c)
{
    jerr_t *e = (jerr_t *)c->err;
    e->err = errno;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* A 4-component JPEG (CMYK, or YCCK which libjpeg turns into CMYK) as PIL's Image.open + convert('RGB')
 * gives it: JpegImagePlugin always reads such a file with rawmode "CMYK;I" (Adobe's inverted polarity,
 * whether or not an Adobe marker is present), and Convert.c's cmyk2rgb then computes, with the inverted
 * samples c,m,y,k, nk = 255 - k and R = nk - round(c * nk / 255) (its MULDIV255 rounding), the same for G
 * and B. In stored samples that is nk = K and R = K - round((255 - C) * K / 255). */
static void cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int w)
{
    for (int x = 0; x < w; x++, cmyk += 4, rgb += 3) {
        int nk = cmyk[3];
        for (int ch = 0; ch < 3; ch++) {
            int t = (255 - cmyk[ch]) * nk + 128;
            rgb[ch] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
}

/* A few hundred bytes of header can declare a 65500 x 65500 image: the buffer would take gigabytes and the
 * decoder minutes before the data turns out to be missing. Like PIL (DecompressionBombError above twice its
 * MAX_IMAGE_PIXELS, 2 x 89478485), larger images are refused by size, before anything is allocated. */
#define WS_IMAGE_MAX_PIXELS 178956970LL

static int too_large(const char *path, uint64_t w, uint64_t h)
{
    if (w * h <= WS_IMAGE_MAX_PIXELS) return 0;
    return ws_fail(WS_EFORMAT, "%s: %llux%llu pixels is more than wsseed decodes (%lld; PIL refuses these too): a "
                   "corrupt header, or an image to downscale first", path, (unsigned long long)w, (unsigned long long)h,
                   (long long)WS_IMAGE_MAX_PIXELS);
}

/* libjpeg pads a truncated file with grey and goes on after a warning; a truncated download that decodes
 * "successfully" would poison every stage downstream, so the first warning fails the read at once (not
 * after decoding the rest, nor after libjpeg has skipped a bogus marker length past the end of the file
 * two padding bytes at a time: seconds for a 700-byte file). Trace messages (level > 0) are ignored. */
static void jpeg_warn(j_common_ptr c, int level)
{
    jerr_t *e = (jerr_t *)c->err;
    if (level >= 0) return;
    (*c->err->format_message)(c, e->msg);
    e->warned = 1;
    longjmp(e->jb, 1);
}

static int read_jpeg(FILE *fp, const char *path, ws_image *img)
{
    struct jpeg_decompress_struct c;
    jerr_t e;
    uint8_t *volatile buf = NULL;
    uint8_t *volatile row4 = NULL;
    /* volatile: buf and row4 are assigned after setjmp and freed after the longjmp, where a non-volatile
     * local would be indeterminate. */
    c.err = jpeg_std_error(&e.pub);
    void (*std_emit)(j_common_ptr, int) = e.pub.emit_message;
    e.pub.error_exit = jpeg_fail;
    e.pub.emit_message = jpeg_warn;
    e.warned = 0;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&c);
        free(buf);
        free(row4);
        return ws_fail(WS_EFORMAT, e.warned ? "%s: truncated or damaged JPEG data (%s)" : "%s: corrupt or truncated JPEG (%s)",
                       path, e.msg);
    }
    jpeg_create_decompress(&c);
    jpeg_stdio_src(&c, fp);
    jpeg_read_header(&c, TRUE);
    if (too_large(path, c.image_width, c.image_height)) {
        jpeg_destroy_decompress(&c);
        return WS_EFORMAT;
    }
    /* Greyscale JPEGs come out as RGB too, as with PIL's convert('RGB'); the decoder settings stay libjpeg's
     * defaults (islow IDCT, fancy upsampling), which PIL uses too, so pixels match PIL's for the same
     * libjpeg. CMYK and YCCK files are decoded to CMYK (libjpeg does the YCCK step) and converted below. */
    int four = c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
    c.out_color_space = four ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&c);
    size_t stride = (size_t)c.output_width * 3;
    /* A size libjpeg accepts (up to 65500 a side) can still be more than this machine has: say so with
     * the size instead of reporting the file as corrupt. */
    buf = malloc(stride * c.output_height);
    if (four) row4 = malloc((size_t)c.output_width * 4);
    if (!buf || (four && !row4)) {
        jpeg_destroy_decompress(&c);
        free(buf);
        free(row4);
        return ws_fail(WS_ENOMEM, "%s: out of memory for its %ux%u pixels (%.1f GB)", path, c.output_width,
                       c.output_height, (double)stride * c.output_height / 1e9);
    }
    while (c.output_scanline < c.output_height) {
        JSAMPROW row = buf + stride * c.output_scanline;
        if (!four) { jpeg_read_scanlines(&c, &row, 1); continue; }
        JSAMPROW r4 = row4;
        jpeg_read_scanlines(&c, &r4, 1);
        cmyk_row_to_rgb(row4, row, (int)c.output_width);
    }
    free(row4);
    row4 = NULL;
    /* Every pixel is read: what libjpeg still warns about on the way to the end marker was never refused. */
    e.pub.emit_message = std_emit;
    jpeg_finish_decompress(&c);
    img->w = (int)c.output_width;
    img->h = (int)c.output_height;
    img->rgb = buf;
    jpeg_destroy_decompress(&c);
    return 0;
}

static int read_png(FILE *fp, const char *path, ws_image *img)
{
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&p, fp))
        return ws_fail(WS_EFORMAT, "%s: corrupt PNG (%s)", path, p.message);
    /* The simplified libpng API expands palette, grey and 16-bit images and drops alpha, like
     * convert('RGB') on an opaque image. */
    p.format = PNG_FORMAT_RGB;
    if (too_large(path, p.width, p.height)) { png_image_free(&p); return WS_EFORMAT; }
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(p));
    if (!buf) { png_image_free(&p); return ws_fail(WS_ENOMEM, "%s: out of memory", path); }
    if (!png_image_finish_read(&p, NULL, buf, 0, NULL)) {
        free(buf);
        return ws_fail(WS_EFORMAT, "%s: corrupt or truncated PNG (%s)", path, p.message);
    }
    img->w = (int)p.width;
    img->h = (int)p.height;
    img->rgb = buf;
    return 0;
}

int ws_image_read(const char *path, ws_image *img)
{
    unsigned char magic[8] = {0};
    memset(img, 0, sizeof *img);
    FILE *fp = fopen(path, "rb");
    if (!fp) return ws_fail(WS_EIO, "cannot open image %s", path);
    size_t n = fread(magic, 1, sizeof magic, fp);
    rewind(fp);
    int rc;
    /* By content, not by extension, so a misnamed file still decodes, or fails saying what it is not. */
    if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) rc = read_jpeg(fp, path, img);
    else if (n == 8 && !png_sig_cmp(magic, 0, 8)) rc = read_png(fp, path, img);
    else rc = ws_fail(WS_EFORMAT, "%s is neither a JPEG nor a PNG image", path);
    fclose(fp);
    return rc;
}

static int jpeg_size(FILE *fp, const char *path, int *w, int *h)
{
    struct jpeg_decompress_struct c;
    jerr_t e;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_fail;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&c);
        return ws_fail(WS_EFORMAT, "%s: corrupt or truncated JPEG (%s)", path, e.msg);
    }
    jpeg_create_decompress(&c);
    jpeg_stdio_src(&c, fp);
    jpeg_read_header(&c, TRUE);
    *w = (int)c.image_width;
    *h = (int)c.image_height;
    jpeg_destroy_decompress(&c);
    return 0;
}

int ws_image_size(const char *path, int *w, int *h)
{
    unsigned char magic[8] = {0};
    *w = *h = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ws_fail(WS_EIO, "cannot open image %s", path);
    size_t n = fread(magic, 1, sizeof magic, fp);
    rewind(fp);
    int rc = 0;
    if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) rc = jpeg_size(fp, path, w, h);
    else if (n == 8 && !png_sig_cmp(magic, 0, 8)) {
        png_image p;
        memset(&p, 0, sizeof p);
        p.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_stdio(&p, fp)) rc = ws_fail(WS_EFORMAT, "%s: corrupt PNG (%s)", path, p.message);
        *w = (int)p.width;
        *h = (int)p.height;
        png_image_free(&p);
    } else rc = ws_fail(WS_EFORMAT, "%s is neither a JPEG nor a PNG image", path);
    fclose(fp);
    return rc;
}

void ws_image_free(ws_image *img)
{
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

int ws_png_write_u8(const char *path, const uint8_t *data, int w, int h, const uint8_t *palette)
{
    char tmp[4200];
    FILE *fp = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!fp) return WS_EIO;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        int err = errno;   /* libpng's "Write Error" comes straight from a short fwrite */
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        remove(tmp);
        if (err == ENOSPC || err == EDQUOT) return ws_fs_fail_write(err, path);
        return ws_fail(WS_EIO, "cannot write PNG %s", path);
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color pal[256];
        for (int i = 0; i < 256; i++) { pal[i].red = palette[3 * i]; pal[i].green = palette[3 * i + 1]; pal[i].blue = palette[3 * i + 2]; }
        /* A palette PNG stores the class index as the pixel value: PIL opens it as mode "P" and
         * mmsegmentation reads the indices directly, while viewers show the VOC colours. */
        png_set_PLTE(png, info, pal, 256);
    }
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(data + (size_t)y * w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return ws_fs_commit_file(fp, tmp, path);
}

/* ---- label maps and JPEG writing ------------------------------------------------------------ */

int ws_png_read_index(const char *path, uint8_t **data, int *w, int *h)
{
    FILE *fp = fopen(path, "rb");
    *data = NULL;
    if (!fp) return ws_fail(WS_EIO, "cannot open label map %s", path);
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    int rc = 0;
    if (!p || !info) { rc = ws_fail(WS_ENOMEM, "%s: out of memory", path); goto done; }
    if (setjmp(png_jmpbuf(p))) { rc = ws_fail(WS_EFORMAT, "%s: corrupt or truncated PNG", path); goto done; }
    png_init_io(p, fp);
    png_read_info(p, info);
    int ct = png_get_color_type(p, info), bd = png_get_bit_depth(p, info);
    if ((rc = too_large(path, png_get_image_width(p, info), png_get_image_height(p, info)))) goto done;
    /* An RGB label map would have to be mapped back through a palette; refusing it names the problem (usually
     * a colour-rendered map saved by a viewer) instead of reading colours as classes. */
    if ((ct != PNG_COLOR_TYPE_PALETTE && ct != PNG_COLOR_TYPE_GRAY) || bd > 8) {
        rc = ws_fail(WS_EFORMAT, "%s: a label map must be an 8-bit palette or greyscale PNG (class index per "
                     "pixel), not colour type %d with %d bits", path, ct, bd);
        goto done;
    }
    /* Sub-byte palettes (1/2/4 bits, what some tools write for few classes) unpacked to one byte per pixel.
     * No palette expansion is requested: the indices are the data. */
    if (bd < 8) png_set_packing(p);
    png_read_update_info(p, info);
    int W = (int)png_get_image_width(p, info), H = (int)png_get_image_height(p, info);
    buf = malloc((size_t)W * H);
    rows = malloc((size_t)H * sizeof *rows);
    if (!buf || !rows) { rc = ws_fail(WS_ENOMEM, "%s: out of memory", path); goto done; }
    for (int y = 0; y < H; y++) rows[y] = buf + (size_t)y * W;
    png_read_image(p, rows);
    png_read_end(p, NULL);
    *data = buf;
    buf = NULL;
    *w = W;
    *h = H;
done:
    png_destroy_read_struct(p ? &p : NULL, info ? &info : NULL, NULL);
    free(buf);
    free(rows);
    fclose(fp);
    return rc;
}

int ws_jpeg_write(const char *path, const uint8_t *rgb, int w, int h, int quality)
{
    char tmp[4200];
    FILE *fp = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!fp) return WS_EIO;
    struct jpeg_compress_struct c;
    jerr_t e;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_fail;
    e.err = 0;
    if (setjmp(e.jb)) {
        jpeg_destroy_compress(&c);
        fclose(fp);
        remove(tmp);
        /* libjpeg's stdio destination fails on a short fwrite (JERR_FILE_WRITE): say why, as every writer does */
        if (e.pub.msg_code == JERR_FILE_WRITE) return ws_fs_fail_write(e.err, path);
        return ws_fail(WS_EIO, "%s: JPEG encoding failed (%s)", path, e.msg);
    }
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return ws_fs_commit_file(fp, tmp, path);
}

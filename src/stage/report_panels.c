/* report_panels.c - the image panels of report.html (see report_panels.h).
 *
 * Owns the in-memory PNG encoder and base64 embedding, the overlays (labels blended over the photo,
 * the CAM heat map, SAM mask outlines) and the per-row legend of class colours. Everything is
 * embedded as data: URIs so the report can be mailed or copied off a headless machine on its own.
 */
#define _POSIX_C_SOURCE 200809L
#include "stage/report_panels.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/rle.h"
#include "io/camstore.h"
#include "io/h5.h"
#include "io/store.h"
#include "stage/svg.h"

/* ---- PNG in memory + base64 ---------------------------------------------------------------- */

typedef struct { uint8_t *p; size_t n, cap; int err; } membuf;

/* libpng's write callback cannot return an error: a failed allocation is remembered in err and reported after
 * png_write_end. */
static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->n + n > m->cap) {
        size_t cap = (m->cap ? 2 * m->cap : 65536) + n;
        uint8_t *p = realloc(m->p, cap);
        if (!p) { m->err = 1; return; }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
}

static void mem_flush(png_structp png) { (void)png; }

int ws_png_encode_rgb(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
        free(m.p);
        return ws_fail(WS_ENOMEM, "PNG encoding failed");
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (m.err) { free(m.p); return ws_fail(WS_ENOMEM, "PNG encoding: out of memory"); }
    *out = m.p;
    *len = m.n;
    return 0;
}

/* RFC 4648 base64 with '=' padding, what browsers accept in a data: URI. */
static void put_base64(FILE *f, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

/* <img> with an embedded PNG of rgb (w, h). */
static int put_img(FILE *f, const uint8_t *rgb, int w, int h, const char *title)
{
    uint8_t *png = NULL;
    size_t n = 0;
    int rc = ws_png_encode_rgb(rgb, w, h, &png, &n);
    if (rc) return rc;
    fprintf(f, "<figure class=panel><img alt=\"%s\" width=\"%d\" height=\"%d\" src=\"data:image/png;base64,", title, w, h);
    put_base64(f, png, n);
    fprintf(f, "\"><figcaption>%s</figcaption></figure>\n", title);
    free(png);
    return 0;
}

/* ---- image panels -------------------------------------------------------------------------- */

static void overlay(uint8_t *dst, const uint8_t *rgb, const uint8_t *lab, size_t n, const uint8_t *pal)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            /* Background darkens the photo, 255 (VOC's ignore border) shows white, a class blends its palette
             * colour at 2/3 so the object stays recognisable under it. */
            int l = lab[i], v = l == 0 ? rgb[3 * i + k] / 2 : l == 255 ? 255 : (rgb[3 * i + k] + 2 * pal[3 * l + k]) / 3;
            dst[3 * i + k] = (uint8_t)v;
        }
}

/* Max over classes of the ReLU'd CAM, bilinearly upsampled for display, as a heat map blend. */
static int heat(uint8_t *dst, const uint8_t *rgb, int W, int H, const char *store, const char *id)
{
    ws_h5file f = {0};
    ws_cam_rec cam = {0};
    /* a report shows what exists: an image without a CAM gets no heat map, not an error */
    if (!store || ws_h5_open(&f, store) || !ws_camstore_has(&f, id) || ws_camstore_read(&f, id, 0, &cam)) {
        ws_h5_close(&f);
        ws_clear_error();
        return 0;
    }
    ws_h5_close(&f);
    const int P = cam.P, h = cam.h, w = cam.w;
    const float *c = cam.cam;
    float mx = 1e-12f;
    for (int64_t i = 0; i < (int64_t)P * h * w; i++) mx = c[i] > mx ? c[i] : mx;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            /* Half-pixel centres (align_corners=False), the mapping the seeds' upsampling uses, so the heat
             * map lines up with the seed panel; negative CAM values count as 0 (best starts at 0). */
            float sy = (y + 0.5f) * h / H - 0.5f, sx = (x + 0.5f) * w / W - 0.5f;
            int y0 = (int)floorf(sy), x0 = (int)floorf(sx);
            float fy = sy - y0, fx = sx - x0, best = 0;
            for (int k = 0; k < P; k++) {
                float v = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int yy = y0 + dy < 0 ? 0 : y0 + dy >= h ? h - 1 : y0 + dy;
                        int xx = x0 + dx < 0 ? 0 : x0 + dx >= w ? w - 1 : x0 + dx;
                        v += (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx) * c[((size_t)k * h + yy) * w + xx];
                    }
                best = v > best ? v : best;
            }
            /* Normalised by the image's largest value: only the shape of the CAM is shown, not its scale. */
            uint8_t col[3];
            ws_svg_ramp_heat(best / mx, col);   /* the colours of the scale printed under the panel */
            for (int k = 0; k < 3; k++) dst[((size_t)y * W + x) * 3 + k] = (uint8_t)((rgb[((size_t)y * W + x) * 3 + k] + 2 * col[k]) / 3);
        }
    ws_cam_rec_free(&cam);
    return 1;
}


/* The SAM masks of image id outlined over the darkened photo, each mask in its own colour (hues a
 * golden angle apart, so neighbours differ). Returns the mask count, 0 when the store lacks the
 * image or its size differs, <0 on a memory failure. */
static int outline(uint8_t *dst, const uint8_t *rgb, int W, int H, const char *store, const char *id)
{
    ws_mask_set ms = {0};
    if (!store || ws_store_read(store, id, &ms) || ms.H != H || ms.W != W) {
        ws_mask_set_free(&ms);
        ws_clear_error();
        return 0;
    }
    const size_t n = (size_t)W * H;
    uint8_t *m = malloc(n);
    if (!m) { ws_mask_set_free(&ms); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < 3 * n; i++) dst[i] = (uint8_t)(rgb[i] * 3 / 5);
    for (int k = 0; k < ms.n; k++) {
        if (ws_rle_decode(ms.r[k].rle, ms.r[k].n_rle, H, W, 1, m)) { ws_clear_error(); continue; }
        double hue = fmod(k * 137.508, 360) / 60;
        uint8_t col[3];
        for (int c = 0; c < 3; c++) {   /* HSV (hue, 1, 1) to RGB */
            double q = fmod(5 - 2 * c + hue, 6), v = fmin(fmin(q, 4 - q), 1);
            col[c] = (uint8_t)(255 * (1 - (v > 0 ? v : 0)));
        }
        /* a pixel of the mask whose right or lower neighbour is outside it (or the image edge) */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t i = (size_t)y * W + x;
                if (!m[i]) continue;
                int edge = x == 0 || y == 0 || x == W - 1 || y == H - 1 || !m[i - 1] || !m[i + 1] || !m[i - W] || !m[i + W];
                if (edge) memcpy(dst + 3 * i, col, 3);
            }
    }
    int count = ms.n;
    free(m);
    ws_mask_set_free(&ms);
    return count;
}

/* Marks in seen[] the label values of map lab (n pixels). */
static void mark_labels(const uint8_t *lab, size_t n, uint8_t seen[256])
{
    for (size_t i = 0; i < n; i++) seen[lab[i]] = 1;
}

/* The legend of the class colours in the row: every label value seen in its ground truth and seeds. */
static void put_legend(FILE *f, const uint8_t seen[256], const ws_report_input *r, const uint8_t *pal)
{
    fputs("<ul class=legend>", f);
    for (int l = 0; l < 256; l++) {
        if (!seen[l]) continue;
        if (l == 255) { fputs("<li><span style=\"background:#fff\"></span>255: ignored</li>", f); continue; }
        /* the colour a class is blended with over the photo; background shows as the darkened photo */
        fprintf(f, "<li><span style=\"background:#%02x%02x%02x\"></span>%d: ", l ? pal[3 * l] : 64, l ? pal[3 * l + 1] : 64,
                l ? pal[3 * l + 2] : 64, l);
        ws_html_puts(f, l < r->n_classes ? r->class_names[l] : "(not a class)");
        fputs("</li>", f);
    }
    fputs("</ul>\n", f);
}

/* The label panel `title` of map dir/<id>.png over the photo, when it exists at the photo's size. */
static int label_panel(FILE *f, const char *dir, const char *id, const ws_image *im, uint8_t *buf, const uint8_t *pal,
                       const char *title, uint8_t seen[256])
{
    char path[4096];
    uint8_t *lab = NULL;
    int w, h, rc = 0;
    snprintf(path, sizeof path, "%s/%s.png", dir, id);
    /* A missing or mis-sized map only drops its panel: the report shows what exists. */
    if (!ws_png_read_index(path, &lab, &w, &h) && w == im->w && h == im->h) {
        overlay(buf, im->rgb, lab, (size_t)w * h, pal);
        mark_labels(lab, (size_t)w * h, seen);
        rc = put_img(f, buf, im->w, im->h, title);
    }
    ws_clear_error();
    free(lab);
    return rc;
}

int ws_report_image_row(FILE *f, const ws_report_input *r, const char *id, const uint8_t *pal)
{
    char path[4096];
    ws_image im = {0};
    uint8_t *buf = NULL, seen[256] = {0};
    int rc;
    char *imgdir = ws_dataset_path(r->root, r->image_dir, r->split);
    if (!imgdir) return ws_fail(WS_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/%s.jpg", imgdir, id);
    free(imgdir);
    if ((rc = ws_image_read(path, &im))) return rc;
    if (!(buf = malloc((size_t)im.w * im.h * 3))) { ws_image_free(&im); return ws_fail(WS_ENOMEM, "out of memory"); }
    fputs("<section class=row><h3>", f);
    ws_html_puts(f, id);
    fprintf(f, " <small>%d &times; %d px</small></h3><div class=panels>\n", im.w, im.h);
    rc = put_img(f, im.rgb, im.w, im.h, "image");
    if (!rc && r->label_dir && r->label_dir[0]) {
        char *gdir = ws_dataset_path(r->root, r->label_dir, r->split);
        rc = gdir ? label_panel(f, gdir, id, &im, buf, pal, "ground truth", seen) : ws_fail(WS_ENOMEM, "out of memory");
        free(gdir);
    }
    if (!rc && heat(buf, im.rgb, im.w, im.h, r->cams[1], id)) {
        fputs("<div class=stack>", f);
        rc = put_img(f, buf, im.w, im.h, "fine CAM (after CAA), max over classes");
        if (!rc) ws_svg_colour_scale(f, "CAM / image max", 0, 1, ws_svg_ramp_heat);
        fputs("</div>", f);
    }
    for (int t = 0; t < 2 && !rc; t++) rc = label_panel(f, r->seeds[t], id, &im, buf, pal, t ? "fine seed" : "coarse seed", seen);
    int nm = rc ? 0 : outline(buf, im.rgb, im.w, im.h, r->masks, id);
    if (nm < 0) rc = nm;
    if (nm > 0) {
        char cap[96];
        snprintf(cap, sizeof cap, "SAM masks (%d), outlined", nm);
        rc = put_img(f, buf, im.w, im.h, cap);
    }
    fputs("</div>\n", f);
    put_legend(f, seen, r, pal);
    fputs("</section>\n", f);
    free(buf);
    ws_image_free(&im);
    return rc;
}

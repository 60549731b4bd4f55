/* report.c - the report stage (see report.h): one self-contained report.html per pipeline run.
 *
 * Owns a tiny raster plotter (lines, bars, a scatter PNG for sweeps), the in-memory PNG encoder and
 * base64 embedding, and the image panels (ground truth, CAM heat map, seeds). Everything is
 * embedded as data: URIs so the file can be mailed or copied off a headless machine on its own;
 * plotting is done here rather than by a plotting library to keep the dependencies at libpng.
 */
#define _POSIX_C_SOURCE 200809L
#include "stage/report.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/camstore.h"
#include "io/h5.h"

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
    fprintf(f, "<figure><img alt=\"%s\" src=\"data:image/png;base64,", title);
    put_base64(f, png, n);
    fprintf(f, "\"><figcaption>%s</figcaption></figure>\n", title);
    free(png);
    return 0;
}

/* ---- plots --------------------------------------------------------------------------------- */

typedef struct { int w, h; uint8_t *p; } canvas;

static void px(canvas *c, int x, int y, const uint8_t col[3])
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->p + ((size_t)y * c->w + x) * 3, col, 3);
}

static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t col[3])
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        px(c, x0, y0, col);
        px(c, x0, y0 + 1, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const uint8_t col[3])
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) px(c, x, y, col);
}

/* A line chart of y(x) (n points) on a 480x200 canvas with a frame, embedded as an <img>; the y
 * range is printed in the caption because the canvas carries no axis labels (no font rendering).
 * logy plots log10(y) (the learning rate spans decades); non-finite points are skipped. */
static int chart(FILE *f, const double *x, const double *y, int n, const char *title, int logy)
{
    canvas c = {480, 200, NULL};
    static const uint8_t black[3] = {40, 40, 40}, blue[3] = {31, 119, 180}, grey[3] = {225, 225, 225};
    if (!(c.p = malloc((size_t)c.w * c.h * 3))) return ws_fail(WS_ENOMEM, "out of memory");
    memset(c.p, 255, (size_t)c.w * c.h * 3);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        double v = logy ? log10(y[i] > 0 ? y[i] : 1e-12) : y[i];
        if (!isfinite(v)) continue;
        x0 = fmin(x0, x[i]); x1 = fmax(x1, x[i]); y0 = fmin(y0, v); y1 = fmax(y1, v);
    }
    /* A single point or a flat curve would divide by zero below: widen the range instead. */
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) { y1 = y0 + 1; y0 -= 1; }
    const int L = 10, R = c.w - 10, T = 10, B = c.h - 10;
    for (int k = 1; k < 4; k++) line(&c, L, T + k * (B - T) / 4, R, T + k * (B - T) / 4, grey);
    line(&c, L, T, L, B, black);
    line(&c, L, B, R, B, black);
    int px0 = -1, py0 = -1;
    for (int i = 0; i < n; i++) {
        double v = logy ? log10(y[i] > 0 ? y[i] : 1e-12) : y[i];
        if (!isfinite(v)) continue;
        int X = L + (int)((x[i] - x0) / (x1 - x0) * (R - L)), Y = B - (int)((v - y0) / (y1 - y0) * (B - T));
        if (px0 >= 0) line(&c, px0, py0, X, Y, blue);
        px0 = X;
        py0 = Y;
    }
    char cap[256];
    snprintf(cap, sizeof cap, "%s: %s%.4g .. %s%.4g over iterations %.0f .. %.0f", title, logy ? "1e" : "", y0,
             logy ? "1e" : "", y1, x0, x1);
    int rc = put_img(f, c.p, c.w, c.h, cap);
    free(c.p);
    return rc;
}

/* Per-class IoU bars: coarse (orange) and fine (blue) side by side. */
static int bars(FILE *f, const double *const iou[2], int nc)
{
    static const uint8_t col[2][3] = {{255, 127, 14}, {31, 119, 180}}, black[3] = {40, 40, 40};
    canvas c = {24 * nc + 20, 200, NULL};
    if (!(c.p = malloc((size_t)c.w * c.h * 3))) return ws_fail(WS_ENOMEM, "out of memory");
    memset(c.p, 255, (size_t)c.w * c.h * 3);
    for (int k = 0; k < nc; k++)
        for (int t = 0; t < 2; t++) {
            double v = iou[t] && isfinite(iou[t][k]) ? iou[t][k] : 0;
            int x = 10 + 24 * k + 10 * t;
            rect(&c, x, 190 - (int)(v * 180), x + 9, 190, col[t]);
        }
    line(&c, 10, 190, c.w - 10, 190, black);
    int rc = put_img(f, c.p, c.w, c.h, "per-class IoU, class 0 (background) first: coarse (orange) and fine (blue) seeds, bar height 0..1");
    free(c.p);
    return rc;
}

/* Columns iter (0) and k of a metrics.csv. */
static int read_csv(const char *path, int k, double **x, double **y, int *n)
{
    FILE *f = fopen(path, "r");
    char line_[1024];
    int cap = 0;
    *x = *y = NULL;
    *n = 0;
    if (!f) return 0;   /* a run without this training */
    /* The header row (iter,loss,...,lr,... of src/train/rundir.c) is skipped; columns are taken by index. */
    if (!fgets(line_, sizeof line_, f)) { fclose(f); return 0; }
    while (fgets(line_, sizeof line_, f)) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            double *a = realloc(*x, (size_t)cap * sizeof *a), *b = realloc(*y, (size_t)cap * sizeof *b);
            if (a) *x = a;
            if (b) *y = b;
            if (!a || !b) { fclose(f); return ws_fail(WS_ENOMEM, "out of memory"); }
        }
        char *save = NULL, *t = strtok_r(line_, ",", &save);
        double vals[16];
        int m = 0;
        while (t && m < 16) { vals[m++] = atof(t); t = strtok_r(NULL, ",", &save); }
        /* A short row is skipped rather than plotted as 0. */
        if (m <= k) continue;
        (*x)[*n] = vals[0];
        (*y)[*n] = vals[k];
        (*n)++;
    }
    fclose(f);
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
            float t = best / mx;   /* blue -> red */
            uint8_t col[3] = {(uint8_t)(255 * t), (uint8_t)(255 * (1 - fabsf(2 * t - 1))), (uint8_t)(255 * (1 - t))};
            for (int k = 0; k < 3; k++) dst[((size_t)y * W + x) * 3 + k] = (uint8_t)((rgb[((size_t)y * W + x) * 3 + k] + 2 * col[k]) / 3);
        }
    ws_cam_rec_free(&cam);
    return 1;
}

static int image_row(FILE *f, const ws_report_input *r, const char *id, const uint8_t *pal)
{
    char path[4096];
    ws_image im = {0};
    uint8_t *lab = NULL, *buf = NULL;
    int w, h, rc;
    char *imgdir = ws_dataset_path(r->root, r->image_dir, r->split);
    if (!imgdir) return ws_fail(WS_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/%s.jpg", imgdir, id);
    free(imgdir);
    if ((rc = ws_image_read(path, &im))) return rc;
    const size_t n = (size_t)im.w * im.h;
    if (!(buf = malloc(n * 3))) { ws_image_free(&im); return ws_fail(WS_ENOMEM, "out of memory"); }
    fprintf(f, "<div class=row><h3>%s</h3>\n", id);
    rc = put_img(f, im.rgb, im.w, im.h, "image");
    if (!rc && r->label_dir && r->label_dir[0]) {
        char *gdir = ws_dataset_path(r->root, r->label_dir, r->split);
        snprintf(path, sizeof path, "%s/%s.png", gdir ? gdir : "", id);
        free(gdir);
        /* A missing or mis-sized ground-truth map only drops its panel: the report shows what exists. */
        if (!ws_png_read_index(path, &lab, &w, &h) && w == im.w && h == im.h) {
            overlay(buf, im.rgb, lab, n, pal);
            rc = put_img(f, buf, im.w, im.h, "ground truth");
        }
        free(lab);
        lab = NULL;
    }
    if (!rc && heat(buf, im.rgb, im.w, im.h, r->cams[1], id)) rc = put_img(f, buf, im.w, im.h, "fine CAM (after CAA)");
    for (int t = 0; t < 2 && !rc; t++) {
        snprintf(path, sizeof path, "%s/%s.png", r->seeds[t], id);
        if (ws_png_read_index(path, &lab, &w, &h) || w != im.w || h != im.h) { free(lab); lab = NULL; continue; }
        overlay(buf, im.rgb, lab, n, pal);
        rc = put_img(f, buf, im.w, im.h, t ? "fine seed" : "coarse seed");
        free(lab);
        lab = NULL;
    }
    fputs("</div>\n", f);
    free(buf);
    ws_image_free(&im);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ws_stage_report(const ws_report_input *r)
{
    char path[4096], tmp[4200];
    uint8_t pal[768];
    ws_voc_palette(pal);
    snprintf(path, sizeof path, "%s/report.html", r->run_dir);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fprintf(f, "<!doctype html><html><head><meta charset=utf-8><title>wsseed run %s</title><style>"
               "body{font-family:sans-serif;margin:2em;color:#222}figure{display:inline-block;margin:4px}"
               "img{max-width:320px;image-rendering:pixelated}figcaption{font-size:12px;color:#555}"
               ".row{border-top:1px solid #ddd;padding-top:6px}</style></head><body>\n", r->run_dir);
    fprintf(f, "<h1>wsseed pipeline run</h1><p>%s &mdash; dataset %s, split %s</p>\n", r->run_dir, r->root, r->split);
    if (isfinite(r->miou_coarse))
        fprintf(f, "<h2>Seed quality</h2><p>mIoU against the ground truth: coarse seeds <b>%.2f</b>, fine seeds <b>%.2f</b> "
                   "(eval_coarse.md, eval_fine.md)</p>\n", 100 * r->miou_coarse, 100 * r->miou_fine);
    else fputs("<h2>Seed quality</h2><p>No ground truth: not evaluated.</p>\n", f);
    int rc = 0;
    if (r->iou[0] || r->iou[1]) rc = bars(f, r->iou, r->n_classes);
    fputs("<h2>Training</h2>\n", f);
    for (int t = 0; t < 2 && !rc; t++) {
        double *x = NULL, *y = NULL;
        int n = 0;
        /* Columns 1 (loss) and 5 (lr) of metrics.csv. */
        if (!(rc = read_csv(r->metrics[t], 1, &x, &y, &n)) && n) rc = chart(f, x, y, n, t ? "seg loss" : "cls loss", 0);
        free(x); free(y);
        x = y = NULL;
        if (!rc && !(rc = read_csv(r->metrics[t], 5, &x, &y, &n)) && n) rc = chart(f, x, y, n, t ? "seg lr (log10)" : "cls lr (log10)", 1);
        free(x); free(y);
    }
    fputs("<h2>Images</h2>\n", f);
    /* The images shown are the first report.images ids of the fine seeds in name order, so two runs of the
     * same split show the same images side by side. At most 4096 names are read: only the first few are ever
     * shown. */
    DIR *d = rc ? NULL : opendir(r->seeds[1]);
    char *ids[4096];
    int nid = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && nid < 4096) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".png")) ids[nid++] = strndup(e->d_name, l - 4);
    }
    if (d) closedir(d);
    qsort(ids, (size_t)nid, sizeof *ids, cmp_str);
    for (int i = 0; i < nid && i < r->n_images && !rc; i++) rc = image_row(f, r, ids[i], pal);
    for (int i = 0; i < nid; i++) free(ids[i]);
    fputs("<p style=\"color:#777;font-size:12px\">Written by wsseed; self-contained (no external files).</p></body></html>\n", f);
    /* Temp file + rename (core/fs): a failed report leaves the previous report.html intact. */
    if (rc) { fclose(f); remove(tmp); return rc; }
    return ws_fs_commit_file(f, tmp, path);
}

int ws_report_scatter_png(const char *path, const double *x, const double *const y[2], int n, int nx)
{
    static const uint8_t col[2][3] = {{255, 127, 14}, {31, 119, 180}}, black[3] = {40, 40, 40}, grey[3] = {225, 225, 225};
    canvas c = {60 * (nx > 1 ? nx : 2) + 40, 200, NULL};
    if (!(c.p = malloc((size_t)c.w * c.h * 3))) return ws_fail(WS_ENOMEM, "out of memory");
    memset(c.p, 255, (size_t)c.w * c.h * 3);
    for (int k = 0; k <= 4; k++) line(&c, 20, 190 - 45 * k, c.w - 20, 190 - 45 * k, k ? grey : black);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < 2; t++) {
            double v = isfinite(y[t][i]) ? y[t][i] : 0;
            int X = 40 + (int)(x[i] * 60) + 8 * t, Y = 190 - (int)(v * 180);
            rect(&c, X - 3, Y - 3, X + 4, Y + 4, col[t]);
        }
    uint8_t *png = NULL;
    size_t len = 0;
    int rc = ws_png_encode_rgb(c.p, c.w, c.h, &png, &len);
    free(c.p);
    if (rc) return rc;
    rc = ws_fs_write_atomic(path, png, len);
    free(png);
    return rc;
}

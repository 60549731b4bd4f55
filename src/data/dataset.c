/* dataset.c - VOC/COCO layouts, labels, the synthetic generator (see dataset.h).
 *
 * Owns the one split reader every stage uses (ids from the split file, image and label folders
 * with {split} patterns, image-level labels from label maps or a labels file), the VOC palette,
 * and a seeded synthetic dataset in VOC's layout so the whole pipeline runs without a download.
 */
#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"

#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/strmap.h"

/* root + "/" + pattern with {split} replaced (malloc'd). */
char *ws_dataset_path(const char *root, const char *pattern, const char *split)
{
    char rel[2048], *o = rel;
    const char *p = pattern;
    while (*p && o < rel + sizeof rel - 256) {
        if (!strncmp(p, "{split}", 7)) { o += snprintf(o, 256, "%s", split); p += 7; }
        else *o++ = *p++;
    }
    *o = '\0';
    size_t n = strlen(root) + strlen(rel) + 2;
    char *s = malloc(n);
    /* An absolute pattern ignores the root, so a label folder outside the dataset (e.g. seeds) can be named
     * in the same key. */
    if (s) snprintf(s, n, rel[0] == '/' ? "%.0s%s" : "%s/%s", root, rel);
    return s;
}

/* One entry of a split line: the first column, and for a path (the two-column train_aug.txt of
 * the SBD conversion, "/JPEGImages/x.jpg /SegmentationClassAug/x.png") the file name without
 * its extension. */
static char *entry_id(const char *tok)
{
    const char *slash = strrchr(tok, '/');
    if (!slash) return strdup(tok);
    const char *base = slash + 1, *dot = strrchr(base, '.');
    return strndup(base, dot ? (size_t)(dot - base) : strlen(base));
}

int ws_split_read(const char *path, int ids_of_paths, char ***entries, int **lines, int *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int max = 0, ln = 0, rc = 0;
    ws_strmap seen = {0};
    *entries = NULL;
    *lines = NULL;
    *n = 0;
    if (!f) return ws_fail(WS_EIO, "cannot open split file %s: %s (is the dataset root right?)", path, strerror(errno));
    if (ws_strmap_init(&seen, 1024)) { fclose(f); return ws_fail(WS_ENOMEM, "out of memory"); }
    while (!rc && getline(&line, &cap, f) >= 0) {
        char *t = line;
        ln++;
        if (ln == 1 && !strncmp(t, "\xef\xbb\xbf", 3)) t += 3;   /* a UTF-8 byte-order mark (Windows editors) */
        t += strspn(t, " \t\r\n");
        if (!*t || *t == '#') continue;                       /* blank or comment line */
        t[strcspn(t, " \t\r\n")] = '\0';                     /* the first column; CRLF and trailing blanks go */
        char *e = ids_of_paths ? entry_id(t) : strdup(t);
        int64_t first;
        if (!e) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        if (ws_strmap_get(&seen, e, strlen(e), &first)) {
            rc = ws_fail(WS_EFORMAT, "%s:%d: image '%s' is listed again (first at line %d): remove one of the lines", path,
                         ln, e, (*lines)[first]);
            free(e);
            break;
        }
        if (*n == max) {
            max = max ? 2 * max : 1024;
            char **a = realloc(*entries, (size_t)max * sizeof *a);
            if (a) *entries = a;
            int *b = a ? realloc(*lines, (size_t)max * sizeof *b) : NULL;
            if (b) *lines = b;
            if (!b) { free(e); rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        }
        if (ws_strmap_put(&seen, e, strlen(e), *n)) { free(e); rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        (*entries)[*n] = e;
        (*lines)[(*n)++] = ln;
    }
    free(line);
    fclose(f);
    ws_strmap_free(&seen);
    if (!rc && !*n) rc = ws_fail(WS_EFORMAT, "split file %s lists no image", path);
    if (rc) {
        for (int i = 0; i < *n; i++) free((*entries)[i]);
        free(*entries);
        free(*lines);
        *entries = NULL;
        *lines = NULL;
        *n = 0;
    }
    return rc;
}

static int read_ids(ws_dataset *d, const char *path)
{
    int *lines = NULL;
    int rc = ws_split_read(path, 1, &d->ids, &lines, &d->n);
    free(lines);
    return rc;
}

static int find_id(const ws_dataset *d, const char *id)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->ids[i], id)) return i;
    return -1;
}

static int read_labels(ws_dataset *d, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int ln = 0;
    if (!f) return ws_fail(WS_EIO, "cannot open labels file %s", path);
    if (!(d->labels = calloc((size_t)d->n * d->n_fg, 1))) { fclose(f); return ws_fail(WS_ENOMEM, "out of memory"); }
    uint8_t *seen = calloc((size_t)d->n, 1);
    while (seen && fgets(line, sizeof line, f)) {
        ln++;
        char *t = strtok(line, " \t\r\n");
        if (!t) continue;
        int i = find_id(d, t);
        if (i < 0) continue;   /* the file may cover other splits */
        seen[i] = 1;
        while ((t = strtok(NULL, " \t\r\n"))) {
            char *end;
            long c = strtol(t, &end, 10);
            /* Classes are 1-based label values (as in the label maps), so 0 (background) is not a valid image
             * label. */
            if (*end || c < 1 || c > d->n_fg) {
                free(seen);
                fclose(f);
                return ws_fail(WS_EFORMAT, "%s:%d: '%s' is not a class in 1..%d", path, ln, t, d->n_fg);
            }
            d->labels[(size_t)i * d->n_fg + c - 1] = 1;
        }
    }
    fclose(f);
    for (int i = 0; seen && i < d->n; i++)
        /* An image missing from the labels file would silently train as "no object present": the whole split
         * must be covered. */
        if (!seen[i]) {
            int rc = ws_fail(WS_EFORMAT, "labels file %s has no line for image %s", path, d->ids[i]);
            free(seen);
            return rc;
        }
    free(seen);
    return seen ? 0 : ws_fail(WS_ENOMEM, "out of memory");
}

int ws_dataset_open(ws_dataset *d, const ws_dataset_spec *s)
{
    memset(d, 0, sizeof *d);
    d->n_fg = s->n_fg;
    char *split = ws_dataset_path(s->root, s->split_file, s->split);
    d->image_dir = ws_dataset_path(s->root, s->image_dir, s->split);
    d->image_ext = strdup(s->image_ext && s->image_ext[0] ? s->image_ext : ".jpg");
    /* The seg task trains on the coarse seeds in place of ground truth (FMA-WSSS's second round): they
     * replace the label folder, so the loader needs no special case. */
    if (s->seed_dir && s->seed_dir[0]) d->label_dir = strdup(s->seed_dir);
    else if (s->label_dir && s->label_dir[0]) d->label_dir = ws_dataset_path(s->root, s->label_dir, s->split);
    int rc = split && d->image_dir && d->image_ext ? read_ids(d, split) : ws_fail(WS_ENOMEM, "out of memory");
    free(split);
    if (!rc && s->labels_file && s->labels_file[0]) {
        char *lf = ws_dataset_path(s->root, s->labels_file, s->split);
        rc = lf ? read_labels(d, lf) : ws_fail(WS_ENOMEM, "out of memory");
        free(lf);
    }
    /* Training and CAM inference need image-level labels; masks and boxes (images_only) run on unlabelled
     * images. */
    if (!rc && !d->labels && !d->label_dir && !s->images_only)
        rc = ws_fail(WS_EINVAL, "dataset %s has neither label maps nor a labels file: image labels are needed", s->root);
    if (rc) ws_dataset_close(d);
    return rc;
}

void ws_dataset_close(ws_dataset *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) free(d->ids[i]);
    free(d->ids);
    free(d->image_dir);
    free(d->label_dir);
    free(d->image_ext);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* A label or seed map holds classes 0..n_fg and 255 (ignore) only; any other value would be
 * silently dropped from the image labels and the losses, so it stops the run naming it. */
static int check_map(const char *path, const uint8_t *m, size_t n, int n_fg)
{
    size_t bad = 0;
    int first = -1;
    for (size_t k = 0; k < n; k++)
        if (m[k] > n_fg && m[k] != 255) { bad++; if (first < 0) first = m[k]; }
    if (!bad) return 0;
    return ws_fail(WS_EFORMAT, "%s: value %d (and %zu pixels in all) is neither a class 0..%d nor 255 (ignore): is "
                   "data.dataset right, and is the map a palette/grey PNG of class indices (not colours)?", path, first,
                   bad, n_fg);
}

char *ws_dataset_image_path(const ws_dataset *d, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s%s", d->image_dir, d->ids[i], d->image_ext);
    return buf;
}

int ws_dataset_read(const ws_dataset *d, int i, ws_image *img, uint8_t **map, uint8_t *fg, int want_map)
{
    char path[4096];
    uint8_t *m = NULL;
    int mw = 0, mh = 0, rc;
    if (map) *map = NULL;
    if ((rc = ws_image_read(ws_dataset_image_path(d, i, path, sizeof path), img))) return rc;
    /* The map is read when the caller wants it or when it is the only source of the image's labels; with a
     * labels file and no map wanted, no PNG is decoded. */
    if (d->label_dir && (want_map || !d->labels)) {
        snprintf(path, sizeof path, "%s/%s.png", d->label_dir, d->ids[i]);
        if ((rc = ws_png_read_index(path, &m, &mw, &mh))) goto fail;
        if (mw != img->w || mh != img->h) {
            rc = ws_fail(WS_ESHAPE, "%s is %dx%d but its image is %dx%d", path, mw, mh, img->w, img->h);
            goto fail;
        }
        if ((rc = check_map(path, m, (size_t)mw * mh, d->n_fg))) goto fail;
    }
    if (d->labels) memcpy(fg, d->labels + (size_t)i * d->n_fg, (size_t)d->n_fg);
    else {
        memset(fg, 0, (size_t)d->n_fg);
        for (size_t k = 0; k < (size_t)mw * mh; k++)
            /* Present = any pixel of the class; 0 (background) and 255 (the ignore border) do not count. */
            if (m[k] >= 1 && m[k] <= d->n_fg) fg[m[k] - 1] = 1;
    }
    if (map && want_map) *map = m;
    else free(m);
    return 0;
fail:
    free(m);
    ws_image_free(img);
    return rc;
}

/* ---- synthetic data ------------------------------------------------------------------------- */

/* VOC's colour map (the bit-interleaving of the devkit's labelcolormap), so seed PNGs look like VOC's own
 * SegmentationClass PNGs in any viewer. */
void ws_voc_palette(uint8_t pal[768])
{
    for (int i = 0; i < 256; i++) {
        int c = i, r = 0, g = 0, b = 0;
        for (int j = 7; j >= 0; j--, c >>= 3) {
            r |= (c & 1) << j;
            g |= ((c >> 1) & 1) << j;
            b |= ((c >> 2) & 1) << j;
        }
        pal[3 * i] = (uint8_t)r;
        pal[3 * i + 1] = (uint8_t)g;
        pal[3 * i + 2] = (uint8_t)b;
    }
}

/* Class colour: the VOC palette colour of the class, brightened. */
static void class_colour(int c, uint8_t rgb[3])
{
    uint8_t pal[768];
    ws_voc_palette(pal);
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)(pal[3 * c + k] / 2 + 64 + (c * 37 + k * 91) % 64);
}

/* One synthetic image: a noisy gradient background and 1-3 rectangles or ellipses of class colours
 * with a class-specific stripe texture, so CLIP features, CAMs and SAM masks have something
 * class-dependent to find. */
static int synth_one(const char *root, const char *id, ws_rng *r, int min_side, int max_side, int n_classes,
                     const uint8_t *pal, uint8_t present[256])
{
    int W = (int)ws_rng_randint(r, min_side, max_side + 1), H = (int)ws_rng_randint(r, min_side, max_side + 1);
    uint8_t *rgb = malloc((size_t)W * H * 3), *lb = calloc((size_t)W * H, 1);
    char path[4096];
    int rc = 0;
    if (!rgb || !lb) { free(rgb); free(lb); return ws_fail(WS_ENOMEM, "out of memory"); }
    uint8_t bg[3] = {(uint8_t)ws_rng_randint(r, 40, 200), (uint8_t)ws_rng_randint(r, 40, 200), (uint8_t)ws_rng_randint(r, 40, 200)};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < 3; k++)
                rgb[((size_t)y * W + x) * 3 + k] = (uint8_t)(bg[k] * (0.7 + 0.3 * y / H) + (ws_rng_u32(r) & 15));
    int nobj = (int)ws_rng_randint(r, 1, 4);
    for (int o = 0; o < nobj; o++) {
        int c = (int)ws_rng_randint(r, 1, n_classes + 1), ell = (int)ws_rng_randint(r, 0, 2);
        double cx = ws_rng_uniform(r, 0.2, 0.8) * W, cy = ws_rng_uniform(r, 0.2, 0.8) * H;
        double rx = ws_rng_uniform(r, 0.12, 0.3) * W, ry = ws_rng_uniform(r, 0.12, 0.3) * H;
        uint8_t col[3];
        class_colour(c, col);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double dx = (x - cx) / rx, dy = (y - cy) / ry;
                if (ell ? dx * dx + dy * dy > 1 : fabs(dx) > 1 || fabs(dy) > 1) continue;
                int stripe = ((x + y * (c % 3)) / (2 + c % 5)) & 1;   /* class-specific texture */
                for (int k = 0; k < 3; k++)
                    rgb[((size_t)y * W + x) * 3 + k] = (uint8_t)(col[k] * (stripe ? 1.0 : 0.8) + (ws_rng_u32(r) & 7));
                lb[(size_t)y * W + x] = (uint8_t)c;
            }
    }
    /* Like VOC's ground truth, object borders are 255 (ignore), so evaluation and training handle the ignore
     * label on synthetic data too. */
    uint8_t *band = malloc((size_t)W * H);   /* 255 where a 3x3 neighbourhood holds two labels */
    if (!band) rc = ws_fail(WS_ENOMEM, "out of memory");
    for (int y = 0; !rc && y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = lb[(size_t)y * W + x], b = v;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W && lb[(size_t)yy * W + xx] != v) b = 255;
                }
            band[(size_t)y * W + x] = b;
            present[b] = 1;
        }
    snprintf(path, sizeof path, "%s/JPEGImages/%s.jpg", root, id);
    if (!rc) rc = ws_jpeg_write(path, rgb, W, H, 95);
    snprintf(path, sizeof path, "%s/SegmentationClassAug/%s.png", root, id);
    if (!rc) rc = ws_png_write_u8(path, band, W, H, pal);
    free(band);
    free(rgb);
    free(lb);
    return rc;
}

static int write_split(const char *root, const char *name, int from, int to)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/ImageSets/Segmentation/%s.txt", root, name);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    for (int i = from; i < to; i++) fprintf(f, "synth_%06d\n", i);
    return ws_fs_commit_file(f, tmp, path);
}

/* A custom dataset's class file (ROOT/classes.txt, one name per line: line k is value k) and the
 * image-level labels of every image (ROOT/labels.txt, "<id> <class> ..."), for training without
 * label maps. */
static int write_custom_files(const char *root, const char *const *names, int n_classes, const uint8_t *present, int n)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/classes.txt", root);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    for (int c = 0; c < n_classes; c++) fprintf(f, "%s\n", names[c]);
    int rc = ws_fs_commit_file(f, tmp, path);
    snprintf(path, sizeof path, "%s/labels.txt", root);
    if (!rc && !(f = ws_fs_open_tmp(path, tmp, sizeof tmp))) rc = WS_EIO;
    for (int i = 0; !rc && i < n; i++) {
        fprintf(f, "synth_%06d", i);
        for (int c = 1; c <= n_classes; c++)
            if (present[(size_t)i * 256 + c]) fprintf(f, " %d", c);
        fputc('\n', f);
    }
    return rc ? rc : ws_fs_commit_file(f, tmp, path);
}

/* 1 if every entry of dir is one of `names` (NULL-terminated; a name ending in '*' is a prefix);
 * 0 if dir cannot be read. */
static int only_entries(const char *dir, const char *const *names)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int ok = d != NULL;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int known = 0;
        for (int k = 0; names[k] && !known; k++) {
            const size_t l = strlen(names[k]);
            known = names[k][l - 1] == '*' ? !strncmp(e->d_name, names[k], l - 1) : !strcmp(e->d_name, names[k]);
        }
        ok = known;
    }
    if (d) closedir(d);
    return ok;
}

int ws_synth_interrupted(const char *root)
{
    /* "x*" also matches x.tmp-PID, what a kill leaves of a file being written */
    static const char *const top[] = {"JPEGImages", "SegmentationClassAug", "ImageSets", "classes.txt*", "labels.txt*", NULL};
    static const char *const images[] = {"synth_*", NULL}, *const sets[] = {"Segmentation", NULL};
    static const char *const splits[] = {"train*", "val.txt*", NULL};
    static const struct { const char *sub; const char *const *names; } dirs[] = {
        {"JPEGImages", images}, {"SegmentationClassAug", images}, {"ImageSets", sets}, {"ImageSets/Segmentation", splits}};
    char p[4200];
    int ok = only_entries(root, top);
    for (size_t k = 0; ok && k < sizeof dirs / sizeof *dirs; k++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[k].sub);
        ok = access(p, F_OK) != 0 || only_entries(p, dirs[k].names);
    }
    snprintf(p, sizeof p, "%s/ImageSets/Segmentation/train_aug.txt", root);
    return ok && access(p, F_OK) != 0;
}

int ws_synth_voc(const char *root, int n, int min_side, int max_side, int n_classes, const char *const *names,
                 uint32_t seed)
{
    char path[4096], id[32];
    uint8_t pal[768];
    int rc = 0;
    /* VOC-layout data is read as VOC (20 classes); a named custom list may use every 8-bit value */
    const int max_cls = names ? 254 : 20;
    if (n < 2 || min_side < 16 || max_side < min_side || n_classes < 1 || n_classes > max_cls)
        return ws_fail(WS_EINVAL, "synthetic dataset: need >= 2 images, sides >= 16, 1..%d classes", max_cls);
    uint8_t *present = calloc((size_t)n, 256);   /* (n, 256) label values present in each map */
    if (!present) return ws_fail(WS_ENOMEM, "out of memory");
    const char *dirs[3] = {"JPEGImages", "SegmentationClassAug", "ImageSets/Segmentation"};
    for (int k = 0; k < 3 && !rc; k++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[k]);
        rc = ws_mkdir_p(path);
        ws_fs_remove_stale_tmp(path, "");   /* what an interrupted synth left half-written */
    }
    ws_fs_remove_stale_tmp(root, "");
    ws_voc_palette(pal);
    for (int i = 0; i < n && !rc; i++) {
        ws_rng r;
        /* One generator per image, derived from (seed, i): image i is the same whatever n is, so a larger
         * synthetic set extends a smaller one. */
        ws_rng_seed(&r, ws_rng_derive(seed, (uint64_t)i, 0x5e7));
        snprintf(id, sizeof id, "synth_%06d", i);
        rc = synth_one(root, id, &r, min_side, max_side, n_classes, pal, present + (size_t)i * 256);
    }
    if (!rc && names) rc = write_custom_files(root, names, n_classes, present, n);
    free(present);
    /* the split files land whole and last, train_aug.txt at the very end: it is what the pipeline
     * takes as "the dataset is written", so a kill before it makes the next run write it again */
    int ntr = n * 4 / 5 < 1 ? 1 : n * 4 / 5;
    if (!rc) rc = write_split(root, "train", 0, ntr / 2 > 0 ? ntr / 2 : 1);
    if (!rc) rc = write_split(root, "val", ntr, n);
    if (!rc) rc = write_split(root, "train_aug", 0, ntr);
    return rc;
}

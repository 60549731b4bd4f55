/* eval.c - the eval stage (see eval.h): seed label maps against ground truth (AlchemyCat's
 * SegmentationMetric, as FMA-WSSS reports its seed mIoU), and image labels of a box store against
 * the dataset's labels.
 *
 * Owns the walk over the prediction folder, the dataset-level confusion matrix and the three
 * outputs (table on stdout, eval JSON for scripts, eval Markdown for the run folder).
 */
#include "stage/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/status.h"
#include "data/classes.h"
#include "data/image.h"
#include "io/boxstore.h"
#include "method/cliplabel.h"
#include "data/names.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* A class's printed name: the names given (the dataset's class list), else VOC's label names when the table
 * is VOC's size, else none. */
/* 21 = background + VOC's 20; any other table without names is printed by index only rather than with
 * names that may not match. */
static const char *class_name(const char *const *names, int n_cls, int c)
{
    return names ? names[c] : n_cls == 21 ? WS_VOC_LABELS[c] : "";
}

/* A JSON number, or null for NaN (absent classes: JSON has no NaN). */
static const char *jnum(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "null");
    else snprintf(buf, cap, "%.10g", v);
    return buf;
}

static int write_json(const ws_eval_metrics *m, const char *const *names, int nc, int n_img, const char *path)
{
    char tmp[4200], a[32], b[32], c3[32];
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fprintf(f, "{\"images\": %d, \"mIoU\": %s, \"accuracy\": %s, \"classes\": [", n_img, jnum(a, sizeof a, m->miou),
            jnum(b, sizeof b, m->accuracy));
    for (int c = 0; c < nc; c++)
        fprintf(f, "%s{\"class\": %d, \"name\": \"%s\", \"IoU\": %s, \"precision\": %s, \"recall\": %s, \"valid\": %d}",
                c ? ", " : "", c, class_name(names, nc, c), jnum(a, sizeof a, m->iou[c]), jnum(b, sizeof b, m->precision[c]),
                jnum(c3, sizeof c3, m->recall[c]), m->valid[c]);
    fputs("]}\n", f);
    return ws_fs_commit_file(f, tmp, path);
}

static int write_md(const ws_eval_metrics *m, const char *const *names, int nc, const char *path)
{
    char tmp[4200];
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fprintf(f, "| class | IoU | precision | recall |\n|---|---:|---:|---:|\n");
    for (int c = 0; c < nc; c++)
        if (m->valid[c] || !isnan(m->iou[c]))
            fprintf(f, "| %s | %.2f | %.2f | %.2f |\n", class_name(names, nc, c), 100 * m->iou[c], 100 * m->precision[c],
                    100 * m->recall[c]);
    fprintf(f, "| **mIoU** | **%.2f** | | |\n", 100 * m->miou);
    return ws_fs_commit_file(f, tmp, path);
}

/* Ground truth holds classes 0..n_cls-1 and 255 (ignore) only: another value (a colour PNG, the
 * wrong class count) would silently drop pixels and can make a wrong seed score 100. */
static int check_gt(const char *path, const uint8_t *g, size_t n, int n_cls)
{
    size_t bad = 0;
    int first = -1;
    for (size_t k = 0; k < n; k++)
        if (g[k] >= n_cls && g[k] != 255) { bad++; if (first < 0) first = g[k]; }
    return bad ? ws_fail(WS_EFORMAT, "%s: value %d (and %zu pixels in all) is neither a class 0..%d nor 255 (ignore): "
                         "check --classes and that the map holds class indices", path, first, bad, n_cls - 1)
               : 0;
}

/* Adds image id's prediction and ground truth to the confusion matrix. */
static int eval_image(const ws_eval_settings *s, int n_cls, const char *id, int64_t *conf)
{
    char path[4096];
    uint8_t *p = NULL, *g = NULL;
    int pw, ph, gw, gh;
    snprintf(path, sizeof path, "%s/%s.png", s->pred, id);
    /* Both maps are read as palette indices: the values are the classes whatever colours the PNG's palette
     * gives them. */
    int rc = ws_png_read_index(path, &p, &pw, &ph);
    snprintf(path, sizeof path, "%s/%s.png", s->gt, id);
    if (!rc) rc = ws_png_read_index(path, &g, &gw, &gh);
    /* Seeds are made at the original image size; a different size means another split or resized labels,
     * which a pixel count would silently get wrong. */
    if (!rc && (pw != gw || ph != gh)) rc = ws_fail(WS_ESHAPE, "%s is %dx%d, its prediction %dx%d", path, gw, gh, pw, ph);
    if (!rc) rc = check_gt(path, g, (size_t)gw * gh, n_cls);
    if (!rc && (rc = ws_eval_add(conf, n_cls, p, g, (size_t)gw * gh)))
        rc = ws_fail(rc, "%s/%s.png: %s", s->pred, id, ws_last_error());
    free(p);
    free(g);
    return rc;
}

static void print_table(const ws_eval_metrics *m, const char *const *names, int nc, int n)
{
    printf("%-14s %7s %9s %7s\n", "class", "IoU", "precision", "recall");
    for (int c = 0; c < nc; c++)
        if (m->valid[c] || !isnan(m->iou[c]))
            printf("%-14s %7.2f %9.2f %7.2f\n", class_name(names, nc, c), 100 * m->iou[c], 100 * m->precision[c], 100 * m->recall[c]);
    printf("mIoU %.2f over %d images (pixel accuracy %.2f)\n", 100 * m->miou, n, 100 * m->accuracy);
}

int ws_stage_eval(const ws_eval_settings *s, ws_eval_metrics *out)
{
    char **ids = NULL;
    int n = 0, rc = 0;
    ws_classes cl = {0};
    const char *const *names = s->names;
    int nc = s->n_cls;
    if (s->class_file && s->class_file[0]) {
        /* the same reader as data.class_file, so the table names the classes the seeds were made with */
        if ((rc = ws_classes_load(&cl, "custom", NULL, s->class_file))) return rc;
        if (nc && nc != cl.n_fg + 1) {
            rc = ws_fail(WS_EINVAL, "--classes %d, but %s lists %d classes (+ background = %d)", nc, s->class_file, cl.n_fg,
                         cl.n_fg + 1);
            ws_classes_free(&cl);
            return rc;
        }
        nc = cl.n_fg + 1;
        names = cl.label;
    }
    if (nc < 2 || nc > 255) { ws_classes_free(&cl); return ws_fail(WS_EINVAL, "eval: %d classes is not in 2..255", nc); }
    int64_t *conf = calloc((size_t)nc * nc, sizeof *conf);
    if (!conf) { ws_classes_free(&cl); return ws_fail(WS_ENOMEM, "out of memory"); }
    /* The prediction folder decides the images: a seed folder of part of a split is evaluated on that part
     * (the counts say how many images), not failed for the missing ones. */
    TRY(ws_fs_list_ids(s->pred, ".png", &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no PNG", s->pred); goto cleanup; }
    /* One confusion matrix for the whole dataset (not a mean of per-image IoUs): the official metric, in
     * which large images weigh more. */
    for (int i = 0; i < n; i++) TRY(eval_image(s, nc, ids[i], conf));
    ws_eval_metrics m;
    ws_eval_metrics_of(conf, nc, &m);
    if (out) *out = m;
    if (s->conf) memcpy(s->conf, conf, sizeof *conf * (size_t)nc * nc);
    if (!s->quiet) print_table(&m, names, nc, n);
    if (s->json) TRY(write_json(&m, names, nc, n, s->json));
    if (s->md) TRY(write_md(&m, names, nc, s->md));
cleanup:
    free(conf);
    ws_classes_free(&cl);
    ws_fs_ids_free(ids, n);
    return rc;
}

/* ---- image labels of a box store ---- */

typedef struct label_counts { long *tp, *fp, *fn; int n_fg; } label_counts;

static int write_labels_json(const char *path, const ws_label_stats *ls, const label_counts *k)
{
    double p, r, f1;
    char tmp[4200];
    ws_label_stats_prf(ls, &p, &r, &f1);
    FILE *o = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!o) return WS_EIO;
    /* 0/0 (no labels at all) is written as 0 rather than NaN, which JSON cannot hold. */
    fprintf(o, "{\"images\": %ld, \"tp\": %ld, \"fp\": %ld, \"fn\": %ld, \"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, "
               "\"exact\": %ld, \"per_class\": [", ls->images, ls->tp, ls->fp, ls->fn, isnan(p) ? 0 : p, isnan(r) ? 0 : r,
            isnan(f1) ? 0 : f1, ls->exact);
    for (int c = 0; c < k->n_fg; c++)
        fprintf(o, "%s{\"class\": %d, \"tp\": %ld, \"fp\": %ld, \"fn\": %ld}", c ? ", " : "", c + 1, k->tp[c], k->fp[c], k->fn[c]);
    fputs("]}\n", o);
    return ws_fs_commit_file(o, tmp, path);
}

/* Adds one image's predicted and ground-truth label sets. */
/* The class count is taken from the first record and every later one must agree: a store holds one dataset's
 * label set. */
static int count_labels(const ws_box_rec *r, const char *store, const char *id, ws_label_stats *ls, label_counts *k)
{
    if (!r->gt_labels)
        return ws_fail(WS_EINVAL, "%s: image %s has no ground-truth labels (the dataset had no label maps or labels file)",
                       store, id);
    if (!k->tp) {
        k->n_fg = r->n_cls;
        k->tp = calloc((size_t)k->n_fg, sizeof *k->tp);
        k->fp = calloc((size_t)k->n_fg, sizeof *k->fp);
        k->fn = calloc((size_t)k->n_fg, sizeof *k->fn);
        if (!k->tp || !k->fp || !k->fn) return ws_fail(WS_ENOMEM, "out of memory");
    }
    if (r->n_cls != k->n_fg) return ws_fail(WS_ESHAPE, "%s: image %s: label sizes differ", store, id);
    const uint8_t *p = r->labels, *g = r->gt_labels;
    ws_label_stats_add(ls, p, g, k->n_fg);
    for (int c = 0; c < k->n_fg; c++) {
        k->tp[c] += p[c] && g[c];
        k->fp[c] += p[c] && !g[c];
        k->fn[c] += !p[c] && g[c];
    }
    return 0;
}

int ws_stage_eval_labels(const char *store, const char *json, double *f1_out)
{
    char **ids = NULL;
    int n = 0, rc;
    ws_h5file f = {0};
    ws_label_stats ls = {0};
    label_counts k = {0};
    TRY(ws_boxstore_ids(store, &ids, &n));
    TRY(ws_h5_open(&f, store));
    for (int i = 0; i < n; i++) {
        ws_box_rec r = {0};
        rc = ws_boxstore_read(&f, ids[i], 1, &r);
        if (!rc) rc = count_labels(&r, store, ids[i], &ls, &k);
        ws_box_rec_free(&r);
        if (rc) goto cleanup;
    }
    double p, r, f1;
    ws_label_stats_prf(&ls, &p, &r, &f1);
    printf("image labels of %s: %ld images, precision %.4f, recall %.4f, F1 %.4f, exact sets %ld (%.1f %%)\n", store,
           ls.images, p, r, f1, ls.exact, ls.images ? 100.0 * (double)ls.exact / (double)ls.images : 0.0);
    if (f1_out) *f1_out = f1;
    if (json) rc = write_labels_json(json, &ls, &k);
cleanup:
    ws_h5_close(&f);
    ws_h5_strings_free(ids, (size_t)n);
    free(k.tp); free(k.fp); free(k.fn);
    return rc;
}

/* report.c - the report stage (see report.h): one self-contained report.html per pipeline run.
 *
 * Owns the page: its layout (CSS that reflows from a phone to a wide screen), the seed-quality,
 * per-class, confusion-matrix and training sections, the small inline script (sortable tables and
 * a render check a browser test reads), and the choice of images shown. Charts are drawn by
 * stage/svg.c, image panels by stage/report_panels.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "stage/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/status.h"
#include "data/dataset.h"
#include "stage/report_panels.h"
#include "stage/svg.h"

static const char *const MODE_NAME[WS_REPORT_MODES] = {"FMA coarse", "FMA fine", "boxed SAM"};
static const char *const MODE_COLOUR[WS_REPORT_MODES] = {"#ff7f0e", "#1f77b4", "#2ca02c"};

/* ---- the page frame -------------------------------------------------------------------------- */

/* Layout: panels and charts wrap to the screen width; a chart keeps a minimum width (its text must stay
 * legible on a phone) and scrolls sideways inside its box instead of shrinking further. */
static const char *const CSS =
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1600px;color:#222;line-height:1.4}"
    "h1{font-size:1.5em}h2{border-bottom:2px solid #ddd;padding-bottom:2px;margin-top:1.6em}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{margin:0;flex:1 1 480px;max-width:760px;overflow-x:auto}"
    ".chart svg{width:100%;min-width:500px;height:auto}.wide{flex:1 1 100%;overflow-x:auto}"
    ".scale{margin:0;max-width:320px}.scale svg{width:100%;height:auto}"
    ".panels{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}.panel{margin:0;flex:1 1 160px;max-width:300px}"
    ".panel img{width:100%;height:auto;image-rendering:pixelated;display:block}"
    "figcaption{font-size:13px;color:#555}.stack{flex:1 1 160px;max-width:300px}.stack .panel{max-width:none}"
    ".tablebox{overflow-x:auto}table{border-collapse:collapse;font-size:14px}"
    "th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}"
    "th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}"
    "th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}"
    ".legend span{display:inline-block;width:14px;height:14px;border:1px solid #888;vertical-align:-2px;margin-right:4px}"
    ".row{border-top:1px solid #ddd;margin-top:10px}.note{color:#666;font-size:13px}";

/* Sortable tables (click a header; numbers sort as numbers, data-v holds the sort key), and a render
 * check: after load, #ws-check records the images that failed to decode (naturalWidth 0) and the script
 * errors seen (ErrorEvents; a failed image is counted as an image), so a headless browser's DOM dump says
 * whether the page rendered. */
static const char *const JS =
    "var wsErrors=[];"
    "window.addEventListener('error',function(e){if(e instanceof ErrorEvent)wsErrors.push(e.message)},true);"
    "function wsSort(th){var t=th.closest('table'),i=[].indexOf.call(th.parentNode.children,th),b=t.tBodies[0],"
    "rows=[].slice.call(b.rows),asc=th.getAttribute('data-dir')!=='asc';"
    "function key(r){var c=r.cells[i];return c.hasAttribute('data-v')?parseFloat(c.getAttribute('data-v')):c.textContent}"
    "rows.sort(function(x,y){var a=key(x),c=key(y),r=typeof a==='number'?a-c:String(a).localeCompare(c);return asc?r:-r});"
    "rows.forEach(function(r){b.appendChild(r)});"
    "[].forEach.call(th.parentNode.children,function(h){h.removeAttribute('data-dir')});"
    "th.setAttribute('data-dir',asc?'asc':'desc')}"
    "window.addEventListener('load',function(){var bad=[].filter.call(document.images,function(m){"
    "return !m.complete||m.naturalWidth===0}).map(function(m){return m.alt});var k=document.getElementById('ws-check');"
    "k.setAttribute('data-broken-images',String(bad.length));k.setAttribute('data-broken-list',bad.join('|'));"
    "k.setAttribute('data-js-errors',String(wsErrors.length));k.setAttribute('data-js-error-list',wsErrors.join('|'));"
    "k.setAttribute('data-ready','1')});";

static void page_head(FILE *f, const ws_report_input *r)
{
    fputs("<!doctype html><html lang=en><head><meta charset=utf-8>"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\"><title>wsseed run ", f);
    ws_html_puts(f, r->run_dir);
    fprintf(f, "</title><style>%s</style><script>%s</script></head><body>\n<h1>wsseed pipeline run</h1><p>", CSS, JS);
    ws_html_puts(f, r->run_dir);
    fputs(" &mdash; dataset <code>", f);
    ws_html_puts(f, r->root);
    fputs("</code>, split <code>", f);
    ws_html_puts(f, r->split);
    fprintf(f, "</code>, %d classes (background included)</p>\n", r->n_classes);
    fputs("<nav class=note><a href=#quality>seed quality</a> &middot; <a href=#classes>per class</a> &middot; "
          "<a href=#confusion>confusion matrix</a> &middot; <a href=#training>training</a> &middot; "
          "<a href=#images>images</a></nav>\n", f);
}

/* ---- seed quality ---------------------------------------------------------------------------- */

static void put_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "<td data-v=\"%.4f\">%.2f</td>", v, v);
    else fputs("<td data-v=\"-1\">&ndash;</td>", f);
}

/* Seed mIoU and pixel accuracy per seed mode: a chart and its table. */
static void section_modes(FILE *f, const ws_report_input *r)
{
    double miou[WS_REPORT_MODES], acc[WS_REPORT_MODES];
    for (int t = 0; t < r->n_modes; t++) { miou[t] = 100 * r->eval[t].miou; acc[t] = 100 * r->eval[t].accuracy; }
    const double *vals[2] = {miou, acc};
    const char *names[2] = {"mIoU", "pixel accuracy"}, *cols[2] = {"#1f77b4", "#aec7e8"};
    fputs("<h2 id=quality>Seed quality</h2><div class=charts>", f);
    ws_svg_bars(f, "Seed mIoU per seed mode", "% of pixels (0-100)", MODE_NAME, r->n_modes, vals, names, cols, 2, 100);
    fputs("</div><div class=tablebox><table><thead><tr><th onclick=wsSort(this)>seed mode</th>"
          "<th onclick=wsSort(this)>file</th><th onclick=wsSort(this)>mIoU (%)</th><th onclick=wsSort(this)>pixel accuracy (%)</th>"
          "</tr></thead><tbody>\n", f);
    static const char *const file[WS_REPORT_MODES] = {"eval_coarse.md", "eval_fine.md", "eval_boxed.md"};
    for (int t = 0; t < r->n_modes; t++) {
        fprintf(f, "<tr><td>%s</td><td>%s</td>", MODE_NAME[t], file[t]);
        put_num(f, miou[t]);
        put_num(f, acc[t]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

/* 1 when class c occurs in the ground truth or in some mode's seeds (else every metric is undefined). */
static int occurs(const ws_report_input *r, int c)
{
    for (int t = 0; t < r->n_modes; t++)
        if (r->eval[t].valid[c] || isfinite(r->eval[t].precision[c])) return 1;
    return 0;
}

static void class_table(FILE *f, const ws_report_input *r, const int *shown, int ns)
{
    fputs("<div class=tablebox><table id=per-class><thead><tr><th onclick=wsSort(this)>label</th><th onclick=wsSort(this)>class</th>", f);
    for (int t = 0; t < r->n_modes; t++)
        fprintf(f, "<th onclick=wsSort(this)>IoU %s</th><th onclick=wsSort(this)>precision %s</th><th onclick=wsSort(this)>recall %s</th>",
                MODE_NAME[t], MODE_NAME[t], MODE_NAME[t]);
    fputs("</tr></thead><tbody>\n", f);
    for (int i = 0; i < ns; i++) {
        int c = shown[i];
        fprintf(f, "<tr><td data-v=\"%d\">%d</td><td>", c, c);
        ws_html_puts(f, r->class_names[c]);
        fputs("</td>", f);
        for (int t = 0; t < r->n_modes; t++) {
            put_num(f, 100 * r->eval[t].iou[c]);
            put_num(f, 100 * r->eval[t].precision[c]);
            put_num(f, 100 * r->eval[t].recall[c]);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

/* Per-class IoU / precision / recall of every seed mode, over the classes that occur: a sortable table
 * and two bar charts labelled with the class names. */
static int section_classes(FILE *f, const ws_report_input *r)
{
    const int nc = r->n_classes, nm = r->n_modes;
    int *shown = malloc(sizeof *shown * (size_t)nc), ns = 0;
    double *v = malloc(sizeof *v * (size_t)nc * (nm + 2));
    const char **names = malloc(sizeof *names * (size_t)nc);
    if (!shown || !v || !names) { free(shown); free(v); free(names); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (int c = 0; c < nc; c++)
        if (occurs(r, c)) shown[ns++] = c;
    /* rows 0..nm-1: IoU of each mode; nm, nm+1: the fine seeds' precision and recall (in %) */
    for (int i = 0; i < ns; i++) {
        const int c = shown[i];
        names[i] = r->class_names[c];
        for (int t = 0; t < nm; t++) v[(size_t)t * ns + i] = 100 * r->eval[t].iou[c];
        v[(size_t)nm * ns + i] = 100 * r->eval[1].precision[c];
        v[(size_t)(nm + 1) * ns + i] = 100 * r->eval[1].recall[c];
    }
    const double *iou[WS_REPORT_MODES], *pr[3] = {v + (size_t)ns, v + (size_t)nm * ns, v + (size_t)(nm + 1) * ns};
    for (int t = 0; t < nm; t++) iou[t] = v + (size_t)t * ns;
    fputs("<h2 id=classes>Per class</h2><p class=note>IoU, precision and recall in %, against the ground truth; click a column "
          "header to sort. &ndash; = undefined (no pixels of the class in the ground truth or the seeds). Classes that "
          "occur in neither are left out.</p>", f);
    class_table(f, r, shown, ns);
    const char *prn[3] = {"IoU", "precision", "recall"}, *prc[3] = {"#1f77b4", "#9467bd", "#8c564b"};
    fputs("<div class=charts>", f);
    if (ns) ws_svg_bars(f, "Per-class IoU of each seed mode", "IoU (%)", names, ns, iou, MODE_NAME, MODE_COLOUR, nm, 100);
    if (ns) ws_svg_bars(f, "Per-class IoU, precision and recall of the fine seeds", "% of pixels", names, ns, pr, prn, prc, 3, 100);
    fputs("</div>\n", f);
    free(shown);
    free(v);
    free(names);
    return 0;
}

/* The fine seeds' confusion matrix, each ground-truth row normalised to 1 (row = recall spread over
 * the predicted classes), over the classes that occur in the ground truth or the seeds. */
static int section_confusion(FILE *f, const ws_report_input *r)
{
    const int n = r->n_classes;
    const int64_t *cf = r->conf[1];
    int *keep = malloc(sizeof *keep * (size_t)n), k = 0;
    double *m = malloc(sizeof *m * (size_t)n * n);
    const char **names = malloc(sizeof *names * (size_t)n);
    if (!keep || !m || !names) { free(keep); free(m); free(names); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        int64_t s = 0;
        for (int j = 0; j < n; j++) s += cf[(size_t)i * n + j] + cf[(size_t)j * n + i];
        if (s) { names[k] = r->class_names[i]; keep[k++] = i; }
    }
    for (int a = 0; a < k; a++) {
        double row = 0;
        for (int b = 0; b < k; b++) row += (double)cf[(size_t)keep[a] * n + keep[b]];
        for (int b = 0; b < k; b++) m[(size_t)a * k + b] = row > 0 ? cf[(size_t)keep[a] * n + keep[b]] / row : NAN;
    }
    fputs("<h2 id=confusion>Confusion matrix (fine seeds)</h2><p class=note>Rows: ground-truth class; columns: the seeds' class; "
          "each row sums to 1 (pixels marked 255 in the ground truth are not counted). Classes absent from both are "
          "left out.</p><div class=wide>", f);
    if (k) ws_svg_heatmap(f, "Confusion matrix of the fine seeds (row-normalised)", "ground truth", "seeds", names, k, m);
    fputs("</div>\n", f);
    free(keep);
    free(m);
    free(names);
    return 0;
}

/* ---- training curves ------------------------------------------------------------------------- */

#define MAXCOL 8
typedef struct curves {
    int n, cap, ncol;
    double *x, *y[MAXCOL];   /* iteration, then the columns asked for (NaN where a row lacks one) */
} curves;

static void curves_free(curves *c)
{
    free(c->x);
    for (int k = 0; k < c->ncol; k++) free(c->y[k]);
}

/* Columns `names` (ncol) of a metrics.csv (src/train/rundir.c: a header row naming the columns, iter
 * first), found by their header names so a reordered file still plots the right curves. A missing
 * file is no training (0 rows). */
static int read_curves(const char *path, const char *const *names, int ncol, curves *c)
{
    char line[2048];
    int idx[MAXCOL], rc = 0;
    memset(c, 0, sizeof *c);
    c->ncol = ncol;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f || !fgets(line, sizeof line, f)) { if (f) fclose(f); return 0; }
    for (int k = 0; k < ncol; k++) {
        idx[k] = -1;
        int col = 0;
        for (char *s = line, *e; s && *s; s = e ? e + 1 : NULL, col++) {
            e = strchr(s, ',');
            size_t l = e ? (size_t)(e - s) : strcspn(s, "\r\n");
            if (l == strlen(names[k]) && !strncmp(s, names[k], l)) idx[k] = col;
        }
    }
    while (!rc && fgets(line, sizeof line, f)) {
        double vals[32];
        int m = 0;
        for (char *s = line, *e; s && m < 32; s = e ? e + 1 : NULL) { e = strchr(s, ','); vals[m++] = strtod(s, NULL); }
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            double *p = realloc(c->x, sizeof *p * (size_t)c->cap);
            if (p) c->x = p;
            for (int k = 0; k < ncol && p; k++) { p = realloc(c->y[k], sizeof *p * (size_t)c->cap); if (p) c->y[k] = p; }
            if (!p) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        }
        c->x[c->n] = vals[0];
        for (int k = 0; k < ncol; k++) c->y[k][c->n] = idx[k] >= 0 && idx[k] < m ? vals[idx[k]] : NAN;
        c->n++;
    }
    fclose(f);
    return rc;
}

/* 1 when loss term k is worth its own line: non-zero somewhere (a term the task does not use stays 0)
 * and not the total itself (the cls task's only term equals its loss). */
static int used(const curves *c, int k)
{
    int nonzero = 0, other = 0;
    for (int i = 0; i < c->n; i++) {
        if (!isfinite(c->y[k][i])) continue;
        nonzero |= c->y[k][i] != 0;
        other |= fabs(c->y[k][i] - c->y[0][i]) > 1e-9 * (1 + fabs(c->y[0][i]));
    }
    return nonzero && other;
}

static int section_training(FILE *f, const ws_report_input *r)
{
    static const char *const col[5] = {"loss", "loss_mcl", "loss_cam_fg", "loss_cam_bg", "lr"};
    static const char *const colour[4] = {"#222", "#1f77b4", "#d62728", "#2ca02c"};
    fputs("<h2 id=training>Training</h2><div class=charts>\n", f);
    for (int t = 0; t < 2; t++) {
        curves c;
        char title[96];
        int rc = read_curves(r->metrics[t], col, 5, &c);
        if (rc) { curves_free(&c); return rc; }
        ws_svg_series s[4];
        int ns = 0;
        for (int k = 0; k < 4 && c.n; k++)
            if (k == 0 || used(&c, k)) s[ns++] = (ws_svg_series){c.x, c.y[k], c.n, col[k], colour[k]};
        snprintf(title, sizeof title, "%s loss per iteration", t ? "seg" : "cls");
        if (ns) ws_svg_lines(f, title, "iteration", "loss (batch mean)", s, ns);
        snprintf(title, sizeof title, "%s learning rate per iteration", t ? "seg" : "cls");
        s[0] = (ws_svg_series){c.x, c.y[4], c.n, "lr", "#ff7f0e"};
        if (c.n) ws_svg_lines(f, title, "iteration", "learning rate (SGD step size)", s, 1);
        else fprintf(f, "<p class=note>No %s training metrics.</p>", t ? "seg" : "cls");
        curves_free(&c);
    }
    fputs("</div>\n", f);
    return 0;
}

/* ---- images ---------------------------------------------------------------------------------- */

/* The first report.images ids of the fine seeds in name order, so two runs of the same split show the
 * same images side by side. */
static int section_images(FILE *f, const ws_report_input *r, const uint8_t *pal)
{
    char **ids = NULL;
    int n = 0, rc = 0;
    fputs("<h2 id=images>Images</h2><p class=note>Labels are blended over the photo in their class colours (legend under each "
          "row); background shows as the darkened photo. The CAM panel is the largest class CAM per pixel, "
          "scaled by the image's maximum.</p>\n", f);
    if (ws_fs_list_ids(r->seeds[1], ".png", &ids, &n)) { ws_clear_error(); n = 0; }
    for (int i = 0; i < n && i < r->n_images && !rc; i++) rc = ws_report_image_row(f, r, ids[i], pal);
    ws_fs_ids_free(ids, n);
    return rc;
}

int ws_stage_report(const ws_report_input *r)
{
    char path[4096], tmp[4200];
    uint8_t pal[768];
    ws_voc_palette(pal);
    snprintf(path, sizeof path, "%s/report.html", r->run_dir);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    page_head(f, r);
    int rc = 0;
    if (r->eval) {
        section_modes(f, r);
        rc = section_classes(f, r);
        if (!rc && r->conf[1]) rc = section_confusion(f, r);
    } else fputs("<h2>Seed quality</h2><p>No ground truth (data.label_dir): the seeds are not evaluated.</p>\n", f);
    if (!rc) rc = section_training(f, r);
    if (!rc) rc = section_images(f, r, pal);
    fputs("<p class=note>Written by wsseed; self-contained (no external files).</p>"
          "<div id=ws-check hidden></div></body></html>\n", f);
    /* Temp file + rename (core/fs): a failed report leaves the previous report.html intact. */
    if (rc) { fclose(f); remove(tmp); return rc; }
    return ws_fs_commit_file(f, tmp, path);
}

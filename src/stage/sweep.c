/* sweep.c - the sweep stage (`wsseed sweep SWEEP.yaml`): a pipeline config plus a grid (or list) of
 * overrides, one pipeline run each.
 *
 *   pipeline: demo.yaml          # the base config, relative to this file
 *   name: demo-sweep             # runs: <out_dir>/<name>/<label>
 *   set: {key: value, ...}       # fixed overrides (optional)
 *   grid: {key: [v1, v2], ...}   # every combination, or
 *   list: [{key: v, ...}, ...]   # these runs
 *
 * Runs share the pipeline's stage cache, so stages whose settings a run does not change are
 * computed once; an interrupted sweep continues when started again. Under several ranks each run is
 * one distributed pipeline, or (spread_runs) each rank runs whole runs of its own. The end: summary.csv,
 * summary.md and summary.html (the table and one labelled plot of seed mIoU per swept key) in
 * <out_dir>/<name>/.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/sweep.h"
#include "shim/rank.h"
#include "stage/pipeline.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "io/yaml.h"
#include "stage/svg.h"

/* Fixed bounds keep the sweep in static arrays; they are far above what one reads in a table (8 keys, 32
 * values, 256 runs: a 256-run sweep of a full split is days of CPU), and each is checked with a message
 * naming it. */
#define MAXK 8
#define MAXV 32
#define MAXRUNS 256

typedef struct sweep {
    char pipeline[2048], name[256];
    int nset;
    char *set[64], *setw[64];      /* "key=value", and where it is ("file:line") */
    int nk;                        /* grid: keys and their values */
    char *key[MAXK], *val[MAXK][MAXV], *keyw[MAXK];
    int nv[MAXK];
    int nlist;                     /* list: runs of "key=value" entries */
    char *lkey[MAXRUNS][MAXK], *lval[MAXRUNS][MAXK], *lw[MAXRUNS][MAXK];
    int ln[MAXRUNS];
} sweep;

static void sweep_free(sweep *s)
{
    for (int i = 0; i < s->nset; i++) { free(s->set[i]); free(s->setw[i]); }
    for (int k = 0; k < s->nk; k++) {
        free(s->key[k]);
        free(s->keyw[k]);
        for (int v = 0; v < s->nv[k]; v++) free(s->val[k][v]);
    }
    for (int r = 0; r < s->nlist; r++)
        for (int k = 0; k < s->ln[r]; k++) { free(s->lkey[r][k]); free(s->lval[r][k]); free(s->lw[r][k]); }
}

/* One leaf of the sweep file (io/yaml.h): pipeline / name scalars, set.KEY, grid.KEY lists,
 * list.N.KEY entries. */
static int sweep_leaf(void *ctx, const ws_yaml_leaf *l)
{
    sweep *s = ctx;
    const char *sec = l->path[0], *v = l->n ? l->values[0] : "";
    if (strcmp(sec, "pipeline") && strcmp(sec, "name") && strcmp(sec, "set") && strcmp(sec, "grid") && strcmp(sec, "list"))
        return ws_fail(WS_EINVAL, "%s:%lu: unknown key '%s' (pipeline, name, set, grid, list)", l->file, l->lines[0], sec);
    if (l->depth == 1 && !l->is_list && !strcmp(sec, "pipeline")) { snprintf(s->pipeline, sizeof s->pipeline, "%s", v); return 0; }
    if (l->depth == 1 && !l->is_list && !strcmp(sec, "name")) { snprintf(s->name, sizeof s->name, "%s", v); return 0; }
    if (l->depth == 2 && !l->is_list && !strcmp(sec, "set")) {
        size_t n = strlen(l->path[1]) + strlen(v) + 2;
        if (s->nset >= 64) return ws_fail(WS_EINVAL, "%s: more than 64 fixed overrides", l->where);
        if (!(s->set[s->nset] = malloc(n)) || !(s->setw[s->nset] = strdup(l->where))) {
            free(s->set[s->nset]);
            return ws_fail(WS_ENOMEM, "out of memory");
        }
        snprintf(s->set[s->nset++], n, "%s=%s", l->path[1], v);
        return 0;
    }
    if (l->depth == 2 && l->is_list && !strcmp(sec, "grid")) {
        if (s->nk >= MAXK) return ws_fail(WS_EINVAL, "%s: more than %d grid keys", l->where, MAXK);
        if (l->n > MAXV) return ws_fail(WS_EINVAL, "%s: more than %d values", l->where, MAXV);
        if (l->n < 1) return ws_fail(WS_EINVAL, "%s: grid key '%s' has no values (give at least one)", l->where, l->path[1]);
        s->key[s->nk] = strdup(l->path[1]);
        s->keyw[s->nk] = strdup(l->where);
        for (int k = 0; k < l->n; k++) s->val[s->nk][k] = strdup(l->values[k]);
        s->nv[s->nk++] = l->n;
        return 0;
    }
    if (l->depth == 3 && !l->is_list && !strcmp(sec, "list")) {
        int r = atoi(l->path[1]);   /* items arrive in order: item r opens run r */
        if (r >= MAXRUNS) return ws_fail(WS_EINVAL, "%s: more than %d runs", l->where, MAXRUNS);
        if (r >= s->nlist) s->nlist = r + 1;
        int k = s->ln[r];
        if (k >= MAXK) return ws_fail(WS_EINVAL, "%s: more than %d overrides in a run", l->where, MAXK);
        s->lkey[r][k] = strdup(l->path[2]);
        s->lval[r][k] = strdup(v);
        s->lw[r][k] = strdup(l->where);
        s->ln[r]++;
        return 0;
    }
    if (l->is_list && strcmp(sec, "grid")) return ws_fail(WS_EINVAL, "%s: a list is allowed only as grid values or as the list of runs", l->where);
    return ws_fail(WS_EINVAL, "%s: unexpected '%s' under '%s' (see wsseed sweep --help)", l->where, v, sec);
}

/* Reads the sweep file into s and checks its shape. */
static int parse(const char *path, sweep *s)
{
    int rc = ws_yaml_walk(path, sweep_leaf, s);
    if (!rc && !s->pipeline[0]) rc = ws_fail(WS_EINVAL, "%s: 'pipeline: CONFIG.yaml' is required", path);
    if (!rc && !s->nk && !s->nlist) rc = ws_fail(WS_EINVAL, "%s: give a grid or a list of runs", path);
    /* Both at once would be ambiguous (cross the list with the grid, or append?), so neither is guessed. */
    if (!rc && s->nk && s->nlist) rc = ws_fail(WS_EINVAL, "%s: give a grid or a list, not both", path);
    if (!rc && !s->name[0]) {
        const char *b = strrchr(path, '/');
        /* name defaults to the file's base name */
        snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(b ? b + 1 : path, "."), b ? b + 1 : path);
    }
    return rc;
}

typedef struct result { char label[512]; char *vals[MAXK]; double coarse, fine, boxed; } result;

/* The plot of seed mIoU (coarse, fine and, when made, boxed) against the values of swept key `key`:
 * one category per value in first-seen order (grid order for a grid), since values may be strings
 * (a model path, "maxid"/"score") or unevenly spaced. Runs that do not set the key are left out. */
static void plot_key(FILE *f, const char *key, int k, const result *res, int nr, int boxed)
{
    const char *cats[MAXRUNS];
    int cat[MAXRUNS], ncat = 0, n = 0;
    double y[3][MAXRUNS];
    for (int r = 0; r < nr; r++) {
        if (!res[r].vals[k]) continue;
        int c = 0;
        while (c < ncat && strcmp(cats[c], res[r].vals[k])) c++;
        if (c == ncat) cats[ncat++] = res[r].vals[k];
        cat[n] = c;
        y[0][n] = 100 * res[r].coarse;
        y[1][n] = 100 * res[r].fine;
        y[2][n++] = 100 * res[r].boxed;
    }
    static const char *const names[3] = {"coarse", "fine", "boxed"}, *const cols[3] = {"#ff7f0e", "#1f77b4", "#2ca02c"};
    const double *ys[3] = {y[0], y[1], y[2]};
    char title[600];
    snprintf(title, sizeof title, "Seed mIoU against %s", key);
    if (n) ws_svg_points(f, title, key, "seed mIoU (%)", cats, ncat, cat, n, ys, names, cols, boxed ? 3 : 2, 100);
}

/* summary.html: the summary table and one labelled plot per swept key, self-contained like report.html. */
static int summary_html(const char *dir, const char *name, const result *res, int nr, int nkeys, const char *const *keys,
                        int boxed)
{
    char path[4400], tmp[4500];
    snprintf(path, sizeof path, "%s/summary.html", dir);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fputs("<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,"
          "initial-scale=1\"><title>wsseed sweep</title><style>body{font-family:system-ui,sans-serif;margin:0 auto;"
          "padding:12px;max-width:1400px}.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{margin:0;flex:1 1 420px;"
          "max-width:720px;overflow-x:auto}.chart svg{width:100%;min-width:360px;height:auto}table{border-collapse:collapse}"
          "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head><body><h1>wsseed sweep ", f);
    ws_html_puts(f, name);
    fputs("</h1><div style=\"overflow-x:auto\"><table><tr><th>run</th>", f);
    for (int k = 0; k < nkeys; k++) { fputs("<th>", f); ws_html_puts(f, keys[k]); fputs("</th>", f); }
    fputs(boxed ? "<th>coarse mIoU (%)</th><th>fine mIoU (%)</th><th>boxed mIoU (%)</th></tr>\n"
                : "<th>coarse mIoU (%)</th><th>fine mIoU (%)</th></tr>\n", f);
    for (int r = 0; r < nr; r++) {
        fputs("<tr><td>", f);
        ws_html_puts(f, res[r].label);
        fputs("</td>", f);
        for (int k = 0; k < nkeys; k++) { fputs("<td>", f); ws_html_puts(f, res[r].vals[k] ? res[r].vals[k] : ""); fputs("</td>", f); }
        fprintf(f, "<td>%.2f</td><td>%.2f</td>", 100 * res[r].coarse, 100 * res[r].fine);
        if (boxed) fprintf(f, "<td>%.2f</td>", 100 * res[r].boxed);
        fputs("</tr>\n", f);
    }
    fputs("</table></div><div class=charts>\n", f);
    for (int k = 0; k < nkeys; k++) plot_key(f, keys[k], k, res, nr, boxed);
    fputs("</div></body></html>\n", f);
    return ws_fs_commit_file(f, tmp, path);
}

static int summarise(const char *dir, const sweep *s, const result *res, int nr, int nkeys, const char *const *keys)
{
    char path[4400], tmp[4500];
    /* Through core/fs like every output: a kill or a full disk leaves the previous summary whole (a reader
     * or a script never sees half a table), and the message names the file. */
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fputs("run", f);
    for (int k = 0; k < nkeys; k++) fprintf(f, ",%s", keys[k]);
    int boxed = 0;
    for (int r = 0; r < nr; r++) boxed |= !isnan(res[r].boxed);
    fputs(boxed ? ",miou_coarse,miou_fine,miou_boxed\n" : ",miou_coarse,miou_fine\n", f);
    for (int r = 0; r < nr; r++) {
        fprintf(f, "%s", res[r].label);
        for (int k = 0; k < nkeys; k++) fprintf(f, ",%s", res[r].vals[k] ? res[r].vals[k] : "");
        fprintf(f, ",%.6f,%.6f", 100 * res[r].coarse, 100 * res[r].fine);
        if (boxed) fprintf(f, ",%.6f", 100 * res[r].boxed);
        fputs("\n", f);
    }
    int rc = ws_fs_commit_file(f, tmp, path);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/summary.md", dir);
    if (!(f = ws_fs_open_tmp(path, tmp, sizeof tmp))) return WS_EIO;
    fputs("|", f);
    for (int k = 0; k < nkeys; k++) fprintf(f, " %s |", keys[k]);
    fputs(boxed ? " coarse mIoU | fine mIoU | boxed mIoU |\n|" : " coarse mIoU | fine mIoU |\n|", f);
    for (int k = 0; k < nkeys + 2 + boxed; k++) fputs(k < nkeys ? "---|" : "---:|", f);
    fputs("\n", f);
    for (int r = 0; r < nr; r++) {
        fputs("|", f);
        for (int k = 0; k < nkeys; k++) fprintf(f, " %s |", res[r].vals[k] ? res[r].vals[k] : "");
        fprintf(f, " %.2f | %.2f |", 100 * res[r].coarse, 100 * res[r].fine);
        if (boxed) fprintf(f, " %.2f |", 100 * res[r].boxed);
        fputs("\n", f);
    }
    if ((rc = ws_fs_commit_file(f, tmp, path))) return rc;
    return summary_html(dir, s->name, res, nr, nkeys, keys, boxed);
}

/* The swept keys (grid keys, or every key the list's runs set, in first-seen order) into names;
 * returns the number of runs. */
static int swept_keys(const sweep *s, const char **names, int *nkeys)
{
    int total = 1;
    *nkeys = 0;
    if (s->nk) {
        for (int k = 0; k < s->nk; k++) { total *= s->nv[k]; names[(*nkeys)++] = s->key[k]; }
        return total;
    }
    for (int r = 0; r < s->nlist; r++)
        for (int k = 0; k < s->ln[r]; k++) {
            int seen = 0;
            for (int j = 0; j < *nkeys; j++) seen |= !strcmp(names[j], s->lkey[r][k]);
            if (!seen && *nkeys < MAXK) names[(*nkeys)++] = s->lkey[r][k];
        }
    return s->nlist;
}

/* Run r's settings: the base config c with run r's value of every swept key (grid: r in
 * row-major order of the keys; list: entry r); o receives the values and the run's label. */
static int run_settings(const sweep *s, const char *const *names, int nkeys, int r, const ws_cfg_key *keys, size_t nk,
                        ws_pipe_cfg *c, result *o)
{
    char assign[1200];
    int lo = 0;
    o->label[0] = '\0';
    for (int k = 0; k < nkeys; k++) {
        const char *v = NULL, *where = NULL;
        if (s->nk) {
            int stride = 1;
            for (int j = k + 1; j < s->nk; j++) stride *= s->nv[j];
            /* Row-major: the last grid key varies fastest, so runs sharing the first keys' values (and their
             * cached stages) come one after another. */
            v = s->val[k][(r / stride) % s->nv[k]];
            where = s->keyw[k];
        } else {
            for (int j = 0; j < s->ln[r]; j++)
                if (!strcmp(s->lkey[r][j], names[k])) v = s->lval[r][j], where = s->lw[r][j];
        }
        o->vals[k] = v ? strdup(v) : NULL;
        if (!v) continue;
        snprintf(assign, sizeof assign, "%s=%s", names[k], v);
        /* The same parser as --set: a swept key is checked against the pipeline's key table and its type
         * like any override, and a bad one is named by its line in the sweep file. */
        int rc = ws_cfg_set_from(keys, nk, c, assign, where);
        if (rc) return rc;
        /* The label ("key=v,key=v") is the run's folder name, so a run's folder says what it changed. */
        lo += snprintf(o->label + lo, sizeof o->label - (size_t)lo, "%s%s=%s", lo ? "," : "", names[k], v);
    }
    return 0;
}

static int run_sweep(const char *file, sweep *s, int list_only, int spread_runs)
{
    ws_cfg_key *keys = NULL;
    size_t nk = 0;
    char base[4096], dir[4096];
    result *res = calloc(MAXRUNS, sizeof *res);
    const char *names[MAXK];
    int nkeys = 0, rc = res ? ws_pipe_keys(&keys, &nk) : ws_fail(WS_ENOMEM, "out of memory");
    const char *slash = strrchr(file, '/');
    /* The base config is relative to the sweep file, not to the current folder, so a sweep and its config
     * move together. */
    if (s->pipeline[0] == '/' || !slash) snprintf(base, sizeof base, "%s", s->pipeline);
    else snprintf(base, sizeof base, "%.*s/%s", (int)(slash - file), file, s->pipeline);
    const int total = swept_keys(s, names, &nkeys);
    /* Checked before anything runs: a grid that is too large fails at once, not after days. */
    if (!rc && total > MAXRUNS) rc = ws_fail(WS_EINVAL, "%s: %d runs (at most %d)", file, total, MAXRUNS);
    ws_pipe_cfg c0;
    ws_pipe_defaults(&c0);
    if (!rc) rc = ws_cfg_load(keys, nk, &c0, base);
    for (int i = 0; !rc && i < s->nset; i++) rc = ws_cfg_set_from(keys, nk, &c0, s->set[i], s->setw[i]);
    snprintf(dir, sizeof dir, "%s/%s", c0.out_dir, s->name);
    /* spread_runs under several ranks: rank k runs runs k, k + N, ... alone (each a one-process pipeline; the
     * shared stage cache's locks make a rank wait while another computes a stage both need), then the ranks
     * meet and sum the scores; else every run is one distributed pipeline over all ranks. */
    /* Every run's settings, and the pipeline's pre-flight of them, are checked before the first run starts: a
     * typo in the last entry of a list must not wait for days of the runs before it. */
    for (int r = 0; !rc && r < total; r++) {
        ws_pipe_cfg c = c0;
        result probe;
        memset(&probe, 0, sizeof probe);
        rc = run_settings(s, names, nkeys, r, keys, nk, &c, &probe);
        if (!rc && !list_only && ws_pipe_preflight(&c, NULL))
            rc = ws_fail(WS_EINVAL, "%s: run %d of %d (%s): %s", file, r + 1, total, probe.label, ws_last_error());
        for (int k = 0; k < MAXK; k++) free(probe.vals[k]);
    }
    if (!rc && !list_only) rc = ws_mkdir_p(dir);
    const int apart = spread_runs && !list_only && ws_rank_world() > 1, me = ws_rank_id(), ranks = ws_rank_world();
    double *scores = calloc((size_t)total * 3 + 1, sizeof *scores);
    if (!rc && !scores) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && apart && (rc = ws_rank_apart_begin()) == 0)
        ws_log("sweep: %d runs spread over %d ranks (this is rank %d)", total, ranks, me);
    int began = apart && !rc;
    for (int r = 0; !rc && r < total; r++) {
        ws_pipe_cfg c = c0;
        result *o = &res[r];
        if ((rc = run_settings(s, names, nkeys, r, keys, nk, &c, o))) break;
        /* every run shares the base config's stage cache: stages a run does not change are reused */
        if (!c.cache_dir[0]) snprintf(c.cache_dir, sizeof c.cache_dir, "%.1000s/cache", c0.out_dir);
        snprintf(c.out_dir, sizeof c.out_dir, "%.1000s", dir);
        snprintf(c.run, sizeof c.run, "%.1000s", o->label);
        if (list_only) { printf("%s/%s\n", dir, o->label); continue; }
        if (apart && r % ranks != me) continue;
        ws_log("sweep run %d/%d: %s", r + 1, total, o->label);
        rc = ws_stage_pipeline(&c, &o->coarse, &o->fine, &o->boxed);
        if (!rc) memcpy(scores + 3 * r, (double[3]){o->coarse, o->fine, o->boxed}, sizeof(double[3]));
    }
    if (began) {
        rc = ws_rank_apart_end(rc, scores, (size_t)total * 3, "the sweep's runs");
        for (int r = 0; !rc && r < total; r++) res[r].coarse = scores[3 * r], res[r].fine = scores[3 * r + 1], res[r].boxed = scores[3 * r + 2];
    }
    free(scores);
    if (!rc && !list_only && ws_rank_id() == 0) rc = summarise(dir, s, res, total, nkeys, names);
    if (!list_only) rc = ws_rank_agree(rc, "the sweep's summary");
    if (!rc && !list_only) ws_log("sweep done: %s/summary.md", dir);
    for (int r = 0; r < MAXRUNS && res; r++)
        for (int k = 0; k < MAXK; k++) free(res[r].vals[k]);
    free(res);
    ws_cfg_table_free(keys, nk);
    return rc;
}

int ws_stage_sweep(const char *file, int list_only, int spread_runs)
{
    sweep s;
    memset(&s, 0, sizeof s);
    int rc = parse(file, &s);
    if (!rc) rc = run_sweep(file, &s, list_only, spread_runs);
    sweep_free(&s);
    return rc;
}

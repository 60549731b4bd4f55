/* dump_common.c - pieces shared by the `dump` modules: the checkpoint manifest group. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* ---- /checkpoint/<file>: the manifest of every tensor in file order ---- */

static void manifest_name(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    snprintf(buf, cap, "/checkpoint/%s", base ? base + 1 : path);
    for (char *p = buf + 12; *p; p++)
        if (*p == '.' || *p == '-') *p = '_';
}

static int manifest_entry(ws_at_tensor t, char **dtype, int32_t *ndim, int64_t *shape4, double *sum,
                          double *abs_sum, double *first8)
{
    int64_t sh[WS_AT_MAX_DIMS], n = 0;
    int nd = 0, dt = 0;
    ws_at_tensor d = NULL;
    if (ws_at_shape(t, sh, WS_AT_MAX_DIMS, &nd) || ws_at_dtype_of(t, &dt) || ws_at_numel(t, &n) ||
        ws_at_to_dtype(t, WS_AT_F64, &d))
        return ws_fail(WS_ETORCH, "manifest: %s", ws_at_last_error());
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v || ws_at_read(d, v, (size_t)n * sizeof *v)) {
        free(v);
        ws_at_free(d);
        return ws_fail(WS_ETORCH, "manifest: %s", ws_at_last_error());
    }
    *dtype = strdup(ws_at_dtype_name(dt));
    *ndim = nd;
    for (int i = 0; i < 4; i++) shape4[i] = i < nd ? sh[i] : -1;
    long double s = 0, a = 0;   /* extended precision: the reference sums in float64 exactly enough */
    for (int64_t i = 0; i < n; i++) { s += v[i]; a += fabsl((long double)v[i]); }
    *sum = (double)s;
    *abs_sum = (double)a;
    for (int i = 0; i < 8; i++) first8[i] = i < n ? v[i] : NAN;
    free(v);
    ws_at_free(d);
    return 0;
}

int ws_cli_dump_manifest(ws_h5file *out, ws_at_ckpt ck)
{
    char grp[256], name[300];
    int n = ws_at_ckpt_count(ck), rc = 0;
    char **names = calloc((size_t)n + 1, sizeof *names), **dtypes = calloc((size_t)n + 1, sizeof *dtypes);
    int32_t *ndim = calloc((size_t)n + 1, sizeof *ndim);
    int64_t *shapes = calloc((size_t)n * 4 + 1, sizeof *shapes);
    double *sum = calloc((size_t)n + 1, sizeof *sum), *abs_sum = calloc((size_t)n + 1, sizeof *abs_sum);
    double *first8 = calloc((size_t)n * 8 + 1, sizeof *first8);
    if (!names || !dtypes || !ndim || !shapes || !sum || !abs_sum || !first8) {
        rc = ws_fail(WS_ENOMEM, "manifest: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < n && !rc; i++) {
        ws_at_tensor t = NULL;
        names[i] = strdup(ws_at_ckpt_name(ck, i));
        if (ws_at_ckpt_get(ck, names[i], &t)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
        else rc = manifest_entry(t, &dtypes[i], &ndim[i], shapes + 4 * i, &sum[i], &abs_sum[i], first8 + 8 * i);
        ws_at_free(t);
    }
    if (rc) goto cleanup;
    manifest_name(ws_at_ckpt_path(ck), grp, sizeof grp);
    const int64_t s1[1] = {n}, s4[2] = {n, 4}, s8[2] = {n, 8};
    snprintf(name, sizeof name, "%s/names", grp);
    TRY(ws_h5_write_strings(out, name, names, (size_t)n));
    snprintf(name, sizeof name, "%s/dtypes", grp);
    TRY(ws_h5_write_strings(out, name, dtypes, (size_t)n));
    snprintf(name, sizeof name, "%s/ndim", grp);
    TRY(ws_h5_write_raw(out, name, WS_I32, 1, s1, ndim));
    snprintf(name, sizeof name, "%s/shapes", grp);
    TRY(ws_h5_write_raw(out, name, WS_I64, 2, s4, shapes));
    snprintf(name, sizeof name, "%s/sum", grp);
    TRY(ws_h5_write_raw(out, name, WS_F64, 1, s1, sum));
    snprintf(name, sizeof name, "%s/abs_sum", grp);
    TRY(ws_h5_write_raw(out, name, WS_F64, 1, s1, abs_sum));
    snprintf(name, sizeof name, "%s/first8", grp);
    TRY(ws_h5_write_raw(out, name, WS_F64, 2, s8, first8));
cleanup:
    ws_h5_strings_free(names, (size_t)n);
    ws_h5_strings_free(dtypes, (size_t)n);
    free(ndim);
    free(shapes);
    free(sum);
    free(abs_sum);
    free(first8);
    return rc;
}


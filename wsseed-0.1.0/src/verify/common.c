/* common.c - helpers every `dump` module shares: the checkpoint manifest group, settings read
 * from attributes (with the file, object and attribute named on failure) and the case groups
 * of a file. They belong to the harness alone; nothing outside src/verify uses them.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* ---- /checkpoint/<file>: the manifest of every tensor in file order ---- */

/* The group is named after the checkpoint's file, with '.' and '-' made '_', as the golden files
 * name these groups. */
static void manifest_name(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    snprintf(buf, cap, "/checkpoint/%s", base ? base + 1 : path);
    for (char *p = buf + 12; *p; p++)
        if (*p == '.' || *p == '-') *p = '_';
}

/* Per tensor: dtype, rank, shape padded to 4 with -1, sum, sum of |x| and the first 8 values. Cheap to
 * compare, and enough to tell a wrong key order, a transposed weight or a wrong dtype conversion in the
 * checkpoint reader apart. */
static int manifest_entry(ws_at_tensor t, char **dtype, int32_t *ndim, int64_t *shape4, double *sum,
                          double *abs_sum, double *first8)
{
    int64_t sh[WS_AT_MAX_DIMS], n = 0;
    int nd = 0, dt = 0;
    ws_at_tensor d = NULL;
    /* Read as float64 whatever the stored dtype, so one summary code serves half, float and integer tensors. */
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
    /* NaN pads tensors with fewer than 8 elements (the comparer treats NaN = NaN). */
    for (int i = 0; i < 8; i++) first8[i] = i < n ? v[i] : NAN;
    free(v);
    ws_at_free(d);
    return 0;
}

int ws_verify_manifest(ws_h5file *out, ws_at_ckpt ck)
{
    char grp[256], name[300];
    /* Every tensor in file order: a missing or extra key in the reader shows up as a shifted name list, not
     * as a silent skip. */
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


/* ---- settings and case groups ---- */

/* The object is checked first because H5Aexists_by_name fails (rather than answering 0) on a missing object. */
static int attr_present(const ws_h5file *f, const char *obj, const char *attr)
{
    return ws_h5_exists(f, obj) && H5Aexists_by_name(f->id, obj, attr, H5P_DEFAULT) > 0;
}

int ws_verify_attr_num(const ws_h5file *f, const char *obj, const char *attr, int has_dflt, double dflt, double *v)
{
    if (!attr_present(f, obj, attr)) {
        /* Only settings with a documented default may be absent; for the others the message says a setting is
         * missing from the input file, not that a dataset is missing from wsseed. */
        if (has_dflt) { *v = dflt; return 0; }
        return ws_fail(WS_EFORMAT, "%s: %s lacks the attribute '%s' (a setting this module reads from the file)",
                       f->path, obj, attr);
    }
    return ws_h5_attr_double(f, obj, attr, v);
}

int ws_verify_attr_int(const ws_h5file *f, const char *obj, const char *attr, int has_dflt, long dflt, long *v)
{
    double d = 0;
    int rc = ws_verify_attr_num(f, obj, attr, has_dflt, (double)dflt, &d);
    if (rc) return rc;
    /* Attributes are read as doubles (h5py may write an integer setting as int64 or float64); a fractional
     * value for an integer setting is refused, not truncated. */
    if (d != (double)(long)d)
        return ws_fail(WS_EFORMAT, "%s: %s@%s = %g must be an integer", f->path, obj, attr, d);
    *v = (long)d;
    return 0;
}

typedef struct group_list { char **v; size_t n, cap; int err; } group_list;

static herr_t add_group(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    group_list *l = op;
    (void)info;
    /* Only groups are cases; datasets beside them (shared inputs) are skipped. HDF5 1.12 versioned
     * the object info (H5Oget_info_by_name3, H5O_info2_t; 1.14 maps the plain name to it). */
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t oi;
    if (H5Oget_info_by_name3(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) return 0;
#else
    H5O_info_t oi;
    if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) return 0;
#endif
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) { l->err = 1; return -1; }
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name))) { l->err = 1; return -1; }
    l->n++;
    return 0;
}

int ws_verify_subgroups(const ws_h5file *f, const char *group, char ***names, size_t *n)
{
    group_list l = {0};
    *names = NULL;
    *n = 0;
    if (!ws_h5_exists(f, group)) return 0;
    hid_t g = H5Gopen2(f->id, group, H5P_DEFAULT);
    if (g < 0) return ws_fail(WS_EFORMAT, "%s: %s is not a group", f->path, group);
    /* name order, so that outputs do not depend on the order the file was written in */
    herr_t st = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, add_group, &l);
    H5Gclose(g);
    if (st < 0 || l.err) {
        ws_h5_strings_free(l.v, l.n);
        return ws_fail(l.err ? WS_ENOMEM : WS_EFORMAT, "%s: cannot list the groups below %s", f->path, group);
    }
    *names = l.v;
    *n = l.n;
    return 0;
}

int ws_verify_attr_vec(const ws_h5file *f, const char *obj, const char *attr, double *v, int n)
{
    if (!attr_present(f, obj, attr))
        return ws_fail(WS_EFORMAT, "%s: %s lacks the attribute '%s' (a setting this module reads from the file)",
                       f->path, obj, attr);
    hid_t a = H5Aopen_by_name(f->id, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rc = 0;
    if (np != n) rc = ws_fail(WS_EFORMAT, "%s: %s@%s must hold %d numbers", f->path, obj, attr, n);
    else if (H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0) rc = ws_fail(WS_EFORMAT, "%s: %s@%s is not numeric", f->path, obj, attr);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return rc;
}

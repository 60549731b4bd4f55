/* h5.c - HDF5 helpers (see h5.h): files opened read-only or created under a temporary name and
 * committed atomically, numeric datasets to and from ws_array, string lists, attributes.
 *
 * Owns the mapping of wsseed dtypes to HDF5 types (little-endian on disk, as numpy and h5py
 * write them) and the dataset creation properties (chunking and compression of large arrays).
 */
#define _POSIX_C_SOURCE 200809L
#include "io/h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/status.h"

/* HDF5 prints its own error stack to stderr by default; wsseed reports one message naming the file and
 * dataset instead (ws_fail), so the stack is switched off on every entry point. */
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

int ws_h5_open(ws_h5file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    quiet();
    /* Checked first so a missing file and a damaged one get different messages: H5Fopen fails the same way
     * for both. */
    if (access(path, R_OK) != 0) return ws_fail(WS_EIO, "cannot open %s: no such file or not readable", path);
    f->id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->id < 0) return ws_fail(WS_EFORMAT, "%s is not a readable HDF5 file (truncated or corrupt?)", path);
    f->path = strdup(path);
    return 0;
}

int ws_h5_create(ws_h5file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    quiet();
    size_t n = strlen(path) + 32;
    f->path = strdup(path);
    f->tmp = malloc(n);
    if (!f->path || !f->tmp) { ws_h5_close(f); return ws_fail(WS_ENOMEM, "out of memory"); }
    /* The pid in the name: shards writing parts of one store, or two runs that race on one output, never
     * share a temporary file. */
    snprintf(f->tmp, n, "%s.tmp-%ld", path, (long)getpid());
    f->id = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f->id < 0) {
        int rc = ws_fail(WS_EIO, "cannot create %s (does the folder exist and is it writable?)", f->tmp);
        ws_h5_close(f);
        return rc;
    }
    return 0;
}

int ws_h5_commit(ws_h5file *f)
{
    if (!f->tmp) return ws_fail(WS_EINVAL, "%s was not opened for writing", f->path);
    if (H5Fclose(f->id) < 0) { f->id = 0; return ws_fail(WS_EIO, "cannot finish writing %s", f->tmp); }
    f->id = 0;
    int rc = ws_fs_commit(f->tmp, f->path);   /* flushed and renamed: survives a power loss */
    if (rc) return rc;
    free(f->tmp);
    f->tmp = NULL;
    return 0;
}

void ws_h5_close(ws_h5file *f)
{
    if (!f) return;
    if (f->id > 0) H5Fclose(f->id);
    /* Closing without a commit drops what was written: a failed write leaves no half file under either name. */
    if (f->tmp) remove(f->tmp);
    free(f->path);
    free(f->tmp);
    memset(f, 0, sizeof *f);
}

int ws_h5_exists(const ws_h5file *f, const char *name)
{
    /* check every prefix: H5Lexists fails on a path whose parent is missing */
    char buf[1024];
    size_t n = strlen(name);
    if (n >= sizeof buf) return 0;
    memcpy(buf, name, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) return 0;
            buf[i] = c;
        }
    }
    return 1;
}

/* IEEE binary16, little-endian (the type h5py writes for numpy float16); made once. */
static hid_t half_type(void)
{
    static hid_t t = -1;
    if (t < 0) {
        t = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(t, 15, 10, 5, 0, 10);
        H5Tset_size(t, 2);
        H5Tset_ebias(t, 15);
    }
    return t;
}

static hid_t mem_type(int dtype)
{
    switch (dtype) {
    case WS_F32: return H5T_NATIVE_FLOAT;
    case WS_F64: return H5T_NATIVE_DOUBLE;
    case WS_I64: return H5T_NATIVE_INT64;
    case WS_I32: return H5T_NATIVE_INT32;
    case WS_U8: case WS_BOOL: return H5T_NATIVE_UINT8;
    case WS_F16: return half_type();   /* raw binary16 bits in memory */
    default: return -1;
    }
}

static hid_t file_type(int dtype)
{
    switch (dtype) {
    case WS_F32: return H5T_IEEE_F32LE;
    case WS_F64: return H5T_IEEE_F64LE;
    case WS_I64: return H5T_STD_I64LE;
    case WS_I32: return H5T_STD_I32LE;
    case WS_U8: case WS_BOOL: return H5T_STD_U8LE;
    case WS_F16: return half_type();
    default: return -1;
    }
}

static int dtype_of_h5(hid_t t)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    /* With no requested type, float16 data is widened to float32 (the library computes in float32) and
     * integers map to the widths ws_array knows. */
    if (c == H5T_FLOAT) return sz == 8 ? WS_F64 : WS_F32;
    if (c == H5T_INTEGER) {
        if (sz == 8) return WS_I64;
        if (sz == 1) return WS_U8;
        return WS_I32;
    }
    return -1;
}

int ws_h5_read(const ws_h5file *f, const char *name, int want, ws_array *out)
{
    hid_t ds = -1, sp = -1, ty = -1;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!ws_h5_exists(f, name)) return ws_fail(WS_EFORMAT, "%s has no dataset '%s'", f->path, name);
    ds = H5Dopen2(f->id, name, H5P_DEFAULT);
    if (ds < 0) return ws_fail(WS_EFORMAT, "%s: '%s' is not a dataset", f->path, name);
    sp = H5Dget_space(ds);
    ty = H5Dget_type(ds);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[WS_ARRAY_MAX_DIMS];
    int dt = want >= 0 ? want : dtype_of_h5(ty);
    if (nd < 0 || nd > WS_ARRAY_MAX_DIMS || dt < 0) {
        rc = ws_fail(WS_EFORMAT, "%s: dataset '%s' has an unsupported type or rank", f->path, name);
        goto cleanup;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    int64_t shape[WS_ARRAY_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
    if ((rc = ws_array_alloc(out, dt, nd, shape))) goto cleanup;
    if (ws_array_numel(out) > 0 && H5Dread(ds, mem_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0) {
        rc = ws_fail(WS_EFORMAT, "%s: cannot read dataset '%s' as %s", f->path, name,
                     dt == WS_F32 ? "float32" : "the requested type");
        ws_array_free(out);
    }
cleanup:
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

/* Creates the groups of every parent of name. */
static int make_parents(ws_h5file *f, const char *name)
{
    char buf[1024];
    size_t n = strlen(name);
    if (n >= sizeof buf) return ws_fail(WS_EINVAL, "HDF5 path too long: %s", name);
    memcpy(buf, name, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/') continue;
        buf[i] = '\0';
        if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(f->id, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) return ws_fail(WS_EIO, "%s: cannot create group %s", f->tmp, buf);
            H5Gclose(g);
        }
        buf[i] = '/';
    }
    return 0;
}

int ws_h5_write_raw(ws_h5file *f, const char *name, int dtype, int ndim, const int64_t *shape, const void *data)
{
    hsize_t dims[WS_ARRAY_MAX_DIMS];
    size_t numel = 1;
    int rc;
    if (ndim < 0 || ndim > WS_ARRAY_MAX_DIMS || mem_type(dtype) < 0)
        return ws_fail(WS_EINVAL, "%s: cannot write '%s' (dtype %d, rank %d)", f->path, name, dtype, ndim);
    for (int i = 0; i < ndim; i++) numel *= (size_t)(dims[i] = (hsize_t)shape[i]);
    if ((rc = make_parents(f, name))) return rc;
    hid_t sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    /* Arrays of 1 MiB and more are chunked by row and deflated after a byte shuffle (which groups
     * the bytes of floats by significance, the usual aid to deflate); small ones stay contiguous,
     * where chunk overhead would outweigh the gain. shuffle + gzip are built into every HDF5, so
     * h5py reads the files without a filter plugin. */
    if (ndim && numel * ws_dtype_size(dtype) >= (1u << 20)) {
        hsize_t chunk[WS_ARRAY_MAX_DIMS];
        for (int i = 0; i < ndim; i++) chunk[i] = i == 0 ? 1 : dims[i];
        H5Pset_chunk(pl, ndim, chunk);
        H5Pset_shuffle(pl);
        H5Pset_deflate(pl, 4);
    }
    hid_t ds = H5Dcreate2(f->id, name, file_type(dtype), sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    rc = ds < 0 ? ws_fail(WS_EIO, "%s: cannot create dataset %s", f->tmp, name) : 0;
    if (!rc && numel && H5Dwrite(ds, mem_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = ws_fail(WS_EIO, "%s: cannot write dataset %s", f->tmp, name);
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    return rc;
}

int ws_h5_write(ws_h5file *f, const char *name, const ws_array *a)
{
    return ws_h5_write_raw(f, name, a->dtype, a->ndim, a->shape, a->data);
}

void ws_h5_strings_free(char **strs, size_t n)
{
    for (size_t i = 0; strs && i < n; i++) free(strs[i]);
    free(strs);
}

static int read_vlen_strings(const ws_h5file *f, const char *name, char ***strs, size_t *n)
{
    hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT), sp = H5Dget_space(ds);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    char **raw = calloc((size_t)cnt + 1, sizeof *raw), **res = calloc((size_t)cnt + 1, sizeof *res);
    int rc = 0;
    if (!raw || !res) rc = ws_fail(WS_ENOMEM, "out of memory");
    else if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
        rc = ws_fail(WS_EFORMAT, "%s: '%s' is not a string dataset", f->path, name);
    for (hssize_t i = 0; !rc && i < cnt; i++) res[i] = strdup(raw[i] ? raw[i] : "");
#if H5_VERSION_GE(1, 12, 0)
    if (!rc) H5Treclaim(mt, sp, H5P_DEFAULT, raw);   /* H5Dvlen_reclaim is deprecated since 1.12 */
#else
    if (!rc) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
#endif
    free(raw);
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);
    if (rc) { ws_h5_strings_free(res, (size_t)cnt); return rc; }
    *strs = res;
    *n = (size_t)cnt;
    return 0;
}

int ws_h5_read_strings(const ws_h5file *f, const char *name, char ***strs, size_t *n)
{
    char a[512], b[512];
    ws_array bytes = {0}, offs = {0};
    snprintf(a, sizeof a, "%s_utf8", name);
    snprintf(b, sizeof b, "%s_utf8_offsets", name);
    /* The byte + offset pair is preferred when present: it is the golden files' convention and needs no HDF5
     * vlen reclaim. */
    if (!ws_h5_exists(f, a) || !ws_h5_exists(f, b)) {
        if (!ws_h5_exists(f, name)) return ws_fail(WS_EFORMAT, "%s has no string dataset '%s'", f->path, name);
        return read_vlen_strings(f, name, strs, n);
    }
    int rc = ws_h5_read(f, a, WS_U8, &bytes);
    if (!rc) rc = ws_h5_read(f, b, WS_I64, &offs);
    if (rc) goto cleanup;
    size_t cnt = (size_t)ws_array_numel(&offs) - 1;
    const int64_t *o = offs.data;
    char **res = calloc(cnt + 1, sizeof *res);
    if (!res) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (size_t i = 0; i < cnt; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || o[i + 1] > ws_array_numel(&bytes)) {
            ws_h5_strings_free(res, cnt);
            rc = ws_fail(WS_EFORMAT, "%s: bad offsets in %s", f->path, b);
            goto cleanup;
        }
        size_t len = (size_t)(o[i + 1] - o[i]);
        res[i] = malloc(len + 1);
        if (!res[i]) { ws_h5_strings_free(res, cnt); rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
        memcpy(res[i], (char *)bytes.data + o[i], len);
        res[i][len] = '\0';
    }
    *strs = res;
    *n = cnt;
cleanup:
    ws_array_free(&bytes);
    ws_array_free(&offs);
    return rc;
}

int ws_h5_write_strings(ws_h5file *f, const char *name, char *const *strs, size_t n)
{
    char a[512], b[512];
    int rc;
    if ((rc = make_parents(f, name))) return rc;
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL), ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, H5T_VARIABLE);
    H5Tset_cset(ty, H5T_CSET_UTF8);
    /* Both forms are written: the vlen dataset for h5py users (a list of str), the bytes + offsets pair for C
     * readers and the golden-file tools. */
    hid_t ds = H5Dcreate2(f->id, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = ds < 0 || (n && H5Dwrite(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) < 0)
             ? ws_fail(WS_EIO, "%s: cannot write strings %s", f->tmp, name) : 0;
    if (ds >= 0) H5Dclose(ds);
    H5Tclose(ty);
    H5Sclose(sp);
    if (rc) return rc;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += strlen(strs[i]);
    char *buf = malloc(total + 1);
    int64_t *off = malloc((n + 1) * sizeof *off);
    if (!buf || !off) { free(buf); free(off); return ws_fail(WS_ENOMEM, "out of memory"); }
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(strs[i]);
        memcpy(buf + off[i], strs[i], l);
        off[i + 1] = off[i] + (int64_t)l;
    }
    snprintf(a, sizeof a, "%s_utf8", name);
    snprintf(b, sizeof b, "%s_utf8_offsets", name);
    const int64_t s1[1] = {(int64_t)total}, s2[1] = {(int64_t)n + 1};
    rc = ws_h5_write_raw(f, a, WS_U8, 1, s1, buf);
    if (!rc) rc = ws_h5_write_raw(f, b, WS_I64, 1, s2, off);
    free(buf);
    free(off);
    return rc;
}

typedef struct { char **names; size_t n, cap; int err; } list_ctx;

/* HDF5 1.12 changed the object visitor (H5Ovisit3: an H5O_info2_t and a fields mask) and 1.14 maps the
 * unversioned H5Ovisit to it; 1.10 has H5Ovisit2 with the same mask over H5O_info_t. Asking only
 * for the basic fields (the object type is all we read) also spares HDF5 reading headers. */
#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t ws_h5_oinfo;
#define WS_H5_OVISIT(g, cb, op) H5Ovisit3(g, H5_INDEX_NAME, H5_ITER_INC, cb, op, H5O_INFO_BASIC)
#else
typedef H5O_info_t ws_h5_oinfo;
#define WS_H5_OVISIT(g, cb, op) H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_INC, cb, op, H5O_INFO_BASIC)
#endif

static herr_t visit(hid_t obj, const char *name, const ws_h5_oinfo *info, void *op)
{
    (void)obj;
    list_ctx *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        char **p = realloc(c->names, cap * sizeof *p);
        if (!p) { c->err = 1; return -1; }
        c->names = p;
        c->cap = cap;
    }
    if (!(c->names[c->n] = strdup(name))) { c->err = 1; return -1; }
    c->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ws_h5_list(const ws_h5file *f, const char *group, char ***names, size_t *n)
{
    list_ctx c = {0};
    hid_t g = H5Oopen(f->id, group, H5P_DEFAULT);
    if (g < 0) return ws_fail(WS_EFORMAT, "%s has no group '%s'", f->path, group);
    herr_t r = WS_H5_OVISIT(g, visit, &c);
    H5Oclose(g);
    if (r < 0 || c.err) { ws_h5_strings_free(c.names, c.n); return ws_fail(WS_ENOMEM, "cannot list %s", f->path); }
    /* Sorted by full path so listings (and dumps compared against golden files) do not depend on HDF5's link
     * order. */
    qsort(c.names, c.n, sizeof *c.names, cmp_str);
    *names = c.names;
    *n = c.n;
    return 0;
}

int ws_h5_attr_string(const ws_h5file *f, const char *obj, const char *attr, char *buf, size_t cap)
{
    int rc = ws_fail(WS_EFORMAT, "%s: %s lacks the string attribute '%s'", f->path, obj, attr);
    hid_t a = H5Aopen_by_name(f->id, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return rc;
    hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        /* h5py writes str attributes as variable-length strings, older tools and numpy bytes as fixed-length
         * ones: both are accepted. */
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, cap, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
        } else {
            size_t n = H5Tget_size(t);
            char *s = calloc(n + 1, 1);
            H5Tset_size(mt, n + 1);
            if (s && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, cap, "%s", s);
                rc = 0;
            }
            free(s);
        }
    }
    H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int ws_h5_read_row(const ws_h5file *f, const char *name, int64_t row, int want, ws_array *out)
{
    memset(out, 0, sizeof *out);
    if (!ws_h5_exists(f, name)) return ws_fail(WS_EFORMAT, "%s has no dataset '%s'", f->path, name);
    hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT), sp = H5Dget_space(ds), ty = H5Dget_type(ds), ms = -1;
    int nd = H5Sget_simple_extent_ndims(sp), rc = 0;
    hsize_t dims[WS_ARRAY_MAX_DIMS], start[WS_ARRAY_MAX_DIMS] = {0}, count[WS_ARRAY_MAX_DIMS];
    int dt = want >= 0 ? want : dtype_of_h5(ty);
    if (nd < 1 || nd > WS_ARRAY_MAX_DIMS || dt < 0) {
        rc = ws_fail(WS_EFORMAT, "%s: dataset '%s' has an unsupported type or rank", f->path, name);
        goto done;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    if (row < 0 || (hsize_t)row >= dims[0]) {
        rc = ws_fail(WS_EINVAL, "%s: '%s' has %llu rows, not %lld", f->path, name, (unsigned long long)dims[0], (long long)row);
        goto done;
    }
    int64_t shape[WS_ARRAY_MAX_DIMS];
    for (int i = 1; i < nd; i++) { shape[i - 1] = (int64_t)dims[i]; count[i] = dims[i]; }
    start[0] = (hsize_t)row;
    count[0] = 1;
    if ((rc = ws_array_alloc(out, dt, nd - 1, shape))) goto done;
    /* One row through a hyperslab: the feature cache reads one row of a large (N, ...) dataset without
     * loading the rest. */
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    ms = H5Screate_simple(nd, count, NULL);
    if (H5Dread(ds, mem_type(dt), ms, sp, H5P_DEFAULT, out->data) < 0) {
        rc = ws_fail(WS_EIO, "%s: cannot read row %lld of '%s' (truncated file?)", f->path, (long long)row, name);
        ws_array_free(out);
    }
done:
    if (ms >= 0) H5Sclose(ms);
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

int ws_h5_attr_double(const ws_h5file *f, const char *obj, const char *attr, double *v)
{
    hid_t a = H5Aopen_by_name(f->id, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return ws_fail(WS_EFORMAT, "%s: %s lacks the numeric attribute '%s'", f->path, obj, attr);
    int rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0 ? ws_fail(WS_EFORMAT, "%s: %s/%s is not numeric", f->path, obj, attr) : 0;
    H5Aclose(a);
    return rc;
}

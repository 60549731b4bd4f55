/* h5edit.c - makes modified copies of golden files for the tests of the verification harness.
 *
 * Usage: h5edit IN.h5 OUT.h5 OP...   (OUT is a copy of IN with the operations applied in order)
 *   mv SRC DST              rename a group or dataset (missing parent groups are created)
 *   cp SRC DST              copy a group or dataset
 *   rm PATH                 delete a group or dataset
 *   attr OBJ NAME VALUE     set (or replace) a scalar attribute: float64, or int64 when VALUE is
 *                           an integer literal
 *   sattr OBJ NAME VALUE    set (or replace) a variable-length UTF-8 string attribute
 *   vattr OBJ NAME V1,V2,.. set (or replace) a float64 vector attribute
 *   strings PATH S1,S2,...  replace a string list (PATH, PATH_utf8, PATH_utf8_offsets)
 *   rows PATH N             keep the first N rows (index 0) of a dataset, or repeat the last
 *                           row up to N
 *   set PATH I VALUE        set flat element I of a numeric dataset to VALUE
 * No Python needed: the tests build the modified inputs they need with this tool.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/h5.h"

static int copy_file(const char *src, const char *dst)
{
    FILE *a = fopen(src, "rb"), *b = a ? fopen(dst, "wb") : NULL;
    char buf[1 << 16];
    size_t n;
    int rc = a && b ? 0 : -1;
    while (!rc && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) rc = -1;
    if (a) fclose(a);
    if (b && fclose(b)) rc = -1;
    if (rc) fprintf(stderr, "h5edit: cannot copy %s to %s\n", src, dst);
    return rc;
}

static hid_t lcpl(void)
{
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(p, 1);
    return p;
}

static int set_attr(hid_t f, const char *obj, const char *name, const char *value)
{
    char *end = NULL;
    long long iv = strtoll(value, &end, 10);
    int is_int = end && *end == '\0';
    double dv = strtod(value, NULL);
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj, name, is_int ? H5T_STD_I64LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, is_int ? H5T_NATIVE_LLONG : H5T_NATIVE_DOUBLE, is_int ? (void *)&iv : (void *)&dv) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc ? -1 : 0;
}

static int set_sattr(hid_t f, const char *obj, const char *name, const char *value)
{
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate_by_name(f, obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, &value) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc ? -1 : 0;
}

static int set_vattr(hid_t f, const char *obj, const char *name, char *list)
{
    double v[64];
    hsize_t n = 0;
    for (char *s = strtok(list, ","); s && n < 64; s = strtok(NULL, ",")) v[n++] = strtod(s, NULL);
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate_by_name(f, obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, v) < 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc ? -1 : 0;
}

static int set_strings(ws_h5file *f, const char *path, char *list)
{
    char *v[256], p[512];
    size_t n = 0;
    for (char *s = strtok(list, ","); s && n < 256; s = strtok(NULL, ",")) v[n++] = s;
    const char *sfx[3] = {"", "_utf8", "_utf8_offsets"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        if (ws_h5_exists(f, p)) H5Ldelete(f->id, p, H5P_DEFAULT);
    }
    return ws_h5_write_strings(f, path, v, n);
}

static int set_rows(ws_h5file *f, const char *path, long n)
{
    ws_array a = {0}, b = {0};
    int rc = ws_h5_read(f, path, -1, &a);
    if (rc || a.ndim < 1 || a.shape[0] < 1) { ws_array_free(&a); return -1; }
    int64_t shape[8];
    memcpy(shape, a.shape, sizeof(int64_t) * (size_t)a.ndim);
    shape[0] = n;
    if ((rc = ws_array_alloc(&b, a.dtype, a.ndim, shape))) { ws_array_free(&a); return rc; }
    size_t row = (size_t)(ws_array_numel(&a) / a.shape[0]) * ws_dtype_size(a.dtype);
    for (long i = 0; i < n; i++) {
        long src = i < a.shape[0] ? i : a.shape[0] - 1;
        memcpy((char *)b.data + (size_t)i * row, (char *)a.data + (size_t)src * row, row);
    }
    H5Ldelete(f->id, path, H5P_DEFAULT);
    rc = ws_h5_write(f, path, &b);
    ws_array_free(&a);
    ws_array_free(&b);
    return rc;
}

static int set_elem(ws_h5file *f, const char *path, long idx, double v)
{
    ws_array a = {0};
    int rc = ws_h5_read(f, path, WS_F64, &a);
    if (rc || idx < 0 || idx >= ws_array_numel(&a)) { ws_array_free(&a); return -1; }
    /* keep the dataset's own type: write through HDF5's conversion from double */
    ((double *)a.data)[idx] = v;
    hid_t d = H5Dopen2(f->id, path, H5P_DEFAULT);
    rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data) < 0 ? -1 : 0;
    if (d >= 0) H5Dclose(d);
    ws_array_free(&a);
    return rc;
}

/* Applies the operation at argv[*i], advancing *i past its arguments. */
static int apply(ws_h5file *f, int argc, char **argv, int *i)
{
    const char *op = argv[*i];
    int need = !strcmp(op, "rm") ? 1
             : !strcmp(op, "attr") || !strcmp(op, "sattr") || !strcmp(op, "vattr") || !strcmp(op, "set") ? 3 : 2;
    if (*i + need >= argc) { fprintf(stderr, "h5edit: %s needs %d arguments\n", op, need); return -1; }
    char **a = argv + *i + 1;
    *i += need + 1;
    hid_t lp = lcpl();
    int rc = -1;
    if (!strcmp(op, "mv")) rc = H5Lmove(f->id, a[0], f->id, a[1], lp, H5P_DEFAULT) < 0 ? -1 : 0;
    else if (!strcmp(op, "cp")) rc = H5Ocopy(f->id, a[0], f->id, a[1], H5P_DEFAULT, lp) < 0 ? -1 : 0;
    else if (!strcmp(op, "rm")) rc = H5Ldelete(f->id, a[0], H5P_DEFAULT) < 0 ? -1 : 0;
    else if (!strcmp(op, "attr")) rc = set_attr(f->id, a[0], a[1], a[2]);
    else if (!strcmp(op, "sattr")) rc = set_sattr(f->id, a[0], a[1], a[2]);
    else if (!strcmp(op, "vattr")) rc = set_vattr(f->id, a[0], a[1], a[2]);
    else if (!strcmp(op, "strings")) rc = set_strings(f, a[0], a[1]);
    else if (!strcmp(op, "rows")) rc = set_rows(f, a[0], strtol(a[1], NULL, 10));
    else if (!strcmp(op, "set")) rc = set_elem(f, a[0], strtol(a[1], NULL, 10), strtod(a[2], NULL));
    else fprintf(stderr, "h5edit: unknown operation '%s'\n", op);
    H5Pclose(lp);
    if (rc) fprintf(stderr, "h5edit: %s %s failed%s%s\n", op, a[0], *ws_last_error() ? ": " : "", ws_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: h5edit IN.h5 OUT.h5 OP...\n"); return 2; }
    if (copy_file(argv[1], argv[2])) return 1;
    ws_h5file f = {0};
    f.id = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    f.path = argv[2];
    if (f.id < 0) { fprintf(stderr, "h5edit: cannot open %s\n", argv[2]); return 1; }
    int rc = 0;
    for (int i = 3; i < argc && !rc;) rc = apply(&f, argc, argv, &i);
    H5Fclose(f.id);
    return rc ? 1 : 0;
}

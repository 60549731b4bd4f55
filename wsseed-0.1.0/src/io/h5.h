/* h5.h - small HDF5 helpers: typed arrays, UTF-8 string lists, atomic files.
 *
 * Arrays are read into ws_array (row-major, dtype converted by HDF5 when asked). String lists
 * are written as a variable-length UTF-8 dataset X plus the C-friendly pair X_utf8 (uint8) and
 * X_utf8_offsets (int64, n+1), the convention of the golden files; reading accepts either.
 * Files written with ws_h5_create land under their final name only at ws_h5_commit (temp file
 * + rename), so an interrupted run never leaves a half-written file behind.
 */
#ifndef WS_IO_H5_H
#define WS_IO_H5_H

#include <hdf5.h>

#include "core/array.h"

typedef struct ws_h5file {
    hid_t id;
    char *path;   /* final path */
    char *tmp;    /* temporary path while writing, NULL for files opened read-only */
} ws_h5file;

/* Opens an existing file read-only; fails naming the file. */
int ws_h5_open(ws_h5file *f, const char *path);
/* Creates path.tmp-<pid> for writing; ws_h5_commit renames it to path. */
int ws_h5_create(ws_h5file *f, const char *path);
int ws_h5_commit(ws_h5file *f);
/* Closes; an uncommitted temporary file is removed. Zeroed struct is a no-op. */
void ws_h5_close(ws_h5file *f);

int ws_h5_exists(const ws_h5file *f, const char *name);
/* Reads dataset name; want_dtype < 0 keeps the file's type (mapped to the nearest WS_*). */
int ws_h5_read(const ws_h5file *f, const char *name, int want_dtype, ws_array *out);
/* Writes a dataset (creating missing groups); 0-d arrays become scalar dataspaces. Large
 * datasets are chunked and deflate-compressed. */
int ws_h5_write(ws_h5file *f, const char *name, const ws_array *a);
/* Reads row `row` of dataset name (its first index), e.g. one view of (K, ...) -> (...). */
int ws_h5_read_row(const ws_h5file *f, const char *name, int64_t row, int want_dtype, ws_array *out);
/* Convenience: write data of dtype/shape without building a ws_array. */
int ws_h5_write_raw(ws_h5file *f, const char *name, int dtype, int ndim, const int64_t *shape,
                    const void *data);
/* Reads a string list (vlen dataset or X_utf8 + X_utf8_offsets); *strs is a malloc'd array of
 * malloc'd strings (free with ws_h5_strings_free). */
int ws_h5_read_strings(const ws_h5file *f, const char *name, char ***strs, size_t *n);
int ws_h5_write_strings(ws_h5file *f, const char *name, char *const *strs, size_t n);
void ws_h5_strings_free(char **strs, size_t n);
/* Names of the datasets below group (recursive, "a/b/c" paths without leading '/'), sorted. */
int ws_h5_list(const ws_h5file *f, const char *group, char ***names, size_t *n);

/* Reads the string attribute attr of object obj (group or dataset) into buf (truncated to cap). */
int ws_h5_attr_string(const ws_h5file *f, const char *obj, const char *attr, char *buf, size_t cap);
/* Reads a scalar numeric attribute as double. */
int ws_h5_attr_double(const ws_h5file *f, const char *obj, const char *attr, double *v);
#endif

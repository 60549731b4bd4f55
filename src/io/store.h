/* store.h - the HDF5 mask store: SAM masks of one dataset split, a group per image id.
 *
 * Layout (readable by h5py): /masks/<id>/{rle_counts_values, rle_counts_offsets (n+1), size (H, W),
 * area, bbox (XYWH, inclusive max), level, predicted_iou, predicted_iou_thresh,
 * predicted_iou_nms, stability_score, stability_score_bias, point_coords (n, 2), crop_box (XYWH)};
 * root attributes `format` (= "wsseed-masks-1") and `settings` (the resolved generator settings).
 *
 * Writing is crash-safe: each image is first written to its own small file in <store>.parts/
 * (temp file + rename), so an interrupted run loses at most the image in flight and resumes
 * where it stopped; when every image of the split is done the parts are merged into <store>
 * (again temp file + rename). Several processes (--shard i/n) may share one parts folder.
 */
#ifndef WS_IO_STORE_H
#define WS_IO_STORE_H

#include <stdint.h>
#include "io/h5.h"

#define WS_STORE_FORMAT "wsseed-masks-1"

typedef struct ws_mask_rec {
    int64_t *rle;            /* uncompressed column-major counts (owned by the set) */
    int n_rle;
    int64_t area, bbox[4], crop_box[4];   /* XYWH */
    int64_t level;
    float iou, iou_thresh, iou_nms, stability, stab_bias;
    double point[2];
} ws_mask_rec;

typedef struct ws_mask_set {   /* the masks of one image */
    int H, W, n;
    ws_mask_rec *r;
} ws_mask_set;

/* Frees the records and RLEs of a set returned by ws_store_read; a zeroed set is a no-op. */
void ws_mask_set_free(ws_mask_set *s);
/* The masks of m as flat arrays: *values (all counts), *offsets (n+1) and, when levels is not
 * NULL, *levels (n); all malloc'd (caller frees). */
int ws_mask_set_flatten(const ws_mask_set *m, int64_t **values, int64_t **offsets, int64_t **levels);
/* Writes the RLEs of m's records as <prefix>/rle_counts_values (every record's counts, in
 * record order) and <prefix>/rle_counts_offsets (n + 1; record i is values[off[i], off[i+1])),
 * the layout of the mask store and of the golden files. Only r[i].rle and r[i].n_rle are read
 * (borrowed); f stays owned by the caller. Fails naming f and prefix (out of memory, HDF5). */
int ws_store_write_rles(ws_h5file *f, const char *prefix, const ws_mask_set *m);

typedef struct ws_store {
    char *path, *parts;      /* the store file and its parts folder */
    const char *group;       /* top-level group of the per-image groups ("masks", "cams") */
    const char *format;      /* root attribute `format` */
    char *settings;          /* resolved settings text the store was made with */
    char part_kind[48], merge_kind[48];   /* fault point kinds "<group>.part", "<group>.merge" */
} ws_store;

/* Opens (creating the parts folder) a store for writing. Refuses, naming the differing store,
 * when the existing store or parts were made with other settings. */
int ws_store_open_write(ws_store *s, const char *path, const char *settings);
/* The same machinery for another per-image content: images live under /<group>/<id>/ and the
 * root attribute `format` is `format` (static strings). */
int ws_store_open_write_as(ws_store *s, const char *path, const char *settings, const char *group, const char *format);
/* Generic parts: begin creates the (temporary) part file of image id, the caller writes its
 * datasets under /<group>/<id>/, commit renames it into place and closes f. */
int ws_store_part_begin(ws_store *s, const char *id, ws_h5file *f);
int ws_store_part_commit(ws_h5file *f);
/* Writes dataset /<group>/<id>/<name> (dtype, ndim, shape, data) into an open part or store
 * file: the one way the typed stores (camstore, boxstore) lay out their records. */
int ws_store_write_field(ws_h5file *f, const char *group, const char *id, const char *name, int dtype, int ndim,
                         const int64_t *shape, const void *data);
/* Reads /<group>/<id>/<name> converted to dtype into *out (caller frees); fails naming the file
 * and dataset when it is missing or does not have ndim dimensions. */
int ws_store_read_field(const ws_h5file *f, const char *group, const char *id, const char *name, int dtype, int ndim,
                        ws_array *out);
/* 1 if image `id` is already stored (merged or as a part). */
int ws_store_has(const ws_store *s, const char *id);
/* The images of share i of n (ids share_i, share_i + share_n, ...) not stored yet: flag k for ids[k]
 * (malloc'd, at least 1 byte; the caller frees) and their count in *count; the merged store is opened
 * once, not per image. NULL when out of memory. */
unsigned char *ws_store_todo(const ws_store *s, char *const *ids, int n, int share_i, int share_n, int *count);
/* Writes the masks of image `id` atomically as a part. */
int ws_store_put(ws_store *s, const char *id, const ws_mask_set *m);
/* If every id of the split is stored, merges the parts into the store file (atomically) and
 * removes them; *complete says whether the store now holds the whole split. The merge holds the
 * kernel lock <store>.parts/.lock (released by the kernel if the process dies): a second process waits
 * for it and then finds the store complete. */
int ws_store_finish(ws_store *s, char *const *ids, int n_ids, int *complete);
void ws_store_close(ws_store *s);

/* Reading a merged store (or a single part). */
int ws_store_read(const char *path, const char *id, ws_mask_set *out);
/* The image ids of a store, sorted; *ids malloc'd (free with ws_h5_strings_free). */
int ws_store_ids(const char *path, char ***ids, int *n);
int ws_store_ids_in(const char *path, const char *group, char ***ids, int *n);

#endif

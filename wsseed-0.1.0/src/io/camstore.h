/* camstore.h - the HDF5 CAM store: per-image class activation maps of one dataset split.
 *
 * Layout (h5py-readable): /cams/<id>/{cam (P, h, w) f32, fg_cls (P) i64, fg_logit (P) f32,
 * all_logit (C) f32, image_hw (2) i64, att (hw, hw) f16 (stores of `wsseed cam` only)}; root
 * attributes `format` = "wsseed-cams-1" and `settings`. Written through the crash-safe per-image
 * parts of io/store.h (resumable; merged when the split is complete). `wsseed cam` writes it,
 * `wsseed caa` reads one and writes another (refined CAMs, no attention), `wsseed seed` and the
 * report read it.
 */
#ifndef WS_IO_CAMSTORE_H
#define WS_IO_CAMSTORE_H

#include <stdint.h>
#include "io/store.h"

#define WS_CAM_FORMAT "wsseed-cams-1"

/* One image's record. Arrays are owned by the record (ws_cam_rec_free) when read; when written
 * they are only borrowed. */
typedef struct ws_cam_rec {
    int P, h, w;          /* prompts = ground-truth classes of the image; CAM grid */
    int n_cls;            /* classes scored (length of all_logit) */
    int64_t H, W;         /* image size */
    float *cam;           /* (P, h, w) */
    int64_t *fg_cls;      /* (P) class indices, ascending */
    float *fg_logit;      /* (P) */
    float *all_logit;     /* (n_cls) */
    float *att;           /* (h*w, h*w) mean attention, or NULL (stored as float16) */
} ws_cam_rec;

/* Frees the arrays of a record returned by ws_camstore_read; a zeroed record is a no-op. */
void ws_cam_rec_free(ws_cam_rec *r);

/* Opens the CAM store at path for writing (see ws_store_open_write_as: the parts folder is
 * created, a store made with other `settings` is refused naming it). */
int ws_camstore_open_write(ws_store *st, const char *path, const char *settings);
/* Writes image id's record atomically as a part (r->att written as float16 when not NULL). */
int ws_camstore_put(ws_store *st, const char *id, const ws_cam_rec *r);
/* Reads image id from an open CAM store file (merged store or part); want_att: also read att
 * (fails naming the store when absent or not (h*w, h*w)). Fills *r (caller frees with
 * ws_cam_rec_free; on failure *r is freed and zeroed). */
int ws_camstore_read(const ws_h5file *f, const char *id, int want_att, ws_cam_rec *r);
/* 1 if the open store file holds image id's CAM, else 0. */
int ws_camstore_has(const ws_h5file *f, const char *id);
/* The image ids of a CAM store, sorted (*ids malloc'd: ws_h5_strings_free). */
int ws_camstore_ids(const char *path, char ***ids, int *n);
#endif

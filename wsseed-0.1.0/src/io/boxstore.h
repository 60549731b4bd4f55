/* boxstore.h - the HDF5 box store of the boxed-SAM mode: per image its class set and boxes.
 *
 * Layout (h5py-readable): /boxes/<id>/{labels (C) u8, gt_labels (C) u8 (when the dataset has
 * labels), clip_probs (C + B) f32 (zero-shot CLIP labels only), xyxy (n, 4) f32 pixels, score (n)
 * f32, cls (n) i64 (0-based class), image_hw (2) i64}; root attributes `format` = wsseed-boxes-1
 * and `settings`. Written through the crash-safe per-image parts of io/store.h by `wsseed boxes`;
 * read by `wsseed boxseed` and `wsseed eval --labels`.
 */
#ifndef WS_IO_BOXSTORE_H
#define WS_IO_BOXSTORE_H

#include <stdint.h>
#include "io/store.h"

#define WS_BOX_FORMAT "wsseed-boxes-1"

/* One image's record. Arrays are owned by the record when read (ws_box_rec_free), borrowed
 * when written. */
typedef struct ws_box_rec {
    int n_cls;            /* C */
    uint8_t *labels;      /* (C) the image's class set given to the detector */
    uint8_t *gt_labels;   /* (C) ground-truth class set, or NULL */
    int n_probs;          /* C + B, or 0 */
    float *clip_probs;    /* (n_probs) zero-shot CLIP probabilities (fg then bg prompts), or NULL */
    int n;                /* boxes */
    float *xyxy;          /* (n, 4) pixels */
    float *score;         /* (n) */
    int64_t *cls;         /* (n) 0-based class */
    int64_t H, W;         /* image size */
} ws_box_rec;

/* Frees a record returned by a read; a zeroed record is a no-op. */
void ws_box_rec_free(ws_box_rec *r);
/* Opens the box store at path for writing (parts folder created; other settings refused). */
int ws_boxstore_open_write(ws_store *st, const char *path, const char *settings);
/* Writes image id's record atomically as a part (gt_labels / clip_probs only when not NULL). */
int ws_boxstore_put(ws_store *st, const char *id, const ws_box_rec *r);
/* Opens a complete (merged) box store for reading; fails, saying what to run, when path is not
 * one. */
int ws_boxstore_open(ws_h5file *f, const char *path);
/* Reads the boxes of image id (xyxy, score, cls, image_hw); want_labels: also labels and, when
 * stored, gt_labels. Fills *r (caller frees; freed and zeroed on failure). */
int ws_boxstore_read(const ws_h5file *f, const char *id, int want_labels, ws_box_rec *r);
/* The image ids of a box store, sorted (*ids malloc'd: ws_h5_strings_free). */
int ws_boxstore_ids(const char *path, char ***ids, int *n);
#endif

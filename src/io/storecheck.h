/* storecheck.h - the one validation of store records, applied by the store readers themselves
 * (ws_store_read, ws_camstore_read, ws_boxstore_read), so every command that reads a store (seed,
 * merge, masks export, caa, report, boxseed, eval) refuses the same corrupt record with the same
 * message: the store file, the image id and what is wrong. Failures return WS_ESHAPE.
 */
#ifndef WS_IO_STORECHECK_H
#define WS_IO_STORECHECK_H

#include "core/array.h"
#include "io/boxstore.h"
#include "io/camstore.h"

/* The largest image side a store record may claim (libjpeg's limit): larger sizes are corruption, and
 * checking them first keeps H * W and every buffer sized from it far from overflow. */
#define WS_STORE_MAX_SIDE 65500

/* The 13 datasets of a mask-store image, in ws_store_read's order (rle_counts_values,
 * rle_counts_offsets, size, area, bbox, crop_box, level, predicted_iou, predicted_iou_thresh,
 * predicted_iou_nms, stability_score, stability_score_bias, point_coords): size is (H, W) within
 * 1..WS_STORE_MAX_SIDE, the offsets start at 0, never decrease and end at the number of values, every
 * per-mask dataset has one entry (bbox, crop_box: 4; point_coords: 2) per mask, and each mask's runs
 * are non-negative and cover exactly H*W pixels. */
int ws_store_check_masks(const char *path, const char *id, const ws_array a[13]);
/* A CAM record as ws_camstore_read filled it: image size within 1..WS_STORE_MAX_SIDE, a non-empty
 * CAM grid when there are CAMs, and every fg_cls a class index below n_cls. */
int ws_store_check_cam(const char *path, const char *id, const ws_cam_rec *r);
/* A box record: image size within 1..WS_STORE_MAX_SIDE, finite box corners, classes >= 0 (and below
 * n_cls when the labels were read). */
int ws_store_check_boxes(const char *path, const char *id, const ws_box_rec *r);

#endif

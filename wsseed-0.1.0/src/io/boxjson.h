/* boxjson.h - the boxes of another detector as COCO-style JSON, for the boxed-SAM mode.
 *
 * Accepted: a results list [{image_id, category_id, bbox [x, y, w, h], score}] or a dataset
 * {images [{id, file_name}], annotations [...]}; category_id is the label value 1..n_fg. Boxes are
 * indexed by image name and by image number, so a dataset id (a file stem, or a COCO name whose
 * trailing digits are the numeric image_id) finds its boxes in JSON order.
 */
#ifndef WS_IO_BOXJSON_H
#define WS_IO_BOXJSON_H
#include "core/strmap.h"

typedef struct ws_json_box {
    char *image;          /* image name (file stem) or the image_id as written */
    long image_num;       /* numeric image_id, or -1 */
    int cls;              /* 0-based class */
    float xyxy[4], score; /* pixels; score 1 when absent */
} ws_json_box;

typedef struct ws_json_boxes {
    ws_json_box *b;
    int n, cap;
    /* index: image name / image number -> the first box (JSON order), next_* chain the rest */
    ws_strmap by_name, by_num;
    int *next_name, *next_num;
} ws_json_boxes;

/* Reads the JSON file path (classes 1..n_fg) into *out (zeroed before; free with
 * ws_json_boxes_free). Fails naming the file, the entry and what is wrong with it. */
int ws_json_boxes_load(const char *path, int n_fg, ws_json_boxes *out);
/* Frees the boxes; a zeroed struct is a no-op. */
void ws_json_boxes_free(ws_json_boxes *j);
/* Calls add(ctx, box) for each box of dataset image id, in JSON order (its exact name, or its
 * trailing number); stops at and returns the first non-zero status of add. */
int ws_json_boxes_of(const ws_json_boxes *j, const char *id, int (*add)(void *, const ws_json_box *), void *ctx);
#endif

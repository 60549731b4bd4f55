/* boxes.h - the boxed-SAM mode's two stages and their shared settings: boxes (CLIP image labels
 * + Grounding-DINO boxes, or another detector's JSON, into the box store; stage/boxes.c) and
 * boxseed (SAM prompted with the boxes -> seed PNGs; stage/boxseed.c). One YAML serves both
 * (configs/voc/boxes.yaml); the pipeline embeds it as boxed.*.
 */
#ifndef WS_STAGE_BOXES_H
#define WS_STAGE_BOXES_H
#include <stddef.h>
#include "data/dataset.h"
#include "io/config.h"
#include "io/settings.h"

typedef struct ws_boxes_settings {
    ws_model_paths model;                 /* CLIP (labels), Grounding-DINO + BERT, SAM */
    ws_data_cfg data;                     /* the split to seed (default train) */
    char source[WS_CFG_STR_MAX];          /* labels.source: clip | gt */
    double tau, box_thresh, text_thresh;  /* labels.tau, gdino.box_thresh, gdino.text_thresh */
    int size, max_size;                   /* Grounding-DINO image transform */
    char json[WS_CFG_STR_MAX], store[WS_CFG_STR_MAX], overlap[WS_CFG_STR_MAX], out[WS_CFG_STR_MAX];
    double max_box_frac, min_mask_frac, ignore_delta;
    int ignore_band, ignore_empty;
    char out_dir[WS_CFG_STR_MAX];
    ws_runtime_cfg runtime;               /* runtime.threads (default 2), .device, .precision */
    /* run control (command-line options, not YAML keys) */
    int shard_i, shard_n;                 /* boxes: this process takes images i, i + n, ... */
    long max_images;                      /* stop after this many new images; < 0 = all */
} ws_boxes_settings;

/* The key table of both stages (static; *n its length). */
const ws_cfg_key *ws_boxes_keys(size_t *n);
/* The stage's own rows (labels.*, gdino.*, boxes.*, boxseed.*, out_dir), without the shared ones:
 * what the pipeline embeds as boxed.* (static). */
const ws_cfg_key *ws_boxes_own_keys(size_t *n);
/* Defaults: the spec's settings (tau 0.1, box 0.3, text 0.25, 800/1333, overlap score), VOC train. */
void ws_boxes_defaults(ws_boxes_settings *s);
/* The range rules of the labels.*, gdino.* and boxseed.* numbers: 0, or WS_EINVAL naming the key and
 * value. ws_stage_boxes and ws_stage_boxseed apply it before any work. */
int ws_boxes_check(const ws_boxes_settings *s);
/* The box store and seed folder paths (boxes.store / boxseed.out, or their defaults under out_dir). */
void ws_boxes_outputs(const ws_boxes_settings *s, char *store, size_t ns, char *out, size_t no);
/* Opens the split of s; *n_fg = 20 (voc) or 80 (coco); refuses another data.dataset. */
int ws_boxes_open_dataset(const ws_boxes_settings *s, ws_dataset *ds, int *n_fg);

/* The boxes stage: every image of the split (shard s->shard_i of s->shard_n) missing from the box
 * store gets its class set and boxes; the store is assembled when the split is complete. */
int ws_stage_boxes(const ws_boxes_settings *s);
/* The boxseed stage: a seed PNG for every image of the split without one, from the complete box
 * store and SAM. */
int ws_stage_boxseed(const ws_boxes_settings *s);
#endif

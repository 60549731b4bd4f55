/* masks.h - the masks stage: SAM masks of a dataset split into the HDF5 mask store.
 *
 * Settings are YAML keys (model.sam, data.*, output.store, runtime.threads, amg.*; the pipeline
 * embeds the amg.* section as masks.*). The store is resumable and shardable (see io/store.h).
 */
#ifndef WS_STAGE_MASKS_H
#define WS_STAGE_MASKS_H
#include <stddef.h>
#include "io/config.h"
#include "io/settings.h"
#include "io/store.h"
#include "method/amg.h"
#include "model/sam.h"

typedef struct ws_masks_settings {
    ws_model_paths model;              /* model.sam, model.decoder_heads */
    ws_data_cfg data;                  /* the split (data.root, split, image_dir, split_file) or data.list */
    char store[WS_CFG_STR_MAX];        /* '' = experiments/masks/<split>.h5 (filled in by the run) */
    ws_runtime_cfg runtime;            /* runtime.threads, .device, .precision */
    ws_amg_cfg amg;
    /* run control (command-line options, not YAML keys) */
    int shard_i, shard_n;              /* this process takes images i, i + n, ... */
    long max_images;                   /* stop after this many new images; < 0 = all */
} ws_masks_settings;

/* The stage's key table (static; *n receives its length). */
const ws_cfg_key *ws_masks_keys(size_t *n);
/* The defaults: FMA-WSSS's VOC generator settings, SAM ViT-H, data/VOC2012 train_aug, one shard. */
void ws_masks_defaults(ws_masks_settings *s);
/* The range rules of the amg.* keys (thresholds in [0, 1], positive counts, bounded grids and crop
 * layers): 0, or WS_EINVAL naming the key and value. ws_stage_masks applies it before any work. */
int ws_masks_check(const ws_masks_settings *s);
/* Fills the mask store s->store (default filled in) with the images of the split still missing
 * from it, those of shard s->shard_i of s->shard_n; assembles the store when the split is
 * complete. Returns 0 or a WS_E* code (the message names the image and file). */
int ws_stage_masks(ws_masks_settings *s);
/* The per-image body: reads the image at path, runs the generator with the open SAM m and writes
 * image id's masks as an atomic part of st; *n_masks receives the mask count. */
int ws_stage_masks_image(const ws_masks_settings *s, const ws_sam *m, ws_store *st, const char *id,
                         const char *path, int *n_masks);
#endif

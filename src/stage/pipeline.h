/* pipeline.h - the pipeline stage (`wsseed pipeline`): the whole FMA-WSSS run from one YAML, and its
 * settings (the stages' key tables composed into one).
 *
 * Stages: masks -> train cls -> cam -> caa -> coarse seeds -> train seg -> cam -> caa -> fine
 * seeds -> eval -> report. Every stage's output lives in a content-addressed cache folder
 * <cache_dir>/<stage>-<sha1 of its settings and of its inputs' keys>/ with a DONE stamp, linked from
 * <out_dir>/<run>/<stage>: a stage whose inputs and settings did not change is skipped, runs (and
 * sweeps) that share upstream settings share its output, and an interrupted stage resumes (each
 * stage is resumable on its own).
 */
#ifndef WS_STAGE_PIPELINE_H
#define WS_STAGE_PIPELINE_H
#include <stdio.h>

#include "stage/boxes.h"
#include "stage/masks.h"
#include "method/caa.h"
#include "train/train.h"

typedef struct ws_pipe_cfg {
    char run[WS_CFG_STR_MAX], out_dir[WS_CFG_STR_MAX], cache_dir[WS_CFG_STR_MAX];
    ws_model_paths model;          /* model.* for every stage (boxed.model.gdino/bert_* too) */
    ws_data_cfg data;              /* data.*: the split every stage works on */
    int synth, synth_min, synth_max, synth_classes;
    ws_masks_settings masks;          /* masks.* = its amg.* keys */
    ws_train_cfg cls, seg;         /* cls.* / seg.*: prompt, aug, loss, optim, train keys */
    ws_caa_cfg caa_cls, caa_seg;
    double pow_cls, pow_seg;
    ws_runtime_cfg runtime;        /* runtime.* for every stage */
    int report_images;
    int boxed;                     /* boxed.enable: also the boxed-SAM seeds (boxed.* = wsseed boxes keys) */
    ws_boxes_settings box;
} ws_pipe_cfg;

/* The composite key table (malloc'd; ws_cfg_table_free) and the built-in defaults (the official
 * VOC recipe, = configs/voc/pipeline.yaml). */
int ws_pipe_keys(ws_cfg_key **tab, size_t *n);
void ws_pipe_defaults(ws_pipe_cfg *c);
/* The pre-flight the pipeline runs before its first stage (and `wsseed doctor CONFIG` alone): every
 * file and folder an enabled stage will read exists, is readable and of the right kind (file or
 * folder, non-empty, a .gz vocabulary gzip-compressed), and the training settings are in range.
 * With out set, one line per check ("ok"/"FAIL", key, path). Fails listing every problem by key. */
int ws_pipe_preflight(const ws_pipe_cfg *c, FILE *out);
/* Runs every stage not yet done (see the file comment); *miou_coarse/_fine/_boxed (may be NULL)
 * receive the seed mIoUs (NaN without ground truth; boxed NaN unless boxed.enable). Returns 0 or
 * the failing stage's WS_E* code (its message names the stage's file). */
int ws_stage_pipeline(const ws_pipe_cfg *c, double *miou_coarse, double *miou_fine, double *miou_boxed);
#endif

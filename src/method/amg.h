/* amg.h - SAM's automatic mask generator, with FMA-WSSS's level-aware variant (SamAuto).
 *
 * Point grids over the image and over overlapping crops, batched point prompts with three
 * masks each (mask k = level k), IoU and stability filtering (with per-level offsets and biases),
 * crop-edge filtering, within-crop NMS (per-level score offsets), cross-crop NMS, small-region
 * removal with its NMS, and the rock-sand-water filter across levels. Every step follows
 * segment-anything's automatic_mask_generator.py and FMA-WSSS's sam_auto.py, including
 * torchvision's NMS order (stable sort by decreasing score, suppress when IoU > threshold).
 */
#ifndef WS_METHOD_AMG_H
#define WS_METHOD_AMG_H

#include <stdint.h>

#include "model/sam.h"

typedef struct ws_amg_cfg {
    int points_per_side;            /* grid of layer 0 */
    int points_per_batch;           /* prompts per decoder call (memory only) */
    double pred_iou_thresh;         /* keep iou + score_thresh_offset[level] > this (when > 0) */
    double stability_score_thresh;  /* keep stability + bias[level] >= this (when > 0) */
    double stability_score_offset;  /* logit offset of the stability score */
    double box_nms_thresh;          /* within-crop NMS IoU */
    int crop_n_layers;
    double crop_nms_thresh;
    double crop_overlap_ratio;
    int crop_n_points_downscale_factor;
    int min_mask_region_area;       /* small-region removal (0 = off) */
    float score_thresh_offset[3];   /* FMA-WSSS per level; zeros = upstream SAM */
    float score_nms_offset[3];
    float stability_score_bias[3];
    double rock_sand_water_thresh;  /* <= 0: off (upstream SAM) */
} ws_amg_cfg;

/* Upstream SamAutomaticMaskGenerator defaults (32 points, 0.88 / 0.95, no crops, ...). */
void ws_amg_cfg_sam_default(ws_amg_cfg *c);
/* FMA-WSSS VOC settings (configs/sam_auto_seg base + pattern l2_nmsf_s1_rsw3). */
void ws_amg_cfg_fma_voc(ws_amg_cfg *c);

typedef struct ws_amg_rec {
    uint8_t *mask;           /* (H, W) 0/1 in image frame (NULL once only the RLE is kept) */
    int64_t *rle;            /* uncompressed column-major RLE counts (owned) */
    int n_rle;
    int64_t area;
    int level;               /* multimask slot 0..2 */
    float iou, iou_thresh, iou_nms, stability, stab_bias;
    int64_t box[4];          /* XYXY inclusive, image frame; [0,0,0,0] when empty */
    double point[2];         /* prompt point, image frame */
    int64_t crop_box[4];     /* XYXY, exclusive end */
    int64_t borderline;      /* pixels whose logit is within 1e-4*max(1, max|logit|) of 0: the
                                only ones a port within tolerance may binarise differently */
} ws_amg_rec;

typedef struct ws_amg_list { ws_amg_rec *r; int n, cap; } ws_amg_list;

typedef struct ws_amg_prefilter {   /* every decoded mask, crop-major, point-major, then slot */
    int n, cap;
    int32_t *crop_index, *batch_index, *point_in_batch, *slot;
    float *iou, *stability;
    double *point_crop, *point_model;   /* (n, 2) */
} ws_amg_prefilter;

typedef struct ws_amg_trace {   /* optional intermediate results for verification */
    int prefilter;              /* set: score every decoded mask and record it in pre (else masks that
                                 * fail the IoU threshold are dropped before upsampling) */
    ws_amg_prefilter pre;
    int n_crops;
    int64_t (*crop_boxes)[4];
    int32_t *crop_layer;
    int n_decoded, n_pass_iou, n_pass_iou_and_stability;
    double t_encoder, t_decoder;   /* seconds in encoder / decoder forward passes */
    double t_upsample, t_filter;   /* seconds reading and upsampling logits to the crop / filtering them */
    ws_amg_list stage_generate, stage_small_regions, stage_rsw;   /* snapshots (RLE only) */
} ws_amg_trace;

/* Runs the generator on an RGB image (H, W, 3). out receives the final records in output order
 * (RLE, area and box filled; mask buffers freed). trace may be NULL. */
int ws_amg_generate(const ws_sam *m, const ws_amg_cfg *cfg, const uint8_t *rgb, int H, int W, ws_amg_list *out,
                    ws_amg_trace *trace);
/* Free what ws_amg_generate filled (records and RLEs; the trace's arrays); zeroed is a no-op. */
void ws_amg_list_free(ws_amg_list *l);
/* Tests: on (1) the generator takes its device path (ATen upsampling, counts and binarisation,
 * taken on a GPU) on the CPU too; off (0, the default) the CPU uses the C upsampler. Not thread-safe:
 * call it while no generator runs. */
void ws_amg_force_aten(int on);
void ws_amg_trace_free(ws_amg_trace *t);

/* Point grid of side n: (n*n, 2) normalised (x, y), x fastest, as build_point_grid. */
void ws_amg_point_grid(int n, double *xy);
/* remove_small_regions(mask, area, mode): fills small holes (holes = 1) or removes small islands
 * (8-connectivity; if every island is small the largest stays). Returns 1 if anything changed. */
int ws_amg_remove_small_regions(uint8_t *mask, int H, int W, int64_t area_thresh, int holes);
/* Indices kept by the rock-sand-water filter for masks with levels, in output order. */
int ws_amg_rock_sand_water(uint8_t *const *masks, const int *levels, int n, int64_t hw, double thresh, int *keep,
                           int *n_keep);

#endif

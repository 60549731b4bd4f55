/* cam.h - the CAM stage (FMA-WSSS infer_cam): trained prompts -> an HDF5 CAM store of a split.
 *
 * Per image: PIL-bicubic resize to multiples of 16, softmax Grad-CAM of its ground-truth classes
 * with the prompts of a checkpoint, and the mean attention of the last 8 blocks (for CAA). The
 * store (io/camstore.h) is resumable: a rerun continues with the images it lacks.
 */
#ifndef WS_STAGE_CAM_H
#define WS_STAGE_CAM_H
#include "train/settings.h"   /* the training run's settings (its YAML): no training code */

typedef struct ws_cam_settings {
    ws_train_cfg train;    /* model, data and prompt layout of the training run (its YAML) */
    const char *ckpt;      /* wsseed .h5 checkpoint or .pth with prompt_learner.ctx (borrowed) */
    const char *out;       /* CAM store path (borrowed) */
    long max_images;       /* stop after this many new images; < 0 = all */
} ws_cam_settings;

/* Computes the CAMs of every image of s->train's split missing from s->out, then assembles the
 * store. Returns 0 or a WS_E* code whose message names the image/file. */
int ws_stage_cam(const ws_cam_settings *s);
#endif

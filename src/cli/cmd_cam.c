/* cmd_cam.c - `wsseed cam`: argv -> ws_cam_settings -> ws_stage_cam (stage/cam.c).
 * It reads the training config, not a CAM config of its own: the prompt layout (n_ctx, csc,
 * class-token position), CLIP and the split must be those the checkpoint was trained with.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/cam.h"

static const char *help =
    "Usage: wsseed cam TRAIN_CONFIG.yaml --ckpt CKPT [--out STORE.h5] [--set key=value]... [--device D] [--max-images N]\n\n"
    "CAM inference (FMA-WSSS infer_cam): every image of data.split, resized with PIL bicubic to\n"
    "multiples of 16, softmax Grad-CAM of its ground-truth classes with the prompts of CKPT (a\n"
    "wsseed .h5 checkpoint or a .pth with prompt_learner.ctx; the prompt layout comes from the\n"
    "training config), and the mean attention of the last 8 blocks. Output: an HDF5 CAM store\n"
    "(default experiments/<run>/cams/<split>.h5), resumable: run again to continue.";

int ws_cmd_cam(int argc, char **argv)
{
    static const char *const value_opts[] = {"--ckpt", "--out", "--max-images", NULL};
    ws_cam_settings s = {.max_images = -1};
    const char *config = NULL;
    char def[4 * WS_CFG_STR_MAX];
    ws_train_defaults(&s.train);
    size_t nk;
    const ws_cfg_key *keys = ws_train_keys(&nk);
    int rc = ws_cli_settings("cam", argc, argv, value_opts, keys, nk, &s.train, &config);
    if (rc) return rc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        if (!strcmp(o, "--ckpt") && i + 1 < argc) s.ckpt = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) s.out = argv[++i];
        else if (!strcmp(o, "--max-images") && i + 1 < argc) rc = ws_cli_long("cam", o, argv[++i], 0, 1L << 40, &s.max_images);
        else { fprintf(stderr, "wsseed cam: unknown option '%s' (see wsseed cam --help)\n", o); return 2; }
        if (rc) return rc;
    }
    /* Both are required rather than defaulted: CAMs from the wrong prompts look plausible and are wrong. */
    if (!config || !s.ckpt) { fprintf(stderr, "wsseed cam: a training config and --ckpt are required\n"); return 2; }
    if (!s.out) {
        /* Beside the training run's folder, named by split, so CAMs of train_aug and val of one run do not
         * collide. */
        snprintf(def, sizeof def, "%s/%s/cams/%s.h5", s.train.out_dir, s.train.run, s.train.data.split);
        s.out = def;
    }
    return ws_stage_cam(&s) ? ws_cli_error() : 0;
}

/* cmd_train.c - `wsseed train` (prompt training), `wsseed synth` (a synthetic VOC-layout
 * dataset) and `wsseed export-ctx` (a checkpoint's context as a PyTorch state dict). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"
#include "data/dataset.h"
#include "io/ckpt.h"
#include "train/train.h"

static void train_usage(FILE *f, const ws_train_cfg *c)
{
    fputs("Usage: wsseed train CONFIG.yaml [--set key=value]... [--resume [CKPT.h5|auto]]\n"
          "\n"
          "Trains the FMA-WSSS prompts on frozen CLIP: task cls learns the classification prompts\n"
          "(multi-label contrastive loss, image labels), task seg the segmentation prompts (CAM\n"
          "activation loss against coarse seeds, data.seed_dir). configs/voc/{cls,seg}.yaml and\n"
          "configs/coco/{cls,seg}.yaml hold the official settings. Outputs: <out_dir>/<run>/\n"
          "{config.yaml, build.txt, train.log, metrics.csv, checkpoints/{start,iter-N,final}.h5}.\n"
          "--resume auto continues from the run's newest checkpoint (bit-identical to a run that\n"
          "was never stopped); --resume FILE from that checkpoint. Export the learned context for\n"
          "PyTorch with `wsseed export-ctx CKPT.h5 OUT.pth`.\n"
          "\nKeys (YAML sections, current value, meaning):\n", f);
    ws_cfg_print_help(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, c, f);
}

int ws_cmd_train(int argc, char **argv)
{
    ws_train_cfg c;
    const char *config = NULL, *resume = NULL;
    ws_train_defaults(&c);
    for (int i = 1; i < argc; i++)   /* the config first, so that --set overrides it */
        if (argv[i][0] != '-' && (i == 1 || (strcmp(argv[i - 1], "--set") && strcmp(argv[i - 1], "--resume")))) {
            config = argv[i];
            break;
        }
    if (config && ws_cfg_load(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, &c, config)) return ws_cli_error();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { train_usage(stdout, &c); return 0; }
        if (o == config) continue;
        if (!strcmp(o, "--set") && i + 1 < argc) {
            if (ws_cfg_set(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, &c, argv[++i])) return ws_cli_error();
        } else if (!strcmp(o, "--resume")) {
            resume = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "auto";
        } else {
            fprintf(stderr, "wsseed train: unknown option '%s' (see wsseed train --help)\n", o);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "wsseed train: a config is required, e.g. wsseed train configs/voc/cls.yaml\n");
        return 2;
    }
    return ws_train_run(&c, resume) ? ws_cli_error() : 0;
}

int ws_cmd_synth(int argc, char **argv)
{
    const char *dir = NULL;
    int n = 64, lo = 160, hi = 320, classes = 20;
    long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int *dst = !strcmp(o, "--images") ? &n : !strcmp(o, "--min-side") ? &lo : !strcmp(o, "--max-side") ? &hi
                 : !strcmp(o, "--classes") ? &classes : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed synth DIR [--images N] [--min-side S] [--max-side S] [--classes C] [--seed S]\n\n"
                 "Writes a synthetic dataset in the VOC2012 + SegmentationClassAug layout: JPEGImages/*.jpg,\n"
                 "SegmentationClassAug/*.png (palette, 255 on object borders), ImageSets/Segmentation/\n"
                 "{train_aug,train,val}.txt. Each image holds 1-3 shapes of classes 1..C, each class with\n"
                 "its own colour and texture. Defaults: 64 images, sides 160-320, 20 classes, seed 0.");
            return 0;
        }
        if (dst && i + 1 < argc) *dst = atoi(argv[++i]);
        else if (!strcmp(o, "--seed") && i + 1 < argc) seed = atol(argv[++i]);
        else if (o[0] != '-' && !dir) dir = o;
        else { fprintf(stderr, "wsseed synth: unknown option '%s' (see wsseed synth --help)\n", o); return 2; }
    }
    if (!dir) { fprintf(stderr, "wsseed synth: the output folder is required\n"); return 2; }
    if (ws_synth_voc(dir, n, lo, hi, classes, (uint32_t)seed)) return ws_cli_error();
    printf("wrote %d images to %s (splits train_aug, train, val)\n", n, dir);
    return 0;
}

int ws_cmd_export_ctx(int argc, char **argv)
{
    if (argc != 3 || argv[1][0] == '-') {
        fputs("Usage: wsseed export-ctx CKPT.h5 OUT.pth\n\n"
              "Writes the learned prompt context of a wsseed checkpoint as a PyTorch state dict\n"
              "{'prompt_learner.ctx': tensor} (what the official FMA-WSSS code loads).\n", argc == 2 ? stdout : stderr);
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    ws_ckpt k;
    ws_at_ckpt out = NULL;
    ws_at_tensor t = NULL;
    int rc = ws_ckpt_read(argv[1], &k);
    if (rc) return ws_cli_error();
    if (ws_at_from_data(k.ctx.data, WS_AT_F32, k.ctx.ndim, k.ctx.shape, &t) || ws_at_ckpt_new(argv[2], &out) ||
        ws_at_ckpt_add(out, "prompt_learner.ctx", t) || ws_at_ckpt_save(out, argv[2]))
        rc = ws_fail(WS_ETORCH, "%s: %s", argv[2], ws_at_last_error());
    ws_at_free(t);
    ws_at_ckpt_close(out);
    ws_ckpt_free(&k);
    if (rc) return ws_cli_error();
    printf("wrote %s (prompt_learner.ctx)\n", argv[2]);
    return 0;
}

/* cmd_train.c - `wsseed train` (prompt training), `wsseed synth` (a synthetic VOC-layout dataset)
 * and `wsseed export-ctx` (a checkpoint's context as a PyTorch state dict): argv -> settings ->
 * ws_stage_train / ws_stage_synth / ws_stage_export_ctx. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/export.h"
#include "stage/train.h"

static void train_usage(FILE *f, const ws_train_cfg *c)
{
    fputs("Usage: wsseed train CONFIG.yaml [--set key=value]... [--threads N] [--device D] [--resume [CKPT.h5|auto]]\n"
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
    size_t nk;
    const ws_cfg_key *keys = ws_train_keys(&nk);
    ws_cfg_print_help(keys, nk, c, f);
}

int ws_cmd_train(int argc, char **argv)
{
    static const char *const value_opts[] = {"--resume", NULL};
    ws_train_settings s = {0};
    const char *config = NULL;
    ws_train_defaults(&s.cfg);
    /* --resume takes an optional value: a bare --resume means auto */
    int resume_value = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--resume")) {
            resume_value = i + 1 < argc && argv[i + 1][0] != '-';
            s.resume = resume_value ? argv[i + 1] : "auto";
        }
    size_t nk;
    const ws_cfg_key *keys = ws_train_keys(&nk);
    int rc = ws_cli_settings("train", argc, argv, resume_value ? value_opts : NULL, keys, nk, &s.cfg, &config);
    if (rc) return rc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { train_usage(stdout, &s.cfg); return 0; }
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        if (!strcmp(o, "--resume")) {
            i += resume_value;
            continue;
        }
        fprintf(stderr, "wsseed train: unknown option '%s' (see wsseed train --help)\n", o);
        return 2;
    }
    if (!config) {
        fprintf(stderr, "wsseed train: a config is required, e.g. wsseed train configs/voc/cls.yaml\n");
        return 2;
    }
    return ws_stage_train(&s) ? ws_cli_error() : 0;
}

/* 1 when dir does not exist or holds nothing. */
int ws_cmd_synth(int argc, char **argv)
{
    ws_synth_settings s = {.n = 64, .min_side = 160, .max_side = 320, .n_classes = 20};
    long v, seed = 0;
    int rc = 0, force = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        int *dst = !strcmp(o, "--images") ? &s.n : !strcmp(o, "--min-side") ? &s.min_side : !strcmp(o, "--max-side") ? &s.max_side
                 : !strcmp(o, "--classes") ? &s.n_classes : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed synth DIR [--images N] [--min-side S] [--max-side S] [--classes C | --names A,B,...]\n"
                 "                    [--seed S] [--force]\n\n"
                 "Writes a synthetic dataset in the VOC2012 + SegmentationClassAug layout: JPEGImages/*.jpg,\n"
                 "SegmentationClassAug/*.png (palette, 255 on object borders), ImageSets/Segmentation/\n"
                 "{train_aug,train,val}.txt. Each image holds 1-3 shapes of classes 1..C, each class with\n"
                 "its own colour and texture. Defaults: 64 images, sides 160-320, 20 classes, seed 0.\n"
                 "--names: a custom dataset (data.dataset: custom) of these classes (1..254; an entry may be\n"
                 "'label: prompt name'), with classes.txt (data.class_file) and labels.txt (data.labels_file:\n"
                 "'<id> <class> ...' of every image) beside the folders.\n"
                 "A DIR that is not empty is refused unless --force (its split files would be replaced);\n"
                 "one that holds only an interrupted synth (no train_aug.txt yet) is written again.");
            return 0;
        }
        if (dst && i + 1 < argc) {
            if (!(rc = ws_cli_long("synth", o, argv[++i], 1, 1L << 20, &v))) *dst = (int)v;
        } else if (!strcmp(o, "--seed") && i + 1 < argc) rc = ws_cli_long("synth", o, argv[++i], 0, 4294967295L, &seed);
        else if (!strcmp(o, "--names") && i + 1 < argc) s.names = argv[++i];
        else if (!strcmp(o, "--force")) force = 1;
        else if (o[0] != '-' && !s.dir) s.dir = o;
        else { fprintf(stderr, "wsseed synth: unknown option '%s' (see wsseed synth --help)\n", o); return 2; }
    }
    if (rc) return rc;
    if (!s.dir) { fprintf(stderr, "wsseed synth: the output folder is required\n"); return 2; }
    s.seed = (uint32_t)seed;
    s.force = force;
    if (ws_stage_synth(&s)) return ws_cli_error();
    printf("wrote %d images to %s (splits train_aug, train, val%s)\n", s.n, s.dir, s.names ? "; classes.txt, labels.txt" : "");
    return 0;
}

int ws_cmd_export_ctx(int argc, char **argv)
{
    int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        /* asked-for help: stdout, status 0; a wrong call: the usage on stderr, status 2 */
        fputs("Usage: wsseed export-ctx CKPT.h5 OUT.pth\n\n"
              "Writes the learned prompt context of a wsseed checkpoint as a PyTorch state dict\n"
              "{'prompt_learner.ctx': tensor} (what the official FMA-WSSS code loads).\n", help ? stdout : stderr);
        return help ? 0 : 2;
    }
    if (ws_stage_export_ctx(argv[1], argv[2])) return ws_cli_error();
    printf("wrote %s (prompt_learner.ctx)\n", argv[2]);
    return 0;
}

/* cmd_boxes.c - `wsseed boxes` and `wsseed boxseed`: argv -> ws_boxes_settings ->
 * ws_stage_boxes / ws_stage_boxseed (stage/boxes.c, stage/boxseed.c).
 * One function serves both because they read one config (the boxes stage writes the store the
 * boxseed stage reads, and both find it through the same settings).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/boxes.h"

static const char *boxes_help =
    "Usage: wsseed boxes [CONFIG.yaml] [--set key=value]... [--device D] [--shard i/n] [--max-images N]\n\n"
    "Boxed-SAM seed mode, step 1 (Ravanbakhsh et al.; spec method-gdino-boxed-sam.md): the classes of\n"
    "every image of data.split (zero-shot CLIP labels with labels.tau, or the ground truth), then one\n"
    "Grounding-DINO pass per class (caption = its prompt name) keeping boxes above gdino.box_thresh;\n"
    "or, with boxes.json, the boxes of another detector (COCO-style: a list of {image_id, category_id,\n"
    "bbox [x, y, w, h], score}, or {images, annotations}; category_id = label value 1..C). Writes an\n"
    "HDF5 box store (resumable: run again; --shard i/n splits the images among processes) and logs\n"
    "the labels' precision/recall/F1 against the ground truth. Next: wsseed boxseed.\n\nSettings:";
static const char *boxseed_help =
    "Usage: wsseed boxseed [CONFIG.yaml] [--set key=value]... [--device D] [--max-images N]\n\n"
    "Boxed-SAM seed mode, step 2: SAM prompted with every box of the box store (one mask per box,\n"
    "multimask off, one image embedding per image), masks composed by boxseed.overlap (score: the\n"
    "mask with the highest box score x SAM IoU estimate wins, the spec's default; maxid: the higher\n"
    "class index wins, as the closest implementation), uncovered pixels 0; optional filters and\n"
    "ignore band (boxseed.*). Writes 8-bit palette PNGs (class indices, 255 = ignore) to\n"
    "boxseed.out; existing PNGs are kept, so an interrupted run continues. Same config as wsseed boxes.\n\n"
    "Settings:";

/* Both commands: the shared settings, then --shard (boxes only) and --max-images. */
static int run(int argc, char **argv, const char *cmd, int boxes)
{
    static const char *const value_opts[] = {"--shard", "--max-images", NULL};
    ws_boxes_settings s;
    const char *config = NULL;
    size_t nk;
    const ws_cfg_key *keys = ws_boxes_keys(&nk);
    ws_boxes_defaults(&s);
    /* Config and --set/--threads are applied before --help is looked for, so the help shows the
     * values this command line would run with. */
    int rc = ws_cli_settings(cmd, argc, argv, value_opts, keys, nk, &s, &config);
    if (rc) return rc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts(boxes ? boxes_help : boxseed_help);
            ws_cfg_print_help(keys, nk, &s, stdout);
            return 0;
        }
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        if (boxes && !strcmp(o, "--shard") && i + 1 < argc) rc = ws_cli_shard(cmd, argv[++i], &s.shard_i, &s.shard_n);
        else if (!strcmp(o, "--max-images") && i + 1 < argc) rc = ws_cli_long(cmd, o, argv[++i], 0, 1L << 40, &s.max_images);
        else {
            fprintf(stderr, "wsseed %s: unknown option '%s' (see wsseed %s --help)\n", cmd, o, cmd);
            return 2;
        }
        if (rc) return rc;
    }
    return (boxes ? ws_stage_boxes(&s) : ws_stage_boxseed(&s)) ? ws_cli_error() : 0;
}

int ws_cmd_boxes(int argc, char **argv) { return run(argc, argv, "boxes", 1); }
int ws_cmd_boxseed(int argc, char **argv) { return run(argc, argv, "boxseed", 0); }

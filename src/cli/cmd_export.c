/* cmd_export.c - `wsseed export mmseg`: the pipeline's config (+ --set) -> its run's seed folder and
 * dataset -> ws_mmseg_settings -> ws_stage_mmseg_export (stage/mmseg.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "io/config.h"
#include "stage/mmseg.h"
#include "stage/pipeline.h"

static const char *help =
    "Usage: wsseed export mmseg CONFIG.yaml [--set key=value]... [--seeds fine|coarse|boxed] [--out DIR]\n"
    "                           [--val SPLIT|none] [--copy-images] [--force]\n\n"
    "The hand-off to stage II: the seeds of the `wsseed pipeline CONFIG.yaml` run (the same config and\n"
    "--set overrides: they name the run folder <out_dir>/<run>, the dataset and its classes) as an\n"
    "mmsegmentation 1.x custom dataset:\n"
    "  DIR/img_dir/{train,val}/   the images (symbolic links; --copy-images copies them)\n"
    "  DIR/ann_dir/train/         the seeds (palette PNGs: 0 background, 1..N classes, 255 ignore)\n"
    "  DIR/ann_dir/val/           the val split's ground truth (--val, default 'val' when the dataset\n"
    "                             has it and ground truth; 'none' skips validation)\n"
    "  DIR/splits/{train,val}.txt the ids; DIR/classes.txt the class names (0 background first)\n"
    "  DIR/deeplabv3plus_r101_wsseed.py  a complete mmseg 1.x config: DeepLabV3+ R101-D8, BaseSegDataset\n"
    "                             with the classes and palette, reduce_zero_label False, ignore_index 255\n"
    "Train: python tools/train.py DIR/deeplabv3plus_r101_wsseed.py (in an mmsegmentation checkout).\n"
    "--seeds: the fine FMA-WSSS seeds (default), the coarse ones, or the boxed-SAM seeds of the run.\n"
    "DIR defaults to <out_dir>/<run>/mmseg; it is written as DIR.part and renamed when complete; an\n"
    "existing DIR is replaced only with --force and only if this command wrote it. Every seed is\n"
    "checked to hold class values of the run's class list or 255.";

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "wsseed export mmseg: %s%s (see wsseed export mmseg --help)\n", msg, arg);
    return 2;
}

/* The export's own options (the config, --set and --threads are ws_cli_settings'). */
static int own_options(int argc, char **argv, const char *config, const char **seeds, const char **out, ws_mmseg_settings *s)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        if (!strcmp(o, "--seeds") && i + 1 < argc) *seeds = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) *out = argv[++i];
        else if (!strcmp(o, "--val") && i + 1 < argc) s->val_split = !strcmp(argv[++i], "none") ? "" : argv[i];
        else if (!strcmp(o, "--copy-images")) s->copy_images = 1;
        else if (!strcmp(o, "--force")) s->force = 1;
        else return usage_error("unknown option ", o);
    }
    if (strcmp(*seeds, "fine") && strcmp(*seeds, "coarse") && strcmp(*seeds, "boxed"))
        return usage_error("--seeds must be fine, coarse or boxed, not ", *seeds);
    return 0;
}

static int export_mmseg(int argc, char **argv)
{
    static const char *const value_opts[] = {"--seeds", "--out", "--val", NULL};
    const char *config = NULL, *seeds = "fine", *out = NULL;
    ws_mmseg_settings s = {0};
    ws_cfg_key *keys = NULL;
    size_t nk = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { puts(help); return 0; }
    ws_pipe_cfg *c = malloc(sizeof *c);
    if (!c) { fprintf(stderr, "wsseed: error: out of memory\n"); return 1; }
    ws_pipe_defaults(c);
    int rc = ws_pipe_keys(&keys, &nk) ? ws_cli_error() : 0;
    if (!rc) rc = ws_cli_settings("export mmseg", argc, argv, value_opts, keys, nk, c, &config);
    ws_cfg_table_free(keys, nk);
    if (!rc) rc = own_options(argc, argv, config, &seeds, &out, &s);
    if (!rc && !config) rc = usage_error("the pipeline's CONFIG.yaml is required", "");
    char seed_dir[3 * WS_CFG_STR_MAX], out_dir[3 * WS_CFG_STR_MAX], source[6 * WS_CFG_STR_MAX];
    if (!rc) {
        /* the pipeline links <out_dir>/<run>/seeds_<mode> to the cache folder that holds the seeds */
        snprintf(seed_dir, sizeof seed_dir, "%s/%s/seeds_%s/seeds", c->out_dir, c->run, seeds);
        snprintf(out_dir, sizeof out_dir, "%s/%s/mmseg", c->out_dir, c->run);
        snprintf(source, sizeof source, "%s (the %s seeds of run %s/%s)", seed_dir, seeds, c->out_dir, c->run);
        s.data = c->data;
        s.seeds = seed_dir;
        s.out = out ? out : out_dir;
        s.source = source;
        rc = ws_stage_mmseg_export(&s) ? ws_cli_error() : 0;
    }
    free(c);
    return rc;
}

int ws_cmd_export(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mmseg")) return export_mmseg(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("Usage: wsseed export mmseg CONFIG.yaml [options]   (wsseed export mmseg --help)\n\n"
             "Exports for other tools. mmseg: a pipeline run's seeds as an mmsegmentation 1.x dataset and\n"
             "config. Related: `wsseed masks export` (mask store -> amg.py folders, COCO JSON) and\n"
             "`wsseed export-ctx` (prompt context -> PyTorch state dict).");
        return 0;
    }
    fprintf(stderr, "wsseed export: expected 'mmseg' (see wsseed export --help)\n");
    return 2;
}

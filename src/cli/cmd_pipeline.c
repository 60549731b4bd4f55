/* cmd_pipeline.c - `wsseed pipeline CONFIG`: argv -> ws_pipe_cfg -> ws_stage_pipeline
 * (stage/pipeline.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/pipeline.h"

static const char *help =
    "Usage: wsseed pipeline CONFIG.yaml [--set key=value]... [--threads N] [--device D]\n\n"
    "The whole FMA-WSSS run: SAM masks -> train cls prompts -> CAMs -> CAA -> coarse seeds ->\n"
    "train seg prompts -> CAMs -> CAA -> fine seeds -> evaluation -> report.html. Each stage's\n"
    "output is cached under cache_dir by a hash of its settings and inputs: unchanged stages are\n"
    "skipped, an interrupted run continues where it stopped when started again, and runs that\n"
    "share settings share outputs. configs/demo.yaml runs on a synthetic dataset with random\n"
    "models; configs/voc/pipeline.yaml is the official VOC recipe (the built-in defaults).\n"
    "\nKeys (YAML sections, current value, meaning):\n";

int ws_cmd_pipeline(int argc, char **argv)
{
    ws_pipe_cfg c;
    ws_cfg_key *keys = NULL;
    size_t nk = 0;
    const char *config = NULL;
    ws_pipe_defaults(&c);
    if (ws_pipe_keys(&keys, &nk)) return ws_cli_error();
    /* The pipeline's table is allocated per call (ws_pipe_keys composes the other stages' tables
     * under prefixes) and freed before the run, which needs only the filled settings. */
    int rc = ws_cli_settings("pipeline", argc, argv, NULL, keys, nk, &c, &config);
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(help, stdout);
            ws_cfg_print_help(keys, nk, &c, stdout);
            ws_cfg_table_free(keys, nk);
            return 0;
        }
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        fprintf(stderr, "wsseed pipeline: unknown option '%s' (see wsseed pipeline --help)\n", o);
        rc = 2;
    }
    ws_cfg_table_free(keys, nk);
    if (rc) return rc;
    /* A config is required even though every key has a default: the defaults point at the full VOC dataset
     * and weights, and a run started by accident would spend hours on them. */
    if (!config) { fprintf(stderr, "wsseed pipeline: a config is required, e.g. wsseed pipeline configs/demo.yaml\n"); return 2; }
    return ws_stage_pipeline(&c, NULL, NULL, NULL) ? ws_cli_error() : 0;
}

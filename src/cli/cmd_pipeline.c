/* cmd_pipeline.c - `wsseed pipeline CONFIG`: the whole FMA-WSSS run from one YAML. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "cli/pipeline.h"
#include "core/status.h"

int ws_cmd_pipeline(int argc, char **argv)
{
    ws_pipe_cfg c;
    ws_cfg_key *keys = NULL;
    size_t nk = 0;
    const char *config = NULL;
    int rc = 0;
    ws_pipe_defaults(&c);
    if (ws_pipe_keys(&keys, &nk)) return ws_cli_error();
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && (i == 1 || strcmp(argv[i - 1], "--set"))) { config = argv[i]; break; }
    if (config && ws_cfg_load(keys, nk, &c, config)) { ws_cfg_table_free(keys, nk); return ws_cli_error(); }
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs("Usage: wsseed pipeline CONFIG.yaml [--set key=value]...\n\n"
                  "The whole FMA-WSSS run: SAM masks -> train cls prompts -> CAMs -> CAA -> coarse seeds ->\n"
                  "train seg prompts -> CAMs -> CAA -> fine seeds -> evaluation -> report.html. Each stage's\n"
                  "output is cached under cache_dir by a hash of its settings and inputs: unchanged stages are\n"
                  "skipped, an interrupted run continues where it stopped when started again, and runs that\n"
                  "share settings share outputs. configs/demo.yaml runs on a synthetic dataset with random\n"
                  "models; configs/voc/pipeline.yaml is the official VOC recipe (the built-in defaults).\n"
                  "\nKeys (YAML sections, current value, meaning):\n", stdout);
            ws_cfg_print_help(keys, nk, &c, stdout);
            ws_cfg_table_free(keys, nk);
            return 0;
        }
        if (o == config) continue;
        if (!strcmp(o, "--set") && i + 1 < argc) rc = ws_cfg_set(keys, nk, &c, argv[++i]) ? 1 : 0;
        else {
            fprintf(stderr, "wsseed pipeline: unknown option '%s' (see wsseed pipeline --help)\n", o);
            ws_cfg_table_free(keys, nk);
            return 2;
        }
    }
    ws_cfg_table_free(keys, nk);
    if (rc) return ws_cli_error();
    if (!config) { fprintf(stderr, "wsseed pipeline: a config is required, e.g. wsseed pipeline configs/demo.yaml\n"); return 2; }
    return ws_pipe_run(&c, NULL, NULL, NULL) ? ws_cli_error() : 0;
}

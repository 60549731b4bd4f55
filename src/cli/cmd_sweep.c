/* cmd_sweep.c - `wsseed sweep`: argv -> ws_stage_sweep (stage/sweep.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/sweep.h"

int ws_cmd_sweep(int argc, char **argv)
{
    /* --list prints the run folders without running: a dry run to check what a grid expands to. */
    int list_only = argc == 3 && !strcmp(argv[2], "--list");
    if ((argc != 2 && !list_only) || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs("Usage: wsseed sweep SWEEP.yaml [--list]\n\n"
              "Runs `wsseed pipeline` for every combination of a grid (or every entry of a list) of\n"
              "overrides of a pipeline config:\n"
              "  pipeline: ../demo.yaml         # base config, relative to the sweep file\n"
              "  name: bg-power                 # runs in <out_dir>/<name>/<key=value,...>/\n"
              "  set: {seg.train.max_iter: 60}  # fixed overrides (optional)\n"
              "  grid:                          # or  list: [{key: value, ...}, ...]\n"
              "    seed.seg_pow: [0.5, 0.6, 0.7]\n"
              "    caa.seg.box_thresh: [0.4, 0.5]\n"
              "Stages shared by runs are computed once (the pipeline's cache); an interrupted sweep\n"
              "continues when started again. Writes summary.csv, summary.md and <key>.png (seed mIoU\n"
              "against the key's values) in <out_dir>/<name>/. --list prints the run folders only.\n",
              argc == 2 ? stdout : stderr);
        /* Asked-for help goes to stdout with status 0; help shown because of a wrong call goes to stderr with
         * status 2. */
        return argc == 2 ? 0 : 2;
    }
    /* Each run takes runtime.device from its pipeline config: a global device would be silently replaced by
     * it, so it is refused with the way to say it instead. */
    if (ws_cli_global_device() && !list_only) {
        fprintf(stderr, "wsseed sweep: --device / WSSEED_DEVICE do not reach the runs: put runtime.device in the "
                        "pipeline config or the sweep file's set: {runtime.device: %s}\n", ws_cli_global_device());
        return 2;
    }
    return ws_stage_sweep(argv[1], list_only) ? ws_cli_error() : 0;
}

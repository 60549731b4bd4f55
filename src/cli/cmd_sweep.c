/* cmd_sweep.c - `wsseed sweep`: argv -> ws_stage_sweep (stage/sweep.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/sweep.h"

int ws_cmd_sweep(int argc, char **argv)
{
    /* --list prints the run folders without running: a dry run to check what a grid expands to. */
    int list_only = 0, help = 0, bad = 0, spread_runs = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) help = 1;
        else if (!strcmp(argv[i], "--list")) list_only = 1;
        else if (!strcmp(argv[i], "--spread") && i + 1 < argc && (!strcmp(argv[i + 1], "runs") || !strcmp(argv[i + 1], "images")))
            spread_runs = !strcmp(argv[++i], "runs");
        else if (!strcmp(argv[i], "--spread")) {
            fprintf(stderr, "wsseed sweep: --spread takes 'runs' or 'images', not '%s'\n", i + 1 < argc ? argv[i + 1] : "");
            return 2;
        }
        else if (argv[i][0] != '-' && !file) file = argv[i];
        else {   /* an option the sweep does not know is a usage error, not a file that cannot be opened */
            fprintf(stderr, "wsseed sweep: unknown option '%s' (see wsseed sweep --help)\n", argv[i]);
            return 2;
        }
    }
    bad = !file && !help;
    if (help || bad) {
        fputs("Usage: wsseed sweep SWEEP.yaml [--list] [--spread images|runs]\n\n"
              "Runs `wsseed pipeline` for every combination of a grid (or every entry of a list) of\n"
              "overrides of a pipeline config:\n"
              "  pipeline: ../demo.yaml         # base config, relative to the sweep file\n"
              "  name: bg-power                 # runs in <out_dir>/<name>/<key=value,...>/\n"
              "  set: {seg.train.max_iter: 60}  # fixed overrides (optional)\n"
              "  grid:                          # or  list: [{key: value, ...}, ...]\n"
              "    seed.seg_pow: [0.5, 0.6, 0.7]\n"
              "    caa.seg.box_thresh: [0.4, 0.5]\n"
              "Every run's settings (keys, types, the pipeline's pre-flight) are checked before the\n"
              "first run starts. Stages shared by runs are computed once (the pipeline's cache); an\n"
              "interrupted sweep continues when started again. Writes summary.csv, summary.md and\n"
              "summary.html (the table and a plot of seed mIoU against each swept key's values) in\n"
              "<out_dir>/<name>/.\n"
              "--list prints the run folders only.\n"
              "Under several ranks (wsseed launch -n N, torchrun, srun): --spread images (the default) runs\n"
              "each run as one distributed pipeline over all ranks; --spread runs gives each rank whole runs\n"
              "(rank k of N: runs k, k + N, ...), for many runs that each fit one device; the ranks meet at\n"
              "the end and rank 0 writes the summary.\n",
              help ? stdout : stderr);
        /* Asked-for help goes to stdout with status 0; help shown because of a wrong call goes to stderr with
         * status 2. */
        return help ? 0 : 2;
    }
    /* Each run takes runtime.device from its pipeline config: a global device would be silently replaced by
     * it, so it is refused with the way to say it instead. */
    if (ws_cli_global_device() && !list_only) {
        fprintf(stderr, "wsseed sweep: --device / WSSEED_DEVICE do not reach the runs: put runtime.device in the "
                        "pipeline config or the sweep file's set: {runtime.device: %s}\n", ws_cli_global_device());
        return 2;
    }
    return ws_stage_sweep(file, list_only, spread_runs) ? ws_cli_error() : 0;
}

/* cmd_doctor.c - `wsseed doctor [CONFIG]`: argv -> ws_pipe_cfg -> ws_stage_doctor (stage/doctor.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/doctor.h"

static const char *help =
    "Usage: wsseed doctor [CONFIG.yaml] [--set key=value]... [--threads N]\n\n"
    "Prints what this installation has and what a run will use: the wsseed version and configure\n"
    "options, libtorch's version and build (CPU or CUDA, the CUDA devices it sees), OpenBLAS's\n"
    "version, core type and threads, the OPENBLAS_*, OMP_*, GOTO_* and WSSEED_* variables in force,\n"
    "the CPU's SIMD level, the HDF5, libyaml, libpng and libjpeg versions, free memory and the free\n"
    "disk under out_dir.\n\n"
    "Given a pipeline config (with the same --set overrides as wsseed pipeline), it also runs the\n"
    "pipeline's pre-flight alone: every file and folder the config names exists, is readable and\n"
    "of the right kind (file or folder, non-empty, a .gz vocabulary gzip-compressed), and the\n"
    "training settings are in range; one line per check. Nothing is written.\n\n"
    "Exit status: 0 all checks passed, 1 a check failed (listed on stderr), 2 usage error.\n";

int ws_cmd_doctor(int argc, char **argv)
{
    ws_pipe_cfg c;
    ws_cfg_key *keys = NULL;
    size_t nk = 0;
    const char *config = NULL;
    for (int i = 1; i < argc; i++)   /* help before the config is read: it may not exist */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(help, stdout); return 0; }
    ws_pipe_defaults(&c);
    if (ws_pipe_keys(&keys, &nk)) return ws_cli_error();
    int rc = ws_cli_settings("doctor", argc, argv, NULL, keys, nk, &c, &config);
    for (int i = 1; i < argc && !rc; i++) {
        if (argv[i] == config || ws_cli_common_opt(argc, argv, &i)) continue;
        fprintf(stderr, "wsseed doctor: unknown option '%s' (see wsseed doctor --help)\n", argv[i]);
        rc = 2;
    }
    ws_cfg_table_free(keys, nk);
    if (rc) return rc;
    fflush(stdout);
    return ws_stage_doctor(config ? &c : NULL, stdout) ? ws_cli_error() : 0;
}

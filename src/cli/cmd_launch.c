/* cmd_launch.c - `wsseed launch`: argv -> ws_launch_settings -> ws_stage_launch (stage/launch.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/launch.h"

static const char *help =
    "Usage: wsseed launch -n N [--addr HOST] [--port P] [--grace S] [--] COMMAND [ARGS...]\n\n"
    "Starts N ranks of COMMAND on this machine, as torchrun --nproc-per-node N does: each gets\n"
    "RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR (--addr, default 127.0.0.1) and\n"
    "MASTER_PORT (--port, default $MASTER_PORT or 29500). COMMAND is a wsseed command (masks,\n"
    "cam, caa, seed, merge, boxes, boxseed, train, pipeline, sweep; also written 'wsseed pipeline\n"
    "...': both run this very wsseed, installed or not) or any program.\n"
    "SIGINT/SIGTERM/SIGHUP are forwarded to the ranks. When a rank fails the others stop\n"
    "at their next collective (or after --grace S seconds, default 30, by SIGTERM) and the exit\n"
    "status is 1, naming each failed rank; rerunning the same command continues the work.\n"
    "Several machines: start one wsseed per rank with those variables set yourself (srun; README).";

/* The commands that run as ranks; launch runs them with this very binary. */
static int is_rank_command(const char *c)
{
    static const char *const cmds[] = {"masks", "cam", "caa", "seed", "merge", "boxes", "boxseed",
                                       "train", "pipeline", "sweep", NULL};
    for (int k = 0; cmds[k]; k++)
        if (!strcmp(c, cmds[k])) return 1;
    return 0;
}

int ws_cmd_launch(int argc, char **argv, const char *self)
{
    long n = 0, port = 29500, grace = 30;
    const char *env_port = getenv("MASTER_PORT");
    if (env_port && *env_port && ws_cli_long("launch", "MASTER_PORT", env_port, 1, 65535, &port)) return 2;
    ws_launch_settings s = {.addr = "127.0.0.1"};
    int i = 1, rc = 0;
    for (; i < argc && argv[i][0] == '-' && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (!strcmp(o, "--")) { i++; break; }
        if (!strcmp(o, "-n") && i + 1 < argc) rc = ws_cli_long("launch", o, argv[++i], 1, 4096, &n);
        else if (!strcmp(o, "--port") && i + 1 < argc) rc = ws_cli_long("launch", o, argv[++i], 1, 65535, &port);
        else if (!strcmp(o, "--grace") && i + 1 < argc) rc = ws_cli_long("launch", o, argv[++i], 0, 86400, &grace);
        else if (!strcmp(o, "--addr") && i + 1 < argc) s.addr = argv[++i];
        else { fprintf(stderr, "wsseed launch: unknown option '%s' (see wsseed launch --help)\n", o); return 2; }
    }
    if (rc) return rc;
    if (n < 1 || i >= argc) { fprintf(stderr, "wsseed launch: needs -n N and a COMMAND (see wsseed launch --help)\n"); return 2; }
    /* A wsseed command word runs this binary: argv gets `self` in front (argv[i-1] is free to take it); so
     * does the bare name "wsseed" (`launch -n 2 wsseed pipeline ...`, as torchrun is given it), which need
     * not be on PATH and must not be another installed version. */
    if (is_rank_command(argv[i])) argv[--i] = (char *)self;
    else if (!strcmp(argv[i], "wsseed")) argv[i] = (char *)self;
    s.n = (int)n, s.port = (int)port, s.grace_s = (int)grace, s.argv = argv + i;
    return ws_stage_launch(&s) ? ws_cli_error() : 0;
}

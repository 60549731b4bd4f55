/* launch.h - `wsseed launch`: N local ranks of one command (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT set as torchrun sets them), and the group start/end of the commands
 * that run as ranks.
 */
#ifndef WS_STAGE_LAUNCH_H
#define WS_STAGE_LAUNCH_H

typedef struct ws_launch_settings {
    int n;               /* ranks to start (>= 1) */
    const char *addr;    /* MASTER_ADDR (default 127.0.0.1) */
    int port;            /* MASTER_PORT (default: $MASTER_PORT, else 29500) */
    int grace_s;         /* after a rank failed, seconds the others get to stop before SIGTERM */
    char *const *argv;   /* the command and its arguments (NULL-terminated) */
} ws_launch_settings;

/* Starts the ranks, forwards SIGINT/SIGTERM/SIGHUP to them and waits. Returns 0 when every rank
 * exited 0; otherwise fails naming each failed rank, its pid and exit status or signal (the first
 * to fail first). Ranks still running after a failure get grace_s seconds, then SIGTERM. */
int ws_stage_launch(const ws_launch_settings *s);

/* For the commands that split their work over ranks: forms the group when the environment asks
 * for several ranks (shim/rank.h), and leaves it. */
int ws_stage_ranks_begin(void);
void ws_stage_ranks_end(void);
#endif

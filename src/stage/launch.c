/* launch.c - `wsseed launch -n N COMMAND ...`: the one-machine launcher, the counterpart of
 * `torchrun --nproc-per-node N` for wsseed commands (and any other program).
 *
 * Each rank is a child process with RANK, LOCAL_RANK (= RANK), WORLD_SIZE, LOCAL_WORLD_SIZE,
 * MASTER_ADDR and MASTER_PORT in its environment; the ranks meet at rank 0's store themselves
 * (shim/rank.h), the launcher only starts, forwards signals and reports.
 */
#define _DEFAULT_SOURCE
#include "stage/launch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"
#include "shim/rank.h"

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

static int set_env_int(const char *name, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    return setenv(name, b, 1);
}

/* In the child: its variables, then the command (execvp: a PATH name or a path). */
static void exec_rank(const ws_launch_settings *s, int r)
{
    if (set_env_int("RANK", r) || set_env_int("LOCAL_RANK", r) || set_env_int("WORLD_SIZE", s->n) ||
        set_env_int("LOCAL_WORLD_SIZE", s->n) || setenv("MASTER_ADDR", s->addr, 1) || set_env_int("MASTER_PORT", s->port))
        _exit(127);
    execvp(s->argv[0], s->argv);
    fprintf(stderr, "wsseed launch: rank %d: cannot run '%s': %s\n", r, s->argv[0], strerror(errno));
    _exit(127);
}

static void signal_all(const pid_t *pid, int n, int sig)
{
    for (int r = 0; r < n; r++)
        if (pid[r] > 0) kill(pid[r], sig);
}

/* "exit status 3" / "killed by signal 9 (Killed)" */
static void describe(int status, char *b, size_t n)
{
    if (WIFEXITED(status)) snprintf(b, n, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(b, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(b, n, "status 0x%x", status);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Waits for every child; records the failures in order into msg; escalates after a failure. */
static int reap(const ws_launch_settings *s, pid_t *pid, char *msg, size_t cap)
{
    int left = s->n, failed = 0, forwarded = 0;
    double first_fail = 0;
    size_t len = 0;
    while (left > 0) {
        if (g_signal && !forwarded) { signal_all(pid, s->n, g_signal); forwarded = 1; }
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p < 0 && errno != EINTR) break;
        if (p <= 0) {
            /* Peers of a failed rank normally fail on their own at their next collective; one stuck
             * elsewhere is stopped, first politely. */
            double late = failed ? now_s() - first_fail : 0;
            if (failed && late > s->grace_s) signal_all(pid, s->n, late > s->grace_s + 10 ? SIGKILL : SIGTERM);
            usleep(20000);
            continue;
        }
        for (int r = 0; r < s->n; r++) {
            if (pid[r] != p) continue;
            pid[r] = 0;
            left--;
            if (status == 0) break;
            char d[96];
            describe(status, d, sizeof d);
            if (!failed++) first_fail = now_s();
            if (len < cap) len += (size_t)snprintf(msg + len, cap - len, "%srank %d (pid %ld) %s", len ? "; " : "", r, (long)p, d);
        }
    }
    return failed;
}

int ws_stage_launch(const ws_launch_settings *s)
{
    if (s->n < 1 || !s->argv || !s->argv[0]) return ws_fail(WS_EINVAL, "launch: needs -n N >= 1 and a command");
    pid_t *pid = calloc((size_t)s->n, sizeof *pid);
    if (!pid) return ws_fail(WS_ENOMEM, "out of memory");
    struct sigaction sa = {0}, old[3];
    sa.sa_handler = on_signal;
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int k = 0; k < 3; k++) sigaction(sigs[k], &sa, &old[k]);
    ws_log("launch: %d ranks of '%s' at %s:%d", s->n, s->argv[0], s->addr, s->port);
    fflush(NULL);   /* a child must not repeat buffered output */
    int rc = 0;
    for (int r = 0; r < s->n && !rc; r++) {
        pid[r] = fork();
        if (pid[r] == 0) exec_rank(s, r);
        if (pid[r] < 0) { pid[r] = 0; rc = ws_fail(WS_EIO, "launch: cannot start rank %d: %s", r, strerror(errno)); }
    }
    if (rc) signal_all(pid, s->n, SIGTERM);
    char msg[1024] = "";
    int failed = reap(s, pid, msg, sizeof msg);
    for (int k = 0; k < 3; k++) sigaction(sigs[k], &old[k], NULL);
    free(pid);
    if (!rc && g_signal) rc = ws_fail(WS_EIO, "launch: interrupted by signal %d (forwarded to every rank)%s%s", (int)g_signal,
                                      failed ? ": " : "", msg);
    else if (!rc && failed) rc = ws_fail(WS_EIO, "launch: %d of %d ranks failed: %s", failed, s->n, msg);
    return rc;
}

int ws_stage_ranks_begin(void)
{
    int rc = ws_rank_init();
    if (!rc) ws_log_set_rank(ws_rank_id(), ws_rank_world());
    return rc;
}

void ws_stage_ranks_end(void) { ws_rank_shutdown(); }

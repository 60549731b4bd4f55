/* log.c - stderr messages and the progress bar (see log.h). Everything goes to stderr so that
 * stdout stays for a command's data (tokenize's ids, eval's table), which scripts pipe.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* " (rank N)" for the ranks other than 0 of a job, "" otherwise (ws_log_set_rank). */
static char g_tag[32];

void ws_log_set_rank(int rank, int world)
{
    if (world > 1 && rank > 0) snprintf(g_tag, sizeof g_tag, " (rank %d)", rank);
    else g_tag[0] = '\0';
}

const char *ws_log_tag(void) { return g_tag; }

void ws_log(const char *fmt, ...)
{
    /* One write per line: the ranks of a job share one stderr, and a line written in pieces interleaves
     * with theirs ("wsseed (rank 1): wsseed (rank 2): ..."). Longer lines are cut with "...". */
    char line[4096];
    int n = snprintf(line, sizeof line, "wsseed%s: ", g_tag);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

double ws_now(void)
{
    struct timespec ts;
    /* Monotonic: rates and ETAs must not jump when the wall clock is adjusted during a long run. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(double s, char *buf, size_t cap)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(ws_progress *p, int final)
{
    double el = ws_now() - p->t0, rate = el > 0 ? (double)p->done / el : 0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    char eta[32], ela[32], bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fmt_time(el, ela, sizeof ela);
    fmt_time(rate > 0 ? (double)(p->total - p->done) / rate : 0, eta, sizeof eta);
    fprintf(stderr, "%s%s%s [%s] %lld/%lld %.2f it/s elapsed %s ETA %s %s%s", p->tty ? "\r" : "", p->label, g_tag, bar,
            (long long)p->done, (long long)p->total, rate, ela, final ? "00:00" : eta, p->extra,
            /* On a terminal the bar redraws in place (\r, then clear to end of line); in a log file every
             * draw is its own line. */
            p->tty && !final ? "\033[K" : "\n");
    fflush(stderr);
}

void ws_progress_start(ws_progress *p, const char *label, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t0 = p->last_draw = ws_now();
    p->tty = isatty(2);
}

void ws_progress_step(ws_progress *p, int64_t n, const char *extra)
{
    p->done += n;
    if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
    double now = ws_now();
    int decile = p->total > 0 ? (int)(10 * p->done / p->total) : 0;
    /* A terminal is redrawn at most 5 times a second; a log file gets a line per tenth of the work, so a
     * batch job's log stays short. */
    if ((p->tty && now - p->last_draw > 0.2) || (!p->tty && decile > p->last_decile)) {
        p->last_draw = now;
        p->last_decile = decile;
        if (p->done < p->total) draw(p, 0);
    }
}

void ws_progress_end(ws_progress *p) { draw(p, 1); }

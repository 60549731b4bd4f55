/* log.h - messages on stderr and a progress bar with rate and ETA for long loops.
 * The bar redraws in place on a terminal and prints a line every 10 % otherwise (CI logs). */
#ifndef WS_CORE_LOG_H
#define WS_CORE_LOG_H

#include <stdint.h>

/* Prints "wsseed: <message>" and a newline to stderr (printf format); never fails. */
void ws_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* "wsseed: ..." */
/* Under several ranks: rank r > 0 of a job tags its messages and progress lines "(rank r)"
 * ("wsseed (rank 1): ..."), so interleaved output says whose it is; rank 0 and a process alone
 * print as before. */
void ws_log_set_rank(int rank, int world);
/* The tag in force: " (rank r)" or "" (static storage). */
const char *ws_log_tag(void);
/* Monotonic seconds (CLOCK_MONOTONIC), for durations and ETAs. */
double ws_now(void);

typedef struct ws_progress {
    const char *label;
    int64_t total, done;
    double t0, last_draw;
    int tty, last_decile;
    char extra[96];      /* caller text shown after the counts (e.g. "loss 0.31") */
} ws_progress;

/* Starts a progress line for total steps on stderr (a bar with rate and ETA on a terminal, a line
 * per tenth otherwise); label is borrowed for the life of p. */
void ws_progress_start(ws_progress *p, const char *label, int64_t total);
/* Advances by n and redraws when due. extra may be NULL. */
void ws_progress_step(ws_progress *p, int64_t n, const char *extra);
/* Draws the final state and ends the line. */
void ws_progress_end(ws_progress *p);

#endif

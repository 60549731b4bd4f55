/* fault.c - named fault points (see fault.h). Reads WSSEED_FAULT and WSSEED_FAULT_TRACE once;
 * counts hits of the armed point across threads, so "the 3rd write" means the same write in
 * every run of a deterministic command.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int armed;             /* WSSEED_FAULT or WSSEED_FAULT_TRACE is set */
    char point[128];       /* the armed point ("" when only tracing) */
    long nth;              /* which hit of it fires */
    int enospc;            /* action: 1 enospc, 0 abort */
    const char *trace;     /* WSSEED_FAULT_TRACE or NULL */
    atomic_long hits;
} F;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "<point>[:<nth>][:<action>]"; a malformed value is reported once and arms nothing, so a typo
 * in a test shows up as "no fault fired" rather than as a mysterious crash. */
static void init(void)
{
    const char *v = getenv("WSSEED_FAULT");
    F.trace = getenv("WSSEED_FAULT_TRACE");
    F.nth = 1;
    if (v && *v) {
        char buf[256], *save = NULL;
        snprintf(buf, sizeof buf, "%s", v);
        char *name = strtok_r(buf, ":", &save), *tok;
        snprintf(F.point, sizeof F.point, "%s", name ? name : "");
        while ((tok = strtok_r(NULL, ":", &save))) {
            char *end;
            long n = strtol(tok, &end, 10);
            if (*end == '\0' && n > 0) F.nth = n;
            else if (!strcmp(tok, "enospc")) F.enospc = 1;
            else if (!strcmp(tok, "abort")) F.enospc = 0;
            else { fprintf(stderr, "wsseed: WSSEED_FAULT=%s: '%s' is neither a count nor abort/enospc\n", v, tok); F.point[0] = '\0'; break; }
        }
    }
    F.armed = F.point[0] || (F.trace && *F.trace);
}

static void trace(const char *name)
{
    /* O_APPEND writes of one short line are atomic, so threads and processes may share the file */
    FILE *f = fopen(F.trace, "a");
    if (f) { fprintf(f, "%s\n", name); fclose(f); }
}

int ws_fault_at(const char *kind, const char *step)
{
    pthread_once(&once, init);
    if (!F.armed) return 0;
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", kind ? kind : "", kind ? "." : "", step);
    if (F.trace && *F.trace) trace(name);
    if (!F.point[0] || strcmp(name, F.point) || atomic_fetch_add(&F.hits, 1) + 1 != F.nth) return 0;
    if (!F.enospc) {
        fprintf(stderr, "wsseed: fault point %s: killed (WSSEED_FAULT)\n", name);
        raise(SIGKILL);
        _exit(137);   /* not reached */
    }
    fprintf(stderr, "wsseed: fault point %s: no space left on device (WSSEED_FAULT)\n", name);
    errno = ENOSPC;
    return ENOSPC;
}

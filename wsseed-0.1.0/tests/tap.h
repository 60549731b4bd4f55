/* tap.h - a tiny TAP producer for wsseed's C tests (header only).
 * ok() records one assertion; done_testing() prints the plan and returns the exit status.
 * skip_all() prints why and exits 77 (tests/tap-wrap.sh turns that into a TAP skip). */
#ifndef WS_TESTS_TAP_H
#define WS_TESTS_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_count, tap_failed;

static int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_count);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) tap_failed++;
    fflush(stdout);
    return cond;
}
#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

/* |got - want| <= tol, printing both on failure. */
static int __attribute__((unused)) is_float(double got, double want, double tol, const char *what)
{
    int c = fabs(got - want) <= tol || (isnan(got) && isnan(want));
    ok(c, "%s: got %.9g want %.9g (tol %.3g)", what, got, want, tol);
    return c;
}

static void __attribute__((unused)) diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static int __attribute__((unused)) done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

static void __attribute__((unused, noreturn)) skip_all(const char *why)
{
    printf("# SKIP %s\n", why);
    exit(77);
}

/* Folder of the golden references: $WSSEED_GOLDEN, else $top_srcdir/../shared/golden. Skips the
 * whole test (exit 77) when it is absent. Returns a static buffer. */
__attribute__((unused)) static const char *golden_dir(void)
{
    static char buf[4096];
    const char *e = getenv("WSSEED_GOLDEN"), *top = getenv("top_srcdir");
    if (e && *e) snprintf(buf, sizeof buf, "%s", e);
    else snprintf(buf, sizeof buf, "%s/../shared/golden", top && *top ? top : ".");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", buf);
    if (access(probe, R_OK) != 0) {
        static char why[4300];
        snprintf(why, sizeof why, "golden references not found at %s (set WSSEED_GOLDEN)", buf);
        skip_all(why);
    }
    return buf;
}

#endif

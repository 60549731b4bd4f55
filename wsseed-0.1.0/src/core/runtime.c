/* runtime.c - start-up settings (see runtime.h). */
#define _DEFAULT_SOURCE
#include "core/runtime.h"

#include <malloc.h>
#include <unistd.h>

int ws_runtime_tune_malloc(void)
{
    int ok = 1;
#ifdef M_MMAP_MAX
    ok &= mallopt(M_MMAP_MAX, 0) == 1;                     /* serve large blocks from the heap */
    ok &= mallopt(M_TRIM_THRESHOLD, -1) == 1;              /* and never give the top back (-1 = off) */
#endif
    return ok ? 0 : -1;
}

int ws_runtime_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

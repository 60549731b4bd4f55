/* runtime.h - process-wide runtime settings the stages share: libtorch's intra-op thread count
 * and the build description. The one place that sets the thread count (commands and stages call
 * this instead of the shim), so the rule "one libtorch thread unless runtime.threads says
 * otherwise" lives in one file.
 */
#ifndef WS_STAGE_RUNTIME_H
#define WS_STAGE_RUNTIME_H
#include <stdio.h>

/* The largest thread count accepted anywhere (a bound against typos like 100000 that would make
 * libtorch spawn that many threads). */
#define WS_MAX_THREADS 1024

/* Process start-up: malloc tuning and one libtorch intra-op thread (OpenBLAS threads the matrix
 * products over all cores; a second layer of threads oversubscribes them). */
void ws_stage_runtime_init(void);
/* Sets libtorch's intra-op threads to n (1..WS_MAX_THREADS); fails naming the value otherwise. */
int ws_stage_set_threads(int n);
/* Writes the version and build description (`wsseed version`) to f. */
void ws_stage_print_version(FILE *f);
#endif

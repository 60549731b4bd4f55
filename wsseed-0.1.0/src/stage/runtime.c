/* runtime.c - process-wide runtime settings (see runtime.h): the one place that sets libtorch's
 * intra-op thread count, and the version text. */
#include "stage/runtime.h"

#include "config.h"
#include "core/runtime.h"
#include "core/status.h"
#include "core/unicode.h"
#include "shim/at.h"

void ws_stage_runtime_init(void)
{
    ws_runtime_tune_malloc();
    /* One thread: the matrix products go to OpenBLAS, which threads them over every core already; a second
     * layer of libtorch threads oversubscribes a small machine (README "Threads and memory": 0.72 s vs 0.24 s
     * per ViT-B/16 forward on 2 cores). */
    ws_at_set_num_threads(1);
}

int ws_stage_set_threads(int n)
{
    if (n < 1 || n > WS_MAX_THREADS)
        return ws_fail(WS_EINVAL, "threads: %d is not in 1..%d", n, WS_MAX_THREADS);
    if (ws_at_set_num_threads(n)) return ws_fail(WS_ETORCH, "threads: libtorch refused %d: %s", n, ws_at_last_error());
    return 0;
}

void ws_stage_print_version(FILE *f)
{
    fprintf(f, "wsseed %s\nlibtorch %s (%d intra-op threads)\nunicode tables %s\nconfigure: %s\n", PACKAGE_VERSION,
            ws_at_version(), ws_at_get_num_threads(), ws_uc_version(), WS_CONFIGURE_ARGS);
}

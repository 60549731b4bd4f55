/* runtime.c - process-wide runtime settings (see runtime.h): the one place that sets libtorch's
 * intra-op thread count, the compute device and the precision, and the version text. */
#include "stage/runtime.h"

#include "config.h"

#include <string.h>
#include "core/runtime.h"
#include "core/status.h"
#include "core/unicode.h"
#include "io/settings.h"
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

int ws_stage_set_runtime(const ws_runtime_cfg *r)
{
    ws_at_device d;
    int prec, rc = ws_stage_set_threads(r->threads);
    if (!rc) rc = ws_runtime_device(r, &d);
    if (!rc) rc = ws_runtime_precision(r, &prec);
    if (rc) return rc;
    /* Refused rather than ignored: a CPU run asked for fp16/bf16 would otherwise silently compute something else
     * than the config says (ATen's CPU kernels lack float16 products; bfloat16 products are slower than float32
     * on the CPUs measured, README "GPUs"). */
    if (prec != WS_AT_F32 && d.type == WS_AT_CPU)
        return ws_fail(WS_EINVAL, "runtime.precision: %s applies to CUDA devices only; with runtime.device: cpu set "
                       "runtime.precision: fp32", r->precision);
    if (ws_at_set_device(d)) return ws_fail(WS_ETORCH, "runtime.device: %s", ws_at_last_error());
    if (ws_at_set_precision(prec)) return ws_fail(WS_ETORCH, "runtime.precision: %s", ws_at_last_error());
    return 0;
}

int ws_stage_set_device(const char *spec)
{
    ws_runtime_cfg r;
    ws_at_device d;
    ws_runtime_defaults(&r);
    if (strlen(spec) >= sizeof r.device) return ws_fail(WS_EINVAL, "runtime.device: value too long");
    strcpy(r.device, spec);
    int rc = ws_runtime_device(&r, &d);
    if (!rc && ws_at_set_device(d)) rc = ws_fail(WS_ETORCH, "runtime.device: %s", ws_at_last_error());
    return rc;
}

void ws_stage_describe_runtime(char *buf, size_t cap)
{
    char dev[320];
    ws_at_device_describe(ws_at_get_device(), dev, sizeof dev);
    snprintf(buf, cap, "%s, %s", dev, ws_at_dtype_name(ws_at_get_precision()));
}

void ws_stage_print_version(FILE *f)
{
    int n = ws_at_cuda_device_count();
    fprintf(f, "wsseed %s\nlibtorch %s (%d intra-op threads; %s)\nunicode tables %s\nconfigure: %s\n", PACKAGE_VERSION,
            ws_at_version(), ws_at_get_num_threads(),
            !ws_at_cuda_built() ? "CPU-only build" : n ? "CUDA build, GPUs visible" : "CUDA build, no GPU visible",
            ws_uc_version(), WS_CONFIGURE_ARGS);
    for (int i = 0; i < n; i++) {
        char name[320];
        ws_at_device_describe((ws_at_device){WS_AT_CUDA, i}, name, sizeof name);
        fprintf(f, "device %s\n", name);
    }
}

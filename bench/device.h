/* device.h - the --device / --precision options the benchmarks share (bench/clip, sam, train).
 *
 * A benchmark parses them with bench_runtime_opt, applies them with bench_runtime_apply before it
 * builds a model (the weights go to the device at load) and names the device in its output and
 * JSON. Timings on a GPU call bench_sync before reading the clock: CUDA kernels run
 * asynchronously, so a clock read without it measures only the launches.
 */
#ifndef WS_BENCH_DEVICE_H
#define WS_BENCH_DEVICE_H
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "io/settings.h"
#include "shim/at.h"
#include "stage/runtime.h"

#define BENCH_RUNTIME_USAGE "[--device cpu|cuda|cuda:N] [--precision fp32|fp16|bf16]"

/* Consumes argv[*i] (and its value) when it is --device or --precision; returns 1 then, else 0. */
static inline int bench_runtime_opt(int argc, char **argv, int *i, ws_runtime_cfg *r)
{
    char *dst = !strcmp(argv[*i], "--device") ? r->device : !strcmp(argv[*i], "--precision") ? r->precision : NULL;
    if (!dst || *i + 1 >= argc) return 0;
    snprintf(dst, WS_CFG_STR_MAX, "%s", argv[++*i]);
    return 1;
}

/* Applies r (keeping the thread count already set); prints the error and returns 1 on failure. */
static inline int bench_runtime_apply(const char *prog, ws_runtime_cfg *r)
{
    r->threads = ws_at_get_num_threads();
    if (ws_stage_set_runtime(r)) {
        fprintf(stderr, "%s: %s\n", prog, ws_last_error());
        return 1;
    }
    return 0;
}

/* Waits for the device's queued work (see the header); a no-op on the CPU. */
static inline void bench_sync(void) { ws_at_synchronize(); }

/* The JSON fields naming where the figures were measured: "device": "...", "precision": "...". */
static inline void bench_json_device(FILE *f)
{
    char dev[320];
    ws_at_device_describe(ws_at_get_device(), dev, sizeof dev);
    fprintf(f, "\"device\": \"%s\", \"precision\": \"%s\"", dev, ws_at_dtype_name(ws_at_get_precision()));
}
#endif

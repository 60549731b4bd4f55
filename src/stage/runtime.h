/* runtime.h - process-wide runtime settings the stages share: libtorch's intra-op thread count
 * and the build description. The one place that sets the thread count (commands and stages call
 * this instead of the shim), so the rule "one libtorch thread unless runtime.threads says
 * otherwise" lives in one file.
 */
#ifndef WS_STAGE_RUNTIME_H
#define WS_STAGE_RUNTIME_H
#include <stddef.h>
#include <stdio.h>

/* The largest thread count accepted anywhere (a bound against typos like 100000 that would make
 * libtorch spawn that many threads). */
#define WS_MAX_THREADS 1024

/* Process start-up: malloc tuning and one libtorch intra-op thread (OpenBLAS threads the matrix
 * products over all cores; a second layer of threads oversubscribes them). */
void ws_stage_runtime_init(void);
/* Sets libtorch's intra-op threads to n (1..WS_MAX_THREADS); fails naming the value otherwise. */
int ws_stage_set_threads(int n);
struct ws_runtime_cfg;
/* Applies a stage's runtime.* settings: threads (ws_stage_set_threads), then runtime.device (the
 * device every model and tensor of the stage lives on) and runtime.precision (fp16/bf16 only with a
 * CUDA device). Fails naming the key and what is missing (a CPU-only libtorch, no GPU, cuda:N beyond
 * the device count); nothing is changed on a failure of the device or precision. */
int ws_stage_set_runtime(const struct ws_runtime_cfg *r);
/* Sets the device from a runtime.device spelling ("cpu", "cuda", "cuda:N") for commands without a
 * config (dump, demo); same checks and messages as ws_stage_set_runtime. */
int ws_stage_set_device(const char *spec);
/* "cpu, float32" / "cuda:0 (NVIDIA H100 ...), float16": the device and precision in use (logs, run files). */
void ws_stage_describe_runtime(char *buf, size_t cap);
/* Writes the version and build description (`wsseed version`) to f. */
void ws_stage_print_version(FILE *f);
#endif

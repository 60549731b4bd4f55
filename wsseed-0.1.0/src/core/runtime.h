/* runtime.h - process-wide settings made once at start-up by the command-line tools. */
#ifndef WS_CORE_RUNTIME_H
#define WS_CORE_RUNTIME_H

/* Keeps freed tensor memory in the process instead of returning it to the kernel after every
 * operation (glibc: no mmap for large blocks, no heap trimming). Large activations are
 * otherwise mapped and unmapped on each forward pass, and the page faults cost more than the
 * matrix products (bench/clip: batch-16 ViT-B/16 forward 3-3.5 s instead of 7-9 s). The
 * resident size then stays at the peak. Returns 0, or -1 when the C library refused a setting
 * (performance only, never correctness). */
int ws_runtime_tune_malloc(void);

/* Number of online CPUs (>= 1). */
int ws_runtime_cpus(void);

#endif

/* ckpt.h - HDF5 training checkpoints of the prompt context, with everything an exact resume needs.
 *
 * Layout (format_version 1): /meta/{format_version, task, arch, iteration, seed} ,
 * /ctx (M, W) or (G, M, W) f32, /optim/momentum_buffer (same; absent before the first step),
 * /rng/data_mt (624) i64 holding the u32 words + /rng/data_pos, /data/{epoch, cursor, perm},
 * /config (the resolved YAML). Files are written to a temp name and renamed (io/h5.h), so a kill
 * never leaves a half-written checkpoint. h5py reads them directly.
 */
#ifndef WS_IO_CKPT_H
#define WS_IO_CKPT_H
#include <stdint.h>
#include "core/array.h"
#include "core/rng.h"

#define WS_CKPT_FORMAT 1
enum { WS_CKPT_ARCH_N = 8 };   /* text width, embed dim, vision width, vision layers, G, M, csc, front */

typedef struct ws_ckpt {
    int64_t format_version;
    char task[16];                 /* "cls" or "seg" */
    int64_t arch[WS_CKPT_ARCH_N];
    int64_t iteration;             /* completed iterations */
    int64_t seed;                  /* run seed */
    ws_array ctx;                  /* f32 */
    ws_array momentum;             /* f32, or ndim 0 / NULL data when absent */
    ws_rng data_rng;               /* the data-order generator */
    int64_t epoch, cursor;         /* position in the epoch permutation */
    ws_array perm;                 /* (n) i64 current epoch's image order */
    char *config;                  /* resolved config text (malloc'd) */
} ws_ckpt;

/* Writes c as a wsseed HDF5 checkpoint at path, atomically and durably (temp file, fsync,
 * rename); c is only read. Fails naming the file and the cause. */
int ws_ckpt_write(const char *path, const ws_ckpt *c);
/* Reads a checkpoint; fails naming the file and the dataset when it is not a wsseed checkpoint,
 * is truncated, or has another format version. */
int ws_ckpt_read(const char *path, ws_ckpt *c);
/* Frees what ws_ckpt_read allocated; a zeroed checkpoint is a no-op. */
void ws_ckpt_free(ws_ckpt *c);
/* Why c cannot continue a run of task/arch (a message in ws_last_error), or 0. */
int ws_ckpt_check(const ws_ckpt *c, const char *path, const char *task, const int64_t *arch);
#endif

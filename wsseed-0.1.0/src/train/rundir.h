/* rundir.h - private to src/train/: what a run writes to <out_dir>/<run>/ - train.log,
 * config.yaml and build.txt (the resolved settings and the build), metrics.csv (one row per
 * iteration) and checkpoints/ (start.h5, iter-NNNNNN.h5, final.h5) - and resuming from them.
 */
#ifndef WS_TRAIN_RUNDIR_H
#define WS_TRAIN_RUNDIR_H
#include <stddef.h>

typedef struct ws_trainer ws_trainer;

/* Logs one line to stderr (ws_log) and, when open, to train.log. */
void ws_train_log(ws_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes config.yaml and build.txt (each through a temp file and a rename). Fails naming the file. */
int ws_train_write_run_files(ws_trainer *t);
/* Opens metrics.csv into t->csv (closed by ws_train_state_free), keeping the rows of iterations
 * <= t->it (those after it were from a killed run). Fails naming the file. */
int ws_train_open_metrics(ws_trainer *t);
/* Writes checkpoints/<name>: ctx, momentum, iteration, and the loader state t->snap. Fails
 * naming the file. */
int ws_train_save(ws_trainer *t, const char *name);
/* The newest checkpoint of the run into out ("" when none): final.h5, else the highest iter-*.h5. */
void ws_train_newest_ckpt(const ws_trainer *t, char *out, size_t cap);
/* Restores ctx, momentum, iteration and the loader's position from checkpoint `path`. Fails
 * naming the file when it was written for another task, architecture or split. */
int ws_train_resume(ws_trainer *t, const char *path);
#endif

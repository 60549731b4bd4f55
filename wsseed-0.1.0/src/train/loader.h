/* loader.h - private to src/train/: the training batches. The image order of each epoch (a
 * permutation drawn from the run's data generator, drop_last), per-sample augmentation seeds
 * derived from (seed, epoch, position) so results do not depend on the worker count, worker
 * threads that decode and augment, and the prefetch of the next batch during a step.
 */
#ifndef WS_TRAIN_LOADER_H
#define WS_TRAIN_LOADER_H
#include <pthread.h>
#include <stdint.h>
#include "core/rng.h"

typedef struct ws_trainer ws_trainer;

/* Where the loader is in the data; a checkpoint stores it so a resumed run sees the same batches. */
typedef struct ws_train_order {
    int64_t epoch;      /* epochs begun - 1 */
    int64_t cursor;     /* next position in perm */
    int64_t *perm;      /* (n) i64 this epoch's image order (owned by the trainer) */
    ws_rng rng;         /* data_rng: draws each epoch's permutation */
} ws_train_order;

/* One batch, allocated once and refilled every iteration (two of them: one in use, one loading). */
typedef struct ws_batch {
    int B, C, n_fg, want_map;
    float *images;      /* (B, 3, C, C) */
    uint8_t *maps;      /* (B, C, C) */
    uint8_t *fg;        /* (B, n_fg) image labels */
    uint8_t *ol;        /* (B, n_fg) classes in the cropped map */
    int64_t *index;     /* [B] dataset indices */
    uint32_t *seeds;    /* [B] augmentation seeds */
    float *trunk;       /* (B, T, Wv) cached trunk outputs (feature cache), or NULL */
} ws_batch;

/* A batch being loaded in a thread while the step computes. */
typedef struct ws_prefetch {
    ws_trainer *t;
    ws_batch *b;
    pthread_t th;
    int started, rc;
    char msg[1024];     /* the loader's error message (ws_last_error is per thread) */
} ws_prefetch;

/* Opens t->ds from the data.* settings; fails naming the split when it has fewer images than a
 * batch, or the missing seed folder of the seg task. The dataset is freed by ws_train_state_free. */
int ws_train_open_data(ws_trainer *t);
/* Allocates t->ord.perm and t->snap.perm (freed by ws_train_state_free), seeds the data generator
 * with train.seed and draws epoch 0's order. Fails only when out of memory. */
int ws_train_order_start(ws_trainer *t);
/* Draws the next epoch's permutation into t->ord.perm and rewinds the cursor. */
void ws_train_new_epoch(ws_trainer *t);
/* Copies the loader's position t->ord into t->snap (what a checkpoint after this batch records). */
void ws_train_order_snapshot(ws_trainer *t);
/* Allocates b for train.batch crops of t (with a trunk buffer when the feature cache is used);
 * free with ws_train_batch_free, also after a failure. Fails only when out of memory. */
int ws_train_batch_alloc(const ws_trainer *t, ws_batch *b);
void ws_train_batch_free(ws_batch *b);   /* a zeroed batch is a no-op */
/* Fills b with the next batch (advancing the epoch permutation, drop_last): decoded and augmented
 * by runtime.workers threads, or read from the feature cache. Fails naming the image at fault. */
int ws_train_next_batch(ws_trainer *t, ws_batch *b);
/* Starts loading the next batch into b in a thread (in this thread when none starts). */
void ws_train_prefetch_begin(ws_trainer *t, ws_batch *b, ws_prefetch *pf);
/* Waits for pf's batch. Returns rc when it is non-zero (the step's error wins), else 0 or the
 * loader's error (its message restored in this thread). */
int ws_train_prefetch_end(ws_prefetch *pf, int rc);
#endif

/* cache.h - private to src/train/: the opt-in feature cache (train.feature_cache). The frozen
 * trunk's output for K augmented views per image, computed once (resumable, through the per-image
 * parts of io/store.h) and read back instead of decoding, augmenting and running CLIP's image
 * trunk at every iteration. Exact in float32 (cache_fp16 halves the disk and is not exact).
 */
#ifndef WS_TRAIN_CACHE_H
#define WS_TRAIN_CACHE_H
#include <stdint.h>
#include "io/h5.h"

typedef struct ws_trainer ws_trainer;
typedef struct ws_batch ws_batch;

/* The open, complete cache of a run. */
typedef struct ws_train_cache {
    ws_h5file f;        /* the merged store, read-only */
    int T, W;           /* per view: (T, W) trunk tokens x width, or (1, E) embeddings */
    int gh, gw;         /* the patch grid of the trunk */
    int emb;            /* no Grad-CAM in this task: the cache holds image embeddings (K, E) */
} ws_train_cache;

/* Builds what is missing of t's feature cache (all images of the split), then opens it into
 * t->cache (closed by ws_train_state_free). Fails when the store was written with other settings
 * (model, images, augmentation, views, seed: the message says so), or when incomplete. */
int ws_train_cache_prepare(ws_trainer *t);
/* Sample k of b from the cache: image b->index[k] at epoch position pos, its view drawn from
 * (seed, epoch, pos). Fails naming the dataset whose shape does not match the cache's. */
int ws_train_cache_load(ws_trainer *t, ws_batch *b, int k, int64_t pos);
#endif

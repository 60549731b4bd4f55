/* trainer.h - private to src/train/ (not installed): the state of one training run, shared by
 * train.c (build and the loop), loader.c (batches), cache.c (feature cache) and rundir.c (run
 * files, checkpoints). Every field is owned by the trainer and released by ws_train_state_free.
 */
#ifndef WS_TRAIN_TRAINER_H
#define WS_TRAIN_TRAINER_H
#include <stdint.h>
#include <stdio.h>
#include "data/dataset.h"
#include "io/ckpt.h"
#include "method/prompt.h"
#include "train/cache.h"
#include "train/loader.h"
#include "train/optim.h"
#include "train/rundir.h"
#include "train/train.h"

struct ws_trainer {
    const ws_train_cfg *c;                  /* borrowed settings */
    int seg;                                /* seg task: seeds as maps, CAM loss */
    int n_fg;                               /* 20 (VOC) or 80 (COCO) */
    char dir[2 * WS_CFG_STR_MAX + 8];       /* <out_dir>/<run> */
    ws_clip m;                              /* frozen CLIP */
    ws_bpe bpe;
    ws_prompt p;                            /* the learner: p.ctx is the only trainable tensor */
    ws_dataset ds;
    ws_sgd sgd;
    ws_lr_sched sched;
    int64_t it;                             /* completed iterations */
    int64_t arch[WS_CKPT_ARCH_N];           /* what a checkpoint must match to resume */
    ws_train_order ord;                     /* the loader's position (ahead by the prefetched batch) */
    ws_train_order snap;                    /* the position after the batch in use: checkpoints */
    ws_train_cache cache;                   /* the feature cache, when train.feature_cache is set */
    FILE *log, *csv;                        /* train.log, metrics.csv */
    int lock;                               /* fd + 1 of <dir>/.lock (rank 0), 0 = none */
    char *config_text;                      /* the resolved config.yaml */
};

/* Opens CLIP, the tokenizer and the prompt learner of t->c and fills t->n_fg and t->arch (ctx
 * zero). On failure the parts built so far are left for ws_train_state_free. */
int ws_train_setup_model(ws_trainer *t);
/* Releases everything t owns (files closed, memory freed); a zeroed trainer is a no-op. */
void ws_train_state_free(ws_trainer *t);
#endif

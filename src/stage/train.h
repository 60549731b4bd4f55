/* train.h (stage) - the train stage: one prompt-training run (the loop is src/train/), and the
 * synthetic dataset writer the demo trains on. */
#ifndef WS_STAGE_TRAIN_H
#define WS_STAGE_TRAIN_H
#include <stdint.h>
#include "train/train.h"

typedef struct ws_train_settings {
    ws_train_cfg cfg;      /* the run (YAML keys of configs/voc/{cls,seg}.yaml) */
    const char *resume;    /* NULL: fresh run; "auto": the run's newest checkpoint; or a checkpoint */
} ws_train_settings;

/* Runs or resumes the training s describes with runtime.threads libtorch threads. */
int ws_stage_train(const ws_train_settings *s);

typedef struct ws_synth_settings {
    const char *dir;       /* output root (VOC layout) */
    int n, min_side, max_side, n_classes;
    const char *names;     /* NULL, or a custom dataset's classes "a,b,c" (entries as data.classes'); sets n_classes */
    uint32_t seed;
    int force;             /* write into a folder that is not empty */
} ws_synth_settings;

/* Writes the synthetic VOC-layout dataset s describes (see ws_synth_voc); with names, a custom
 * dataset with classes.txt and labels.txt, its names checked as data.classes' are. A folder that is
 * not empty is refused (its split files would be replaced) unless force, or unless it holds only an
 * interrupted synth (ws_synth_interrupted), which is written again. */
int ws_stage_synth(const ws_synth_settings *s);
#endif

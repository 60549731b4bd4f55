/* train.c (stage) - the train stage (see stage/train.h): the runtime around one training run.
 *
 * Owns nothing but the runtime (threads, device, precision): the loop, its checkpoints and its resume rules live in
 * src/train/. ws_stage_synth is here so that the synthetic dataset writer is reachable as a stage
 * (the pipeline and `wsseed train --synth`) without the command layer including data/.
 */
#include "stage/train.h"

#include "data/dataset.h"
#include "stage/runtime.h"

int ws_stage_train(const ws_train_settings *s)
{
    int rc = ws_stage_set_runtime(&s->cfg.runtime);
    return rc ? rc : ws_train_run(&s->cfg, s->resume);
}

int ws_stage_synth(const ws_synth_settings *s)
{
    return ws_synth_voc(s->dir, s->n, s->min_side, s->max_side, s->n_classes, s->seed);
}

/* train.c (stage) - the train stage (see stage/train.h): the runtime around one training run.
 *
 * Owns nothing but the runtime (threads, device, precision): the loop, its checkpoints and its resume rules live in
 * src/train/. ws_stage_synth is here so that the synthetic dataset writer is reachable as a stage
 * (the pipeline and `wsseed train --synth`) without the command layer including data/.
 */
#define _POSIX_C_SOURCE 200809L
#include "stage/train.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "stage/runtime.h"

int ws_stage_train(const ws_train_settings *s)
{
    int rc = ws_stage_set_runtime(&s->cfg.runtime);
    return rc ? rc : ws_train_run(&s->cfg, s->resume);
}

/* 1 if dir is missing or holds nothing */
static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    while (d && empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    if (d) closedir(d);
    return empty;
}

int ws_stage_synth(const ws_synth_settings *s)
{
    /* An interrupted synth (killed, a full disk) is written again, as the pipeline's data.synth does: the
     * images are the same for the same seed. */
    if (!s->force && !dir_empty(s->dir) && !ws_synth_interrupted(s->dir))
        return ws_fail(WS_EINVAL, "%s is not empty: its split files would be replaced; give --force to write into it "
                                  "anyway, or choose a new folder", s->dir);
    if (!s->names) return ws_synth_voc(s->dir, s->n, s->min_side, s->max_side, s->n_classes, NULL, s->seed);
    /* The comma list becomes the '\n'-joined form of data.classes, so the names pass the same checks as a
     * config's (no "background", no duplicates, <= 254) before anything is written. */
    char *list = strdup(s->names);
    ws_classes cl;
    if (!list) return ws_fail(WS_ENOMEM, "out of memory");
    for (char *p = list; *p; p++)
        if (*p == ',') *p = '\n';
    int rc = ws_classes_load(&cl, "custom", list, NULL);
    const char **entries = rc ? NULL : malloc((size_t)cl.n_fg * sizeof *entries);
    if (!rc && !entries) rc = ws_fail(WS_ENOMEM, "out of memory");
    /* a prompt name travels with its class into classes.txt */
    char **full = rc ? NULL : calloc((size_t)cl.n_fg, sizeof *full);
    if (!rc && !full) rc = ws_fail(WS_ENOMEM, "out of memory");
    for (int c = 0; !rc && c < cl.n_fg; c++) {
        size_t n = strlen(cl.label[c + 1]) + strlen(cl.prompt[c]) + 3;
        if (!(full[c] = malloc(n))) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        if (strcmp(cl.label[c + 1], cl.prompt[c])) snprintf(full[c], n, "%s: %s", cl.label[c + 1], cl.prompt[c]);
        else snprintf(full[c], n, "%s", cl.label[c + 1]);
        entries[c] = full[c];
    }
    if (!rc) rc = ws_synth_voc(s->dir, s->n, s->min_side, s->max_side, cl.n_fg, entries, s->seed);
    for (int c = 0; full && c < cl.n_fg; c++) free(full[c]);
    free(full);
    free(entries);
    ws_classes_free(&cl);
    free(list);
    return rc;
}

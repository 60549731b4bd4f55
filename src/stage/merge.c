/* merge.c - the merge stage (see merge.h): seed-002's SAM-enhanced pseudo-labels, i.e. the
 * released merge/max_iou_imp2.py rule applied to a folder of label maps of any CAM method and a
 * mask store of the same images.
 *
 * Owns the per-image body and the parsing of the rule names. Resume is by file: the output PNGs
 * land atomically, so one that exists is complete and skipped.
 */
#include "stage/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "shim/rank.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/store.h"
#include "method/merge.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* The per-image body: label map + masks -> merged map. */
static int merge_image(const ws_merge_settings *s, const char *id, const uint8_t *pal)
{
    char path[4096];
    uint8_t *lb = NULL, *out = NULL;
    int64_t *vals = NULL, *offs = NULL, *claimed = NULL;
    ws_mask_set ms = {0};
    int w = 0, h = 0, rc;
    snprintf(path, sizeof path, "%s/%s.png", s->labels, id);
    /* Read as palette indices, not colours: the label maps of CAM methods are "P" PNGs whose values are the
     * classes (PIL's convention), whatever their palette. */
    TRY(ws_png_read_index(path, &lb, &w, &h));
    if ((rc = ws_store_read(s->masks, id, &ms))) {
        if (rc != WS_ESHAPE)   /* a corrupt record (ESHAPE) is named as such by the reader */
            rc = ws_fail(rc, "no SAM masks for image %s in %s (%s)", id, s->masks, ws_last_error());
        goto cleanup;
    }
    /* Label maps and masks come from separate runs: a size mismatch means they are of different images (or a
     * resized label set), and merging would paint masks at the wrong place. */
    if (ms.H != h || ms.W != w) { rc = ws_fail(WS_ESHAPE, "%s is %dx%d but its masks are %dx%d", path, w, h, ms.W, ms.H); goto cleanup; }
    claimed = malloc((size_t)(ms.n ? ms.n : 1) * sizeof *claimed);
    out = malloc((size_t)w * h);
    if (!claimed || !out) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    TRY(ws_mask_set_flatten(&ms, &vals, &offs, NULL));
    TRY(ws_merge(lb, h, w, s->n_fg, vals, offs, ms.n, s->method, s->assign, out, claimed));
    snprintf(path, sizeof path, "%s/%s.png", s->out, id);
    rc = ws_png_write_u8(path, out, w, h, pal);
cleanup:
    ws_mask_set_free(&ms);
    free(lb); free(out); free(vals); free(offs); free(claimed);
    return rc;
}

/* The names are the released main.py's --method values; "first" (a mask goes to the first class in VOC order
 * that claims it) is the released behaviour, "argmax" the documented alternative of the spec (method-sam-
 * enhanced-labels.md). */
int ws_merge_rule(ws_merge_settings *s, const char *method, const char *assign)
{
    s->method = !strcmp(method, "max_iou_imp2") ? WS_MERGE_MAX_IOU_IMP2 : !strcmp(method, "max_iou_imp") ? WS_MERGE_MAX_IOU_IMP
              : !strcmp(method, "max_iou") ? WS_MERGE_MAX_IOU : -1;
    s->assign = !strcmp(assign, "first") ? WS_ASSIGN_FIRST : !strcmp(assign, "argmax") ? WS_ASSIGN_ARGMAX : -1;
    if (s->method < 0) return ws_fail(WS_EINVAL, "merge method '%s': use max_iou_imp2, max_iou_imp or max_iou", method);
    if (s->assign < 0) return ws_fail(WS_EINVAL, "merge assignment '%s': use first or argmax", assign);
    return 0;
}

int ws_stage_merge(const ws_merge_settings *s)
{
    char **ids = NULL, path[4096];
    int n = 0, rc;
    uint8_t pal[768];
    ws_voc_palette(pal);
    /* The work list is the label folder, not a split: merge post-processes whatever another method produced. */
    TRY(ws_fs_list_ids(s->labels, ".png", &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no PNG", s->labels); goto cleanup; }
    TRY(ws_mkdir_p(s->out));
    ws_progress pg;
    int share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    ws_progress_start(&pg, "merge", (n - share_i + share_n - 1) / share_n);
    for (int i = share_i; i < n && !rc; i += share_n) {
        snprintf(path, sizeof path, "%s/%s.png", s->out, ids[i]);
        if (access(path, F_OK)) rc = merge_image(s, ids[i], pal);
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    /* every rank's PNGs are there before any rank says done */
    TRY(ws_rank_agree(rc, "merge"));
    if (ws_rank_id() == 0) ws_log("done: %d merged label maps in %s", n, s->out);   /* said once */
cleanup:
    ws_fs_ids_free(ids, n);
    return rc;
}

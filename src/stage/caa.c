/* caa.c - the CAA stage (see caa.h): FMA-WSSS's class-aware attention-based affinity over a CAM
 * store, into a new CAM store of the same layout (io/camstore.h).
 *
 * Owns the per-image body and the output store's settings text. Resumable: each image becomes its
 * own atomic part and stored images are skipped; the input store is only read.
 */
#include "stage/caa.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/status.h"
#include "io/camstore.h"
#include "io/store_ranks.h"
#include "shim/rank.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* The per-image body: image id of the open store `in` refined into a part of st. */
static int caa_image(const ws_h5file *in, ws_store *st, const char *id, const ws_caa_cfg *cfg)
{
    ws_cam_rec r = {0};
    float *res = NULL;
    int rc;
    TRY(ws_camstore_read(in, id, 1, &r));
    if (!(res = malloc((size_t)(r.P ? r.P : 1) * r.h * r.w * sizeof *res))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    /* An image with no foreground class (P = 0) has nothing to refine but is still stored, so that the output
     * store holds every id of the input and can be completed. */
    if (r.P) TRY(ws_caa_run(cfg, r.att, r.cam, r.P, r.h, r.w, res, NULL, NULL));
    /* the refined store keeps everything but the attention, which only CAA needs */
    ws_cam_rec out = r;
    out.cam = res;
    out.att = NULL;
    rc = ws_camstore_put(st, id, &out);
cleanup:
    ws_cam_rec_free(&r);
    free(res);
    return rc;
}

int ws_caa_check(const ws_caa_cfg *c)
{
    /* the box threshold cuts the min-max normalised score, which lies in [0, 1]: outside, every box is
     * empty or the whole image */
    if (!(c->box_thresh >= 0 && c->box_thresh <= 1))
        return ws_fail(WS_EINVAL, "CAA box threshold (--box_thresh, caa.cls/seg.box_thresh): %g is not in [0, 1]", c->box_thresh);
    if (c->power < 1 || c->power > 64)
        return ws_fail(WS_EINVAL, "CAA power (--power, caa.cls/seg.power): %d is not in 1..64", c->power);
    if (c->sinkhorn_iters < 0 || c->sinkhorn_iters > 1000)
        return ws_fail(WS_EINVAL, "CAA Sinkhorn iterations (--sinkhorn, caa.cls/seg.sinkhorn): %d is not in 0..1000",
                       c->sinkhorn_iters);
    return 0;
}

int ws_stage_caa(const ws_caa_settings *s)
{
    const ws_caa_cfg *cfg = &s->caa;
    int rc0 = ws_caa_check(cfg);
    if (rc0) return rc0;
    char settings[8192];
    /* The input path is part of the settings: parts refined from another CAM store must not be mixed into
     * this one (ws_store_open_write refuses them). */
    snprintf(settings, sizeof settings, "caa: from %s, sinkhorn %d, power %d, box %.6g, at %s", s->in, cfg->sinkhorn_iters,
             cfg->power, cfg->box_thresh, cfg->at_cam ? "cam" : "score");
    ws_h5file in = {0};
    ws_store st = {0};
    char **ids = NULL;
    unsigned char *mine = NULL;   /* mine[i]: image i is this rank's and not refined yet */
    int n = 0, complete = 0, todo = 0, rc;
    /* The work list is the ids of the input store, not a dataset split: CAA needs nothing but the CAMs and
     * their attention. */
    TRY(ws_camstore_ids(s->in, &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no CAMs (is `wsseed cam` finished?)", s->in); goto cleanup; }
    TRY(ws_h5_open(&in, s->in));
    TRY(ws_camstore_open_write(&st, s->out, settings));
    ws_progress pg;
    int share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    if (!(mine = ws_store_todo(&st, ids, n, share_i, share_n, &todo))) TRY(ws_fail(WS_ENOMEM, "out of memory"));
    ws_progress_start(&pg, "caa", todo);   /* the work left: a resumed run's ETA is not skewed by what is done */
    for (int i = share_i; i < n && !rc; i += share_n) {
        if (!mine[i] || ws_store_has(&st, ids[i])) continue;   /* stored meanwhile by another run: skipped */
        if (!(rc = caa_image(&in, &st, ids[i], cfg))) ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    TRY(ws_store_finish_ranks(&st, ids, n, rc, "caa", &complete));
    if (ws_rank_id() == 0) ws_log("done: %s", s->out);   /* the job's result, said once */
cleanup:
    free(mine);
    ws_store_close(&st);
    ws_h5_close(&in);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

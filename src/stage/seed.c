/* seed.c - the seed stage (see seed.h): FMA-WSSS's SAMS (SAM-based seeding) of a CAM store and a
 * mask store into one palette PNG of class indices per image.
 *
 * Owns the per-image body. The output is a folder of PNGs rather than a store because training
 * and evaluation read label maps the way the official code does (PIL "P" images whose pixel values
 * are class indices: 0 background, c + 1 for foreground class c); resume is by file: a PNG that
 * exists is complete.
 */
#include "stage/seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "shim/rank.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/camstore.h"
#include "method/sams.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* The per-image body: CAMs upsampled to the image, one class (or background) per SAM mask. */
static int seed_image(const ws_h5file *in, const ws_seed_settings *s, const char *id, const uint8_t *pal)
{
    ws_cam_rec r = {0};
    ws_mask_set ms = {0};
    float *up = NULL;
    uint8_t *seed = NULL;
    int64_t *vals = NULL, *offs = NULL, *lev = NULL;
    char path[4096];
    int rc;
    /* 0: without the attention, which SAMS does not need and which is the largest field of a record. */
    TRY(ws_camstore_read(in, id, 0, &r));
    if ((rc = ws_store_read(s->masks, id, &ms))) {
        if (rc != WS_ESHAPE)   /* a corrupt record (ESHAPE) is named as such by the reader */
            rc = ws_fail(rc, "no SAM masks for image %s in %s: run `wsseed masks` on this split first (%s)", id,
                         s->masks, ws_last_error());
        goto cleanup;
    }
    const int P = r.P, H = (int)r.H, W = (int)r.W;
    /* The two stores are made by separate stages and can come from different datasets: a size mismatch means
     * the masks belong to other images, which would silently give wrong seeds. */
    if (ms.H != H || ms.W != W) {
        rc = ws_fail(WS_ESHAPE, "image %s: masks are %dx%d, the CAM store says %dx%d", id, ms.W, ms.H, W, H);
        goto cleanup;
    }
    up = malloc((size_t)(P ? P : 1) * H * W * sizeof *up);
    seed = malloc((size_t)H * W);
    if (!up || !seed) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    TRY(ws_mask_set_flatten(&ms, &vals, &offs, &lev));
    /* The CAMs are stored at the patch grid; SAMS upsamples them bilinearly to the original image
     * (the official seed_anns' resize_cam_cuda) and then votes per mask at full resolution. */
    if (P) TRY(ws_cam_upsample(r.cam, P, r.h, r.w, H, W, up));
    TRY(ws_sams_seed(up, P, H, W, r.fg_cls, vals, offs, lev, ms.n, s->pow, seed, NULL));
    snprintf(path, sizeof path, "%s/%s.png", s->out, id);
    rc = ws_png_write_u8(path, seed, W, H, pal);
cleanup:
    ws_cam_rec_free(&r);
    ws_mask_set_free(&ms);
    free(up); free(seed); free(vals); free(offs); free(lev);
    return rc;
}

int ws_seed_check(const ws_seed_settings *s)
{
    if (!(s->pow > 0 && s->pow <= 100))
        return ws_fail(WS_EINVAL, "seed background power (--pow, seed.cls_pow / seed.seg_pow): %g is not in (0, 100]", s->pow);
    return 0;
}

int ws_stage_seed(const ws_seed_settings *s)
{
    ws_h5file in = {0};
    char **ids = NULL, path[4096];
    int n = 0, rc;
    uint8_t pal[768];
    /* The VOC palette makes the PNGs viewable; readers (PIL, mmsegmentation) take the pixel values as class
     * indices regardless of colour. */
    ws_voc_palette(pal);
    TRY(ws_seed_check(s));
    TRY(ws_camstore_ids(s->cams, &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no CAMs", s->cams); goto cleanup; }
    TRY(ws_h5_open(&in, s->cams));
    TRY(ws_mkdir_p(s->out));
    ws_progress pg;
    int share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    ws_progress_start(&pg, "seed", (n - share_i + share_n - 1) / share_n);
    for (int i = share_i; i < n && !rc; i += share_n) {
        /* a PNG lands atomically, so one that exists is complete: skip it */
        snprintf(path, sizeof path, "%s/%s.png", s->out, ids[i]);
        if (access(path, F_OK)) rc = seed_image(&in, s, ids[i], pal);
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    /* every rank's PNGs are there before any rank says done */
    TRY(ws_rank_agree(rc, "seed"));
    if (ws_rank_id() == 0) ws_log("done: %d seeds in %s", n, s->out);   /* said once */
cleanup:
    ws_h5_close(&in);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

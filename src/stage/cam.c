/* cam.c - the CAM stage (see cam.h): FMA-WSSS's infer_cam over a split with trained prompts.
 *
 * Owns the per-image body (image -> Grad-CAM + attention -> one record of io/camstore.h) and the
 * store's settings text. Resumable like every store: each image is its own atomic part, images
 * already stored are skipped, and the store file is assembled when the split is complete.
 */
#include "stage/cam.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/status.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "io/camstore.h"
#include "io/store_ranks.h"
#include "shim/rank.h"
#include "method/infer.h"
#include "method/prompt_build.h"
#include "stage/imagecheck.h"
#include "stage/runtime.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* FMA-WSSS averages the attention of the last 8 blocks for CAA (infer_cam's att_layers). */
#define CAM_ATT_LAYERS 8

/* The per-image body: image i of ds -> its CAM record in st. */
static int cam_image(const ws_clip *m, const ws_prompt *p, const ws_dataset *ds, int i, int n_fg, ws_store *st)
{
    ws_image img = {0};
    ws_cam_result r = {0};
    uint8_t fg[256];
    int rc = ws_dataset_read(ds, i, &img, NULL, fg, 0);
    if (!rc) rc = ws_fma_infer(m, p, img.rgb, img.h, img.w, fg, n_fg, CAM_ATT_LAYERS, &r);
    if (!rc) {
        ws_cam_rec rec = {.P = r.P, .h = r.gh, .w = r.gw, .n_cls = r.n_fg, .H = img.h, .W = img.w, .cam = r.cam,
                          .fg_cls = r.fg_cls, .fg_logit = r.fg_logit, .all_logit = r.all_logit, .att = r.att};
        rc = ws_camstore_put(st, ds->ids[i], &rec);
    }
    /* A failure deep in CLIP (an allocation, a libtorch error) otherwise reaches the user without the image. */
    if (rc && img.rgb) ws_fail_ctx(rc, "image %s (%dx%d)", ds->ids[i], img.w, img.h);
    ws_cam_result_free(&r);
    ws_image_free(&img);
    return rc;
}

/* The CLIP input of infer_cam (each side up to a multiple of the patch size) and one layer's attention
 * probabilities over its patches (heads x (1 + patches)^2 floats), the step that grows with the square of
 * the image area. */
static void cam_need(const void *ctx, int w, int h, int *ow, int *oh, double *bytes)
{
    const ws_clip *m = ctx;
    *oh = ws_aug_ceil_to(h, m->patch_size);
    *ow = ws_aug_ceil_to(w, m->patch_size);
    const double tokens = 1.0 + (double)(*oh / m->patch_size) * (*ow / m->patch_size);
    *bytes = 4.0 * m->vision_heads * tokens * tokens;
}

/* The images still to do in this rank's share (todo), checked by their headers before the first is
 * computed (imagecheck.h). */
static int check_todo(const ws_clip *m, const ws_dataset *ds, const unsigned char *todo)
{
    const ws_image_need need = {.input = "CLIP's input (sides rounded up to the patch size)",
                                .step = "CLIP's attention over its patches", .advice = "leave them out of the split",
                                .fn = cam_need, .ctx = m};
    return ws_stage_check_dataset(ds, todo, &need);
}

int ws_stage_cam(const ws_cam_settings *s)
{
    const ws_train_cfg *c = &s->train;
    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_prompt p = {0};
    ws_dataset ds = {0};
    ws_store st = {0};
    char settings[8 * WS_CFG_STR_MAX];
    int n_fg = 0, rc, done = 0, complete = 0;
    unsigned char *mine = NULL;   /* mine[i]: image i is this rank's and not stored yet */
    TRY(ws_stage_set_runtime(&c->runtime));
    TRY(ws_prompt_open(&c->prompt, c->model.clip, c->model.vocab, &c->data, &m, &bpe, &p, &n_fg));
    /* Only the learned context vectors come from the checkpoint: CLIP stays the frozen model.clip, so a
     * checkpoint is small and cannot silently swap the backbone. */
    TRY(ws_prompt_load_ctx(&p, s->ckpt));
    /* The image-level labels are read (fg) because infer_cam makes CAMs only for the classes present in the
     * image, as the official code does on the training split. */
    ws_dataset_spec spec = {.root = c->data.root, .split = c->data.split, .image_dir = c->data.image_dir, .label_dir = c->data.label_dir,
                            .split_file = c->data.split_file, .labels_file = c->data.labels_file, .image_ext = ".jpg", .n_fg = n_fg};
    TRY(ws_dataset_open(&ds, &spec));
    /* the store refuses to mix CAMs of other prompts or another split */
    snprintf(settings, sizeof settings, "cam: ckpt %s, clip %s, task %s, prompts %d x %d ctx (csc %d, %s), dataset %s/%s",
             s->ckpt, c->model.clip, c->task, p.n_cls, c->prompt.n_ctx, c->prompt.csc, c->prompt.cls_token_pos, c->data.root, c->data.split);
    TRY(ws_camstore_open_write(&st, s->out, settings));
    /* Counted before the loop so that the log and the progress bar show the work left, not the split's size,
     * on a resumed run. */
    int todo = 0, share_i, share_n;   /* this rank's share: images share_i, share_i + share_n, ... */
    ws_rank_share(0, 1, &share_i, &share_n);
    if (!(mine = ws_store_todo(&st, ds.ids, ds.n, share_i, share_n, &todo))) TRY(ws_fail(WS_ENOMEM, "out of memory"));
    TRY(check_todo(&m, &ds, mine));
    const int share = (ds.n - share_i + share_n - 1) / share_n;   /* images of this rank */
    ws_log("CAMs of %d images of %s/%s (%d done before) -> %s", todo, c->data.root, c->data.split, share - todo, s->out);
    ws_progress pg;
    ws_progress_start(&pg, "cam", s->max_images >= 0 && s->max_images < todo ? s->max_images : todo);
    for (int i = 0; i < ds.n && (s->max_images < 0 || done < s->max_images); i++) {
        if (!mine[i] || ws_store_has(&st, ds.ids[i])) continue;   /* stored meanwhile by another run on the same store: skipped */
        if ((rc = cam_image(&m, &p, &ds, i, n_fg, &st))) break;
        done++;
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    /* With max_images the store stays incomplete (parts only) and the message says so; a later run without
     * the bound finishes it. */
    TRY(ws_store_finish_ranks(&st, ds.ids, ds.n, rc, "cam", &complete));
    if (ws_rank_id() == 0)   /* the job's result, said once (every rank knows it) */
        ws_log(complete ? "done: %s" : "stopped: %s is incomplete; run the command again to continue", s->out);
cleanup:
    free(mine);
    ws_store_close(&st);
    ws_dataset_close(&ds);
    ws_prompt_free(&p);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return rc;
}

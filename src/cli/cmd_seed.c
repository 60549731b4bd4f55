/* cmd_seed.c - the seed stages as commands: `wsseed cam` (CAM inference into an HDF5 CAM store),
 * `wsseed caa` (refined CAM store), `wsseed seed` (SAMS seeds as palette PNGs), `wsseed merge`
 * (seed-002: a label folder + the mask store) and `wsseed eval` (mIoU against ground truth).
 *
 * CAM store (h5py-readable): /cams/<id>/{cam (P, h, w) f32, fg_cls (P) i64, fg_logit (P) f32,
 * all_logit (C) f32, att (hw, hw) f16 (CAM stores only), image_hw (2) i64}; root attributes
 * `format` and `settings`; written through per-image parts like the mask store (resumable).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/array.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/store.h"
#include "method/caa.h"
#include "method/evaluate.h"
#include "method/infer.h"
#include "method/merge.h"
#include "method/prompt_build.h"
#include "method/sams.h"
#include "train/settings.h"

#define CAM_FORMAT "wsseed-cams-1"
#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

static int put(ws_h5file *f, const char *id, const char *name, int dt, int nd, const int64_t *s, const void *d)
{
    char p[512];
    snprintf(p, sizeof p, "/cams/%s/%s", id, name);
    return ws_h5_write_raw(f, p, dt, nd, s, d);
}

static int get(const ws_h5file *f, const char *id, const char *name, int dt, ws_array *a)
{
    char p[512];
    snprintf(p, sizeof p, "/cams/%s/%s", id, name);
    return ws_h5_read(f, p, dt, a);
}

/* ---- wsseed cam ---------------------------------------------------------------------------- */

static int cam_write(ws_store *st, const char *id, const ws_cam_result *r, int H, int W)
{
    ws_h5file f;
    int rc = ws_store_part_begin(st, id, &f);
    if (rc) return rc;
    const int64_t hw = (int64_t)r->gh * r->gw, cs[3] = {r->P, r->gh, r->gw}, p1[1] = {r->P}, c1[1] = {r->n_fg},
                  as[2] = {hw, hw}, is[1] = {2}, ihw[2] = {H, W};
    uint16_t *a16 = r->att ? malloc((size_t)(hw * hw) * sizeof *a16) : NULL;
    for (int64_t i = 0; a16 && i < hw * hw; i++) a16[i] = ws_f32_to_f16(r->att[i]);
    TRY(put(&f, id, "cam", WS_F32, 3, cs, r->cam));
    TRY(put(&f, id, "fg_cls", WS_I64, 1, p1, r->fg_cls));
    TRY(put(&f, id, "fg_logit", WS_F32, 1, p1, r->fg_logit));
    TRY(put(&f, id, "all_logit", WS_F32, 1, c1, r->all_logit));
    TRY(put(&f, id, "image_hw", WS_I64, 1, is, ihw));
    if (a16) TRY(put(&f, id, "att", WS_F16, 2, as, a16));
    free(a16);
    return ws_store_part_commit(&f);
cleanup:
    free(a16);
    ws_h5_close(&f);
    return rc;
}

int ws_cli_cam(const ws_train_cfg *c, const char *ckpt, const char *out, long max_images)
{
    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_prompt p = {0};
    ws_dataset ds = {0};
    ws_store st = {0};
    char settings[8 * WS_CFG_STR_MAX];
    int n_fg = 0, rc, done = 0, complete = 0;
    TRY(ws_prompt_open(&c->prompt, c->clip, c->vocab, c->dataset, &m, &bpe, &p, &n_fg));
    TRY(ws_prompt_load_ctx(&p, ckpt));
    ws_dataset_spec s = {.root = c->root, .split = c->split, .image_dir = c->image_dir, .label_dir = c->label_dir,
                         .split_file = c->split_file, .labels_file = c->labels_file, .image_ext = ".jpg", .n_fg = n_fg};
    TRY(ws_dataset_open(&ds, &s));
    snprintf(settings, sizeof settings, "cam: ckpt %s, clip %s, task %s, prompts %d x %d ctx (csc %d, %s), dataset %s/%s",
             ckpt, c->clip, c->task, p.n_cls, c->prompt.n_ctx, c->prompt.csc, c->prompt.cls_token_pos, c->root, c->split);
    TRY(ws_store_open_write_as(&st, out, settings, "cams", CAM_FORMAT));
    int todo = 0;
    for (int i = 0; i < ds.n; i++) todo += !ws_store_has(&st, ds.ids[i]);
    ws_log("CAMs of %d images of %s/%s (%d done before) -> %s", todo, c->root, c->split, ds.n - todo, out);
    ws_progress pg;
    ws_progress_start(&pg, "cam", max_images >= 0 && max_images < todo ? max_images : todo);
    uint8_t fg[80];
    for (int i = 0; i < ds.n && (max_images < 0 || done < max_images); i++) {
        if (ws_store_has(&st, ds.ids[i])) continue;
        ws_image img = {0};
        ws_cam_result r = {0};
        rc = ws_dataset_read(&ds, i, &img, NULL, fg, 0);
        if (!rc) rc = ws_fma_infer(&m, &p, img.rgb, img.h, img.w, fg, n_fg, 8, &r);
        if (!rc) rc = cam_write(&st, ds.ids[i], &r, img.h, img.w);
        ws_cam_result_free(&r);
        ws_image_free(&img);
        if (rc) goto cleanup;
        done++;
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    TRY(ws_store_finish(&st, ds.ids, ds.n, &complete));
    ws_log(complete ? "done: %s" : "stopped: %s is incomplete; run the command again to continue", out);
cleanup:
    ws_store_close(&st);
    ws_dataset_close(&ds);
    ws_prompt_free(&p);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return rc;
}

int ws_cmd_cam(int argc, char **argv)
{
    ws_train_cfg c;
    const char *config = NULL, *ckpt = NULL, *out = NULL;
    long max_images = -1;
    ws_train_defaults(&c);
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-')) { config = argv[i]; break; }
    if (config && ws_cfg_load(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, &c, config)) return ws_cli_error();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed cam TRAIN_CONFIG.yaml --ckpt CKPT [--out STORE.h5] [--set key=value]... [--max-images N]\n\n"
                 "CAM inference (FMA-WSSS infer_cam): every image of data.split, resized with PIL bicubic to\n"
                 "multiples of 16, softmax Grad-CAM of its ground-truth classes with the prompts of CKPT (a\n"
                 "wsseed .h5 checkpoint or a .pth with prompt_learner.ctx; the prompt layout comes from the\n"
                 "training config), and the mean attention of the last 8 blocks. Output: an HDF5 CAM store\n"
                 "(default experiments/<run>/cams/<split>.h5), resumable: run again to continue.");
            return 0;
        }
        if (o == config) continue;
        if (!strcmp(o, "--set") && i + 1 < argc) {
            if (ws_cfg_set(WS_TRAIN_KEYS, WS_TRAIN_NKEYS, &c, argv[++i])) return ws_cli_error();
        } else if (!strcmp(o, "--ckpt") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(o, "--max-images") && i + 1 < argc) max_images = atol(argv[++i]);
        else { fprintf(stderr, "wsseed cam: unknown option '%s' (see wsseed cam --help)\n", o); return 2; }
    }
    if (!config || !ckpt) { fprintf(stderr, "wsseed cam: a training config and --ckpt are required\n"); return 2; }
    char def[4 * WS_CFG_STR_MAX];
    if (!out) {
        snprintf(def, sizeof def, "%s/%s/cams/%s.h5", c.out_dir, c.run, c.split);
        out = def;
    }
    ws_at_set_num_threads(c.threads);
    return ws_cli_cam(&c, ckpt, out, max_images) ? ws_cli_error() : 0;
}

/* ---- wsseed caa ---------------------------------------------------------------------------- */

static int caa_one(const ws_h5file *in, ws_store *st, const char *id, const ws_caa_cfg *cfg)
{
    ws_array cam = {0}, att = {0}, fg = {0}, hw = {0}, fl = {0}, al = {0};
    float *res = NULL;
    ws_h5file f = {0};
    int rc;
    TRY(get(in, id, "cam", WS_F32, &cam));
    TRY(get(in, id, "att", WS_F32, &att));
    TRY(get(in, id, "fg_cls", WS_I64, &fg));
    TRY(get(in, id, "image_hw", WS_I64, &hw));
    TRY(get(in, id, "fg_logit", WS_F32, &fl));
    TRY(get(in, id, "all_logit", WS_F32, &al));
    const int P = (int)cam.shape[0], h = (int)cam.shape[1], w = (int)cam.shape[2];
    if (att.ndim != 2 || att.shape[0] != (int64_t)h * w) {
        rc = ws_fail(WS_ESHAPE, "%s: /cams/%s/att does not match its %dx%d cam", in->path, id, h, w);
        goto cleanup;
    }
    if (!(res = malloc((size_t)(P ? P : 1) * h * w * sizeof *res))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    if (P) TRY(ws_caa_run(cfg, att.data, cam.data, P, h, w, res, NULL, NULL));
    TRY(ws_store_part_begin(st, id, &f));
    TRY(put(&f, id, "cam", WS_F32, 3, cam.shape, res));
    TRY(put(&f, id, "fg_cls", WS_I64, 1, fg.shape, fg.data));
    TRY(put(&f, id, "fg_logit", WS_F32, 1, fl.shape, fl.data));
    TRY(put(&f, id, "all_logit", WS_F32, 1, al.shape, al.data));
    TRY(put(&f, id, "image_hw", WS_I64, 1, hw.shape, hw.data));
    rc = ws_store_part_commit(&f);
cleanup:
    ws_h5_close(&f);
    ws_array_free(&cam); ws_array_free(&att); ws_array_free(&fg);
    ws_array_free(&hw); ws_array_free(&fl); ws_array_free(&al);
    free(res);
    return rc;
}

int ws_cmd_caa(int argc, char **argv)
{
    const char *in_path = NULL, *out = NULL, *task = "cls", *at = NULL;
    double thresh = -1;
    int power = -1, sink = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed caa CAMS.h5 [--task cls|seg] [--out OUT.h5] [--box-thresh T] [--power K]\n"
                 "                 [--sinkhorn N] [--at score|cam]\n\n"
                 "Class-aware attention affinity refinement of a CAM store (FMA-WSSS CAA). --task picks the\n"
                 "official settings: cls = 1 Sinkhorn iteration, power 2, box threshold 0.4, propagate the\n"
                 "score; seg = the same with threshold 0.5, propagating the raw CAM. The options override\n"
                 "them. Output (default CAMS_caa.h5): a CAM store of refined CAMs; resumable.");
            return 0;
        }
        if (!strcmp(o, "--task") && i + 1 < argc) task = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(o, "--box-thresh") && i + 1 < argc) thresh = atof(argv[++i]);
        else if (!strcmp(o, "--power") && i + 1 < argc) power = atoi(argv[++i]);
        else if (!strcmp(o, "--sinkhorn") && i + 1 < argc) sink = atoi(argv[++i]);
        else if (!strcmp(o, "--at") && i + 1 < argc) at = argv[++i];
        else if (o[0] != '-' && !in_path) in_path = o;
        else { fprintf(stderr, "wsseed caa: unknown option '%s' (see wsseed caa --help)\n", o); return 2; }
    }
    if (!in_path || (strcmp(task, "cls") && strcmp(task, "seg")) || (at && strcmp(at, "score") && strcmp(at, "cam"))) {
        fprintf(stderr, "wsseed caa: need CAMS.h5; --task cls|seg; --at score|cam\n");
        return 2;
    }
    ws_caa_cfg cfg;
    ws_caa_cfg_fma(&cfg, !strcmp(task, "seg"));
    if (thresh >= 0) cfg.box_thresh = thresh;
    if (power >= 1) cfg.power = power;
    if (sink >= 0) cfg.sinkhorn_iters = sink;
    if (at) cfg.at_cam = !strcmp(at, "cam");
    char def[4096];
    if (!out) {
        size_t n = strlen(in_path);
        snprintf(def, sizeof def, "%.*s_caa.h5", (int)(n > 3 && !strcmp(in_path + n - 3, ".h5") ? n - 3 : n), in_path);
        out = def;
    }
    return ws_cli_caa(in_path, out, &cfg) ? ws_cli_error() : 0;
}

int ws_cli_caa(const char *in_path, const char *out, const void *caa_cfg)
{
    const ws_caa_cfg *c = caa_cfg;
    ws_caa_cfg cfg = *c;
    char settings[8192];
    snprintf(settings, sizeof settings, "caa: from %s, sinkhorn %d, power %d, box %.6g, at %s", in_path,
             cfg.sinkhorn_iters, cfg.power, cfg.box_thresh, cfg.at_cam ? "cam" : "score");
    ws_h5file in = {0};
    ws_store st = {0};
    char **ids = NULL;
    int n = 0, complete = 0, rc;
    TRY(ws_store_ids_in(in_path, "cams", &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no CAMs (is `wsseed cam` finished?)", in_path); goto cleanup; }
    TRY(ws_h5_open(&in, in_path));
    TRY(ws_store_open_write_as(&st, out, settings, "cams", CAM_FORMAT));
    ws_progress pg;
    ws_progress_start(&pg, "caa", n);
    for (int i = 0; i < n; i++) {
        if (!ws_store_has(&st, ids[i])) TRY(caa_one(&in, &st, ids[i], &cfg));
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    TRY(ws_store_finish(&st, ids, n, &complete));
    ws_log("done: %s", out);
cleanup:
    ws_store_close(&st);
    ws_h5_close(&in);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

/* ---- wsseed seed ------------------------------------------------------------------------- */

static int seed_one(const ws_h5file *in, const char *masks, const char *id, double pw, const char *dir,
                    const uint8_t *pal)
{
    ws_array cam = {0}, fg = {0}, hw = {0};
    ws_mask_set ms = {0};
    float *up = NULL;
    uint8_t *seed = NULL;
    int64_t *vals = NULL, *offs = NULL, *lev = NULL;
    char path[4096];
    int rc;
    TRY(get(in, id, "cam", WS_F32, &cam));
    TRY(get(in, id, "fg_cls", WS_I64, &fg));
    TRY(get(in, id, "image_hw", WS_I64, &hw));
    if ((rc = ws_store_read(masks, id, &ms))) {
        rc = ws_fail(rc, "no SAM masks for image %s in %s: run `wsseed masks` on this split first (%s)", id, masks,
                     ws_last_error());
        goto cleanup;
    }
    const int P = (int)cam.shape[0], H = (int)((int64_t *)hw.data)[0], W = (int)((int64_t *)hw.data)[1];
    if (ms.H != H || ms.W != W) {
        rc = ws_fail(WS_ESHAPE, "image %s: masks are %dx%d, the CAM store says %dx%d", id, ms.W, ms.H, W, H);
        goto cleanup;
    }
    int64_t total = 0;
    for (int s = 0; s < ms.n; s++) total += ms.r[s].n_rle;
    up = malloc((size_t)(P ? P : 1) * H * W * sizeof *up);
    seed = malloc((size_t)H * W);
    vals = malloc((size_t)(total ? total : 1) * sizeof *vals);
    offs = malloc((size_t)(ms.n + 1) * sizeof *offs);
    lev = malloc((size_t)(ms.n ? ms.n : 1) * sizeof *lev);
    if (!up || !seed || !vals || !offs || !lev) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    offs[0] = 0;
    for (int s = 0; s < ms.n; s++) {
        memcpy(vals + offs[s], ms.r[s].rle, (size_t)ms.r[s].n_rle * sizeof *vals);
        offs[s + 1] = offs[s] + ms.r[s].n_rle;
        lev[s] = ms.r[s].level;
    }
    if (P) TRY(ws_cam_upsample(cam.data, P, (int)cam.shape[1], (int)cam.shape[2], H, W, up));
    TRY(ws_sams_seed(up, P, H, W, fg.data, vals, offs, lev, ms.n, pw, seed, NULL));
    snprintf(path, sizeof path, "%s/%s.png", dir, id);
    rc = ws_png_write_u8(path, seed, W, H, pal);
cleanup:
    ws_array_free(&cam); ws_array_free(&fg); ws_array_free(&hw);
    ws_mask_set_free(&ms);
    free(up); free(seed); free(vals); free(offs); free(lev);
    return rc;
}

int ws_cmd_seed(int argc, char **argv)
{
    const char *cams = NULL, *masks = NULL, *dir = NULL;
    double pw = 0.6;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed seed CAMS.h5 --masks MASKS.h5 --out DIR [--pow P]\n\n"
                 "SAMS seeds (FMA-WSSS gather_norm_bg_argmax): each SAM mask takes the class with the\n"
                 "highest min-max normalised mean CAM, or background with score (1 - max)^P (0.6 for\n"
                 "coarse, 0.7 for fine seeds); masks are painted by level, then confidence. Writes\n"
                 "DIR/<id>.png: 8-bit palette PNGs at image size, values 0..C (PIL and mmsegmentation read\n"
                 "them as class indices). Images already in DIR are skipped.");
            return 0;
        }
        if (!strcmp(o, "--masks") && i + 1 < argc) masks = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(o, "--pow") && i + 1 < argc) pw = atof(argv[++i]);
        else if (o[0] != '-' && !cams) cams = o;
        else { fprintf(stderr, "wsseed seed: unknown option '%s' (see wsseed seed --help)\n", o); return 2; }
    }
    if (!cams || !masks || !dir) { fprintf(stderr, "wsseed seed: CAMS.h5, --masks and --out are required\n"); return 2; }
    return ws_cli_seed(cams, masks, dir, pw) ? ws_cli_error() : 0;
}

int ws_cli_seed(const char *cams, const char *masks, const char *dir, double pw)
{
    ws_h5file in = {0};
    char **ids = NULL, path[4096];
    int n = 0, rc;
    uint8_t pal[768];
    ws_voc_palette(pal);
    TRY(ws_store_ids_in(cams, "cams", &ids, &n));
    if (!n) { rc = ws_fail(WS_EINVAL, "%s holds no CAMs", cams); goto cleanup; }
    TRY(ws_h5_open(&in, cams));
    TRY(ws_mkdir_p(dir));
    ws_progress pg;
    ws_progress_start(&pg, "seed", n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.png", dir, ids[i]);
        if (access(path, F_OK)) TRY(seed_one(&in, masks, ids[i], pw, dir, pal));
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    ws_log("done: %d seeds in %s", n, dir);
cleanup:
    ws_h5_close(&in);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

/* ---- shared: ids of the PNGs of a folder -------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int png_ids(const char *dir, char ***ids, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int cap = 0;
    *ids = NULL;
    *n = 0;
    if (!d) return ws_fail(WS_EIO, "cannot open folder %s", dir);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".png")) continue;
        if (*n == cap) {
            char **t = realloc(*ids, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *t);
            if (!t) { closedir(d); return ws_fail(WS_ENOMEM, "out of memory"); }
            *ids = t;
        }
        (*ids)[(*n)++] = strndup(e->d_name, l - 4);
    }
    closedir(d);
    if (*n) qsort(*ids, (size_t)*n, sizeof **ids, cmp_str);
    return *n ? 0 : ws_fail(WS_EINVAL, "%s holds no PNG", dir);
}

/* ---- wsseed merge ------------------------------------------------------------------------ */

static int merge_one(const char *labels, const char *masks, const char *id, const char *dir, int method, int assign,
                     const uint8_t *pal)
{
    char path[4096];
    uint8_t *lb = NULL, *out = NULL;
    int64_t *vals = NULL, *offs = NULL, *claimed = NULL, total = 0;
    ws_mask_set ms = {0};
    int w = 0, h = 0, rc;
    snprintf(path, sizeof path, "%s/%s.png", labels, id);
    TRY(ws_png_read_index(path, &lb, &w, &h));
    if ((rc = ws_store_read(masks, id, &ms))) {
        rc = ws_fail(rc, "no SAM masks for image %s in %s (%s)", id, masks, ws_last_error());
        goto cleanup;
    }
    if (ms.H != h || ms.W != w) { rc = ws_fail(WS_ESHAPE, "%s is %dx%d but its masks are %dx%d", path, w, h, ms.W, ms.H); goto cleanup; }
    for (int s = 0; s < ms.n; s++) total += ms.r[s].n_rle;
    vals = malloc((size_t)(total ? total : 1) * sizeof *vals);
    offs = malloc((size_t)(ms.n + 1) * sizeof *offs);
    claimed = malloc((size_t)(ms.n ? ms.n : 1) * sizeof *claimed);
    out = malloc((size_t)w * h);
    if (!vals || !offs || !claimed || !out) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    offs[0] = 0;
    for (int s = 0; s < ms.n; s++) {
        memcpy(vals + offs[s], ms.r[s].rle, (size_t)ms.r[s].n_rle * sizeof *vals);
        offs[s + 1] = offs[s] + ms.r[s].n_rle;
    }
    TRY(ws_merge(lb, h, w, 20, vals, offs, ms.n, method, assign, out, claimed));
    snprintf(path, sizeof path, "%s/%s.png", dir, id);
    rc = ws_png_write_u8(path, out, w, h, pal);
cleanup:
    ws_mask_set_free(&ms);
    free(lb); free(out); free(vals); free(offs); free(claimed);
    return rc;
}

int ws_cmd_merge(int argc, char **argv)
{
    const char *labels = NULL, *masks = NULL, *dir = NULL, *method = "max_iou_imp2", *assign = "first";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed merge LABEL_DIR --masks MASKS.h5 --out DIR [--method max_iou_imp2|max_iou_imp|max_iou]\n"
                 "                    [--assign first|argmax]\n\n"
                 "SAM-enhanced pseudo-labels (seed-002): every label map LABEL_DIR/<id>.png (any CAM method's\n"
                 "labels, classes 1..20) merged with the image's SAM masks. max_iou_imp2 + first is the released\n"
                 "rule (mask > 50 % inside a class, or covering >= 85 % of it; CAM pixels kept where no unclaimed\n"
                 "mask lies); --assign argmax gives each mask only to its largest-overlap class (the paper's\n"
                 "description). Writes DIR/<id>.png (palette); existing outputs are skipped.");
            return 0;
        }
        if (!strcmp(o, "--masks") && i + 1 < argc) masks = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(o, "--method") && i + 1 < argc) method = argv[++i];
        else if (!strcmp(o, "--assign") && i + 1 < argc) assign = argv[++i];
        else if (o[0] != '-' && !labels) labels = o;
        else { fprintf(stderr, "wsseed merge: unknown option '%s' (see wsseed merge --help)\n", o); return 2; }
    }
    int mt = !strcmp(method, "max_iou_imp2") ? WS_MERGE_MAX_IOU_IMP2 : !strcmp(method, "max_iou_imp") ? WS_MERGE_MAX_IOU_IMP
           : !strcmp(method, "max_iou") ? WS_MERGE_MAX_IOU : -1;
    int as = !strcmp(assign, "first") ? WS_ASSIGN_FIRST : !strcmp(assign, "argmax") ? WS_ASSIGN_ARGMAX : -1;
    if (!labels || !masks || !dir || mt < 0 || as < 0) {
        fprintf(stderr, "wsseed merge: LABEL_DIR, --masks and --out are required; see --help for --method/--assign\n");
        return 2;
    }
    char **ids = NULL, path[4096];
    int n = 0, rc;
    uint8_t pal[768];
    ws_voc_palette(pal);
    TRY(png_ids(labels, &ids, &n));
    TRY(ws_mkdir_p(dir));
    ws_progress pg;
    ws_progress_start(&pg, "merge", n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.png", dir, ids[i]);
        if (access(path, F_OK)) TRY(merge_one(labels, masks, ids[i], dir, mt, as, pal));
        ws_progress_step(&pg, 1, NULL);
    }
    ws_progress_end(&pg);
    ws_log("done: %d merged label maps in %s", n, dir);
cleanup:
    ws_h5_strings_free(ids, (size_t)n);
    return rc ? ws_cli_error() : 0;
}

/* ---- wsseed eval ------------------------------------------------------------------------- */

static const char *VOC_CLASSES[21] = {"background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
                                      "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
                                      "pottedplant", "sheep", "sofa", "train", "tvmonitor"};

/* A JSON number, or null for NaN (absent classes). */
static const char *jnum(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "null");
    else snprintf(buf, cap, "%.10g", v);
    return buf;
}

static int write_reports(const ws_eval_metrics *m, int nc, int n_img, const char *json, const char *md)
{
    FILE *f;
    char tmp[4200];
    if (json) snprintf(tmp, sizeof tmp, "%s.tmp", json);
    if (json && (f = fopen(tmp, "w"))) {
        char a[32], b[32], c3[32];
        fprintf(f, "{\"images\": %d, \"mIoU\": %s, \"accuracy\": %s, \"classes\": [", n_img, jnum(a, sizeof a, m->miou),
                jnum(b, sizeof b, m->accuracy));
        for (int c = 0; c < nc; c++)
            fprintf(f, "%s{\"class\": %d, \"name\": \"%s\", \"IoU\": %s, \"precision\": %s, \"recall\": %s, \"valid\": %d}",
                    c ? ", " : "", c, nc == 21 ? VOC_CLASSES[c] : "", jnum(a, sizeof a, m->iou[c]),
                    jnum(b, sizeof b, m->precision[c]), jnum(c3, sizeof c3, m->recall[c]), m->valid[c]);
        fputs("]}\n", f);
        if (fclose(f) || rename(tmp, json)) return ws_fail(WS_EIO, "cannot write %s", json);
    } else if (json) return ws_fail(WS_EIO, "cannot write %s", tmp);
    if (md && (f = fopen(md, "w"))) {
        fprintf(f, "| class | IoU | precision | recall |\n|---|---:|---:|---:|\n");
        for (int c = 0; c < nc; c++)
            if (m->valid[c] || !isnan(m->iou[c]))
                fprintf(f, "| %s | %.2f | %.2f | %.2f |\n", nc == 21 ? VOC_CLASSES[c] : "", 100 * m->iou[c],
                        100 * m->precision[c], 100 * m->recall[c]);
        fprintf(f, "| **mIoU** | **%.2f** | | |\n", 100 * m->miou);
        if (fclose(f)) return ws_fail(WS_EIO, "cannot write %s", md);
    } else if (md) return ws_fail(WS_EIO, "cannot write %s", md);
    return 0;
}

int ws_cmd_eval(int argc, char **argv)
{
    const char *pred = NULL, *gt = NULL, *json = NULL, *md = NULL, *labels = NULL;
    int nc = 21;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts("Usage: wsseed eval PRED_DIR --gt GT_DIR [--classes N] [--json FILE] [--md FILE]\n"
                 "       wsseed eval --labels BOXES.h5 [--json FILE]\n\n"
                 "Seed quality: a dataset-level confusion matrix of every PRED_DIR/<id>.png against\n"
                 "GT_DIR/<id>.png (255 ignored), per-class IoU, precision and recall, mIoU over the classes\n"
                 "present in the ground truth (AlchemyCat SegmentationMetric). N = 21 for VOC.\n"
                 "--labels: the image labels of a `wsseed boxes` store (zero-shot CLIP, or a detector's JSON)\n"
                 "against the ground-truth labels: micro precision, recall, F1, exact label sets, per-class counts.");
            return 0;
        }
        if (!strcmp(o, "--gt") && i + 1 < argc) gt = argv[++i];
        else if (!strcmp(o, "--labels") && i + 1 < argc) labels = argv[++i];
        else if (!strcmp(o, "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(o, "--md") && i + 1 < argc) md = argv[++i];
        else if (!strcmp(o, "--classes") && i + 1 < argc) nc = atoi(argv[++i]);
        else if (o[0] != '-' && !pred) pred = o;
        else { fprintf(stderr, "wsseed eval: unknown option '%s' (see wsseed eval --help)\n", o); return 2; }
    }
    if (labels && !pred) return ws_cli_eval_labels(labels, json, NULL) ? ws_cli_error() : 0;
    if (!pred || !gt || nc < 2 || nc > 255) { fprintf(stderr, "wsseed eval: PRED_DIR and --gt (or --labels) are required\n"); return 2; }
    return ws_cli_eval(pred, gt, nc, json, md, NULL, 0) ? ws_cli_error() : 0;
}

int ws_cli_eval(const char *pred, const char *gt, int nc, const char *json, const char *md, ws_eval_metrics *out, int quiet)
{
    char **ids = NULL, path[4096];
    int n = 0, rc;
    int64_t *conf = calloc((size_t)nc * nc, sizeof *conf);
    if (!conf) return ws_fail(WS_ENOMEM, "out of memory");
    TRY(png_ids(pred, &ids, &n));
    for (int i = 0; i < n; i++) {
        uint8_t *p = NULL, *g = NULL;
        int pw, ph, gw, gh;
        snprintf(path, sizeof path, "%s/%s.png", pred, ids[i]);
        rc = ws_png_read_index(path, &p, &pw, &ph);
        snprintf(path, sizeof path, "%s/%s.png", gt, ids[i]);
        if (!rc) rc = ws_png_read_index(path, &g, &gw, &gh);
        if (!rc && (pw != gw || ph != gh)) rc = ws_fail(WS_ESHAPE, "%s is %dx%d, its prediction %dx%d", path, gw, gh, pw, ph);
        if (!rc && (rc = ws_eval_add(conf, nc, p, g, (size_t)gw * gh))) rc = ws_fail(rc, "%s/%s.png: %s", pred, ids[i], ws_last_error());
        free(p);
        free(g);
        if (rc) goto cleanup;
    }
    ws_eval_metrics m;
    ws_eval_metrics_of(conf, nc, &m);
    if (out) *out = m;
    if (!quiet) {
        printf("%-14s %7s %9s %7s\n", "class", "IoU", "precision", "recall");
        for (int c = 0; c < nc; c++)
            if (m.valid[c] || !isnan(m.iou[c]))
                printf("%-14s %7.2f %9.2f %7.2f\n", nc == 21 ? VOC_CLASSES[c] : "", 100 * m.iou[c], 100 * m.precision[c],
                       100 * m.recall[c]);
        printf("mIoU %.2f over %d images (pixel accuracy %.2f)\n", 100 * m.miou, n, 100 * m.accuracy);
    }
    rc = write_reports(&m, nc, n, json, md);
cleanup:
    free(conf);
    ws_h5_strings_free(ids, (size_t)n);
    return rc;
}

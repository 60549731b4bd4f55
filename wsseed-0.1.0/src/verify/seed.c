/* seed.c - `wsseed dump caa|sams|merge|eval`: the seed stages of seed_ref.h5.
 *
 * caa:   /input/caa/<case>/{att, cam} -> /caa/<case>/{score, aff, aff_pow, <task>/...}, one
 *        <task> per /caa/<case>/<task> group of the input, at its attributes aff_at,
 *        box_thresh, sinkhorn_n_iter and matrix_power (aff and aff_pow at the first task's).
 * sams:  /input/sams/<case>/{cam, fg_cls, image_hw, rle_*, area, level} -> /sams/<case>/...
 *        one pow_<p> group per /sams/<case>/pow_<p> group of the input, at its bg_pow.
 * merge: /input/merge/{label, rle_*} -> /merge/{merged, claimed_by} (released rule).
 * eval:  /input/eval/pairs/<i>/{pred, gt} -> /eval/... (/eval@class_num classes, ignoring
 *        /eval@ignore_label).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "method/caa.h"
#include "method/evaluate.h"
#include "method/merge.h"
#include "method/sams.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

/* Case names below group (the first path component of every dataset). */
static int case_names(const ws_h5file *in, const char *group, char ***names, size_t *n)
{
    char **all = NULL;
    size_t na = 0;
    *names = NULL;
    *n = 0;
    int rc = ws_h5_list(in, group, &all, &na);
    if (rc) return rc;
    char **out = calloc(na ? na : 1, sizeof *out);
    for (size_t i = 0; out && i < na; i++) {
        char *slash = strchr(all[i], '/');
        if (slash) *slash = '\0';
        /* ws_h5_list returns sorted full paths, so a case's datasets are adjacent and one comparison with the
         * previous name removes duplicates. */
        if (*n && !strcmp(out[*n - 1], all[i])) continue;
        out[(*n)++] = strdup(all[i]);
    }
    ws_h5_strings_free(all, na);
    *names = out;
    return out ? 0 : ws_fail(WS_ENOMEM, "out of memory");
}

static int write(ws_h5file *f, const char *fmt, const char *a, const char *b, int dt, int nd, const int64_t *s,
                 const void *d)
{
    char p[512];
    snprintf(p, sizeof p, fmt, a, b);
    return ws_h5_write_raw(f, p, dt, nd, s, d);
}

/* The CAA settings of /caa/<case>/<task> (attributes aff_at = score|cam, box_thresh,
 * sinkhorn_n_iter, matrix_power). */
static int caa_settings(const ws_h5file *in, const char *grp, ws_caa_cfg *c)
{
    char at[16] = "";
    long it = 0, pw = 0;
    int rc = ws_h5_attr_string(in, grp, "aff_at", at, sizeof at);
    if (!rc) rc = ws_verify_attr_num(in, grp, "box_thresh", 0, 0, &c->box_thresh);
    if (!rc) rc = ws_verify_attr_int(in, grp, "sinkhorn_n_iter", 0, 0, &it);
    if (!rc) rc = ws_verify_attr_int(in, grp, "matrix_power", 0, 0, &pw);
    if (rc) return rc;
    if (strcmp(at, "score") && strcmp(at, "cam"))
        return ws_fail(WS_EFORMAT, "%s: %s@aff_at is '%s'; expected 'score' or 'cam'", in->path, grp, at);
    /* Power 0 would make the affinity the identity and CAA a no-op: refused as a malformed case rather than
     * silently compared. */
    if (pw < 1) return ws_fail(WS_EFORMAT, "%s: %s@matrix_power = %ld must be >= 1", in->path, grp, pw);
    c->at_cam = !strcmp(at, "cam");
    c->sinkhorn_iters = (int)it;
    c->power = (int)pw;
    return 0;
}

static int caa_case(const ws_h5file *in, ws_h5file *out, const char *name)
{
    char p[512];
    ws_array att = {0}, cam = {0};
    float *score = NULL, *W = NULL, *T = NULL, *res = NULL;
    uint8_t *box = NULL;
    char **tasks = NULL;
    size_t nt = 0;
    ws_caa_cfg c0;
    int rc;
    snprintf(p, sizeof p, "/caa/%s", name);
    TRY(ws_verify_subgroups(in, p, &tasks, &nt));
    if (!nt) { rc = ws_fail(WS_EFORMAT, "%s: no /caa/%s/<task> group states the CAA settings", in->path, name); goto cleanup; }
    snprintf(p, sizeof p, "/caa/%s/%s", name, tasks[0]);
    /* The task-independent intermediates (score, affinity, its power) are written once, at the first task's
     * settings; each task then gets its own box mask and refined CAM. */
    TRY(caa_settings(in, p, &c0));
    snprintf(p, sizeof p, "/input/caa/%s/att", name);
    TRY(ws_h5_read(in, p, WS_F32, &att));
    snprintf(p, sizeof p, "/input/caa/%s/cam", name);
    TRY(ws_h5_read(in, p, WS_F32, &cam));
    const int P = (int)cam.shape[0], h = (int)cam.shape[1], w = (int)cam.shape[2], n = h * w;
    if (att.ndim != 2 || att.shape[0] != n || att.shape[1] != n) {
        rc = ws_fail(WS_ESHAPE, "%s: /input/caa/%s/att must be (%d, %d) for a %dx%d cam", in->path, name, n, n, h, w);
        goto cleanup;
    }
    score = malloc((size_t)P * n * sizeof *score);
    W = malloc((size_t)n * n * sizeof *W);
    T = malloc((size_t)n * n * sizeof *T);
    res = malloc((size_t)P * n * sizeof *res);
    box = malloc((size_t)P * n);
    if (!score || !W || !T || !res || !box) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    const int64_t s3[3] = {P, h, w}, s2[2] = {n, n};
    /* The steps of FMA-WSSS's CAA one by one (score, Sinkhorn-normalised affinity, matrix power), so a
     * mismatch in the full run can be traced to the step that causes it. */
    ws_caa_score(cam.data, P, n, score);
    ws_caa_affinity(att.data, n, c0.sinkhorn_iters, W);
    TRY(ws_caa_power(W, n, c0.power, T));
    TRY(write(out, "/caa/%s/score%s", name, "", WS_F32, 3, s3, score));
    TRY(write(out, "/caa/%s/aff%s", name, "", WS_F32, 2, s2, W));
    TRY(write(out, "/caa/%s/aff_pow%s", name, "", WS_F32, 2, s2, T));
    for (size_t k = 0; k < nt; k++) {
        ws_caa_cfg c;
        snprintf(p, sizeof p, "/caa/%s/%s", name, tasks[k]);
        TRY(caa_settings(in, p, &c));
        TRY(ws_caa_run(&c, att.data, cam.data, P, h, w, res, NULL, box));
        TRY(write(out, "/caa/%s/%s/box_mask", name, tasks[k], WS_U8, 3, s3, box));
        TRY(write(out, "/caa/%s/%s/cam_affed", name, tasks[k], WS_F32, 3, s3, res));
    }
cleanup:
    ws_h5_strings_free(tasks, nt);
    ws_array_free(&att);
    ws_array_free(&cam);
    free(score); free(W); free(T); free(res); free(box);
    return rc;
}

/* Runs fn on every case below group of the input and commits the output. */
static int dump_cases(const ws_verify_args *a, const char *group,
                      int (*fn)(const ws_h5file *, ws_h5file *, const char *))
{
    ws_h5file in = {0}, out = {0};
    char **names = NULL;
    size_t n = 0;
    int rc;
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_h5_create(&out, a->output));
    TRY(case_names(&in, group, &names, &n));
    for (size_t i = 0; i < n; i++) TRY(fn(&in, &out, names[i]));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_h5_strings_free(names, n);
    ws_h5_close(&out);
    ws_h5_close(&in);
    return rc;
}

int ws_verify_caa(const ws_verify_args *a) { return dump_cases(a, "/input/caa", caa_case); }

/* ---- SAMS ---- */

static int sams_case(const ws_h5file *in, ws_h5file *out, const char *name)
{
    char p[512], **pg = NULL;
    size_t npg = 0;
    double *pows = NULL;
    ws_array cam = {0}, fg = {0}, hw = {0}, vals = {0}, offs = {0}, lev = {0};
    float *up = NULL, *u = NULL, *score = NULL, *conf = NULL;
    int64_t *label = NULL, *order = NULL;
    uint8_t *seed = NULL;
    int rc;
    /* one seed per /sams/<case>/pow_<p> group, at its bg_pow attribute */
    snprintf(p, sizeof p, "/sams/%s", name);
    TRY(ws_verify_subgroups(in, p, &pg, &npg));
    if (!npg) { rc = ws_fail(WS_EFORMAT, "%s: no /sams/%s/pow_<p> group states a background power", in->path, name); goto cleanup; }
    if (!(pows = malloc(npg * sizeof *pows))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (size_t k = 0; k < npg; k++) {
        snprintf(p, sizeof p, "/sams/%s/%s", name, pg[k]);
        TRY(ws_verify_attr_num(in, p, "bg_pow", 0, 0, &pows[k]));
    }
#define IN(ds, dt, arr) snprintf(p, sizeof p, "/input/sams/%s/" ds, name); TRY(ws_h5_read(in, p, dt, arr))
    IN("cam", WS_F32, &cam);
    IN("fg_cls", WS_I64, &fg);
    IN("image_hw", WS_I64, &hw);
    IN("rle_counts_values", WS_I64, &vals);
    IN("rle_counts_offsets", WS_I64, &offs);
    IN("level", WS_I64, &lev);
#undef IN
    const int P = (int)cam.shape[0], h = (int)cam.shape[1], w = (int)cam.shape[2];
    const int H = (int)((int64_t *)hw.data)[0], W = (int)((int64_t *)hw.data)[1], S = (int)lev.shape[0];
    up = malloc((size_t)P * H * W * sizeof *up);
    u = malloc((size_t)P * S * sizeof *u);
    score = malloc((size_t)S * (P + 1) * sizeof *score);
    conf = malloc((size_t)S * sizeof *conf);
    label = malloc((size_t)S * sizeof *label);
    order = malloc((size_t)S * sizeof *order);
    seed = malloc((size_t)H * W);
    if (!up || !u || !score || !conf || !label || !order || !seed) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    /* The upsampled CAM is an output of its own: SAMS's votes are only as exact as this bilinear resize
     * (resize_cam_cuda in the official code). */
    TRY(ws_cam_upsample(cam.data, P, h, w, H, W, up));
    const int64_t s3[3] = {P, H, W}, ps[2] = {P, S}, ss[2] = {S, P + 1}, s1[1] = {S}, hw2[2] = {H, W};
    TRY(write(out, "/sams/%s/cam_upsampled%s", name, "", WS_F32, 3, s3, up));
    for (size_t k = 0; k < npg; k++) {
        ws_sams_out so = {.u = u, .score = score, .label = label, .conf = conf, .order = order};
        const char *grp = pg[k];
        TRY(ws_sams_seed(up, P, H, W, fg.data, vals.data, offs.data, lev.data, S, pows[k], seed, &so));
        /* The per-mask mean of the ReLU'd CAM does not depend on the background power: written once. */
        if (k == 0) TRY(write(out, "/sams/%s/mask_mean_relu_cam%s", name, "", WS_F32, 2, ps, u));
        TRY(write(out, "/sams/%s/%s/score", name, grp, WS_F32, 2, ss, score));
        TRY(write(out, "/sams/%s/%s/label", name, grp, WS_I64, 1, s1, label));
        TRY(write(out, "/sams/%s/%s/conf", name, grp, WS_F32, 1, s1, conf));
        /* The painting order (ascending level, then confidence) decides overlaps; it is compared on its own
         * because two orders can paint the same seed on one image and differ on another. */
        TRY(write(out, "/sams/%s/%s/paint_order", name, grp, WS_I64, 1, s1, order));
        TRY(write(out, "/sams/%s/%s/seed", name, grp, WS_U8, 2, hw2, seed));
    }
cleanup:
    ws_array_free(&cam); ws_array_free(&fg); ws_array_free(&hw);
    ws_array_free(&vals); ws_array_free(&offs); ws_array_free(&lev);
    free(up); free(u); free(score); free(conf); free(label); free(order); free(seed);
    free(pows);
    ws_h5_strings_free(pg, npg);
    return rc;
}

int ws_verify_sams(const ws_verify_args *a) { return dump_cases(a, "/input/sams", sams_case); }

/* ---- merge ---- */

int ws_verify_merge(const ws_verify_args *a)
{
    ws_h5file in = {0}, out = {0};
    ws_array lb = {0}, vals = {0}, offs = {0};
    uint8_t *merged = NULL;
    int64_t *claimed = NULL;
    int rc;
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_h5_read(&in, "/input/merge/label", WS_U8, &lb));
    TRY(ws_h5_read(&in, "/input/merge/rle_counts_values", WS_I64, &vals));
    TRY(ws_h5_read(&in, "/input/merge/rle_counts_offsets", WS_I64, &offs));
    const int H = (int)lb.shape[0], W = (int)lb.shape[1], K = (int)offs.shape[0] - 1;
    merged = malloc((size_t)H * W);
    claimed = malloc((size_t)(K > 0 ? K : 1) * sizeof *claimed);
    if (!merged || !claimed) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    /* The released rule (max_iou_imp2, first claiming class) on VOC's 20 classes: the golden merge case is a
     * VOC label map. claimed_by says which class took each mask, so a difference is traced to the mask. */
    TRY(ws_merge(lb.data, H, W, 20, vals.data, offs.data, K, WS_MERGE_MAX_IOU_IMP2, WS_ASSIGN_FIRST, merged, claimed));
    TRY(ws_h5_create(&out, a->output));
    const int64_t s2[2] = {H, W}, sk[1] = {K};
    TRY(ws_h5_write_raw(&out, "/merge/merged", WS_U8, 2, s2, merged));
    TRY(ws_h5_write_raw(&out, "/merge/claimed_by", WS_I64, 1, sk, claimed));
    TRY(ws_h5_commit(&out));
cleanup:
    ws_array_free(&lb); ws_array_free(&vals); ws_array_free(&offs);
    free(merged); free(claimed);
    ws_h5_close(&out);
    ws_h5_close(&in);
    return rc;
}

/* ---- evaluation ---- */

int ws_verify_eval(const ws_verify_args *a)
{
    ws_h5file in = {0}, out = {0};
    char **names = NULL;
    size_t n = 0;
    int64_t *total = NULL, *conf = NULL;
    long nc = 0, ignore = 0;
    int rc;
    TRY(ws_h5_open(&in, a->input));
    TRY(ws_verify_attr_int(&in, "/eval", "class_num", 0, 0, &nc));
    TRY(ws_verify_attr_int(&in, "/eval", "ignore_label", 0, 0, &ignore));
    /* ws_eval_add skips every gt value >= the class count: that is how the label is ignored */
    if (nc < 1 || nc > 255 || ignore < nc || ignore > 255) {
        rc = ws_fail(WS_EFORMAT, "%s: /eval@class_num = %ld must lie in 1..255 and /eval@ignore_label = %ld in "
                     "class_num..255", in.path, nc, ignore);
        goto cleanup;
    }
    const int64_t cs[2] = {nc, nc}, s1[1] = {nc};
    total = calloc((size_t)(nc * nc), sizeof *total);
    conf = calloc((size_t)(nc * nc), sizeof *conf);
    if (!total || !conf) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    TRY(ws_h5_create(&out, a->output));
    TRY(case_names(&in, "/input/eval/pairs", &names, &n));
    for (size_t i = 0; i < n; i++) {
        char p[512];
        ws_array pr = {0}, gt = {0};
        /* Per-pair matrices as well as the total: the dataset-level metric sums confusion matrices (large
         * images weigh more), and the per-pair ones show which pair differs. */
        memset(conf, 0, (size_t)(nc * nc) * sizeof *conf);
        snprintf(p, sizeof p, "/input/eval/pairs/%s/pred", names[i]);
        rc = ws_h5_read(&in, p, WS_U8, &pr);
        snprintf(p, sizeof p, "/input/eval/pairs/%s/gt", names[i]);
        if (!rc) rc = ws_h5_read(&in, p, WS_U8, &gt);
        if (!rc && ws_array_numel(&pr) != ws_array_numel(&gt)) rc = ws_fail(WS_ESHAPE, "pair %s: pred and gt sizes differ", names[i]);
        if (!rc) rc = ws_eval_add(conf, (int)nc, pr.data, gt.data, (size_t)ws_array_numel(&gt));
        ws_array_free(&pr);
        ws_array_free(&gt);
        if (rc) goto cleanup;
        for (long k = 0; k < nc * nc; k++) total[k] += conf[k];
        TRY(write(&out, "/eval/pairs/%s/conf_matrix%s", names[i], "", WS_I64, 2, cs, conf));
    }
    ws_eval_metrics m;
    ws_eval_metrics_of(total, (int)nc, &m);
    TRY(ws_h5_write_raw(&out, "/eval/conf_matrix", WS_I64, 2, cs, total));
    TRY(ws_h5_write_raw(&out, "/eval/cls_IoU", WS_F64, 1, s1, m.iou));
    TRY(ws_h5_write_raw(&out, "/eval/cls_precision", WS_F64, 1, s1, m.precision));
    TRY(ws_h5_write_raw(&out, "/eval/cls_recall", WS_F64, 1, s1, m.recall));
    TRY(ws_h5_write_raw(&out, "/eval/valid", WS_U8, 1, s1, m.valid));
    TRY(ws_h5_write_raw(&out, "/eval/mIoU", WS_F64, 0, NULL, &m.miou));
    TRY(ws_h5_write_raw(&out, "/eval/accuracy", WS_F64, 0, NULL, &m.accuracy));
    TRY(ws_h5_commit(&out));
cleanup:
    free(total);
    free(conf);
    ws_h5_strings_free(names, n);
    ws_h5_close(&out);
    ws_h5_close(&in);
    return rc;
}

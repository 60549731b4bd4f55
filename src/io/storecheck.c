/* storecheck.c - validation of store records before any reader indexes them (see storecheck.h).
 *
 * A record edited by hand, written by another tool or damaged on disk must stop the command with the
 * store, the image and the fault named: without these checks a run that overruns the image was painted
 * past its buffer by one command and refused by another, and a huge offset surfaced as "out of memory".
 */
#include "io/storecheck.h"

#include <math.h>

#include "core/status.h"

static int bad(const char *path, const char *id, const char *what)
{
    return ws_fail(WS_ESHAPE, "store %s, image %s: %s (the record is corrupt: rerun the stage that wrote it "
                   "into a new store)", path, id, what);
}

static int check_size(const char *path, const char *id, int64_t H, int64_t W)
{
    char m[160];
    if (H >= 1 && W >= 1 && H <= WS_STORE_MAX_SIDE && W <= WS_STORE_MAX_SIDE) return 0;
    snprintf(m, sizeof m, "image size %lldx%lld (W x H) is outside 1..%d", (long long)W, (long long)H, WS_STORE_MAX_SIDE);
    return bad(path, id, m);
}

/* The CSR offsets of n masks over nv values. */
static int check_offsets(const char *path, const char *id, const int64_t *off, int64_t n, int64_t nv)
{
    char m[200];
    if (off[0] != 0) snprintf(m, sizeof m, "rle_counts_offsets starts at %lld, not 0", (long long)off[0]);
    else if (off[n] != nv)
        snprintf(m, sizeof m, "rle_counts_offsets ends at %lld but there are %lld run counts", (long long)off[n], (long long)nv);
    else {
        for (int64_t i = 0; i < n; i++)
            if (off[i + 1] < off[i]) {
                snprintf(m, sizeof m, "rle_counts_offsets decreases at mask %lld (%lld after %lld)", (long long)i,
                         (long long)off[i + 1], (long long)off[i]);
                return bad(path, id, m);
            }
        return 0;
    }
    return bad(path, id, m);
}

/* Each mask's runs: non-negative, covering exactly H*W pixels (the sum cannot overflow: it stops past HW). */
static int check_runs(const char *path, const char *id, const int64_t *vals, const int64_t *off, int64_t n, int64_t HW)
{
    char m[200];
    for (int64_t i = 0; i < n; i++) {
        int64_t sum = 0;
        for (int64_t k = off[i]; k < off[i + 1]; k++) {
            if (vals[k] < 0) {
                snprintf(m, sizeof m, "mask %lld has a negative run length (%lld)", (long long)i, (long long)vals[k]);
                return bad(path, id, m);
            }
            if ((sum += vals[k]) > HW) break;
        }
        if (sum != HW) {
            snprintf(m, sizeof m, "the runs of mask %lld cover %s%lld pixels, the image has %lld", (long long)i,
                     sum > HW ? "more than " : "", (long long)(sum > HW ? HW : sum), (long long)HW);
            return bad(path, id, m);
        }
    }
    return 0;
}

int ws_store_check_masks(const char *path, const char *id, const ws_array a[13])
{
    static const char *names[13] = {"rle_counts_values", "rle_counts_offsets", "size", "area", "bbox", "crop_box",
                                    "level", "predicted_iou", "predicted_iou_thresh", "predicted_iou_nms",
                                    "stability_score", "stability_score_bias", "point_coords"};
    static const int per_mask[13] = {0, 0, 0, 1, 4, 4, 1, 1, 1, 1, 1, 1, 2};
    char m[200];
    if (ws_array_numel(&a[2]) != 2) return bad(path, id, "size is not (H, W)");
    const int64_t H = ((const int64_t *)a[2].data)[0], W = ((const int64_t *)a[2].data)[1];
    int rc = check_size(path, id, H, W);
    if (rc) return rc;
    const int64_t n = ws_array_numel(&a[1]) - 1;
    if (n < 0) return bad(path, id, "rle_counts_offsets is empty (it has one entry more than there are masks)");
    for (int k = 3; k < 13; k++)
        if (ws_array_numel(&a[k]) != per_mask[k] * n) {
            snprintf(m, sizeof m, "%s has %lld entries, %lld masks need %lld", names[k], (long long)ws_array_numel(&a[k]),
                     (long long)n, (long long)(per_mask[k] * n));
            return bad(path, id, m);
        }
    const int64_t *off = a[1].data;
    if ((rc = check_offsets(path, id, off, n, ws_array_numel(&a[0])))) return rc;
    return check_runs(path, id, a[0].data, off, n, H * W);
}

int ws_store_check_cam(const char *path, const char *id, const ws_cam_rec *r)
{
    char m[200];
    int rc = check_size(path, id, r->H, r->W);
    if (rc) return rc;
    if (r->P > 0 && (r->h < 1 || r->w < 1)) {
        snprintf(m, sizeof m, "cam holds %d CAMs on an empty %dx%d grid", r->P, r->w, r->h);
        return bad(path, id, m);
    }
    for (int p = 0; p < r->P; p++)
        if (r->fg_cls[p] < 0 || r->fg_cls[p] >= r->n_cls) {
            snprintf(m, sizeof m, "fg_cls[%d] = %lld is no class index (all_logit scores %d classes)", p,
                     (long long)r->fg_cls[p], r->n_cls);
            return bad(path, id, m);
        }
    return 0;
}

int ws_store_check_boxes(const char *path, const char *id, const ws_box_rec *r)
{
    char m[200];
    int rc = check_size(path, id, r->H, r->W);
    if (rc) return rc;
    for (int i = 0; i < r->n; i++) {
        for (int k = 0; k < 4; k++)
            if (!isfinite(r->xyxy[4 * i + k])) {
                snprintf(m, sizeof m, "box %d has a corner that is not a finite number", i);
                return bad(path, id, m);
            }
        if (r->cls[i] < 0 || r->cls[i] >= (r->labels ? r->n_cls : 255)) {
            snprintf(m, sizeof m, "box %d has class %lld, outside 0..%d", i, (long long)r->cls[i],
                     r->labels ? r->n_cls - 1 : 254);
            return bad(path, id, m);
        }
    }
    return 0;
}

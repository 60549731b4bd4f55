/* boxstore.c - the HDF5 box store (see boxstore.h): typed records over the generic per-image
 * parts of store.c. Owns the record <-> datasets mapping (labels, ground truth, CLIP
 * probabilities, boxes); resume, the settings check and the merge are store.c's.
 */
#include "io/boxstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

void ws_box_rec_free(ws_box_rec *r)
{
    if (!r) return;
    free(r->labels);
    free(r->gt_labels);
    free(r->clip_probs);
    free(r->xyxy);
    free(r->score);
    free(r->cls);
    memset(r, 0, sizeof *r);
}

int ws_boxstore_open_write(ws_store *st, const char *path, const char *settings)
{
    return ws_store_open_write_as(st, path, settings, "boxes", WS_BOX_FORMAT);
}

static int put(ws_h5file *f, const char *id, const char *name, int dt, int nd, const int64_t *s, const void *d)
{
    return ws_store_write_field(f, "boxes", id, name, dt, nd, s, d);
}

int ws_boxstore_put(ws_store *st, const char *id, const ws_box_rec *r)
{
    ws_h5file f;
    int rc = ws_store_part_begin(st, id, &f);
    if (rc) return rc;
    const int64_t c1[1] = {r->n_cls}, p1[1] = {r->n_probs}, n4[2] = {r->n, 4}, n1[1] = {r->n}, two[1] = {2},
                  hw[2] = {r->H, r->W};
    /* HDF5 wants a valid buffer even for an empty dataset */
    float zero4[4] = {0};
    int64_t zero1 = 0;
    TRY(put(&f, id, "labels", WS_U8, 1, c1, r->labels));
    /* Optional fields are left out rather than written as zeros, so a reader can tell "no ground truth" (an
     * unlabelled split) or "no CLIP" (labels.source gt, boxes.json) from a real all-zero vector. */
    if (r->gt_labels) TRY(put(&f, id, "gt_labels", WS_U8, 1, c1, r->gt_labels));
    if (r->clip_probs) TRY(put(&f, id, "clip_probs", WS_F32, 1, p1, r->clip_probs));
    /* An image with no box is stored with (0, 4) arrays, not skipped: its part marks the image as done, so a
     * resume does not run the detector on it again. */
    TRY(put(&f, id, "xyxy", WS_F32, 2, n4, r->n ? r->xyxy : zero4));
    TRY(put(&f, id, "score", WS_F32, 1, n1, r->n ? r->score : zero4));
    TRY(put(&f, id, "cls", WS_I64, 1, n1, r->n ? r->cls : &zero1));
    TRY(put(&f, id, "image_hw", WS_I64, 1, two, hw));
    return ws_store_part_commit(&f);
cleanup:
    ws_h5_close(&f);
    return rc;
}

int ws_boxstore_open(ws_h5file *f, const char *path)
{
    char fmt[64] = "";
    int rc = ws_h5_open(f, path);
    if (rc) return rc;
    /* The store file exists only once every part is merged (store.c), so boxseed cannot seed half a
     * split; the format attribute refuses an HDF5 file of another kind (a mask or CAM store). */
    if (ws_h5_attr_string(f, "/", "format", fmt, sizeof fmt) || strcmp(fmt, WS_BOX_FORMAT)) {
        ws_h5_close(f);
        return ws_fail(WS_EINVAL, "%s is not a complete wsseed box store (run wsseed boxes with this config first)", path);
    }
    return 0;
}

static int get(const ws_h5file *f, const char *id, const char *name, int dt, int nd, ws_array *a)
{
    return ws_store_read_field(f, "boxes", id, name, dt, nd, a);
}

/* The labels (and gt_labels when stored) of image id into r. */
static int read_labels(const ws_h5file *f, const char *id, ws_box_rec *r)
{
    ws_array a = {0}, b = {0};
    char p[512];
    int rc = get(f, id, "labels", WS_U8, 1, &a);
    if (rc) return rc;
    r->labels = a.data;
    r->n_cls = (int)a.shape[0];
    snprintf(p, sizeof p, "/boxes/%s/gt_labels", id);
    if (!ws_h5_exists(f, p)) return 0;
    if ((rc = get(f, id, "gt_labels", WS_U8, 1, &b))) return rc;
    r->gt_labels = b.data;
    if (b.shape[0] != r->n_cls) return ws_fail(WS_ESHAPE, "%s: image %s: label sizes differ", f->path, id);
    return 0;
}

int ws_boxstore_read(const ws_h5file *f, const char *id, int want_labels, ws_box_rec *r)
{
    ws_array xy = {0}, sc = {0}, cl = {0}, hw = {0};
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = get(f, id, "xyxy", WS_F32, 2, &xy))) {
        rc = ws_fail(rc, "image %s has no boxes in %s (was wsseed boxes run on this split?)", id, f->path);
        goto cleanup;
    }
    r->xyxy = xy.data;
    r->n = (int)xy.shape[0];
    TRY(get(f, id, "score", WS_F32, 1, &sc));
    r->score = sc.data;
    TRY(get(f, id, "cls", WS_I64, 1, &cl));
    r->cls = cl.data;
    TRY(get(f, id, "image_hw", WS_I64, 1, &hw));
    /* Checked once here so boxseed and eval can index the arrays by box without checks of their own. */
    if (xy.shape[1] != 4 || sc.shape[0] != r->n || cl.shape[0] != r->n || hw.shape[0] != 2) {
        rc = ws_fail(WS_ESHAPE, "%s: image %s: xyxy, score, cls and image_hw do not agree", f->path, id);
        goto cleanup;
    }
    r->H = ((int64_t *)hw.data)[0];
    r->W = ((int64_t *)hw.data)[1];
    if (want_labels) TRY(read_labels(f, id, r));
cleanup:
    ws_array_free(&hw);
    if (rc) ws_box_rec_free(r);
    return rc;
}

int ws_boxstore_ids(const char *path, char ***ids, int *n)
{
    return ws_store_ids_in(path, "boxes", ids, n);
}

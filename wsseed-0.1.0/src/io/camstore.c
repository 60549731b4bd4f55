/* camstore.c - the HDF5 CAM store (see camstore.h): typed records over the generic per-image
 * parts of store.c. Owns the record <-> datasets mapping; resume, the settings check and the merge
 * are store.c's. */
#include "io/camstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

void ws_cam_rec_free(ws_cam_rec *r)
{
    if (!r) return;
    free(r->cam);
    free(r->fg_cls);
    free(r->fg_logit);
    free(r->all_logit);
    free(r->att);
    memset(r, 0, sizeof *r);
}

int ws_camstore_open_write(ws_store *st, const char *path, const char *settings)
{
    return ws_store_open_write_as(st, path, settings, "cams", WS_CAM_FORMAT);
}

static int put(ws_h5file *f, const char *id, const char *name, int dt, int nd, const int64_t *s, const void *d)
{
    return ws_store_write_field(f, "cams", id, name, dt, nd, s, d);
}

int ws_camstore_put(ws_store *st, const char *id, const ws_cam_rec *r)
{
    ws_h5file f;
    int rc = ws_store_part_begin(st, id, &f);
    if (rc) return rc;
    const int64_t hw = (int64_t)r->h * r->w, cs[3] = {r->P, r->h, r->w}, p1[1] = {r->P}, c1[1] = {r->n_cls},
                  as[2] = {hw, hw}, is[1] = {2}, ihw[2] = {r->H, r->W};
    /* attention is the largest array by far ((hw)^2 per image): float16 halves the store, and
     * CAA's Sinkhorn normalisation is insensitive to the rounding (the golden CAA runs on it) */
    uint16_t *a16 = NULL;
    if (r->att && !(a16 = malloc((size_t)(hw * hw) * sizeof *a16))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (int64_t i = 0; a16 && i < hw * hw; i++) a16[i] = ws_f32_to_f16(r->att[i]);
    TRY(put(&f, id, "cam", WS_F32, 3, cs, r->cam));
    TRY(put(&f, id, "fg_cls", WS_I64, 1, p1, r->fg_cls));
    TRY(put(&f, id, "fg_logit", WS_F32, 1, p1, r->fg_logit));
    TRY(put(&f, id, "all_logit", WS_F32, 1, c1, r->all_logit));
    /* The original image size travels with the CAM (which is at the patch grid) because the seed stage must
     * upsample to exactly the image the masks were made on. */
    TRY(put(&f, id, "image_hw", WS_I64, 1, is, ihw));
    if (a16) TRY(put(&f, id, "att", WS_F16, 2, as, a16));
    free(a16);
    return ws_store_part_commit(&f);
cleanup:
    free(a16);
    ws_h5_close(&f);
    return rc;
}

/* Reads /cams/<id>/<name> as dtype dt with nd dimensions and takes its data (*data: the caller
 * owns it); *keep (may be NULL) receives the array's shape. */
static int take(const ws_h5file *f, const char *id, const char *name, int dt, int nd, void **data, ws_array *keep)
{
    ws_array a = {0};
    int rc = ws_store_read_field(f, "cams", id, name, dt, nd, &a);
    if (rc) return rc;
    *data = a.data;
    if (keep) *keep = a;   /* shape only: the data now belongs to the record */
    return 0;
}

int ws_camstore_read(const ws_h5file *f, const char *id, int want_att, ws_cam_rec *r)
{
    ws_array cam = {0}, fg = {0}, al = {0}, fl = {0}, att = {0};
    int64_t *hw = NULL;
    int rc;
    memset(r, 0, sizeof *r);
    TRY(take(f, id, "cam", WS_F32, 3, (void **)&r->cam, &cam));
    TRY(take(f, id, "fg_cls", WS_I64, 1, (void **)&r->fg_cls, &fg));
    TRY(take(f, id, "fg_logit", WS_F32, 1, (void **)&r->fg_logit, &fl));
    TRY(take(f, id, "all_logit", WS_F32, 1, (void **)&r->all_logit, &al));
    ws_array ihw = {0};
    TRY(take(f, id, "image_hw", WS_I64, 1, (void **)&hw, &ihw));
    if (ihw.shape[0] != 2) { rc = ws_fail(WS_ESHAPE, "%s: /cams/%s/image_hw is not (H, W)", f->path, id); goto cleanup; }
    r->P = (int)cam.shape[0];
    r->h = (int)cam.shape[1];
    r->w = (int)cam.shape[2];
    r->n_cls = (int)al.shape[0];
    r->H = hw[0];
    r->W = hw[1];
    /* A record edited or written by another tool is checked here, once, so CAA and SAMS can index the arrays
     * without checks of their own. */
    if (fg.shape[0] != r->P || fl.shape[0] != r->P) {
        rc = ws_fail(WS_ESHAPE, "%s: /cams/%s: fg_cls/fg_logit do not match the %d CAMs", f->path, id, r->P);
        goto cleanup;
    }
    if (want_att) {
        /* Read back as float32 (HDF5 converts the float16 on read): CAA computes in float32. */
        TRY(take(f, id, "att", WS_F32, 2, (void **)&r->att, &att));
        if (att.shape[0] != (int64_t)r->h * r->w || att.shape[1] != att.shape[0]) {
            rc = ws_fail(WS_ESHAPE, "%s: /cams/%s/att does not match its %dx%d cam", f->path, id, r->h, r->w);
            goto cleanup;
        }
    }
cleanup:
    free(hw);
    if (rc) ws_cam_rec_free(r);
    return rc;
}

int ws_camstore_has(const ws_h5file *f, const char *id)
{
    char p[512];
    snprintf(p, sizeof p, "/cams/%s/cam", id);
    return ws_h5_exists(f, p);
}

int ws_camstore_ids(const char *path, char ***ids, int *n)
{
    return ws_store_ids_in(path, "cams", ids, n);
}

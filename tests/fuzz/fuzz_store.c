/* fuzz_store.c - libFuzzer harness for the HDF5 record readers: mask stores (ws_store_read), CAM
 * stores (ws_camstore_read), box stores (ws_boxstore_open/read) and training checkpoints
 * (ws_ckpt_read).
 *
 * Random bytes rarely make an HDF5 file, and libhdf5's own parser is not wsseed's to fix, so the
 * input is a recipe instead: byte 0 picks the reader, then each dataset of its record takes one
 * byte (0xFF: left out; else the low 2 bits are the rank and the next bytes the sizes, 0..8) and
 * its values from the following bytes (zeros past the end). The file is written with wsseed's own
 * HDF5 writer and handed to the reader, whose promises are then checked: a mask record that reads
 * decodes into its H x W image or is refused by ws_rle_decode; a CAM record's classes index its
 * logits. */
#include "fuzz_common.h"

#include <hdf5.h>

#include "core/array.h"
#include "core/status.h"
#include "data/rle.h"
#include "io/boxstore.h"
#include "io/camstore.h"
#include "io/ckpt.h"
#include "io/h5.h"
#include "io/store.h"

typedef struct { const char *name; int dtype; } field;

static const field MASK_FIELDS[] = {
    {"rle_counts_values", WS_I64}, {"rle_counts_offsets", WS_I64}, {"size", WS_I64}, {"area", WS_I64},
    {"bbox", WS_I64}, {"crop_box", WS_I64}, {"level", WS_I64}, {"predicted_iou", WS_F32},
    {"predicted_iou_thresh", WS_F32}, {"predicted_iou_nms", WS_F32}, {"stability_score", WS_F32},
    {"stability_score_bias", WS_F32}, {"point_coords", WS_F64}, {NULL, 0}};
static const field CAM_FIELDS[] = {{"cam", WS_F32}, {"fg_cls", WS_I64}, {"fg_logit", WS_F32}, {"all_logit", WS_F32},
                                   {"image_hw", WS_I64}, {"att", WS_F32}, {NULL, 0}};
static const field BOX_FIELDS[] = {{"labels", WS_U8}, {"gt_labels", WS_U8}, {"xyxy", WS_F32}, {"score", WS_F32},
                                   {"cls", WS_I64}, {"image_hw", WS_I64}, {NULL, 0}};
static const field CKPT_FIELDS[] = {
    {"meta/format_version", WS_I64}, {"meta/arch", WS_I64}, {"meta/iteration", WS_I64}, {"meta/seed", WS_I64},
    {"ctx", WS_F32}, {"optim/momentum_buffer", WS_F32}, {"rng/data_mt", WS_I64}, {"rng/data_pos", WS_I64},
    {"data/epoch", WS_I64}, {"data/cursor", WS_I64}, {"data/perm", WS_I64}, {NULL, 0}};

typedef struct { const uint8_t *p, *end; } reader;

static uint8_t next(reader *r) { return r->p < r->end ? *r->p++ : 0; }

/* Writes one dataset of the recipe (or skips it); -1 when the writer refused. */
static int put(ws_h5file *f, const char *prefix, const field *fd, reader *r)
{
    uint8_t b = next(r);
    if (b == 0xFF) return 0;
    int nd = b & 3;
    int64_t shape[3] = {1, 1, 1}, numel = 1;
    for (int k = 0; k < nd; k++) numel *= shape[k] = next(r) % 9;
    /* A checkpoint's fixed-size arrays are hard to hit by chance: bit 2 asks for them. */
    if ((b & 4) && !strcmp(fd->name, "rng/data_mt")) { nd = 1; numel = shape[0] = 624; }
    if ((b & 4) && !strcmp(fd->name, "meta/arch")) { nd = 1; numel = shape[0] = WS_CKPT_ARCH_N; }
    size_t es = ws_dtype_size(fd->dtype), bytes = (size_t)numel * es;
    uint8_t *buf = calloc(bytes ? bytes : 1, 1);
    if (!buf) abort();
    for (size_t i = 0; i < bytes && r->p < r->end; i++) buf[i] = next(r);
    char name[256];
    snprintf(name, sizeof name, "%s/%s", prefix, fd->name);
    int rc = ws_h5_write_raw(f, name, fd->dtype, nd, shape, buf);
    free(buf);
    return rc ? -1 : 0;
}

static void put_string(ws_h5file *f, const char *name, reader *r)
{
    char s[64];
    int n = next(r) % 16;
    for (int i = 0; i < n; i++) s[i] = (char)(next(r) % 95 + 32);
    s[n] = '\0';
    char *one = s;
    ws_h5_write_strings(f, name, &one, 1);
}

static void set_format(ws_h5file *f, const char *fmt)
{
    hid_t sp = H5Screate(H5S_SCALAR), ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(fmt) + 1);
    hid_t a = H5Acreate2(f->id, "format", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, ty, fmt);
    H5Aclose(a);
    H5Tclose(ty);
    H5Sclose(sp);
}

static void check_masks(const char *path)
{
    ws_mask_set m;
    if (ws_store_read(path, "img", &m)) return;
    if (m.n < 0 || m.H < 0 || m.W < 0) abort();
    size_t px = (size_t)m.H * (size_t)m.W;
    uint8_t *mask = px <= (1u << 20) ? malloc(px ? px : 1) : NULL;
    for (int i = 0; mask && i < m.n; i++) {
        if (m.r[i].n_rle < 0) abort();
        ws_rle_decode(m.r[i].rle, m.r[i].n_rle, m.H, m.W, 1, mask);
    }
    free(mask);
    ws_mask_set_free(&m);
}

static void check_cams(const char *path, int want_att)
{
    ws_h5file f;
    ws_cam_rec r;
    if (ws_h5_open(&f, path)) return;
    if (ws_camstore_read(&f, "img", want_att, &r) == 0) {
        size_t cells = (size_t)r.P * r.h * r.w;
        float sum = 0;
        for (size_t i = 0; i < cells; i++) sum += r.cam[i];
        for (int k = 0; k < r.P; k++) {
            if (r.fg_cls[k] < 0 || r.fg_cls[k] >= r.n_cls) { fprintf(stderr, "fg_cls %lld of %d classes\n", (long long)r.fg_cls[k], r.n_cls); abort(); }
            sum += r.all_logit[r.fg_cls[k]] + r.fg_logit[k];
        }
        if (want_att) for (size_t i = 0; i < (size_t)r.h * r.w * r.h * r.w; i++) sum += r.att[i];
        if (r.H < 1 || r.W < 1) { fprintf(stderr, "image size %lldx%lld\n", (long long)r.W, (long long)r.H); abort(); }
        (void)sum;
        ws_cam_rec_free(&r);
    }
    ws_h5_close(&f);
}

static void check_boxes(const char *path, int want_labels)
{
    ws_h5file f;
    ws_box_rec r;
    if (ws_boxstore_open(&f, path)) return;
    if (ws_boxstore_read(&f, "img", want_labels, &r) == 0) {
        float sum = 0;
        for (int k = 0; k < r.n; k++) sum += r.xyxy[4 * k] + r.xyxy[4 * k + 3] + r.score[k] + (float)r.cls[k];
        for (int c = 0; want_labels && c < r.n_cls; c++) sum += r.labels[c] + (r.gt_labels ? r.gt_labels[c] : 0);
        (void)sum;
        ws_box_rec_free(&r);
    }
    ws_h5_close(&f);
}

static void check_ckpt(const char *path)
{
    ws_ckpt c;
    if (ws_ckpt_read(path, &c) == 0) {
        if (c.data_rng.pos < 0 || c.data_rng.pos > 624 || !c.config) abort();
        ws_ckpt_free(&c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const field *const KINDS[4] = {MASK_FIELDS, CAM_FIELDS, BOX_FIELDS, CKPT_FIELDS};
    static const char *const PREFIX[4] = {"/masks/img", "/cams/img", "/boxes/img", ""};
    reader r = {data, data + size};
    uint8_t kind = next(&r), flags = next(&r);
    const char *path = fuzz_file(0, "store.h5", NULL, 0);
    ws_h5file f;
    if (ws_h5_create(&f, path)) abort();
    for (const field *fd = KINDS[kind % 4]; fd->name; fd++)
        if (put(&f, PREFIX[kind % 4], fd, &r)) { ws_h5_close(&f); ws_clear_error(); return 0; }
    if (kind % 4 == 2) set_format(&f, flags & 1 ? "wsseed-masks-1" : WS_BOX_FORMAT);
    if (kind % 4 == 3) { put_string(&f, "/meta/task", &r); put_string(&f, "/config", &r); }
    if (ws_h5_commit(&f)) abort();
    ws_h5_close(&f);
    switch (kind % 4) {
    case 0: check_masks(path); break;
    case 1: check_cams(path, flags & 1); break;
    case 2: check_boxes(path, flags & 2); break;
    case 3: check_ckpt(path); break;
    }
    ws_clear_error();
    return 0;
}

/* store.c - the HDF5 mask store (see store.h) and the per-image part machinery the CAM and box
 * stores share: the settings check, atomic part files in <store>.parts/, the merge of the parts
 * into one file when the split is complete, and the mask store's own record layout.
 *
 * Why parts and not one growing HDF5 file: HDF5 cannot be appended to crash-safely (a kill during
 * a write can corrupt the whole file), while a small file per image plus a rename is atomic.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "data/rle.h"
#include "io/h5.h"
#include "io/storecheck.h"

void ws_mask_set_free(ws_mask_set *s)
{
    for (int i = 0; s && s->r && i < s->n; i++) free(s->r[i].rle);
    if (s) free(s->r);
    if (s) memset(s, 0, sizeof *s);
}

/* ---- attributes ---- */

/* Variable-length UTF-8 strings: what h5py writes for a str attribute, so Python reads `settings` back as a
 * str without decoding. */
static int write_str_attr(hid_t obj, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, &val) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static char *read_str_attr(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL, *res = NULL;
    if (a >= 0 && H5Aread(a, t, &v) >= 0 && v) {
        res = strdup(v);
        H5free_memory(v);
    }
    if (a >= 0) H5Aclose(a);
    H5Tclose(t);
    return res;
}

/* NULL for a file that cannot be opened or has no settings: callers treat both as "other settings", so a
 * foreign or damaged file is refused, never overwritten. */
static char *file_settings(const char *path)
{
    ws_h5file f;
    if (ws_h5_open(&f, path)) return NULL;
    char *s = read_str_attr(f.id, "settings");
    ws_h5_close(&f);
    return s;
}

/* ---- writing one image ---- */

int ws_store_write_rles(ws_h5file *f, const char *prefix, const ws_mask_set *m)
{
    char p[512];
    int n = m->n, rc = 0;
    int64_t total = 0, *vals = NULL, *offs = NULL;
    /* Counts of all records in one dataset plus offsets (a CSR layout) rather than one dataset per mask:
     * hundreds of tiny HDF5 datasets per image would make the file and its reading slow. */
    int64_t **rles = malloc(((size_t)n + 1) * sizeof *rles);
    int *lens = malloc(((size_t)n + 1) * sizeof *lens);
    if (!rles || !lens) { rc = ws_fail(WS_ENOMEM, "%s: out of memory writing %s", f->path, prefix); goto done; }
    for (int i = 0; i < n; i++) { rles[i] = m->r[i].rle; lens[i] = m->r[i].n_rle; }
    if ((rc = ws_rle_concat(rles, lens, n, &vals, &offs, &total))) goto done;
    const int64_t sv[1] = {total}, so[1] = {n + 1};
    snprintf(p, sizeof p, "%s/rle_counts_values", prefix);
    if ((rc = ws_h5_write_raw(f, p, WS_I64, 1, sv, vals))) goto done;
    snprintf(p, sizeof p, "%s/rle_counts_offsets", prefix);
    rc = ws_h5_write_raw(f, p, WS_I64, 1, so, offs);
done:
    free(rles);
    free(lens);
    free(vals);
    free(offs);
    return rc;
}

static int write_set(ws_h5file *f, const char *id, const ws_mask_set *m)
{
    char p[512];
    int n = m->n, rc = 0;
    int64_t *i64 = malloc(((size_t)n * 4 + 1) * sizeof *i64);
    float *f32 = malloc(((size_t)n + 1) * sizeof *f32);
    double *f64 = malloc(((size_t)n * 2 + 1) * sizeof *f64);
    if (!i64 || !f32 || !f64) { rc = ws_fail(WS_ENOMEM, "mask store: out of memory"); goto done; }
    const int64_t s1[1] = {n}, s2[2] = {n, 2}, s4[2] = {n, 4}, sz[1] = {2};
    const int64_t hw[2] = {m->H, m->W};
/* One dataset per field, named as in amg.py's output records (predicted_iou, stability_score, point_coords,
 * crop_box), so h5py users find the names they know. */
#define W(dtype, nd, shape, buf, name) \
    do { snprintf(p, sizeof p, "/masks/%s/%s", id, name); if ((rc = ws_h5_write_raw(f, p, dtype, nd, shape, buf))) goto done; } while (0)
#define EACH(expr) for (int i = 0; i < n; i++) { expr; }
    snprintf(p, sizeof p, "/masks/%s", id);
    if ((rc = ws_store_write_rles(f, p, m))) goto done;
    W(WS_I64, 1, sz, hw, "size");
    EACH(i64[i] = m->r[i].area); W(WS_I64, 1, s1, i64, "area");
    EACH(memcpy(i64 + 4 * i, m->r[i].bbox, 4 * sizeof *i64)); W(WS_I64, 2, s4, i64, "bbox");
    EACH(memcpy(i64 + 4 * i, m->r[i].crop_box, 4 * sizeof *i64)); W(WS_I64, 2, s4, i64, "crop_box");
    EACH(i64[i] = m->r[i].level); W(WS_I64, 1, s1, i64, "level");
    EACH(f32[i] = m->r[i].iou); W(WS_F32, 1, s1, f32, "predicted_iou");
    EACH(f32[i] = m->r[i].iou_thresh); W(WS_F32, 1, s1, f32, "predicted_iou_thresh");
    EACH(f32[i] = m->r[i].iou_nms); W(WS_F32, 1, s1, f32, "predicted_iou_nms");
    EACH(f32[i] = m->r[i].stability); W(WS_F32, 1, s1, f32, "stability_score");
    EACH(f32[i] = m->r[i].stab_bias); W(WS_F32, 1, s1, f32, "stability_score_bias");
    EACH((f64[2 * i] = m->r[i].point[0], f64[2 * i + 1] = m->r[i].point[1])); W(WS_F64, 2, s2, f64, "point_coords");
#undef W
#undef EACH
done:
    free(i64);
    free(f32);
    free(f64);
    return rc;
}

static char *part_path(const ws_store *s, const char *id)
{
    size_t n = strlen(s->parts) + strlen(id) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.h5", s->parts, id);
    return p;
}

/* Temporary files of writers that were killed or met a full disk (the store's in its folder, the
 * parts'): they would hold the space a rerun needs, and keep the parts folder from emptying. */
static void remove_stale(const ws_store *s)
{
    char dir[4200];
    const char *slash = strrchr(s->path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - s->path), s->path);
    else snprintf(dir, sizeof dir, ".");
    ws_fs_remove_stale_tmp(dir[0] ? dir : "/", slash ? slash + 1 : s->path);
    ws_fs_remove_stale_tmp(s->parts, "");
}

int ws_store_open_write(ws_store *s, const char *path, const char *settings)
{
    return ws_store_open_write_as(s, path, settings, "masks", WS_STORE_FORMAT);
}

int ws_store_open_write_as(ws_store *s, const char *path, const char *settings, const char *group, const char *format)
{
    memset(s, 0, sizeof *s);
    s->group = group;
    s->format = format;
    size_t n = strlen(path) + 8;
    s->path = strdup(path);
    s->parts = malloc(n);
    s->settings = strdup(settings);
    if (!s->path || !s->parts || !s->settings) { ws_store_close(s); return ws_fail(WS_ENOMEM, "out of memory"); }
    snprintf(s->parts, n, "%s.parts", path);
    snprintf(s->part_kind, sizeof s->part_kind, "%s.part", group);
    snprintf(s->merge_kind, sizeof s->merge_kind, "%s.merge", group);
    int rc0 = ws_mkdir_parent(path);
    if (rc0) { ws_store_close(s); return rc0; }
    remove_stale(s);
    /* A store is never mixed: masks (or CAMs, boxes) made with other settings would make a result depend on
     * which run computed which image. The settings text is compared verbatim, hence each stage puts in it
     * exactly what decides the output. */
    if (access(path, F_OK) == 0) {
        char *old = file_settings(path);
        int same = old && !strcmp(old, settings);
        free(old);
        if (!same) {
            ws_store_close(s);
            return ws_fail(WS_EINVAL, "store %s exists and was made with other settings (or is not a wsseed "
                           "%s store): delete it or choose another output", path, group);
        }
    }
    /* EEXIST is the resume case: the parts of the earlier run are kept. */
    if (mkdir(s->parts, 0777) != 0 && errno != EEXIST) {
        int rc = ws_fail(WS_EIO, "cannot create %s: %s", s->parts, strerror(errno));
        ws_store_close(s);
        return rc;
    }
    /* parts of an earlier run must share the settings too */
    DIR *d = opendir(s->parts);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".h5")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", s->parts, e->d_name);
        char *old = file_settings(p);
        int same = old && !strcmp(old, settings);
        free(old);
        if (!same) {
            closedir(d);
            int rc = ws_fail(WS_EINVAL, "%s was made with other settings: delete %s or choose another output.store", p, s->parts);
            ws_store_close(s);
            return rc;
        }
        break;   /* one part is enough: they are all written by the same check */
    }
    if (d) closedir(d);
    return 0;
}

static int store_has_group(const char *path, const char *group, const char *id)
{
    ws_h5file f;
    char p[512];
    if (access(path, F_OK) != 0 || ws_h5_open(&f, path)) return 0;
    snprintf(p, sizeof p, "/%s/%s", group, id);
    int has = ws_h5_exists(&f, p);
    ws_h5_close(&f);
    return has;
}

int ws_store_has(const ws_store *s, const char *id)
{
    char *p = part_path(s, id);
    int has = p && access(p, F_OK) == 0;
    free(p);
    /* A merged store opened again (e.g. a rerun after the split was finished) has no parts: its images count
     * as done too. */
    return has || store_has_group(s->path, s->group, id);
}

unsigned char *ws_store_todo(const ws_store *s, char *const *ids, int n, int share_i, int share_n, int *count)
{
    unsigned char *todo = malloc((size_t)(n > 0 ? n : 1));
    *count = 0;
    if (!todo) return NULL;
    ws_h5file f;
    const int merged = access(s->path, F_OK) == 0 && !ws_h5_open(&f, s->path);
    for (int k = 0; k < n; k++) {
        int has = 0;
        if (k % share_n == share_i) {
            char *p = part_path(s, ids[k]), g[512];
            if (!p) { free(todo); todo = NULL; break; }
            has = access(p, F_OK) == 0;
            free(p);
            snprintf(g, sizeof g, "/%s/%s", s->group, ids[k]);
            if (!has && merged) has = ws_h5_exists(&f, g);
        }
        todo[k] = k % share_n == share_i && !has;
        *count += todo[k];
    }
    if (merged) ws_h5_close(&f);
    return todo;
}

int ws_store_part_begin(ws_store *s, const char *id, ws_h5file *f)
{
    char *p = part_path(s, id);
    memset(f, 0, sizeof *f);
    if (!p) return ws_fail(WS_ENOMEM, "out of memory");
    /* ws_h5_create writes to a temporary name; ws_store_part_commit renames it into place, so a part that
     * exists is complete. */
    int rc = ws_h5_create_as(f, p, s->part_kind);
    /* Every part carries the settings, so a parts folder left by another run is recognised and refused
     * (ws_store_open_write_as) even before any store exists. */
    if (!rc && (write_str_attr(f->id, "format", s->format) || write_str_attr(f->id, "settings", s->settings)))
        rc = ws_h5_fail_write(f, "its attributes");
    free(p);
    if (rc) ws_h5_close(f);
    return rc;
}

int ws_store_part_commit(ws_h5file *f)
{
    int rc = ws_h5_commit(f);
    ws_h5_close(f);
    return rc;
}

int ws_store_put(ws_store *s, const char *id, const ws_mask_set *m)
{
    ws_h5file f;
    int rc = ws_store_part_begin(s, id, &f);
    if (!rc) rc = write_set(&f, id, m);
    if (!rc) return ws_store_part_commit(&f);
    ws_h5_close(&f);
    return rc;
}

/* Copies dataset `name` of src into dst with its type, shape and creation properties (chunks,
 * filters), so the merged store holds the parts' bytes. Done by hand rather than with H5Ocopy:
 * HDF5 1.10's H5Ocopy dies with SIGSEGV when the disk fills during the copy, while a failed
 * H5Dwrite is an ordinary error. */
static int copy_dataset(const ws_h5file *src, const ws_h5file *dst, const char *name)
{
    hid_t ds = H5Dopen2(src->id, name, H5P_DEFAULT), ty = -1, sp = -1, pl = -1, out = -1;
    if (ds < 0) return ws_fail(WS_EFORMAT, "store: cannot open %s in %s", name, src->path);
    ty = H5Dget_type(ds);
    sp = H5Dget_space(ds);
    pl = H5Dget_create_plist(ds);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t size = ty < 0 ? 0 : H5Tget_size(ty);
    void *buf = n >= 0 && size ? malloc((size_t)n * size + 1) : NULL;
    int rc = 0;
    if (pl < 0 || n < 0 || !size) rc = ws_fail(WS_EFORMAT, "store: cannot read %s in %s", name, src->path);
    else if (!buf) rc = ws_fail(WS_ENOMEM, "store: out of memory copying %s of %s", name, src->path);
    /* the file type as memory type: the bytes travel unconverted */
    else if (n && H5Dread(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = ws_fail(WS_EFORMAT, "store: cannot read %s in %s (truncated part?)", name, src->path);
    if (!rc) H5Pset_obj_track_times(pl, 0);   /* as ws_h5_write_raw: the same data, the same bytes */
    if (!rc && (out = H5Dcreate2(dst->id, name, ty, sp, H5P_DEFAULT, pl, H5P_DEFAULT)) < 0) rc = ws_h5_fail_write(dst, name);
    if (!rc && n && H5Dwrite(out, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) rc = ws_h5_fail_write(dst, name);
    if (out >= 0 && H5Dclose(out) < 0 && !rc) rc = ws_h5_fail_write(dst, name);
    free(buf);
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    H5Dclose(ds);
    return rc;
}

/* Copies the datasets of /<group>/<id> of src (a part or the old merged store) into dst. */
static int copy_group(const ws_h5file *src, ws_h5file *dst, const char *group, const char *id)
{
    char p[512], **names = NULL;
    size_t n = 0;
    snprintf(p, sizeof p, "/%s/%s", group, id);
    if (ws_fault_at(dst->fault, "write")) return ws_fs_fail_write(ENOSPC, dst->path);
    int rc = ws_h5_list(src, p, &names, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        char full[1200];
        snprintf(full, sizeof full, "%s/%s", p, names[i]);
        /* the groups made as ws_h5_write_raw makes them (no time stamps) */
        if (!(rc = ws_h5_make_parents((ws_h5file *)dst, full))) rc = copy_dataset(src, dst, full);
    }
    ws_h5_strings_free(names, n);
    return rc;
}

/* Takes the store's merge lock <store>.parts/.lock: a kernel lock (flock) that dies with its
 * holder, so a kill during a merge never leaves a lock behind, and a second process waits for the
 * first instead of merging the same parts at the same time. The file goes with the parts folder
 * once the store is whole; a process still waiting on the removed file then finds the store whole
 * (merges only happen while parts remain, and no new part is made for a stored image). *fd
 * receives the held descriptor. */
static int merge_lock(const ws_store *s, int *fd)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/.lock", s->parts);
    *fd = open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (*fd < 0) return ws_fail(WS_EIO, "cannot open the lock %s: %s", lock, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0) return 0;
    ws_log("another process is assembling %s: waiting for it", s->path);
    while (flock(*fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            int rc = ws_fail(WS_EIO, "cannot lock %s: %s", lock, strerror(errno));
            close(*fd);
            return rc;
        }
    return 0;
}

/* The emptied parts folder and its lock file go (the descriptor keeps the lock until closed). */
static void remove_parts_dir(const ws_store *s)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/.lock", s->parts);
    remove(lock);
    rmdir(s->parts);
}

/* 1 when the merged store already holds every id and no part is left (another process finished
 * the merge while this one waited for the lock). */
static int merged_whole(const ws_store *s, char *const *ids, int n_ids)
{
    struct stat st;
    if (stat(s->parts, &st) == 0) {
        DIR *d = opendir(s->parts);
        struct dirent *e;
        int parts = 0;
        while (d && (e = readdir(d))) parts += e->d_name[0] != '.';
        if (d) closedir(d);
        if (parts) return 0;
    }
    ws_h5file f = {0};
    if (ws_h5_open(&f, s->path)) { ws_clear_error(); return 0; }
    int whole = 1;
    for (int i = 0; i < n_ids && whole; i++) {
        char p[512];
        snprintf(p, sizeof p, "/%s/%s", s->group, ids[i]);
        whole = ws_h5_exists(&f, p);
    }
    ws_h5_close(&f);
    return whole;
}

/* Writes the merged store: every id from the old merged store or from its part (temp file + rename,
 * so a kill or a full disk leaves the old store and the parts as they were). */
static int merge_parts(ws_store *s, char *const *ids, int n_ids)
{
    ws_h5file out, old = {0};
    int rc = ws_h5_create_as(&out, s->path, s->merge_kind), have_old = access(s->path, F_OK) == 0;
    /* A store merged before (e.g. a split grown by a later run) is copied from, so its images need no parts;
     * the new file replaces it only when complete. */
    if (!rc && have_old) rc = ws_h5_open(&old, s->path);
    if (!rc && (write_str_attr(out.id, "format", s->format) || write_str_attr(out.id, "settings", s->settings)))
        rc = ws_h5_fail_write(&out, "its attributes");
    for (int i = 0; i < n_ids && !rc; i++) {
        char p[512], *pp = part_path(s, ids[i]);
        snprintf(p, sizeof p, "/%s/%s", s->group, ids[i]);
        if (have_old && ws_h5_exists(&old, p)) rc = copy_group(&old, &out, s->group, ids[i]);
        else {
            ws_h5file part = {0};
            rc = pp ? ws_h5_open(&part, pp) : ws_fail(WS_ENOMEM, "out of memory");
            if (!rc) rc = copy_group(&part, &out, s->group, ids[i]);
            ws_h5_close(&part);
        }
        free(pp);
    }
    ws_h5_close(&old);
    if (!rc) rc = ws_h5_commit(&out);
    ws_h5_close(&out);
    return rc;
}

int ws_store_finish(ws_store *s, char *const *ids, int n_ids, int *complete)
{
    *complete = 0;
    for (int i = 0; i < n_ids; i++)
        if (!ws_store_has(s, ids[i])) return 0;   /* other shards still working */
    int fd, rc = merge_lock(s, &fd);
    if (rc) return rc;
    if (merged_whole(s, ids, n_ids)) {   /* merged by the process this one waited for */
        remove_parts_dir(s);
        *complete = 1;
        close(fd);
        return 0;
    }
    /* parts are removed only after the merged file is committed (fsync + rename): a crash in between
     * leaves both, and the next run merges again */
    rc = merge_parts(s, ids, n_ids);
    /* the store is in place, its parts not yet removed: a kill here must leave a rerun nothing to redo
     * but the clean-up (enospc has no meaning here) */
    if (!rc) ws_fault_at(s->merge_kind, "cleanup");
    if (!rc) {   /* the store now holds everything: the parts can go */
        for (int i = 0; i < n_ids; i++) {
            char *pp = part_path(s, ids[i]);
            if (pp) remove(pp);
            free(pp);
        }
        remove_parts_dir(s);
        *complete = 1;
    }
    close(fd);   /* releases the lock */
    return rc;
}

void ws_store_close(ws_store *s)
{
    if (!s) return;
    free(s->path);
    free(s->parts);
    free(s->settings);
    memset(s, 0, sizeof *s);
}

/* ---- reading ---- */

/* A record edited or written by another tool is checked here, once, against the layout store.h
 * describes (n masks: n + 1 ascending offsets into the counts, n values per scalar field, n x 4
 * boxes, n x 2 points, a (H, W) size), so the copy below and every reader of the set index inside
 * the arrays. a: the 13 datasets in ws_store_read's order. */
int ws_store_read(const char *path, const char *id, ws_mask_set *out)
{
    ws_h5file f;
    char p[600];
    ws_array a[13] = {{0}};
    static const char *names[13] = {"rle_counts_values", "rle_counts_offsets", "size", "area", "bbox", "crop_box",
                                    "level", "predicted_iou", "predicted_iou_thresh", "predicted_iou_nms",
                                    "stability_score", "stability_score_bias", "point_coords"};
    static const int types[13] = {WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_I64, WS_F32, WS_F32, WS_F32,
                                  WS_F32, WS_F32, WS_F64};
    memset(out, 0, sizeof *out);
    int rc = ws_h5_open(&f, path);
    if (rc) return rc;
    snprintf(p, sizeof p, "/masks/%s", id);
    if (!ws_h5_exists(&f, p)) { ws_h5_close(&f); return ws_fail(WS_EFORMAT, "mask store %s has no image '%s'", path, id); }
    for (int k = 0; k < 13 && !rc; k++) {
        snprintf(p, sizeof p, "/masks/%s/%s", id, names[k]);
        rc = ws_h5_read(&f, p, types[k], &a[k]);
    }
    ws_h5_close(&f);
    if (rc || (rc = ws_store_check_masks(path, id, a))) goto done;
    int n = (int)ws_array_numel(&a[1]) - 1;
    const int64_t *off = a[1].data, *vals = a[0].data, *sz = a[2].data;
    out->H = (int)sz[0];
    out->W = (int)sz[1];
    out->r = calloc((size_t)(n > 0 ? n : 1), sizeof *out->r);
    if (!out->r) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    out->n = n;
    for (int i = 0; i < n; i++) {
        ws_mask_rec *r = &out->r[i];
        r->n_rle = (int)(off[i + 1] - off[i]);
        if (!(r->rle = malloc((size_t)(r->n_rle ? r->n_rle : 1) * sizeof *r->rle))) { rc = ws_fail(WS_ENOMEM, "out of memory"); break; }
        /* Each record gets its own copy of its counts so it can be freed or handed on alone (ws_mask_set_free
         * frees per record). */
        memcpy(r->rle, vals + off[i], (size_t)r->n_rle * sizeof *r->rle);
        r->area = ((int64_t *)a[3].data)[i];
        memcpy(r->bbox, (int64_t *)a[4].data + 4 * i, sizeof r->bbox);
        memcpy(r->crop_box, (int64_t *)a[5].data + 4 * i, sizeof r->crop_box);
        r->level = ((int64_t *)a[6].data)[i];
        r->iou = ((float *)a[7].data)[i];
        r->iou_thresh = ((float *)a[8].data)[i];
        r->iou_nms = ((float *)a[9].data)[i];
        r->stability = ((float *)a[10].data)[i];
        r->stab_bias = ((float *)a[11].data)[i];
        r->point[0] = ((double *)a[12].data)[2 * i];
        r->point[1] = ((double *)a[12].data)[2 * i + 1];
    }
done:
    for (int k = 0; k < 13; k++) ws_array_free(&a[k]);
    if (rc) ws_mask_set_free(out);
    return rc;
}

typedef struct { char **ids; int n, cap; } id_list;

static herr_t add_id(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    id_list *l = op;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->ids, (size_t)cap * sizeof *p);
        if (!p) return -1;
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n] = strdup(name);
    return l->ids[l->n++] ? 0 : -1;
}

int ws_store_ids(const char *path, char ***ids, int *n)
{
    return ws_store_ids_in(path, "masks", ids, n);
}

int ws_store_ids_in(const char *path, const char *group, char ***ids, int *n)
{
    ws_h5file f;
    id_list l = {0};
    char gp[256];
    int rc = ws_h5_open(&f, path);
    if (rc) return rc;
    snprintf(gp, sizeof gp, "/%s", group);
    if (ws_h5_exists(&f, gp)) {
        hid_t g = H5Gopen2(f.id, gp, H5P_DEFAULT);
        /* By name index, increasing: the ids come sorted, so every reader walks the images in the
         * same order. */
        if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, add_id, &l) < 0) rc = ws_fail(WS_EFORMAT, "cannot list %s", path);
        H5Gclose(g);
    }
    ws_h5_close(&f);
    *ids = l.ids;
    *n = l.n;
    return rc;
}

/* ---- the masks of one image as flat arrays (what SAMS and the merge read) ---- */

/* The CSR layout again: SAMS and the merge take the masks as one values/offsets pair, the layout of the
 * golden files, so the method code never sees a store record. */
int ws_mask_set_flatten(const ws_mask_set *m, int64_t **values, int64_t **offsets, int64_t **levels)
{
    int64_t total = 0;
    int64_t **rles = malloc(((size_t)m->n + 1) * sizeof *rles);
    int *lens = malloc(((size_t)m->n + 1) * sizeof *lens);
    int rc = 0;
    *values = *offsets = NULL;
    if (levels) *levels = malloc(((size_t)m->n + 1) * sizeof **levels);
    if (!rles || !lens || (levels && !*levels)) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    for (int i = 0; i < m->n; i++) {
        rles[i] = m->r[i].rle;
        lens[i] = m->r[i].n_rle;
        if (levels) (*levels)[i] = m->r[i].level;
    }
    rc = ws_rle_concat(rles, lens, m->n, values, offsets, &total);
done:
    if (rc && levels) { free(*levels); *levels = NULL; }
    free(rles);
    free(lens);
    return rc;
}

/* ---- typed records: one dataset of an image's group ---- */

int ws_store_write_field(ws_h5file *f, const char *group, const char *id, const char *name, int dtype, int ndim,
                         const int64_t *shape, const void *data)
{
    char p[1024];
    snprintf(p, sizeof p, "/%s/%s/%s", group, id, name);
    return ws_h5_write_raw(f, p, dtype, ndim, shape, data);
}

int ws_store_read_field(const ws_h5file *f, const char *group, const char *id, const char *name, int dtype, int ndim,
                        ws_array *out)
{
    char p[1024];
    snprintf(p, sizeof p, "/%s/%s/%s", group, id, name);
    int rc = ws_h5_read(f, p, dtype, out);
    if (!rc && out->ndim != ndim) {
        rc = ws_fail(WS_ESHAPE, "%s: %s has %d dimensions, the store format has %d there", f->path, p, out->ndim, ndim);
        ws_array_free(out);
    }
    return rc;
}

/* mmseg.c - `wsseed export mmseg` (see mmseg.h): a run's seeds, images and classes as the custom
 * dataset and config mmsegmentation 1.x trains a segmenter on.
 *
 * Owns the folder layout, the check of every seed (a class value or 255, so the segmenter's loss
 * never sees a value it has no class for), the generated Python config and the all-or-nothing
 * publication of the folder (built as OUT.part, renamed last).
 */
#define _XOPEN_SOURCE 700   /* realpath, symlink */
#include "stage/mmseg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "data/image.h"

#define MARKER ".wsseed-mmseg"   /* names a folder this command wrote: only such a folder is replaced */
#define CONFIG "deeplabv3plus_r101_wsseed.py"
#define PATH_MAX_WS 4096           /* the longest path handled; derived paths get multiples */

/* A whole file into memory (*data malloc'd). */
static int slurp(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += k) == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            else buf = b;
        }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return ws_fail(WS_ENOMEM, "out of memory");
    if (bad) { free(buf); return ws_fail(WS_EIO, "cannot read %s", path); }
    *data = buf;
    *len = n;
    return 0;
}

static int copy_file(const char *src, const char *dst)
{
    char *d = NULL;
    size_t n = 0;
    int rc = slurp(src, &d, &n);
    if (!rc) rc = ws_fs_write_atomic(dst, d, n);
    free(d);
    return rc;
}

/* dst -> the absolute path of src (replacing a link a killed run left). */
static int link_file(const char *src, const char *dst)
{
    char abs[PATH_MAX_WS];
    if (!realpath(src, abs)) return ws_fail(WS_EIO, "cannot find image %s: %s", src, strerror(errno));
    if (unlink(dst) && errno != ENOENT) return ws_fail(WS_EIO, "cannot replace %s: %s", dst, strerror(errno));
    if (symlink(abs, dst)) return ws_fail(WS_EIO, "cannot link %s -> %s: %s", dst, abs, strerror(errno));
    return 0;
}

/* A seed or ground-truth map must hold class values 0..n_fg and 255 only: mmseg would index its
 * loss with anything else (a CUDA assert far from the cause). */
static int check_map(const char *path, int n_fg)
{
    uint8_t *m = NULL;
    int w = 0, h = 0, rc = ws_png_read_index(path, &m, &w, &h);
    for (size_t k = 0; !rc && k < (size_t)w * h; k++)
        if (m[k] > n_fg && m[k] != 255)
            rc = ws_fail(WS_EFORMAT, "%s: value %d is neither a class 0..%d of the class list nor 255 (ignore): were these "
                         "seeds made with another class list?", path, m[k], n_fg);
    free(m);
    return rc;
}

/* Image i of ds and its map (maps/<id>.png) into part/img_dir/<sub> and part/ann_dir/<sub>. */
static int export_image(const ws_mmseg_settings *s, const ws_dataset *ds, int i, const char *maps, const char *part,
                        const char *sub, int n_fg)
{
    char src[3 * PATH_MAX_WS], dst[3 * PATH_MAX_WS];
    const char *id = ds->ids[i];
    snprintf(src, sizeof src, "%s/%s.png", maps, id);
    int rc = check_map(src, n_fg);
    snprintf(dst, sizeof dst, "%s/ann_dir/%s/%s.png", part, sub, id);
    if (!rc) rc = copy_file(src, dst);
    snprintf(src, sizeof src, "%s/%s%s", ds->image_dir, id, ds->image_ext);
    snprintf(dst, sizeof dst, "%s/img_dir/%s/%s%s", part, sub, id, ds->image_ext);
    if (!rc) rc = s->copy_images ? copy_file(src, dst) : link_file(src, dst);
    return rc;
}

/* One split: its images and maps (the seeds for train, the ground truth for val) and
 * part/splits/<sub>.txt. *ext receives the image suffix (".jpg"). */
static int export_split(const ws_mmseg_settings *s, const char *split, const char *maps, const char *part,
                        const char *sub, int n_fg, char *ext, size_t ext_cap)
{
    ws_data_cfg d = s->data;
    ws_dataset ds = {0};
    char path[3 * PATH_MAX_WS], tmp[3 * PATH_MAX_WS + 64];
    snprintf(d.split, sizeof d.split, "%s", split);
    int rc = ws_data_open(&d, WS_DATA_IMAGES_ONLY, &ds, NULL);
    for (int k = 0; !rc && k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s/%s", part, k ? "ann_dir" : "img_dir", sub);
        rc = ws_mkdir_p(path);
    }
    ws_progress pg;
    if (!rc) ws_progress_start(&pg, sub, ds.n);
    for (int i = 0; !rc && i < ds.n; i++) {
        rc = export_image(s, &ds, i, maps, part, sub, n_fg);
        if (!rc) ws_progress_step(&pg, 1, NULL);
    }
    if (!rc) ws_progress_end(&pg);
    snprintf(path, sizeof path, "%s/splits/%s.txt", part, sub);
    FILE *f = rc ? NULL : ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!rc && !f) rc = WS_EIO;
    for (int i = 0; f && i < ds.n; i++) fprintf(f, "%s\n", ds.ids[i]);
    if (f) rc = ws_fs_commit_file(f, tmp, path);
    if (!rc) snprintf(ext, ext_cap, "%s", ds.image_ext);
    if (!rc) ws_log("%s: %d images of split %s (maps from %s)", sub, ds.n, split, maps);
    ws_dataset_close(&ds);
    return rc;
}

/* ---- the Python config ---------------------------------------------------------------------- */

/* s as a Python string literal (double quotes; " and \ escaped). */
static void py_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void py_dataset(FILE *f, const char *sub, const char *pipeline)
{
    fprintf(f, "    dataset=dict(\n        type=dataset_type, data_root=data_root, metainfo=metainfo,\n"
               "        data_prefix=dict(img_path='img_dir/%s', seg_map_path='ann_dir/%s'),\n"
               "        ann_file='splits/%s.txt', img_suffix=img_suffix, seg_map_suffix='.png',\n"
               "        reduce_zero_label=False, ignore_index=255, pipeline=%s))\n", sub, sub, sub, pipeline);
}

static void py_head(FILE *f, const ws_mmseg_settings *s, const char *root, const ws_classes *cl, const char *ext)
{
    uint8_t pal[768];
    ws_voc_palette(pal);
    fprintf(f, "# mmsegmentation 1.x config written by wsseed %s (`wsseed export mmseg`): DeepLabV3+ with a\n"
               "# ResNet-101-V1c backbone (ImageNet weights open-mmlab://resnet101_v1c) trained on pseudo labels:\n"
               "#   %s\n"
               "# No _base_ file: every setting is here. Train (in an mmsegmentation checkout):\n"
               "#   python tools/train.py %s/" CONFIG "\n"
               "# Label values: 0 background, 1..%d the classes below, 255 ignored by the loss (ignore_index).\n\n",
            PACKAGE_VERSION, s->source ? s->source : s->seeds, root, cl->n_fg);
    fputs("default_scope = 'mmseg'\ndata_root = ", f);
    py_str(f, root);
    fputs("\nclasses = (", f);
    for (int c = 0; c <= cl->n_fg; c++) {
        fputs(c ? ", " : "", f);
        py_str(f, cl->label[c]);
    }
    fputs(",)\n# the VOC colour map, as in the seed PNGs' own palette\npalette = [", f);
    for (int c = 0; c <= cl->n_fg; c++) fprintf(f, "%s[%d, %d, %d]", c ? ", " : "", pal[3 * c], pal[3 * c + 1], pal[3 * c + 2]);
    fprintf(f, "]\nnum_classes = %d\nimg_suffix = ", cl->n_fg + 1);
    py_str(f, ext);
    fputs("\ndataset_type = 'BaseSegDataset'\nmetainfo = dict(classes=classes, palette=palette)\n"
          "crop_size = (512, 512)\n\n", f);
}

/* The usual VOC recipe of mmseg's pascal_voc12 dataset and 20k schedule (train: random resize of
 * the long side 2048 / short 512 by 0.5-2, 512 crop, flip, photometric distortion). */
static void py_data(FILE *f, int have_val)
{
    fputs("train_pipeline = [\n    dict(type='LoadImageFromFile'),\n    dict(type='LoadAnnotations'),\n"
          "    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),\n"
          "    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),\n"
          "    dict(type='RandomFlip', prob=0.5),\n    dict(type='PhotoMetricDistortion'),\n"
          "    dict(type='PackSegInputs'),\n]\n"
          "test_pipeline = [\n    dict(type='LoadImageFromFile'),\n"
          "    dict(type='Resize', scale=(2048, 512), keep_ratio=True),\n"
          "    dict(type='LoadAnnotations'),\n    dict(type='PackSegInputs'),\n]\n"
          "train_dataloader = dict(\n    batch_size=4, num_workers=4, persistent_workers=True,\n"
          "    sampler=dict(type='InfiniteSampler', shuffle=True),\n", f);
    py_dataset(f, "train", "train_pipeline");
    if (have_val) {
        fputs("val_dataloader = dict(\n    batch_size=1, num_workers=4, persistent_workers=True,\n"
              "    sampler=dict(type='DefaultSampler', shuffle=False),\n", f);
        py_dataset(f, "val", "test_pipeline");
        fputs("test_dataloader = val_dataloader\n"
              "val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=255)\n"
              "test_evaluator = val_evaluator\nval_cfg = dict(type='ValLoop')\ntest_cfg = dict(type='TestLoop')\n\n", f);
    } else {
        /* mmengine wants the three of a loop all set or all None */
        fputs("# no split with ground truth was exported: no validation\n"
              "val_dataloader = val_evaluator = val_cfg = None\n"
              "test_dataloader = test_evaluator = test_cfg = None\n\n", f);
    }
}

static void py_model(FILE *f)
{
    fputs("norm_cfg = dict(type='SyncBN', requires_grad=True)   # reverted to BN by mmengine on one GPU\n"
          "data_preprocessor = dict(\n    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],\n"
          "    std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size)\n"
          "model = dict(\n    type='EncoderDecoder',\n    data_preprocessor=data_preprocessor,\n"
          "    pretrained='open-mmlab://resnet101_v1c',\n"
          "    backbone=dict(\n        type='ResNetV1c', depth=101, num_stages=4, out_indices=(0, 1, 2, 3),\n"
          "        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg, norm_eval=False,\n"
          "        style='pytorch', contract_dilation=True),\n"
          "    decode_head=dict(\n        type='DepthwiseSeparableASPPHead', in_channels=2048, in_index=3, channels=512,\n"
          "        dilations=(1, 12, 24, 36), c1_in_channels=256, c1_channels=48, dropout_ratio=0.1,\n"
          "        num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False, ignore_index=255,\n"
          "        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),\n"
          "    auxiliary_head=dict(\n        type='FCNHead', in_channels=1024, in_index=2, channels=256, num_convs=1,\n"
          "        concat_input=False, dropout_ratio=0.1, num_classes=num_classes, norm_cfg=norm_cfg,\n"
          "        align_corners=False, ignore_index=255,\n"
          "        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),\n"
          "    train_cfg=dict(),\n    test_cfg=dict(mode='whole'))\n\n", f);
}

static void py_schedule(FILE *f, int have_val)
{
    fprintf(f, "optim_wrapper = dict(\n    type='OptimWrapper',\n"
               "    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005), clip_grad=None)\n"
               "param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False)]\n"
               "train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000%s)\n"
               "default_hooks = dict(\n    timer=dict(type='IterTimerHook'),\n"
               "    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),\n"
               "    param_scheduler=dict(type='ParamSchedulerHook'),\n"
               "    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000),\n"
               "    sampler_seed=dict(type='DistSamplerSeedHook'),\n"
               "    visualization=dict(type='SegVisualizationHook'))\n"
               "env_cfg = dict(\n    cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),\n"
               "    dist_cfg=dict(backend='nccl'))\n"
               "vis_backends = [dict(type='LocalVisBackend')]\n"
               "visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')\n"
               "log_processor = dict(by_epoch=False)\nlog_level = 'INFO'\nload_from = None\nresume = False\n",
            have_val ? ", val_interval=2000" : "");
}

static int write_config(const ws_mmseg_settings *s, const char *part, const char *root, const ws_classes *cl,
                        const char *ext, int have_val)
{
    char path[3 * PATH_MAX_WS], tmp[3 * PATH_MAX_WS + 64];
    snprintf(path, sizeof path, "%s/" CONFIG, part);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    py_head(f, s, root, cl, ext);
    py_data(f, have_val);
    py_model(f);
    py_schedule(f, have_val);
    return ws_fs_commit_file(f, tmp, path);
}

/* ---- the folder ------------------------------------------------------------------------------- */

static int write_classes(const char *part, const ws_classes *cl)
{
    char path[3 * PATH_MAX_WS], tmp[3 * PATH_MAX_WS + 64];
    snprintf(path, sizeof path, "%s/classes.txt", part);
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    for (int c = 0; c <= cl->n_fg; c++) fprintf(f, "%s\n", cl->label[c]);
    return ws_fs_commit_file(f, tmp, path);
}

/* The absolute path OUT will have (its parent resolved; OUT itself need not exist yet). */
static int final_path(const char *out, char *abs, size_t cap)
{
    char parent[PATH_MAX_WS], res[PATH_MAX_WS];
    snprintf(parent, sizeof parent, "%s", out);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (slash == parent) snprintf(res, sizeof res, "/");
    else if (slash) { *slash = '\0'; if (ws_mkdir_p(parent) || !realpath(parent, res)) return ws_fail(WS_EIO, "cannot resolve %s", out); }
    else if (!realpath(".", res)) return ws_fail(WS_EIO, "cannot resolve the current folder");
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return ws_fail(WS_EINVAL, "export mmseg: --out '%s' must name a new folder", out);
    snprintf(abs, cap, "%s%s%s", res, strcmp(res, "/") ? "/" : "", base);
    return 0;
}

/* Removes folder dir that this command wrote (its MARKER is checked first): plain files, links and
 * the sub-folders of the layout, nothing else. */
static int remove_export(const char *dir)
{
    static const char *const subs[] = {"img_dir/train", "img_dir/val", "ann_dir/train", "ann_dir/val", "img_dir", "ann_dir",
                                       "splits", NULL};
    char path[3 * PATH_MAX_WS];
    for (int k = 0; subs[k]; k++) {
        char **ids = NULL;
        int n = 0;
        snprintf(path, sizeof path, "%s/%s", dir, subs[k]);
        if (ws_fs_list_ids(path, "", &ids, &n)) { ws_clear_error(); continue; }
        for (int i = 0; i < n; i++) {
            char f[4 * PATH_MAX_WS];
            snprintf(f, sizeof f, "%s/%s", path, ids[i]);
            unlink(f);
        }
        ws_fs_ids_free(ids, n);
        rmdir(path);
    }
    char **ids = NULL;
    int n = 0;
    if (!ws_fs_list_ids(dir, "", &ids, &n)) {
        for (int i = 0; i < n; i++) {
            char f[4 * PATH_MAX_WS];
            snprintf(f, sizeof f, "%s/%s", dir, ids[i]);
            unlink(f);
        }
        ws_fs_ids_free(ids, n);
    }
    snprintf(path, sizeof path, "%s/" MARKER, dir);
    unlink(path);
    return rmdir(dir) ? ws_fail(WS_EIO, "cannot remove the old export %s: %s", dir, strerror(errno)) : 0;
}

/* An existing OUT is replaced only with --force and only when this command wrote it. */
static int check_out(const char *root, int force)
{
    struct stat st;
    char marker[2 * PATH_MAX_WS + 32];
    if (lstat(root, &st)) return 0;
    if (!force) return ws_fail(WS_EINVAL, "%s exists: give --force to replace it, or choose another --out", root);
    snprintf(marker, sizeof marker, "%s/" MARKER, root);
    if (access(marker, F_OK))
        return ws_fail(WS_EINVAL, "%s exists and was not written by `wsseed export mmseg` (no %s): not replaced", root, MARKER);
    return 0;
}

/* The validation split: s->val_split, or "val" when the dataset has it; *split = NULL for none. An
 * explicit split that cannot be used is an error, the default one only a log line. */
static int pick_val(const ws_mmseg_settings *s, const char **split)
{
    const char *v = s->val_split ? s->val_split : "val";
    *split = NULL;
    if (!v[0]) return 0;
    if (!s->data.label_dir[0]) {
        if (s->val_split) return ws_fail(WS_EINVAL, "--val %s: the dataset has no ground truth (data.label_dir is '')", v);
        ws_log("no validation split: the dataset has no ground truth (data.label_dir)");
        return 0;
    }
    char *file = ws_dataset_path(s->data.root, s->data.split_file, v);
    if (!file) return ws_fail(WS_ENOMEM, "out of memory");
    int missing = access(file, R_OK) != 0;
    if (missing && s->val_split) {
        int rc = ws_fail(WS_EINVAL, "--val %s: cannot read its split file %s", v, file);
        free(file);
        return rc;
    }
    if (missing) ws_log("no validation split: %s is absent (--val SPLIT names another)", file);
    free(file);
    if (!missing) *split = v;
    return 0;
}

/* part -> root, after moving a replaced export aside; the parent folder is synced so the rename
 * survives a power loss. */
static int publish(const char *part, const char *root)
{
    char old[2 * PATH_MAX_WS + 8], parent[2 * PATH_MAX_WS];
    struct stat st;
    int had = !lstat(root, &st);
    snprintf(old, sizeof old, "%s.old", root);
    if (had && rename(root, old)) return ws_fail(WS_EIO, "cannot move %s aside: %s", root, strerror(errno));
    if (rename(part, root)) return ws_fail(WS_EIO, "cannot rename %s to %s: %s", part, root, strerror(errno));
    snprintf(parent, sizeof parent, "%s", root);
    char *slash = strrchr(parent, '/');
    if (slash) *(slash == parent ? slash + 1 : slash) = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    return had ? remove_export(old) : 0;
}

static int build(const ws_mmseg_settings *s, const ws_classes *cl, const char *root, const char *part)
{
    char path[3 * PATH_MAX_WS], ext[64] = ".jpg", vext[64];
    const char *val = NULL;
    snprintf(path, sizeof path, "%s/splits", part);
    int rc = pick_val(s, &val);
    if (!rc) rc = ws_mkdir_p(path);
    if (!rc) rc = export_split(s, s->data.split, s->seeds, part, "train", cl->n_fg, ext, sizeof ext);
    char *gt = val ? ws_dataset_path(s->data.root, s->data.label_dir, val) : NULL;
    if (!rc && val && !gt) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && val) rc = export_split(s, val, gt, part, "val", cl->n_fg, vext, sizeof vext);
    free(gt);
    if (!rc && val && strcmp(ext, vext)) rc = ws_fail(WS_EINVAL, "train and val images differ in suffix (%s, %s)", ext, vext);
    if (!rc) rc = write_classes(part, cl);
    if (!rc) rc = write_config(s, part, root, cl, ext, val != NULL);
    snprintf(path, sizeof path, "%s/" MARKER, part);
    /* the marker goes last: it says the folder is a complete export */
    if (!rc) rc = ws_fs_write_atomic(path, "wsseed export mmseg " PACKAGE_VERSION "\n", strlen("wsseed export mmseg " PACKAGE_VERSION "\n"));
    return rc;
}

int ws_stage_mmseg_export(const ws_mmseg_settings *s)
{
    ws_classes cl;
    char root[2 * PATH_MAX_WS], part[2 * PATH_MAX_WS + 8];
    memset(&cl, 0, sizeof cl);
    int rc = final_path(s->out, root, sizeof root);
    if (!rc) rc = check_out(root, s->force);
    if (!rc) rc = ws_data_class_list(&s->data, &cl);
    snprintf(part, sizeof part, "%s.part", root);
    /* a folder a killed export left is completed in place: every file in it is rewritten */
    if (!rc) rc = build(s, &cl, root, part);
    if (!rc) rc = publish(part, root);
    if (!rc) ws_log("done: %s (%d classes + background; train with mmsegmentation: tools/train.py %s/" CONFIG ")", root,
                    cl.n_fg, root);
    ws_classes_free(&cl);
    return rc;
}

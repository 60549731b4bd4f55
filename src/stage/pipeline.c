/* pipeline.c - the pipeline stage (see pipeline.h): runs the other stages in order, each in a
 * content-addressed cache folder with a DONE stamp.
 *
 * Owns the pipeline's key table (its own keys plus every stage's section under a prefix), the
 * cache key of each stage, the run folder <out_dir>/<run>/ (config.yaml, links to the stages,
 * eval*.md/json, report.html) and the order of the stages (ARCHITECTURE.md's stage graph).
 */
#define _DEFAULT_SOURCE
#include "stage/pipeline.h"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/sha1.h"
#include "core/status.h"
#include "data/dataset.h"
#include "io/store.h"
#include "model/bpe.h"
#include "model/clip.h"
#include "model/sam.h"
#include "shim/rank.h"
#include "stage/caa.h"
#include "stage/cam.h"
#include "stage/eval.h"
#include "stage/report.h"
#include "stage/runtime.h"
#include "stage/seed.h"
#include "stage/train.h"

#define OFF(f) offsetof(ws_pipe_cfg, f)
static const ws_cfg_key HEAD_KEYS[] = {
    {"run", WS_CFG_STR, OFF(run), "run name: <out_dir>/<run>/ holds links to the stages, eval and report.html"},
    {"out_dir", WS_CFG_STR, OFF(out_dir), "folder of runs"},
    {"cache_dir", WS_CFG_STR, OFF(cache_dir), "stage outputs, shared by runs; '' = <out_dir>/cache"},
};
/* then model.*, data.* (io/settings.h), then: */
static const ws_cfg_key MID_KEYS[] = {
    {"data.synth", WS_CFG_INT, OFF(synth), "> 0: first write a synthetic VOC-layout dataset of this many images"},
    {"data.synth_min_side", WS_CFG_INT, OFF(synth_min), "synthetic image sides from"},
    {"data.synth_max_side", WS_CFG_INT, OFF(synth_max), "... to"},
    {"data.synth_classes", WS_CFG_INT, OFF(synth_classes), "synthetic classes 1..N (custom: the class list's)"},
    {"caa.cls.sinkhorn", WS_CFG_INT, OFF(caa_cls.sinkhorn_iters), "coarse CAA: Sinkhorn iterations"},
    {"caa.cls.power", WS_CFG_INT, OFF(caa_cls.power), "coarse CAA: affinity matrix power"},
    {"caa.cls.box_thresh", WS_CFG_FLOAT, OFF(caa_cls.box_thresh), "coarse CAA: box threshold on the score"},
    {"caa.cls.at_cam", WS_CFG_BOOL, OFF(caa_cls.at_cam), "coarse CAA: propagate the raw CAM (else the score)"},
    {"caa.seg.sinkhorn", WS_CFG_INT, OFF(caa_seg.sinkhorn_iters), "fine CAA: Sinkhorn iterations"},
    {"caa.seg.power", WS_CFG_INT, OFF(caa_seg.power), "fine CAA: affinity matrix power"},
    {"caa.seg.box_thresh", WS_CFG_FLOAT, OFF(caa_seg.box_thresh), "fine CAA: box threshold on the score"},
    {"caa.seg.at_cam", WS_CFG_BOOL, OFF(caa_seg.at_cam), "fine CAA: propagate the raw CAM (else the score)"},
    {"seed.cls_pow", WS_CFG_FLOAT, OFF(pow_cls), "coarse seeds: background score (1 - max)^pow"},
    {"seed.seg_pow", WS_CFG_FLOAT, OFF(pow_seg), "fine seeds: background score (1 - max)^pow"},
};
/* then runtime.*, then: */
static const ws_cfg_key TAIL_KEYS[] = {
    {"report.images", WS_CFG_INT, OFF(report_images), "images shown in report.html"},
    {"boxed.enable", WS_CFG_BOOL, OFF(boxed), "also make boxed-SAM seeds (CLIP labels + Grounding-DINO + SAM) and evaluate them beside FMA's"},
};
#define NK(a) (sizeof a / sizeof a[0])

/* One table for the whole pipeline: the same masks/train/boxes keys a single command reads, re-rooted under
 * masks., cls., seg. and boxed., so a stage run by the pipeline and by hand reads the same key names and
 * defaults. The masks section takes only its amg.* rows: model, data and runtime come from the pipeline's
 * shared keys. */
int ws_pipe_keys(ws_cfg_key **tab, size_t *n)
{
    static const char *const model[] = {"model.clip", "model.vocab", "model.sam", "model.decoder_heads", NULL};
    static const char *const data[] = {"data.dataset", "data.classes", "data.class_file",
                                       "data.root", "data.split", "data.image_dir", "data.label_dir",
                                       "data.split_file", "data.labels_file", NULL};
    static const char *const train_sections[] = {"prompt.", "aug.", "loss.", "optim.", "train.", NULL};
    static const char *const amg_section[] = {"amg.", NULL};
    /* the boxed section: its detector files (into the shared model paths) and its own settings */
    static const char *const box_model[] = {"model.gdino", "model.bert_vocab", "model.bert_config", NULL};
    static const char *const box_section[] = {"labels.", "gdino.", "boxes.json", "boxseed.overlap", "boxseed.max_box_frac",
                                              "boxseed.min_mask_frac", "boxseed.ignore_", NULL};
    size_t nm = 0, nt = 0, nb = 0;
    const ws_cfg_key *mk = ws_masks_keys(&nm), *tk = ws_train_keys(&nt), *bk = ws_boxes_own_keys(&nb);
    *tab = NULL;
    *n = 0;
    if (!mk || !tk) return ws_fail(WS_ENOMEM, "out of memory");
    int rc = ws_cfg_table_add(tab, n, HEAD_KEYS, NK(HEAD_KEYS), NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(tab, n, WS_MODEL_KEYS, WS_MODEL_NKEYS, model, "", OFF(model));
    if (!rc) rc = ws_settings_add(tab, n, WS_DATA_KEYS, WS_DATA_NKEYS, data, "", OFF(data));
    if (!rc) rc = ws_cfg_table_add(tab, n, MID_KEYS, NK(MID_KEYS), NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(tab, n, WS_RUNTIME_KEYS, WS_RUNTIME_NKEYS, NULL, "", OFF(runtime));
    if (!rc) rc = ws_cfg_table_add(tab, n, TAIL_KEYS, NK(TAIL_KEYS), NULL, NULL, "", 0);
    if (!rc) rc = ws_cfg_table_add(tab, n, mk, nm, amg_section, "amg.", "masks.", OFF(masks));
    if (!rc) rc = ws_cfg_table_add(tab, n, tk, nt, train_sections, NULL, "cls.", OFF(cls));
    if (!rc) rc = ws_cfg_table_add(tab, n, tk, nt, train_sections, NULL, "seg.", OFF(seg));
    if (!rc) rc = ws_settings_add(tab, n, WS_MODEL_KEYS, WS_MODEL_NKEYS, box_model, "boxed.", OFF(model));
    if (!rc) rc = ws_cfg_table_add(tab, n, bk, nb, box_section, NULL, "boxed.", OFF(box));
    return rc;
}

void ws_pipe_defaults(ws_pipe_cfg *c)
{
    memset(c, 0, sizeof *c);
    ws_train_defaults(&c->cls);
    ws_train_defaults_seg(&c->seg);
    ws_model_paths_defaults(&c->model);
    ws_data_defaults(&c->data);
    ws_runtime_defaults(&c->runtime);
    strcpy(c->out_dir, "experiments");
    strcpy(c->run, "voc");
    ws_masks_defaults(&c->masks);
    c->synth_min = 160;
    c->synth_max = 320;
    c->synth_classes = 20;
    ws_caa_cfg_fma(&c->caa_cls, 0);
    ws_caa_cfg_fma(&c->caa_seg, 1);
    /* FMA-WSSS's released background powers: 0.6 on the coarse (cls) CAMs, 0.7 on the fine (seg) ones. The
     * two CAA settings differ the same way (ws_caa_cfg_fma's second argument: box threshold 0.4 vs 0.5, score
     * vs raw CAM). */
    c->pow_cls = 0.6;
    c->pow_seg = 0.7;
    c->report_images = 6;
    ws_boxes_defaults(&c->box);
}

/* ---- content-addressed stages ----------------------------------------------------------------- */

typedef struct stage {
    char key[41];                      /* sha1 hex of the stage's settings text */
    char dir[2 * WS_CFG_STR_MAX + 64]; /* cache folder */
    int done;                          /* DONE stamp and every output there: the stage is skipped */
    char name[32];                     /* masks, train_cls, ..., seeds_boxed */
    int lock;                          /* 1 + descriptor of the held <dir>/.lock, 0 when not held */
} stage;

typedef struct prun {
    const ws_pipe_cfg *c;
    ws_cfg_key *keys;
    size_t nkeys;
    char run_dir[2 * WS_CFG_STR_MAX];
    stage masks, train[2], cam[2], caa[2], seed[2], boxed;
    int n_images;                      /* images of the split: what a complete stage holds */
    int run_lock;                      /* 1 + descriptor of the held <run_dir>/.lock */
} prun;


/* The cache key is computed from this text rather than from the whole config, so that changing, e.g.,
 * report.images does not rerun SAM over the split. */
/* The class rows are never dumped as written: what counts is the resolved list (a class file edited in place
 * keeps its path), appended by stages that use classes (classes 1) when data.dataset is custom; the masks
 * stage does not depend on them. VOC's and COCO's stage texts stay what they were before custom lists. */
static int classes_text(const ws_data_cfg *d, char **text)
{
    ws_classes cl;
    int rc = strcmp(d->dataset, "custom") ? 0 : ws_data_class_list(d, &cl);
    if (rc || strcmp(d->dataset, "custom")) return rc;
    size_t len = strlen(*text) + 64, o;
    for (int k = 1; k <= cl.n_fg; k++) len += strlen(cl.label[k]) + strlen(cl.prompt[k - 1]) + 8;
    char *t = realloc(*text, len);
    if (!t) { ws_classes_free(&cl); return ws_fail(WS_ENOMEM, "out of memory"); }
    o = strlen(t);
    o += (size_t)snprintf(t + o, len - o, "classes (resolved):");
    for (int k = 1; k <= cl.n_fg; k++) o += (size_t)snprintf(t + o, len - o, " %d=%s:%s", k, cl.label[k], cl.prompt[k - 1]);
    snprintf(t + o, len - o, "\n");
    *text = t;
    ws_classes_free(&cl);
    return 0;
}

/* The YAML of the keys of table tab whose names start with one of the prefixes (the class rows
 * aside), then the resolved custom class list when `classes`. */
static char *keys_text(const ws_cfg_key *tab, size_t n, const ws_pipe_cfg *settings, const char *const *prefixes, int classes)
{
    ws_cfg_key *sub = malloc(n * sizeof *sub);
    size_t k = 0;
    for (size_t i = 0; sub && i < n; i++) {
        if (!strcmp(tab[i].key, "data.classes") || !strcmp(tab[i].key, "data.class_file")) continue;
        for (int j = 0; prefixes[j]; j++)
            if (!strncmp(tab[i].key, prefixes[j], strlen(prefixes[j]))) { sub[k++] = tab[i]; break; }
    }
    char *t = sub ? ws_cfg_dump(sub, k, settings) : NULL;
    free(sub);
    if (t && classes && classes_text(&settings->data, &t)) { free(t); return NULL; }
    return t;
}

/* 1 when the store at dir/file is a complete store of `format` holding n images. */
static int store_whole(const char *dir, const char *file, const char *group, int n)
{
    char path[4200], **ids = NULL;
    int k = 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (access(path, F_OK) || ws_store_ids_in(path, group, &ids, &k)) { ws_clear_error(); return 0; }
    ws_h5_strings_free(ids, (size_t)k);
    return k == n;
}

/* 1 when dir/sub holds n PNGs (each lands atomically, so a PNG that exists is whole). */
static int pngs_whole(const char *dir, const char *sub, int n)
{
    char path[4200], **ids = NULL;
    int k = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (ws_fs_list_ids(path, ".png", &ids, &k)) { ws_clear_error(); return 0; }
    ws_fs_ids_free(ids, k);
    return k == n;
}

/* Whether a stage's outputs are all there: its DONE stamp alone is not trusted (a stage killed
 * or failed after writing part of its outputs, or outputs deleted by hand, are redone). */
static int outputs_whole(const stage *st, int n)
{
    char path[4200];
    const char *k = st->name;
    if (!strcmp(k, "masks")) return store_whole(st->dir, "masks.h5", "masks", n);
    if (!strncmp(k, "train_", 6)) {
        snprintf(path, sizeof path, "%s/train/checkpoints/final.h5", st->dir);
        return access(path, F_OK) == 0;
    }
    if (!strncmp(k, "cam_", 4)) return store_whole(st->dir, "cams.h5", "cams", n);
    if (!strncmp(k, "caa_", 4)) return store_whole(st->dir, "caa.h5", "cams", n);
    if (!strcmp(k, "seeds_boxed")) return store_whole(st->dir, "boxes.h5", "boxes", n) && pngs_whole(st->dir, "seeds", n);
    if (!strncmp(k, "seeds_", 6)) return pngs_whole(st->dir, "seeds", n);
    return 1;
}

/* Takes the stage's lock <dir>/.lock (a kernel lock: it dies with its holder) before its DONE stamp
 * is read, and holds it until the stage is finished: two pipelines sharing a cache (a sweep, two
 * runs started by hand) never compute one stage at once, and neither stamps a stage the other is
 * still writing. The second waits, then finds the stage done. */
static int stage_lock(stage *st)
{
    char lock[sizeof st->dir + 8];
    int fd;
    long holder;
    snprintf(lock, sizeof lock, "%s/.lock", st->dir);
    int rc = ws_fs_lock(lock, 0, &fd, &holder);
    if (rc == 1) {
        ws_log("wait  %s: process %ld is computing it in %s; waiting for it to finish", st->name, holder, st->dir);
        rc = ws_fs_lock(lock, 1, &fd, &holder);
    }
    if (!rc) st->lock = fd + 1;
    return rc < 0 ? rc : 0;
}

/* Releases every held stage lock (one stage is run at a time: this follows each). */
static void stages_unlock(prun *p)
{
    stage *all[] = {&p->masks, &p->train[0], &p->train[1], &p->cam[0], &p->cam[1], &p->caa[0], &p->caa[1],
                    &p->seed[0], &p->seed[1], &p->boxed};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]->lock) { close(all[i]->lock - 1); all[i]->lock = 0; }
}

/* The run folder's lock: a second pipeline on the same run (its links, eval and report) is refused
 * at once, naming the holder, rather than interleaving its files with the first's. */
static int run_lock(prun *p)
{
    char lock[sizeof p->run_dir + 8];
    int fd;
    long holder;
    snprintf(lock, sizeof lock, "%s/.lock", p->run_dir);
    int rc = ws_fs_lock(lock, 0, &fd, &holder);
    if (rc == 1)
        return ws_fail(WS_EINVAL, "another wsseed pipeline (process %ld) is running in %s: wait for it to end (its "
                       "stages are reused), stop it, or give this run another name (run: or --set run=NAME)", holder,
                       p->run_dir);
    if (!rc) p->run_lock = fd + 1;
    return rc;
}

/* The upstream keys chain the hashes: retraining the cls prompts changes every stage below them, while a
 * change to seed.seg_pow reruns only the fine seeds. The package version is hashed too, because a new
 * release may change an output format. */
static int stage_check_link(const prun *p, const char *name, stage *st);

/* Sets up stage `name`: key = sha1(name, text, upstream keys), its cache folder, the run's link;
 * the stage counts as done only when its DONE stamp and all its outputs are there. */
static int stage_begin(const prun *p, const char *name, const char *text, const stage *const *up, int n_up, stage *st)
{
    const ws_pipe_cfg *c = p->c;
    snprintf(st->name, sizeof st->name, "%s", name);
    size_t len = strlen(name) + strlen(text) + 64 * (size_t)n_up + 64;
    char *all = malloc(len);
    uint8_t d[20];
    if (!all) return ws_fail(WS_ENOMEM, "out of memory");
    int o = snprintf(all, len, "%s\n%s", name, text);   /* settings + inputs + the format version */
    for (int i = 0; i < n_up; i++) o += snprintf(all + o, len - (size_t)o, "\n%s", up[i]->key);
    snprintf(all + o, len - (size_t)o, "\nwsseed %s", PACKAGE_VERSION);
    ws_sha1(all, strlen(all), d);
    free(all);
    for (int i = 0; i < 20; i++) snprintf(st->key + 2 * i, 3, "%02x", d[i]);
    char cache[WS_CFG_STR_MAX + 16];
    if (c->cache_dir[0]) snprintf(cache, sizeof cache, "%s", c->cache_dir);
    else snprintf(cache, sizeof cache, "%.1000s/cache", c->out_dir);
    snprintf(st->dir, sizeof st->dir, "%s/%s-%.12s", cache, name, st->key);
    int rc = ws_mkdir_p(st->dir);
    /* One job's rank 0 holds the stage lock for all its ranks (they wait for its word below); another
     * pipeline on the same cache waits for it. */
    if (!rc && ws_rank_id() == 0) {
        rc = stage_lock(st);
        /* what a writer killed in this folder left half-written (a DONE stamp, seed PNGs), now that no
         * live process can be writing here */
        char seeds[sizeof st->dir + 8];
        snprintf(seeds, sizeof seeds, "%s/seeds", st->dir);
        if (!rc) ws_fs_remove_stale_tmp(st->dir, "");
        if (!rc) ws_fs_remove_stale_tmp(seeds, "");
    }
    /* Under several ranks rank 0 alone judges the stamp and links the stage; the others learn whether it
     * is done from it, so that no rank skips a stage the others run. */
    st->done = 0;
    if (ws_rank_id() == 0 && !rc) rc = stage_check_link(p, name, st);
    if ((rc = ws_rank_agree(rc, name))) return rc;
    int64_t done = st->done;
    if ((rc = ws_rank_sum_i64(&done, 1, name))) return rc;
    st->done = done > 0;
    return 0;
}

/* Rank 0's part of stage_begin: the DONE stamp checked against the outputs, the run's link. */
static int stage_check_link(const prun *p, const char *name, stage *st)
{
    char link[2 * WS_CFG_STR_MAX + 64];
    const char *run_dir = p->run_dir;
    char stamp[sizeof st->dir + 8];
    snprintf(stamp, sizeof stamp, "%s/DONE", st->dir);
    /* Only the stamp says "finished": a folder without one is resumed by the stage itself (each stage
     * continues from its per-image parts), never trusted as done. */
    st->done = access(stamp, F_OK) == 0;
    if (st->done && !outputs_whole(st, p->n_images)) {
        ws_log("redo  %s: its DONE stamp is there but its outputs are missing or incomplete", name);
        if (unlink(stamp)) return ws_fail(WS_EIO, "cannot remove %s: %s", stamp, strerror(errno));
        st->done = 0;
    }
    /* <run>/<name> -> the cache folder (absolute, so the run folder can move within the disk) */
    char abs[4096];
    if (!realpath(st->dir, abs)) return ws_fail(WS_EIO, "cannot resolve %s", st->dir);
    snprintf(link, sizeof link, "%s/%s", run_dir, name);
    /* Replace a link of an earlier run with other settings; the old cache folder stays for the runs that
     * still point at it. */
    unlink(link);
    if (symlink(abs, link)) return ws_fail(WS_EIO, "cannot link %s -> %s", link, abs);
    ws_log("%s %s (%.12s)", st->done ? "skip " : "stage", name, st->key);
    return 0;
}

/* The DONE stamp is written last, after the stage's outputs are checked: a crash before it leaves no
 * stamp, so the next run resumes the stage instead of skipping half an output. The stamp holds the
 * settings text so a cache folder says what it was made with. */
/* Writes the DONE stamp, last and only when every output is there (the stamp is what a later run
 * trusts; an incomplete stage must stay undone). */
static int stage_finish(const prun *p, stage *st, const char *text)
{
    char stamp[sizeof st->dir + 8];
    int rc = 0;
    /* Every rank has finished its share (each stage ends with the ranks agreeing); rank 0 writes the one
     * stamp and the others wait for it. */
    if (ws_rank_id() == 0 && !outputs_whole(st, p->n_images))
        rc = ws_fail(WS_EIO, "stage %s ended without all its outputs in %s (another process working on the same "
                     "cache folder?): run the pipeline again", st->name, st->dir);
    snprintf(stamp, sizeof stamp, "%s/DONE", st->dir);
    if (ws_rank_id() == 0 && !rc) rc = ws_fs_write_atomic(stamp, text, strlen(text));
    if (!(rc = ws_rank_agree(rc, st->name))) st->done = 1;
    return rc;
}

/* ---- the stages ------------------------------------------------------------------------------- */


/* The training settings of task t (0 cls, 1 seg), with the pipeline's model and data. */
static void train_cfg(const prun *p, int t, ws_train_cfg *tc)
{
    const ws_pipe_cfg *c = p->c;
    *tc = t ? c->seg : c->cls;
    tc->model = c->model;
    tc->data = c->data;
    tc->runtime = c->runtime;
    snprintf(tc->task, sizeof tc->task, "%s", t ? "seg" : "cls");
    snprintf(tc->out_dir, sizeof tc->out_dir, "%.1000s", p->train[t].dir);
    snprintf(tc->run, sizeof tc->run, "train");
    /* the seg prompts learn from the coarse seeds (the cls task's output) */
    if (t) snprintf(tc->data.seed_dir, sizeof tc->data.seed_dir, "%.1000s/seeds", p->seed[0].dir);
    else tc->data.seed_dir[0] = '\0';
}


static int run_masks(prun *p)
{
    const ws_pipe_cfg *c = p->c;
    static const char *const pre[] = {"data.", "model.sam", "model.decoder_heads", "masks.", NULL};
    char *text = keys_text(p->keys, p->nkeys, c, pre, 0);
    int rc = text ? stage_begin(p, "masks", text, NULL, 0, &p->masks) : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !p->masks.done) {
        /* The masks stage reads a plain image list (data.list), written here with absolute paths so that it
         * does not depend on the dataset layout or on the current folder when resumed. */
        /* the image list of the split, in any dataset layout */
        ws_dataset ds = {0};
        char list[sizeof p->masks.dir + 16];
        snprintf(list, sizeof list, "%s/images.txt", p->masks.dir);
        char tmp[sizeof list + 32];
        rc = ws_data_open(&c->data, WS_DATA_IMAGES_ONLY, &ds, NULL);
        FILE *f = rc ? NULL : ws_fs_open_tmp(list, tmp, sizeof tmp);
        if (!rc && !f) rc = WS_EIO;
        for (int i = 0; f && i < ds.n; i++) {
            char abs[4096], path[3 * WS_CFG_STR_MAX];
            snprintf(path, sizeof path, "%s/%s%s", ds.image_dir, ds.ids[i], ds.image_ext);
            fprintf(f, "%s\n", realpath(path, abs) ? abs : path);
        }
        if (f) rc = ws_fs_commit_file(f, tmp, list);
        ws_dataset_close(&ds);
        ws_masks_settings ms = c->masks;
        ms.model = c->model;
        ms.data = c->data;
        ms.runtime = c->runtime;
        snprintf(ms.data.list, sizeof ms.data.list, "%.1000s", list);
        snprintf(ms.store, sizeof ms.store, "%.1000s/masks.h5", p->masks.dir);
        /* --shard is for independent `wsseed masks` jobs; the ranks of a distributed pipeline split the images
         * by themselves (shim/rank.h). */
        ms.shard_i = 0;
        ms.shard_n = 1;
        ms.max_images = -1;
        if (!rc) rc = ws_stage_masks(&ms);
        if (!rc) rc = stage_finish(p, &p->masks, text);
    }
    free(text);
    return rc;
}

static int run_train(prun *p, int t)
{
    static const char *const pre_cls[] = {"data.", "model.clip", "model.vocab", "cls.", NULL};
    static const char *const pre_seg[] = {"data.", "model.clip", "model.vocab", "seg.", NULL};
    char *text = keys_text(p->keys, p->nkeys, p->c, t ? pre_seg : pre_cls, 1);
    const stage *up[1] = {&p->seed[0]};
    int rc = text ? stage_begin(p, t ? "train_seg" : "train_cls", text, up, t, &p->train[t])
                  : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !p->train[t].done) {
        /* "auto" resumes from the newest checkpoint in the stage's folder, so a killed training continues bit
         * for bit rather than starting over (the cache key already fixes every setting). */
        ws_train_settings ts = {.resume = "auto"};
        train_cfg(p, t, &ts.cfg);
        rc = ws_stage_train(&ts);
        if (!rc) rc = stage_finish(p, &p->train[t], text);
    }
    free(text);
    return rc;
}

static int run_cam(prun *p, int t)
{
    const stage *up[1] = {&p->train[t]};
    /* The CAM stage has no settings of its own: its key is the training run's key (prompts, data, CLIP)
     * alone. */
    int rc = stage_begin(p, t ? "cam_seg" : "cam_cls", "cam", up, 1, &p->cam[t]);
    if (!rc && !p->cam[t].done) {
        ws_cam_settings cs = {.max_images = -1};
        char ckpt[sizeof p->train[t].dir + 64], out[sizeof p->cam[t].dir + 16];
        train_cfg(p, t, &cs.train);
        snprintf(ckpt, sizeof ckpt, "%s/train/checkpoints/final.h5", p->train[t].dir);
        snprintf(out, sizeof out, "%s/cams.h5", p->cam[t].dir);
        cs.ckpt = ckpt;
        cs.out = out;
        rc = ws_stage_cam(&cs);
        if (!rc) rc = stage_finish(p, &p->cam[t], "cam");
    }
    return rc;
}

static int run_caa(prun *p, int t)
{
    static const char *const pre_cls[] = {"caa.cls.", NULL}, *const pre_seg[] = {"caa.seg.", NULL};
    char *text = keys_text(p->keys, p->nkeys, p->c, t ? pre_seg : pre_cls, 0);
    const stage *up[1] = {&p->cam[t]};
    int rc = text ? stage_begin(p, t ? "caa_seg" : "caa_cls", text, up, 1, &p->caa[t])
                  : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !p->caa[t].done) {
        char in[sizeof p->cam[t].dir + 16], out[sizeof p->caa[t].dir + 16];
        snprintf(in, sizeof in, "%s/cams.h5", p->cam[t].dir);
        snprintf(out, sizeof out, "%s/caa.h5", p->caa[t].dir);
        ws_caa_settings cs = {.in = in, .out = out, .caa = t ? p->c->caa_seg : p->c->caa_cls};
        rc = ws_stage_caa(&cs);
        if (!rc) rc = stage_finish(p, &p->caa[t], text);
    }
    free(text);
    return rc;
}

static int run_seed(prun *p, int t)
{
    static const char *const pre_cls[] = {"seed.cls_pow", NULL}, *const pre_seg[] = {"seed.seg_pow", NULL};
    char *text = keys_text(p->keys, p->nkeys, p->c, t ? pre_seg : pre_cls, 0);
    /* Seeds depend on the refined CAMs and the SAM masks: a new mask generator setting reruns the seeds
     * without retraining. */
    const stage *up[2] = {&p->caa[t], &p->masks};
    int rc = text ? stage_begin(p, t ? "seeds_fine" : "seeds_coarse", text, up, 2, &p->seed[t])
                  : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !p->seed[t].done) {
        char cams[sizeof p->caa[t].dir + 16], masks[sizeof p->masks.dir + 16], out[sizeof p->seed[t].dir + 16];
        snprintf(cams, sizeof cams, "%s/caa.h5", p->caa[t].dir);
        snprintf(masks, sizeof masks, "%s/masks.h5", p->masks.dir);
        snprintf(out, sizeof out, "%s/seeds", p->seed[t].dir);
        ws_seed_settings ss = {.cams = cams, .masks = masks, .out = out, .pow = t ? p->c->pow_seg : p->c->pow_cls};
        rc = ws_stage_seed(&ss);
        if (!rc) rc = stage_finish(p, &p->seed[t], text);
    }
    free(text);
    return rc;
}

/* The boxed-SAM seeds (wsseed boxes + boxseed) with the pipeline's CLIP, SAM and data. */
static int run_boxed(prun *p)
{
    const ws_pipe_cfg *c = p->c;
    /* The boxed seeds are independent of FMA-WSSS's prompts and CAMs: no upstream stage, so toggling
     * boxed.enable never reruns the FMA stages. */
    static const char *const pre[] = {"data.", "model.clip", "model.vocab", "model.sam", "model.decoder_heads", "boxed.", NULL};
    char *text = keys_text(p->keys, p->nkeys, c, pre, 1);
    int rc = text ? stage_begin(p, "seeds_boxed", text, NULL, 0, &p->boxed) : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && !p->boxed.done) {
        ws_boxes_settings b = c->box;
        b.model = c->model;   /* CLIP, SAM and the boxed.model.* detector files */
        b.data = c->data;
        b.runtime = c->runtime;
        snprintf(b.store, sizeof b.store, "%.1000s/boxes.h5", p->boxed.dir);
        snprintf(b.out, sizeof b.out, "%.1000s/seeds", p->boxed.dir);
        b.shard_i = 0;
        b.shard_n = 1;
        b.max_images = -1;
        rc = ws_stage_boxes(&b);
        if (!rc) rc = ws_stage_boxseed(&b);
        if (!rc) rc = stage_finish(p, &p->boxed, text);
    }
    free(text);
    return rc;
}

/* The one table of every seed mode (eval.md). */
static int write_eval_table(const char *path, const ws_eval_metrics *m, int n_modes)
{
    static const char *const label[3] = {"FMA-WSSS coarse (cls prompts, CAA, SAMS)", "FMA-WSSS fine (seg prompts, CAA, SAMS)",
                                          "boxed SAM (CLIP labels, Grounding-DINO, SAM)"};
    char tmp[4200];
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    fprintf(f, "| seeds | mIoU (%%) | pixel accuracy (%%) |\n|---|---:|---:|\n");
    for (int t = 0; t < n_modes; t++) fprintf(f, "| %s | %.2f | %.2f |\n", label[t], 100 * m[t].miou, 100 * m[t].accuracy);
    return ws_fs_commit_file(f, tmp, path);
}

/* Seed quality against the ground truth maps (when the dataset has them). */
static int run_eval(prun *p, double *miou, ws_eval_metrics *m, int64_t *const *conf)
{
    const ws_pipe_cfg *c = p->c;
    char path[sizeof p->run_dir + 64], seeds[sizeof p->seed[0].dir + 16];
    static const char *const mode[3] = {"coarse", "fine", "boxed"};
    const int n_modes = c->boxed ? 3 : 2;
    miou[0] = miou[1] = miou[2] = NAN;
    if (!c->data.label_dir[0]) { ws_log("no ground-truth maps (data.label_dir): seeds are not evaluated"); return 0; }
    ws_classes cl;
    int rc = ws_data_class_list(&c->data, &cl);
    if (rc) return rc;
    char *gt = ws_dataset_path(c->data.root, c->data.label_dir, c->data.split);
    if (!gt) { ws_classes_free(&cl); return ws_fail(WS_ENOMEM, "out of memory"); }
    for (int t = 0; t < n_modes && !rc; t++) {
        char json[sizeof path], md[sizeof path];
        snprintf(seeds, sizeof seeds, "%s/seeds", t < 2 ? p->seed[t].dir : p->boxed.dir);
        snprintf(json, sizeof json, "%s/eval_%s.json", p->run_dir, mode[t]);
        snprintf(md, sizeof md, "%s/eval_%s.md", p->run_dir, mode[t]);
        ws_eval_settings es = {.pred = seeds, .gt = gt, .n_cls = cl.n_fg + 1, .names = cl.label, .json = json,
                               .md = md, .quiet = 1, .conf = conf[t]};
        rc = ws_stage_eval(&es, &m[t]);
        if (!rc) miou[t] = m[t].miou;
    }
    free(gt);
    ws_classes_free(&cl);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/eval.md", p->run_dir);
    if ((rc = write_eval_table(path, m, n_modes))) return rc;
    if (c->boxed)
        ws_log("seed mIoU: coarse %.2f, fine %.2f, boxed %.2f (%s/eval.md)", 100 * miou[0], 100 * miou[1], 100 * miou[2], p->run_dir);
    else
        ws_log("seed mIoU: coarse %.2f, fine %.2f (%s/eval.md)", 100 * miou[0], 100 * miou[1], p->run_dir);
    return 0;
}

/* The resolved configuration of the run (every key, defaults included), so a run folder can be rerun or
 * compared without the command line that made it (style.md: reproducibility). */
static int write_config(const prun *p)
{
    char path[sizeof p->run_dir + 32];
    char *text = ws_cfg_dump(p->keys, p->nkeys, p->c);
    if (!text) return ws_fail(WS_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/config.yaml", p->run_dir);
    int rc = ws_fs_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

/* The report stage's inputs: every stage's output folder of this run, the evaluation of each seed
 * mode (em, conf: NULL without ground truth) and the dataset's class names. */
static int run_report(const prun *p, const ws_eval_metrics *em, int64_t *const *conf)
{
    const ws_pipe_cfg *c = p->c;
    char seeds[2][sizeof p->seed[0].dir + 32], metrics[2][sizeof p->train[0].dir + 32], cams[2][sizeof p->caa[0].dir + 16];
    char masks[sizeof p->masks.dir + 16];
    ws_classes cl;
    int rc = ws_data_class_list(&c->data, &cl);
    if (rc) return rc;
    snprintf(masks, sizeof masks, "%s/masks.h5", p->masks.dir);
    ws_report_input ri = {.run_dir = p->run_dir, .root = c->data.root, .split = c->data.split, .image_dir = c->data.image_dir,
                          .label_dir = c->data.label_dir, .n_images = c->report_images, .n_modes = c->boxed ? 3 : 2,
                          .eval = em, .masks = masks, .class_names = cl.label, .n_classes = cl.n_fg + 1};
    for (int t = 0; t < WS_REPORT_MODES; t++) ri.conf[t] = em ? conf[t] : NULL;
    for (int t = 0; t < 2; t++) {
        snprintf(seeds[t], sizeof seeds[t], "%s/seeds", p->seed[t].dir);
        snprintf(metrics[t], sizeof metrics[t], "%s/train/metrics.csv", p->train[t].dir);
        snprintf(cams[t], sizeof cams[t], "%s/caa.h5", p->caa[t].dir);
        ri.seeds[t] = seeds[t];
        ri.metrics[t] = metrics[t];
        ri.cams[t] = cams[t];
    }
    rc = ws_stage_report(&ri);
    ws_classes_free(&cl);
    if (!rc) ws_log("report: %s/report.html", p->run_dir);
    return rc;
}

/* What one pre-flight check found: problems are collected in msg (all of them, named by key), and
 * with `out` set every check prints one line (wsseed doctor). */
typedef struct checks {
    char msg[8192];
    int n;
    FILE *out;
} checks;

static void problem(checks *k, const char *key, const char *fmt, const char *file, const char *why)
{
    size_t o = strlen(k->msg);
    snprintf(k->msg + o, sizeof k->msg - o, *key ? "\n  %s: " : "\n  ", key);
    o = strlen(k->msg);
    snprintf(k->msg + o, sizeof k->msg - o, fmt, file, why);
    if (k->out) {
        fprintf(k->out, "  FAIL %-24s ", key);
        fprintf(k->out, fmt, file, why);
        fputc('\n', k->out);
    }
    k->n++;
}

/* A gzip file starts with 1f 8b: a vocabulary saved uncompressed under a .gz name, or an HTML error page
 * saved by a failed download, is caught here rather than deep in the tokenizer. */
static int gzip_magic(const char *file)
{
    unsigned char b[2] = {0, 0};
    FILE *f = fopen(file, "rb");
    size_t n = f ? fread(b, 1, 2, f) : 0;
    if (f) fclose(f);
    return n == 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/* A model spec's own check (ws_clip_spec_check, ...): *pseudo = 1 for a name that is no file. */
typedef int (*spec_check_fn)(const char *spec, int *pseudo);

/* Checks that `file` (named by key) is what a stage will read: a readable non-empty regular file
 * (dir = 0) or a readable folder (dir = 1). Pseudo paths such as random:tiny or builtin:bytes are
 * not files: `spec` (NULL: none allowed) says whether file is one and whether the model knows it,
 * so that random:nonsense is refused here and not after the masks. */
static void need(checks *k, const char *key, const char *file, spec_check_fn spec, int dir)
{
    struct stat st;
    int pseudo = 0;
    if (spec && file[0] && spec(file, &pseudo)) { problem(k, key, "%s%s", ws_last_error(), ""); return; }
    if (pseudo) {
        if (k->out) fprintf(k->out, "  ok   %-24s %s (built in, no file)\n", key, file);
        return;
    }
    if (!file[0]) { problem(k, key, "no %s given%s", dir ? "folder" : "file", ""); return; }
    if (stat(file, &st) || access(file, R_OK)) { problem(k, key, "cannot read '%s': %s", file, strerror(errno)); return; }
    if (dir && !S_ISDIR(st.st_mode)) { problem(k, key, "'%s' is %s, not a folder", file, "a file"); return; }
    if (!dir && S_ISDIR(st.st_mode)) { problem(k, key, "'%s' is %s, not a file", file, "a folder"); return; }
    if (!dir && st.st_size == 0) { problem(k, key, "'%s' is %s", file, "empty"); return; }
    size_t l = strlen(file);
    if (!dir && l > 3 && !strcmp(file + l - 3, ".gz") && !gzip_magic(file)) {
        problem(k, key, "'%s' is %s", file, "not gzip-compressed although its name ends in .gz");
        return;
    }
    if (k->out) {
        if (dir) fprintf(k->out, "  ok   %-24s %s (folder)\n", key, file);
        else fprintf(k->out, "  ok   %-24s %s (file, %.1f MB)\n", key, file, st.st_size / 1e6);
    }
}

/* The dataset's files: the root, image and label folders, the split and labels files. A synthetic dataset
 * the pipeline will write first (data.synth) is not checked. */
static void need_data(checks *k, const ws_pipe_cfg *c)
{
    const ws_data_cfg *d = &c->data;
    char *split = ws_dataset_path(d->root, d->split_file, d->split);
    if (c->synth > 0 && split && access(split, F_OK)) {
        if (k->out) fprintf(k->out, "  ok   %-24s %s (written by the pipeline: data.synth = %d)\n", "data.root", d->root, c->synth);
        free(split);
        return;
    }
    need(k, "data.root", d->root, NULL, 1);
    char *img = ws_dataset_path(d->root, d->image_dir, d->split);
    char *lab = d->label_dir[0] ? ws_dataset_path(d->root, d->label_dir, d->split) : NULL;
    char *lf = d->labels_file[0] ? ws_dataset_path(d->root, d->labels_file, d->split) : NULL;
    if (img) need(k, "data.image_dir", img, NULL, 1);
    if (lab) need(k, "data.label_dir", lab, NULL, 1);
    if (split) need(k, "data.split_file", split, NULL, 0);
    if (lf) need(k, "data.labels_file", lf, NULL, 0);
    free(split);
    free(img);
    free(lab);
    free(lf);
}

int ws_pipe_preflight(const ws_pipe_cfg *c, FILE *out)
{
    checks k = {.out = out};
    need(&k, "model.clip", c->model.clip, ws_clip_spec_check, 0);
    need(&k, "model.vocab", c->model.vocab, ws_bpe_spec_check, 0);
    need(&k, "model.sam", c->model.sam, ws_sam_spec_check, 0);
    if (c->boxed && !c->box.json[0]) {
        need(&k, "boxed.model.gdino", c->model.gdino, NULL, 0);   /* a release checkpoint only */
        need(&k, "boxed.model.bert_vocab", c->model.bert_vocab, NULL, 0);
        if (c->model.bert_config[0]) need(&k, "boxed.model.bert_config", c->model.bert_config, NULL, 0);
    }
    if (c->boxed && c->box.json[0]) need(&k, "boxed.boxes.json", c->box.json, NULL, 0);
    need_data(&k, c);
    ws_classes cl;
    /* a bad class list would stop the first training, after the masks */
    if (ws_data_class_list(&c->data, &cl)) problem(&k, "", "%s%s", ws_last_error(), "");
    else if (out) fprintf(out, "  ok   %-24s %d classes\n", "data.classes", cl.n_fg);
    ws_classes_free(&cl);
    for (int t = 0; t < 2; t++) {
        ws_train_cfg tc = t ? c->seg : c->cls;
        tc.runtime = c->runtime;
        snprintf(tc.task, sizeof tc.task, "%s", t ? "seg" : "cls");
        snprintf(tc.run, sizeof tc.run, "train");
        /* "cls.train.lr: ...": the message of the training's own check under the pipeline's section name */
        if (ws_train_check(&tc)) problem(&k, "", "%s.%s", t ? "seg" : "cls", ws_last_error());
        else if (out) fprintf(out, "  ok   %-24s settings within their ranges\n", t ? "seg.*" : "cls.*");
    }
    /* The other stages' own range checks, under the pipeline's section names, so a bad threshold of the
     * seeds is reported now rather than after days of masks and training. */
    if (ws_masks_check(&c->masks)) {   /* masks' "amg.x" is the pipeline's "masks.x" */
        const char *e = ws_last_error();
        problem(&k, "", "masks.%s%s", strncmp(e, "amg.", 4) ? e : e + 4, "");
    }
    for (int t = 0; t < 2; t++)
        if (ws_caa_check(t ? &c->caa_seg : &c->caa_cls)) problem(&k, "", "caa.%s: %s", t ? "seg" : "cls", ws_last_error());
    for (int t = 0; t < 2; t++) {
        ws_seed_settings ss = {.pow = t ? c->pow_seg : c->pow_cls};
        if (ws_seed_check(&ss)) problem(&k, "", "seed.%s: %s", t ? "seg_pow" : "cls_pow", ws_last_error());
    }
    if (c->boxed && ws_boxes_check(&c->box)) problem(&k, "", "boxed.%s%s", ws_last_error(), "");
    if (out && !k.n) fprintf(out, "  ok   %-24s settings within their ranges\n", "masks/caa/seed/boxed");
    return k.n ? ws_fail(WS_EINVAL, "the pipeline cannot run: %d problem%s found before any stage:%s", k.n, k.n > 1 ? "s" : "",
                         k.msg)
               : 0;
}

/* data.synth's dataset: VOC's layout with data.synth_classes classes, or for data.dataset: custom one with
 * the class list's classes (and its classes.txt, labels.txt). */
static int synth_dataset(const ws_pipe_cfg *c)
{
    if (strcmp(c->data.dataset, "custom"))
        return ws_synth_voc(c->data.root, c->synth, c->synth_min, c->synth_max, c->synth_classes, NULL, 0);
    ws_classes cl;
    int rc = ws_data_class_list(&c->data, &cl);
    if (!rc) rc = ws_synth_voc(c->data.root, c->synth, c->synth_min, c->synth_max, cl.n_fg, cl.label + 1, 0);
    ws_classes_free(&cl);
    return rc;
}

int ws_stage_pipeline(const ws_pipe_cfg *c, double *miou_coarse, double *miou_fine, double *miou_boxed)
{
    prun p;
    double miou[3] = {NAN, NAN, NAN};
    ws_eval_metrics em[3];
    memset(&p, 0, sizeof p);
    p.c = c;
    int rc = ws_pipe_keys(&p.keys, &p.nkeys);
    snprintf(p.run_dir, sizeof p.run_dir, "%s/%s", c->out_dir, c->run);
    if (!rc) rc = ws_mkdir_p(p.run_dir);
    /* Files of the run and the synthetic data are written by rank 0 alone, the others wait for them. */
    const int lead = ws_rank_id() == 0;
    if (!rc && lead) rc = run_lock(&p);
    if (!rc && lead) rc = write_config(&p);
    /* Once for the whole pipeline; the stages set the same value again (they are also commands of
     * their own). */
    if (!rc) rc = ws_stage_set_runtime(&c->runtime);
    if (!rc && c->synth > 0) {   /* a synthetic dataset, written once */
        char split[3 * WS_CFG_STR_MAX];
        snprintf(split, sizeof split, "%s/ImageSets/Segmentation/%s.txt", c->data.root, c->data.split);
        /* Written only when the split file is missing, so a second run reuses the same images (same cache
         * keys) instead of spending time rewriting them. */
        if (lead && access(split, F_OK)) {
            ws_log("writing a synthetic dataset of %d images to %s", c->synth, c->data.root);
            rc = synth_dataset(c);
        }
    }
    rc = ws_rank_agree(rc, "the pipeline's start");
    if (!rc) rc = ws_pipe_preflight(c, NULL);
    if (!rc) {   /* the split's size: what every complete stage holds */
        ws_dataset ds = {0};
        rc = ws_data_open(&c->data, WS_DATA_IMAGES_ONLY, &ds, NULL);
        p.n_images = ds.n;
        ws_dataset_close(&ds);
    }
    /* masks -> (train -> cam -> caa -> seeds) for cls, then seg (trained on the coarse seeds) */
    if (!rc) rc = run_masks(&p);
    stages_unlock(&p);
    for (int t = 0; t < 2 && !rc; t++) {
        rc = run_train(&p, t);
        stages_unlock(&p);
        if (!rc) rc = run_cam(&p, t);
        stages_unlock(&p);
        if (!rc) rc = run_caa(&p, t);
        stages_unlock(&p);
        if (!rc) rc = run_seed(&p, t);
        stages_unlock(&p);
    }
    if (!rc && c->boxed) rc = run_boxed(&p);
    stages_unlock(&p);
    /* Evaluation and report are cheap and read the run's links, so they are not cached: they rerun on every
     * invocation. */
    /* The confusion matrices of the seed modes, for the report's heat map. */
    int n_fg = 0;
    int64_t *conf[3] = {NULL, NULL, NULL};
    if (!rc && lead) rc = ws_data_classes(&c->data, &n_fg);
    for (int t = 0; t < 3 && !rc && lead; t++)
        if (!(conf[t] = calloc((size_t)(n_fg + 1) * (n_fg + 1), sizeof **conf))) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && lead) rc = run_eval(&p, miou, em, conf);
    if (!rc && lead) rc = run_report(&p, isfinite(miou[0]) ? em : NULL, conf);
    for (int t = 0; t < 3; t++) free(conf[t]);
    /* The other ranks learn the scores (a sweep on any rank sees the same summary) */
    double got[3] = {miou[0], miou[1], miou[2]};
    int arc = ws_rank_agree(rc, "the evaluation and report");
    if (!rc && !(rc = arc)) rc = ws_rank_bcast(got, sizeof got, "the seed scores");
    if (!rc) memcpy(miou, got, sizeof got);
    if (miou_coarse) *miou_coarse = miou[0];
    if (miou_fine) *miou_fine = miou[1];
    if (miou_boxed) *miou_boxed = miou[2];
    ws_cfg_table_free(p.keys, p.nkeys);
    if (p.run_lock) close(p.run_lock - 1);
    return rc;
}

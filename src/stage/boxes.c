/* boxes.c - the boxes stage of the boxed-SAM mode (spec method-gdino-boxed-sam.md), and the
 * settings it shares with the boxseed stage (stage/boxseed.c).
 *
 * Per image: the class set (zero-shot CLIP labels, or the ground truth), then one Grounding-DINO
 * pass per class with the class's prompt name as the caption (the image side is computed once per
 * image), boxes whose max token score exceeds gdino.box_thresh; or the boxes of a COCO-style JSON
 * file (another detector, io/boxjson.h). Output: the box store of io/boxstore.h, resumable and
 * shardable like the mask store.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage/boxes.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "core/strmap.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/boxjson.h"
#include "io/boxstore.h"
#include "io/store_ranks.h"
#include "shim/rank.h"
#include "stage/imagecheck.h"
#include "stage/runtime.h"
#include "method/boxseed.h"
#include "method/cliplabel.h"
#include "model/gdino.h"
#include "model/wordpiece.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

#define OFF(f) offsetof(ws_boxes_settings, f)
/* model.*, data.* (io/settings.h) come first, then: */
static const ws_cfg_key OWN_KEYS[] = {
    {"labels.source", WS_CFG_STR, OFF(source), "image classes for the detector: clip (zero-shot) or gt"},
    {"labels.tau", WS_CFG_FLOAT, OFF(tau), "CLIP labels: p_c >= tau (p = softmax(100 cos) over fg + bg), plus the top class"},
    {"gdino.box_thresh", WS_CFG_FLOAT, OFF(box_thresh), "keep queries whose max token score exceeds this"},
    {"gdino.text_thresh", WS_CFG_FLOAT, OFF(text_thresh), "phrase tokens above this (log only)"},
    {"gdino.size", WS_CFG_INT, OFF(size), "image transform: short side"},
    {"gdino.max_size", WS_CFG_INT, OFF(max_size), "image transform: long side at most"},
    {"boxes.json", WS_CFG_STR, OFF(json), "'' = run Grounding-DINO; else COCO-style boxes of another detector"},
    {"boxes.store", WS_CFG_STR, OFF(store), "box store; '' = <out_dir>/boxes/<split>.h5"},
    {"boxseed.overlap", WS_CFG_STR, OFF(overlap), "score (box score x SAM IoU wins; the spec's default) or maxid (higher class index, the closest impl)"},
    {"boxseed.max_box_frac", WS_CFG_FLOAT, OFF(max_box_frac), "drop boxes covering more of the image than this (0 = off; proposed 0.95)"},
    {"boxseed.min_mask_frac", WS_CFG_FLOAT, OFF(min_mask_frac), "drop masks smaller than this part of their box (0 = off; proposed 0.001)"},
    {"boxseed.ignore_band", WS_CFG_INT, OFF(ignore_band), "k > 0: 255 within k px of pixels where two classes' best scores are within ignore_delta"},
    {"boxseed.ignore_delta", WS_CFG_FLOAT, OFF(ignore_delta), "score margin of the ignore band"},
    {"boxseed.ignore_empty", WS_CFG_BOOL, OFF(ignore_empty), "images without boxes: all 255 instead of all background"},
    {"boxseed.out", WS_CFG_STR, OFF(out), "seed PNG folder; '' = <out_dir>/boxes/<split>_seeds"},
    {"out_dir", WS_CFG_STR, OFF(out_dir), "folder for default outputs"},
};
/* then runtime.threads, runtime.device, runtime.precision */

static ws_cfg_cached table;

static int build_table(ws_cfg_key **t, size_t *n)
{
    static const char *const data[] = {"data.dataset", "data.classes", "data.class_file",
                                       "data.root", "data.split", "data.image_dir", "data.label_dir",
                                       "data.split_file", "data.labels_file", NULL};
    static const char *const runtime[] = {"runtime.threads", "runtime.device", "runtime.precision", NULL};
    int rc = ws_settings_add(t, n, WS_MODEL_KEYS, WS_MODEL_NKEYS, NULL, "", OFF(model));
    if (!rc) rc = ws_settings_add(t, n, WS_DATA_KEYS, WS_DATA_NKEYS, data, "", OFF(data));
    if (!rc) rc = ws_cfg_table_add(t, n, OWN_KEYS, sizeof OWN_KEYS / sizeof OWN_KEYS[0], NULL, NULL, "", 0);
    if (!rc) rc = ws_settings_add(t, n, WS_RUNTIME_KEYS, WS_RUNTIME_NKEYS, runtime, "", OFF(runtime));
    return rc;
}

const ws_cfg_key *ws_boxes_keys(size_t *n)
{
    return ws_cfg_cached_table(&table, build_table, n);
}

const ws_cfg_key *ws_boxes_own_keys(size_t *n)
{
    *n = sizeof OWN_KEYS / sizeof OWN_KEYS[0];
    return OWN_KEYS;
}

void ws_boxes_defaults(ws_boxes_settings *s)
{
    memset(s, 0, sizeof *s);
    ws_model_paths_defaults(&s->model);
    ws_data_defaults(&s->data);
    ws_runtime_defaults(&s->runtime);
    strcpy(s->data.split, "train");   /* the boxed-SAM paper seeds VOC train */
    strcpy(s->source, "clip");
    s->tau = 0.1;
    s->box_thresh = 0.3;
    s->text_thresh = 0.25;
    s->size = 800;
    s->max_size = 1333;
    strcpy(s->overlap, "score");
    s->ignore_delta = 0.05;
    strcpy(s->out_dir, "experiments");
    s->runtime.threads = 2;            /* libtorch threads help Swin's many small products */
    s->shard_i = 0;
    s->shard_n = 1;
    s->max_images = -1;
}

int ws_boxes_check(const ws_boxes_settings *s)
{
#define NEED(cond, ...) do { if (!(cond)) return ws_fail(WS_EINVAL, __VA_ARGS__); } while (0)
#define UNIT(key, v) NEED((v) >= 0 && (v) <= 1, key ": %g is not in [0, 1]", (v))
    UNIT("labels.tau", s->tau);
    UNIT("gdino.box_thresh", s->box_thresh);
    UNIT("gdino.text_thresh", s->text_thresh);
    UNIT("boxseed.max_box_frac", s->max_box_frac);
    UNIT("boxseed.min_mask_frac", s->min_mask_frac);
    UNIT("boxseed.ignore_delta", s->ignore_delta);
    NEED(s->size >= 1 && s->size <= 8192, "gdino.size: %d is not in 1..8192", s->size);
    NEED(s->max_size >= 0 && s->max_size <= 16384, "gdino.max_size: %d is not in 0..16384 (0: no bound)", s->max_size);
    NEED(s->ignore_band >= 0, "boxseed.ignore_band: %d is negative", s->ignore_band);
#undef UNIT
#undef NEED
    return 0;
}

void ws_boxes_outputs(const ws_boxes_settings *s, char *store, size_t ns, char *out, size_t no)
{
    if (s->store[0]) snprintf(store, ns, "%s", s->store);
    else snprintf(store, ns, "%.1000s/boxes/%.200s.h5", s->out_dir, s->data.split);
    if (s->out[0]) snprintf(out, no, "%s", s->out);
    else snprintf(out, no, "%.1000s/boxes/%.200s_seeds", s->out_dir, s->data.split);
}

int ws_boxes_open_dataset(const ws_boxes_settings *s, ws_dataset *ds, int *n_fg)
{
    return ws_data_open(&s->data, 0, ds, n_fg);
}

/* ---- wsseed boxes ----------------------------------------------------------------------------- */

typedef struct boxrec {
    int n, cap;
    float *xyxy, *score;
    int64_t *cls;
} boxrec;

/* The boxes of one image, grown as the per-class detector passes return them (the count is not known before
 * the last class). */
static int rec_add(boxrec *r, const float *xyxy, float score, int cls)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        float *a = realloc(r->xyxy, (size_t)cap * 4 * sizeof *a), *b = a ? realloc(r->score, (size_t)cap * sizeof *b) : NULL;
        if (a) r->xyxy = a;
        if (b) r->score = b;
        int64_t *c = b ? realloc(r->cls, (size_t)cap * sizeof *c) : NULL;
        if (!c) return ws_fail(WS_ENOMEM, "out of memory");
        r->cls = c;
        r->cap = cap;
    }
    memcpy(r->xyxy + 4 * r->n, xyxy, 4 * sizeof *xyxy);
    r->score[r->n] = score;
    r->cls[r->n++] = cls;
    return 0;
}

/* json_boxes_of's sink: the image's record and label set */
typedef struct json_sink { boxrec *r; uint8_t *lab; } json_sink;
/* A class with a box in the file counts as present: with boxes.json the other detector decides the labels
 * too. */
static int json_take(void *ctx, const ws_json_box *b)
{
    json_sink *k = ctx;
    k->lab[b->cls] = 1;
    return rec_add(k->r, b->xyxy, b->score, b->cls);
}

typedef struct boxes_models {
    ws_clip clip;
    ws_bpe bpe;
    ws_cliplabel cl;
    ws_gdino gd;
    ws_wordpiece wp;
    ws_json_boxes json;
    ws_classes classes;   /* data.*'s class list: CLIP prompt names, detector captions, bg words */
    int use_clip, use_gdino;
} boxes_models;

static void models_free(boxes_models *m)
{
    ws_classes_free(&m->classes);
    ws_cliplabel_free(&m->cl);
    ws_clip_free(&m->clip);
    ws_bpe_free(&m->bpe);
    ws_gdino_free(&m->gd);
    ws_wordpiece_free(&m->wp);
    ws_json_boxes_free(&m->json);
}

static int boxes_image(const ws_boxes_settings *s, boxes_models *m, const ws_dataset *ds, int i, int n_fg, int have_gt,
                     ws_store *st, ws_label_stats *ls, long *n_boxes)
{
    const char *id = ds->ids[i];
    ws_image img = {0};
    /* Sized for the largest label set (data/classes.h); probs holds fg + the background prompts (at most
     * 25 words). */
    uint8_t gt[WS_CLASSES_MAX], lab[WS_CLASSES_MAX] = {0};
    float probs[WS_CLASSES_MAX + 32];
    boxrec r = {0};
    ws_gdino_scene sc = {0};
    int rc = ws_dataset_read(ds, i, &img, NULL, gt, 0);
    if (rc) goto cleanup;
    if (m->use_clip) {
        TRY(ws_cliplabel_probs(&m->cl, &m->clip, img.rgb, img.h, img.w, probs));
        ws_cliplabel_decide(probs, n_fg, s->tau, lab);
    } else if (!m->json.b) {
        memcpy(lab, gt, (size_t)n_fg);
    }
    if (m->json.b) {   /* another detector's boxes */
        json_sink k = {&r, lab};
        TRY(ws_json_boxes_of(&m->json, id, json_take, &k));
    } else {
        int any = 0;
        for (int c = 0; c < n_fg; c++) any |= lab[c];
        /* The image side (transform + Swin + multi-scale features) once per image and only when some class is
         * present; each class then costs one text encoding and the decoder. */
        if (any) TRY(ws_gdino_scene_begin(&m->gd, img.rgb, img.h, img.w, s->size, s->max_size, &sc));
        for (int c = 0; c < n_fg; c++) {
            if (!lab[c]) continue;
            ws_gdino_dets d;
            /* One caption per class, as the closest implementation prompts: a box's class is then its
             * caption's class, with no phrase matching. VOC's names are that code's dino_class_names
             * ("wild bird", "monitor/tv"); a custom list's are its prompt names. */
            TRY(ws_gdino_detect(&m->gd, &m->wp, &sc, m->classes.detect[c], s->box_thresh, s->text_thresh, &d));
            float *xy = malloc((size_t)(d.n ? d.n : 1) * 4 * sizeof *xy);
            if (!xy) { ws_gdino_dets_free(&d); rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
            /* Grounding-DINO returns normalised cx, cy, w, h; SAM's box prompt and the store want
             * pixel xyxy. */
            ws_box_to_pixels(d.cxcywh, d.n, img.w, img.h, xy);
            for (int k = 0; k < d.n && !rc; k++) rc = rec_add(&r, xy + 4 * k, d.score[k], c);
            free(xy);
            ws_gdino_dets_free(&d);
            if (rc) goto cleanup;
        }
    }
    if (have_gt) ws_label_stats_add(ls, lab, gt, n_fg);
    *n_boxes += r.n;
    /* The labels used, the ground truth and CLIP's probabilities are stored beside the boxes so `wsseed eval
     * --labels` and a change of labels.tau can be studied without rerunning the models. */
    ws_box_rec rec = {.n_cls = n_fg, .labels = lab, .gt_labels = have_gt ? gt : NULL, .n_probs = n_fg + m->cl.n_bg,
                      .clip_probs = m->use_clip ? probs : NULL, .n = r.n, .xyxy = r.xyxy, .score = r.score, .cls = r.cls,
                      .H = img.h, .W = img.w};
    rc = ws_boxstore_put(st, id, &rec);
cleanup:
    ws_gdino_scene_free(&sc);
    ws_image_free(&img);
    free(r.xyxy); free(r.score); free(r.cls);
    return rc;
}

/* The models the settings ask for: CLIP for zero-shot labels, Grounding-DINO + WordPiece for
 * boxes, or the boxes of a JSON file instead of the detector. */
static int models_open(const ws_boxes_settings *s, int n_fg, int have_gt, boxes_models *m)
{
    int rc = 0;
    m->use_clip = !s->json[0] && !strcmp(s->source, "clip");
    m->use_gdino = !s->json[0];
    if (strcmp(s->source, "clip") && strcmp(s->source, "gt"))
        return ws_fail(WS_EINVAL, "labels.source: '%s' is not clip or gt", s->source);
    /* Refused before any model is loaded: labels.source gt on a dataset without labels would otherwise detect
     * nothing on every image and write an all-background store. */
    if (!m->use_clip && !s->json[0] && !have_gt)
        return ws_fail(WS_EINVAL, "labels.source: gt, but the dataset has no labels (data.label_dir / data.labels_file)");
    TRY(ws_data_class_list(&s->data, &m->classes));
    if (s->json[0]) TRY(ws_json_boxes_load(s->json, n_fg, &m->json));
    if (m->use_clip) {
        TRY(ws_clip_open(&m->clip, s->model.clip));
        TRY(ws_bpe_load(&m->bpe, s->model.vocab));
        /* CLIP-ES's class and background names (data/classes.h): with the background prompts in the
         * softmax, a class must beat "sky", "grass", ... too before it counts as present. */
        TRY(ws_cliplabel_init(&m->cl, &m->clip, &m->bpe, m->classes.prompt, n_fg, m->classes.bg_words,
                              m->classes.n_bg_words));
    }
    if (m->use_gdino) {
        TRY(ws_gdino_load(&m->gd, s->model.gdino, s->model.bert_config[0] ? s->model.bert_config : NULL));
        TRY(ws_wordpiece_load(&m->wp, s->model.bert_vocab));
    }
cleanup:
    return rc;
}

/* Opens the box store (its folder created); the settings it records make a rerun with other
 * models or thresholds refuse the store instead of mixing boxes. */
static int store_open(const ws_boxes_settings *s, const boxes_models *m, const char *store, ws_store *st)
{
    char settings[10 * WS_CFG_STR_MAX], dir[2 * WS_CFG_STR_MAX];
    snprintf(settings, sizeof settings,
             "boxes: dataset %s %s/%s; labels %s (tau %g, clip %s); %s%s; gdino %s box %g text %g size %d/%d",
             s->data.dataset, s->data.root, s->data.split, s->json[0] ? "json" : s->source, s->tau, m->use_clip ? s->model.clip : "-",
             s->json[0] ? "json " : "", s->json, m->use_gdino ? s->model.gdino : "-", s->box_thresh, s->text_thresh, s->size,
             s->max_size);
    /* A custom class list is recorded too (edited between runs, it must not mix boxes of other classes);
     * VOC's and COCO's are fixed, and their stores keep the settings text they always had. */
    for (int c = 0; !strcmp(s->data.dataset, "custom") && c < m->classes.n_fg; c++) {
        size_t o = strlen(settings);
        snprintf(settings + o, sizeof settings - o, "%s%s=%s", c ? ", " : "; classes ", m->classes.label[c + 1],
                 m->classes.detect[c]);
    }
    snprintf(dir, sizeof dir, "%s", store);
    /* The default store lives under <out_dir>/boxes/, which need not exist yet. */
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash) { *slash = '\0'; rc = ws_mkdir_p(dir); }
    return rc ? rc : ws_boxstore_open_write(st, store, settings);
}

/* Grounding-DINO's RandomResize([size], max_size): size = round(max_size * short / long) when the long
 * side would pass max_size, which is 0 for a thin enough image (torchvision then fails as well). */
static void gdino_need(const void *ctx, int w, int h, int *ow, int *oh, double *bytes)
{
    const ws_boxes_settings *s = ctx;
    ws_gdino_resize_shape(h, w, s->size, s->max_size, oh, ow);
    *bytes = 0;
}

/* The images of this process (todo: its shard, subdivided among the ranks), checked by their headers. */
static int check_todo(const ws_boxes_settings *s, const ws_dataset *ds, const unsigned char *todo)
{
    char input[96];
    snprintf(input, sizeof input, "Grounding-DINO's resize (gdino.size %d, gdino.max_size %d)", s->size, s->max_size);
    return ws_stage_check_dataset(ds, todo, &(ws_image_need){.input = input, .step = "Grounding-DINO",
                                  .advice = "leave them out of the split", .fn = gdino_need, .ctx = s});
}

int ws_stage_boxes(const ws_boxes_settings *s)
{
    int shard_i, shard_n;   /* --shard i/n, subdivided among the ranks of this job */
    ws_rank_share(s->shard_i, s->shard_n, &shard_i, &shard_n);
    const long max_images = s->max_images;
    boxes_models m;
    ws_dataset ds = {0};
    ws_store st = {0};
    ws_label_stats ls = {0};
    char store[2 * WS_CFG_STR_MAX], out[2 * WS_CFG_STR_MAX];
    int n_fg = 0, rc, done = 0, complete = 0, todo = 0;
    unsigned char *mine = NULL;   /* mine[i]: image i is this process's and not stored yet */
    long n_boxes = 0;
    memset(&m, 0, sizeof m);
    ws_boxes_outputs(s, store, sizeof store, out, sizeof out);
    TRY(ws_stage_set_runtime(&s->runtime));
    TRY(ws_boxes_check(s));
    TRY(ws_boxes_open_dataset(s, &ds, &n_fg));
    /* Ground truth is optional (an unlabelled split can be seeded); with it, the label quality is logged as
     * the run goes. */
    const int have_gt = ds.label_dir || ds.labels;
    TRY(models_open(s, n_fg, have_gt, &m));
    TRY(store_open(s, &m, store, &st));
    /* Shard i of n takes images i, i + n, ...: a fixed rule, so processes agree without talking to
     * each other; the shards share one parts folder. */
    if (!(mine = ws_store_todo(&st, ds.ids, ds.n, shard_i, shard_n, &todo))) TRY(ws_fail(WS_ENOMEM, "out of memory"));
    if (m.use_gdino) TRY(check_todo(s, &ds, mine));
    ws_log("boxes of %d images of %s/%s (shard %d/%d; %d done before) -> %s", todo, s->data.root, s->data.split, shard_i, shard_n,
           (ds.n - shard_i + shard_n - 1) / shard_n - todo, store);
    ws_progress pg;
    ws_progress_start(&pg, "boxes", max_images >= 0 && max_images < todo ? max_images : todo);
    ws_at_guard inf = NULL;
    ws_at_inference_mode_enter(1, NULL, &inf);   /* frozen models: no autograd bookkeeping */
    for (int i = 0; i < ds.n && (max_images < 0 || done < max_images) && !rc; i++) {
        if (!mine[i] || ws_store_has(&st, ds.ids[i])) continue;   /* stored meanwhile by another run on the same store: skipped */
        rc = boxes_image(s, &m, &ds, i, n_fg, have_gt, &st, &ls, &n_boxes);
        done += !rc;
        if (!rc) ws_progress_step(&pg, 1, NULL);
    }
    ws_at_guard_exit(inf);
    if (rc) { ws_store_finish_ranks(&st, ds.ids, ds.n, rc, "boxes", &complete); goto cleanup; }
    ws_progress_end(&pg);
    if (have_gt && ls.images) {
        double p, r, f1;
        ws_label_stats_prf(&ls, &p, &r, &f1);
        ws_log("image labels (%s) on the %ld images of this run: precision %.3f, recall %.3f, F1 %.3f, exact %ld/%ld",
               s->json[0] ? "json" : s->source, ls.images, p, r, f1, ls.exact, ls.images);
    }
    ws_log("%ld boxes on %d images", n_boxes, done);
    /* rank 0 of the job assembles the store once all ranks are done; of independent --shard jobs, the
     * one that finds the split complete does */
    TRY(ws_store_finish_ranks(&st, ds.ids, ds.n, 0, "boxes", &complete));
    if (ws_rank_id() == 0)   /* the job's result, said once (every rank knows it) */
        ws_log(complete ? "done: %s (next: wsseed boxseed with the same config)"
                        : "stopped: %s is incomplete; run the command again (or the other shards) to continue", store);
cleanup:
    free(mine);
    ws_store_close(&st);
    ws_dataset_close(&ds);
    models_free(&m);
    return rc;
}


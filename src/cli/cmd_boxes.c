/* cmd_boxes.c - the boxed-SAM seed mode (spec method-gdino-boxed-sam.md) as two commands:
 *
 * `wsseed boxes CONFIG`: per image the class set (zero-shot CLIP labels, or the ground truth),
 * then one Grounding-DINO pass per class with the class's prompt name as the caption (the image
 * side is computed once per image), boxes whose max token score exceeds gdino.box_thresh; or the
 * boxes of a COCO-style JSON file (another detector). Output: an HDF5 box store, resumable and
 * shardable like the mask store:
 *   /boxes/<id>/{labels (C) u8, gt_labels (C) u8 (when the dataset has labels), clip_probs (C + B)
 *   f32 (CLIP labels only), xyxy (n, 4) f32 pixels, score (n) f32, cls (n) i64 (0-based class),
 *   image_hw (2) i64}; root attributes `format` = wsseed-boxes-1 and `settings`.
 * `wsseed boxseed CONFIG`: SAM prompted with every box (one mask each, one image embedding per
 * image), the label map composed by boxseed.overlap, 8-bit palette PNGs (existing ones skipped).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "cli/cli.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "core/strmap.h"
#include "data/dataset.h"
#include "data/image.h"
#include "io/store.h"
#include "method/boxseed.h"
#include "method/cliplabel.h"
#include "method/names.h"
#include "model/gdino.h"
#include "model/wordpiece.h"

#define BOX_FORMAT "wsseed-boxes-1"
#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)

#define OFF(f) offsetof(boxes_settings, f)
static const ws_cfg_key KEYS[] = {
    {"model.clip", WS_CFG_STR, OFF(clip), "CLIP for the image labels (ViT-B-16.pt) or random:tiny"},
    {"model.vocab", WS_CFG_STR, OFF(vocab), "CLIP BPE vocabulary, or builtin:bytes (random models only)"},
    {"model.gdino", WS_CFG_STR, OFF(gdino), "Grounding-DINO checkpoint (groundingdino_swint_ogc.pth)"},
    {"model.bert_vocab", WS_CFG_STR, OFF(bert_vocab), "BERT vocab.txt of bert-base-uncased"},
    {"model.bert_config", WS_CFG_STR, OFF(bert_config), "BERT config.json; '' = bert-base-uncased's sizes"},
    {"model.sam", WS_CFG_STR, OFF(sam), "SAM checkpoint (sam_vit_h_4b8939.pth) or random:tiny / random:vit_b"},
    {"model.decoder_heads", WS_CFG_INT, OFF(decoder_heads), "SAM mask-decoder heads; 0 = 8 for released models"},
    {"data.dataset", WS_CFG_STR, OFF(dataset), "voc or coco (class names)"},
    {"data.root", WS_CFG_STR, OFF(root), "dataset root"},
    {"data.split", WS_CFG_STR, OFF(split), "split to seed"},
    {"data.image_dir", WS_CFG_STR, OFF(image_dir), "images below root; {split} is replaced"},
    {"data.label_dir", WS_CFG_STR, OFF(label_dir), "ground-truth maps (gt labels, label P/R/F1); '' = none"},
    {"data.split_file", WS_CFG_STR, OFF(split_file), "id list below root"},
    {"data.labels_file", WS_CFG_STR, OFF(labels_file), "'' or '<id> <class> ...' lines"},
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
    {"runtime.threads", WS_CFG_INT, OFF(threads), "libtorch intra-op threads"},
};
#undef OFF

const ws_cfg_key *ws_boxes_keys(size_t *n)
{
    *n = sizeof KEYS / sizeof KEYS[0];
    return KEYS;
}

void ws_boxes_defaults(boxes_settings *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->clip, "checkpoints/ViT-B-16.pt");
    strcpy(s->vocab, "checkpoints/bpe_simple_vocab_16e6.txt.gz");
    strcpy(s->gdino, "checkpoints/groundingdino_swint_ogc.pth");
    strcpy(s->bert_vocab, "checkpoints/bert-base-uncased/vocab.txt");
    strcpy(s->sam, "checkpoints/sam_vit_h_4b8939.pth");
    strcpy(s->dataset, "voc");
    strcpy(s->root, "data/VOC2012");
    strcpy(s->split, "train");
    strcpy(s->image_dir, "JPEGImages");
    strcpy(s->label_dir, "SegmentationClassAug");
    strcpy(s->split_file, "ImageSets/Segmentation/{split}.txt");
    strcpy(s->source, "clip");
    s->tau = 0.1;
    s->box_thresh = 0.3;
    s->text_thresh = 0.25;
    s->size = 800;
    s->max_size = 1333;
    strcpy(s->overlap, "score");
    s->ignore_delta = 0.05;
    strcpy(s->out_dir, "experiments");
    s->threads = 2;
}

static void resolve_outputs(const boxes_settings *s, char *store, size_t ns, char *out, size_t no)
{
    if (s->store[0]) snprintf(store, ns, "%s", s->store);
    else snprintf(store, ns, "%.1000s/boxes/%.200s.h5", s->out_dir, s->split);
    if (s->out[0]) snprintf(out, no, "%s", s->out);
    else snprintf(out, no, "%.1000s/boxes/%.200s_seeds", s->out_dir, s->split);
}

static int open_dataset(const boxes_settings *s, ws_dataset *ds, int *n_fg)
{
    int coco = !strcmp(s->dataset, "coco");
    if (!coco && strcmp(s->dataset, "voc"))
        return ws_fail(WS_EINVAL, "data.dataset: '%s' is not voc or coco", s->dataset);
    *n_fg = coco ? 80 : 20;
    ws_dataset_spec d = {.root = s->root, .split = s->split, .image_dir = s->image_dir, .label_dir = s->label_dir,
                         .split_file = s->split_file, .labels_file = s->labels_file, .image_ext = ".jpg", .n_fg = *n_fg};
    return ws_dataset_open(ds, &d);
}

/* ---- COCO-style JSON boxes (read with libyaml: JSON is YAML flow syntax) ------------------------ */

typedef struct jbox { char *image; long image_num; int cls; float xyxy[4], score; } jbox;
typedef struct jboxes {
    jbox *b;
    int n, cap;
    /* index: image name / image number -> the first box (JSON order), next_* chain the rest */
    ws_strmap by_name, by_num;
    int *next_name, *next_num;
} jboxes;

static yaml_node_t *jget(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *jstr(yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE ? (char *)n->data.scalar.value : NULL; }

static int jnum(yaml_node_t *n, double *v)
{
    const char *s = jstr(n);
    char *e;
    if (!s) return 0;
    *v = strtod(s, &e);
    return e != s && !*e;
}

/* One box entry (image_id, category_id, bbox [x, y, w, h], optional score). */
static int json_entry(yaml_document_t *d, yaml_node_t *a, int k, const char *path, int n_fg, char **names,
                      const ws_strmap *num2name, jboxes *out)
{
    yaml_node_t *img = jget(d, a, "image_id"), *bb = jget(d, a, "bbox");
    double cat, v[4], sc = 1;
    if (!jstr(img) || !jnum(jget(d, a, "category_id"), &cat) || !bb || bb->type != YAML_SEQUENCE_NODE ||
        bb->data.sequence.items.top - bb->data.sequence.items.start != 4)
        return ws_fail(WS_EINVAL, "%s: box entry %d needs image_id, category_id and bbox [x, y, w, h]", path, k);
    for (int i = 0; i < 4; i++)
        if (!jnum(yaml_document_get_node(d, bb->data.sequence.items.start[i]), &v[i]))
            return ws_fail(WS_EINVAL, "%s: box entry %d: bbox[%d] is not a number", path, k, i);
    if (jget(d, a, "score") && !jnum(jget(d, a, "score"), &sc))
        return ws_fail(WS_EINVAL, "%s: box entry %d: score is not a number", path, k);
    if (cat < 1 || cat > n_fg || cat != floor(cat))
        return ws_fail(WS_EINVAL, "%s: box entry %d: category_id %g is not a class 1..%d (the label value)", path, k, cat, n_fg);
    if (!(v[2] >= 0) || !(v[3] >= 0) || !isfinite(v[0]) || !isfinite(v[1]))
        return ws_fail(WS_EINVAL, "%s: box entry %d: bbox [%g, %g, %g, %g] has a negative or invalid size", path, k, v[0], v[1],
                       v[2], v[3]);
    if (out->n == out->cap) {
        jbox *t = realloc(out->b, (size_t)(out->cap = out->cap ? 2 * out->cap : 256) * sizeof *t);
        if (!t) return ws_fail(WS_ENOMEM, "out of memory");
        out->b = t;
    }
    jbox *b = &out->b[out->n];
    const char *id = jstr(img);
    char *e;
    long num = strtol(id, &e, 10);
    b->image_num = *id && !*e ? num : -1;
    char key[32];
    int64_t at;
    snprintf(key, sizeof key, "%ld", b->image_num);   /* the "images" table: id -> file name stem */
    b->image = strdup(b->image_num >= 0 && ws_strmap_get(num2name, key, strlen(key), &at) ? names[at] : id);
    if (!b->image) return ws_fail(WS_ENOMEM, "out of memory");
    b->cls = (int)cat - 1;
    b->xyxy[0] = (float)v[0];
    b->xyxy[1] = (float)v[1];
    b->xyxy[2] = (float)(v[0] + v[2]);
    b->xyxy[3] = (float)(v[1] + v[3]);
    b->score = (float)sc;
    out->n++;
    return 0;
}

static void jboxes_free(jboxes *j)
{
    for (int i = 0; i < j->n; i++) free(j->b[i].image);
    free(j->b);
    free(j->next_name);
    free(j->next_num);
    ws_strmap_free(&j->by_name);
    ws_strmap_free(&j->by_num);
    memset(j, 0, sizeof *j);
}

/* Chains every box under its image name and its image number (built back to front, so each chain
 * runs in JSON order). */
static int jboxes_index(jboxes *j)
{
    j->next_name = malloc((size_t)(j->n ? j->n : 1) * sizeof *j->next_name);
    j->next_num = malloc((size_t)(j->n ? j->n : 1) * sizeof *j->next_num);
    if (!j->next_name || !j->next_num || ws_strmap_init(&j->by_name, (size_t)j->n) || ws_strmap_init(&j->by_num, (size_t)j->n))
        return ws_fail(WS_ENOMEM, "out of memory");
    for (int k = j->n - 1; k >= 0; k--) {
        char key[32];
        int64_t head;
        const char *name = j->b[k].image;
        j->next_name[k] = ws_strmap_get(&j->by_name, name, strlen(name), &head) ? (int)head : -1;
        if (ws_strmap_put(&j->by_name, name, strlen(name), k)) return ws_fail(WS_ENOMEM, "out of memory");
        j->next_num[k] = -1;
        if (j->b[k].image_num < 0) continue;
        snprintf(key, sizeof key, "%ld", j->b[k].image_num);
        j->next_num[k] = ws_strmap_get(&j->by_num, key, strlen(key), &head) ? (int)head : -1;
        if (ws_strmap_put(&j->by_num, key, strlen(key), k)) return ws_fail(WS_ENOMEM, "out of memory");
    }
    return 0;
}

/* A results list [{image_id, category_id, bbox, score}] or a dataset {images, annotations}. */
static int json_load(const char *path, int n_fg, jboxes *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open boxes file %s (boxes.json)", path);
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = 0, have_doc = yaml_parser_load(&p, &d);
    if (!have_doc) rc = ws_fail(WS_EINVAL, "%s: not valid JSON (line %zu: %s)", path, p.problem_mark.line + 1,
                                p.problem ? p.problem : "parse error");
    yaml_node_t *root = have_doc ? yaml_document_get_root_node(&d) : NULL, *list = root;
    char **names = NULL;
    ws_strmap num2name = {0};
    int n_img = 0;
    if (!rc && root && root->type == YAML_MAPPING_NODE) {
        list = jget(&d, root, "annotations");
        yaml_node_t *images = jget(&d, root, "images");
        if (images && images->type == YAML_SEQUENCE_NODE) {
            int m = (int)(images->data.sequence.items.top - images->data.sequence.items.start);
            names = calloc((size_t)(m ? m : 1), sizeof *names);
            if (!names || ws_strmap_init(&num2name, (size_t)m)) rc = ws_fail(WS_ENOMEM, "out of memory");
            for (int i = 0; !rc && i < m; i++) {
                yaml_node_t *im = yaml_document_get_node(&d, images->data.sequence.items.start[i]);
                const char *fn = jstr(jget(&d, im, "file_name"));
                double id;
                if (!fn || !jnum(jget(&d, im, "id"), &id)) continue;
                const char *base = strrchr(fn, '/') ? strrchr(fn, '/') + 1 : fn, *dot = strrchr(base, '.');
                char key[32];
                snprintf(key, sizeof key, "%ld", (long)id);
                names[n_img] = strndup(base, dot ? (size_t)(dot - base) : strlen(base));
                if (!names[n_img] || ws_strmap_put(&num2name, key, strlen(key), n_img)) rc = ws_fail(WS_ENOMEM, "out of memory");
                n_img++;
            }
        }
    }
    if (!rc && (!list || list->type != YAML_SEQUENCE_NODE))
        rc = ws_fail(WS_EINVAL, "%s: expected a list of boxes or an object with \"annotations\"", path);
    for (yaml_node_item_t *it = rc ? NULL : list->data.sequence.items.start; !rc && it < list->data.sequence.items.top; it++)
        rc = json_entry(&d, yaml_document_get_node(&d, *it), (int)(it - list->data.sequence.items.start), path, n_fg, names,
                        &num2name, out);
    if (!rc) rc = jboxes_index(out);
    for (int i = 0; i < n_img; i++) free(names[i]);
    free(names);
    ws_strmap_free(&num2name);
    if (have_doc) yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(f);
    if (rc) jboxes_free(out);
    return rc;
}

/* The boxes naming dataset image id, in JSON order: its exact name, or its trailing number (COCO
 * file names against numeric image_id). Each box once. */
static int json_boxes_of(const jboxes *j, const char *id, int (*add)(void *, const jbox *), void *ctx)
{
    int64_t a = -1, b = -1;
    if (!ws_strmap_get(&j->by_name, id, strlen(id), &a)) a = -1;
    const char *e = id + strlen(id), *t = e;
    while (t > id && t[-1] >= '0' && t[-1] <= '9') t--;
    if (t < e) {
        char key[32];
        snprintf(key, sizeof key, "%ld", strtol(t, NULL, 10));
        if (!ws_strmap_get(&j->by_num, key, strlen(key), &b)) b = -1;
    }
    while (a >= 0 || b >= 0) {   /* merge the two chains by index */
        const int k = (int)(b < 0 || (a >= 0 && a <= b) ? a : b);
        int rc = add(ctx, &j->b[k]);
        if (rc) return rc;
        if (a == k) a = j->next_name[k];
        if (b == k) b = j->next_num[k];
    }
    return 0;
}

/* ---- wsseed boxes ----------------------------------------------------------------------------- */

typedef struct boxrec {
    int n, cap;
    float *xyxy, *score;
    int64_t *cls;
} boxrec;

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
static int json_take(void *ctx, const jbox *b)
{
    json_sink *k = ctx;
    k->lab[b->cls] = 1;
    return rec_add(k->r, b->xyxy, b->score, b->cls);
}

static int put(ws_h5file *f, const char *id, const char *name, int dt, int nd, const int64_t *s, const void *d)
{
    char p[512];
    snprintf(p, sizeof p, "/boxes/%s/%s", id, name);
    return ws_h5_write_raw(f, p, dt, nd, s, d);
}

typedef struct boxes_models {
    ws_clip clip;
    ws_bpe bpe;
    ws_cliplabel cl;
    ws_gdino gd;
    ws_wordpiece wp;
    jboxes json;
    int use_clip, use_gdino;
} boxes_models;

static void models_free(boxes_models *m)
{
    ws_cliplabel_free(&m->cl);
    ws_clip_free(&m->clip);
    ws_bpe_free(&m->bpe);
    ws_gdino_free(&m->gd);
    ws_wordpiece_free(&m->wp);
    jboxes_free(&m->json);
}

static int one_image(const boxes_settings *s, boxes_models *m, const ws_dataset *ds, int i, int n_fg, int have_gt,
                     ws_store *st, ws_label_stats *ls, long *n_boxes)
{
    const char *id = ds->ids[i];
    const int coco = n_fg == 80;
    ws_image img = {0};
    uint8_t gt[80], lab[80] = {0};
    float probs[80 + 32];
    boxrec r = {0};
    ws_gdino_scene sc = {0};
    ws_h5file f = {0};
    int rc = ws_dataset_read(ds, i, &img, NULL, gt, 0), open = 0;
    if (rc) goto cleanup;
    if (m->use_clip) {
        TRY(ws_cliplabel_probs(&m->cl, &m->clip, img.rgb, img.h, img.w, probs));
        ws_cliplabel_decide(probs, n_fg, s->tau, lab);
    } else if (!m->json.b) {
        memcpy(lab, gt, (size_t)n_fg);
    }
    if (m->json.b) {   /* another detector's boxes */
        json_sink k = {&r, lab};
        TRY(json_boxes_of(&m->json, id, json_take, &k));
    } else {
        int any = 0;
        for (int c = 0; c < n_fg; c++) any |= lab[c];
        if (any) TRY(ws_gdino_scene_begin(&m->gd, img.rgb, img.h, img.w, s->size, s->max_size, &sc));
        for (int c = 0; c < n_fg; c++) {
            if (!lab[c]) continue;
            ws_gdino_dets d;
            TRY(ws_gdino_detect(&m->gd, &m->wp, &sc, coco ? WS_COCO_NAMES[c] : WS_VOC_DINO[c], s->box_thresh, s->text_thresh, &d));
            float *xy = malloc((size_t)(d.n ? d.n : 1) * 4 * sizeof *xy);
            if (!xy) { ws_gdino_dets_free(&d); rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
            ws_box_to_pixels(d.cxcywh, d.n, img.w, img.h, xy);
            for (int k = 0; k < d.n && !rc; k++) rc = rec_add(&r, xy + 4 * k, d.score[k], c);
            free(xy);
            ws_gdino_dets_free(&d);
            if (rc) goto cleanup;
        }
    }
    if (have_gt) ws_label_stats_add(ls, lab, gt, n_fg);
    *n_boxes += r.n;
    TRY(ws_store_part_begin(st, id, &f));
    open = 1;
    const int64_t c1[1] = {n_fg}, p1[1] = {n_fg + m->cl.n_bg}, n4[2] = {r.n, 4}, n1[1] = {r.n}, two[1] = {2},
                  hw[2] = {img.h, img.w};
    float zero4[4] = {0};
    int64_t zero1 = 0;
    TRY(put(&f, id, "labels", WS_U8, 1, c1, lab));
    if (have_gt) TRY(put(&f, id, "gt_labels", WS_U8, 1, c1, gt));
    if (m->use_clip) TRY(put(&f, id, "clip_probs", WS_F32, 1, p1, probs));
    TRY(put(&f, id, "xyxy", WS_F32, 2, n4, r.n ? r.xyxy : zero4));
    TRY(put(&f, id, "score", WS_F32, 1, n1, r.n ? r.score : zero4));
    TRY(put(&f, id, "cls", WS_I64, 1, n1, r.n ? r.cls : &zero1));
    TRY(put(&f, id, "image_hw", WS_I64, 1, two, hw));
    open = 0;
    rc = ws_store_part_commit(&f);
cleanup:
    if (open) ws_h5_close(&f);
    ws_gdino_scene_free(&sc);
    ws_image_free(&img);
    free(r.xyxy); free(r.score); free(r.cls);
    return rc;
}

int ws_boxes_run(const boxes_settings *s, int shard_i, int shard_n, long max_images)
{
    boxes_models m;
    ws_dataset ds = {0};
    ws_store st = {0};
    ws_label_stats ls = {0};
    char store[2 * WS_CFG_STR_MAX], out[2 * WS_CFG_STR_MAX], settings[10 * WS_CFG_STR_MAX];
    int n_fg = 0, rc, done = 0, complete = 0;
    long n_boxes = 0;
    memset(&m, 0, sizeof m);
    resolve_outputs(s, store, sizeof store, out, sizeof out);
    ws_at_set_num_threads(s->threads);
    TRY(open_dataset(s, &ds, &n_fg));
    const int have_gt = ds.label_dir || ds.labels;
    const int coco = n_fg == 80;
    m.use_clip = !s->json[0] && !strcmp(s->source, "clip");
    m.use_gdino = !s->json[0];
    if (strcmp(s->source, "clip") && strcmp(s->source, "gt"))
        { rc = ws_fail(WS_EINVAL, "labels.source: '%s' is not clip or gt", s->source); goto cleanup; }
    if (!m.use_clip && !s->json[0] && !have_gt)
        { rc = ws_fail(WS_EINVAL, "labels.source: gt, but the dataset has no labels (data.label_dir / data.labels_file)"); goto cleanup; }
    if (s->json[0]) TRY(json_load(s->json, n_fg, &m.json));
    if (m.use_clip) {
        TRY(ws_clip_open(&m.clip, s->clip));
        TRY(ws_bpe_load(&m.bpe, s->vocab));
        TRY(ws_cliplabel_init(&m.cl, &m.clip, &m.bpe, coco ? WS_COCO_FG : WS_VOC_FG, n_fg, coco ? WS_COCO_BG : WS_VOC_BG,
                              coco ? 23 : 25));
    }
    if (m.use_gdino) {
        TRY(ws_gdino_load(&m.gd, s->gdino, s->bert_config[0] ? s->bert_config : NULL));
        TRY(ws_wordpiece_load(&m.wp, s->bert_vocab));
    }
    snprintf(settings, sizeof settings,
             "boxes: dataset %s %s/%s; labels %s (tau %g, clip %s); %s%s; gdino %s box %g text %g size %d/%d",
             s->dataset, s->root, s->split, s->json[0] ? "json" : s->source, s->tau, m.use_clip ? s->clip : "-",
             s->json[0] ? "json " : "", s->json, m.use_gdino ? s->gdino : "-", s->box_thresh, s->text_thresh, s->size,
             s->max_size);
    char dir[sizeof store];
    snprintf(dir, sizeof dir, "%s", store);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = '\0'; TRY(ws_mkdir_p(dir)); }
    TRY(ws_store_open_write_as(&st, store, settings, "boxes", BOX_FORMAT));
    int todo = 0;
    for (int i = 0; i < ds.n; i++) todo += i % shard_n == shard_i && !ws_store_has(&st, ds.ids[i]);
    ws_log("boxes of %d images of %s/%s (shard %d/%d; %d done before) -> %s", todo, s->root, s->split, shard_i, shard_n,
           ds.n - todo, store);
    ws_progress pg;
    ws_progress_start(&pg, "boxes", max_images >= 0 && max_images < todo ? max_images : todo);
    ws_at_guard inf = NULL;
    ws_at_inference_mode_enter(1, NULL, &inf);   /* frozen models: no autograd bookkeeping */
    for (int i = 0; i < ds.n && (max_images < 0 || done < max_images) && !rc; i++) {
        if (i % shard_n != shard_i || ws_store_has(&st, ds.ids[i])) continue;
        rc = one_image(s, &m, &ds, i, n_fg, have_gt, &st, &ls, &n_boxes);
        done += !rc;
        if (!rc) ws_progress_step(&pg, 1, NULL);
    }
    ws_at_guard_exit(inf);
    if (rc) goto cleanup;
    ws_progress_end(&pg);
    if (have_gt && ls.images) {
        double p, r, f1;
        ws_label_stats_prf(&ls, &p, &r, &f1);
        ws_log("image labels (%s) on the %ld images of this run: precision %.3f, recall %.3f, F1 %.3f, exact %ld/%ld",
               s->json[0] ? "json" : s->source, ls.images, p, r, f1, ls.exact, ls.images);
    }
    ws_log("%ld boxes on %d images", n_boxes, done);
    TRY(ws_store_finish(&st, ds.ids, ds.n, &complete));
    ws_log(complete ? "done: %s (next: wsseed boxseed with the same config)"
                    : "stopped: %s is incomplete; run the command again (or the other shards) to continue", store);
cleanup:
    ws_store_close(&st);
    ws_dataset_close(&ds);
    models_free(&m);
    return rc;
}

/* ---- wsseed boxseed -------------------------------------------------------------------------- */

static int get(const ws_h5file *f, const char *id, const char *name, int dt, ws_array *a)
{
    char p[512];
    snprintf(p, sizeof p, "/boxes/%s/%s", id, name);
    return ws_h5_read(f, p, dt, a);
}

int ws_boxseed_run(const boxes_settings *s, long max_images)
{
    char store[2 * WS_CFG_STR_MAX], out[2 * WS_CFG_STR_MAX];
    ws_dataset ds = {0};
    ws_sam sam = {0};
    ws_h5file f = {0};
    uint8_t pal[768];
    int n_fg = 0, rc, done = 0, empty = 0;
    long dropped = 0;
    const int ov = !strcmp(s->overlap, "maxid") ? WS_OVERLAP_MAXID : !strcmp(s->overlap, "score") ? WS_OVERLAP_SCORE : -1;
    resolve_outputs(s, store, sizeof store, out, sizeof out);
    ws_voc_palette(pal);
    ws_at_set_num_threads(s->threads);
    if (ov < 0) return ws_fail(WS_EINVAL, "boxseed.overlap: '%s' is not maxid or score", s->overlap);
    TRY(open_dataset(s, &ds, &n_fg));
    TRY(ws_h5_open(&f, store));
    char fmt[64] = "";
    if (ws_h5_attr_string(&f, "/", "format", fmt, sizeof fmt) || strcmp(fmt, BOX_FORMAT)) {
        rc = ws_fail(WS_EINVAL, "%s is not a complete wsseed box store (run wsseed boxes with this config first)", store);
        goto cleanup;
    }
    TRY(ws_sam_open(&sam, s->sam, s->decoder_heads));
    TRY(ws_mkdir_p(out));
    int todo = 0;
    for (int i = 0; i < ds.n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s.png", out, ds.ids[i]);
        todo += access(p, F_OK) != 0;
    }
    ws_log("boxed-SAM seeds of %d images (%d done before), overlap %s -> %s", todo, ds.n - todo, s->overlap, out);
    ws_progress pg;
    ws_progress_start(&pg, "boxseed", max_images >= 0 && max_images < todo ? max_images : todo);
    ws_at_guard inf = NULL;
    ws_at_inference_mode_enter(1, NULL, &inf);
    for (int i = 0; i < ds.n && (max_images < 0 || done < max_images); i++) {
        const char *id = ds.ids[i];
        char p[4096];
        snprintf(p, sizeof p, "%s/%s.png", out, id);
        if (!access(p, F_OK)) continue;
        ws_array xy = {0}, sc = {0}, cl = {0};
        ws_image img = {0};
        ws_boxmask *bm = NULL;
        uint8_t *masks = NULL, *label = NULL;
        float *iou = NULL;
        ws_scope g;
        ws_scope_init(&g);
        rc = get(&f, id, "xyxy", WS_F32, &xy);
        if (rc) rc = ws_fail(rc, "image %s has no boxes in %s (was wsseed boxes run on this split?)", id, store);
        if (!rc) rc = get(&f, id, "score", WS_F32, &sc);
        if (!rc) rc = get(&f, id, "cls", WS_I64, &cl);
        uint8_t fg[80];
        if (!rc) rc = ws_dataset_read(&ds, i, &img, NULL, fg, 0);
        const int n = rc ? 0 : (int)xy.shape[0], H = img.h, W = img.w;
        if (!rc && !(label = calloc((size_t)H * W, 1))) rc = ws_fail(WS_ENOMEM, "out of memory");
        if (!rc && n > 0) {
            int rh = 0, rw = 0;
            masks = malloc((size_t)n * H * W);
            iou = malloc((size_t)n * sizeof *iou);
            bm = malloc((size_t)n * sizeof *bm);
            if (!masks || !iou || !bm) rc = ws_fail(WS_ENOMEM, "out of memory");
            ws_at_tensor emb = rc ? NULL : ws_sam_encode(&sam, &g, ws_sam_preprocess(&sam, &g, img.rgb, H, W, &rh, &rw), NULL);
            if (!rc && g.err) rc = ws_fail(g.err, "SAM on %s: %s", id, ws_last_error());
            if (!rc) rc = ws_boxseed_sam(&sam, emb, rh, rw, H, W, xy.data, n, masks, iou, NULL);
            int kept = 0;
            for (int k = 0; !rc && k < n; k++) {
                int64_t c = ((int64_t *)cl.data)[k];
                const float *b = (float *)xy.data + 4 * k;
                const uint8_t *mk = masks + (size_t)k * H * W;
                if (c < 0 || c >= n_fg) { rc = ws_fail(WS_EINVAL, "%s: image %s: class %lld out of range", store, id, (long long)c); break; }
                long area = 0;
                for (size_t q = 0; s->min_mask_frac > 0 && q < (size_t)H * W; q++) area += mk[q];
                if (ws_box_too_large(b, H, W, s->max_box_frac) || ws_mask_too_small(b, area, s->min_mask_frac)) { dropped++; continue; }
                bm[kept++] = (ws_boxmask){.mask = mk, .value = (int)c + 1, .score = ((float *)sc.data)[k], .iou = iou[k]};
            }
            if (!rc) rc = ws_boxseed_compose(bm, kept, H, W, ov, label);
            if (!rc) rc = ws_boxseed_ignore_band(bm, kept, H, W, s->ignore_band, s->ignore_delta, label);
        }
        empty += !rc && n == 0;
        if (!rc && n == 0 && s->ignore_empty) memset(label, 255, (size_t)H * W);
        if (!rc) rc = ws_png_write_u8(p, label, W, H, pal);
        ws_scope_free(&g);
        ws_array_free(&xy); ws_array_free(&sc); ws_array_free(&cl);
        ws_image_free(&img);
        free(bm); free(masks); free(label); free(iou);
        if (rc) break;
        done++;
        ws_progress_step(&pg, 1, NULL);
    }
    ws_at_guard_exit(inf);
    if (rc) goto cleanup;
    ws_progress_end(&pg);
    if (empty)
        ws_log("warning: %d images had no box and are all %s", empty,
               s->ignore_empty ? "255 (boxseed.ignore_empty)" : "background (as the closest implementation saves them)");
    if (dropped) ws_log("%ld boxes dropped by boxseed.max_box_frac / min_mask_frac", dropped);
    ws_log("done: %d seeds in %s (evaluate: wsseed eval %s --gt <label maps>)", done, out, out);
cleanup:
    ws_h5_close(&f);
    ws_sam_free(&sam);
    ws_dataset_close(&ds);
    return rc;
}

/* ---- the commands ---------------------------------------------------------------------------- */

static int parse(int argc, char **argv, const char *cmd, boxes_settings *s, int *shard_i, int *shard_n, long *max_images,
                 int *help)
{
    ws_boxes_defaults(s);
    *help = 0;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-' || !strcmp(argv[i - 1], "--help"))) {
            if (ws_cfg_load(KEYS, sizeof KEYS / sizeof KEYS[0], s, argv[i])) return ws_cli_error();
            break;
        }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) *help = 1;
        else if (!strcmp(o, "--set") && i + 1 < argc) {
            if (ws_cfg_set(KEYS, sizeof KEYS / sizeof KEYS[0], s, argv[++i])) return ws_cli_error();
        } else if (!strcmp(o, "--max-images") && i + 1 < argc) *max_images = atol(argv[++i]);
        else if (shard_i && !strcmp(o, "--shard") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d/%d", shard_i, shard_n) != 2 || *shard_n < 1 || *shard_i < 0 || *shard_i >= *shard_n) {
                fprintf(stderr, "wsseed %s: --shard needs i/n with 0 <= i < n, got '%s'\n", cmd, argv[i]);
                return 2;
            }
        } else if (o[0] == '-') {
            fprintf(stderr, "wsseed %s: unknown option '%s' (see wsseed %s --help)\n", cmd, o, cmd);
            return 2;
        }
    }
    return 0;
}

int ws_cmd_boxes(int argc, char **argv)
{
    boxes_settings s;
    int si = 0, sn = 1, help = 0;
    long mx = -1;
    int rc = parse(argc, argv, "boxes", &s, &si, &sn, &mx, &help);
    if (rc) return rc;
    if (help) {
        puts("Usage: wsseed boxes [CONFIG.yaml] [--set key=value]... [--shard i/n] [--max-images N]\n\n"
             "Boxed-SAM seed mode, step 1 (Ravanbakhsh et al.; spec method-gdino-boxed-sam.md): the classes of\n"
             "every image of data.split (zero-shot CLIP labels with labels.tau, or the ground truth), then one\n"
             "Grounding-DINO pass per class (caption = its prompt name) keeping boxes above gdino.box_thresh;\n"
             "or, with boxes.json, the boxes of another detector (COCO-style: a list of {image_id, category_id,\n"
             "bbox [x, y, w, h], score}, or {images, annotations}; category_id = label value 1..C). Writes an\n"
             "HDF5 box store (resumable: run again; --shard i/n splits the images among processes) and logs\n"
             "the labels' precision/recall/F1 against the ground truth. Next: wsseed boxseed.\n\nSettings:");
        ws_cfg_print_help(KEYS, sizeof KEYS / sizeof KEYS[0], &s, stdout);
        return 0;
    }
    return ws_boxes_run(&s, si, sn, mx) ? ws_cli_error() : 0;
}

int ws_cmd_boxseed(int argc, char **argv)
{
    boxes_settings s;
    int help = 0;
    long mx = -1;
    int rc = parse(argc, argv, "boxseed", &s, NULL, NULL, &mx, &help);
    if (rc) return rc;
    if (help) {
        puts("Usage: wsseed boxseed [CONFIG.yaml] [--set key=value]... [--max-images N]\n\n"
             "Boxed-SAM seed mode, step 2: SAM prompted with every box of the box store (one mask per box,\n"
             "multimask off, one image embedding per image), masks composed by boxseed.overlap (score: the\n"
             "mask with the highest box score x SAM IoU estimate wins, the spec's default; maxid: the higher\n"
             "class index wins, as the closest implementation), uncovered pixels 0; optional filters and\n"
             "ignore band (boxseed.*). Writes 8-bit palette PNGs (class indices, 255 = ignore) to\n"
             "boxseed.out; existing PNGs are kept, so an interrupted run continues. Same config as wsseed boxes.\n\n"
             "Settings:");
        ws_cfg_print_help(KEYS, sizeof KEYS / sizeof KEYS[0], &s, stdout);
        return 0;
    }
    return ws_boxseed_run(&s, mx) ? ws_cli_error() : 0;
}

/* ---- image-label quality of a box store (wsseed eval --labels) --------------------------------- */

int ws_cli_eval_labels(const char *store, const char *json, double *f1_out)
{
    char **ids = NULL;
    int n = 0, rc, n_fg = 0;
    ws_h5file f = {0};
    ws_label_stats ls = {0};
    long *tp = NULL, *fp = NULL, *fn = NULL;
    TRY(ws_store_ids_in(store, "boxes", &ids, &n));
    TRY(ws_h5_open(&f, store));
    for (int i = 0; i < n; i++) {
        ws_array a = {0}, b = {0};
        rc = get(&f, ids[i], "labels", WS_U8, &a);
        if (!rc && (rc = get(&f, ids[i], "gt_labels", WS_U8, &b)))
            rc = ws_fail(rc, "%s: image %s has no ground-truth labels (the dataset had no label maps or labels file)", store, ids[i]);
        if (!rc && !tp) {
            n_fg = (int)a.shape[0];
            tp = calloc((size_t)n_fg, sizeof *tp); fp = calloc((size_t)n_fg, sizeof *fp); fn = calloc((size_t)n_fg, sizeof *fn);
            if (!tp || !fp || !fn) rc = ws_fail(WS_ENOMEM, "out of memory");
        }
        if (!rc && (a.shape[0] != n_fg || b.shape[0] != n_fg)) rc = ws_fail(WS_ESHAPE, "%s: image %s: label sizes differ", store, ids[i]);
        if (!rc) {
            const uint8_t *p = a.data, *g = b.data;
            ws_label_stats_add(&ls, p, g, n_fg);
            for (int c = 0; c < n_fg; c++) { tp[c] += p[c] && g[c]; fp[c] += p[c] && !g[c]; fn[c] += !p[c] && g[c]; }
        }
        ws_array_free(&a);
        ws_array_free(&b);
        if (rc) goto cleanup;
    }
    double p, r, f1;
    ws_label_stats_prf(&ls, &p, &r, &f1);
    printf("image labels of %s: %ld images, precision %.4f, recall %.4f, F1 %.4f, exact sets %ld (%.1f %%)\n", store,
           ls.images, p, r, f1, ls.exact, ls.images ? 100.0 * (double)ls.exact / (double)ls.images : 0.0);
    if (f1_out) *f1_out = f1;
    if (json) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", json);
        FILE *o = fopen(tmp, "w");
        if (!o) { rc = ws_fail(WS_EIO, "cannot write %s", tmp); goto cleanup; }
        fprintf(o, "{\"images\": %ld, \"tp\": %ld, \"fp\": %ld, \"fn\": %ld, \"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, "
                   "\"exact\": %ld, \"per_class\": [", ls.images, ls.tp, ls.fp, ls.fn, isnan(p) ? 0 : p, isnan(r) ? 0 : r,
                isnan(f1) ? 0 : f1, ls.exact);
        for (int c = 0; c < n_fg; c++)
            fprintf(o, "%s{\"class\": %d, \"tp\": %ld, \"fp\": %ld, \"fn\": %ld}", c ? ", " : "", c + 1, tp[c], fp[c], fn[c]);
        fputs("]}\n", o);
        if (fclose(o) || rename(tmp, json)) { rc = ws_fail(WS_EIO, "cannot write %s", json); goto cleanup; }
    }
cleanup:
    ws_h5_close(&f);
    ws_h5_strings_free(ids, (size_t)n);
    free(tp); free(fp); free(fn);
    return rc;
}

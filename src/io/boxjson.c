/* boxjson.c - boxes of another detector in COCO-style JSON (see boxjson.h). JSON is YAML flow
 * syntax, so libyaml (already a dependency for the configs) parses it into a document tree.
 *
 * Owns the validation of each entry (named by its index, so a bad line in a large file can be
 * found), the images table's id -> file name mapping, and two indexes (by image name and by image
 * number) that let each dataset image find its boxes without a scan of the whole list.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/boxjson.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/status.h"

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

/* The whole scalar must be a number: "12abc" is refused, as in the config reader. */
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
                      const ws_strmap *num2name, ws_json_boxes *out)
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
    /* category_id is the label value (1-based, 0 being background in the seed maps), as in COCO results files
     * and in VOC's label PNGs. */
    if (cat < 1 || cat > n_fg || cat != floor(cat))
        return ws_fail(WS_EINVAL, "%s: box entry %d: category_id %g is not a class 1..%d (the label value)", path, k, cat, n_fg);
    /* Written as !(x >= 0) so that NaN fails too. */
    if (!(v[2] >= 0) || !(v[3] >= 0) || !isfinite(v[0]) || !isfinite(v[1]))
        return ws_fail(WS_EINVAL, "%s: box entry %d: bbox [%g, %g, %g, %g] has a negative or invalid size", path, k, v[0], v[1],
                       v[2], v[3]);
    /* The box is kept as float pixels (SAM's box prompt): a corner beyond float's range would be an infinite box. */
    if (fabs(v[0]) > FLT_MAX || fabs(v[1]) > FLT_MAX || !(fabs(v[0] + v[2]) <= FLT_MAX) || !(fabs(v[1] + v[3]) <= FLT_MAX))
        return ws_fail(WS_EINVAL, "%s: box entry %d: bbox [%g, %g, %g, %g] is out of range", path, k, v[0], v[1], v[2], v[3]);
    if (!isfinite(sc)) return ws_fail(WS_EINVAL, "%s: box entry %d: score %g is not a finite number", path, k, sc);
    if (out->n == out->cap) {
        ws_json_box *t = realloc(out->b, (size_t)(out->cap = out->cap ? 2 * out->cap : 256) * sizeof *t);
        if (!t) return ws_fail(WS_ENOMEM, "out of memory");
        out->b = t;
    }
    ws_json_box *b = &out->b[out->n];
    const char *id = jstr(img);
    char *e;
    long num = strtol(id, &e, 10);
    /* A numeric image_id (COCO results) is kept as a number so it can match the images table or the trailing
     * digits of a dataset file name (COCO_train2014_000000000009 -> 9). */
    b->image_num = *id && !*e ? num : -1;
    char key[32];
    int64_t at;
    snprintf(key, sizeof key, "%ld", b->image_num);   /* the "images" table: id -> file name stem */
    b->image = strdup(b->image_num >= 0 && ws_strmap_get(num2name, key, strlen(key), &at) ? names[at] : id);
    if (!b->image) return ws_fail(WS_ENOMEM, "out of memory");
    b->cls = (int)cat - 1;
    b->xyxy[0] = (float)v[0];
    b->xyxy[1] = (float)v[1];
    /* COCO's XYWH to the XYXY that SAM's box prompt and the box store use. */
    b->xyxy[2] = (float)(v[0] + v[2]);
    b->xyxy[3] = (float)(v[1] + v[3]);
    b->score = (float)sc;
    out->n++;
    return 0;
}

void ws_json_boxes_free(ws_json_boxes *j)
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
static int boxes_index(ws_json_boxes *j)
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
int ws_json_boxes_load(const char *path, int n_fg, ws_json_boxes *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ws_fail(WS_EIO, "cannot open boxes file %s (boxes.json)", path);
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    /* One document tree for the whole file, freed before this returns: only the boxes are kept. */
    int rc = 0, have_doc = yaml_parser_load(&p, &d);
    if (!have_doc) rc = ws_fail(WS_EINVAL, "%s: not valid JSON (line %zu: %s)", path, p.problem_mark.line + 1,
                                p.problem ? p.problem : "parse error");
    yaml_node_t *root = have_doc ? yaml_document_get_root_node(&d) : NULL, *list = root;
    char **names = NULL;
    ws_strmap num2name = {0};
    int n_img = 0;
    /* Two shapes are accepted: a detector's results list (what COCO evaluation tools take) and a
     * COCO dataset file with "images" + "annotations", whose images table maps ids to file names. */
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
                /* Matched against the whole-number image_id of the boxes, so nothing else can be an id (and a
                 * value beyond long's range has no conversion). */
                if (!(fabs(id) < 9.2e18) || id != floor(id)) {
                    rc = ws_fail(WS_EINVAL, "%s: images entry %d: id %g is not an image number", path, i, id);
                    break;
                }
                /* Image ids of the dataset are file stems: "JPEGImages/2007_000032.jpg" -> "2007_000032". */
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
    if (!rc) rc = boxes_index(out);
    for (int i = 0; i < n_img; i++) free(names[i]);
    free(names);
    ws_strmap_free(&num2name);
    if (have_doc) yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(f);
    if (rc) ws_json_boxes_free(out);
    return rc;
}

/* The boxes naming dataset image id, in JSON order: its exact name, or its trailing number (COCO
 * file names against numeric image_id). Each box once. */
int ws_json_boxes_of(const ws_json_boxes *j, const char *id, int (*add)(void *, const ws_json_box *), void *ctx)
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

/* amg.c - the automatic mask generator and FMA-WSSS's level-aware variant (see amg.h).
 *
 * SAM runs through the shim (one image encoding per crop, batched decoder calls); everything
 * after the mask logits - stability scores, boxes, filters, RLE, NMS, small regions,
 * rock-sand-water - is plain C on host buffers. The upsampling of the low-res logits with the
 * stability counts and the binarisation runs in C on the CPU (bit for bit ATen's, on every core)
 * and as ATen ops on a GPU (thousands of full-size masks per image), where only the binary masks
 * and the counts come back to the host.
 */
#include "method/amg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/runtime.h"
#include "core/status.h"
#include "data/rle.h"
#include "model/sam_upsample.h"
#include "shim/scope.h"

/* Tests: 1 runs the device path (ATen upsampling, thresholds and counts) on the CPU too. */
static int force_aten;
void ws_amg_force_aten(int on) { force_aten = on; }
static int use_aten(void) { return force_aten || ws_at_get_device().type != WS_AT_CPU; }

void ws_amg_cfg_sam_default(ws_amg_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->points_per_side = 32;
    c->points_per_batch = 64;
    c->pred_iou_thresh = 0.88;
    c->stability_score_thresh = 0.95;
    c->stability_score_offset = 1.0;
    c->box_nms_thresh = 0.7;
    c->crop_n_layers = 0;
    c->crop_nms_thresh = 0.7;
    c->crop_overlap_ratio = 512.0 / 1500.0;
    c->crop_n_points_downscale_factor = 1;
    c->min_mask_region_area = 0;
}

void ws_amg_cfg_fma_voc(ws_amg_cfg *c)
{
    ws_amg_cfg_sam_default(c);
    c->points_per_batch = 256;
    c->pred_iou_thresh = 0.86;
    c->stability_score_thresh = 0.92;
    c->crop_n_layers = 1;
    c->crop_n_points_downscale_factor = 2;
    c->min_mask_region_area = 100;
    c->score_thresh_offset[2] = 0.1f;
    c->score_nms_offset[2] = 1.0f;
    c->rock_sand_water_thresh = 0.3;
}

/* ---- records ---------------------------------------------------------------------------- */

static void rec_free(ws_amg_rec *r)
{
    free(r->mask);
    free(r->rle);
    r->mask = NULL;
    r->rle = NULL;
}

void ws_amg_list_free(ws_amg_list *l)
{
    for (int i = 0; l && i < l->n; i++) rec_free(&l->r[i]);
    if (l) free(l->r);
    if (l) memset(l, 0, sizeof *l);
}

static int list_push(ws_amg_list *l, const ws_amg_rec *r)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ws_amg_rec *p = realloc(l->r, (size_t)cap * sizeof *p);
        if (!p) return ws_fail(WS_ENOMEM, "mask generator: out of memory");
        l->r = p;
        l->cap = cap;
    }
    l->r[l->n++] = *r;
    return 0;
}

/* Keeps records keep[0..nk) in that order; frees the others. */
static int list_select(ws_amg_list *l, const int *keep, int nk)
{
    ws_amg_rec *nr = malloc((size_t)(nk ? nk : 1) * sizeof *nr);
    char *used = calloc((size_t)l->n + 1, 1);
    if (!nr || !used) { free(nr); free(used); return ws_fail(WS_ENOMEM, "mask generator: out of memory"); }
    for (int i = 0; i < nk; i++) { nr[i] = l->r[keep[i]]; used[keep[i]] = 1; }
    for (int i = 0; i < l->n; i++) if (!used[i]) rec_free(&l->r[i]);
    free(used);
    free(l->r);
    l->r = nr;
    l->n = l->cap = nk;
    return 0;
}

/* Snapshot of a list with RLEs only (for the stage traces). */
static int list_snapshot(const ws_amg_list *src, int H, int W, ws_amg_list *dst)
{
    for (int i = 0; i < src->n; i++) {
        ws_amg_rec r = src->r[i];
        r.mask = NULL;
        int rc = ws_rle_encode(src->r[i].mask, H, W, &r.rle, &r.n_rle);
        if (!rc) rc = list_push(dst, &r);
        if (rc) return rc;
    }
    return 0;
}

/* ---- geometry, RLE, NMS ------------------------------------------------------------------ */

void ws_amg_point_grid(int n, double *xy)
{
    /* numpy.linspace(1/(2n), 1 - 1/(2n), n): start + i*step, the last value exactly the stop */
    double off = 1.0 / (2 * n), stop = 1.0 - off, step = n > 1 ? (stop - off) / (n - 1) : 0;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            xy[2 * (r * n + c) + 0] = c == n - 1 && n > 1 ? stop : c * step + off;
            xy[2 * (r * n + c) + 1] = r == n - 1 && n > 1 ? stop : r * step + off;
        }
}

/* batched_mask_to_box for one (h, w) mask with row stride `stride`: inclusive XYXY. */
static void mask_box(const uint8_t *m, int h, int w, int stride, int64_t box[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = m + (size_t)y * stride;
        int a = 0;
        for (uint64_t word; a + 8 <= w; a += 8) {   /* first set pixel, 8 at a time */
            memcpy(&word, row + a, 8);
            if (word) break;
        }
        while (a < w && !row[a]) a++;
        if (a == w) continue;
        int b = w - 1;
        while (!row[b]) b--;
        if (a < x0) x0 = a;
        if (b > x1) x1 = b;
        if (y < y0) y0 = y;
        y1 = y;
    }
    if (x1 < 0) { box[0] = box[1] = box[2] = box[3] = 0; return; }
    box[0] = x0; box[1] = y0; box[2] = x1; box[3] = y1;
}

/* torchvision nms: stable sort by decreasing score, greedy suppression when IoU > thresh
 * (float32 IoU, compared in double). keep receives indices in keep order. */
static int nms(const int64_t (*boxes)[4], const float *scores, int n, double thresh, int *keep, int *nk)
{
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    char *sup = calloc((size_t)n + 1, 1);
    if (!order || !sup) { free(order); free(sup); return ws_fail(WS_ENOMEM, "NMS: out of memory"); }
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) {   /* stable insertion sort, descending */
        int v = order[i], j = i - 1;
        while (j >= 0 && scores[order[j]] < scores[v]) { order[j + 1] = order[j]; j--; }
        order[j + 1] = v;
    }
    *nk = 0;
    for (int a = 0; a < n; a++) {
        int i = order[a];
        if (sup[i]) continue;
        keep[(*nk)++] = i;
        float ix0 = (float)boxes[i][0], iy0 = (float)boxes[i][1], ix1 = (float)boxes[i][2], iy1 = (float)boxes[i][3];
        float ia = (ix1 - ix0) * (iy1 - iy0);
        for (int b = a + 1; b < n; b++) {
            int j = order[b];
            if (sup[j]) continue;
            float jx0 = (float)boxes[j][0], jy0 = (float)boxes[j][1], jx1 = (float)boxes[j][2], jy1 = (float)boxes[j][3];
            float ja = (jx1 - jx0) * (jy1 - jy0);
            float w = fmaxf(0.f, fminf(ix1, jx1) - fmaxf(ix0, jx0)), h = fmaxf(0.f, fminf(iy1, jy1) - fmaxf(iy0, jy0));
            float inter = w * h, ovr = inter / (ia + ja - inter);
            if ((double)ovr > thresh) sup[j] = 1;
        }
    }
    free(order);
    free(sup);
    return 0;
}

/* NMS over a list with the given scores; the list keeps the survivors in keep order. */
static int list_nms(ws_amg_list *l, const float *scores, double thresh)
{
    int64_t (*boxes)[4] = malloc((size_t)(l->n ? l->n : 1) * sizeof *boxes);
    int *keep = malloc((size_t)(l->n ? l->n : 1) * sizeof *keep), nk = 0, rc;
    if (!boxes || !keep) { free(boxes); free(keep); return ws_fail(WS_ENOMEM, "NMS: out of memory"); }
    for (int i = 0; i < l->n; i++) memcpy(boxes[i], l->r[i].box, sizeof boxes[i]);
    rc = nms((const int64_t(*)[4])boxes, scores, l->n, thresh, keep, &nk);
    if (!rc) rc = list_select(l, keep, nk);
    free(boxes);
    free(keep);
    return rc;
}

/* ---- small regions ---------------------------------------------------------------------- */

static int find(int *p, int x)
{
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
}

/* 8-connected labels of the pixels where fg[i] == want, numbered 1.. in raster order of each
 * component's first pixel; label 0 elsewhere. Returns the count, or -1 on allocation failure. */
static int label8(const uint8_t *m, int H, int W, uint8_t want, int *lab, int64_t **sizes)
{
    size_t n = (size_t)H * W;
    int *par = malloc((n + 1) * sizeof *par), next = 0;
    if (!par) return -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if ((m[i] != 0) != want) { lab[i] = -1; continue; }
            int l = -1;
            const int dy[4] = {-1, -1, -1, 0}, dx[4] = {-1, 0, 1, -1};
            for (int k = 0; k < 4; k++) {
                int yy = y + dy[k], xx = x + dx[k];
                if (yy < 0 || xx < 0 || xx >= W) continue;
                int o = lab[(size_t)yy * W + xx];
                if (o < 0) continue;
                if (l < 0) l = find(par, o);
                else { int a = find(par, l), b = find(par, o); if (a != b) par[a > b ? a : b] = a < b ? a : b; l = a < b ? a : b; }
            }
            if (l < 0) { par[next] = next; l = next++; }
            lab[i] = l;
        }
    int *final = malloc(((size_t)next + 1) * sizeof *final), count = 0;
    int64_t *sz = calloc((size_t)next + 2, sizeof *sz);
    if (!final || !sz) { free(par); free(final); free(sz); return -1; }
    for (int i = 0; i < next; i++) final[i] = 0;
    for (size_t i = 0; i < n; i++) {   /* renumber in raster order of first pixels */
        if (lab[i] < 0) { lab[i] = 0; continue; }
        int r = find(par, lab[i]);
        if (!final[r]) final[r] = ++count;
        lab[i] = final[r];
        sz[lab[i]]++;
    }
    free(par);
    free(final);
    *sizes = sz;
    return count;
}

int ws_amg_remove_small_regions(uint8_t *mask, int H, int W, int64_t area_thresh, int holes)
{
    size_t n = (size_t)H * W;
    int *lab = malloc((n ? n : 1) * sizeof *lab);
    int64_t *sz = NULL;
    if (!lab) return ws_fail(WS_ENOMEM, "small regions: out of memory");
    int k = label8(mask, H, W, holes ? 0 : 1, lab, &sz);
    if (k < 0) { free(lab); return ws_fail(WS_ENOMEM, "small regions: out of memory"); }
    int any_small = 0, any_big = 0, largest = 0;
    for (int i = 1; i <= k; i++) {
        if (sz[i] < area_thresh) any_small = 1;
        else any_big = 1;
        if (!largest || sz[i] > sz[largest]) largest = i;
    }
    if (any_small) {
        for (size_t i = 0; i < n; i++) {
            int l = lab[i];
            if (holes) { if (l && sz[l] < area_thresh) mask[i] = 1; }
            else if (l) mask[i] = any_big ? sz[l] >= area_thresh : l == largest;
        }
    }
    free(lab);
    free(sz);
    return any_small;
}

/* ---- rock-sand-water ------------------------------------------------------------------- */

int ws_amg_rock_sand_water(uint8_t *const *masks, const int *levels, int n, int64_t hw, double thresh, int *keep,
                           int *n_keep)
{
    int nc = 0;
    *n_keep = 0;
    for (int lv = 2; lv >= 0; lv--) {
        for (int i = 0; i < n; i++) {
            if (levels[i] != lv) continue;
            if (nc == 0) { keep[(*n_keep)++] = i; continue; }   /* empty container: level taken whole */
            int64_t am = 0;
            for (int64_t p = 0; p < hw; p++) am += masks[i][p] != 0;
            float best = -1.0f;
            int nan = am == 0;
            for (int c = 0; c < nc && !nan; c++) {
                int64_t inter = 0;
                const uint8_t *M = masks[keep[c]];
                for (int64_t p = 0; p < hw; p++) inter += masks[i][p] && M[p];
                float recall = (float)inter / (float)am;
                if (recall > best) best = recall;
            }
            if (!nan && best < (float)thresh) keep[(*n_keep)++] = i;
        }
        nc = *n_keep;
    }
    return 0;
}

/* ---- the generator ----------------------------------------------------------------------- */

static void crop_boxes(int H, int W, int n_layers, double overlap_ratio, int64_t (*boxes)[4], int32_t *layer, int *n)
{
    int k = 0, short_side = H < W ? H : W;
    boxes[k][0] = 0; boxes[k][1] = 0; boxes[k][2] = W; boxes[k][3] = H;
    layer[k++] = 0;
    for (int l = 0; l < n_layers; l++) {
        int per = 1 << (l + 1);
        int overlap = (int)(overlap_ratio * short_side * (2.0 / per));
        int cw = (int)ceil((double)(overlap * (per - 1) + W) / per), ch = (int)ceil((double)(overlap * (per - 1) + H) / per);
        for (int i = 0; i < per; i++)
            for (int j = 0; j < per; j++) {
                int x0 = (cw - overlap) * i, y0 = (ch - overlap) * j;
                boxes[k][0] = x0; boxes[k][1] = y0;
                boxes[k][2] = x0 + cw < W ? x0 + cw : W;
                boxes[k][3] = y0 + ch < H ? y0 + ch : H;
                layer[k++] = l + 1;
            }
    }
    *n = k;
}

static int pre_push(ws_amg_prefilter *p, int ci, int bi, int pi, int slot, float iou, float st, const double *pc,
                    const double *pm)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        void *a = realloc(p->crop_index, cap * sizeof(int32_t)), *b = realloc(p->batch_index, cap * sizeof(int32_t));
        if (a) p->crop_index = a;
        if (b) p->batch_index = b;
        void *c = realloc(p->point_in_batch, cap * sizeof(int32_t)), *d = realloc(p->slot, cap * sizeof(int32_t));
        if (c) p->point_in_batch = c;
        if (d) p->slot = d;
        void *e = realloc(p->iou, cap * sizeof(float)), *f = realloc(p->stability, cap * sizeof(float));
        if (e) p->iou = e;
        if (f) p->stability = f;
        void *g = realloc(p->point_crop, 2 * cap * sizeof(double)), *h = realloc(p->point_model, 2 * cap * sizeof(double));
        if (g) p->point_crop = g;
        if (h) p->point_model = h;
        if (!a || !b || !c || !d || !e || !f || !g || !h) return ws_fail(WS_ENOMEM, "mask generator: out of memory");
        p->cap = cap;
    }
    int k = p->n++;
    p->crop_index[k] = ci; p->batch_index[k] = bi; p->point_in_batch[k] = pi; p->slot[k] = slot;
    p->iou[k] = iou; p->stability[k] = st;
    p->point_crop[2 * k] = pc[0]; p->point_crop[2 * k + 1] = pc[1];
    p->point_model[2 * k] = pm[0]; p->point_model[2 * k + 1] = pm[1];
    return 0;
}

typedef struct {
    const ws_sam *m; const ws_amg_cfg *cfg; ws_amg_trace *tr;
    int H, W, ci;                 /* image size, crop index */
    const int64_t *cb;            /* crop box XYXY */
    int ch, cw, rh, rw;           /* crop size, its resized size */
} crop_ctx;

#define PP_CHUNK 16   /* points whose full-resolution logits are held at once */

/* bin = logits > 0; returns the number of borderline pixels, |logit| <= 1e-4 max(1, max|logit|)
 * (where another float32 evaluation order could flip the pixel; the golden comparison allows
 * those). Branch-free loops the compiler vectorises. */
__attribute__((optimize("O3"))) static int64_t binarize(const float *lg, size_t n, uint8_t *bin)
{
    float amax = 1.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(lg[i]);
        amax = a > amax ? a : amax;
    }
    const float tol = 1e-4f * amax;
    int64_t border = 0;
    for (size_t i = 0; i < n; i++) {
        bin[i] = lg[i] > 0.0f;
        border += fabsf(lg[i]) <= tol;
    }
    return border;
}

/* The predicted-IoU filter of mask slot k (level k). */
static int iou_passes(const ws_amg_cfg *cfg, int k, float io)
{
    return !(cfg->pred_iou_thresh > 0) || io + cfg->score_thresh_offset[k] > (float)cfg->pred_iou_thresh;
}

/* One upsampled mask as filter_point sees it: its logits (the CPU path binarises the survivors) or,
 * from the device path, its binary mask and borderline count already made there. */
typedef struct {
    const float *lg;        /* (ch, cw) f32 logits, or NULL */
    const uint8_t *bin;     /* (ch, cw) u8 logits > 0, or NULL */
    int64_t border;         /* with bin: the borderline pixels (see binarize) */
} mask_src;

/* The three masks of one point: scores, filters, box, crop-edge test; the survivors are appended
 * to l. ms[k] is mask k's logits or binary mask (ch, cw) and cnt[2k], cnt[2k+1] its counts of logits
 * above +offset and -offset; ms[k] is empty (and its counts 0) for a mask that fails the IoU threshold
 * and was never upsampled. bin is scratch for one binarised mask. */
static int filter_point(crop_ctx *c, const mask_src *ms, const int32_t *cnt, const float *iou3, uint8_t *bin,
                        const double *pt, const double *pm, int bi, int p, ws_amg_list *l)
{
    const ws_amg_cfg *cfg = c->cfg;
    size_t plane = (size_t)c->ch * c->cw;
    for (int k = 0; k < 3; k++) {
        float st = (float)cnt[2 * k] / (float)cnt[2 * k + 1], io = iou3[k];
        int rc;
        if (c->tr && c->tr->prefilter && (rc = pre_push(&c->tr->pre, c->ci, bi, p, k, io, st, pt, pm))) return rc;
        if (c->tr) c->tr->n_decoded++;
        float ith = io + cfg->score_thresh_offset[k];
        if (!iou_passes(cfg, k, io)) continue;
        if (c->tr) c->tr->n_pass_iou++;
        if (cfg->stability_score_thresh > 0 && !(st + cfg->stability_score_bias[k] >= (float)cfg->stability_score_thresh)) continue;
        if (c->tr) c->tr->n_pass_iou_and_stability++;
        ws_amg_rec r = {0};
        const uint8_t *b = ms[k].bin ? ms[k].bin : bin;
        r.borderline = ms[k].bin ? ms[k].border : binarize(ms[k].lg, plane, bin);
        mask_box(b, c->ch, c->cw, c->cw, r.box);
        /* drop boxes near a crop edge that is not an image edge (atol 20) */
        int near = 0;
        const int64_t img[4] = {0, 0, c->W, c->H};
        for (int e = 0; e < 4; e++) {
            int64_t v = r.box[e] + c->cb[e % 2];
            if (llabs(v - c->cb[e]) <= 20 && !(llabs(v - img[e]) <= 20)) near = 1;
        }
        if (near) continue;
        if (!(r.mask = calloc((size_t)c->H * c->W, 1))) return ws_fail(WS_ENOMEM, "mask generator: out of memory");
        for (int y = 0; y < c->ch; y++)
            memcpy(r.mask + (size_t)(y + c->cb[1]) * c->W + c->cb[0], b + (size_t)y * c->cw, (size_t)c->cw);
        r.level = k;
        r.iou = io;
        r.iou_thresh = ith;
        r.iou_nms = io + cfg->score_nms_offset[k];
        r.stability = st;
        r.stab_bias = cfg->stability_score_bias[k];
        r.point[0] = pt[0];
        r.point[1] = pt[1];
        if ((rc = list_push(l, &r))) { free(r.mask); return rc; }
    }
    return 0;
}

/* The buffers of one decoder batch of B points. */
typedef struct {
    double *model;      /* (B, 2) f64 points in the resized crop's frame */
    int32_t *ones;      /* (B) i32 point labels, all foreground */
    float *iou;         /* (B, 3) f32 predicted IoU */
    float *low;         /* (B, 3, lside, lside) f32 the whole batch's low-res logits */
    float *logits;      /* (PP_CHUNK * 3, ch, cw) f32 upsampled logits of one chunk */
    int32_t *counts;    /* (PP_CHUNK * 3, 2) i32 stability counts of one chunk */
    uint8_t *bin;       /* (ch, cw) one binarised mask */
    uint8_t *dbin;      /* device path: (PP_CHUNK * 3, ch, cw) u8 binary masks of one chunk, or NULL */
    int64_t *dborder;   /* device path: (PP_CHUNK * 3) borderline pixels of those masks */
    int lside;          /* the decoder's low-resolution logits are (4g, 4g) */
    size_t lplane, plane;
} batch_buf;

static void batch_free(batch_buf *bb)
{
    free(bb->model);
    free(bb->ones);
    free(bb->low);
    free(bb->counts);
    free(bb->logits);
    free(bb->iou);
    free(bb->bin);
    free(bb->dbin);
    free(bb->dborder);
}

/* Allocates bb for B points of crop c and maps the points to the model's frame (apply_coords in
 * float64). */
static int batch_init(const crop_ctx *c, const double *pts, int B, batch_buf *bb)
{
    memset(bb, 0, sizeof *bb);
    bb->plane = (size_t)c->ch * c->cw;
    bb->lside = 4 * c->m->grid;
    bb->lplane = (size_t)bb->lside * bb->lside;
    bb->model = malloc((size_t)B * 2 * sizeof *bb->model);
    bb->ones = malloc((size_t)B * sizeof *bb->ones);
    /* the device path keeps binary masks instead of float logits: a quarter of the memory and the copy */
    if (use_aten()) {
        bb->dbin = malloc((size_t)PP_CHUNK * 3 * bb->plane);
        bb->dborder = malloc((size_t)PP_CHUNK * 3 * sizeof *bb->dborder);
        bb->logits = malloc(sizeof *bb->logits);
    } else {
        bb->logits = malloc((size_t)PP_CHUNK * 3 * bb->plane * sizeof *bb->logits);
    }
    bb->iou = malloc((size_t)B * 3 * sizeof *bb->iou);
    bb->low = malloc((size_t)B * 3 * bb->lplane * sizeof *bb->low);
    bb->counts = malloc((size_t)PP_CHUNK * 3 * 2 * sizeof *bb->counts);
    bb->bin = malloc(bb->plane);
    if (!bb->model || !bb->ones || !bb->logits || !bb->iou || !bb->bin || !bb->low || !bb->counts ||
        (use_aten() && (!bb->dbin || !bb->dborder)))
        return ws_fail(WS_ENOMEM, "mask generator: out of memory");
    for (int i = 0; i < B; i++) {
        bb->model[2 * i] = pts[2 * i] * ((double)c->rw / c->cw);
        bb->model[2 * i + 1] = pts[2 * i + 1] * ((double)c->rh / c->ch);
        bb->ones[i] = 1;
    }
    return 0;
}

/* The prompt encoder and mask decoder on points [p0, p0 + np) of the batch; their IoU
 * predictions and low-res logits go to bb. */
static int decode_chunk(crop_ctx *c, ws_at_tensor emb, batch_buf *bb, int p0, int np)
{
    ws_scope cg;
    ws_scope_init(&cg);
    const int64_t p3[3] = {np, 1, 2}, l2[2] = {np, 1};
    ws_at_tensor pt = ws_g_from_data(&cg, bb->model + 2 * p0, WS_AT_F64, 3, p3);
    ws_at_tensor lb = ws_g_from_data(&cg, bb->ones, WS_AT_I32, 2, l2);
    ws_at_tensor sparse = NULL, dense = NULL;
    ws_sam_dec_out d;
    double t0 = ws_now();
    int rc = ws_sam_prompt(c->m, &cg, pt, lb, NULL, NULL, &sparse, &dense);
    if (!rc) rc = ws_sam_decode(c->m, &cg, emb, sparse, dense, 1, &d);
    if (c->tr) c->tr->t_decoder += ws_now() - t0;
    double t1 = ws_now();
    if (!rc && cg.err) rc = cg.err;
    if (!rc && (ws_at_read(d.iou, bb->iou + (size_t)p0 * 3, (size_t)np * 3 * sizeof *bb->iou) ||
                ws_at_read(d.masks, bb->low + (size_t)p0 * 3 * bb->lplane, (size_t)np * 3 * bb->lplane * sizeof *bb->low)))
        rc = ws_fail(WS_ETORCH, "mask generator: %s", ws_at_last_error());
    ws_scope_free(&cg);
    if (c->tr) c->tr->t_upsample += ws_now() - t1;
    return rc;
}

/* Moves the low-res logits of the np * 3 masks worth upsampling to the front of lo, in order;
 * at[q] is mask q's place there or -1. Returns their number. Masks that fail the IoU threshold
 * are skipped (the official code upsamples and drops them) unless every mask's scores are traced. */
static int compact_kept(const crop_ctx *c, float *lo, const float *io, int np, size_t lplane, int *at)
{
    int ns = 0;
    for (int q = 0; q < np * 3; q++) {
        int keep = (c->tr && c->tr->prefilter) || iou_passes(c->cfg, q % 3, io[q]);
        at[q] = keep ? ns : -1;
        if (keep && ns != q) memcpy(lo + (size_t)ns * lplane, lo + (size_t)q * lplane, lplane * sizeof *lo);
        ns += keep;
    }
    return ns;
}

/* filter_point on each of points [p0, p0 + np), given the upsampled logits and counts of the
 * masks compact_kept placed at at[]. */
static int filter_chunk(crop_ctx *c, const batch_buf *bb, const int *at, const double *pts, int p0, int np, int bi,
                        ws_amg_list *l)
{
    const float *io = bb->iou + (size_t)p0 * 3;
    int rc = 0;
    for (int q = 0; q < np && !rc; q++) {
        mask_src ms[3] = {{0}};
        int32_t cnt[6] = {0};
        for (int k = 0; k < 3; k++) {
            int a = at[3 * q + k];
            if (a < 0) continue;
            if (bb->dbin) ms[k] = (mask_src){.bin = bb->dbin + (size_t)a * bb->plane, .border = bb->dborder[a]};
            else ms[k].lg = bb->logits + (size_t)a * bb->plane;
            cnt[2 * k] = bb->counts[2 * a];
            cnt[2 * k + 1] = bb->counts[2 * a + 1];
        }
        rc = filter_point(c, ms, cnt, io + q * 3, bb->bin, pts + 2 * (p0 + q), bb->model + 2 * (p0 + q), bi, p0 + q, l);
    }
    return rc;
}

/* The device path of upsample_chunk: the ns low-res maps lo go to the device, where postprocess_masks
 * (ATen), the stability counts (logits > +-offset), the binary masks (> 0) and their borderline
 * counts (binarize's rule) are computed; the masks (u8) and counts come back to bb. */
static int upsample_aten(const crop_ctx *c, const float *lo, int ns, batch_buf *bb)
{
    ws_scope g;
    ws_scope_init(&g);
    const int64_t ls[4] = {ns, 1, bb->lside, bb->lside}, flat[2] = {ns, (int64_t)bb->plane};
    const double thr = (float)c->cfg->stability_score_offset;
    ws_at_tensor up = ws_sam_postprocess(c->m, &g, ws_g_from_data(&g, lo, WS_AT_F32, 4, ls), c->rh, c->rw, c->ch, c->cw);
    ws_at_tensor x = ws_g_reshape(&g, up, 2, flat);
    ws_at_tensor cnt[2] = {ws_g_reduce(&g, WS_AT_RSUM, ws_g_scalar_op(&g, WS_AT_GT, x, thr), 1, 1),
                           ws_g_reduce(&g, WS_AT_RSUM, ws_g_scalar_op(&g, WS_AT_GT, x, -thr), 1, 1)};
    ws_at_tensor counts = ws_g_to_dtype(&g, ws_g_cat(&g, cnt, 2, 1), WS_AT_I32);
    ws_at_tensor ax = ws_g_unary(&g, WS_AT_ABS, x);
    /* binarize: |logit| <= 1e-4 max(1, max|logit|) per mask, in float32 like the C loop */
    ws_at_tensor tol = ws_g_mul_scalar(&g, ws_g_scalar_op(&g, WS_AT_MAXIMUM, ws_g_reduce(&g, WS_AT_RAMAX, ax, 1, 1), 1.0),
                                       (double)1e-4f);
    ws_at_tensor border = ws_g_reduce(&g, WS_AT_RSUM, ws_g_binary(&g, WS_AT_LE, ax, tol), 1, 0);
    ws_at_tensor bin = ws_g_to_dtype(&g, ws_g_scalar_op(&g, WS_AT_GT, x, 0.0), WS_AT_U8);
    int rc = g.err;
    if (!rc && (ws_at_read(counts, bb->counts, (size_t)ns * 2 * sizeof *bb->counts) ||
                ws_at_read(border, bb->dborder, (size_t)ns * sizeof *bb->dborder) ||
                ws_at_read(bin, bb->dbin, (size_t)ns * bb->plane)))
        rc = ws_fail(WS_ETORCH, "mask generator: %s", ws_at_last_error());
    ws_scope_free(&g);
    return rc;
}

/* postprocess_masks on points [p0, p0 + np), with the stability counts fused in: on the CPU in C, bit for
 * bit, on every core (tests/test_sam_up); on a device with ATen (upsample_aten). Then the filters. */
static int upsample_chunk(crop_ctx *c, batch_buf *bb, const double *pts, int p0, int np, int bi, ws_amg_list *l)
{
    int rc = 0, at[PP_CHUNK * 3];
    double t1 = ws_now();
    float *lo = bb->low + (size_t)p0 * 3 * bb->lplane;
    int ns = compact_kept(c, lo, bb->iou + (size_t)p0 * 3, np, bb->lplane, at);
    if (ns && bb->dbin) rc = upsample_aten(c, lo, ns, bb);
    else if (ns) rc = ws_sam_upsample_logits(c->m, lo, ns, bb->lside, bb->lside, c->rh, c->rw, c->ch, c->cw, bb->logits,
                                             (float)c->cfg->stability_score_offset, bb->counts, ws_runtime_cpus());
    double t2 = ws_now();
    if (!rc) rc = filter_chunk(c, bb, at, pts, p0, np, bi, l);
    if (c->tr) { c->tr->t_upsample += t2 - t1; c->tr->t_filter += ws_now() - t2; }
    return rc;
}

/* One decoder batch of a crop: filters the 3 masks of each point and appends survivors to l.
 * The decoder runs over the whole batch first, PP_CHUNK points at a time (prompts are
 * independent, so this bounds the decoder's memory without changing any result), keeping the
 * low-res logits; decoding everything first lets the upsampling run while OpenBLAS's worker
 * threads, which spin for a while after each product, have gone to sleep. The upsampling and
 * filters then go PP_CHUNK points at a time. */
static int process_batch(crop_ctx *c, ws_at_tensor emb, const double *pts, int B, int bi, ws_amg_list *l)
{
    batch_buf bb;
    int rc = batch_init(c, pts, B, &bb);
    for (int p0 = 0; p0 < B && !rc; p0 += PP_CHUNK)
        rc = decode_chunk(c, emb, &bb, p0, B - p0 < PP_CHUNK ? B - p0 : PP_CHUNK);
    for (int p0 = 0; p0 < B && !rc; p0 += PP_CHUNK)
        rc = upsample_chunk(c, &bb, pts, p0, B - p0 < PP_CHUNK ? B - p0 : PP_CHUNK, bi, l);
    batch_free(&bb);
    return rc;
}

static int process_crop(crop_ctx *c, const uint8_t *rgb, const double *grid, int npts, ws_amg_list *all)
{
    ws_scope g;
    ws_amg_list l = {0};
    int rc = 0;
    const int64_t *cb = c->cb;
    c->cw = (int)(cb[2] - cb[0]);
    c->ch = (int)(cb[3] - cb[1]);
    uint8_t *crop = malloc((size_t)c->cw * c->ch * 3);
    double *pts = malloc((size_t)npts * 2 * sizeof *pts);
    float *scores = NULL;
    if (!crop || !pts) { free(crop); free(pts); return ws_fail(WS_ENOMEM, "mask generator: out of memory"); }
    for (int y = 0; y < c->ch; y++)
        memcpy(crop + (size_t)y * c->cw * 3, rgb + ((size_t)(y + cb[1]) * c->W + cb[0]) * 3, (size_t)c->cw * 3);
    for (int i = 0; i < npts; i++) { pts[2 * i] = grid[2 * i] * c->cw; pts[2 * i + 1] = grid[2 * i + 1] * c->ch; }
    ws_scope_init(&g);
    ws_at_tensor x = ws_sam_preprocess(c->m, &g, crop, c->ch, c->cw, &c->rh, &c->rw);
    double t0 = ws_now();
    ws_at_tensor emb = ws_sam_encode(c->m, &g, x, NULL);
    if (c->tr) c->tr->t_encoder += ws_now() - t0;
    free(crop);
    if ((rc = g.err)) goto done;
    int per = c->cfg->points_per_batch > 0 ? c->cfg->points_per_batch : 64;
    for (int s = 0, bi = 0; s < npts && !rc; s += per, bi++) {
        rc = process_batch(c, emb, pts + 2 * s, npts - s < per ? npts - s : per, bi, &l);
    }
    if (rc) goto done;
    /* within-crop NMS, score = iou + score_nms_offset[level] */
    if (!(scores = malloc((size_t)(l.n ? l.n : 1) * sizeof *scores))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto done; }
    for (int i = 0; i < l.n; i++) scores[i] = l.r[i].iou_nms;
    if ((rc = list_nms(&l, scores, c->cfg->box_nms_thresh))) goto done;
    for (int i = 0; i < l.n && !rc; i++) {   /* uncrop boxes and points */
        ws_amg_rec *r = &l.r[i];
        r->box[0] += cb[0]; r->box[1] += cb[1]; r->box[2] += cb[0]; r->box[3] += cb[1];
        r->point[0] += (double)cb[0];
        r->point[1] += (double)cb[1];
        memcpy(r->crop_box, cb, sizeof r->crop_box);
        rc = list_push(all, r);
        if (!rc) r->mask = NULL;   /* moved */
    }
done:
    ws_amg_list_free(&l);
    free(scores);
    free(pts);
    ws_scope_free(&g);
    return rc;
}

static int postprocess_small_regions(ws_amg_list *l, int H, int W, int64_t area, double thresh)
{
    const int n0 = l->n;   /* the NMS below shrinks the list */
    float *scores = malloc((size_t)(l->n ? l->n : 1) * sizeof *scores);
    uint8_t **fixed = calloc((size_t)l->n + 1, sizeof *fixed);
    int rc = 0;
    if (!scores || !fixed) { rc = ws_fail(WS_ENOMEM, "small regions: out of memory"); goto done; }
    for (int i = 0; i < l->n && !rc; i++) {
        if (!(fixed[i] = malloc((size_t)H * W))) { rc = ws_fail(WS_ENOMEM, "small regions: out of memory"); break; }
        memcpy(fixed[i], l->r[i].mask, (size_t)H * W);
        int c1 = ws_amg_remove_small_regions(fixed[i], H, W, area, 1);
        int c2 = c1 < 0 ? c1 : ws_amg_remove_small_regions(fixed[i], H, W, area, 0);
        if (c1 < 0 || c2 < 0) { rc = c1 < 0 ? c1 : c2; break; }
        scores[i] = (float)(!c1 && !c2);
        mask_box(fixed[i], H, W, W, l->r[i].box);
    }
    if (rc) goto done;
    for (int i = 0; i < l->n; i++)   /* changed masks take the new mask; unchanged ones keep theirs */
        if (scores[i] == 0.0f) { free(l->r[i].mask); l->r[i].mask = fixed[i]; fixed[i] = NULL; }
    rc = list_nms(l, scores, thresh);   /* on the new boxes (equal to the old for unchanged masks) */
done:
    for (int i = 0; fixed && i < n0; i++) free(fixed[i]);
    free(fixed);
    free(scores);
    return rc;
}

static int apply_rock_sand_water(ws_amg_list *l, int H, int W, double thresh)
{
    uint8_t **masks = malloc((size_t)(l->n ? l->n : 1) * sizeof *masks);
    int *levels = malloc((size_t)(l->n ? l->n : 1) * sizeof *levels), *keep = malloc((size_t)(l->n ? l->n : 1) * sizeof *keep);
    int nk = 0, rc = 0;
    if (!masks || !levels || !keep) rc = ws_fail(WS_ENOMEM, "rock-sand-water: out of memory");
    for (int i = 0; !rc && i < l->n; i++) { masks[i] = l->r[i].mask; levels[i] = l->r[i].level; }
    if (!rc) rc = ws_amg_rock_sand_water(masks, levels, l->n, (int64_t)H * W, thresh, keep, &nk);
    if (!rc) rc = list_select(l, keep, nk);
    free(masks);
    free(levels);
    free(keep);
    return rc;
}

/* The masks of every crop (process_crop), each crop on its own point grid, appended to out. */
static int generate_crops(const ws_sam *m, const ws_amg_cfg *cfg, const uint8_t *rgb, int H, int W,
                          int64_t (*boxes)[4], const int32_t *layer, int ncrop, ws_amg_list *out, ws_amg_trace *tr)
{
    int rc = 0;
    for (int ci = 0; ci < ncrop && !rc; ci++) {
        int n = (int)(cfg->points_per_side / pow(cfg->crop_n_points_downscale_factor, layer[ci]));
        double *grid = malloc((size_t)n * n * 2 * sizeof *grid);
        if (!grid) return ws_fail(WS_ENOMEM, "mask generator: out of memory");
        ws_amg_point_grid(n, grid);
        crop_ctx c = {.m = m, .cfg = cfg, .tr = tr, .H = H, .W = W, .ci = ci, .cb = boxes[ci]};
        rc = process_crop(&c, rgb, grid, n * n, out);
        free(grid);
    }
    return rc;
}

/* Cross-crop NMS favouring smaller crops: score 1 / crop area. */
static int cross_crop_nms(ws_amg_list *out, double thresh)
{
    float *scores = malloc((size_t)(out->n ? out->n : 1) * sizeof *scores);
    if (!scores) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < out->n; i++) {
        const int64_t *b = out->r[i].crop_box;
        scores[i] = 1.0f / (float)((b[2] - b[0]) * (b[3] - b[1]));
    }
    int rc = list_nms(out, scores, thresh);
    free(scores);
    return rc;
}

/* The optional postprocessing of the official generator, in its order: small regions (with
 * NMS at the larger of the two NMS thresholds), then rock-sand-water; each stage snapshotted
 * into the trace. */
static int postprocess(ws_amg_list *out, const ws_amg_cfg *cfg, int H, int W, ws_amg_trace *tr)
{
    int rc = 0;
    if (cfg->min_mask_region_area > 0) {
        double t = cfg->box_nms_thresh > cfg->crop_nms_thresh ? cfg->box_nms_thresh : cfg->crop_nms_thresh;
        if ((rc = postprocess_small_regions(out, H, W, cfg->min_mask_region_area, t))) return rc;
        if (tr && (rc = list_snapshot(out, H, W, &tr->stage_small_regions))) return rc;
    }
    if (cfg->rock_sand_water_thresh > 0) {
        if ((rc = apply_rock_sand_water(out, H, W, cfg->rock_sand_water_thresh))) return rc;
        if (tr && (rc = list_snapshot(out, H, W, &tr->stage_rsw))) return rc;
    }
    return 0;
}

/* The final encoding: each mask becomes its RLE and area, and the full mask is freed. */
static int encode_masks(ws_amg_list *out, int H, int W)
{
    int rc = 0;
    for (int i = 0; i < out->n && !rc; i++) {
        ws_amg_rec *r = &out->r[i];
        if ((rc = ws_rle_encode(r->mask, H, W, &r->rle, &r->n_rle))) break;
        r->area = 0;
        for (int k = 1; k < r->n_rle; k += 2) r->area += r->rle[k];
        free(r->mask);
        r->mask = NULL;
    }
    return rc;
}

int ws_amg_generate(const ws_sam *m, const ws_amg_cfg *cfg, const uint8_t *rgb, int H, int W, ws_amg_list *out,
                    ws_amg_trace *tr)
{
    int ncrop = 0, rc = 0;
    int maxc = 1;
    for (int l = 0; l < cfg->crop_n_layers; l++) maxc += 1 << (2 * (l + 1));
    int64_t (*boxes)[4] = malloc((size_t)maxc * sizeof *boxes);
    int32_t *layer = malloc((size_t)maxc * sizeof *layer);
    memset(out, 0, sizeof *out);
    if (!boxes || !layer) { free(boxes); free(layer); return ws_fail(WS_ENOMEM, "mask generator: out of memory"); }
    crop_boxes(H, W, cfg->crop_n_layers, cfg->crop_overlap_ratio, boxes, layer, &ncrop);
    if ((rc = generate_crops(m, cfg, rgb, H, W, boxes, layer, ncrop, out, tr))) goto cleanup;
    if (ncrop > 1 && (rc = cross_crop_nms(out, cfg->crop_nms_thresh))) goto cleanup;
    if (tr && (rc = list_snapshot(out, H, W, &tr->stage_generate))) goto cleanup;
    if ((rc = postprocess(out, cfg, H, W, tr))) goto cleanup;
    if ((rc = encode_masks(out, H, W))) goto cleanup;
    if (tr) {   /* the trace takes the crop boxes */
        tr->n_crops = ncrop;
        tr->crop_boxes = boxes;
        tr->crop_layer = layer;
        boxes = NULL;
        layer = NULL;
    }
cleanup:
    free(boxes);
    free(layer);
    if (rc) ws_amg_list_free(out);
    return rc;
}

void ws_amg_trace_free(ws_amg_trace *t)
{
    if (!t) return;
    ws_amg_prefilter *p = &t->pre;
    free(p->crop_index); free(p->batch_index); free(p->point_in_batch); free(p->slot);
    free(p->iou); free(p->stability); free(p->point_crop); free(p->point_model);
    free(t->crop_boxes);
    free(t->crop_layer);
    ws_amg_list_free(&t->stage_generate);
    ws_amg_list_free(&t->stage_small_regions);
    ws_amg_list_free(&t->stage_rsw);
    memset(t, 0, sizeof *t);
}

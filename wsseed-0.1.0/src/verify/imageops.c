/* imageops.c - `wsseed dump image-ops`: the image operations of image_ops_ref.h5 that the
 * SAM side uses: ResizeLongestSide (/sam_resize, PIL bilinear) and small-region removal
 * (/small_regions/<case>: holes, islands, holes then islands, as the mask generator runs them).
 * Training side: /resize/<case> (AlchemyCat scale_img_label: PIL BICUBIC image, NEAREST label,
 * sizes by Python rounding; one per /resize/<case> group of the input, its attributes t +
 * short_thresh, scale_factor or align_n being its settings) and /color_jitter/<case>/output_bgr
 * (RandColorJitter with the given params and order); for composed cases the params and order
 * drawn from their numpy seed by our MT19937 go to /jitter_draw/<case>/{params,order}.
 * /boxes/<case>: CAA box extraction (scoremap2bbox) at the thresholds the input's
 * /boxes/<case>/thresh_<theta> groups name. Small-region removal runs at each
 * /small_regions/<case> group's area_thresh attribute.
 * Inputs: /input/image_rgb, /input/label, /input/chart_bgr, /input/color_jitter/<case>/{params,order,numpy_seed},
 * /input/small_regions/<case>/mask; /sam_resize/target_length when present (default 1024).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "data/augment.h"
#include "image/resize.h"
#include "method/amg.h"
#include "method/caa.h"
#include "model/sam.h"

static int sam_resize(const ws_h5file *in, ws_h5file *out)
{
    ws_array img = {0}, tl = {0};
    int rc, L = 1024, oh, ow;
    if (!ws_h5_exists(in, "/input/image_rgb")) return 0;
    if (ws_h5_exists(in, "/sam_resize/target_length") && !ws_h5_read(in, "/sam_resize/target_length", WS_I64, &tl)) {
        L = (int)*(int64_t *)tl.data;
        ws_array_free(&tl);
    }
    if ((rc = ws_h5_read(in, "/input/image_rgb", WS_U8, &img))) return rc;
    const int H = (int)img.shape[0], W = (int)img.shape[1];
    /* SAM's ResizeLongestSide size rule, then PIL bilinear as segment-anything's apply_image (to_pil_image +
     * resize) does: the SAM model path uses the same two calls, so this checks them without the encoder. */
    ws_sam_preprocess_shape(H, W, L, &oh, &ow);
    uint8_t *dst = malloc((size_t)oh * ow * 3);
    rc = dst ? ws_resize_u8(img.data, W, H, 3, dst, ow, oh, WS_RESAMPLE_BILINEAR) : ws_fail(WS_ENOMEM, "out of memory");
    const int64_t s3[3] = {oh, ow, 3}, s1[1] = {2}, hw[2] = {oh, ow}, tlv = L;
    if (!rc) rc = ws_h5_write_raw(out, "/sam_resize/image_bilinear", WS_U8, 3, s3, dst);
    if (!rc) rc = ws_h5_write_raw(out, "/sam_resize/size_hw", WS_I64, 1, s1, hw);
    if (!rc) rc = ws_h5_write_raw(out, "/sam_resize/target_length", WS_I64, 0, NULL, &tlv);
    free(dst);
    ws_array_free(&img);
    return rc;
}

static int small_regions(const ws_h5file *in, ws_h5file *out)
{
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (!ws_h5_exists(in, "/input/small_regions")) return 0;
    if ((rc = ws_h5_list(in, "/input/small_regions", &names, &n))) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *slash = strrchr(names[i], '/'), p[512];
        if (!slash || strcmp(slash + 1, "mask")) continue;
        *slash = '\0';
        ws_array m = {0};
        long area = 0;
        snprintf(p, sizeof p, "/small_regions/%s", names[i]);
        if ((rc = ws_verify_attr_int(in, p, "area_thresh", 0, 0, &area))) break;
        snprintf(p, sizeof p, "/input/small_regions/%s/mask", names[i]);
        if ((rc = ws_h5_read(in, p, WS_U8, &m))) break;
        const int H = (int)m.shape[0], W = (int)m.shape[1];
        const int64_t s2[2] = {H, W};
        uint8_t *a = malloc((size_t)H * W), *b = malloc((size_t)H * W);
        if (!a || !b) rc = ws_fail(WS_ENOMEM, "out of memory");
        /* Each mode on a fresh copy of the input, then both in sequence below: the single modes isolate a
         * mismatch, the sequence is what amg.py's postprocess_small_regions runs. */
        for (int mode = 1; !rc && mode >= 0; mode--) {   /* holes, then islands, each on the input */
            memcpy(a, m.data, (size_t)H * W);
            int changed = ws_amg_remove_small_regions(a, H, W, (int)area, mode);
            uint8_t c8 = (uint8_t)(changed > 0);
            if (changed < 0) { rc = changed; break; }
            snprintf(p, sizeof p, "/small_regions/%s/%s/mask", names[i], mode ? "holes" : "islands");
            rc = ws_h5_write_raw(out, p, WS_U8, 2, s2, a);
            snprintf(p, sizeof p, "/small_regions/%s/%s/changed", names[i], mode ? "holes" : "islands");
            if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 0, NULL, &c8);
        }
        if (!rc) {   /* holes then islands, as the mask generator */
            memcpy(b, m.data, (size_t)H * W);
            int c1 = ws_amg_remove_small_regions(b, H, W, (int)area, 1);
            int c2 = c1 < 0 ? c1 : ws_amg_remove_small_regions(b, H, W, (int)area, 0);
            uint8_t unchanged = (uint8_t)(!c1 && !c2);
            if (c1 < 0 || c2 < 0) rc = c1 < 0 ? c1 : c2;
            snprintf(p, sizeof p, "/small_regions/%s/holes_then_islands/mask", names[i]);
            if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 2, s2, b);
            snprintf(p, sizeof p, "/small_regions/%s/holes_then_islands/unchanged", names[i]);
            if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 0, NULL, &unchanged);
        }
        free(a);
        free(b);
        ws_array_free(&m);
    }
    ws_h5_strings_free(names, n);
    return rc;
}

/* ---- training resizes ---- */

typedef struct { const char *name; long t, short_thresh; double scale; long align; } resize_case;

/* The settings of /resize/<name> from its attributes (golden README): t and short_thresh
 * (RandRangeScale(t, t, short_thresh)), scale_factor (scale_img_label), align_n (MultiScale([1.0])
 * aligned up to a multiple of n; scale 1 unless scale_factor says otherwise). */
static int resize_settings(const ws_h5file *in, const char *name, resize_case *c)
{
    char g[512];
    int rc;
    snprintf(g, sizeof g, "/resize/%s", name);
    *c = (resize_case){.name = name};
    if ((rc = ws_verify_attr_int(in, g, "t", 1, 0, &c->t))) return rc;
    if (c->t && (rc = ws_verify_attr_int(in, g, "short_thresh", 0, 0, &c->short_thresh))) return rc;
    if ((rc = ws_verify_attr_num(in, g, "scale_factor", 1, 1.0, &c->scale))) return rc;
    if ((rc = ws_verify_attr_int(in, g, "align_n", 1, 0, &c->align))) return rc;
    if (!c->t && !c->align && !H5Aexists_by_name(in->id, g, "scale_factor", H5P_DEFAULT))
        return ws_fail(WS_EFORMAT, "%s: %s has none of the attributes t, scale_factor, align_n that set a resize",
                       in->path, g);
    return 0;
}

/* The training resizes: the scale (RandRangeScale's or a fixed factor), Python-rounded sizes, an optional
 * alignment up to a multiple of n, then PIL bicubic for the image and nearest for the label, exactly the
 * order of AlchemyCat's scale_img_label. */
static int resize_one(const resize_case *c, const ws_array *img, const ws_array *lb, ws_h5file *out)
{
    const int H = (int)img->shape[0], W = (int)img->shape[1];
    double s = c->t ? ws_aug_range_scale(H, W, (int)c->t, (int)c->short_thresh) : c->scale;
    int oh, ow, rc;
    ws_aug_scaled_size(H, W, s, &oh, &ow);
    if (c->align) { oh = ws_aug_ceil_to(oh, (int)c->align); ow = ws_aug_ceil_to(ow, (int)c->align); }
    uint8_t *im = malloc((size_t)oh * ow * 3), *l = malloc((size_t)oh * ow);
    char p[256];
    const int64_t s3[3] = {oh, ow, 3}, s2[1] = {2}, hw[2] = {oh, ow};
    rc = im && l ? 0 : ws_fail(WS_ENOMEM, "out of memory");
    if (!rc) rc = ws_resize_u8(img->data, W, H, 3, im, ow, oh, WS_RESAMPLE_BICUBIC);
    if (!rc) rc = ws_resize_nearest_u8(lb->data, W, H, 1, l, ow, oh);
    snprintf(p, sizeof p, "/resize/%s/image_bicubic", c->name);
    if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 3, s3, im);
    snprintf(p, sizeof p, "/resize/%s/label_nearest", c->name);
    if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 2, hw, l);
    snprintf(p, sizeof p, "/resize/%s/size_hw", c->name);
    if (!rc) rc = ws_h5_write_raw(out, p, WS_I64, 1, s2, (int64_t[2]){oh, ow});
    snprintf(p, sizeof p, "/resize/%s/scale", c->name);
    if (!rc) rc = ws_h5_write_raw(out, p, WS_F64, 0, NULL, &s);
    free(im);
    free(l);
    return rc;
}

static int train_resizes(const ws_h5file *in, ws_h5file *out)
{
    ws_array img = {0}, lb = {0};
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (!ws_h5_exists(in, "/input/image_rgb") || !ws_h5_exists(in, "/input/label")) return 0;
    if ((rc = ws_verify_subgroups(in, "/resize", &names, &n)) || !n) return rc;
    if (!(rc = ws_h5_read(in, "/input/image_rgb", WS_U8, &img)) && !(rc = ws_h5_read(in, "/input/label", WS_U8, &lb)))
        for (size_t i = 0; i < n && !rc; i++) {
            resize_case c;
            if (!(rc = resize_settings(in, names[i], &c))) rc = resize_one(&c, &img, &lb, out);
        }
    ws_h5_strings_free(names, n);
    ws_array_free(&img);
    ws_array_free(&lb);
    return rc;
}

/* ---- CAA box extraction ---- */

static int boxes_case(const ws_h5file *in, ws_h5file *out, const char *name)
{
    char p[512];
    ws_array sc = {0};
    int rc;
    snprintf(p, sizeof p, "/input/boxes/%s/score", name);
    if ((rc = ws_h5_read(in, p, WS_F32, &sc))) return rc;
    const int h = (int)sc.shape[0], w = (int)sc.shape[1];
    const int64_t s2[2] = {h, w};
    uint8_t *q = malloc((size_t)h * w), *m = malloc((size_t)h * w);
    rc = q && m ? 0 : ws_fail(WS_ENOMEM, "out of memory");
    /* the thresholds are named by the case's thresh_<theta> groups */
    char **th = NULL;
    size_t nth = 0;
    snprintf(p, sizeof p, "/boxes/%s", name);
    if (!rc) rc = ws_verify_subgroups(in, p, &th, &nth);
    for (size_t k = 0; k < nth && !rc; k++) {
        int64_t *bx = NULL;
        int nb = 0, T = 0;
        char *end = NULL;
        /* The threshold is read from the group's name (thresh_0.4): the golden file has no other place that
         * says it, and a group of another name is skipped, not misread. */
        double theta = strncmp(th[k], "thresh_", 7) ? 0 : strtod(th[k] + 7, &end);
        if (!end || *end || end == th[k] + 7) continue;   /* not a threshold group */
        /* CLIP-ES's scoremap2bbox (method-fma-wsss.md §8 step 4): the score truncated to uint8,
         * thresholded, the bounding boxes of its contours; the quantised map, the threshold value and
         * the contour count are outputs too, so a mismatch shows which of the steps differs. */
        if ((rc = ws_caa_boxes(sc.data, h, w, theta, m, &bx, &nb, &T, q))) break;
        int64_t tv = T, nc = nb, bs[2] = {nb, 4};
        snprintf(p, sizeof p, "/boxes/%s/%s/boxes", name, th[k]);
        rc = ws_h5_write_raw(out, p, WS_I64, 2, bs, bx);
        snprintf(p, sizeof p, "/boxes/%s/%s/n_contours", name, th[k]);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_I64, 0, NULL, &nc);
        snprintf(p, sizeof p, "/boxes/%s/%s/thresh_value", name, th[k]);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_I64, 0, NULL, &tv);
        snprintf(p, sizeof p, "/boxes/%s/%s/in_box_mask", name, th[k]);
        if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 2, s2, m);
        free(bx);
    }
    ws_h5_strings_free(th, nth);
    if (!rc && !nth) rc = ws_fail(WS_EFORMAT, "%s: /boxes/%s has no thresh_<theta> group to say the thresholds", in->path, name);
    snprintf(p, sizeof p, "/boxes/%s/quantized", name);
    if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 2, s2, q);
    free(q);
    free(m);
    ws_array_free(&sc);
    return rc;
}

static int boxes(const ws_h5file *in, ws_h5file *out)
{
    char **names = NULL;
    size_t n = 0;
    int rc;
    if (!ws_h5_exists(in, "/input/boxes")) return 0;
    if ((rc = ws_h5_list(in, "/input/boxes", &names, &n))) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *slash = strrchr(names[i], '/');
        if (!slash || strcmp(slash + 1, "score")) continue;
        *slash = '\0';
        rc = boxes_case(in, out, names[i]);
    }
    ws_h5_strings_free(names, n);
    return rc;
}

/* ---- colour jitter ---- */

static int jitter_case(const ws_h5file *in, ws_h5file *out, const char *name)
{
    char p[512], img_name[64] = "image_bgr";
    ws_array par = {0}, ord = {0}, img = {0}, seed = {0};
    ws_jitter j;
    int rc;
    snprintf(p, sizeof p, "/input/color_jitter/%s/params", name);
    if ((rc = ws_h5_read(in, p, WS_F64, &par))) return rc;
    snprintf(p, sizeof p, "/input/color_jitter/%s/order", name);
    if ((rc = ws_h5_read(in, p, WS_I64, &ord))) goto done;
    for (int k = 0; k < 4; k++) { j.value[k] = ((double *)par.data)[k]; j.order[k] = (int)((int64_t *)ord.data)[k]; }
    snprintf(p, sizeof p, "/input/color_jitter/%s", name);
    if (ws_h5_attr_string(in, p, "image", img_name, sizeof img_name)) goto done;
    snprintf(p, sizeof p, "/input/%s", img_name);
    if (!strcmp(img_name, "image_bgr")) {
        if ((rc = ws_h5_read(in, "/input/image_rgb", WS_U8, &img))) goto done;
        uint8_t *d = img.data;
        /* The official jitter runs on OpenCV's BGR image: the RGB input is swapped to BGR first, and the
         * output is compared as BGR. */
        for (int64_t i = 0; i < img.shape[0] * img.shape[1]; i++) { uint8_t t = d[3 * i]; d[3 * i] = d[3 * i + 2]; d[3 * i + 2] = t; }
    } else if ((rc = ws_h5_read(in, p, WS_U8, &img))) goto done;
    if ((rc = ws_jitter_apply(img.data, (int)img.shape[0], (int)img.shape[1], 1, &j))) goto done;
    snprintf(p, sizeof p, "/color_jitter/%s/output_bgr", name);
    if ((rc = ws_h5_write(out, p, &img))) goto done;
    snprintf(p, sizeof p, "/input/color_jitter/%s/numpy_seed", name);
    if (ws_h5_exists(in, p)) {   /* composed case: our draw from the same numpy seed */
        ws_rng r;
        int64_t o[4];
        if ((rc = ws_h5_read(in, p, WS_I64, &seed))) goto done;
        /* Our MT19937 from the numpy seed: the drawn params and order must equal numpy's RandomState draws,
         * which checks the RNG and the order of draws, not only the pixel arithmetic. */
        ws_rng_seed(&r, (uint32_t)*(int64_t *)seed.data);
        ws_jitter_draw(&r, &j);
        for (int k = 0; k < 4; k++) o[k] = j.order[k];
        snprintf(p, sizeof p, "/jitter_draw/%s/params", name);
        if ((rc = ws_h5_write_raw(out, p, WS_F64, 1, (int64_t[1]){4}, j.value))) goto done;
        snprintf(p, sizeof p, "/jitter_draw/%s/order", name);
        rc = ws_h5_write_raw(out, p, WS_I64, 1, (int64_t[1]){4}, o);
    }
done:
    ws_array_free(&par);
    ws_array_free(&ord);
    ws_array_free(&img);
    ws_array_free(&seed);
    return rc;
}

static int color_jitter(const ws_h5file *in, ws_h5file *out)
{
    char **names = NULL;
    size_t n = 0;
    int rc;
    if (!ws_h5_exists(in, "/input/color_jitter")) return 0;
    if ((rc = ws_h5_list(in, "/input/color_jitter", &names, &n))) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *slash = strrchr(names[i], '/');
        if (!slash || strcmp(slash + 1, "params")) continue;
        *slash = '\0';
        rc = jitter_case(in, out, names[i]);
    }
    ws_h5_strings_free(names, n);
    return rc;
}

int ws_verify_imageops(const ws_verify_args *a)
{
    ws_h5file in = {0}, out = {0};
    int rc = ws_h5_open(&in, a->input);
    if (!rc) rc = ws_h5_create(&out, a->output);
    if (!rc) rc = sam_resize(&in, &out);
    if (!rc) rc = small_regions(&in, &out);
    if (!rc) rc = train_resizes(&in, &out);
    if (!rc) rc = color_jitter(&in, &out);
    if (!rc) rc = boxes(&in, &out);
    if (!rc) rc = ws_h5_commit(&out);
    ws_h5_close(&out);
    ws_h5_close(&in);
    return rc;
}

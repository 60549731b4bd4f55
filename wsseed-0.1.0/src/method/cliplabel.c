/* cliplabel.c - zero-shot CLIP image labels (see cliplabel.h). */
#include "method/cliplabel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/augment.h"
#include "image/resize.h"

const char *const WS_CLIPLABEL_TEMPLATES[4] = {
    "a photo of a {}.", "a photo of the {}.", "a photo of the large {}.", "a photo of the small {}.",
};
#define N_TEMPLATES ((int)(sizeof WS_CLIPLABEL_TEMPLATES / sizeof WS_CLIPLABEL_TEMPLATES[0]))

static void fill(char *buf, size_t cap, const char *tpl, const char *name)
{
    const char *at = strstr(tpl, "{}");
    snprintf(buf, cap, "%.*s%s%s", (int)(at - tpl), tpl, name, at + 2);
}

int ws_cliplabel_init(ws_cliplabel *cl, const ws_clip *m, const ws_bpe *b, const char *const *fg, int n_fg,
                      const char *const *bg, int n_bg)
{
    memset(cl, 0, sizeof *cl);
    const int G = n_fg + n_bg, ctx = m->context_length, E = m->embed_dim;
    int32_t *row = malloc((size_t)ctx * sizeof *row);
    int64_t *ids = malloc((size_t)G * ctx * sizeof *ids);
    float *f = malloc((size_t)G * E * sizeof *f);
    cl->text = calloc((size_t)G * E, sizeof *cl->text);
    int rc = row && ids && f && cl->text ? 0 : ws_fail(WS_ENOMEM, "CLIP labels: out of memory");
    for (int t = 0; !rc && t < N_TEMPLATES; t++) {
        for (int c = 0; !rc && c < G; c++) {
            char text[512];
            fill(text, sizeof text, WS_CLIPLABEL_TEMPLATES[t], c < n_fg ? fg[c] : bg[c - n_fg]);
            rc = ws_bpe_tokenize(b, text, 1, ctx, row, NULL);
            for (int k = 0; k < ctx; k++) ids[(size_t)c * ctx + k] = row[k];
        }
        ws_scope g;
        ws_scope_init(&g);
        ws_clip_text_out to = {0};
        const int64_t s2[2] = {G, ctx};
        if (!rc) rc = ws_clip_encode_text(m, &g, ws_g_from_data(&g, ids, WS_AT_I64, 2, s2), NULL, &to);
        if (!rc && ws_at_read(ws_clip_l2_normalize(&g, to.features), f, (size_t)G * E * sizeof *f))
            rc = ws_fail(WS_ETORCH, "CLIP labels: %s", ws_at_last_error());
        ws_clip_text_out_free(&to);
        ws_scope_free(&g);
        for (size_t i = 0; !rc && i < (size_t)G * E; i++) cl->text[i] += f[i] / N_TEMPLATES;
    }
    for (int c = 0; !rc && c < G; c++) {   /* re-normalise the mean */
        double s = 0;
        float *v = cl->text + (size_t)c * E;
        for (int k = 0; k < E; k++) s += (double)v[k] * v[k];
        const float inv = (float)(1.0 / sqrt(s));
        for (int k = 0; k < E; k++) v[k] *= inv;
    }
    free(row); free(ids); free(f);
    if (rc) { ws_cliplabel_free(cl); return rc; }
    cl->n_fg = n_fg;
    cl->n_bg = n_bg;
    cl->dim = E;
    return 0;
}

void ws_cliplabel_free(ws_cliplabel *cl)
{
    free(cl->text);
    memset(cl, 0, sizeof *cl);
}

int ws_cliplabel_probs(const ws_cliplabel *cl, const ws_clip *m, const uint8_t *rgb, int h, int w, float *p)
{
    /* CLIP's preprocess: Resize(n) (short side, long = int(n * long / short)), CenterCrop(n) with
     * Python's round-half-even offsets, then /255 and CLIP's mean/std (ws_aug_normalize). */
    const int n = m->image_resolution, G = cl->n_fg + cl->n_bg, E = cl->dim;
    const int rw = w <= h ? n : (int)((long)n * w / h), rh = w <= h ? (int)((long)n * h / w) : n;
    const int top = (int)nearbyint((rh - n) / 2.0), left = (int)nearbyint((rw - n) / 2.0);
    uint8_t *rs = malloc((size_t)rw * rh * 3), *crop = malloc((size_t)n * n * 3);
    float *x = malloc((size_t)3 * n * n * sizeof *x), emb[4096];
    int rc = rs && crop && x && E <= 4096 ? 0 : ws_fail(WS_ENOMEM, "CLIP labels: out of memory");
    if (!rc) rc = ws_resize_u8(rgb, w, h, 3, rs, rw, rh, WS_RESAMPLE_BICUBIC);
    for (int y = 0; !rc && y < n; y++) memcpy(crop + (size_t)y * n * 3, rs + (((size_t)(y + top)) * rw + left) * 3, (size_t)n * 3);
    if (!rc) ws_aug_normalize(crop, n, n, x);
    ws_scope g;
    ws_scope_init(&g);
    ws_clip_image_out io = {0};
    const int64_t s4[4] = {1, 3, n, n};
    if (!rc) rc = ws_clip_encode_image(m, &g, ws_g_from_data(&g, x, WS_AT_F32, 4, s4), &(ws_clip_image_opts){0}, &io);
    if (!rc && ws_at_read(ws_clip_l2_normalize(&g, io.embedding), emb, (size_t)E * sizeof *emb))
        rc = ws_fail(WS_ETORCH, "CLIP labels: %s", ws_at_last_error());
    ws_clip_image_out_free(&io);
    ws_scope_free(&g);
    if (!rc) {
        double mx = -INFINITY, z = 0;
        for (int c = 0; c < G; c++) {
            double s = 0;
            for (int k = 0; k < E; k++) s += (double)emb[k] * cl->text[(size_t)c * E + k];
            p[c] = (float)(100.0 * s);
            if (p[c] > mx) mx = p[c];
        }
        for (int c = 0; c < G; c++) z += exp(p[c] - mx);
        for (int c = 0; c < G; c++) p[c] = (float)(exp(p[c] - mx) / z);
    }
    free(rs);
    free(crop);
    free(x);
    return rc;
}

int ws_cliplabel_decide(const float *p, int n_fg, double tau, uint8_t *labels)
{
    int best = 0, n = 0;
    for (int c = 0; c < n_fg; c++) {
        labels[c] = p[c] >= tau;
        if (p[c] > p[best]) best = c;
    }
    labels[best] = 1;
    for (int c = 0; c < n_fg; c++) n += labels[c];
    return n;
}

void ws_label_stats_add(ws_label_stats *s, const uint8_t *pred, const uint8_t *gt, int n_fg)
{
    int same = 1;
    for (int c = 0; c < n_fg; c++) {
        s->tp += pred[c] && gt[c];
        s->fp += pred[c] && !gt[c];
        s->fn += !pred[c] && gt[c];
        same &= !pred[c] == !gt[c];
    }
    s->images++;
    s->exact += same;
}

void ws_label_stats_prf(const ws_label_stats *s, double *p, double *r, double *f1)
{
    *p = s->tp + s->fp ? (double)s->tp / (double)(s->tp + s->fp) : NAN;
    *r = s->tp + s->fn ? (double)s->tp / (double)(s->tp + s->fn) : NAN;
    *f1 = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : NAN;
}

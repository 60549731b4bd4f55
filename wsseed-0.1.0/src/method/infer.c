/* infer.c - CAM inference for one image (see infer.h). */
#include "method/infer.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/augment.h"
#include "image/resize.h"
#include "method/fma.h"

void ws_cam_result_free(ws_cam_result *r)
{
    if (!r) return;
    free(r->cam);
    free(r->fg_cls);
    free(r->fg_logit);
    free(r->all_logit);
    free(r->att);
    memset(r, 0, sizeof *r);
}

static int read_into(ws_at_tensor t, void *dst, size_t bytes)
{
    return ws_at_read(t, dst, bytes) ? ws_fail(WS_ETORCH, "CAM inference: %s", ws_at_last_error()) : 0;
}

int ws_fma_infer(const ws_clip *m, const ws_prompt *p, const uint8_t *rgb, int h, int w, const uint8_t *fg, int n_fg,
                 int att_layers, ws_cam_result *out)
{
    const int H = ws_aug_ceil_to(h, m->patch_size), W = ws_aug_ceil_to(w, m->patch_size);
    uint8_t *rs = malloc((size_t)H * W * 3);
    float *x = malloc((size_t)3 * H * W * sizeof *x);
    ws_scope g;
    ws_fma_out fo = {0};
    memset(out, 0, sizeof *out);
    ws_scope_init(&g);
    int rc = rs && x ? 0 : ws_fail(WS_ENOMEM, "CAM inference: out of memory");
    if (!rc && (H != h || W != w)) rc = ws_resize_u8(rgb, w, h, 3, rs, W, H, WS_RESAMPLE_BICUBIC);
    else if (!rc) memcpy(rs, rgb, (size_t)H * W * 3);
    if (rc) goto done;
    ws_aug_normalize(rs, H, W, x);
    const int64_t is[4] = {1, 3, H, W};
    int P = 0;
    for (int c = 0; c < n_fg; c++) P += fg[c] != 0;
    ws_fma_batch b = {.N = 1, .H = H, .W = W, .images = ws_g_from_data(&g, x, WS_AT_F32, 4, is), .fg_labels = fg};
    ws_fma_opts o = {.n_fg = n_fg, .sm_eps = 1e-5, .cam = P > 0, .create_graph = 0, .pos_interp = WS_CLIP_POS_BILINEAR,
                     .attn_mean = att_layers > 0};
    if ((rc = g.err ? g.err : ws_fma_forward(m, p, &g, &b, &o, &fo))) goto done;
    out->P = P;
    out->n_fg = n_fg;
    out->gh = fo.img.grid_h;
    out->gw = fo.img.grid_w;
    const size_t hw = (size_t)out->gh * out->gw;
    out->cam = malloc((P ? P : 1) * hw * sizeof *out->cam);
    out->fg_cls = malloc((size_t)(P ? P : 1) * sizeof *out->fg_cls);
    out->fg_logit = malloc((size_t)(P ? P : 1) * sizeof *out->fg_logit);
    out->all_logit = malloc((size_t)n_fg * sizeof *out->all_logit);
    float *logits = malloc((size_t)p->n_cls * sizeof *logits);
    if (!out->cam || !out->fg_cls || !out->fg_logit || !out->all_logit || !logits) {
        free(logits);
        rc = ws_fail(WS_ENOMEM, "CAM inference: out of memory");
        goto done;
    }
    rc = read_into(fo.logits, logits, (size_t)p->n_cls * sizeof *logits);
    memcpy(out->all_logit, logits, (size_t)n_fg * sizeof *logits);
    for (int k = 0; k < P; k++) {
        out->fg_cls[k] = fo.pos.cls[k];
        out->fg_logit[k] = logits[fo.pos.cls[k]];
    }
    free(logits);
    if (!rc && P) rc = read_into(fo.gc.cam, out->cam, (size_t)P * hw * sizeof *out->cam);
    if (!rc && att_layers > 0) {
        ws_at_tensor att = ws_fma_merge_att(&g, fo.img.attn_mean, m->vision_layers, att_layers);
        /* stored as float16 by the reference (np.float16): round through half precision */
        ws_at_tensor a16 = ws_g_to_dtype(&g, ws_g_to_dtype(&g, att, WS_AT_F16), WS_AT_F32);
        out->att = malloc(hw * hw * sizeof *out->att);
        rc = g.err ? g.err : !out->att ? ws_fail(WS_ENOMEM, "out of memory") : read_into(a16, out->att, hw * hw * sizeof *out->att);
    }
done:
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    free(rs);
    free(x);
    if (rc) ws_cam_result_free(out);
    return rc;
}

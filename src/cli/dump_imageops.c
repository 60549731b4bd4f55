/* dump_imageops.c - `wsseed dump image-ops`: the image operations of image_ops_ref.h5 that the
 * SAM side uses: ResizeLongestSide (/sam_resize, PIL bilinear) and small-region removal
 * (/small_regions/<case>: holes, islands, holes then islands, as the mask generator runs them).
 * Inputs: /input/image_rgb, /input/small_regions/<case>/mask; /sam_resize/target_length when
 * present (default 1024). The training-side resizes and colour jitter come with training.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"
#include "data/resize.h"
#include "method/amg.h"
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
        snprintf(p, sizeof p, "/input/small_regions/%s/mask", names[i]);
        if ((rc = ws_h5_read(in, p, WS_U8, &m))) break;
        const int H = (int)m.shape[0], W = (int)m.shape[1];
        const int64_t s2[2] = {H, W};
        uint8_t *a = malloc((size_t)H * W), *b = malloc((size_t)H * W);
        if (!a || !b) rc = ws_fail(WS_ENOMEM, "out of memory");
        for (int mode = 1; !rc && mode >= 0; mode--) {   /* holes, then islands, each on the input */
            memcpy(a, m.data, (size_t)H * W);
            int changed = ws_amg_remove_small_regions(a, H, W, 100, mode);
            uint8_t c8 = (uint8_t)(changed > 0);
            if (changed < 0) { rc = changed; break; }
            snprintf(p, sizeof p, "/small_regions/%s/%s/mask", names[i], mode ? "holes" : "islands");
            rc = ws_h5_write_raw(out, p, WS_U8, 2, s2, a);
            snprintf(p, sizeof p, "/small_regions/%s/%s/changed", names[i], mode ? "holes" : "islands");
            if (!rc) rc = ws_h5_write_raw(out, p, WS_U8, 0, NULL, &c8);
        }
        if (!rc) {   /* holes then islands, as the mask generator */
            memcpy(b, m.data, (size_t)H * W);
            int c1 = ws_amg_remove_small_regions(b, H, W, 100, 1);
            int c2 = c1 < 0 ? c1 : ws_amg_remove_small_regions(b, H, W, 100, 0);
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

int ws_dump_imageops(const ws_dump_args *a)
{
    ws_h5file in = {0}, out = {0};
    int rc = ws_h5_open(&in, a->input);
    if (!rc) rc = ws_h5_create(&out, a->output);
    if (!rc) rc = sam_resize(&in, &out);
    if (!rc) rc = small_regions(&in, &out);
    if (!rc) rc = ws_h5_commit(&out);
    ws_h5_close(&out);
    ws_h5_close(&in);
    return rc;
}

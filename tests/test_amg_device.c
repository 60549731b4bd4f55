/* test_amg_device.c - the mask generator's device path (ATen upsampling, stability counts,
 * binarisation and borderline counts, the path a GPU takes) against its CPU path (the C
 * upsampler): run here on the CPU with ws_amg_force_aten, on the golden tiny SAM and photo, both
 * must give the same masks record for record (ATen's bilinear and the C upsampler agree bit for
 * bit on this libtorch, tests/test_sam_up), with and without the stability filter and with crops. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/image.h"
#include "method/amg.h"
#include "model/sam.h"
#include "tap.h"

/* Every field of every record equal (the RLE stands for the mask). */
static int same_lists(const ws_amg_list *a, const ws_amg_list *b, char *why, size_t cap)
{
    if (a->n != b->n) return snprintf(why, cap, "%d vs %d masks", a->n, b->n), 0;
    for (int i = 0; i < a->n; i++) {
        const ws_amg_rec *x = &a->r[i], *y = &b->r[i];
        int eq = x->n_rle == y->n_rle && !memcmp(x->rle, y->rle, (size_t)x->n_rle * sizeof *x->rle) &&
                 x->area == y->area && x->level == y->level && x->iou == y->iou &&
                 !memcmp(&x->stability, &y->stability, sizeof x->stability) &&   /* bits: an empty mask's is NaN */
                 !memcmp(x->box, y->box, sizeof x->box) && x->borderline == y->borderline &&
                 !memcmp(x->crop_box, y->crop_box, sizeof x->crop_box);
        if (!eq)
            return snprintf(why, cap, "record %d: area %lld/%lld stability %.9g/%.9g borderline %lld/%lld", i,
                            (long long)x->area, (long long)y->area, x->stability, y->stability,
                            (long long)x->borderline, (long long)y->borderline), 0;
    }
    return snprintf(why, cap, "%d masks", a->n), 1;
}

static void compare(const ws_sam *m, const ws_image *img, const ws_amg_cfg *cfg, const char *what)
{
    ws_amg_list cpu = {0}, dev = {0};
    ws_amg_trace tc = {0}, td = {0};
    char why[256];
    ws_amg_force_aten(0);
    int rc = ws_amg_generate(m, cfg, img->rgb, img->h, img->w, &cpu, &tc);
    ws_amg_force_aten(1);
    rc = rc || ws_amg_generate(m, cfg, img->rgb, img->h, img->w, &dev, &td);
    ws_amg_force_aten(0);
    if (rc) diag("%s", ws_last_error());
    ok(!rc && same_lists(&cpu, &dev, why, sizeof why) && cpu.n > 0, "%s: device path = C path (%s)", what, why);
    ok(!rc && tc.n_pass_iou == td.n_pass_iou && tc.n_pass_iou_and_stability == td.n_pass_iou_and_stability,
       "%s: the same masks pass the filters (%d IoU, %d stability)", what, td.n_pass_iou, td.n_pass_iou_and_stability);
    ws_amg_list_free(&cpu);
    ws_amg_list_free(&dev);
    ws_amg_trace_free(&tc);
    ws_amg_trace_free(&td);
}

int main(void)
{
    const char *gd = golden_dir();
    char path[4200];
    ws_sam m;
    ws_image img = {0};
    snprintf(path, sizeof path, "%s/sam_tiny.pth", gd);
    if (ws_sam_load(&m, path, 2)) { ok(0, "load %s: %s", path, ws_last_error()); return done_testing(); }
    snprintf(path, sizeof path, "%s/dog.jpg", gd);
    if (ws_image_read(path, &img)) { ok(0, "read %s: %s", path, ws_last_error()); return done_testing(); }
    ws_amg_cfg cfg;
    ws_amg_cfg_fma_voc(&cfg);   /* crops, per-level offsets, small regions, rock-sand-water */
    cfg.points_per_side = 8;
    cfg.points_per_batch = 16;
    cfg.pred_iou_thresh = 0.02;
    cfg.stability_score_thresh = 0;
    compare(&m, &img, &cfg, "FMA settings, 8 points, no stability filter");
    cfg.stability_score_thresh = 0.6;
    cfg.stability_score_offset = 0.5;
    compare(&m, &img, &cfg, "stability >= 0.6 at offset 0.5");
    ws_image_free(&img);
    ws_sam_free(&m);
    return done_testing();
}

/* test_gdino.c - the Grounding-DINO detection API (ws_gdino_scene_begin + ws_gdino_detect, what
 * `wsseed boxes` runs) against gdino_tiny_ref.h5: on the golden image at the golden's transform
 * size (200 / 333), every caption's predict() at the "default" and "handful" thresholds gives the
 * golden query indices (exact), scores and boxes (1e-5 + 1e-4|ref|), and phrases (exact); the image
 * side is computed once for both captions. Also: an empty caption is refused with a message, and a
 * random model at the released sizes' structure (small) loads and runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/h5.h"
#include "model/gdino.h"
#include "model/wordpiece.h"
#include "tap.h"

int main(void)
{
    const char *G = golden_dir();
    char p[4400], q[8900];
    ws_gdino m;
    ws_wordpiece w = {0};
    ws_h5file in = {0};
    ws_array img = {0};
    snprintf(p, sizeof p, "%s/gdino_tiny.pth", G);
    snprintf(q, sizeof q, "%s/gdino_tiny_bert_config.json", G);
    if (!ok(!ws_gdino_load(&m, p, q), "load gdino_tiny.pth")) return done_testing();
    snprintf(p, sizeof p, "%s/bert_vocab_uncased.txt", G);
    ok(!ws_wordpiece_load(&w, p), "load the BERT vocabulary");
    snprintf(p, sizeof p, "%s/gdino_tiny_ref.h5", G);
    ok(!ws_h5_open(&in, p) && !ws_h5_read(&in, "/input/image_rgb", WS_U8, &img), "read the golden image");
    char **caps = NULL, **names = NULL;
    size_t nc = 0, nn = 0;
    int rs = ws_h5_read_strings(&in, "/input/captions", &caps, &nc) || ws_h5_read_strings(&in, "/input/case_names", &names, &nn);
    ok(!rs && nc == nn && nc > 0, "read %zu captions", nc);
    ws_gdino_scene sc;
    const int H = (int)img.shape[0], W = (int)img.shape[1];
    ok(!ws_gdino_scene_begin(&m, img.data, H, W, 200, 333, &sc), "image side of the %dx%d image", W, H);
    static const char *const settings[] = {"default", "handful"};
    for (size_t c = 0; c < nc; c++)
        for (int s = 0; s < 2; s++) {
            double bt = 0, tt = 0;
            ws_array qi = {0}, lg = {0}, bx = {0};
            char **ph = NULL;
            size_t np = 0;
            snprintf(p, sizeof p, "/case/%s/predict/%s", names[c], settings[s]);
            if (!ws_h5_exists(&in, p)) continue;
            int rc = ws_h5_attr_double(&in, p, "box_threshold", &bt) || ws_h5_attr_double(&in, p, "text_threshold", &tt);
            snprintf(q, sizeof q, "%s/query_index", p); rc |= ws_h5_read(&in, q, WS_I64, &qi);
            snprintf(q, sizeof q, "%s/logits", p); rc |= ws_h5_read(&in, q, WS_F32, &lg);
            snprintf(q, sizeof q, "%s/boxes", p); rc |= ws_h5_read(&in, q, WS_F32, &bx);
            snprintf(q, sizeof q, "%s/phrases", p); rc |= ws_h5_read_strings(&in, q, &ph, &np);
            ws_gdino_dets d;
            if (!ok(!rc && !ws_gdino_detect(&m, &w, &sc, caps[c], bt, tt, &d), "%s/%s: detect (box %g, text %g)", names[c],
                    settings[s], bt, tt))
                continue;
            const int n = (int)qi.shape[0];
            int same_q = d.n == n, same_ph = d.n == n && np == (size_t)n;
            double worst = 0;
            for (int i = 0; same_q && i < n; i++) {
                same_q &= d.query[i] == ((int64_t *)qi.data)[i];
                same_ph &= !strcmp(d.phrase[i], ph[i]);
                double e = fabs(d.score[i] - ((float *)lg.data)[i]) - 1e-4 * fabs(((float *)lg.data)[i]);
                if (e > worst) worst = e;
                for (int k = 0; k < 4; k++) {
                    double r = ((float *)bx.data)[4 * i + k];
                    e = fabs(d.cxcywh[4 * i + k] - r) - 1e-4 * fabs(r);
                    if (e > worst) worst = e;
                }
            }
            ok(same_q, "%s/%s: %d kept queries, the golden's %d, same indices", names[c], settings[s], d.n, n);
            ok(same_q && worst <= 1e-5, "%s/%s: scores and boxes within 1e-5 + 1e-4|ref| (excess %.2g)", names[c], settings[s], worst);
            ok(same_ph, "%s/%s: phrases identical", names[c], settings[s]);
            ws_gdino_dets_free(&d);
            ws_array_free(&qi); ws_array_free(&lg); ws_array_free(&bx);
            ws_h5_strings_free(ph, np);
        }
    ws_gdino_dets d;
    ok(ws_gdino_detect(&m, &w, &sc, "", 0.3, 0.25, &d) == WS_EINVAL && strstr(ws_last_error(), "empty caption"),
       "an empty caption is refused: %s", ws_last_error());
    ok(ws_gdino_detect(&m, &w, &sc, " . ", 0.3, 0.25, &d) == WS_EINVAL, "a caption of only separators is refused");
    ok(!ws_gdino_detect(&m, &w, &sc, "dog", 1.0, 0.25, &d) && d.n == 0, "a box threshold of 1 keeps no box (no error)");
    ws_gdino_dets_free(&d);
    ws_gdino_scene_free(&sc);
    ws_gdino_free(&m);
    /* random weights, the release's structure at small sizes */
    const ws_gdino_arch small = {16, {1, 1, 2, 1}, {1, 2, 4, 8}, 7, 2, 2, 64, 20, 10, 30522};
    ws_gdino r;
    if (ok(!ws_gdino_init_random(&r, &small, 1), "random model: load")) {
        ok(r.enc_layers == 2 && r.dec_layers == 2 && r.n_queries == 20 && r.swin.dim == 16 && r.swin.stages[2].depth == 2 &&
           r.swin.stages[3].blocks[0].heads == 8, "random model: sizes read back from its tensors");
        int rc = ws_gdino_scene_begin(&r, img.data, H, W, 96, 160, &sc);
        if (!rc) rc = ws_gdino_detect(&r, &w, &sc, "cat . dog .", 0.0, 0.25, &d);
        ok(!rc && d.n == 20, "random model: detects (all %d queries at threshold 0)", d.n);
        if (!rc) { ws_gdino_dets_free(&d); ws_gdino_scene_free(&sc); }
        ws_gdino_free(&r);
    }
    /* Swin-B's window 12 (groundingdino_swinb_cogcoor): read from the bias table */
    const ws_gdino_arch small_b = {16, {1, 1, 2, 1}, {1, 2, 4, 8}, 12, 1, 1, 64, 20, 10, 30522};
    if (ok(!ws_gdino_init_random(&r, &small_b, 2), "random model with window 12: load")) {
        ok(r.swin.window == 12, "window 12 read from the relative position bias table (%d)", r.swin.window);
        int rc = ws_gdino_scene_begin(&r, img.data, H, W, 96, 160, &sc);
        if (!rc) rc = ws_gdino_detect(&r, &w, &sc, "cat .", 0.0, 0.25, &d);
        ok(!rc && d.n == 20, "random model with window 12: detects");
        if (!rc) { ws_gdino_dets_free(&d); ws_gdino_scene_free(&sc); }
        ws_gdino_free(&r);
    }
    ws_h5_strings_free(caps, nc);
    ws_h5_strings_free(names, nn);
    ws_array_free(&img);
    ws_h5_close(&in);
    ws_wordpiece_free(&w);
    return done_testing();
}

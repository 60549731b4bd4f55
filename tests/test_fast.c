/* test_fast.c - the fast text path (causal horizon + a shared context's prefix computed once)
 * equals the plain path (all 77 positions per prompt) on the tiny CLIP of the golden folder, for
 * both tasks: text features, logits, Grad-CAMs, losses and d loss / d ctx (second order in seg),
 * within 1e-5 relative (to the largest magnitude of each quantity).
 *
 * The seg task's d loss / d ctx is only comparable away from the CAM loss's kink: the fg term is
 * |m - u| over F with m = max over F (detached), whose derivative sign(m - u) jumps from 0 to 1
 * when a pixel falls just below the max. The bilinear upsampling makes a flat band half a patch
 * wide along the image border (both taps on the edge row/column); with ATen 2.x's float
 * source-index arithmetic (see model/sam_upsample.c) the values along that band differ by an
 * ulp instead of being equal, so several F pixels tie with the max within rounding (5 here, with
 * F reaching the border), and the fast path's 1e-7 forward differences can move some of them
 * across the kink: measured under libtorch 2.6, plain vs plain with the images scaled by
 * 1 + 1e-7 flips two pixels and moves d loss / d ctx by 9.4e-4 relative (fast vs plain: 4.7e-4
 * in one run, 4.4e-7 in another, by rounding luck) while every forward quantity stays within
 * 1e-6; libtorch 1.13's double source index makes those pixels exactly equal (no flip). That is a property of the loss, not of the text path, so the seed maps below ignore (255)
 * a border band one patch wide, which keeps F off the flat band, and the test checks that no F
 * pixel lies within 1e-5 of the max, the condition under which the comparison means something. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "method/fma.h"
#include "method/names.h"
#include "tap.h"

static double max_rel(ws_at_tensor a, ws_at_tensor b)
{
    int64_t n = 0;
    if (!a || !b || ws_at_numel(a, &n) || n <= 0) return INFINITY;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    ws_at_tensor af = NULL, bf = NULL;
    ws_at_to_dtype(a, WS_AT_F32, &af);
    ws_at_to_dtype(b, WS_AT_F32, &bf);
    double d = 0, m = 0;
    if (!ws_at_read(af, x, (size_t)n * 4) && !ws_at_read(bf, y, (size_t)n * 4))
        for (int64_t i = 0; i < n; i++) { d = fmax(d, fabs(x[i] - y[i])); m = fmax(m, fabs(x[i])); }
    else d = INFINITY;
    ws_at_free(af); ws_at_free(bf);
    free(x); free(y);
    return m > 0 ? d / m : d;
}

/* F pixels u with 0 < m - u <= 1e-5 m, m the max over F, of each positive (n, c) in label order:
 * pixels where the fg loss's |m - u| is at its kink within rounding. -1 when unreadable. */
static int near_max_ties(ws_at_tensor up, ws_at_tensor mx, const uint8_t *seeds, const uint8_t *fg, int N, int S)
{
    int P = 0, ties = 0;
    for (int i = 0; i < N * 20; i++) P += fg[i] != 0;
    float *u = malloc((size_t)P * S * S * 4), *m = malloc((size_t)P * 4);
    if (!u || !m || ws_at_read(up, u, (size_t)P * S * S * 4) || ws_at_read(mx, m, (size_t)P * 4)) ties = -1;
    for (int n = 0, p = 0; ties >= 0 && n < N; n++)
        for (int c = 0; c < 20; c++) {
            if (!fg[n * 20 + c]) continue;
            for (int i = 0; i < S * S; i++) {
                const float d = m[p] - u[(size_t)p * S * S + i];
                ties += seeds[(size_t)n * S * S + i] == c + 1 && d > 0 && d <= 1e-5f * m[p];
            }
            p++;
        }
    free(u);
    free(m);
    return ties;
}

static void run_task(const ws_clip *m, const ws_bpe *bpe, int seg)
{
    const char *names[45];
    for (int i = 0; i < 45; i++) names[i] = i < 20 ? WS_VOC_FG[i] : seg ? "" : WS_VOC_BG[i - 20];
    ws_prompt p;
    if (ws_prompt_build(&p, m, bpe, names, 45, 16, seg, seg) || ws_prompt_init_ctx(&p, seg ? "b" : "a", 0.02)) {
        ok(0, "prompt: %s", ws_last_error());
        return;
    }
    const int N = 3, S = m->image_resolution, band = m->patch_size;
    ws_rng r;
    ws_rng_seed(&r, 3);
    float *img = malloc((size_t)N * 3 * S * S * 4);
    uint8_t fg[3 * 20] = {0}, *seeds = malloc((size_t)N * S * S);
    for (int i = 0; i < N * 3 * S * S; i++) img[i] = (float)(ws_rng_double(&r) * 2 - 1);
    const int cls[3][2] = {{3, 12}, {8, 15}, {5, 5}};
    for (int n = 0; n < N; n++) {
        fg[n * 20 + cls[n][0]] = fg[n * 20 + cls[n][1]] = 1;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                seeds[((size_t)n * S + y) * S + x] =
                    (uint8_t)(y < band || x < band || y >= S - band || x >= S - band ? 255
                              : y < S / 3 ? 0 : x < S / 2 ? cls[n][0] + 1 : cls[n][1] + 1);
    }
    ws_at_tensor out[2][6] = {{0}};
    ws_scope g[2];
    for (int fast = 0; fast < 2; fast++) {
        ws_scope_init(&g[fast]);
        const int64_t is[4] = {N, 3, S, S};
        ws_fma_batch b = {.N = N, .H = S, .W = S, .images = ws_g_from_data(&g[fast], img, WS_AT_F32, 4, is),
                          .fg_labels = fg, .mcl_labels = seg ? NULL : fg, .seeds = seeds};
        ws_fma_opts o = {.n_fg = 20, .sm_eps = 1e-5, .w_mcl = !seg, .w_cam_fg = seg, .w_cam_bg = seg, .cam = 1,
                         .create_graph = 1, .pos_interp = WS_CLIP_POS_BILINEAR, .fast_text = fast};
        ws_fma_out fo;
        ws_at_tensor grad = NULL;
        if (ws_fma_forward(m, &p, &g[fast], &b, &o, &fo) ||
            ws_at_autograd_grad(&fo.loss_total, 1, NULL, &p.ctx, 1, 0, 0, 0, &grad)) {
            ok(0, "%s %s forward: %s", seg ? "seg" : "cls", fast ? "fast" : "plain", ws_last_error());
            return;
        }
        ws_scope_adopt(&g[fast], grad);
        ws_at_tensor items[6] = {fo.text.features, fo.logits, fo.gc.cam, fo.loss_total,
                                 seg ? fo.cl.fg : fo.loss_mcl, grad};
        if (seg) {
            int ties = near_max_ties(fo.cl.upsampled, fo.cl.max_fg, seeds, fg, N, S);
            ok(ties == 0, "seg task, %s: %d F pixels within 1e-5 of the max (the fg loss's kink)", fast ? "fast" : "plain",
               ties);
        }
        memcpy(out[fast], items, sizeof items);
        ws_fma_out_free(&fo);
    }
    const char *what[6] = {"text features", "logits", "Grad-CAMs", "loss", seg ? "CAM loss fg" : "MCL", "d loss / d ctx"};
    for (int k = 0; k < 6; k++) {
        double d = max_rel(out[1][k], out[0][k]);
        ok(d <= 1e-5, "%s task, %s: fast = plain within %.2g relative%s", seg ? "seg" : "cls", what[k], d,
           k == 5 && seg ? " (second order)" : "");
    }
    ok(p.max_len < p.context_length, "%s prompts use %d of %d positions", seg ? "seg" : "cls", p.max_len, p.context_length);
    ws_scope_free(&g[0]);
    ws_scope_free(&g[1]);
    ws_prompt_free(&p);
    free(img);
    free(seeds);
}

int main(void)
{
    const char *dir = golden_dir();
    char clip[4096], vocab[4096];
    snprintf(clip, sizeof clip, "%s/clip_tiny.pt", dir);
    snprintf(vocab, sizeof vocab, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    ws_clip m = {0};
    ws_bpe bpe = {0};
    if (ws_clip_load(&m, clip) || ws_bpe_load(&bpe, vocab)) {
        ok(0, "load: %s", ws_last_error());
        return done_testing();
    }
    run_task(&m, &bpe, 0);
    run_task(&m, &bpe, 1);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return done_testing();
}

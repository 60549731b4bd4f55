/* test_sam_up.c - the mask generator's C upsampling of mask logits (ws_sam_upsample_logits)
 * against postprocess_masks as ATen computes it (ws_sam_postprocess: bilinear to S x S, crop,
 * bilinear to the image size): bit for bit, for the released size (S 1024, 256 x 256 logits) on
 * the shapes the generator meets (whole VOC images, crops, portrait, square, equal sizes), with
 * 1 and 2 threads, and a small model size; for each SIMD level the CPU has (AVX-512, AVX2, C).
 * ATen 2.x computes the small outputs (h + w <= 128: the 13 x 9 case) and everything when ATen runs
 * on one thread with its channels-last kernel (other arithmetic): both are checked too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/sam.h"
#include "model/sam_upsample.h"
#include "shim/at.h"
#include "shim/scope.h"
#include "tap.h"

static void run_all(void);

static void check(int S, int lh, int rh, int rw, int h, int w, int n, int threads)
{
    ws_sam m;
    memset(&m, 0, sizeof m);
    m.img_size = S;
    ws_rng r;
    ws_rng_seed(&r, (uint64_t)(rh * 7 + rw * 13 + h + w));
    size_t lp = (size_t)lh * lh, op = (size_t)h * w;
    float *low = malloc(n * lp * sizeof *low), *got = malloc(n * op * sizeof *got), *ref = malloc(n * op * sizeof *ref);
    for (size_t i = 0; i < n * lp; i++) low[i] = (float)(8.0 * (ws_rng_double(&r) - 0.5) + ((i % lh) < (size_t)lh / 3 ? 3 : 0));
    ws_scope g;
    ws_scope_init(&g);
    const int64_t s4[4] = {n / 3, 3, lh, lh};   /* the generator's (points, 3 masks) layout */
    ws_at_tensor full = ws_sam_postprocess(&m, &g, ws_g_from_data(&g, low, WS_AT_F32, 4, s4), rh, rw, h, w);
    int rc = g.err || ws_at_read(full, ref, n * op * sizeof *ref);
    ws_scope_free(&g);
    int32_t *cnt = malloc((size_t)n * 2 * sizeof *cnt);
    rc |= ws_sam_upsample_logits(&m, low, n, lh, lh, rh, rw, h, w, got, 1.0f, cnt, threads);
    int cnt_ok = 1;
    for (int k = 0; k < n; k++) {   /* the fused counts: logits > +1 and > -1 */
        int32_t hi = 0, lo = 0;
        for (size_t i = 0; i < op; i++) { hi += ref[k * op + i] > 1.0f; lo += ref[k * op + i] > -1.0f; }
        cnt_ok &= hi == cnt[2 * k] && lo == cnt[2 * k + 1];
    }
    ok(!rc && cnt_ok, "  counts of logits > +1 and > -1 per map equal the reference's");
    free(cnt);
    size_t differ = 0;
    float worst = 0;
    for (size_t i = 0; i < n * op; i++)
        if (memcmp(&got[i], &ref[i], sizeof(float))) {
            differ++;
            if (fabsf(got[i] - ref[i]) > worst) worst = fabsf(got[i] - ref[i]);
        }
    ok(!rc && differ == 0, "S %d, %dx%d logits -> %dx%d of %dx%d -> %dx%d, %d maps, %d thread(s): %zu values differ "
       "(max %.3g)", S, lh, lh, rh, rw, S, S, h, w, n, threads, differ, worst);
    free(low); free(got); free(ref);
}

int main(void)
{
    for (int level = 2; level >= 0; level--) {
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (level == 2 && !__builtin_cpu_supports("avx512f")) { ok(1, "# SKIP no AVX-512 on this CPU"); continue; }
        if (level == 1 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) { ok(1, "# SKIP no AVX2"); continue; }
#else
        if (level > 0) continue;
#endif
        ws_sam_upsample_force_simd(level);
        diag("SIMD level %d (2 AVX-512, 1 AVX2 + FMA, 0 portable C)", level);
        run_all();
    }
    ws_sam_upsample_force_simd(-1);
    const int at_threads = ws_at_get_num_threads();
    if (ws_at_set_num_threads(1)) ok(0, "ATen on one thread: %s", ws_at_last_error());
    diag("ATen on one thread");
    check(1024, 256, 768, 1024, 375, 500, 3, 2);
    check(128, 32, 128, 97, 13, 9, 3, 1);
    ws_at_set_num_threads(at_threads);
    return done_testing();
}

static void run_all(void)
{
    check(1024, 256, 768, 1024, 375, 500, 3, 1);     /* a VOC image, whole */
    check(1024, 256, 768, 1024, 375, 500, 6, 2);
    check(1024, 256, 1024, 853, 244, 208, 3, 2);     /* a layer-1 crop of it */
    check(1024, 256, 1024, 768, 500, 375, 3, 1);     /* portrait */
    check(1024, 256, 1024, 1024, 1024, 1024, 3, 2);  /* equal sizes: the second resize copies */
    check(1024, 256, 1024, 1024, 1500, 1500, 3, 1);  /* larger than S */
    check(1024, 256, 683, 1024, 2000, 3000, 3, 2);
    check(128, 32, 96, 128, 75, 100, 6, 2);          /* a small model */
    check(128, 32, 128, 97, 13, 9, 3, 1);
}

/* camtie.c - explains a seg-task gradient difference by the CAM loss's kink, for test_step_golden.
 *
 *   camtie REF.h5 OUT.h5
 *
 * The fg term of the CAM activation loss is |m - u| with m the detached maximum of the upsampled
 * CAM u over the seed pixels F. Its subgradient is -sign(m - u): 0 on every pixel that ties with the
 * maximum, -1 just below it. fma_step_ref.h5 (torch 1.13) has such ties: bilinear upsampling's flat
 * band along the border (both taps on the edge row) gives several F pixels the very value of the max.
 * ATen 2.x computes the source index in float and rounds that band apart by an ulp or two, so some
 * of those pixels fall below the max and get a gradient of -w_fg/Z each: d loss / d cam then differs
 * from the golden by exactly that, pushed back through the bilinear upsampling, and so does
 * everything downstream of it. The official code on the same ATen would differ alike: it is the
 * kink, not the implementation.
 *
 * This tool recomputes d loss / d u from the reference's and from OUT's upsampled CAMs (seed maps,
 * positives, |F|, |B| and the loss weights from REF), pushes the difference back through the
 * upsampling (align_corners False, as the loss) and checks OUT's /diag/seg/dloss_dpos_cam against the
 * reference's plus that correction with the golden tolerance (|c - r| <= 1e-4 + 1e-4|r| and
 * <= 1e-4 max|r|). TAP lines on stdout; the last line is "# ties flipped: N" (0: the kink is not hit,
 * and the plain comparison applies). Exit 0 when every check passed.
 */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails, tests;

static void ok(int cond, const char *fmt, const char *what, double a, double b)
{
    tests++;
    if (!cond) fails++;
    printf("%s %d - ", cond ? "ok" : "not ok", tests);
    printf(fmt, what, a, b);
    printf("\n");
}

/* The dataset's values converted to `type`; *n gets the element count, dims its shape. */
static void *read_ds(hid_t f, const char *path, hid_t type, size_t esz, int64_t *n, hsize_t dims[4], int *nd)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) { fprintf(stderr, "camtie: no dataset %s\n", path); exit(1); }
    hid_t s = H5Dget_space(d);
    *nd = H5Sget_simple_extent_dims(s, dims, NULL);
    *n = H5Sget_simple_extent_npoints(s);
    void *buf = malloc((size_t)*n * esz + 1);
    if (!buf || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) { fprintf(stderr, "camtie: cannot read %s\n", path); exit(1); }
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

/* d loss / d u of positive p's pixels (H*W), for the CAM u: w_fg/Z * -sign(m - u) on F, w_bg/Z *
 * [u > 0] on the rest that is not ignored; m = max(0, max of u over F). */
static void loss_grad(const float *u, const uint8_t *lb, uint8_t c1, int64_t HW, const double w[2], double Z, double *g)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < HW; i++)
        if (lb[i] == c1 && u[i] > m) m = u[i];
    if (!(m > 0.0f)) m = 0.0f;
    for (int64_t i = 0; i < HW; i++) {
        float d = m - u[i];
        if (lb[i] == c1) g[i] = w[0] / Z * -(double)((d > 0) - (d < 0));
        else if (lb[i] != 255) g[i] = w[1] / Z * (u[i] > 0.0f);
        else g[i] = 0.0;
    }
}

/* The source row (or column) of destination index o in bilinear upsampling from `in` to `out`
 * samples with align_corners False: the two taps and the weight of the second. */
static void taps(int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1, double *l1)
{
    double src = ((double)o + 0.5) * (double)in / (double)out - 0.5;
    if (src < 0) src = 0;
    *i0 = (int64_t)src;
    if (*i0 > in - 1) *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *l1 = src - (double)*i0;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: camtie REF.h5 OUT.h5\n"); return 2; }
    hid_t fr = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT), fo = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fr < 0 || fo < 0) { fprintf(stderr, "camtie: cannot open %s\n", fr < 0 ? argv[1] : argv[2]); return 1; }
    hsize_t dl[4], du[4], dc[4], dd[4];
    int nd;
    int64_t n, P, nc;
    uint8_t *lab = read_ds(fr, "/inputs/seg_label", H5T_NATIVE_UINT8, 1, &n, dl, &nd);
    const int64_t H = (int64_t)dl[1], W = (int64_t)dl[2], HW = H * W;
    int64_t *bidx = read_ds(fr, "/seg/pos_batch_idx", H5T_NATIVE_INT64, 8, &P, dd, &nd);
    int64_t *cls = read_ds(fr, "/seg/pos_fg_cls", H5T_NATIVE_INT64, 8, &n, dd, &nd);
    int64_t *fgc = read_ds(fr, "/diag/seg/fg_count", H5T_NATIVE_INT64, 8, &n, dd, &nd);
    int64_t *bgc = read_ds(fr, "/diag/seg/bg_count", H5T_NATIVE_INT64, 8, &n, dd, &nd);
    float *ur = read_ds(fr, "/seg/pos_cam_upsampled", H5T_NATIVE_FLOAT, 4, &n, du, &nd);
    float *uo = read_ds(fo, "/seg/pos_cam_upsampled", H5T_NATIVE_FLOAT, 4, &n, du, &nd);
    float *cr = read_ds(fr, "/diag/seg/dloss_dpos_cam", H5T_NATIVE_FLOAT, 4, &nc, dc, &nd);
    float *co = read_ds(fo, "/diag/seg/dloss_dpos_cam", H5T_NATIVE_FLOAT, 4, &nc, dc, &nd);
    double w[2];
    hid_t a = H5Aopen_by_name(fr, "/config", "seg_cam_weights", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, w) < 0) { fprintf(stderr, "camtie: no /config seg_cam_weights\n"); return 1; }
    H5Aclose(a);
    const int64_t h = (int64_t)dc[1], wd = (int64_t)dc[2];
    double Z = 0;
    for (int64_t p = 0; p < P; p++) Z += (double)(fgc[p] + bgc[p]);

    double *gr = malloc(sizeof *gr * (size_t)HW), *go = malloc(sizeof *go * (size_t)HW);
    double *corr = calloc((size_t)nc, sizeof *corr);
    int64_t flipped = 0;
    for (int64_t p = 0; p < P; p++) {
        const uint8_t *lb = lab + bidx[p] * HW, c1 = (uint8_t)(cls[p] + 1);
        loss_grad(ur + p * HW, lb, c1, HW, w, Z, gr);
        loss_grad(uo + p * HW, lb, c1, HW, w, Z, go);
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                double d = go[y * W + x] - gr[y * W + x];
                if (d == 0.0) continue;
                flipped++;
                int64_t y0, y1, x0, x1;
                double ly, lx;
                taps(y, h, H, &y0, &y1, &ly);
                taps(x, wd, W, &x0, &x1, &lx);
                double *c = corr + p * h * wd;
                c[y0 * wd + x0] += d * (1 - ly) * (1 - lx);
                c[y0 * wd + x1] += d * (1 - ly) * lx;
                c[y1 * wd + x0] += d * ly * (1 - lx);
                c[y1 * wd + x1] += d * ly * lx;
            }
    }
    double mx = 0, worst = 0, worst_plain = 0;
    int good = 1;
    for (int64_t i = 0; i < nc; i++) mx = fmax(mx, fabs(cr[i]));
    for (int64_t i = 0; i < nc; i++) {
        double r = cr[i] + corr[i], d = fabs(co[i] - r);
        worst = fmax(worst, d);
        worst_plain = fmax(worst_plain, fabs(co[i] - cr[i]));
        if (!(d <= 1e-4 + 1e-4 * fabs(r) && d <= 1e-4 * mx)) good = 0;
    }
    ok(good, "%s equals the reference plus the subgradient change of the tied pixels: max|diff| %.3g (without it %.3g)",
       "/diag/seg/dloss_dpos_cam", worst, worst_plain);
    printf("# ties flipped: %lld\n", (long long)flipped);
    void *bufs[] = {lab, bidx, cls, fgc, bgc, ur, uo, cr, co, gr, go, corr};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    H5Fclose(fr);
    H5Fclose(fo);
    return fails ? 1 : 0;
}

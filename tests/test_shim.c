/* test_shim.c - the ATen C shim: error paths, ownership, grad/inference guards, first- and
 * second-order autograd, torch-exact RNG (against the golden ctx initialisation), generator
 * state round trips, per-thread errors, checkpoint errors naming the file, devices (a CUDA
 * request on a CPU-only libtorch; on a GPU: placement, host copies, device-independent random
 * numbers) and the precision of the products (bf16 on the CPU exercises the casts). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5.h"
#include "model/clip.h"
#include "shim/at.h"
#include "tap.h"

static ws_at_tensor vec(const float *v, int64_t n)
{
    ws_at_tensor t = NULL;
    ws_at_from_data(v, WS_AT_F32, 1, &n, &t);
    return t;
}

static void test_errors(void)
{
    const int64_t a_s[2] = {2, 3}, b_s[2] = {4, 5};
    ws_at_tensor a = NULL, b = NULL, out = NULL;
    ws_at_full(1, WS_AT_F32, 2, a_s, &a);
    ws_at_full(1, WS_AT_F32, 2, b_s, &b);
    int rc = ws_at_matmul(a, b, &out);
    ok(rc == WS_AT_ERR && out == NULL, "matmul (2,3)x(4,5) fails and leaves the output untouched");
    ok(strstr(ws_at_last_error(), "shapes cannot be multiplied") != NULL, "message says why: %s", ws_at_last_error());
    ok(ws_at_add_scaled(a, NULL, 1, &out) == WS_AT_ERR && strstr(ws_at_last_error(), "NULL"), "NULL handle is an error");
    ws_at_free(NULL);   /* freeing NULL is a no-op */
    ok(ws_at_reshape(a, 1, (int64_t[]){7}, &out) == WS_AT_ERR && out == NULL, "bad reshape fails: %s", ws_at_last_error());
    ws_at_free(a);
    ws_at_free(b);
}

static void *thread_error(void *arg)
{
    (void)arg;
    ws_at_tensor o = NULL;
    ws_at_matmul(NULL, NULL, &o);
    return strdup(ws_at_last_error());
}

static void test_thread_errors(void)
{
    ws_at_tensor o = NULL;
    const int64_t s[1] = {3};
    ws_at_tensor a = NULL;
    ws_at_full(0, WS_AT_F32, 1, s, &a);
    ws_at_reshape(a, 1, (int64_t[]){5}, &o);
    char *mine = strdup(ws_at_last_error()), *theirs = NULL;
    pthread_t th;
    pthread_create(&th, NULL, thread_error, NULL);
    pthread_join(th, (void **)&theirs);
    ok(strcmp(mine, ws_at_last_error()) == 0 && strcmp(mine, theirs) != 0,
       "last error is per thread (main: '%.40s', other: '%.40s')", mine, theirs);
    free(mine);
    free(theirs);
    ws_at_free(a);
}

static void test_guards(void)
{
    ws_at_guard g1 = NULL, g2 = NULL;
    int prev = -1;
    ok(ws_at_is_grad_enabled() == 1, "grad mode starts enabled");
    ws_at_grad_mode_enter(0, &prev, &g1);
    ok(prev == 1 && ws_at_is_grad_enabled() == 0, "no-grad scope reports the previous mode");
    ws_at_grad_mode_enter(1, &prev, &g2);
    ok(prev == 0 && ws_at_is_grad_enabled() == 1, "nested enable-grad scope");
    ws_at_guard_exit(g2);
    ok(ws_at_is_grad_enabled() == 0, "inner exit restores no-grad");
    ws_at_guard_exit(g1);
    ok(ws_at_is_grad_enabled() == 1, "outer exit restores grad");
    ws_at_inference_mode_enter(1, &prev, &g1);
    ok(prev == 0 && ws_at_is_inference_mode() && !ws_at_is_grad_enabled(), "inference mode on (grad off inside)");
    ws_at_guard_exit(g1);
    ok(!ws_at_is_inference_mode() && ws_at_is_grad_enabled(), "inference mode restored");
}

static void test_autograd(void)
{
    const float xv[3] = {1, 2, 3};
    ws_at_tensor x = vec(xv, 3), y = NULL, s = NULL, g = NULL, gs = NULL, h = NULL, acc = NULL;
    ws_at_set_requires_grad(x, 1);
    ws_at_binary_scalar(WS_AT_POW, x, 3.0, &y);
    ws_at_reduce_dim(WS_AT_RSUM, y, WS_AT_ALL, 0, &s);
    int rc = ws_at_autograd_grad(&s, 1, NULL, &x, 1, 1, 1, 0, &g);   /* 3 x^2, differentiable */
    float gv[3] = {0}, hv[3] = {0};
    ws_at_read(g, gv, sizeof gv);
    ok(rc == 0 && gv[0] == 3 && gv[1] == 12 && gv[2] == 27, "d/dx sum(x^3) = 3x^2 (%g %g %g)", gv[0], gv[1], gv[2]);
    ws_at_reduce_dim(WS_AT_RSUM, g, WS_AT_ALL, 0, &gs);
    rc = ws_at_autograd_grad(&gs, 1, NULL, &x, 1, 0, 0, 0, &h);     /* second order: 6x */
    ws_at_read(h, hv, sizeof hv);
    ok(rc == 0 && hv[0] == 6 && hv[1] == 12 && hv[2] == 18, "second-order gradient = 6x (%g %g %g)", hv[0], hv[1], hv[2]);
    ok(ws_at_backward(s, NULL, 0, 0) == 0 && ws_at_grad_of(x, &acc) == 0 && acc != NULL, "backward fills .grad");
    float av[3] = {0};
    ws_at_read(acc, av, sizeof av);
    ok(av[2] == 27, "accumulated .grad = 3x^2 (%g)", av[2]);
    rc = ws_at_backward(s, NULL, 0, 0);
    ok(rc == WS_AT_ERR && strstr(ws_at_last_error(), "backward through the graph a second time"),
       "a second backward through a freed graph fails: %.70s", ws_at_last_error());
    ws_at_tensor *all[] = {&x, &y, &s, &g, &gs, &h, &acc};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ws_at_free(*all[i]);
}

/* torch.manual_seed(sha1-derived seed); ctx.normal_(0, std) must equal the official init. */
static void test_rng(const char *gd)
{
    char path[4200];
    ws_h5file f;
    snprintf(path, sizeof path, "%s/fma_step_ref.h5", gd);
    if (!ok(ws_h5_open(&f, path) == 0, "open %s", path)) return;
    const struct { const char *task; uint64_t seed; double std; int64_t shape[3]; int nd; } cases[] = {
        {"cls", 2763632353ULL, 0.015, {16, 128, 0}, 2}, {"seg", 3631188958ULL, 0.0125, {45, 16, 128}, 3},
    };
    for (int c = 0; c < 2; c++) {
        char name[128], alt[128];
        ws_array want = {0}, want_default = {0};
        snprintf(name, sizeof name, "/%s/ctx_init", cases[c].task);
        snprintf(alt, sizeof alt, "/ctx_init_variants/%s_ctx_default_capability", cases[c].task);
        ws_h5_read(&f, name, WS_F32, &want);
        ws_h5_read(&f, alt, WS_F32, &want_default);
        ws_at_tensor t = NULL, t2 = NULL;
        ws_at_gen gen = NULL;
        ws_at_manual_seed(cases[c].seed);
        ws_at_empty(WS_AT_F32, cases[c].nd, cases[c].shape, &t);
        ws_at_normal_(t, 0, cases[c].std, NULL);
        size_t bytes = (size_t)ws_array_numel(&want) * 4;
        float *got = malloc(bytes), *got2 = malloc(bytes);
        ws_at_read(t, got, bytes);
        int exact = want.data && !memcmp(got, want.data, bytes);
        int exact_default = want_default.data && !memcmp(got, want_default.data, bytes);
        ok(exact || exact_default, "%s ctx init N(0, %g^2) from seed %llu is bit-identical to torch (%s kernel)",
           cases[c].task, cases[c].std, (unsigned long long)cases[c].seed, exact ? "AVX2" : "default");
        /* an explicit generator with the same seed gives the same stream; its state round-trips */
        ws_at_gen_new(cases[c].seed, &gen);
        size_t len = 0;
        ws_at_gen_get_state(gen, NULL, &len);
        uint8_t *state = malloc(len);
        ws_at_gen_get_state(gen, state, &len);
        ws_at_empty(WS_AT_F32, cases[c].nd, cases[c].shape, &t2);
        ws_at_normal_(t2, 0, cases[c].std, gen);
        ws_at_read(t2, got2, bytes);
        ok(!memcmp(got, got2, bytes), "%s: explicit generator reproduces the default one", cases[c].task);
        ws_at_gen_set_state(gen, state, len);
        ws_at_normal_(t2, 0, cases[c].std, gen);
        ws_at_read(t2, got2, bytes);
        ok(len > 0 && !memcmp(got, got2, bytes), "%s: restored generator state (%zu bytes) replays the draw",
           cases[c].task, len);
        free(state);
        free(got);
        free(got2);
        ws_at_free(t);
        ws_at_free(t2);
        ws_at_gen_free(gen);
        ws_array_free(&want);
        ws_array_free(&want_default);
    }
    ws_h5_close(&f);
}

static void test_checkpoint_errors(const char *gd)
{
    char path[4200], trunc[4300];
    ws_clip m;
    ok(ws_clip_load(&m, "/nonexistent/ViT-B-16.pt") != 0 && strstr(ws_last_error(), "/nonexistent/ViT-B-16.pt"),
       "missing checkpoint named: %s", ws_last_error());
    snprintf(path, sizeof path, "%s/dog.jpg", gd);
    ok(ws_clip_load(&m, path) != 0 && strstr(ws_last_error(), "dog.jpg") && strstr(ws_last_error(), "not a zip"),
       "a JPEG is refused: %s", ws_last_error());
    /* a truncated copy of the TorchScript archive */
    snprintf(path, sizeof path, "%s/clip_tiny.pt", gd);
    snprintf(trunc, sizeof trunc, "%s/wsseed-trunc-%d.pt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *in = fopen(path, "rb"), *out = fopen(trunc, "wb");
    char buf[65536];
    size_t total = 0, n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0 && total < 4000000) total += fwrite(buf, 1, n, out);
    if (in) fclose(in);
    if (out) fclose(out);
    ok(ws_clip_load(&m, trunc) != 0 && strstr(ws_last_error(), "wsseed-trunc-"), "truncated archive refused, naming it: %.160s",
       ws_last_error());
    /* a valid checkpoint of another model: SAM */
    snprintf(path, sizeof path, "%s/sam_tiny.pth", gd);
    ok(ws_clip_load(&m, path) != 0 && strstr(ws_last_error(), "sam_tiny.pth") && strstr(ws_last_error(), "visual.proj"),
       "SAM checkpoint refused, naming what is missing: %.160s", ws_last_error());
    /* the C state-dict reader handles OrderedDict (SAM) and {'model': ...} nesting (Grounding-DINO) */
    ws_at_ckpt ck = NULL;
    ok(ws_at_ckpt_open(path, &ck) == 0 && ws_at_ckpt_count(ck) == 174 &&
       !strcmp(ws_at_ckpt_name(ck, 0), "image_encoder.pos_embed"), "sam_tiny.pth: 174 tensors in file order");
    ws_at_ckpt_close(ck);
    ck = NULL;
    snprintf(path, sizeof path, "%s/gdino_tiny.pth", gd);
    /* tools/gpu-check.sh carries a golden subset without Grounding-DINO (a 22 MB file) */
    if (access(path, R_OK)) {
        ok(1, "# SKIP %s is absent (a golden subset)", path);
    } else {
        ok(ws_at_ckpt_open(path, &ck) == 0 && ws_at_ckpt_count(ck) == 338 &&
           !strncmp(ws_at_ckpt_name(ck, 0), "module.", 7), "gdino_tiny.pth: the nested 'model' dict, 338 tensors");
        ws_at_ckpt_close(ck);
        ck = NULL;
    }
    /* a truncated state dict */
    snprintf(path, sizeof path, "%s/clip_tiny_state.pth", gd);
    in = fopen(path, "rb");
    out = fopen(trunc, "wb");
    total = 0;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0 && total < 8000000) total += fwrite(buf, 1, n, out);
    if (in) fclose(in);
    if (out) fclose(out);
    ok(ws_clip_load(&m, trunc) != 0 && strstr(ws_last_error(), "wsseed-trunc-") && strstr(ws_last_error(), "truncated"),
       "truncated state dict refused: %.160s", ws_last_error());
    remove(trunc);
    snprintf(path, sizeof path, "%s/clip_tiny_state.pth", gd);
    int rc = ws_clip_load(&m, path);
    ok(rc == 0 && m.vision_width == 128 && m.vision_layers == 3 && m.vision_heads == 2 && m.patch_size == 16 &&
       m.grid == 4 && m.embed_dim == 64 && m.context_length == 77 && m.vocab_size == 49408 && m.text_width == 128 &&
       m.text_heads == 2 && m.text_layers == 3, "architecture inferred like build_model");
    if (rc == 0) ws_clip_free(&m);
}

/* Values whose products differ between float32 and bfloat16 (8-bit mantissa). */
static void prec_inputs(ws_at_tensor *x, ws_at_tensor *w)
{
    float xv[8], wv[12];
    for (int i = 0; i < 8; i++) xv[i] = 1.0f + 0.001f * (float)(i + 1);
    for (int i = 0; i < 12; i++) wv[i] = 0.5f + 0.0007f * (float)(i * i);
    const int64_t xs[2] = {2, 4}, ws[2] = {3, 4};
    ws_at_from_data(xv, WS_AT_F32, 2, xs, x);
    ws_at_from_data(wv, WS_AT_F32, 2, ws, w);
}

static void test_precision(void)
{
    ws_at_tensor x = NULL, w = NULL, y32 = NULL, ylp = NULL, xb = NULL, wb = NULL, yb = NULL, yb32 = NULL, s = NULL, g = NULL;
    float a[6], b[6], c[6];
    int dt = -1, gdt = -1;
    prec_inputs(&x, &w);
    ok(ws_at_get_precision() == WS_AT_F32, "products default to float32");
    ws_at_linear(x, w, NULL, &y32);
    /* the reference: the same product computed on bf16 copies, by hand */
    ws_at_to_dtype(x, WS_AT_BF16, &xb);
    ws_at_to_dtype(w, WS_AT_BF16, &wb);
    ws_at_linear(xb, wb, NULL, &yb);
    ws_at_to_dtype(yb, WS_AT_F32, &yb32);
    ws_at_set_requires_grad(x, 1);
    int rc = ws_at_set_precision(WS_AT_BF16) || ws_at_linear(x, w, NULL, &ylp) || ws_at_dtype_of(ylp, &dt);
    ws_at_reduce_dim(WS_AT_RSUM, ylp, WS_AT_ALL, 0, &s);
    ws_at_autograd_grad(&s, 1, NULL, &x, 1, 0, 0, 0, &g);
    if (g) ws_at_dtype_of(g, &gdt);
    ws_at_set_precision(WS_AT_F32);
    ws_at_read(y32, a, sizeof a);
    ws_at_read(ylp, b, sizeof b);
    ws_at_read(yb32, c, sizeof c);
    ok(rc == 0 && dt == WS_AT_F32, "bf16 products return float32 (dtype %d)", dt);
    ok(!memcmp(b, c, sizeof b) && memcmp(a, b, sizeof a), "bf16 linear = the bf16 product (%.7g vs fp32 %.7g)", b[0], a[0]);
    ok(gdt == WS_AT_F32, "the gradient reaching a float32 leaf is float32 (dtype %d)", gdt);
    ok(ws_at_set_precision(WS_AT_F64) == WS_AT_ERR && ws_at_get_precision() == WS_AT_F32,
       "float64 is not a product precision: %.60s", ws_at_last_error());
    ws_at_tensor *all[] = {&x, &w, &y32, &ylp, &xb, &wb, &yb, &yb32, &s, &g};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ws_at_free(*all[i]);
}

/* On a GPU: tensors are made on the current device, host reads copy, data_ptr refuses device memory,
 * random numbers do not depend on the device. */
static void test_cuda_device(int n)
{
    const float v[4] = {1, 2, 3, 4};
    ws_at_tensor t = NULL, h = NULL, a = NULL, b = NULL;
    ws_at_device d = {WS_AT_CPU, 0};
    float back[4] = {0}, ra[64], rb[64];
    void *p = NULL;
    const int64_t n64 = 64;
    ws_at_gen g1 = NULL, g2 = NULL;
    ok(ws_at_set_device((ws_at_device){WS_AT_CUDA, 0}) == 0, "cuda:0 accepted with %d device(s)", n);
    t = vec(v, 4);
    ws_at_device_of(t, &d);
    ok(d.type == WS_AT_CUDA && d.index == 0, "from_data creates on the current device");
    ok(ws_at_read(t, back, sizeof back) == 0 && back[3] == 4, "ws_at_read copies device memory to the host");
    ok(ws_at_data_ptr(t, &p) == WS_AT_ERR && strstr(ws_at_last_error(), "cuda"), "data_ptr refuses device memory");
    ok(ws_at_to_host(t, &h) == 0 && ws_at_data_ptr(h, &p) == 0 && ((float *)p)[2] == 3, "to_host gives readable memory");
    ws_at_gen_new(7, &g1);
    ws_at_gen_new(7, &g2);
    ws_at_empty(WS_AT_F32, 1, &n64, &a);                      /* on cuda:0 */
    ws_at_normal_(a, 0, 1, g1);
    ws_at_set_device((ws_at_device){WS_AT_CPU, 0});
    ws_at_empty(WS_AT_F32, 1, &n64, &b);                      /* on the CPU */
    ws_at_normal_(b, 0, 1, g2);
    ws_at_read(a, ra, sizeof ra);
    ws_at_read(b, rb, sizeof rb);
    ok(!memcmp(ra, rb, sizeof ra), "normal_ draws the same numbers on cuda and on the CPU");
    ok(ws_at_set_device((ws_at_device){WS_AT_CUDA, n}) == WS_AT_ERR && ws_at_get_device().type == WS_AT_CPU,
       "cuda:%d beyond the device count is refused: %.80s", n, ws_at_last_error());
    ws_at_gen_free(g1);
    ws_at_gen_free(g2);
    ws_at_tensor *all[] = {&t, &h, &a, &b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ws_at_free(*all[i]);
}

static void test_devices(void)
{
    const float v[2] = {5, 6};
    ws_at_tensor t = vec(v, 2), h = NULL;
    ws_at_device d = {-1, -1};
    char s[64];
    void *p = NULL;
    ok(ws_at_get_device().type == WS_AT_CPU, "the default device is the CPU");
    ok(ws_at_device_of(t, &d) == 0 && d.type == WS_AT_CPU, "tensors are made on the CPU by default");
    ok(ws_at_to_host(t, &h) == 0 && ws_at_data_ptr(h, &p) == 0 && ((float *)p)[1] == 6, "to_host of a host tensor");
    ws_at_device_str((ws_at_device){WS_AT_CUDA, 3}, s, sizeof s);
    ok(!strcmp(s, "cuda:3"), "device names: %s", s);
    int n = ws_at_cuda_device_count();
    if (!ws_at_cuda_built()) {
        int rc = ws_at_set_device((ws_at_device){WS_AT_CUDA, 0});
        ok(rc == WS_AT_ERR && strstr(ws_at_last_error(), "CPU-only build") && strstr(ws_at_last_error(), "README"),
           "cuda on a CPU-only libtorch names what is missing: %.120s", ws_at_last_error());
        ok(ws_at_get_device().type == WS_AT_CPU && n == 0, "the device stays the CPU");
    } else if (n == 0) {
        ok(ws_at_set_device((ws_at_device){WS_AT_CUDA, 0}) == WS_AT_ERR && strstr(ws_at_last_error(), "no CUDA device"),
           "cuda without a visible GPU names it: %.120s", ws_at_last_error());
    } else {
        test_cuda_device(n);
    }
    ws_at_free(t);
    ws_at_free(h);
}

int main(void)
{
    const char *gd = golden_dir();
    test_errors();
    test_thread_errors();
    test_guards();
    test_autograd();
    test_rng(gd);
    test_checkpoint_errors(gd);
    test_devices();
    test_precision();
    return done_testing();
}

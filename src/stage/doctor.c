/* doctor.c - the doctor stage (see doctor.h).
 *
 * Owns the installation report: each library's version as the running process sees it (run-time
 * calls where the library has one, else the version compiled against), the environment variables
 * that change how the numeric libraries thread, and the room a run has. The config pre-flight is
 * the pipeline's own (ws_pipe_preflight), so doctor and pipeline never disagree.
 */
#define _GNU_SOURCE
#include "stage/doctor.h"

#include <cblas.h>
#include <hdf5.h>
#include <jpeglib.h>
#include <png.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "core/status.h"
#include "shim/at.h"

extern char **environ;

static void libtorch(FILE *out)
{
    char cfg[8192];
    int ndev = 0;
    fprintf(out, "libtorch     %s, %d intra-op thread%s\n", ws_at_version(), ws_at_get_num_threads(),
            ws_at_get_num_threads() == 1 ? "" : "s");
    if (ws_at_build_config(cfg, sizeof cfg)) snprintf(cfg, sizeof cfg, "(build description unavailable: %s)", ws_at_last_error());
    /* at::show_config() lists "CUDA Runtime" / "CuDNN" lines only for a CUDA build. */
    int cuda_built = strstr(cfg, "CUDA Runtime") || strstr(cfg, "CUDA_VERSION") || strstr(cfg, "USE_CUDA=ON") || strstr(cfg, "USE_CUDA=1");
    if (ws_at_cuda_devices(&ndev)) ndev = 0;
    fprintf(out, "  build      %s; CUDA devices seen: %d\n", cuda_built ? "CUDA" : "CPU only", ndev);
    /* the one line of show_config that says which SIMD kernels libtorch dispatches to */
    const char *cap = strstr(cfg, "CPU capability usage:");
    if (cap) fprintf(out, "  kernels    %.*s\n", (int)strcspn(cap, "\n"), cap);
}

static void openblas(FILE *out)
{
    static const char *const par[] = {"sequential", "pthreads", "OpenMP"};
    int p = openblas_get_parallel();
    fprintf(out, "OpenBLAS     %s\n  core type  %s; %d thread%s (%s)\n", openblas_get_config(), openblas_get_corename(),
            openblas_get_num_threads(), openblas_get_num_threads() == 1 ? "" : "s", p >= 0 && p < 3 ? par[p] : "?");
}

/* Every variable that changes OpenBLAS's or OpenMP's kernels or threads (OPENBLAS_CORETYPE picks the
 * kernels; README "OpenBLAS kernels"). */
static void env(FILE *out)
{
    int n = 0;
    fputs("environment ", out);
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, "OPENBLAS_", 9) || !strncmp(*e, "OMP_", 4) || !strncmp(*e, "GOTO_", 5) || !strncmp(*e, "WSSEED_", 7))
            fprintf(out, "%s%s", n++ ? "\n            " : " ", *e);
    fputs(n ? "\n" : " no OPENBLAS_*, OMP_*, GOTO_* or WSSEED_* variable set\n", out);
}

static void cpu(FILE *out)
{
    cpu_set_t set;
    int usable = sched_getaffinity(0, sizeof set, &set) ? -1 : CPU_COUNT(&set);
    fprintf(out, "CPU          %ld cores online, %d usable by this process\n", sysconf(_SC_NPROCESSORS_ONLN), usable);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const char *simd = __builtin_cpu_supports("avx512f") ? "AVX-512" : __builtin_cpu_supports("avx2") ? "AVX2"
                       : __builtin_cpu_supports("avx") ? "AVX" : __builtin_cpu_supports("sse4.2") ? "SSE4.2" : "SSE2";
    fprintf(out, "  SIMD       %s (fma %s)\n", simd, __builtin_cpu_supports("fma") ? "yes" : "no");
#else
    fputs("  SIMD       (not an x86 CPU: not probed)\n", out);
#endif
}

static void libraries(FILE *out)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    fprintf(out, "HDF5         %u.%u.%u\n", maj, min, rel);
    fprintf(out, "libyaml      %s\n", yaml_get_version_string());
    fprintf(out, "libpng       %s (built against %s)\n", png_get_libpng_ver(NULL), PNG_LIBPNG_VER_STRING);
#ifdef LIBJPEG_TURBO_VERSION
#define WS_STR2(x) #x
#define WS_STR(x) WS_STR2(x)
    fprintf(out, "libjpeg      libjpeg-turbo %s, API %d (built against)\n", WS_STR(LIBJPEG_TURBO_VERSION), JPEG_LIB_VERSION);
#else
    fprintf(out, "libjpeg      API %d (built against)\n", JPEG_LIB_VERSION);
#endif
}

/* Free memory (MemAvailable: what can be allocated without swapping) and the free disk of out_dir, or of
 * its nearest existing parent when the run has not made it yet. */
static void room(FILE *out, const char *out_dir)
{
    char line[256], dir[4096];
    long long avail = -1, total = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "MemAvailable: %lld kB", &avail);
        sscanf(line, "MemTotal: %lld kB", &total);
    }
    if (f) fclose(f);
    if (avail >= 0) fprintf(out, "memory       %.1f GB available of %.1f GB\n", avail / 1048576.0, total / 1048576.0);
    snprintf(dir, sizeof dir, "%s", out_dir[0] ? out_dir : ".");
    struct statvfs vs;
    while (statvfs(dir, &vs)) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) { snprintf(dir, sizeof dir, "%s", slash == dir ? "/" : "."); break; }
        *slash = '\0';
    }
    if (statvfs(dir, &vs)) return;
    fprintf(out, "disk         %.1f GB free under %s", (double)vs.f_bavail * vs.f_frsize / 1073741824.0, dir);
    if (strcmp(dir, out_dir)) fprintf(out, " (out_dir %s does not exist yet)", out_dir);
    fputc('\n', out);
}

int ws_stage_doctor(const ws_pipe_cfg *c, FILE *out)
{
    ws_pipe_cfg d;
    if (!c) { ws_pipe_defaults(&d); c = &d; }
    fprintf(out, "wsseed       %s\n  configure  %s\n", PACKAGE_VERSION, WS_CONFIGURE_ARGS[0] ? WS_CONFIGURE_ARGS : "(no options)");
    libtorch(out);
    openblas(out);
    cpu(out);
    env(out);
    libraries(out);
    room(out, c->out_dir);
    if (c == &d) return 0;
    fputs("config check (the pipeline's pre-flight):\n", out);
    int rc = ws_pipe_preflight(c, out);
    fputs(rc ? "config: problems found (listed above)\n" : "config: every file it names is there\n", out);
    return rc;
}

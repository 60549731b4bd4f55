/* rundir.c - the files of a run: log, resolved config, build, metrics, checkpoints (see rundir.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "io/h5tensor.h"
#include "train/trainer.h"

void ws_train_log(ws_trainer *t, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ws_log("%s", buf);
    if (t->log) { fprintf(t->log, "%s\n", buf); fflush(t->log); }
}

/* <dir>/<name>, written whole or not at all. */
static int write_text(const ws_trainer *t, const char *name, const char *text)
{
    char path[sizeof t->dir + 64];
    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    return ws_fs_write_atomic(path, text, strlen(text));
}

int ws_train_write_run_files(ws_trainer *t)
{
    char build[4096], dev[320];
    /* the device as the process uses it (the GPU's model included), beside the settings that chose it */
    ws_at_device_describe(ws_at_get_device(), dev, sizeof dev);
    snprintf(build, sizeof build, "wsseed %s\nlibtorch %s\nconfigure %s\ntrain.seed %d\nruntime.threads %d\n"
             "runtime.device %.64s (%s)\nruntime.precision %.64s\n",
             PACKAGE_VERSION, ws_at_version(), WS_CONFIGURE_ARGS, t->c->seed, t->c->runtime.threads,
             t->c->runtime.device, dev, t->c->runtime.precision);
    int rc = write_text(t, "config.yaml", t->config_text);
    return rc ? rc : write_text(t, "build.txt", build);
}

int ws_train_open_metrics(ws_trainer *t)
{
    char path[sizeof t->dir + 16], line[512];
    snprintf(path, sizeof path, "%s/metrics.csv", t->dir);
    FILE *old = t->it > 0 ? fopen(path, "r") : NULL;
    char *kept = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&kept, &len);
    fputs("iter,loss,loss_mcl,loss_cam_fg,loss_cam_bg,lr,positives,sec\n", mem);
    if (old) {
        if (fgets(line, sizeof line, old)) {}   /* header */
        while (fgets(line, sizeof line, old))
            if (atol(line) <= t->it) fputs(line, mem);
        fclose(old);
    }
    fclose(mem);
    /* The kept rows replace the file atomically (a kill here loses none of them), then rows are appended. */
    int rc = kept ? ws_fs_write_atomic(path, kept, len) : ws_fail(WS_ENOMEM, "out of memory");
    free(kept);
    if (rc) return rc;
    t->csv = fopen(path, "a");
    return t->csv ? 0 : ws_fs_fail_write(errno, path);
}

/* Writes <run>/checkpoints/<name>: the context, SGD momentum (once it exists), iteration, and the
 * loader snapshot (generator, epoch, cursor, order) that resume restores. */
int ws_train_save(ws_trainer *t, const char *name)
{
    char path[sizeof t->dir + 64];
    ws_ckpt k = {.format_version = WS_CKPT_FORMAT, .iteration = t->it, .seed = t->c->seed, .data_rng = t->snap.rng,
                 .epoch = t->snap.epoch, .cursor = t->snap.cursor, .config = t->config_text};
    snprintf(k.task, sizeof k.task, "%.15s", t->c->task);
    memcpy(k.arch, t->arch, sizeof k.arch);
    int rc = ws_array_from_tensor(t->p.ctx, "prompt context", &k.ctx);
    if (!rc && t->sgd.buf) rc = ws_array_from_tensor(t->sgd.buf, "SGD momentum", &k.momentum);
    int64_t n = t->ds.n;
    if (!rc) rc = ws_array_alloc(&k.perm, WS_I64, 1, &n);
    if (!rc) memcpy(k.perm.data, t->snap.perm, (size_t)n * sizeof *t->snap.perm);
    snprintf(path, sizeof path, "%s/checkpoints/%s", t->dir, name);
    if (!rc) rc = ws_ckpt_write(path, &k);
    k.config = NULL;   /* borrowed from t */
    ws_ckpt_free(&k);
    return rc;
}

void ws_train_newest_ckpt(const ws_trainer *t, char *out, size_t cap)
{
    char d[sizeof t->dir + 16];
    long best = -1;
    out[0] = '\0';
    snprintf(d, sizeof d, "%s/checkpoints", t->dir);
    DIR *dir = opendir(d);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        long it;
        char tail[8];
        if (!strcmp(e->d_name, "final.h5")) { snprintf(out, cap, "%s/final.h5", d); best = 1L << 40; }
        else if (sscanf(e->d_name, "iter-%ld%4s", &it, tail) == 2 && !strcmp(tail, ".h5") && it > best) {
            int k = snprintf(out, cap, "%s/%s", d, e->d_name);
            if (k > 0 && (size_t)k < cap) best = it;
            else out[0] = '\0';
        }
    }
    if (dir) closedir(dir);
}

int ws_train_resume(ws_trainer *t, const char *path)
{
    ws_ckpt k;
    int rc = ws_ckpt_read(path, &k);
    if (rc) return rc;
    if (!(rc = ws_ckpt_check(&k, path, t->c->task, t->arch)) && ws_array_numel(&k.perm) != t->ds.n)
        rc = ws_fail(WS_EINVAL, "%s was written for a split of %lld images; this one has %d", path,
                     (long long)ws_array_numel(&k.perm), t->ds.n);
    if (!rc) rc = ws_prompt_set_ctx(&t->p, k.ctx.data, k.ctx.ndim, k.ctx.shape);
    if (!rc && k.momentum.data) rc = ws_tensor_from_array(&k.momentum, "SGD momentum", &t->sgd.buf);
    if (!rc) {
        t->it = k.iteration;
        t->ord.epoch = k.epoch;
        t->ord.cursor = k.cursor;
        t->ord.rng = k.data_rng;
        memcpy(t->ord.perm, k.perm.data, (size_t)t->ds.n * sizeof *t->ord.perm);
        if (k.seed != t->c->seed)
            ws_train_log(t, "note: the checkpoint's train.seed %lld replaces %d", (long long)k.seed, t->c->seed);
        ws_train_log(t, "resuming from %s at iteration %lld", path, (long long)t->it);
    }
    ws_ckpt_free(&k);
    return rc;
}

/* ckpt.c - HDF5 training checkpoints (see ckpt.h): everything a resumed run needs to continue bit
 * for bit (context, SGD momentum, iteration, the data RNG and epoch order) plus the metadata that
 * lets a run refuse a checkpoint of another task or model. Owns the file layout and its version.
 */
#define _POSIX_C_SOURCE 200809L
#include "io/ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/h5.h"

/* Printed names of the /meta/arch entries, in their order, so a mismatch says which dimension differs rather
 * than an index. */
static const char *ARCH_NAMES[WS_CKPT_ARCH_N] = {"text width", "embed dim", "vision width", "vision layers",
                                                 "prompts G", "context tokens M", "class-specific ctx",
                                                 "class-token position front"};

int ws_ckpt_write(const char *path, const ws_ckpt *c)
{
    ws_h5file f = {0};
    int rc = ws_h5_create(&f, path);
    const int64_t na = WS_CKPT_ARCH_N, nmt = 624;
    const char *task = c->task;
    int64_t pos = c->data_rng.pos;
#define W(name, dt, nd, sh, d) if (!rc) rc = ws_h5_write_raw(&f, name, dt, nd, sh, d)
    W("/meta/format_version", WS_I64, 0, NULL, &c->format_version);
    if (!rc) rc = ws_h5_write_strings(&f, "/meta/task", (char *const *)&task, 1);
    W("/meta/arch", WS_I64, 1, &na, c->arch);
    W("/meta/iteration", WS_I64, 0, NULL, &c->iteration);
    W("/meta/seed", WS_I64, 0, NULL, &c->seed);
    if (!rc) rc = ws_h5_write(&f, "/ctx", &c->ctx);
    if (!rc && c->momentum.data) rc = ws_h5_write(&f, "/optim/momentum_buffer", &c->momentum);
    uint32_t mt[624];
    memcpy(mt, c->data_rng.mt, sizeof mt);
    /* The Mersenne Twister state (624 words) and its position: restoring the loader's generator exactly is
     * what makes a resumed run draw the same crops and flips as an uninterrupted one. Each u32 word is
     * stored widened to int64 (ckpt.h's layout). */
    int64_t mt64[624];
    for (int i = 0; i < 624; i++) mt64[i] = mt[i];
    W("/rng/data_mt", WS_I64, 1, &nmt, mt64);
    W("/rng/data_pos", WS_I64, 0, NULL, &pos);
    W("/data/epoch", WS_I64, 0, NULL, &c->epoch);
    W("/data/cursor", WS_I64, 0, NULL, &c->cursor);
    if (!rc) rc = ws_h5_write(&f, "/data/perm", &c->perm);
    /* The resolved config travels with the weights, so a checkpoint found alone still says how it was
     * trained. */
    if (!rc) rc = ws_h5_write_strings(&f, "/config", (char *const *)&c->config, 1);
#undef W
    /* Committed atomically (temp + fsync + rename): a kill while saving leaves the previous checkpoint as the
     * newest, never a truncated one that resume would pick. */
    if (!rc) rc = ws_h5_commit(&f);
    ws_h5_close(&f);
    return rc;
}

static int scalar(const ws_h5file *f, const char *name, int64_t *v)
{
    ws_array a = {0};
    int rc = ws_h5_read(f, name, WS_I64, &a);
    if (!rc && ws_array_numel(&a) != 1) rc = ws_fail(WS_EFORMAT, "%s: %s must be a scalar", f->path, name);
    if (!rc) *v = *(int64_t *)a.data;
    ws_array_free(&a);
    return rc;
}

int ws_ckpt_read(const char *path, ws_ckpt *c)
{
    ws_h5file f = {0};
    ws_array arch = {0}, mt = {0};
    char **s = NULL;
    size_t ns = 0;
    int64_t pos = 0;
    memset(c, 0, sizeof *c);
    int rc = ws_h5_open(&f, path);
    if (rc) return rc;
    /* Checked before anything else so that a .h5 of another kind (a mask store, a golden file) gets a message
     * saying what it is not, instead of a missing-dataset error deep inside. */
    if (!ws_h5_exists(&f, "/meta/format_version")) {
        rc = ws_fail(WS_EFORMAT, "%s is not a wsseed training checkpoint (no /meta/format_version)", path);
        goto done;
    }
    if ((rc = scalar(&f, "/meta/format_version", &c->format_version))) goto done;
    /* One version read, no silent migration: an old layout is refused with both numbers, rather than resumed
     * with fields misread. */
    if (c->format_version != WS_CKPT_FORMAT) {
        rc = ws_fail(WS_EFORMAT, "%s has checkpoint format %lld; this wsseed reads format %d", path,
                     (long long)c->format_version, WS_CKPT_FORMAT);
        goto done;
    }
    if ((rc = ws_h5_read_strings(&f, "/meta/task", &s, &ns))) goto done;
    snprintf(c->task, sizeof c->task, "%s", ns ? s[0] : "");
    ws_h5_strings_free(s, ns);
    s = NULL;
    if ((rc = ws_h5_read(&f, "/meta/arch", WS_I64, &arch))) goto done;
    if (ws_array_numel(&arch) != WS_CKPT_ARCH_N) { rc = ws_fail(WS_EFORMAT, "%s: /meta/arch has the wrong size", path); goto done; }
    memcpy(c->arch, arch.data, sizeof c->arch);
    if ((rc = scalar(&f, "/meta/iteration", &c->iteration)) || (rc = scalar(&f, "/meta/seed", &c->seed)) ||
        (rc = ws_h5_read(&f, "/ctx", WS_F32, &c->ctx)) || (rc = ws_h5_read(&f, "/rng/data_mt", WS_I64, &mt)) ||
        (rc = scalar(&f, "/rng/data_pos", &pos)) || (rc = scalar(&f, "/data/epoch", &c->epoch)) ||
        (rc = scalar(&f, "/data/cursor", &c->cursor)) || (rc = ws_h5_read(&f, "/data/perm", WS_I64, &c->perm)))
        goto done;
    /* Optional: the start checkpoint is written before the first step, when SGD has no momentum yet. */
    if (ws_h5_exists(&f, "/optim/momentum_buffer") && (rc = ws_h5_read(&f, "/optim/momentum_buffer", WS_F32, &c->momentum)))
        goto done;
    /* An out-of-range position would index past the state on the next draw. */
    if (ws_array_numel(&mt) != 624 || pos < 0 || pos > 624) { rc = ws_fail(WS_EFORMAT, "%s: bad /rng state", path); goto done; }
    for (int i = 0; i < 624; i++) c->data_rng.mt[i] = (uint32_t)((int64_t *)mt.data)[i];
    c->data_rng.pos = (int32_t)pos;
    if ((rc = ws_h5_read_strings(&f, "/config", &s, &ns))) goto done;
    c->config = strdup(ns ? s[0] : "");
    ws_h5_strings_free(s, ns);
done:
    ws_array_free(&arch);
    ws_array_free(&mt);
    ws_h5_close(&f);
    if (rc) ws_ckpt_free(c);
    return rc;
}

void ws_ckpt_free(ws_ckpt *c)
{
    if (!c) return;
    ws_array_free(&c->ctx);
    ws_array_free(&c->momentum);
    ws_array_free(&c->perm);
    free(c->config);
    memset(c, 0, sizeof *c);
}

int ws_ckpt_check(const ws_ckpt *c, const char *path, const char *task, const int64_t *arch)
{
    if (strcmp(c->task, task))
        return ws_fail(WS_EINVAL, "%s is a checkpoint of the %s task; this run trains the %s task", path, c->task, task);
    for (int i = 0; i < WS_CKPT_ARCH_N; i++)
        if (c->arch[i] != arch[i])
            return ws_fail(WS_EINVAL, "%s does not match this run: %s is %lld there and %lld here (another model or "
                           "prompt setting?)", path, ARCH_NAMES[i], (long long)c->arch[i], (long long)arch[i]);
    return 0;
}

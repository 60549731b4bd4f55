/* rank.c - the process's rank (from the environment) and its process group (shim/dist.h).
 *
 * Owns the one group of the process: formed by ws_rank_init, left by ws_rank_shutdown. Alone
 * (WORLD_SIZE absent or 1) no group exists and every collective returns at once, so single-process
 * runs pay nothing and need no network.
 */
#include "shim/rank.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "shim/dist.h"

static ws_rank_info g_info = {0, 1, 0, "", 0, 600, "alone"};
static ws_dist g_group;
/* Between ws_rank_apart_begin and _end: this rank works alone (g_info reads rank 0 of 1, the
 * collectives below are no-ops) and g_patient is the group it meets the others in afterwards. */
static ws_dist g_patient;
static ws_rank_info g_saved;

/* The group the collectives use now: none while apart (while g_patient is open). */
static ws_dist active(void) { return g_patient ? NULL : g_group; }

/* A non-negative integer variable; *v untouched when absent. */
static int env_int(const char *name, long lo, long hi, int *v, int *present)
{
    const char *s = getenv(name);
    *present = s && *s;
    if (!*present) return 0;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return ws_fail(WS_EINVAL, "environment variable %s='%s' is not an integer in [%ld, %ld]", name, s, lo, hi);
    *v = (int)x;
    return 0;
}

/* RANK/WORLD_SIZE first (torchrun, wsseed launch), Slurm's variables when those are absent. */
static int read_ranks(ws_rank_info *o)
{
    int have_r, have_w, have_l, rc;
    const char *rn = "RANK", *wn = "WORLD_SIZE", *ln = "LOCAL_RANK";
    if ((rc = env_int(wn, 1, 1 << 20, &o->world, &have_w))) return rc;
    if (!have_w) { rn = "SLURM_PROCID", wn = "SLURM_NTASKS", ln = "SLURM_LOCALID"; }
    if (!have_w && (rc = env_int(wn, 1, 1 << 20, &o->world, &have_w))) return rc;
    if (!have_w) return 0;
    o->source = have_w && !strcmp(wn, "WORLD_SIZE") ? "RANK/WORLD_SIZE" : "SLURM_PROCID/SLURM_NTASKS";
    if ((rc = env_int(rn, 0, o->world - 1, &o->rank, &have_r))) return rc;
    if (!have_r && o->world > 1) return ws_fail(WS_EINVAL, "%s=%d is set but %s is not: every rank needs its rank", wn, o->world, rn);
    o->local_rank = o->rank;
    return env_int(ln, 0, 1 << 20, &o->local_rank, &have_l);
}

int ws_rank_from_env(ws_rank_info *out)
{
    ws_rank_info o = {0, 1, 0, "", 29500, 600, "alone"};
    int present, rc = read_ranks(&o);
    if (!rc) rc = env_int("WSSEED_DIST_TIMEOUT", 1, 7 * 24 * 3600, &o.timeout_s, &present);
    if (rc || o.world == 1) { if (!rc) *out = o; return rc; }
    const char *addr = getenv("MASTER_ADDR");
    if (!addr || !*addr)
        return ws_fail(WS_EINVAL, "%s says %d ranks but MASTER_ADDR is not set: set it to the host of rank 0 "
                                  "(127.0.0.1 on one machine)", o.source, o.world);
    if (strlen(addr) >= sizeof o.addr) return ws_fail(WS_EINVAL, "MASTER_ADDR '%.40s...' is too long", addr);
    snprintf(o.addr, sizeof o.addr, "%s", addr);
    if ((rc = env_int("MASTER_PORT", 1, 65535, &o.port, &present))) return rc;
    *out = o;
    return 0;
}

static int backend_from_env(int *backend)
{
    const char *b = getenv("WSSEED_DIST_BACKEND");
    *backend = WS_DIST_GLOO;
    if (!b || !*b || !strcmp(b, "gloo")) return 0;
    if (!strcmp(b, "nccl") && ws_dist_available(WS_DIST_NCCL)) { *backend = WS_DIST_NCCL; return 0; }
    return ws_fail(WS_EUNSUP, "WSSEED_DIST_BACKEND='%s': this build offers gloo%s", b,
                   ws_dist_available(WS_DIST_NCCL) ? " and nccl" : " only (nccl needs a CUDA build of libtorch)");
}

int ws_rank_init(void)
{
    if (g_group) return 0;
    ws_rank_info o;
    int backend = WS_DIST_GLOO, rc = ws_rank_from_env(&o);
    if (!rc && o.world > 1) rc = backend_from_env(&backend);
    if (rc || o.world == 1) { if (!rc) g_info = o; return rc; }
    ws_dist_opts d = {o.rank, o.world, o.addr, o.port, o.timeout_s * 1000, backend, o.local_rank};
    if (ws_dist_open(&d, &g_group)) return ws_fail(WS_ETORCH, "%s", ws_dist_last_error());
    g_info = o;
    if (o.rank == 0) ws_log("%d ranks joined at %s:%d (%s)", o.world, o.addr, o.port, o.source);
    return 0;
}

void ws_rank_shutdown(void)
{
    if (g_patient) g_info = g_saved;
    ws_dist_free(g_patient);   /* the patient group meets at g_group's store: it goes first */
    g_patient = NULL;
    ws_dist_free(g_group);
    g_group = NULL;
    ws_rank_info alone = {0, 1, 0, "", 0, 600, "alone"};
    g_info = alone;
}

int ws_rank_id(void) { return g_info.rank; }
int ws_rank_world(void) { return g_info.world; }
const ws_rank_info *ws_rank_get(void) { return &g_info; }

void ws_rank_share(int shard_i, int shard_n, int *i, int *n)
{
    if (shard_n < 1) shard_i = 0, shard_n = 1;
    *i = shard_i + shard_n * g_info.rank;
    *n = shard_n * g_info.world;
}

static int agree_on(ws_dist grp, int rc, const char *what)
{
    int64_t *codes = calloc((size_t)g_info.world, sizeof *codes);
    if (!codes) return ws_fail(WS_ENOMEM, "out of memory");
    /* The failing rank's own message is more precise than anything the group knows: keep it. */
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", ws_last_error());
    int grc = ws_dist_allgather_i64(grp, rc, codes, what);
    if (grc) { free(codes); return ws_fail(WS_ETORCH, "%s", ws_dist_last_error()); }
    char failed[256] = "";
    size_t len = 0;
    for (int r = 0; r < g_info.world; r++)
        if (codes[r] && r != g_info.rank && len < sizeof failed - 16)
            len += (size_t)snprintf(failed + len, sizeof failed - len, "%s%d", len ? ", " : "", r);
    free(codes);
    if (rc) return ws_fail(rc, "%s", mine);
    if (len) return ws_fail(WS_EIO, "rank(s) %s failed during %s (their own messages say why); rerun the same "
                                    "command to continue", failed, what);
    return 0;
}

int ws_rank_agree(int rc, const char *what)
{
    return active() ? agree_on(active(), rc, what) : rc;
}

int ws_rank_apart_begin(void)
{
    if (!g_group || g_patient) return 0;
    /* The others may take days longer than this rank: the group to meet them in waits as long as a
     * timeout in milliseconds can say (about 24 days); a rank that dies still fails it at once. */
    if (ws_dist_open_patient(g_group, INT_MAX, "apart", &g_patient)) return ws_fail(WS_ETORCH, "%s", ws_dist_last_error());
    g_saved = g_info;
    g_info.rank = 0;   /* local_rank stays: the rank keeps its own device */
    g_info.world = 1;
    return 0;
}

int ws_rank_apart_end(int rc, double *x, size_t n, const char *what)
{
    if (!g_patient) return rc;
    g_info = g_saved;
    rc = agree_on(g_patient, rc, what);
    if (!rc && n && ws_dist_allreduce_f64(g_patient, x, n, what)) rc = ws_fail(WS_ETORCH, "%s", ws_dist_last_error());
    ws_dist_free(g_patient);
    g_patient = NULL;
    return rc;
}

int ws_rank_sum_f32(float *x, size_t n, const char *what)
{
    if (!active()) return 0;
    return ws_dist_allreduce_f32(active(), x, n, what) ? ws_fail(WS_ETORCH, "%s", ws_dist_last_error()) : 0;
}

int ws_rank_sum_i64(int64_t *x, size_t n, const char *what)
{
    if (!active()) return 0;
    return ws_dist_allreduce_i64(active(), x, n, what) ? ws_fail(WS_ETORCH, "%s", ws_dist_last_error()) : 0;
}

int ws_rank_sum_f64(double *x, size_t n, const char *what)
{
    if (!active()) return 0;
    return ws_dist_allreduce_f64(active(), x, n, what) ? ws_fail(WS_ETORCH, "%s", ws_dist_last_error()) : 0;
}

int ws_rank_bcast(void *buf, size_t nbytes, const char *what)
{
    if (!active()) return 0;
    return ws_dist_broadcast(active(), buf, nbytes, 0, what) ? ws_fail(WS_ETORCH, "%s", ws_dist_last_error()) : 0;
}

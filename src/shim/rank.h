/* rank.h - this process's place among the ranks of a job (RANK / WORLD_SIZE the PyTorch way) and
 * the one process group it belongs to (shim/dist.h).
 *
 * Read from the environment once, the way torchrun and most launchers set it: RANK, WORLD_SIZE,
 * LOCAL_RANK, MASTER_ADDR, MASTER_PORT, else Slurm's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
 * (MASTER_ADDR/MASTER_PORT still come from the environment). A process runs alone when WORLD_SIZE
 * (or SLURM_NTASKS) is absent or 1; then every collective here is a no-op. Tunables, also from the
 * environment: WSSEED_DIST_TIMEOUT (seconds a rank waits for the others, default 600) and
 * WSSEED_DIST_BACKEND (gloo, the default, or nccl in CUDA builds).
 * Sits above shim/dist and core, below everything that splits work (train, stage).
 */
#ifndef WS_SHIM_RANK_H
#define WS_SHIM_RANK_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_rank_info {
    int rank, world, local_rank;
    char addr[256];
    int port;
    int timeout_s;
    const char *source;   /* "alone", "RANK/WORLD_SIZE" or "SLURM_PROCID/SLURM_NTASKS" (static) */
} ws_rank_info;

/* Reads the environment into *out without forming a group; fails naming the variable and value
 * that is malformed or missing (e.g. RANK without WORLD_SIZE, RANK >= WORLD_SIZE). */
int ws_rank_from_env(ws_rank_info *out);
/* Forms this process's group when the environment asks for several ranks (idempotent). Every rank
 * of the job must call it; fails naming the ranks that did not join within the timeout. */
int ws_rank_init(void);
/* Leaves the group (no-op when alone or not joined). */
void ws_rank_shutdown(void);
/* This process's rank and the number of ranks (0 and 1 before ws_rank_init or when alone). */
int ws_rank_id(void);
int ws_rank_world(void);
/* Borrowed; valid until ws_rank_shutdown. */
const ws_rank_info *ws_rank_get(void);

/* The share of a split this rank takes within shard shard_i of shard_n (--shard, for independent
 * jobs): image j is taken when j % *n == *i. Rank r of N inside shard i of n is shard i + n*r of
 * n*N, so ranks alone reproduce --shard r/N. */
void ws_rank_share(int shard_i, int shard_n, int *i, int *n);
/* Every rank passes its status rc after a step ("masks"): returns 0 when all ranks succeeded,
 * else a failure on every rank (a failed rank keeps its own message; the others' names it).
 * Doubles as a barrier. */
int ws_rank_agree(int rc, const char *what);
/* Whole units of work spread over the ranks (a sweep's runs): between ws_rank_apart_begin and
 * ws_rank_apart_end this rank works alone (ws_rank_id 0 of ws_rank_world 1, every collective a no-op,
 * LOCAL_RANK and so its device kept). _begin is called by every rank at the same point; _end meets
 * the others again however long their share takes (a rank that dies is noticed at once), agrees on
 * the status like ws_rank_agree and, when all succeeded, sums x (n values; each rank fills its own
 * units, zeros elsewhere) over the ranks. Both are no-ops alone. */
int ws_rank_apart_begin(void);
int ws_rank_apart_end(int rc, double *x, size_t n, const char *what);
/* In place sums over ranks (no-op alone); every rank receives the same bits. */
int ws_rank_sum_f32(float *x, size_t n, const char *what);
int ws_rank_sum_i64(int64_t *x, size_t n, const char *what);
int ws_rank_sum_f64(double *x, size_t n, const char *what);
/* nbytes of buf of rank 0 copied to every rank (no-op alone). */
int ws_rank_bcast(void *buf, size_t nbytes, const char *what);

#endif

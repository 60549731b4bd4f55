/* dist.h - the C API over libtorch's c10d (implemented in dist.cpp): a process group of `world`
 * ranks that meet at rank 0's TCPStore, with the few collectives wsseed needs.
 *
 * Same rules as at.h: every call returns an int status (0 = ok, WS_DIST_ERR on failure), never lets
 * a C++ exception escape, and on failure leaves a per-thread message in ws_dist_last_error()
 * (borrowed, valid until the next failing dist call on that thread). A group handle returned by
 * ws_dist_open is owned by the caller and released with ws_dist_free (NULL is a no-op).
 * Every collective is given a `what` (e.g. "barrier after masks") that error messages name; when a
 * collective fails because a rank died or never arrived, the message names that rank.
 * Buffers are plain host memory; with the NCCL backend they are staged through the rank's GPU.
 */
#ifndef WS_SHIM_DIST_H
#define WS_SHIM_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_DIST_ERR (-6) /* == WS_ETORCH in core/status.h */

typedef struct ws_dist_opaque *ws_dist;

enum { WS_DIST_GLOO = 0, WS_DIST_NCCL = 1 };

typedef struct ws_dist_opts {
    int rank, world;          /* 0 <= rank < world */
    const char *addr;         /* rank 0's host (MASTER_ADDR); rank 0 listens on it */
    int port;                 /* rank 0's TCPStore port (MASTER_PORT) */
    int timeout_ms;           /* joining, and each collective: past it the call fails */
    int backend;              /* WS_DIST_GLOO (CPU) or WS_DIST_NCCL (CUDA builds only) */
    int cuda_index;           /* NCCL: the rank's device (LOCAL_RANK) */
} ws_dist_opts;

/* 1 when this build of the shim can form a group with `backend`, else 0. */
int ws_dist_available(int backend);
/* Forms the group: rank 0 starts the store, every rank announces itself and waits (up to
 * timeout_ms) for all others; a rank that does not join is named in the error of the others. */
int ws_dist_open(const ws_dist_opts *o, ws_dist *out);
void ws_dist_free(ws_dist d);
/* A second group over the ranks of d, meeting at d's store under its own key prefix `name`, whose
 * collectives wait up to timeout_ms: for meeting again after work of very uneven length (a sweep's
 * runs spread over the ranks), where d's timeout would be too short. A rank that dies still fails its
 * collectives at once (its connections close). Every rank calls it at the same point; the new
 * group is owned by the caller (ws_dist_free, before d's). */
int ws_dist_open_patient(ws_dist d, int timeout_ms, const char *name, ws_dist *out);
/* Blocks until every rank called it (or fails naming the rank that did not arrive). */
int ws_dist_barrier(ws_dist d, const char *what);
/* In place: x[i] = sum over ranks of x[i] (float32); every rank receives the same bits. */
int ws_dist_allreduce_f32(ws_dist d, float *x, size_t n, const char *what);
/* In place: x[i] = sum over ranks of x[i] (float64). */
int ws_dist_allreduce_f64(ws_dist d, double *x, size_t n, const char *what);
/* In place: x[i] = sum over ranks of x[i] (int64). */
int ws_dist_allreduce_i64(ws_dist d, int64_t *x, size_t n, const char *what);
/* buf (nbytes) of rank `root` is copied to every rank. */
int ws_dist_broadcast(ws_dist d, void *buf, size_t nbytes, int root, const char *what);
/* out[r] = v of rank r for every rank r (out holds `world` values). */
int ws_dist_allgather_i64(ws_dist d, int64_t v, int64_t *out, const char *what);
/* The calling thread's last dist error; borrowed; "" when none. */
const char *ws_dist_last_error(void);

#ifdef __cplusplus
}
#endif
#endif

/* test_dist.c - the collectives of shim/rank.h between ranks started by `wsseed launch` (TAP).
 *
 * Usage (one process per rank, RANK/WORLD_SIZE/MASTER_* set): test_dist MODE where MODE is
 *   ok     sums, broadcast and agreement give the values computed by hand (each rank prints TAP);
 *   fail1  rank 1 reports a failure to ws_rank_agree: every rank must fail naming rank 1;
 *   kill1  rank 1 is killed (SIGKILL) before a step: the others must fail naming rank 1;
 *   apart  work apart (ws_rank_apart_begin/end): inside, every rank reads as rank 0 of 1 and its
 *          collectives are no-ops; rank 1 works 4 s longer than WSSEED_DIST_TIMEOUT (set to 3 s by
 *          the driver) and the others still meet it; the per-rank values are summed (TAP);
 *   apartkill  rank 1 is killed while apart: the others, waiting at the end, fail naming rank 1.
 * tests/test_dist.sh drives it.
 */
#define _POSIX_C_SOURCE 200809L   /* kill */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "shim/rank.h"
#include "tests/tap.h"

static void collectives(int r, int w)
{
    /* 1/3 and friends are not exact in float32: the sum must still be the same bits on every rank,
     * and rank 0 broadcasts what it got so each rank compares with it. */
    float x[3] = {1.0f + (float)r, 1.0f / 3.0f * (float)(r + 1), -2.5f};
    ok(ws_rank_sum_f32(x, 3, "test sum") == 0, "rank %d: float sum: %s", r, ws_last_error());
    ok(x[0] == (float)(w * (w + 1) / 2) && x[2] == -2.5f * (float)w, "rank %d: sums %g %g (want %d, %g)", r, x[0], x[2],
       w * (w + 1) / 2, -2.5 * w);
    float from0[3];
    memcpy(from0, x, sizeof x);
    ok(ws_rank_bcast(from0, sizeof from0, "test bcast") == 0, "rank %d: broadcast", r);
    ok(!memcmp(from0, x, sizeof x), "rank %d: every rank holds rank 0's bits of the float sum", r);
    int64_t v[2] = {r, 10};
    ok(ws_rank_sum_i64(v, 2, "test isum") == 0 && v[0] == w * (w - 1) / 2 && v[1] == 10 * w, "rank %d: int sums %ld %ld", r,
       (long)v[0], (long)v[1]);
    ok(ws_rank_agree(0, "test agree") == 0, "rank %d: all succeeded", r);
    int i, n;
    ws_rank_share(1, 4, &i, &n);
    ok(i == 1 + 4 * r && n == 4 * w, "rank %d: share of shard 1/4 is %d/%d", r, i, n);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    if (ws_rank_init()) { fprintf(stderr, "rank init: %s\n", ws_last_error()); return 1; }
    int r = ws_rank_id(), w = ws_rank_world();
    if (!strcmp(mode, "ok")) {
        collectives(r, w);
        ws_rank_shutdown();
        return done_testing();
    }
    if (!strcmp(mode, "apart")) {
        ok(ws_rank_apart_begin() == 0, "rank %d: apart: %s", r, ws_last_error());
        float y = 1.0f;
        ok(ws_rank_id() == 0 && ws_rank_world() == 1 && ws_rank_sum_f32(&y, 1, "apart sum") == 0 && y == 1.0f,
           "rank %d: apart it reads as rank %d of %d and a sum is its own value %g", r, ws_rank_id(), ws_rank_world(), y);
        if (r == 1) sleep(7);
        double x[3] = {0, 0, 0};
        x[r % 3] = 10.0 + r;
        int rc = ws_rank_apart_end(0, x, 3, "test apart");
        ok(rc == 0 && ws_rank_id() == r && ws_rank_world() == w, "rank %d: met again after rank 1's 7 s: %s", r,
           rc ? ws_last_error() : "ok");
        ok(x[0] == 10.0 && x[1] == 11.0 && (w < 3 || x[2] == 12.0), "rank %d: the values of every rank: %g %g %g", r, x[0], x[1], x[2]);
        ok(ws_rank_agree(0, "after apart") == 0, "rank %d: the first group works again", r);
        ws_rank_shutdown();
        return done_testing();
    }
    int rc;
    if (!strcmp(mode, "apartkill")) {
        rc = ws_rank_apart_begin();
        if (r == 1) kill(getpid(), SIGKILL);
        if (!rc) rc = ws_rank_apart_end(0, NULL, 0, "test apart");
    } else if (!strcmp(mode, "fail1")) rc = ws_rank_agree(r == 1 ? ws_fail(WS_EIO, "rank 1's own error") : 0, "test step");
    else {
        if (r == 1) kill(getpid(), SIGKILL);
        rc = ws_rank_agree(0, "test step");
    }
    /* The message goes to stderr for the driver to check; a rank that did not fail is a test failure. */
    fprintf(stderr, "rank %d: %s\n", r, rc ? ws_last_error() : "no failure");
    ws_rank_shutdown();
    return rc ? 1 : 0;
}

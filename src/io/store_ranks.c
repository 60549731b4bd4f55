/* store_ranks.c - see store_ranks.h. Only rank 0 merges: the parts folder is shared (one file
 * system), so one merge makes the store for everybody, and the other ranks return only once the
 * store is whole, so a stage that reads it next finds it on every rank.
 */
#include "io/store_ranks.h"

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"
#include "shim/rank.h"

int ws_store_finish_ranks(ws_store *s, char *const *ids, int n_ids, int rc, const char *what, int *complete)
{
    char step[160];
    *complete = 0;
    if (ws_rank_world() == 1) return rc ? rc : ws_store_finish(s, ids, n_ids, complete);
    snprintf(step, sizeof step, "the shares of %s", what);
    if ((rc = ws_rank_agree(rc, step))) return rc;
    if (ws_rank_id() == 0) rc = ws_store_finish(s, ids, n_ids, complete);
    snprintf(step, sizeof step, "the assembly of %s by rank 0", what);
    if ((rc = ws_rank_agree(rc, step))) return rc;
    int64_t c = *complete;
    rc = ws_rank_sum_i64(&c, 1, step);   /* only rank 0's flag is non-zero */
    *complete = c > 0;
    return rc;
}

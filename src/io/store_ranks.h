/* store_ranks.h - the end of a per-image store stage run by several ranks (shim/rank.h): every
 * rank has written its share as parts, rank 0 assembles the store. Alone it is ws_store_finish.
 */
#ifndef WS_IO_STORE_RANKS_H
#define WS_IO_STORE_RANKS_H
#include "io/store.h"

/* rc is this rank's status after its share. Waits for every rank (failing on all ranks when one
 * failed, naming it), then rank 0 merges the parts (ws_store_finish) while the others wait; every
 * rank returns rank 0's status and *complete. `what` names the stage in messages. */
int ws_store_finish_ranks(ws_store *s, char *const *ids, int n_ids, int rc, const char *what, int *complete);
#endif

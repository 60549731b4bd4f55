/* imagecheck.c - images checked by their headers before a run (see imagecheck.h). */
#define _POSIX_C_SOURCE 200809L
#include "stage/imagecheck.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "model/sam.h"

double ws_stage_memory_budget(void)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY) return (double)rl.rlim_cur;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * page : 0;
}

void ws_stage_sam_need(const void *ctx, int w, int h, int *ow, int *oh, double *bytes)
{
    const ws_sam_need_ctx *c = ctx;
    ws_sam_preprocess_shape(h, w, c->img_size, oh, ow);
    *bytes = 4.0 * (c->n_masks > 0 ? c->n_masks : 1) * w * (double)h;
}

/* Appends the fault of one image to msg (the first few are listed; all are counted). */
static void note(char *msg, size_t cap, int *n_bad, const char *what)
{
    if (++*n_bad <= 5) {
        size_t len = strlen(msg);
        snprintf(msg + len, cap - len, "\n  %s", what);
    }
}

/* The file of image i: from a path list or from a dataset. */
typedef struct { char *const *paths; const ws_dataset *ds; char buf[4096]; } path_src;

static const char *path_of(path_src *p, int i)
{
    return p->paths ? p->paths[i] : ws_dataset_image_path(p->ds, i, p->buf, sizeof p->buf);
}

static int check(char *const *ids, path_src *src, int n, const unsigned char *todo, const ws_image_need *need)
{
    char thin[4096] = "", big[4096] = "", line[1200];
    int n_thin = 0, n_big = 0;
    const double budget = ws_stage_memory_budget();
    for (int i = 0; i < n; i++) {
        int w, h, ow = 0, oh = 0;
        double bytes = 0;
        if (todo && !todo[i]) continue;
        const char *path = path_of(src, i);
        int rc = ws_image_size(path, &w, &h);
        if (rc) return ws_fail_ctx(rc, "image %s", ids[i]);
        need->fn(need->ctx, w, h, &ow, &oh, &bytes);
        if (ow < 1 || oh < 1) {
            snprintf(line, sizeof line, "image %s (%s, %dx%d): %s gives %dx%d", ids[i], path, w, h, need->input, ow, oh);
            note(thin, sizeof thin, &n_thin, line);
        } else if (budget > 0 && bytes > budget) {
            snprintf(line, sizeof line, "image %s (%s, %dx%d) needs at least %.1f GB for %s; this process may use %.1f GB",
                     ids[i], path, w, h, bytes / 1e9, need->step, budget / 1e9);
            note(big, sizeof big, &n_big, line);
        }
    }
    if (n_thin)
        return ws_fail(WS_EINVAL, "%d image(s) too thin for %s (the official code fails on them too):%s%s\n%s",
                       n_thin, need->input, thin, n_thin > 5 ? "\n  ..." : "", need->advice);
    if (n_big)
        return ws_fail(WS_ENOMEM, "%d image(s) too large for this machine's memory:%s%s\nresize them (keeping "
                       "the long side at most a few thousand pixels) or leave them out of the split", n_big, big,
                       n_big > 5 ? "\n  ..." : "");
    return 0;
}

int ws_stage_check_images(char *const *ids, char *const *paths, int n, const unsigned char *todo,
                          const ws_image_need *need)
{
    path_src src = {.paths = paths};
    return check(ids, &src, n, todo, need);
}

int ws_stage_check_dataset(const ws_dataset *ds, const unsigned char *todo, const ws_image_need *need)
{
    path_src src = {.ds = ds};
    return check(ds->ids, &src, ds->n, todo, need);
}

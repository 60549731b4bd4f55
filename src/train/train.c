/* train.c - the FMA-WSSS prompt-training loop (see train.h):
 *
 *   build (model, start ctx, data, feature cache, optimizer, data order, resume)
 *   -> (next batch, step, log, save)* -> free
 *
 * Batches come from loader.c (and cache.c when train.feature_cache is set); the run's files and
 * checkpoints from rundir.c. This file owns nothing beyond the trainer it builds and frees.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/status.h"
#include "method/fma.h"
#include "method/prompt_build.h"
#include "shim/rank.h"
#include "train/trainer.h"

/* ---- build ------------------------------------------------------------------------------------ */

int ws_train_setup_model(ws_trainer *t)
{
    const ws_train_cfg *c = t->c;
    int rc = ws_prompt_open(&c->prompt, c->model.clip, c->model.vocab, &c->data, &t->m, &t->bpe, &t->p, &t->n_fg);
    if (!rc && t->m.image_resolution != c->crop)
        ws_train_log(t, "note: aug.crop %d differs from the model's native %d; positional embeddings are resized",
                     c->crop, t->m.image_resolution);
    if (rc) return rc;
    /* what a checkpoint must match to continue this run */
    const int64_t a[WS_CKPT_ARCH_N] = {t->m.text_width, t->m.embed_dim, t->m.vision_width, t->m.vision_layers,
                                       t->p.n_cls, c->prompt.n_ctx, c->prompt.csc, t->p.front};
    memcpy(t->arch, a, sizeof a);
    return 0;
}

/* Everything a run needs before its first step, in the order that makes errors cheap: settings,
 * folders, model, data, then the (possibly long) feature-cache build. */
static int build(ws_trainer *t)
{
    const ws_train_cfg *c = t->c;
    char path[sizeof t->dir + 32];
    int rc;
    if ((rc = ws_train_check(c))) return rc;
    t->seg = !strcmp(c->task, "seg");
    snprintf(t->dir, sizeof t->dir, "%s/%s", c->out_dir, c->run);
    snprintf(path, sizeof path, "%s/checkpoints", t->dir);
    if ((rc = ws_mkdir_p(path))) return rc;
    /* One training per run folder: a second one would write the same checkpoints, log and metrics. The kernel
     * lock dies with its holder, so a killed run never blocks its --resume. */
    if (ws_rank_id() == 0) {
        int fd;
        long holder;
        snprintf(path, sizeof path, "%s/.lock", t->dir);
        if ((rc = ws_fs_lock(path, 0, &fd, &holder)) == 1)
            return ws_fail(WS_EINVAL, "another wsseed train (process %ld) is running in %s: wait for it to end (--resume then "
                           "continues it), stop it, or give this run another name (run: or --set run=NAME)", holder, t->dir);
        if (rc) return rc;
        t->lock = fd + 1;
    }
    snprintf(path, sizeof path, "%s/train.log", t->dir);
    /* rank 0 alone writes the run's files (log, metrics, checkpoints); every rank trains */
    t->log = ws_rank_id() == 0 ? fopen(path, "a") : NULL;
    size_t nk;
    const ws_cfg_key *keys = ws_train_keys(&nk);
    if (!keys || !(t->config_text = ws_cfg_dump(keys, nk, c))) return ws_fail(WS_ENOMEM, "out of memory");
    if ((rc = ws_train_setup_model(t)) || (rc = ws_prompt_start_ctx(&t->p, &c->prompt)) || (rc = ws_train_open_data(t)))
        return rc;
    if (c->feature_cache[0] && (rc = ws_train_cache_prepare(t))) return rc;
    t->sgd = (ws_sgd){.momentum = c->momentum, .weight_decay = c->weight_decay};
    t->sched = (ws_lr_sched){.base_lr = c->lr, .warm_iters = c->warm_iters, .warm_factor = c->warm_factor,
                             .max_iter = c->max_iter, .eta_min = c->eta_min};
    return ws_train_order_start(t);
}

/* Resume restores everything the next iteration depends on: ctx, SGD momentum, the iteration
 * (hence the LR schedule) and the loader's position, generator and epoch order, so a resumed run
 * continues bit for bit as if never stopped. `resume` is NULL, "auto" or a checkpoint path. */
static int restore(ws_trainer *t, const char *resume, char *from, size_t cap)
{
    from[0] = '\0';
    if (resume && !strcmp(resume, "auto")) {
        ws_train_newest_ckpt(t, from, cap);
        if (!from[0]) ws_train_log(t, "no checkpoint in %s/checkpoints yet: starting from iteration 0", t->dir);
    } else if (resume) {
        snprintf(from, cap, "%s", resume);
    }
    return from[0] ? ws_train_resume(t, from) : 0;
}

/* ---- one iteration ---------------------------------------------------------------------------- */

typedef struct step_stats { double loss, mcl, cam_fg, cam_bg; int positives; } step_stats;

/* The forward's inputs for chunk [k0, k0 + n) of b. The fast paths skip work whose result is
 * known: the trunk is frozen, so with a feature cache its cached output (or, without a CAM loss,
 * the image embedding) replaces decoding, augmenting and the trunk forward - exact in float32. */
static ws_fma_batch chunk_inputs(const ws_trainer *t, ws_scope *g, const ws_batch *b, int k0, int n)
{
    const size_t CC = (size_t)b->C * b->C;
    const uint8_t *fg = b->fg + (size_t)k0 * b->n_fg;
    const uint8_t *pos = t->seg && t->c->online_labels ? b->ol + (size_t)k0 * b->n_fg : fg;
    ws_fma_batch fb = {.N = n, .H = b->C, .W = b->C, .fg_labels = pos, .mcl_labels = t->c->w_mcl != 0 ? fg : NULL,
                       .seeds = b->want_map ? b->maps + k0 * CC : NULL};
    if (b->trunk && t->cache.emb) {
        const int64_t es[2] = {n, t->cache.W};
        fb.img_emb = ws_g_from_data(g, b->trunk + (size_t)k0 * t->cache.W, WS_AT_F32, 2, es);
    } else if (b->trunk) {
        const int64_t ts[3] = {n, t->cache.T, t->cache.W};
        fb.trunk = ws_g_from_data(g, b->trunk + (size_t)k0 * t->cache.T * t->cache.W, WS_AT_F32, 3, ts);
        fb.grid_h = t->cache.gh;
        fb.grid_w = t->cache.gw;
    } else {
        const int64_t is[4] = {n, 3, b->C, b->C};
        fb.images = ws_g_from_data(g, b->images + (size_t)k0 * 3 * CC, WS_AT_F32, 4, is);
    }
    return fb;
}

/* Forward + d loss / d ctx over chunk [k0, k0 + n) of the batch; adds grad / sub_iters to *acc.
 * create_graph: the seg task's CAM loss is a function of Grad-CAM, itself a gradient of the
 * logits, so d loss / d ctx differentiates through a gradient (second order). */
static int chunk_grad(ws_trainer *t, ws_batch *b, int k0, int n, ws_at_tensor *acc, step_stats *st)
{
    const ws_train_cfg *c = t->c;
    ws_scope g;
    ws_fma_out fo;
    ws_at_tensor grad = NULL;
    ws_scope_init(&g);
    ws_fma_batch fb = chunk_inputs(t, &g, b, k0, n);
    ws_fma_opts o = {.n_fg = b->n_fg, .sm_eps = c->sm_eps, .w_mcl = c->w_mcl, .w_cam_fg = c->w_cam_fg,
                     .w_cam_bg = c->w_cam_bg, .create_graph = 1, .pos_interp = WS_CLIP_POS_BILINEAR,
                     .fast_text = c->fast_text};
    int rc = g.err ? g.err : ws_fma_forward(&t->m, &t->p, &g, &fb, &o, &fo);
    double v = 0;
    if (!rc && ws_at_item(fo.loss_total, &v)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    int has_grad = 0;
    if (!rc) ws_at_requires_grad(fo.loss_total, &has_grad);
    if (!rc && has_grad) {
        if (ws_at_autograd_grad(&fo.loss_total, 1, NULL, &t->p.ctx, 1, 0, 0, 1, &grad))
            rc = ws_fail(WS_ETORCH, "d loss / d ctx: %s", ws_at_last_error());
        else if (grad && c->sub_iters > 1) ws_at_mul_scalar_(grad, 1.0 / c->sub_iters);
    }
    if (!rc && grad) {
        if (!*acc) *acc = grad, grad = NULL;
        else if (ws_at_add_scaled_(*acc, grad, 1.0)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    }
    double item = 0;
    st->loss += v / c->sub_iters;
    if (!rc && fo.loss_mcl && !ws_at_item(fo.loss_mcl, &item)) st->mcl += item / c->sub_iters;
    if (!rc && fo.cl.fg && !ws_at_item(fo.cl.fg, &item)) st->cam_fg += item / c->sub_iters;
    if (!rc && fo.cl.bg && !ws_at_item(fo.cl.bg, &item)) st->cam_bg += item / c->sub_iters;
    if (!rc) st->positives += fo.pos.P;
    ws_at_free(grad);
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    return rc;
}

/* Data parallel: the sums over the ranks of their chunks' statistics and gradients, so that every
 * rank holds what one process gets from all chunks (the same sums in another order: float32
 * rounding apart). The statistics travel with a failure flag, so that a rank that failed in its
 * chunks stops every rank here instead of leaving them waiting in the gradient's all-reduce. */
static int reduce_step(ws_trainer *t, int rc, ws_at_tensor *acc, step_stats *st)
{
    double v[6] = {st->loss, st->mcl, st->cam_fg, st->cam_bg, st->positives, rc != 0};
    int64_t n = 0;
    if (ws_rank_world() == 1) return rc;
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", ws_last_error());
    int grc = ws_rank_sum_f64(v, 6, "the training step's statistics");
    if (rc || grc) return rc ? ws_fail(rc, "%s", mine) : grc;
    if (v[5] > 0) return ws_fail(WS_EIO, "iteration %lld: another rank failed in its share of the batch (its messages say "
                                 "why); rerun to continue from the last checkpoint", (long long)t->it + 1);
    st->loss = v[0], st->mcl = v[1], st->cam_fg = v[2], st->cam_bg = v[3], st->positives = (int)v[4];
    /* a rank without a positive pair in its chunks has no gradient: it adds zeros */
    ws_at_tensor d = NULL;
    if (!*acc && (ws_at_detach(t->p.ctx, &d) || ws_at_clone(d, acc) || ws_at_fill_(*acc, 0.0))) rc = WS_ETORCH;
    ws_at_free(d);
    float *g = NULL;
    if (!rc && !ws_at_numel(*acc, &n) && (g = malloc((size_t)n * sizeof *g)) && !ws_at_read(*acc, g, (size_t)n * sizeof *g)) {
        rc = ws_rank_sum_f32(g, (size_t)n, "the gradient of the prompt context");
        if (!rc && ws_at_write(*acc, g, (size_t)n * sizeof *g)) rc = WS_ETORCH;
    } else if (!rc) rc = g ? WS_ETORCH : ws_fail(WS_ENOMEM, "out of memory");
    free(g);
    return rc == WS_ETORCH ? ws_fail(rc, "gradient all-reduce: %s", ws_at_last_error()) : rc;
}

/* One SGD step on the ctx from the gradient of the whole batch, accumulated over sub_iters chunks
 * (the same step as one chunk of train.batch, in less memory). Under N ranks rank r computes chunks
 * r, r + N, ...: the batch, its order and the loss normalisation (each chunk's gradient / sub_iters,
 * summed) are those of one process, so sub_iters sets how far a batch divides. */
static int train_step(ws_trainer *t, ws_batch *b, double lr, step_stats *st)
{
    ws_at_tensor acc = NULL;
    int rc = 0, per = b->B / t->c->sub_iters;
    memset(st, 0, sizeof *st);
    for (int s = ws_rank_id(); !rc && s < t->c->sub_iters; s += ws_rank_world()) rc = chunk_grad(t, b, s * per, per, &acc, st);
    rc = reduce_step(t, rc, &acc, st);
    if (!rc && !isfinite(st->loss))
        rc = ws_fail(WS_ENUM, "iteration %lld: the loss is %g (images %s, ...); nothing was written for this "
                     "iteration; lower optim.lr or check the data", (long long)t->it + 1, st->loss,
                     t->ds.ids[b->index[0]]);
    if (!rc && !acc) {   /* no positive pair in the batch: a zero gradient (decay and momentum still act) */
        ws_at_tensor d = NULL;
        if (ws_at_detach(t->p.ctx, &d) || ws_at_clone(d, &acc) || ws_at_fill_(acc, 0.0))
            rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
        ws_at_free(d);
    }
    if (!rc) rc = ws_sgd_step(&t->sgd, t->p.ctx, acc, lr);
    ws_at_free(acc);
    return rc;
}

/* ---- the loop --------------------------------------------------------------------------------- */

/* One metrics.csv row and the progress bar after iteration t->it. */
static void log_step(ws_trainer *t, ws_progress *pg, const step_stats *st, double lr, double dt)
{
    if (t->csv) fprintf(t->csv, "%lld,%.8g,%.8g,%.8g,%.8g,%.8g,%d,%.4f\n", (long long)t->it, st->loss, st->mcl, st->cam_fg,
            st->cam_bg, lr, st->positives, dt);
    if (t->csv) fflush(t->csv);   /* a killed run keeps its rows up to here */
    char extra[96];
    snprintf(extra, sizeof extra, "loss %.4g lr %.2e %.2f it/s", st->loss, lr, dt > 0 ? 1.0 / dt : 0.0);
    ws_progress_step(pg, 1, extra);
}

/* The next batch is decoded and augmented in a thread while the current step computes: the step
 * is mostly libtorch and the loading mostly libjpeg + augmentation, so they overlap. The loader's
 * state is snapshot before the prefetch moves it on, so a checkpoint records the position after
 * the batch in use, and results and checkpoints are those of a loader without prefetch. */
static int loop(ws_trainer *t)
{
    const ws_train_cfg *c = t->c;
    ws_batch b[2];
    memset(b, 0, sizeof b);
    int rc = ws_train_batch_alloc(t, &b[0]), cur = 0;
    if (!rc) rc = ws_train_batch_alloc(t, &b[1]);
    if (!rc && t->it < c->max_iter) rc = ws_train_next_batch(t, &b[cur]);
    int save_every = c->save_every > 0 ? c->save_every : (c->max_iter / 10 > 1000 ? c->max_iter / 10 : 1000);
    ws_progress pg;
    ws_progress_start(&pg, c->task, c->max_iter);
    pg.done = t->it;
    while (!rc && t->it < c->max_iter) {
        double t0 = ws_now(), lr = ws_lr_at(&t->sched, (long)t->it);
        step_stats st;
        ws_prefetch pf = {0};
        ws_train_order_snapshot(t);
        if (t->it + 1 < c->max_iter) ws_train_prefetch_begin(t, &b[1 - cur], &pf);
        rc = train_step(t, &b[cur], lr, &st);
        if ((rc = ws_train_prefetch_end(&pf, rc))) break;
        cur = 1 - cur;
        t->it++;
        log_step(t, &pg, &st, lr, ws_now() - t0);
        if (t->it % save_every == 0 && t->it < c->max_iter && ws_rank_id() == 0) {
            char name[32];
            snprintf(name, sizeof name, "iter-%06lld.h5", (long long)t->it);
            rc = ws_train_save(t, name);
        }
    }
    ws_progress_end(&pg);
    if (!rc && ws_rank_id() == 0) rc = ws_train_save(t, "final.h5");
    /* no rank returns before final.h5 is there (the next stage reads it) */
    rc = ws_rank_agree(rc, "the end of the training");
    if (!rc) ws_train_log(t, "done: %s/checkpoints/final.h5 (export the context with `wsseed export-ctx`)", t->dir);
    ws_train_batch_free(&b[0]);
    ws_train_batch_free(&b[1]);
    return rc;
}

static int run(ws_trainer *t, const char *resume)
{
    const ws_train_cfg *c = t->c;
    char from[sizeof t->dir + 64];
    int rc;
    /* Every rank restores the same checkpoint before rank 0 writes anything (start.h5 below), and a rank that
     * cannot stops all of them here. */
    rc = build(t);
    if (!rc) rc = restore(t, resume, from, sizeof from);
    if ((rc = ws_rank_agree(rc, "the training's start"))) return rc;
    if (t->it >= c->max_iter) {
        ws_train_log(t, "%s is already at iteration %lld of %d: nothing to do", from, (long long)t->it, c->max_iter);
        return 0;
    }
    ws_train_order_snapshot(t);   /* what start.h5 (and a run that stops before its first step) records */
    if (ws_rank_id() == 0 && ((rc = ws_train_write_run_files(t)) || (rc = ws_train_open_metrics(t)))) return rc;
    if (ws_rank_id() == 0 && t->it == 0 && (rc = ws_train_save(t, "start.h5"))) return rc;
    if (ws_rank_world() > 1 && ws_rank_id() == 0 && c->sub_iters % ws_rank_world())
        ws_train_log(t, "note: train.sub_iters %d is not a multiple of the %d ranks: the batch's %d chunks are divided "
                     "unevenly (ranks beyond the chunks wait)", c->sub_iters, ws_rank_world(), c->sub_iters);
    ws_train_log(t, "training %s prompts: %d images of %s/%s, batch %d, %d iterations, %d prompts x %d ctx tokens -> %s",
                 c->task, t->ds.n, c->data.root, c->data.split, c->batch, c->max_iter, t->p.n_cls, c->prompt.n_ctx, t->dir);
    return loop(t);
}

void ws_train_state_free(ws_trainer *t)
{
    if (t->csv) fclose(t->csv);
    if (t->log) fclose(t->log);
    if (t->lock) close(t->lock - 1);
    ws_h5_close(&t->cache.f);
    free(t->snap.perm);
    free(t->ord.perm);
    free(t->config_text);
    ws_sgd_free(&t->sgd);
    ws_dataset_close(&t->ds);
    ws_prompt_free(&t->p);
    ws_bpe_free(&t->bpe);
    ws_clip_free(&t->m);
}

int ws_train_run(const ws_train_cfg *c, const char *resume)
{
    ws_trainer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    int rc = run(&t, resume);
    if (rc) {   /* keep the message: cleanup below must not overwrite it */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ws_last_error());
        if (t.log) fprintf(t.log, "error: %s\n", msg);   /* stderr gets it from the caller */
        ws_fail(rc, "%s", msg);
    }
    ws_train_state_free(&t);
    return rc;
}

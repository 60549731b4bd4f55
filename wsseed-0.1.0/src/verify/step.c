/* step.c - `wsseed dump step`: the FMA-WSSS prompt-training steps of fma_step_ref.h5.
 *
 * From /inputs (images, cls_lb, seg_label, infer_*) and the settings of /config (class names,
 * seed strings, ctx std, n_ctx, class-token position, loss weights, SGD and LR schedule), for
 * both tasks: prompts (token ids, ctx initialisation from the seed strings), forward (features,
 * logits, masked softmax, Grad-CAM with create_graph), losses, d loss / d ctx (second order in
 * seg), SGD steps (cls: 2 steps at the scheduled warm lr and at base_lr; seg: 1 step at base_lr,
 * the golden's /cls/sgd_* and /seg/sgd_* groups), the diagnostics of /diag, the LR schedules of
 * both tasks' max_iter and the inference CAM of /infer.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5tensor.h"
#include "verify/verify.h"
#include "core/status.h"
#include "method/fma.h"
#include "model/bpe.h"
#include "train/optim.h"

#define TRY(x) do { if ((rc = (x))) goto cleanup; } while (0)
#define MAX_FG 64   /* bound of the stack buffers below; /config@n_fg is checked against it */
#define MAX_N 64    /* images per batch, likewise */
#define MAX_PROMPTS 256

/* The /config settings of one task (cls or seg). */
typedef struct step_task {
    char **names;          /* n_prompts class names, fg then bg */
    size_t n_names;
    char **seed;           /* the ctx seed string (one) */
    size_t n_seed;
    double ctx_std, mcl_w, cam_w[2];
    long csc, max_iter;
    int front;             /* class token at the front (seg) or the end (cls) */
} step_task;

typedef struct step_cfg {
    step_task task[2];     /* [0] cls, [1] seg */
    long n_fg, n_ctx, warm_iters, save_att;
    double sm_eps, momentum, weight_decay, base_lr, warm_factor, eta_min;
} step_cfg;

typedef struct step_ctx {
    const ws_clip *m;
    const ws_bpe *bpe;
    ws_h5file *out;
    ws_at_tensor images;   /* (N, 3, H, W) */
    int N, H, W;
    uint8_t *cls_fg;       /* (N, 20) from cls_lb[:, 1:] */
    uint8_t *seg_label;    /* (N, H, W) */
    const step_cfg *cfg;
} step_ctx;

/* ---- settings ---- */

static ws_lr_sched lr_sched(const step_cfg *cfg, long max_iter)
{
    return (ws_lr_sched){.base_lr = cfg->base_lr, .warm_iters = (int)cfg->warm_iters, .warm_factor = cfg->warm_factor,
                         .max_iter = (int)max_iter, .eta_min = cfg->eta_min};
}

/* The settings of task cls (seg = 0) or seg from /config: <task>_classnames, <task>_seed_string
 * and the attributes <task>_{ctx_std, csc, cls_token_pos, max_iter, cam_weights} plus the cls
 * task's mcl_weight (the seg task has no MCL term: its multilabel soft-margin loss has weight
 * seg_multilabel_soft_margin_weight and is only reported). */
static int read_task(const ws_h5file *in, int seg, step_task *t)
{
    const char *k = seg ? "seg" : "cls";
    char name[96], pos[32] = "";
    int rc;
    snprintf(name, sizeof name, "/config/%s_classnames", k);
    if ((rc = ws_h5_read_strings(in, name, &t->names, &t->n_names))) return rc;
    snprintf(name, sizeof name, "/config/%s_seed_string", k);
    if ((rc = ws_h5_read_strings(in, name, &t->seed, &t->n_seed))) return rc;
    if (t->n_seed != 1) return ws_fail(WS_EFORMAT, "%s: %s must hold one string", in->path, name);
    long csc = 0;
    snprintf(name, sizeof name, "%s_ctx_std", k);
    if ((rc = ws_verify_attr_num(in, "/config", name, 0, 0, &t->ctx_std))) return rc;
    snprintf(name, sizeof name, "%s_csc", k);
    if ((rc = ws_verify_attr_int(in, "/config", name, 0, 0, &csc))) return rc;
    t->csc = csc;
    snprintf(name, sizeof name, "%s_max_iter", k);
    if ((rc = ws_verify_attr_int(in, "/config", name, 0, 0, &t->max_iter))) return rc;
    snprintf(name, sizeof name, "%s_cam_weights", k);
    if ((rc = ws_verify_attr_vec(in, "/config", name, t->cam_w, 2))) return rc;
    snprintf(name, sizeof name, "%s_cls_token_pos", k);
    if ((rc = ws_h5_attr_string(in, "/config", name, pos, sizeof pos))) return rc;
    if (strcmp(pos, "front") && strcmp(pos, "end"))
        return ws_fail(WS_EFORMAT, "%s: /config@%s is '%s'; expected 'front' or 'end'", in->path, name, pos);
    t->front = !strcmp(pos, "front");
    t->mcl_w = 0;
    if (!seg && (rc = ws_verify_attr_num(in, "/config", "cls_mcl_weight", 0, 0, &t->mcl_w))) return rc;
    return 0;
}

static int read_cfg(const ws_h5file *in, step_cfg *cfg)
{
    static const struct { const char *n; size_t off; } NUMS[] = {
        {"masked_softmax_eps", offsetof(step_cfg, sm_eps)}, {"momentum", offsetof(step_cfg, momentum)},
        {"weight_decay", offsetof(step_cfg, weight_decay)}, {"base_lr", offsetof(step_cfg, base_lr)},
        {"warm_start_factor", offsetof(step_cfg, warm_factor)}, {"cosine_eta_min", offsetof(step_cfg, eta_min)}};
    static const struct { const char *n; size_t off; } INTS[] = {
        {"n_fg", offsetof(step_cfg, n_fg)}, {"n_ctx", offsetof(step_cfg, n_ctx)},
        {"warm_iters", offsetof(step_cfg, warm_iters)}, {"infer_save_att", offsetof(step_cfg, save_att)}};
    int rc = 0;
    for (size_t i = 0; i < sizeof NUMS / sizeof NUMS[0] && !rc; i++)
        rc = ws_verify_attr_num(in, "/config", NUMS[i].n, 0, 0, (double *)((char *)cfg + NUMS[i].off));
    for (size_t i = 0; i < sizeof INTS / sizeof INTS[0] && !rc; i++)
        rc = ws_verify_attr_int(in, "/config", INTS[i].n, 0, 0, (long *)((char *)cfg + INTS[i].off));
    for (int seg = 0; seg < 2 && !rc; seg++) rc = read_task(in, seg, &cfg->task[seg]);
    if (rc) return rc;
    double warm_end = 0;
    if ((rc = ws_verify_attr_num(in, "/config", "warm_end_factor", 0, 0, &warm_end))) return rc;
    /* the schedule is LinearLR with one factor (start = end); another ramp is not implemented */
    if (warm_end != cfg->warm_factor)
        return ws_fail(WS_EFORMAT, "%s: /config warm_start_factor %g != warm_end_factor %g (only a constant warm-up "
                       "is implemented)", in->path, cfg->warm_factor, warm_end);
    if (cfg->n_fg < 1 || cfg->n_fg > MAX_FG)
        return ws_fail(WS_EFORMAT, "%s: /config@n_fg = %ld must lie in 1..%d", in->path, cfg->n_fg, MAX_FG);
    for (int seg = 0; seg < 2; seg++)
        if (cfg->task[seg].n_names < (size_t)cfg->n_fg || cfg->task[seg].n_names > MAX_PROMPTS)
            return ws_fail(WS_EFORMAT, "%s: /config/%s_classnames has %zu names; it needs n_fg = %ld to %d",
                           in->path, seg ? "seg" : "cls", cfg->task[seg].n_names, cfg->n_fg, MAX_PROMPTS);
    return 0;
}

static void free_cfg(step_cfg *cfg)
{
    for (int seg = 0; seg < 2; seg++) {
        ws_h5_strings_free(cfg->task[seg].names, cfg->task[seg].n_names);
        ws_h5_strings_free(cfg->task[seg].seed, cfg->task[seg].n_seed);
    }
}

/* ---- outputs ---- */

static int put(ws_h5file *f, ws_scope *g, const char *grp, const char *name, ws_at_tensor t)
{
    char p[256];
    if (g->err) return g->err;
    snprintf(p, sizeof p, "%s/%s", grp, name);
    return ws_h5_put_tensor(f, p, t);
}

static int put_raw(ws_h5file *f, const char *grp, const char *name, int dt, int nd, const int64_t *s, const void *d)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", grp, name);
    return ws_h5_write_raw(f, p, dt, nd, s, d);
}

/* Builds the task's prompt learner with its official initialisation. */
static int task_prompt(const step_ctx *c, int seg, ws_prompt *p)
{
    const step_task *t = &c->cfg->task[seg];
    int rc = ws_prompt_build(p, c->m, c->bpe, (const char *const *)t->names, (int)t->n_names, (int)c->cfg->n_ctx,
                             (int)t->csc, t->front);
    return rc ? rc : ws_prompt_init_ctx(p, t->seed[0], t->ctx_std);
}

/* The batch of a task: cls uses the image labels (and the seed maps as its zero-weight CAM
 * label), seg the presence of classes in the seed maps. */
static void task_batch(const step_ctx *c, int seg, uint8_t *fg, ws_fma_batch *b, ws_fma_opts *o)
{
    const size_t hw = (size_t)c->H * c->W;
    const int F = (int)c->cfg->n_fg;
    const step_task *t = &c->cfg->task[seg];
    for (int n = 0; n < c->N; n++) {
        if (seg) ws_fma_presence(c->seg_label + n * hw, hw, F, fg + n * F);
        else memcpy(fg + n * F, c->cls_fg + n * F, (size_t)F);
    }
    *b = (ws_fma_batch){.N = c->N, .H = c->H, .W = c->W, .images = c->images, .fg_labels = fg,
                        .mcl_labels = seg ? NULL : fg, .seeds = c->seg_label};
    *o = (ws_fma_opts){.n_fg = F, .sm_eps = c->cfg->sm_eps, .w_mcl = t->mcl_w, .w_cam_fg = t->cam_w[0],
                       .w_cam_bg = t->cam_w[1], .cam = 1, .create_graph = 1, .pos_interp = WS_CLIP_POS_BILINEAR,
                       .attn_mean = 1, .proj_all = 1};
}

/* d loss / d ctx at the learner's current ctx; *loss gets the loss value. */
static int loss_and_grad(const step_ctx *c, int seg, ws_prompt *p, ws_scope *g, ws_at_tensor *loss, ws_at_tensor *grad)
{
    uint8_t fg[MAX_N * MAX_FG];
    ws_fma_batch b;
    ws_fma_opts o;
    ws_fma_out fo;
    task_batch(c, seg, fg, &b, &o);
    int rc = ws_fma_forward(c->m, p, g, &b, &o, &fo);
    if (!rc && ws_at_autograd_grad(&fo.loss_total, 1, NULL, &p->ctx, 1, 0, 0, 0, grad))
        rc = ws_fail(WS_ETORCH, "d loss / d ctx: %s", ws_at_last_error());
    if (!rc) ws_scope_adopt(g, *grad);
    *loss = fo.loss_total;
    ws_fma_out_free(&fo);
    return rc;
}

/* n SGD steps from ctx_init at the given lrs, writing grp/{lr, momentum_buffer_step*, ctx_step*,
 * grad_ctx_step2, loss_total_step2}. */
static int sgd_steps(const step_ctx *c, int seg, ws_prompt *p, const float *ctx0, const char *grp,
                     const double *lrs, int n)
{
    ws_sgd s = {.momentum = c->cfg->momentum, .weight_decay = c->cfg->weight_decay};
    int64_t cs[3];
    int nd = 0, rc = 0;
    char name[64];
    ws_at_shape(p->ctx, cs, 3, &nd);
    if ((rc = ws_prompt_set_ctx(p, ctx0, nd, cs))) return rc;
    int64_t nl = n;
    TRY(put_raw(c->out, grp, "lr", WS_F64, 1, &nl, lrs));
    for (int k = 0; k < n; k++) {
        ws_scope g;
        ws_at_tensor loss = NULL, grad = NULL;
        ws_scope_init(&g);
        rc = loss_and_grad(c, seg, p, &g, &loss, &grad);
        if (!rc && k > 0) {
            snprintf(name, sizeof name, "grad_ctx_step%d", k + 1);
            rc = put(c->out, &g, grp, name, grad);
            snprintf(name, sizeof name, "loss_total_step%d", k + 1);
            if (!rc) rc = put(c->out, &g, grp, name, loss);
        }
        if (!rc) rc = ws_sgd_step(&s, p->ctx, grad, lrs[k]);
        snprintf(name, sizeof name, "momentum_buffer_step%d", k + 1);
        if (!rc) rc = put(c->out, &g, grp, name, s.buf);
        snprintf(name, sizeof name, "ctx_step%d", k + 1);
        if (!rc) rc = put(c->out, &g, grp, name, p->ctx);
        ws_scope_free(&g);
        if (rc) break;
    }
cleanup:
    ws_sgd_free(&s);
    return rc;
}

/* Per-positive MultiLabelSoftMarginLoss of fg logits (weight 0 in seg; reported only). */
static int mlsm(ws_scope *g, ws_at_tensor fg_logits, const uint8_t *lab, int N, int F, ws_at_tensor *out)
{
    float x[MAX_N * MAX_FG];
    if (ws_at_read(fg_logits, x, (size_t)N * F * sizeof(float))) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    double tot = 0;
    for (int n = 0; n < N; n++) {
        double row = 0;
        for (int k = 0; k < F; k++) {
            double v = x[n * F + k], y = lab[n * F + k];
            double ls_pos = -log1p(exp(-v)), ls_neg = -log1p(exp(v));   /* logsigmoid(v), logsigmoid(-v) */
            row += -(y * ls_pos + (1 - y) * ls_neg);
        }
        tot += row / F;
    }
    float v = (float)(tot / N);
    *out = ws_g_from_data(g, &v, WS_AT_F32, 0, NULL);
    return g->err;
}

static int write_diag(const step_ctx *c, int seg, ws_scope *g, ws_fma_out *fo, const char *dg)
{
    ws_h5file *f = c->out;
    int rc = 0;
    char name[64];
    const int64_t hw = (int64_t)fo->img.grid_h * fo->img.grid_w;
    ws_at_tensor ins[3] = {fo->logits, fo->text.features, fo->gc.cam}, gr[3] = {0};
    if (ws_at_autograd_grad(&fo->loss_total, 1, NULL, ins, seg ? 3 : 2, 1, 0, 1, gr))
        return ws_fail(WS_ETORCH, "diagnostic gradients: %s", ws_at_last_error());
    for (int i = 0; i < 3; i++) ws_scope_adopt(g, gr[i]);
    ws_at_tensor dy = ws_gradcam_per_positive(g, fo->gc.targets, &fo->pos, c->N, fo->img.patch_mean, 0);
    const struct { const char *n; ws_at_tensor t; } items[] = {
        {"prompt_embedding", fo->prompt_emb},
        {"text_features_normalized", ws_clip_l2_normalize(g, fo->text.features)},
        {"img_emb_normalized", ws_clip_l2_normalize(g, fo->img.patch_mean)},
        {"cls_emb", fo->img.embedding},
        {"patch_emb", ws_g_slice(g, fo->img.proj_all, 1, 1, 1 + hw)},
        {"A", fo->img.ln1_leaf}, {"grad_A_pos", fo->gc.grad_A}, {"cam_weights", fo->gc.weights},
        {"dy_dimg_emb", dy}, {"dloss_dlogits", gr[0]}, {"dloss_dtext_features", gr[1]},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0] && !rc; i++) rc = put(f, g, dg, items[i].n, items[i].t);
    for (int i = 0; i < c->m->vision_layers && !rc; i++) {
        snprintf(name, sizeof name, "attn_weights_block_%d", i);
        rc = put(f, g, dg, name, fo->img.attn_mean[i]);
    }
    if (!rc && seg) {
        int64_t P = fo->pos.P;
        rc = put(f, g, dg, "dloss_dpos_cam", gr[2]);
        if (!rc) rc = put_raw(f, dg, "fg_count", WS_I64, 1, &P, fo->cl.fg_count);
        if (!rc) rc = put_raw(f, dg, "bg_count", WS_I64, 1, &P, fo->cl.bg_count);
        if (!rc) rc = put(f, g, dg, "max_fg_cam", fo->cl.max_fg);
    }
    return rc;
}

/* <grp>/{token_ids, eot_index, name_lens, ctx_init}: the task's prompts at their official
 * initialisation; *ctx0 gets a copy of that ctx, the start of every SGD run. */
static int prompt_outputs(const step_ctx *c, int seg, const char *grp, ws_scope *g, ws_prompt *p, float **ctx0)
{
    int rc;
    if ((rc = task_prompt(c, seg, p))) return rc;
    const int64_t G = p->n_cls, ts[2] = {G, p->context_length};
    if ((rc = put_raw(c->out, grp, "token_ids", WS_I32, 2, ts, p->token_ids))) return rc;
    if ((rc = put(c->out, g, grp, "eot_index", p->eot))) return rc;
    if ((rc = put_raw(c->out, grp, "name_lens", WS_I64, 1, &G, p->name_lens))) return rc;
    if ((rc = put(c->out, g, grp, "ctx_init", p->ctx))) return rc;
    size_t nctx = (size_t)(seg ? G : 1) * p->n_ctx * p->width;
    if (!(*ctx0 = malloc(nctx * sizeof **ctx0))) return ws_fail(WS_ENOMEM, "out of memory");
    if (ws_at_read(p->ctx, *ctx0, nctx * sizeof **ctx0)) return ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    return 0;
}

/* <grp>: the forward pass (features, logits, masked softmax, Grad-CAM, losses) and its softmax
 * mask (fg presence, background prompts always on) and positives; fg gets the task's labels
 * (N, n_fg), *fl the fg logits. */
static int forward_outputs(const step_ctx *c, int seg, const char *grp, ws_scope *g, const ws_prompt *p, uint8_t *fg,
                           ws_fma_out *fo, ws_at_tensor *fl)
{
    uint8_t sm[MAX_N * MAX_PROMPTS];
    ws_fma_batch b;
    ws_fma_opts o;
    const int F = (int)c->cfg->n_fg;
    const int64_t G = p->n_cls, N = c->N;
    int rc;
    task_batch(c, seg, fg, &b, &o);
    if ((rc = ws_fma_forward(c->m, p, g, &b, &o, fo))) return rc;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < G; k++) sm[n * G + k] = k < F ? fg[n * F + k] : 1;
    *fl = ws_g_slice(g, fo->logits, 1, 0, F);
    const struct { const char *n; ws_at_tensor t; } items[] = {
        {"text_features", fo->text.features}, {"img_emb", fo->img.patch_mean}, {"logits", fo->logits},
        {"fg_logits", *fl}, {"sm_logits", fo->y}, {"pos_logits", fo->gc.targets}, {"pos_cam", fo->gc.cam},
        {"loss_cam_fg", fo->cl.fg}, {"loss_cam_bg", fo->cl.bg}, {"loss_total", fo->loss_total},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        if ((rc = put(c->out, g, grp, items[i].n, items[i].t))) return rc;
    const int64_t ms[2] = {N, G}, P = fo->pos.P;
    if ((rc = put_raw(c->out, grp, "sm_mask", WS_U8, 2, ms, sm))) return rc;
    if ((rc = put_raw(c->out, grp, "pos_batch_idx", WS_I64, 1, &P, fo->pos.batch))) return rc;
    return put_raw(c->out, grp, "pos_fg_cls", WS_I64, 1, &P, fo->pos.cls);
}

/* The seg task's extra outputs: ol_cls_lb (background presence in the label map, then the fg
 * classes), fg_cls_lb, the upsampled CAMs and the reported multilabel soft-margin loss. */
static int seg_outputs(const step_ctx *c, const char *grp, ws_scope *g, const ws_fma_out *fo, ws_at_tensor fl,
                       const uint8_t *fg)
{
    int64_t ol[MAX_N * (MAX_FG + 1)];
    const int F = (int)c->cfg->n_fg, N = c->N;
    const int64_t s21[2] = {N, F + 1}, s20[2] = {N, F};
    int rc;
    for (int n = 0; n < N; n++) {
        ol[n * (F + 1)] = 0;
        for (size_t i = 0; i < (size_t)c->H * c->W; i++) ol[n * (F + 1)] |= c->seg_label[n * c->H * c->W + i] == 0;
        for (int k = 0; k < F; k++) ol[n * (F + 1) + 1 + k] = fg[n * F + k];
    }
    if ((rc = put_raw(c->out, grp, "ol_cls_lb", WS_I64, 2, s21, ol))) return rc;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < F; k++) ol[n * F + k] = fg[n * F + k];
    if ((rc = put_raw(c->out, grp, "fg_cls_lb", WS_I64, 2, s20, ol))) return rc;
    if ((rc = put(c->out, g, grp, "pos_cam_upsampled", fo->cl.upsampled))) return rc;
    ws_at_tensor ml = NULL;
    if ((rc = mlsm(g, fl, fg, c->N, F, &ml))) return rc;
    return put(c->out, g, grp, "loss_multilabel_soft_margin", ml);
}

/* <grp>/grad_ctx: d loss_total / d ctx of the forward fo. */
static int grad_ctx_output(const step_ctx *c, const char *grp, ws_scope *g, ws_fma_out *fo, ws_prompt *p)
{
    ws_at_tensor grad = NULL;
    if (ws_at_autograd_grad(&fo->loss_total, 1, NULL, &p->ctx, 1, 0, 0, 0, &grad))
        return ws_fail(WS_ETORCH, "d loss / d ctx: %s", ws_at_last_error());
    ws_scope_adopt(g, grad);
    return put(c->out, g, grp, "grad_ctx", grad);
}

/* The SGD runs from ctx0, as the golden's groups: cls 2 steps at the scheduled warm-up lrs
 * (<grp>/sgd_warm) and 2 at base_lr; seg 1 step at base_lr (<grp>/sgd_lr1e3). */
static int sgd_outputs(const step_ctx *c, int seg, const char *grp, ws_prompt *p, const float *ctx0)
{
    const double base_lr = c->cfg->base_lr;
    char sg[64];
    int rc;
    if (seg) {
        const double fixed[1] = {base_lr};
        snprintf(sg, sizeof sg, "%s/sgd_lr1e3", grp);
        return sgd_steps(c, seg, p, ctx0, sg, fixed, 1);
    }
    const ws_lr_sched sch = lr_sched(c->cfg, c->cfg->task[0].max_iter);
    const double warm[2] = {ws_lr_at(&sch, 0), ws_lr_at(&sch, 1)}, fixed[2] = {base_lr, base_lr};
    snprintf(sg, sizeof sg, "%s/sgd_warm", grp);
    if ((rc = sgd_steps(c, seg, p, ctx0, sg, warm, 2))) return rc;
    snprintf(sg, sizeof sg, "%s/sgd_lr1e3", grp);
    return sgd_steps(c, seg, p, ctx0, sg, fixed, 2);
}

/* One task (cls or seg): prompts, forward, diagnostics and d loss / d ctx in one graph, then the
 * SGD runs, each of which rebuilds its own graph. */
static int dump_task(const step_ctx *c, int seg)
{
    const char *grp = seg ? "/seg" : "/cls", *dg = seg ? "/diag/seg" : "/diag/cls";
    ws_prompt p = {0};
    ws_scope g;
    ws_fma_out fo = {0};
    uint8_t fg[MAX_N * MAX_FG];
    float *ctx0 = NULL;
    ws_at_tensor fl = NULL;
    int rc;
    ws_scope_init(&g);
    TRY(prompt_outputs(c, seg, grp, &g, &p, &ctx0));
    TRY(forward_outputs(c, seg, grp, &g, &p, fg, &fo, &fl));
    if (seg) TRY(seg_outputs(c, grp, &g, &fo, fl, fg));
    else TRY(put(c->out, &g, grp, "loss_mcl", fo.loss_mcl));
    TRY(write_diag(c, seg, &g, &fo, dg));
    TRY(grad_ctx_output(c, grp, &g, &fo, &p));
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    ws_scope_init(&g);
    TRY(sgd_outputs(c, seg, grp, &p, ctx0));
cleanup:
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    ws_prompt_free(&p);
    free(ctx0);
    return rc;
}

/* /lr_schedule/max_iter_<n>/lr for the max_iter of each task (cls, seg). */
static int dump_schedules(ws_h5file *out, const step_cfg *cfg)
{
    const long iters[2] = {cfg->task[0].max_iter, cfg->task[1].max_iter};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        const ws_lr_sched s = lr_sched(cfg, iters[k]);
        double *lr = malloc((size_t)iters[k] * sizeof *lr);
        char name[64];
        if (!lr) return ws_fail(WS_ENOMEM, "out of memory");
        for (int t = 0; t < iters[k]; t++) lr[t] = ws_lr_at(&s, t);
        int64_t n = iters[k];
        snprintf(name, sizeof name, "/lr_schedule/max_iter_%ld/lr", iters[k]);
        rc = ws_h5_write_raw(out, name, WS_F64, 1, &n, lr);
        free(lr);
    }
    return rc;
}

static int dump_infer(const step_ctx *c, const ws_h5file *in)
{
    ws_prompt p = {0};
    ws_scope g;
    ws_fma_out fo = {0};
    ws_array ctx = {0}, lb = {0};
    ws_at_tensor img = NULL;
    uint8_t fg[MAX_FG];
    const int F = (int)c->cfg->n_fg;
    int rc;
    if (!ws_h5_exists(in, "/inputs/infer_image")) return 0;
    ws_scope_init(&g);
    TRY(ws_h5_get_tensor(in, "/inputs/infer_image", WS_F32, &img));
    ws_scope_adopt(&g, img);
    TRY(ws_h5_read(in, "/inputs/infer_ctx", WS_F32, &ctx));
    TRY(ws_h5_read(in, "/inputs/infer_cls_lb", WS_I64, &lb));
    if (ws_array_numel(&lb) != F + 1) {
        rc = ws_fail(WS_ESHAPE, "%s: /inputs/infer_cls_lb must hold n_fg + 1 = %d labels", in->path, F + 1);
        goto cleanup;
    }
    for (int k = 0; k < F; k++) fg[k] = ((int64_t *)lb.data)[1 + k] != 0;
    TRY(task_prompt(c, 0, &p));
    TRY(ws_prompt_set_ctx(&p, ctx.data, ctx.ndim, ctx.shape));
    int64_t is[4];
    int nd = 0;
    ws_at_shape(img, is, 4, &nd);
    ws_fma_batch b = {.N = 1, .H = (int)is[2], .W = (int)is[3], .images = img, .fg_labels = fg};
    ws_fma_opts o = {.n_fg = F, .sm_eps = c->cfg->sm_eps, .cam = 1, .create_graph = 0, .pos_interp = WS_CLIP_POS_BILINEAR,
                     .attn_mean = 1};
    TRY(ws_fma_forward(c->m, &p, &g, &b, &o, &fo));
    const int L = c->m->vision_layers;
    ws_at_tensor att = ws_fma_merge_att(&g, fo.img.attn_mean, L, (int)c->cfg->save_att);
    ws_at_tensor att0 = ws_g_select(&g, att, 0, 0), layers, stack[16];
    for (int i = 0; i < L && i < 16; i++) stack[i] = ws_g_select(&g, fo.img.attn_mean[i], 0, 0);
    layers = ws_g_reshape(&g, ws_g_cat(&g, stack, L, 0), 3,
                          (int64_t[3]){L, 1 + (int64_t)fo.img.grid_h * fo.img.grid_w, 1 + (int64_t)fo.img.grid_h * fo.img.grid_w});
    ws_at_tensor logit_row = ws_g_select(&g, fo.logits, 0, 0);
    const int64_t P = fo.pos.P;
    const struct { const char *n; ws_at_tensor t; } items[] = {
        {"pos_embedding_interp", fo.img.pos}, {"text_features", fo.text.features}, {"img_emb", fo.img.patch_mean},
        {"logits", fo.logits}, {"sm_logits", fo.y}, {"all_logit", ws_g_slice(&g, logit_row, 0, 0, F)},
        {"fg_logit", ws_g_index_select(&g, logit_row, 0, ws_g_from_data(&g, fo.pos.cls, WS_AT_I64, 1, &P))},
        {"cam", fo.gc.cam}, {"A", fo.img.ln1_leaf}, {"att_layers", layers}, {"att_merged", att0},
        {"att_merged_fp16", ws_g_to_dtype(&g, att0, WS_AT_F16)},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) TRY(put(c->out, &g, "/infer", items[i].n, items[i].t));
    TRY(put_raw(c->out, "/infer", "fg_cls", WS_I64, 1, &P, fo.pos.cls));
cleanup:
    ws_fma_out_free(&fo);
    ws_scope_free(&g);
    ws_prompt_free(&p);
    ws_array_free(&ctx);
    ws_array_free(&lb);
    return rc;
}

int ws_verify_step(const ws_verify_args *a)
{
    ws_clip m = {0};
    ws_bpe bpe = {0};
    ws_h5file in = {0}, out = {0};
    ws_array lb = {0}, seg = {0};
    step_ctx c = {0};
    step_cfg cfg = {0};
    int rc;
    TRY(ws_clip_load(&m, a->model));
    TRY(ws_bpe_load(&bpe, a->vocab));
    TRY(ws_h5_open(&in, a->input));
    TRY(read_cfg(&in, &cfg));
    TRY(ws_h5_create(&out, a->output));
    TRY(ws_h5_get_tensor(&in, "/inputs/images", WS_F32, &c.images));
    TRY(ws_h5_read(&in, "/inputs/cls_lb", WS_I64, &lb));
    TRY(ws_h5_read(&in, "/inputs/seg_label", WS_U8, &seg));
    c.m = &m;
    c.bpe = &bpe;
    c.out = &out;
    c.cfg = &cfg;
    c.N = (int)seg.shape[0];
    c.H = (int)seg.shape[1];
    c.W = (int)seg.shape[2];
    const int F = (int)cfg.n_fg;
    if (c.N > MAX_N || lb.shape[0] != c.N || lb.shape[1] != F + 1) {
        rc = ws_fail(WS_ESHAPE, "%s: /inputs/cls_lb must be (N, n_fg + 1 = %d) and /inputs/seg_label (N, H, W), N <= %d",
                     a->input, F + 1, MAX_N);
        goto cleanup;
    }
    c.seg_label = seg.data;
    if (!(c.cls_fg = malloc((size_t)c.N * F))) { rc = ws_fail(WS_ENOMEM, "out of memory"); goto cleanup; }
    for (int n = 0; n < c.N; n++)   /* cls_lb column 0 is the background */
        for (int k = 0; k < F; k++) c.cls_fg[n * F + k] = ((int64_t *)lb.data)[n * (F + 1) + 1 + k] != 0;
    TRY(dump_task(&c, 0));
    TRY(dump_task(&c, 1));
    TRY(dump_schedules(&out, &cfg));
    TRY(dump_infer(&c, &in));
    TRY(ws_h5_commit(&out));
cleanup:
    free(c.cls_fg);
    free_cfg(&cfg);
    ws_at_free(c.images);
    ws_array_free(&lb);
    ws_array_free(&seg);
    ws_h5_close(&out);
    ws_h5_close(&in);
    ws_bpe_free(&bpe);
    ws_clip_free(&m);
    return rc;
}

/* prompt_build.c - CLIP, tokenizer and prompt learner from the prompt settings (see prompt_build.h). */
#include "method/prompt_build.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/ckpt.h"
#include "io/settings.h"

/* The G = n_fg + n_bg prompt names of the class list (fg, then bg words or '' for learnable bg
 * prompts) into names[] (malloc'd, borrowed strings); checks the settings first so a typo is
 * reported before any model loads. */
static int prompt_names(const ws_prompt_cfg *pc, const ws_classes *cl, const char *dataset, const char ***names, int *front)
{
    int empty = !strcmp(pc->bg_names, "empty"), max_bg = cl->n_bg_words;
    if (!empty && strcmp(pc->bg_names, "clip_es")) return ws_fail(WS_EINVAL, "prompt.bg_names must be clip_es or empty");
    if (pc->n_bg < 0 || (!empty && pc->n_bg > max_bg) || pc->n_bg > 100)
        return ws_fail(WS_EINVAL, "prompt.n_bg = %d: the %s bg word list has %d words", pc->n_bg, dataset, max_bg);
    *front = !strcmp(pc->cls_token_pos, "front");
    if (!*front && strcmp(pc->cls_token_pos, "end")) return ws_fail(WS_EINVAL, "prompt.cls_token_pos must be end or front");
    if (!(*names = malloc((size_t)(cl->n_fg + pc->n_bg + 1) * sizeof **names))) return ws_fail(WS_ENOMEM, "out of memory");
    for (int i = 0; i < cl->n_fg; i++) (*names)[i] = cl->prompt[i];
    for (int i = 0; i < pc->n_bg; i++) (*names)[cl->n_fg + i] = empty ? "" : cl->bg_words[i];
    return 0;
}

int ws_prompt_open(const ws_prompt_cfg *pc, const char *clip, const char *vocab, const ws_data_cfg *data,
                   ws_clip *m, ws_bpe *bpe, ws_prompt *p, int *n_fg)
{
    const char **names = NULL;
    ws_classes cl;
    int front = 0;
    int rc = ws_data_class_list(data, &cl);
    if (!rc) rc = prompt_names(pc, &cl, data->dataset, &names, &front);
    *n_fg = cl.n_fg;
    if (!rc) rc = ws_clip_open(m, clip);
    if (!rc) rc = ws_bpe_load(bpe, vocab);
    if (!rc) rc = ws_prompt_build(p, m, bpe, names, cl.n_fg + pc->n_bg, pc->n_ctx, pc->csc, front);
    free(names);
    ws_classes_free(&cl);
    return rc;
}

/* A .pth state dict's prompt_learner.ctx, converted to f32 whatever dtype it was saved in. */
static int load_pth_ctx(ws_prompt *p, const char *f)
{
    ws_at_ckpt ck = NULL;
    ws_at_tensor x = NULL, x32 = NULL;
    int64_t sh[3], numel = 0;
    int nd = 0, rc = 0;
    float *buf = NULL;
    if (ws_at_ckpt_open(f, &ck) || ws_at_ckpt_get(ck, "prompt_learner.ctx", &x) || ws_at_shape(x, sh, 3, &nd))
        rc = ws_fail(WS_EFORMAT, "prompt context %s: %s", f, ws_at_last_error());
    if (!rc && ws_at_to_dtype(x, WS_AT_F32, &x32)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) ws_at_numel(x32, &numel);
    if (!rc && !(buf = malloc((size_t)numel * sizeof *buf))) rc = ws_fail(WS_ENOMEM, "out of memory");
    if (!rc && ws_at_read(x32, buf, (size_t)numel * sizeof *buf)) rc = ws_fail(WS_ETORCH, "%s", ws_at_last_error());
    if (!rc) rc = ws_prompt_set_ctx(p, buf, nd, sh);
    free(buf);
    ws_at_free(x);
    ws_at_free(x32);
    ws_at_ckpt_close(ck);
    return rc;
}

int ws_prompt_load_ctx(ws_prompt *p, const char *f)
{
    size_t n = strlen(f);
    if (n > 3 && !strcmp(f + n - 3, ".h5")) {
        ws_ckpt k;
        int rc = ws_ckpt_read(f, &k);
        if (!rc) rc = ws_prompt_set_ctx(p, k.ctx.data, k.ctx.ndim, k.ctx.shape);
        ws_ckpt_free(&k);
        return rc ? ws_fail(rc, "prompt context %s: %s", f, ws_last_error()) : 0;
    }
    return load_pth_ctx(p, f);
}

int ws_prompt_start_ctx(ws_prompt *p, const ws_prompt_cfg *pc)
{
    if (!pc->init_file[0]) return ws_prompt_init_ctx(p, pc->init_seed, pc->init_std);
    int rc = ws_prompt_load_ctx(p, pc->init_file);
    return rc ? ws_fail(rc, "prompt.init_file: %s", ws_last_error()) : 0;
}

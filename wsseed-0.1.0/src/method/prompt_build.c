/* prompt_build.c - CLIP, tokenizer and prompt learner from the prompt settings (see prompt_build.h). */
#include "method/prompt_build.h"

#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/ckpt.h"
#include "method/names.h"

/* The G = n_fg + n_bg prompt names of dataset (fg, then bg words or '' for learnable bg prompts)
 * into names[]; checks the settings first so a typo is reported before any model loads. */
static int prompt_names(const ws_prompt_cfg *pc, const char *dataset, const char **names, int *n_fg, int *front)
{
    int rc = ws_dataset_classes(dataset, n_fg);
    if (rc) return rc;
    const int coco = *n_fg == 80;
    int empty = !strcmp(pc->bg_names, "empty"), max_bg = coco ? 23 : 25;
    if (!empty && strcmp(pc->bg_names, "clip_es")) return ws_fail(WS_EINVAL, "prompt.bg_names must be clip_es or empty");
    /* 100 bounds the caller's names[] when the bg prompts are learnable only */
    if (pc->n_bg < 0 || (!empty && pc->n_bg > max_bg) || pc->n_bg > 100)
        return ws_fail(WS_EINVAL, "prompt.n_bg = %d: the %s bg word list has %d words", pc->n_bg, dataset, max_bg);
    *front = !strcmp(pc->cls_token_pos, "front");
    if (!*front && strcmp(pc->cls_token_pos, "end")) return ws_fail(WS_EINVAL, "prompt.cls_token_pos must be end or front");
    for (int i = 0; i < *n_fg; i++) names[i] = coco ? WS_COCO_FG[i] : WS_VOC_FG[i];
    for (int i = 0; i < pc->n_bg; i++) names[*n_fg + i] = empty ? "" : coco ? WS_COCO_BG[i] : WS_VOC_BG[i];
    return 0;
}

int ws_prompt_open(const ws_prompt_cfg *pc, const char *clip, const char *vocab, const char *dataset,
                   ws_clip *m, ws_bpe *bpe, ws_prompt *p, int *n_fg)
{
    const char *names[256];
    int front = 0;
    int rc = prompt_names(pc, dataset, names, n_fg, &front);
    if (!rc) rc = ws_clip_open(m, clip);
    if (!rc) rc = ws_bpe_load(bpe, vocab);
    if (!rc) rc = ws_prompt_build(p, m, bpe, names, *n_fg + pc->n_bg, pc->n_ctx, pc->csc, front);
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

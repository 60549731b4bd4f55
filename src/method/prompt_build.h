/* prompt_build.h - the FMA-WSSS prompt learner as a run or CAM inference describes it.
 *
 * A ws_prompt_cfg (the prompt.* settings of a training config) plus the CLIP checkpoint, its
 * tokenizer and the dataset's class names give CLIP, the tokenizer and the prompt learner
 * (fg names then bg prompts, ctx layout); the start ctx comes from the official seeded
 * initialisation or a file (a wsseed .h5 checkpoint or a .pth with prompt_learner.ctx).
 * Shared by training (src/train/) and CAM inference, so neither depends on the other.
 */
#ifndef WS_METHOD_PROMPT_BUILD_H
#define WS_METHOD_PROMPT_BUILD_H
#include "io/config.h"
#include "io/settings.h"
#include "method/prompt.h"

/* The prompt.* keys of a training config (strings are WS_CFG_STR fields of its key table). */
typedef struct ws_prompt_cfg {
    int n_ctx;                            /* M learnable context tokens */
    int csc;                              /* class-specific ctx (seg) instead of one shared ctx (cls) */
    char cls_token_pos[WS_CFG_STR_MAX];   /* end | front */
    char bg_names[WS_CFG_STR_MAX];        /* clip_es | empty */
    int n_bg;                             /* number of bg prompts (25 VOC; COCO 23 words) */
    char init_seed[WS_CFG_STR_MAX];       /* torch seed = sha1(string) mod 2^32 */
    double init_std;                      /* ctx ~ N(0, std^2) */
    char init_file[WS_CFG_STR_MAX];       /* optional start ctx: wsseed .h5 checkpoint or .pth */
} ws_prompt_cfg;

/* Opens CLIP checkpoint `clip` and tokenizer `vocab` into *m and *bpe and builds the learner
 * *p for the class list of `data` (ws_data_class_list: the prompt names of voc, coco or a custom
 * list; G = n_fg + pc->n_bg prompts, layout from pc), ctx zero; *n_fg its class count. All three are owned by the caller (ws_clip_free, ws_bpe_free,
 * ws_prompt_free), also on failure, when they hold the parts built so far. Fails naming the key
 * (data.dataset, data.classes, prompt.*) of a bad setting or the file that does not load. */
int ws_prompt_open(const ws_prompt_cfg *pc, const char *clip, const char *vocab, const ws_data_cfg *data,
                   ws_clip *m, ws_bpe *bpe, ws_prompt *p, int *n_fg);
/* Sets p's ctx from `path`: a wsseed .h5 checkpoint (by its suffix) or a .pth state dict with
 * prompt_learner.ctx. Fails naming the file on a read error or a shape that does not fit p. */
int ws_prompt_load_ctx(ws_prompt *p, const char *path);
/* The start ctx of a run: pc->init_file when set (a failure names prompt.init_file), else the
 * official initialisation from pc->init_seed and pc->init_std. */
int ws_prompt_start_ctx(ws_prompt *p, const ws_prompt_cfg *pc);
#endif

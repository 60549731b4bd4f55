/* cliplabel.h - image-level labels from zero-shot CLIP (spec method-gdino-boxed-sam.md §4, the
 * [PROPOSED] design): a prompt ensemble per class (the L2-normalised text features of each
 * template averaged, then re-normalised), background words as negative classes, the whole image
 * through CLIP's own preprocessing (bicubic short side to the model resolution, centre crop),
 * p = softmax(100 cos) over fg + bg, and L = {c : p_c >= tau} U {argmax_fg p}.
 */
#ifndef WS_METHOD_CLIPLABEL_H
#define WS_METHOD_CLIPLABEL_H
#include <stdint.h>

#include "model/bpe.h"
#include "model/clip.h"

/* The templates of the ensemble ("{}" = the class name). */
extern const char *const WS_CLIPLABEL_TEMPLATES[4];

typedef struct ws_cliplabel {
    int n_fg, n_bg, dim;
    float *text;   /* (n_fg + n_bg, dim) normalised ensemble features */
} ws_cliplabel;

/* Text side: names = fg then bg class names, through every template. */
int ws_cliplabel_init(ws_cliplabel *cl, const ws_clip *m, const ws_bpe *b, const char *const *fg, int n_fg,
                      const char *const *bg, int n_bg);
/* Frees the text features; a zeroed struct is a no-op. */
void ws_cliplabel_free(ws_cliplabel *cl);
/* p (n_fg + n_bg) = softmax(100 cos) of an RGB image (h, w, 3). */
int ws_cliplabel_probs(const ws_cliplabel *cl, const ws_clip *m, const uint8_t *rgb, int h, int w, float *p);
/* The decision rule: labels[c] = 1 for fg classes with p_c >= tau, and for the fg argmax. Returns
 * the label count (>= 1). */
int ws_cliplabel_decide(const float *p, int n_fg, double tau, uint8_t *labels);

/* Multi-label classification quality over a dataset: counts of true/false positives/negatives. */
typedef struct ws_label_stats { long tp, fp, fn, images, exact; } ws_label_stats;
/* Adds one image's predicted and ground-truth label sets (n_fg flags each). */
void ws_label_stats_add(ws_label_stats *s, const uint8_t *pred, const uint8_t *gt, int n_fg);
/* precision, recall, F1 (NaN when undefined) */
void ws_label_stats_prf(const ws_label_stats *s, double *p, double *r, double *f1);
#endif

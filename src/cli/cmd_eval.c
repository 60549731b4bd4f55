/* cmd_eval.c - `wsseed eval`: argv -> ws_eval_settings -> ws_stage_eval / ws_stage_eval_labels
 * (stage/eval.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/eval.h"

static const char *help =
    "Usage: wsseed eval PRED_DIR --gt GT_DIR [--classes N | --class-file FILE] [--json FILE] [--md FILE]\n"
    "       wsseed eval --labels BOXES.h5 [--json FILE]\n\n"
    "Seed quality: a dataset-level confusion matrix of every PRED_DIR/<id>.png against\n"
    "GT_DIR/<id>.png (255 ignored), per-class IoU, precision and recall, mIoU over the classes\n"
    "present in the ground truth (AlchemyCat SegmentationMetric). N = 21 for VOC (the default,\n"
    "with VOC's class names). --class-file: a custom dataset's class file (data.class_file: one\n"
    "class per line, the k-th is value k, background 0 unlisted) gives N and the names.\n"
    "--labels: the image labels of a `wsseed boxes` store (zero-shot CLIP, or a detector's JSON)\n"
    "against the ground-truth labels: micro precision, recall, F1, exact label sets, per-class counts.";

int ws_cmd_eval(int argc, char **argv)
{
    /* 21 = VOC's background + 20 classes (the default dataset); --classes for another label set. */
    ws_eval_settings s = {.n_cls = 21};
    const char *labels = NULL;
    long nc = 0;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (!strcmp(o, "--gt") && i + 1 < argc) s.gt = argv[++i];
        else if (!strcmp(o, "--labels") && i + 1 < argc) labels = argv[++i];
        else if (!strcmp(o, "--json") && i + 1 < argc) s.json = argv[++i];
        else if (!strcmp(o, "--md") && i + 1 < argc) s.md = argv[++i];
        else if (!strcmp(o, "--classes") && i + 1 < argc) rc = ws_cli_long("eval", o, argv[++i], 2, 255, &nc);
        else if (!strcmp(o, "--class-file") && i + 1 < argc) s.class_file = argv[++i];
        else if (o[0] != '-' && !s.pred) s.pred = o;
        else { fprintf(stderr, "wsseed eval: unknown option '%s' (see wsseed eval --help)\n", o); return 2; }
    }
    if (rc) return rc;
    /* without either option the table is VOC's 21 classes */
    s.n_cls = nc ? (int)nc : s.class_file ? 0 : 21;
    /* --labels is a second mode (image labels of a box store), taken only without PRED_DIR so that one call
     * never silently does both. */
    if (labels && !s.pred) return ws_stage_eval_labels(labels, s.json, NULL) ? ws_cli_error() : 0;
    if (!s.pred || !s.gt) { fprintf(stderr, "wsseed eval: PRED_DIR and --gt (or --labels) are required\n"); return 2; }
    return ws_stage_eval(&s, NULL) ? ws_cli_error() : 0;
}

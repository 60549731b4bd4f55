/* cmd_merge.c - `wsseed merge`: argv -> ws_merge_settings -> ws_stage_merge (stage/merge.c).
 * Outside the pipeline on purpose: seed-002 post-processes the label maps of any CAM method, so
 * its inputs are plain folders and a mask store, not pipeline stages.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "core/status.h"
#include "stage/merge.h"

static const char *help =
    "Usage: wsseed merge LABEL_DIR --masks MASKS.h5 --out DIR [--method max_iou_imp2|max_iou_imp|max_iou]\n"
    "                    [--assign first|argmax] [--classes N]\n\n"
    "SAM-enhanced pseudo-labels (seed-002): every label map LABEL_DIR/<id>.png (any CAM method's\n"
    "labels, classes 1..N-1; N = 21 for VOC, the default) merged with the image's SAM masks.\n"
    "max_iou_imp2 + first is the released rule (mask > 50 % inside a class, or covering >= 85 % of\n"
    "it; CAM pixels kept where no unclaimed mask lies); --assign argmax gives each mask only to its\n"
    "largest-overlap class (the paper's description). Writes DIR/<id>.png (palette); existing\n"
    "outputs are skipped.";

int ws_cmd_merge(int argc, char **argv)
{
    /* The released defaults (main.py's --method, the first-claiming class), so a bare call reproduces
     * seed-002. */
    const char *method = "max_iou_imp2", *assign = "first";
    ws_merge_settings s = {.n_fg = 20};
    long nc = 21;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (!strcmp(o, "--masks") && i + 1 < argc) s.masks = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) s.out = argv[++i];
        else if (!strcmp(o, "--method") && i + 1 < argc) method = argv[++i];
        else if (!strcmp(o, "--assign") && i + 1 < argc) assign = argv[++i];
        else if (!strcmp(o, "--classes") && i + 1 < argc) rc = ws_cli_long("merge", o, argv[++i], 2, 255, &nc);
        else if (o[0] != '-' && !s.labels) s.labels = o;
        else { fprintf(stderr, "wsseed merge: unknown option '%s' (see wsseed merge --help)\n", o); return 2; }
    }
    if (rc) return rc;
    s.n_fg = (int)nc - 1;
    /* A bad rule name is a usage error (exit 2) with the accepted names, checked before any file is read. */
    if (ws_merge_rule(&s, method, assign)) {
        fprintf(stderr, "wsseed merge: %s (see wsseed merge --help)\n", ws_last_error());
        return 2;
    }
    if (!s.labels || !s.masks || !s.out) {
        fprintf(stderr, "wsseed merge: LABEL_DIR, --masks and --out are required; see --help for --method/--assign\n");
        return 2;
    }
    return ws_stage_merge(&s) ? ws_cli_error() : 0;
}

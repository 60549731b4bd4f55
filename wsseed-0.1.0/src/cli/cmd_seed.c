/* cmd_seed.c - `wsseed seed`: argv -> ws_seed_settings -> ws_stage_seed (stage/seed.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/seed.h"

static const char *help =
    "Usage: wsseed seed CAMS.h5 --masks MASKS.h5 --out DIR [--pow P]\n\n"
    "SAMS seeds (FMA-WSSS gather_norm_bg_argmax): each SAM mask takes the class with the\n"
    "highest min-max normalised mean CAM, or background with score (1 - max)^P (0.6 for\n"
    "coarse, 0.7 for fine seeds: --pow is the pipeline's seed.cls_pow / seed.seg_pow); masks are painted\n"
    "by level, then confidence. Writes DIR/<id>.png: 8-bit palette PNGs at image size, values\n"
    "0..C (PIL and mmsegmentation read them as class indices). Images already in DIR are skipped.";

int ws_cmd_seed(int argc, char **argv)
{
    /* 0.6: FMA-WSSS's background power for the coarse seeds (the fine seeds use 0.7, --pow 0.7). */
    ws_seed_settings s = {.pow = 0.6};
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (!strcmp(o, "--masks") && i + 1 < argc) s.masks = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) s.out = argv[++i];
        else if (!strcmp(o, "--pow") && i + 1 < argc) rc = ws_cli_double("seed", o, argv[++i], &s.pow);
        else if (o[0] != '-' && !s.cams) s.cams = o;
        else { fprintf(stderr, "wsseed seed: unknown option '%s' (see wsseed seed --help)\n", o); return 2; }
    }
    if (rc) return rc;
    if (!s.cams || !s.masks || !s.out) { fprintf(stderr, "wsseed seed: CAMS.h5, --masks and --out are required\n"); return 2; }
    return ws_stage_seed(&s) ? ws_cli_error() : 0;
}

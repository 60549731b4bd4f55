/* cmd_masks_export.c - `wsseed masks export`: argv -> ws_stage_masks_export (stage/export.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/export.h"

int ws_cmd_masks_export(int argc, char **argv)
{
    const char *store = NULL, *png = NULL, *coco = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("Usage: wsseed masks export STORE.h5 [--png DIR] [--coco FILE.json]\n\n"
                 "  --png DIR    DIR/<id>/<i>.png (mask x 255) + metadata.csv: segment-anything's amg.py\n"
                 "               layout, read by the SAM-enhanced pseudo-label (seed-002) code\n"
                 "  --coco FILE  COCO-style JSON with uncompressed RLE segmentations and the generator's\n"
                 "               fields (level, predicted_iou, stability_score, point_coords, crop_box)");
            return 0;
        }
        if (!strcmp(argv[i], "--png") && i + 1 < argc) png = argv[++i];
        else if (!strcmp(argv[i], "--coco") && i + 1 < argc) coco = argv[++i];
        else if (argv[i][0] != '-' && !store) store = argv[i];
        else { fprintf(stderr, "wsseed masks export: unknown option '%s'\n", argv[i]); return 2; }
    }
    /* At least one format: an export that writes nothing is a mistake on the command line, not a no-op. */
    if (!store || (!png && !coco)) { fprintf(stderr, "wsseed masks export: need STORE.h5 and --png DIR and/or --coco FILE\n"); return 2; }
    return ws_stage_masks_export(store, png, coco) ? ws_cli_error() : 0;
}

/* cmd_masks.c - `wsseed masks`: argv -> ws_masks_settings -> ws_stage_masks (stage/masks.c);
 * `wsseed masks export` is cmd_masks_export.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/masks.h"

static void usage(FILE *f, const ws_masks_settings *s)
{
    size_t nk;
    const ws_cfg_key *keys = ws_masks_keys(&nk);
    fputs("Usage: wsseed masks [CONFIG.yaml] [--set key=value]... [--device D] [--shard i/n] [--max-images N]\n"
          "       wsseed masks export STORE.h5 [--png DIR] [--coco FILE.json]   (see export --help)\n"
          "\n"
          "SAM masks of every image of a split (FMA-WSSS's level-aware generator; defaults are its VOC\n"
          "settings, l2_nmsf_s1_rsw3) into an HDF5 mask store. A run that is interrupted or stopped\n"
          "resumes where it stopped; --shard i/n processes every n-th image (i = 0..n-1) so several\n"
          "processes or machines can share a split (same output.store on a shared folder); the store\n"
          "is assembled when the last image is done. --max-images N stops after N new images.\n"
          "\nKeys (YAML sections, current value, meaning):\n", f);
    ws_cfg_print_help(keys, nk, s, f);
}

int ws_cmd_masks(int argc, char **argv)
{
    static const char *const value_opts[] = {"--shard", "--max-images", NULL};
    ws_masks_settings s;
    const char *config = NULL;
    size_t nk;
    const ws_cfg_key *keys = ws_masks_keys(&nk);
    /* "export" is a subcommand of masks (it reads what masks writes); checked before any option parsing so
     * its options are its own. */
    if (argc > 1 && !strcmp(argv[1], "export")) return ws_cmd_masks_export(argc - 1, argv + 1);
    ws_masks_defaults(&s);
    int rc = ws_cli_settings("masks", argc, argv, value_opts, keys, nk, &s, &config);
    if (rc) return rc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout, &s); return 0; }
        if (o == config || ws_cli_common_opt(argc, argv, &i)) continue;
        if (!strcmp(o, "--shard") && i + 1 < argc) rc = ws_cli_shard("masks", argv[++i], &s.shard_i, &s.shard_n);
        else if (!strcmp(o, "--max-images") && i + 1 < argc) rc = ws_cli_long("masks", o, argv[++i], 0, 1L << 40, &s.max_images);
        else {
            fprintf(stderr, "wsseed masks: unknown option '%s' (see wsseed masks --help)\n", o);
            return 2;
        }
        if (rc) return rc;
    }
    return ws_stage_masks(&s) ? ws_cli_error() : 0;
}

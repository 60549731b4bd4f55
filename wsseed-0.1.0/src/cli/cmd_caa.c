/* cmd_caa.c - `wsseed caa`: argv -> ws_caa_settings -> ws_stage_caa (stage/caa.c).
 * No config file: CAA has four numbers, all given as options over FMA-WSSS's per-task defaults,
 * spelled like the pipeline's caa.<task>.* keys so a value can be copied between the two.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "stage/caa.h"

static const char *help =
    "Usage: wsseed caa CAMS.h5 [--task cls|seg] [--out OUT.h5] [--box_thresh T] [--power K]\n"
    "                 [--sinkhorn N] [--at_cam true|false]\n\n"
    "Class-aware attention affinity refinement of a CAM store (FMA-WSSS CAA). --task picks the\n"
    "official settings: cls = 1 Sinkhorn iteration, power 2, box threshold 0.4, propagate the\n"
    "score; seg = the same with threshold 0.5, propagating the raw CAM. The options override\n"
    "them and are spelled as the pipeline's keys caa.<cls|seg>.{sinkhorn,power,box_thresh,at_cam}\n"
    "(--box-thresh and --at score|cam are accepted too). Output (default CAMS_caa.h5): a CAM store\n"
    "of refined CAMs; resumable.";

int ws_cmd_caa(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *task = "cls", *at = NULL;
    /* -1 = not given: only the options given override the task's official values. */
    double thresh = -1;
    long power = -1, sink = -1;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { puts(help); return 0; }
        if (!strcmp(o, "--task") && i + 1 < argc) task = argv[++i];
        else if (!strcmp(o, "--out") && i + 1 < argc) out = argv[++i];
        /* The dashed spellings (--box-thresh, --at) are the older ones, kept so existing scripts still run. */
        else if ((!strcmp(o, "--box_thresh") || !strcmp(o, "--box-thresh")) && i + 1 < argc)
            rc = ws_cli_double("caa", o, argv[++i], &thresh);
        else if (!strcmp(o, "--power") && i + 1 < argc) rc = ws_cli_long("caa", o, argv[++i], 1, 64, &power);
        else if (!strcmp(o, "--sinkhorn") && i + 1 < argc) rc = ws_cli_long("caa", o, argv[++i], 0, 1000, &sink);
        else if (!strcmp(o, "--at") && i + 1 < argc) at = argv[++i];
        else if (!strcmp(o, "--at_cam") && i + 1 < argc) {
            const char *v = argv[++i];
            /* "?" is caught by the check below, which names the accepted values. */
            at = !strcmp(v, "true") ? "cam" : !strcmp(v, "false") ? "score" : "?";
        }
        else if (o[0] != '-' && !in) in = o;
        else { fprintf(stderr, "wsseed caa: unknown option '%s' (see wsseed caa --help)\n", o); return 2; }
    }
    if (rc) return rc;
    if (!in || (strcmp(task, "cls") && strcmp(task, "seg")) || (at && strcmp(at, "score") && strcmp(at, "cam"))) {
        fprintf(stderr, "wsseed caa: need CAMS.h5; --task cls|seg; --at_cam true|false (or --at score|cam)\n");
        return 2;
    }
    ws_caa_settings s = {.in = in};
    ws_caa_cfg_fma(&s.caa, !strcmp(task, "seg"));
    if (thresh >= 0) s.caa.box_thresh = thresh;
    if (power >= 1) s.caa.power = (int)power;
    if (sink >= 0) s.caa.sinkhorn_iters = (int)sink;
    if (at) s.caa.at_cam = !strcmp(at, "cam");
    char def[4096];
    if (!out) {
        size_t n = strlen(in);
        /* Default output beside the input (cams.h5 -> cams_caa.h5): never the input itself, which CAA still
         * reads. */
        snprintf(def, sizeof def, "%.*s_caa.h5", (int)(n > 3 && !strcmp(in + n - 3, ".h5") ? n - 3 : n), in);
        out = def;
    }
    s.out = out;
    return ws_stage_caa(&s) ? ws_cli_error() : 0;
}

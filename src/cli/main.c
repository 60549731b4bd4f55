/* main.c - the wsseed command: global options and subcommand dispatch.
 *
 * Owns the usage text, the options before the command (--threads, --device, --help, --version) and the
 * exit status convention: 0 success, 1 a failure reported by the library (ws_cli_error prints its
 * message), 2 a usage error. Only src/cli decides the exit status (ARCHITECTURE.md).
 */
#define _DEFAULT_SOURCE   /* readlink */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "verify/verify.h"
#include "config.h"
#include "stage/launch.h"
#include "stage/runtime.h"

/* Commands in the order a newcomer meets them: the pipeline and demo first, then the single stages in
 * pipeline order, then the tools. */
static const char *usage =
    "wsseed " PACKAGE_VERSION " - pixel-level segmentation seeds from image-level labels with frozen\n"
    "CLIP and SAM (FMA-WSSS, SAM-enhanced pseudo-labels, boxed SAM + CLIP).\n"
    "\n"
    "Usage: wsseed [--threads N] [--device D] COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  pipeline   the whole run from one YAML: masks, both trainings, CAMs, CAA, seeds, eval,\n"
    "             report.html; cached and resumable (wsseed pipeline --help)\n"
    "  sweep      pipeline runs over a grid or list of overrides + summary (wsseed sweep --help)\n"
    "  demo       encode an image and the VOC class prompts with CLIP and print the\n"
    "             zero-shot similarity table (wsseed demo --help)\n"
    "  masks      SAM masks of a dataset split into a resumable HDF5 mask store\n"
    "             (FMA-WSSS level-aware generator; wsseed masks --help)\n"
    "  train      train the FMA-WSSS classification or segmentation prompts on frozen CLIP\n"
    "             (YAML config, HDF5 checkpoints, exact resume; wsseed train --help)\n"
    "  export-ctx a training checkpoint's prompt context as a PyTorch state dict\n"
    "  cam        CAM inference of a split with trained prompts into an HDF5 CAM store\n"
    "  caa        class-aware attention affinity refinement of a CAM store\n"
    "  seed       SAMS seeds (PNG) from a CAM store and the SAM mask store\n"
    "  merge      SAM-enhanced pseudo-labels: any label-map folder + the mask store\n"
    "  eval       mIoU of a folder of label maps against ground truth; image-label P/R/F1\n"
    "  boxes      boxed-SAM mode: CLIP image labels + Grounding-DINO boxes (or a detector's\n"
    "             COCO JSON) into a resumable HDF5 box store (wsseed boxes --help)\n"
    "  boxseed    boxed-SAM seeds (PNG): SAM prompted with every box of the box store\n"
    "  export     export mmseg: a run's seeds as an mmsegmentation 1.x dataset + DeepLabV3+\n"
    "             config, the hand-off to stage II (wsseed export mmseg --help)\n"
    "  synth      write a synthetic dataset in the VOC layout (tests, demo)\n"
    "  tokenize   CLIP BPE tokenizer: each input line -> one line of 77 token ids\n"
    "  dump       run one module on the inputs of a golden-style HDF5 file and write its\n"
    "             outputs under the same names (verification interface; wsseed dump --help)\n"
    "  launch     N local ranks of a command, as torchrun does (wsseed launch --help)\n"
    "  doctor     what the installation has (versions, threads, SIMD, memory, disk) and, given\n"
    "             a config, a check of every file it names (wsseed doctor --help)\n"
    "  version    version and build information\n"
    "  help       this text\n"
    "\n"
    "Global options:\n"
    "  --threads N  libtorch intra-op threads (default 1; OpenBLAS threads the matrix\n"
    "               products over all cores, OPENBLAS_NUM_THREADS changes that). Also accepted\n"
    "               after the command; it overrides the config's runtime.threads\n"
    "  --device D   cpu, cuda or cuda:N: where the models compute (default cpu; needs a\n"
    "               libtorch with CUDA, see README \"GPUs\"). $WSSEED_DEVICE sets the same.\n"
    "               Also accepted after the command; it overrides the config's runtime.device\n"
    "  --version    the version\n"
    "  -h, --help   this text; every command takes -h/--help too\n"
    "\n"
    "Long options are also accepted as --option=value. Results go to stdout, messages and errors\n"
    "to stderr. Exit status: 0 success, 1 failure (the message says why), 2 usage error.\n"
    "\n"
    "Checkpoints are read as released: OpenAI CLIP ViT-B-16.pt (TorchScript) or a torch.save\n"
    "state dict; the BPE vocabulary is openai/CLIP's bpe_simple_vocab_16e6.txt.gz.\n";

static int run(int argc, char **argv);
static int dispatch(const char *cmd, int argc, char **argv);

/* This binary, for `wsseed launch masks ...` (the ranks run the same build). */
static const char *self_path(void)
{
    static char p[4096];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
    if (n <= 0) return "wsseed";
    p[n] = '\0';
    return p;
}

/* Commands that run as ranks of a group (the rest run alone in every process they are started in);
 * --help never needs the group. */
static int is_ranked(const char *cmd, int argc, char **argv)
{
    static const char *const cmds[] = {"masks", "cam", "caa", "seed", "merge", "boxes", "boxseed",
                                       "train", "pipeline", "sweep", NULL};
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) return 0;
    for (int k = 0; cmds[k]; k++)
        if (!strcmp(cmd, cmds[k])) return 1;
    return 0;
}


/* The global options, then the command. */
static int run(int argc, char **argv)
{
    int i = 1;
    ws_stage_runtime_init();   /* one libtorch thread: OpenBLAS threads the products (README) */
    /* The environment's device is a default below --device (tools/gpu-check.sh runs the golden tests on a GPU
     * through it without changing them). */
    const char *env_dev = getenv("WSSEED_DEVICE");
    if (env_dev && *env_dev) {
        if (ws_stage_set_device(env_dev)) return ws_cli_error();
        ws_cli_set_global_device(env_dev);
    }
    /* Global options end at the first word that is not an option: everything after the command is the
     * command's own. */
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--version")) { printf("wsseed %s\n", PACKAGE_VERSION); return 0; }
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            /* the commands with a config apply it as runtime.threads (it overrides the file) */
            long n;
            if (ws_cli_long("", "--threads", argv[i + 1], 1, WS_MAX_THREADS, &n)) return 2;
            /* Set now for commands without a config (demo, tokenize, dump) and remembered for those with one,
             * where the config's runtime.threads would otherwise win (ws_cli_settings). */
            if (ws_stage_set_threads((int)n)) return ws_cli_error();
            ws_cli_set_global_threads((int)n);
            i += 2;
            continue;
        }
        if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            /* set now for dump and demo, remembered for the commands with a config (like --threads) */
            if (ws_stage_set_device(argv[i + 1])) return ws_cli_error();
            ws_cli_set_global_device(argv[i + 1]);
            i += 2;
            continue;
        }
        fprintf(stderr, "wsseed: error: unknown option '%s' (see wsseed --help)\n", argv[i]);
        return 2;
    }
    /* No command is a usage error: the usage goes to stderr and the status is 2, so a script that forgot the
     * command fails. */
    if (i >= argc) { fputs(usage, stderr); return 2; }
    const char *cmd = argv[i];
    if (!strcmp(cmd, "-h")) { fputs(usage, stdout); return 0; }
    if (!strcmp(cmd, "help")) {
        /* `wsseed help CMD` is `wsseed CMD --help` */
        if (i + 1 >= argc || !strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h")) { fputs(usage, stdout); return 0; }
        if (argv[i + 1][0] == '-' || i + 2 < argc) {
            fprintf(stderr, "wsseed help: give one command, e.g. wsseed help pipeline (see wsseed --help)\n");
            return 2;
        }
        char *sub[3] = {argv[0], argv[i + 1], "--help"};
        return run(3, sub);
    }
    if (!strcmp(cmd, "version")) {
        if (i + 1 < argc && (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h"))) {
            puts("Usage: wsseed version\n\nThe version, libtorch's version and threads, and the configure options\n"
                 "(wsseed doctor reports every library and the machine).");
            return 0;
        }
        if (i + 1 < argc) { fprintf(stderr, "wsseed version: unexpected argument '%s'\n", argv[i + 1]); return 2; }
        ws_stage_print_version(stdout);
        return 0;
    }
    if (!strcmp(cmd, "launch")) return ws_cmd_launch(argc - i, argv + i, self_path());
    /* The commands that split their work join their ranks first (alone: nothing happens). */
    int ranked = is_ranked(cmd, argc - i, argv + i);
    if (ranked && ws_stage_ranks_begin()) return ws_cli_error();
    int st = dispatch(cmd, argc - i, argv + i);
    if (ranked) ws_stage_ranks_end();
    return st;
}

static int dispatch(const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "tokenize")) return ws_cmd_tokenize(argc, argv);
    /* dump is the verification harness (src/verify, its own library): reached through the one binary so tests
     * and users run what ships. */
    if (!strcmp(cmd, "dump")) return ws_verify_main(argc, argv);
    if (!strcmp(cmd, "demo")) return ws_cmd_demo(argc, argv);
    if (!strcmp(cmd, "masks")) return ws_cmd_masks(argc, argv);
    if (!strcmp(cmd, "train")) return ws_cmd_train(argc, argv);
    if (!strcmp(cmd, "synth")) return ws_cmd_synth(argc, argv);
    if (!strcmp(cmd, "pipeline")) return ws_cmd_pipeline(argc, argv);
    if (!strcmp(cmd, "sweep")) return ws_cmd_sweep(argc, argv);
    if (!strcmp(cmd, "cam")) return ws_cmd_cam(argc, argv);
    if (!strcmp(cmd, "caa")) return ws_cmd_caa(argc, argv);
    if (!strcmp(cmd, "seed")) return ws_cmd_seed(argc, argv);
    if (!strcmp(cmd, "merge")) return ws_cmd_merge(argc, argv);
    if (!strcmp(cmd, "boxes")) return ws_cmd_boxes(argc, argv);
    if (!strcmp(cmd, "boxseed")) return ws_cmd_boxseed(argc, argv);
    if (!strcmp(cmd, "eval")) return ws_cmd_eval(argc, argv);
    if (!strcmp(cmd, "export-ctx")) return ws_cmd_export_ctx(argc, argv);
    if (!strcmp(cmd, "export")) return ws_cmd_export(argc, argv);
    if (!strcmp(cmd, "doctor")) return ws_cmd_doctor(argc, argv);
    fprintf(stderr, "wsseed: error: unknown command '%s' (see wsseed --help)\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    int n = 0;
    /* --opt=value becomes --opt value here, once, so no command parser needs to know both spellings. */
    char **v = ws_cli_split_eq(argc, argv, &n);
    if (!v) { fputs("wsseed: error: out of memory\n", stderr); return 1; }
    int rc = run(n, v);
    free(v);
    return rc;
}

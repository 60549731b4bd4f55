/* dump.c - `wsseed dump MODULE`: the module table, the help text and the option parsing of the
 * verification harness.
 *
 * Contract: read the input datasets and settings of a golden-style HDF5 file, run the module,
 * write every output the golden file holds under the same dataset names, shapes and dtypes, so
 * that one generic comparer can diff any golden file against wsseed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "verify/verify.h"

static const char *HELP =
    "Usage: wsseed dump MODULE [--model CKPT] [--vocab BPE.txt.gz] --input IN.h5 --output OUT.h5\n"
    "\n"
    "Runs one module on the input datasets of IN.h5 (a golden reference file or one laid out\n"
    "like it) and writes every output that such a file holds to OUT.h5, under the same dataset\n"
    "names, shapes and dtypes. OUT.h5 appears only when complete (temp file + rename).\n"
    "\n"
    "Modules:\n"
    "  clip   --model CLIP.pt|.pth [--vocab BPE]\n"
    "         inputs:  /image/input, /image_interp/input, /tokenizer/strings, /text/tokens,\n"
    "                  /coop/token_ids, /coop/R, /coop/{shared,class_specific}/ctx\n"
    "         outputs: /model/*, /checkpoint/<file>/* (tensor manifest of CKPT), /image/*,\n"
    "                  /image_interp/*, /tokenizer/* (needs --vocab), /text/*, /coop/*\n"
    "         (each group only when its inputs are present)\n"
    "  sam    --model sam_vit_*.pth\n"
    "         inputs:  /preprocess/image_uint8, /prompts/*, /predictor/{point,box}/* prompts,\n"
    "                  /config/decoder_transformer_num_heads (optional; default 8)\n"
    "         outputs: /checkpoint/<file>/*, /preprocess/*, /image_encoder/*, /prompt_encoder/*,\n"
    "                  /decoder/<case>/*, /predictor/*\n"
    "  amg    --model sam_vit_*.pth\n"
    "         inputs:  /preprocess/image_uint8 or /input/image_rgb; the attributes of each\n"
    "                  /amg/<run> group are its generator settings; /input/rsw/<case> masks\n"
    "                  at /rsw/<case>@rock_sand_water_thresh\n"
    "         outputs: /amg/<run>/* (records, crops, grids, prefilter, stage_*), /rsw/<case>/kept_index\n"
    "  step   --model CLIP.pt|.pth [--vocab BPE]  (FMA-WSSS prompt-training steps)\n"
    "         inputs:  /inputs/{images,cls_lb,seg_label}, /inputs/infer_{image,cls_lb,ctx},\n"
    "                  /config/{cls,seg}_{classnames,seed_string} and the /config attributes\n"
    "                  (n_fg, n_ctx, {cls,seg}_ctx_std, SGD and LR-schedule settings)\n"
    "         outputs: /cls/*, /seg/* (prompts, ctx init, forward, losses, d loss/d ctx, SGD\n"
    "                  steps), /diag/{cls,seg}/*, /lr_schedule/*, /infer/*\n"
    "  gdino  --vocab BERT_vocab.txt [--model gdino.pth] [--bert-config config.json]\n"
    "         inputs:  /tokenizer/strings, /input/{captions,case_names,image_rgb,wide_proposals},\n"
    "                  /config@transform_short_side, /config@transform_max_size,\n"
    "                  the box/text_threshold attributes of each /case/<name>/predict/<setting>\n"
    "         outputs: /tokenizer/*, /checkpoint/<file>/* (with --model), /preprocess/*, /image/*\n"
    "                  (transform, Swin, input projections, positions), /case/<name>/{text,encoder,\n"
    "                  decoder,predict}/* (BERT, fusion encoder, two-stage selection, decoder,\n"
    "                  predict()); without --model only the tokenizer and caption masks\n"
    "  boxsam --model sam_vit_*.pth  (boxed-SAM seeds from detector outputs)\n"
    "         inputs:  /input/{image_rgb,class_ids}, /class_<k>/{pred_logits,pred_boxes},\n"
    "                  /config@{box_threshold,decoder_transformer_num_heads (optional; default 8),\n"
    "                  mask_threshold, multimask_output (optional; 0 and 0 implemented)}\n"
    "         outputs: /class_<k>/{query_index,scores,boxes_*,masks,iou_predictions,low_res_logits},\n"
    "                  /label_map, /sam/image_embedding\n"
    "  caa    (no model) inputs /input/caa/<case>/{att,cam}; outputs /caa/<case>/{score,aff,\n"
    "         aff_pow,<task>/*}, one <task> per /caa/<case>/<task> group of the input, at its\n"
    "         attributes aff_at, box_thresh, sinkhorn_n_iter, matrix_power\n"
    "  sams   (no model) inputs /input/sams/<case>/{cam,fg_cls,image_hw,rle_*,level}; outputs\n"
    "         /sams/<case>/{cam_upsampled,mask_mean_relu_cam,pow_<p>/*} (one per /sams/<case>/pow_*\n"
    "         group of the input, at its bg_pow attribute)\n"
    "  merge  (no model) inputs /input/merge/{label,rle_*}; outputs /merge/{merged,claimed_by}\n"
    "  eval   (no model) inputs /input/eval/pairs/<i>/{pred,gt}, /eval@{class_num,ignore_label};\n"
    "         outputs /eval/*\n"
    "  image-ops (no model)\n"
    "         inputs:  /input/image_rgb, /input/label, /input/chart_bgr,\n"
    "                  /input/color_jitter/<case>/*, /input/small_regions/<case>/mask,\n"
    "                  /input/boxes/<case>/score; settings: the attributes of each /resize/<case>\n"
    "                  and /small_regions/<case> group, the thresh_<t> groups of /boxes/<case>\n"
    "         outputs: /sam_resize/* (ResizeLongestSide, PIL bilinear), /small_regions/<case>/*,\n"
    "                  /resize/<case>/* (PIL bicubic/nearest), /color_jitter/<case>/output_bgr,\n"
    "                  /jitter_draw/<case>/* (composed cases: our draw from numpy_seed),\n"
    "                  /boxes/<case>/* (CAA box extraction)\n"
    "\n"
    "--model is required by modules that run a checkpoint, --vocab by those that tokenize;\n"
    "an unknown option is an error.\n";

/* One row per module: its name, its function and whether it runs a checkpoint (--model). */
typedef struct verify_module {
    const char *name;
    int (*run)(const ws_verify_args *a);
    int needs_model;
} verify_module;

static const verify_module MODULES[] = {
    {"clip", ws_verify_clip, 1},   {"sam", ws_verify_sam, 1},         {"amg", ws_verify_amg, 1},
    {"step", ws_verify_step, 1},   {"gdino", ws_verify_gdino, 0},     {"boxsam", ws_verify_boxsam, 1},
    {"caa", ws_verify_caa, 0},     {"sams", ws_verify_sams, 0},       {"merge", ws_verify_merge, 0},
    {"eval", ws_verify_eval, 0},   {"image-ops", ws_verify_imageops, 0},
};

/* The harness's own default BPE vocabulary (the same rule as `wsseed tokenize`): $WSSEED_BPE,
 * else the file the quickstart downloads. */
static const char *default_vocab(void)
{
    const char *e = getenv("WSSEED_BPE");
    return e && *e ? e : "checkpoints/bpe_simple_vocab_16e6.txt.gz";
}

/* Fills a and *module from argv; returns -1 to go on, else the exit status (help: 0, usage: 2). */
static int parse_args(int argc, char **argv, ws_verify_args *a, const char **module)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { fputs(HELP, stdout); return 0; }
        if (o[0] != '-' && !*module) { *module = o; continue; }
        const char **dst = !strcmp(o, "--model") ? &a->model : !strcmp(o, "--vocab") ? &a->vocab
                         : !strcmp(o, "--input") ? &a->input : !strcmp(o, "--output") ? &a->output
                         : !strcmp(o, "--bert-config") ? &a->bert_config : NULL;
        if (!dst) { fprintf(stderr, "wsseed dump: unknown option '%s' (see wsseed dump --help)\n", o); return 2; }
        if (i + 1 >= argc) { fprintf(stderr, "wsseed dump: %s needs a value\n", o); return 2; }
        *dst = argv[++i];
    }
    if (!*module) { fputs(HELP, stderr); return 2; }
    if (!a->input || !a->output) { fprintf(stderr, "wsseed dump: --input and --output are required\n"); return 2; }
    return -1;
}

int ws_verify_main(int argc, char **argv)
{
    ws_verify_args a = {0};
    const char *module = NULL;
    int st = parse_args(argc, argv, &a, &module);
    if (st >= 0) return st;
    for (size_t i = 0; i < sizeof MODULES / sizeof MODULES[0]; i++) {
        const verify_module *m = &MODULES[i];
        if (strcmp(module, m->name)) continue;
        if (m->needs_model && !a.model) {
            fprintf(stderr, "wsseed dump %s: --model CKPT is required\n", m->name);
            return 2;
        }
        /* gdino and boxsam read a BERT vocabulary, and only when given: no BPE default there */
        if (!a.vocab && (!strcmp(m->name, "clip") || !strcmp(m->name, "step"))) a.vocab = default_vocab();
        if (!m->run(&a)) return 0;
        fprintf(stderr, "wsseed: error: %s\n", ws_last_error());
        return 1;
    }
    fprintf(stderr, "wsseed dump: unknown module '%s' (see wsseed dump --help)\n", module);
    return 2;
}

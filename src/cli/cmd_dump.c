/* cmd_dump.c - `wsseed dump MODULE`: the verification interface shared by every module.
 *
 * Contract: read the input datasets of a golden-style HDF5 file, run the module, write every
 * output the golden file holds under the same dataset names, shapes and dtypes, so that one
 * generic comparer can diff any golden file against wsseed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/status.h"

static const char *help =
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
    "         outputs: /amg/<run>/* (records, crops, grids, prefilter, stage_*), /rsw/<case>/kept_index\n"
    "  step   --model CLIP.pt|.pth [--vocab BPE]  (FMA-WSSS prompt-training steps, VOC names)\n"
    "         inputs:  /inputs/{images,cls_lb,seg_label}, /inputs/infer_{image,cls_lb,ctx}\n"
    "         outputs: /cls/*, /seg/* (prompts, ctx init, forward, losses, d loss/d ctx, SGD\n"
    "                  steps), /diag/{cls,seg}/*, /lr_schedule/*, /infer/*\n"
    "  gdino  --vocab BERT_vocab.txt [--model gdino.pth] [--bert-config config.json]\n"
    "         (so far: the WordPiece tokenizer, caption masks, BERT and feat_map; no Swin/decoder yet)\n"
    "         inputs:  /tokenizer/strings, /input/{captions,case_names}\n"
    "         outputs: /tokenizer/*, /case/<name>/text/*\n"
    "  boxsam --model sam_vit_*.pth  (boxed-SAM seeds from detector outputs)\n"
    "         inputs:  /input/{image_rgb,class_ids}, /class_<k>/{pred_logits,pred_boxes}, /config@box_threshold\n"
    "         outputs: /class_<k>/{query_index,scores,boxes_*,masks,iou_predictions,low_res_logits},\n"
    "                  /label_map, /sam/image_embedding\n"
    "  caa    (no model) inputs /input/caa/<case>/{att,cam}; outputs /caa/<case>/{score,aff,\n"
    "         aff_pow,cls/*,seg/*} (official cls and seg CAA settings)\n"
    "  sams   (no model) inputs /input/sams/<case>/{cam,fg_cls,image_hw,rle_*,level}; outputs\n"
    "         /sams/<case>/{cam_upsampled,mask_mean_relu_cam,pow_<p>/*}\n"
    "  merge  (no model) inputs /input/merge/{label,rle_*}; outputs /merge/{merged,claimed_by}\n"
    "  eval   (no model) inputs /input/eval/pairs/<i>/{pred,gt}; outputs /eval/* (21 classes)\n"
    "  image-ops (no model)\n"
    "         inputs:  /input/image_rgb, /input/label, /input/chart_bgr,\n"
    "                  /input/color_jitter/<case>/*, /input/small_regions/<case>/mask\n"
    "         outputs: /sam_resize/* (ResizeLongestSide, PIL bilinear), /small_regions/<case>/*,\n"
    "                  /resize/<case>/* (PIL bicubic/nearest), /color_jitter/<case>/output_bgr,\n"
    "                  /jitter_draw/<case>/* (composed cases: our draw from numpy_seed),\n"
    "                  /boxes/<case>/* (CAA box extraction)\n"
    "\n"
    "--model is required by modules that run a checkpoint, --vocab by those that tokenize;\n"
    "an unknown option is an error.\n";

int ws_cmd_dump(int argc, char **argv)
{
    ws_dump_args a = {0};
    const char *module = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { fputs(help, stdout); return 0; }
        if (o[0] != '-' && !module) { module = o; continue; }
        const char **dst = !strcmp(o, "--model") ? &a.model : !strcmp(o, "--vocab") ? &a.vocab
                         : !strcmp(o, "--input") ? &a.input : !strcmp(o, "--output") ? &a.output
                         : !strcmp(o, "--bert-config") ? &a.bert_config : NULL;
        if (!dst) { fprintf(stderr, "wsseed dump: unknown option '%s' (see wsseed dump --help)\n", o); return 2; }
        if (i + 1 >= argc) { fprintf(stderr, "wsseed dump: %s needs a value\n", o); return 2; }
        *dst = argv[++i];
    }
    if (!module) { fputs(help, stderr); return 2; }
    if (!a.input || !a.output) { fprintf(stderr, "wsseed dump: --input and --output are required\n"); return 2; }
    if (!strcmp(module, "clip")) {
        if (!a.model) { fprintf(stderr, "wsseed dump clip: --model CKPT is required\n"); return 2; }
        return ws_dump_clip(&a) ? ws_cli_error() : 0;
    }
    if (!strcmp(module, "sam")) {
        if (!a.model) { fprintf(stderr, "wsseed dump sam: --model SAM.pth is required\n"); return 2; }
        return ws_dump_sam(&a) ? ws_cli_error() : 0;
    }
    if (!strcmp(module, "amg")) {
        if (!a.model) { fprintf(stderr, "wsseed dump amg: --model SAM.pth is required\n"); return 2; }
        return ws_dump_amg(&a) ? ws_cli_error() : 0;
    }
    if (!strcmp(module, "step")) {
        if (!a.model) { fprintf(stderr, "wsseed dump step: --model CLIP.pt is required\n"); return 2; }
        return ws_dump_step(&a) ? ws_cli_error() : 0;
    }
    if (!strcmp(module, "gdino")) return ws_dump_gdino(&a) ? ws_cli_error() : 0;
    if (!strcmp(module, "boxsam")) {
        if (!a.model) { fprintf(stderr, "wsseed dump boxsam: --model SAM.pth is required\n"); return 2; }
        return ws_dump_boxsam(&a) ? ws_cli_error() : 0;
    }
    if (!strcmp(module, "caa")) return ws_dump_caa(&a) ? ws_cli_error() : 0;
    if (!strcmp(module, "sams")) return ws_dump_sams(&a) ? ws_cli_error() : 0;
    if (!strcmp(module, "merge")) return ws_dump_merge(&a) ? ws_cli_error() : 0;
    if (!strcmp(module, "eval")) return ws_dump_eval(&a) ? ws_cli_error() : 0;
    if (!strcmp(module, "image-ops")) return ws_dump_imageops(&a) ? ws_cli_error() : 0;
    fprintf(stderr, "wsseed dump: unknown module '%s' (see wsseed dump --help)\n", module);
    return 2;
}

int ws_cli_put(ws_h5file *f, const char *name, ws_at_tensor t)
{
    int64_t shape[WS_AT_MAX_DIMS];
    int nd = 0, dt = 0;
    if (!t) return ws_fail(WS_EINVAL, "no tensor for %s", name);
    if (ws_at_shape(t, shape, WS_AT_MAX_DIMS, &nd) || ws_at_dtype_of(t, &dt))
        return ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error());
    ws_array a;
    int rc = ws_array_alloc(&a, dt == WS_AT_BOOL ? WS_U8 : dt, nd, shape);
    if (rc) return rc;
    size_t bytes = (size_t)ws_array_numel(&a) * ws_dtype_size(a.dtype);
    if (ws_at_read(t, a.data, bytes)) rc = ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error());
    else rc = ws_h5_write(f, name, &a);
    ws_array_free(&a);
    return rc;
}

int ws_cli_get(const ws_h5file *f, const char *name, int dtype, ws_at_tensor *out)
{
    ws_array a;
    int rc = ws_h5_read(f, name, dtype, &a);
    if (rc) return rc;
    if (ws_at_from_data(a.data, dtype, a.ndim, a.shape, out))
        rc = ws_fail(WS_ETORCH, "%s: %s", name, ws_at_last_error());
    ws_array_free(&a);
    return rc;
}

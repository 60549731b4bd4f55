#!/bin/sh
# test_verify_inputs.sh - `wsseed dump` follows its input file: every module runs on a MODIFIED
# copy of a shared golden file (made by tests/h5edit: other case names, other settings, another
# point count) and its outputs appear under the new names and change the way the setting
# implies. Where no reference exists for a new setting, a property the old compiled-in code
# breaks is checked: renamed cases equal the original case's outputs when the settings are the
# same, differ when a setting changed, shapes follow the new sizes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
E="$top_builddir/tests/h5edit"
CMP="$top_builddir/tests/h5cmp"
# shape FILE DATASET: the "{a, b, c}" h5ls prints for it
shape() { h5ls "$1$2" 2>/dev/null | sed 's/.*Dataset //'; }
# vals FILE DATASET: its values one per line
vals() { h5dump -y -w 0 -d "$2" "$1" 2>/dev/null | sed -n '/DATA {/,/^   }/p' | sed '1d;$d' | tr -s ', ' '\n\n' | grep .; }
is() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'"; return 1; }; }
# fails REF OUT DATASET H5CMP-OPTION...: h5cmp reports DATASET as different
fails() { r=$1; o=$2; d=$3; shift 3; "$CMP" "$r" "$o" "$@" 2>&1 | grep -qE "^not ok.* - $d( |:)"; }
# passes REF OUT DATASET H5CMP-OPTION...: h5cmp reports DATASET as equal
passes() { r=$1; o=$2; d=$3; shift 3; "$CMP" "$r" "$o" "$@" 2>&1 | grep -q "^ok.* - $d "; }

# ---- clip: a /coop variant under another name is run under that name -------------------------
ref="$GOLDEN/clip_tiny_ref.h5"
"$E" "$ref" "$TMPD/clip_in.h5" mv /coop/shared /coop/shared_renamed rm /image_interp rm /tokenizer
tap_ok "clip: dump on a copy with /coop/shared renamed" "$WSSEED" dump clip --model "$GOLDEN/clip_tiny.pt" \
    --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" --input "$TMPD/clip_in.h5" --output "$TMPD/clip.h5"
tap_run "$CMP" "$ref" "$TMPD/clip.h5" --group /coop/shared:/coop/shared_renamed --skip '*/ctx'
tap_ok "clip: no output under the old variant name" sh -c "! h5ls '$TMPD/clip.h5/coop/shared' >/dev/null 2>&1"

# ---- sam: three point prompts instead of two --------------------------------------------------
ref="$GOLDEN/sam_tiny_ref.h5"
"$E" "$ref" "$TMPD/sam_in.h5" rows /prompts/points_model 3 set /prompts/points_model 4 40 set /prompts/points_model 5 20 \
    rows /prompts/labels 3 set /prompts/labels 2 0 rm /amg
tap_ok "sam: dump with 3 points" "$WSSEED" dump sam --model "$GOLDEN/sam_tiny.pth" --input "$TMPD/sam_in.h5" --output "$TMPD/sam.h5"
tap_ok "sam: 3 points + 1 padding point = 4 sparse tokens" is "$(shape "$TMPD/sam.h5" /prompt_encoder/points/sparse)" "{1, 4, 32}"
tap_ok "sam: box + 3 points = 5 sparse tokens" is "$(shape "$TMPD/sam.h5" /prompt_encoder/box_points/sparse)" "{1, 5, 32}"
tap_ok "sam: the point case's logits change with the third point" fails "$ref" "$TMPD/sam.h5" \
    /decoder/points/multimask_1/low_res_logits --group /decoder/points/multimask_1 --tol '*=scaled:1e-4'
tap_run "$CMP" "$ref" "$TMPD/sam.h5" --group /decoder/box --skip '*masks_binary' --skip '*masks_logits' \
    --tol '*low_res_logits=scaled:1e-4'

# ---- amg: a run's settings are read, a malformed one is refused by name ----------------------
ref="$GOLDEN/sam_tiny_ref.h5"
"$E" "$ref" "$TMPD/amg_bad.h5" rm /amg/crop1 rm /amg/default_thresh vattr /amg/crop0 score_thresh_offset 0.1,0.2
tap_ok "amg: a 2-value score_thresh_offset is refused naming it" sh -c \
    "! '$WSSEED' dump amg --model '$GOLDEN/sam_tiny.pth' --input '$TMPD/amg_bad.h5' --output '$TMPD/amg_bad_out.h5' 2> '$TMPD/amg.err' && grep -q score_thresh_offset '$TMPD/amg.err'"
"$E" "$ref" "$TMPD/amg_in.h5" rm /amg/crop1 rm /amg/default_thresh attr /amg/crop0 points_per_batch 8
tap_ok "amg: dump with another points_per_batch" "$WSSEED" dump amg --model "$GOLDEN/sam_tiny.pth" \
    --input "$TMPD/amg_in.h5" --output "$TMPD/amg.h5"
tap_ok "amg: the first decoder batch follows points_per_batch" is "$(shape "$TMPD/amg.h5" /amg/crop0/prefilter_first_batch/iou_preds)" "{8, 3}"
# the batching changes only the batch bookkeeping, not the masks (points_per_batch bounds memory)
tap_run "$CMP" "$ref" "$TMPD/amg.h5" --group /amg/crop0 --rle /amg/crop0 --skip '*/prefilter_first_batch/*' \
    --skip '*/prefilter/batch_index' --skip '*/prefilter/point_in_batch'

# rock-sand-water filter alone: another case name, another threshold
ref="$GOLDEN/amg_fma_ref.h5"
"$E" "$ref" "$TMPD/rsw_in.h5" rm /amg attr /rsw/mixed rock_sand_water_thresh 0.05 \
    mv /input/rsw/no_level2 /input/rsw/other mv /rsw/no_level2 /rsw/other
tap_ok "amg: dump of the rock-sand-water cases" "$WSSEED" dump amg --model "$GOLDEN/sam_tiny.pth" \
    --input "$TMPD/rsw_in.h5" --output "$TMPD/rsw.h5"
tap_run "$CMP" "$ref" "$TMPD/rsw.h5" --group /rsw/no_level2:/rsw/other --tol '*=exact'
tap_ok "amg: the filter follows the case's rock_sand_water_thresh" fails "$ref" "$TMPD/rsw.h5" /rsw/mixed/kept_index \
    --group /rsw/mixed --tol '*=exact'

# ---- image-ops: resize cases and settings, small-region area, box thresholds -----------------
ref="$GOLDEN/image_ops_ref.h5"
"$E" "$ref" "$TMPD/io_in.h5" mv /resize/train_t288 /resize/other_t288 cp /resize/train_t480 /resize/t600 attr /resize/t600 t 600 \
    cp /resize/infer_div16 /resize/div64 attr /resize/div64 align_n 64 attr /small_regions/random area_thresh 10 \
    mv /boxes/blob_center/thresh_0.5 /boxes/blob_center/thresh_0.6
tap_ok "image-ops: dump on renamed and new resize cases" "$WSSEED" dump image-ops --input "$TMPD/io_in.h5" --output "$TMPD/io.h5"
tap_run "$CMP" "$ref" "$TMPD/io.h5" --group /resize/train_t288:/resize/other_t288 --tol '*=exact'
tap_ok "image-ops: t = 600 gives s = 600/800 and 400x600" is "$(vals "$TMPD/io.h5" /resize/t600/size_hw | tr '\n' ' ')" "400 600 "
tap_ok "image-ops: align_n = 64 gives 576x832" is "$(vals "$TMPD/io.h5" /resize/div64/size_hw | tr '\n' ' ')" "576 832 "
tap_ok "image-ops: area_thresh 10 removes fewer islands than 100" fails "$ref" "$TMPD/io.h5" \
    /small_regions/random/islands/mask --group /small_regions/random/islands
tap_run "$CMP" "$ref" "$TMPD/io.h5" --group /small_regions/blob_holes_islands --tol '*=exact'
tap_ok "image-ops: threshold 0.6 gives T = (int)(0.6*255) = 153" is "$(vals "$TMPD/io.h5" /boxes/blob_center/thresh_0.6/thresh_value)" "153"
tap_run "$CMP" "$ref" "$TMPD/io.h5" --group /boxes/blob_center/thresh_0.4 --tol '*=exact'
"$E" "$ref" "$TMPD/io_noimg.h5" rmattr /input/color_jitter/chart_00_bright image
tap_ok "image-ops: a jitter case without its 'image' attribute is an error naming the case" sh -c "! '$WSSEED' dump image-ops \
    --input '$TMPD/io_noimg.h5' --output '$TMPD/io_noimg_out.h5' 2> '$TMPD/io_noimg.err' &&
    grep -q \"color_jitter case 'chart_00_bright' has no string attribute 'image'\" '$TMPD/io_noimg.err'"

# ---- step: the seed strings come from /config ---------------------------------------------------
ref="$GOLDEN/fma_step_ref.h5"
"$E" "$ref" "$TMPD/step_in.h5" strings /config/cls_seed_string "another seed"
tap_ok "step: dump with another cls seed string" "$WSSEED" dump step --model "$GOLDEN/clip_tiny.pt" \
    --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" --input "$TMPD/step_in.h5" --output "$TMPD/step.h5"
tap_ok "step: the cls ctx initialisation follows the seed string" fails "$ref" "$TMPD/step.h5" /cls/ctx_init \
    --group /cls --tol '*/ctx_init=abs:3e-8'
tap_ok "step: the cls prompts' token ids do not depend on it" passes "$ref" "$TMPD/step.h5" /cls/token_ids --group /cls
seg_tie "$ref" "$TMPD/step.h5"
tap_run "$CMP" "$ref" "$TMPD/step.h5" --group /seg $SEG_TIE_SKIP --tol '*/ctx_step*=abs:1e-7' --tol '*/ctx_init=abs:3e-8' \
    --tol '*=both:1e-4:1e-4:1e-4'

# ---- caa / sams / eval: settings of the output groups, other case names -------------------
ref="$GOLDEN/seed_ref.h5"
"$E" "$ref" "$TMPD/seed_in.h5" sattr /caa/main/cls aff_at cam attr /caa/main/cls box_thresh 0.5 \
    mv /input/sams/refined /input/sams/mine mv /sams/refined /sams/mine \
    mv /sams/raw/pow_1 /sams/raw/pow_0.7b attr /sams/raw/pow_0.7b bg_pow 0.7 attr /eval class_num 22
for m in caa sams eval; do
    tap_ok "$m: dump on the modified seed file" "$WSSEED" dump $m --input "$TMPD/seed_in.h5" --output "$TMPD/$m.h5"
done
tap_run "$CMP" "$ref" "$TMPD/caa.h5" --group /caa/main/seg:/caa/main/cls --tol '*/box_mask=exact' --tol '*=maxrel:1e-5:1e-4'
SAMS_TOL="--tol */cam_upsampled=rel:1e-6:1e-5 --tol */mask_mean_relu_cam=rel:1e-6:1e-5 --tol */score=abs:1e-4 --tol */conf=abs:1e-4 --tol *=exact"
tap_run "$CMP" "$ref" "$TMPD/sams.h5" --group /sams/refined:/sams/mine $SAMS_TOL
tap_run "$CMP" "$ref" "$TMPD/sams.h5" --group /sams/raw/pow_0.7:/sams/raw/pow_0.7b $SAMS_TOL
tap_ok "eval: class_num 22 gives a 22x22 confusion matrix" is "$(shape "$TMPD/eval.h5" /eval/conf_matrix)" "{22, 22}"
tap_ok "eval: ... and 22 class IoUs" is "$(shape "$TMPD/eval.h5" /eval/cls_IoU)" "{22}"

# ---- boxsam: the SAM decoder's head count comes from /config -----------------------------------
ref="$GOLDEN/boxed_sam_ref.h5"
"$E" "$ref" "$TMPD/bs_in.h5" attr /config decoder_transformer_num_heads 1
tap_ok "boxsam: dump with 1 decoder head" "$WSSEED" dump boxsam --model "$GOLDEN/sam_tiny.pth" --input "$TMPD/bs_in.h5" --output "$TMPD/bs.h5"
tap_ok "boxsam: the SAM logits change with the head count" fails "$ref" "$TMPD/bs.h5" /class_0/low_res_logits \
    --group /class_0 --skip '*/pred_*' --tol '*=scaled:1e-4'
tap_run "$CMP" "$ref" "$TMPD/bs.h5" --group /class_0 --skip '*/masks' --skip '*/iou_predictions' --skip '*/low_res_logits' \
    --skip '*/pred_*' --tol '*=abs:1e-5'
tap_run "$CMP" "$ref" "$TMPD/bs.h5" --group /sam --tol '*=rel:1e-4:1e-4'

# ---- gdino: the transform size and the predict settings come from the file ---------------------
ref="$GOLDEN/gdino_tiny_ref.h5"
"$E" "$ref" "$TMPD/gd_in.h5" attr /config transform_short_side 100 attr /config transform_max_size 167 \
    mv /case/dog/predict/handful /case/dog/predict/few
tap_ok "gdino: dump at short side 100, max size 167" "$WSSEED" dump gdino --vocab "$GOLDEN/bert_vocab_uncased.txt" \
    --model "$GOLDEN/gdino_tiny.pth" --bert-config "$GOLDEN/gdino_tiny_bert_config.json" --input "$TMPD/gd_in.h5" --output "$TMPD/gd.h5"
tap_ok "gdino: the resized image is 100x149 (int(100*800/534))" is "$(shape "$TMPD/gd.h5" /preprocess/resized_uint8)" "{100, 149, 3}"
tap_ok "gdino: the model input follows" is "$(shape "$TMPD/gd.h5" /preprocess/image)" "{3, 100, 149}"
tap_ok "gdino: the renamed predict setting is run" h5ls "$TMPD/gd.h5/case/dog/predict/few/query_index"
tap_ok "gdino: ... and no other" sh -c "! h5ls '$TMPD/gd.h5/case/dog/predict/handful' >/dev/null 2>&1"
tap_end

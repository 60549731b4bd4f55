#!/bin/sh
# test_seed_cli.sh - the seed-stage commands end to end on a synthetic VOC-layout dataset with the
# tiny CLIP and SAM of the golden folder: train (4 iterations) -> wsseed cam -> caa -> masks ->
# seed -> eval, and merge:
#   - the CAM store has the documented layout; an interrupted `cam` (--max-images) resumes to the
#     same store as one run;
#   - CAA keeps shapes, seeds are palette PNGs at image size with values in 0..20 only;
#   - eval writes JSON and Markdown; the ground truth against itself scores 100;
#   - merge with both assignment rules; bad input: masks missing for an image, a CAM store of
#     other settings, wrong sizes in eval.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
PNGSTAT="$top_builddir/tests/pngstat"
V="$TMPD/voc"
E="$TMPD/exp"
"$WSSEED" synth "$V" --images 10 --min-side 64 --max-side 100 --seed 5 > /dev/null
cat > "$TMPD/tiny.yaml" <<EOC
base: $top_srcdir/configs/voc/cls.yaml
run: tiny
out_dir: $E
model:
  clip: $GOLDEN/clip_tiny.pt
  vocab: $GOLDEN/bpe_simple_vocab_16e6.txt.gz
data:
  root: $V
aug:
  scale_low: 72
  scale_high: 120
  short_thresh: 64
  crop: 64
train:
  batch: 4
  max_iter: 4
EOC
cat > "$TMPD/masks.yaml" <<EOC
model:
  sam: $GOLDEN/sam_tiny.pth
data:
  root: $V
  split: train_aug
output:
  store: $E/masks.h5
amg:
  points_per_side: 8
  points_per_batch: 16
  pred_iou_thresh: 0.02
  stability_score_thresh: 0
EOC
CK="$E/tiny/checkpoints/final.h5"
tap_ok "train cls prompts (4 iterations)" "$WSSEED" train "$TMPD/tiny.yaml"
tap_ok "wsseed cam" "$WSSEED" cam "$TMPD/tiny.yaml" --ckpt "$CK"
tap_ok "CAM store layout: cam, fg_cls, fg_logit, all_logit, att, image_hw" sh -c \
    "'$H5CMP' '$E/tiny/cams/train_aug.h5' '$E/tiny/cams/train_aug.h5' --group /cams/synth_000000 > '$TMPD/ls.txt'
     for d in cam fg_cls fg_logit all_logit att image_hw; do grep -q \"synth_000000/\$d \" '$TMPD/ls.txt' || exit 1; done"
tap_ok "an interrupted cam run (--max-images 3) ..." "$WSSEED" cam "$TMPD/tiny.yaml" --ckpt "$CK" --out "$E/part.h5" --max-images 3
tap_ok "... is incomplete" sh -c "test ! -e '$E/part.h5' && test -d '$E/part.h5.parts'"
tap_ok "... and resumes" "$WSSEED" cam "$TMPD/tiny.yaml" --ckpt "$CK" --out "$E/part.h5"
tap_run "$H5CMP" "$E/tiny/cams/train_aug.h5" "$E/part.h5" --tol '*=exact'
tap_ok "a CAM store made with another checkpoint is refused" sh -c "! '$WSSEED' cam '$TMPD/tiny.yaml' \
    --ckpt '$E/tiny/checkpoints/start.h5' --out '$E/part.h5' 2> '$TMPD/e1' && grep -q 'other settings' '$TMPD/e1'"
tap_ok "wsseed caa --task cls" "$WSSEED" caa "$E/tiny/cams/train_aug.h5" --task cls --out "$E/caa.h5"
tap_ok "wsseed masks (tiny SAM)" "$WSSEED" masks "$TMPD/masks.yaml"
tap_ok "wsseed seed" "$WSSEED" seed "$E/caa.h5" --masks "$E/masks.h5" --out "$E/seeds" --pow 0.6
tap_ok "one seed per image" sh -c "test \$(ls '$E/seeds' | wc -l) -eq 8"
tap_ok "seeds: 8-bit palette PNGs at image size, values 0..20, no 255" sh -c \
    "for f in '$E'/seeds/*.png; do id=\$(basename \$f); '$PNGSTAT' \"\$f\" --max 20 --same-size '$V/SegmentationClassAug/'\$id || exit 1; done"
tap_ok "wsseed eval (JSON + Markdown)" "$WSSEED" eval "$E/seeds" --gt "$V/SegmentationClassAug" --json "$E/eval.json" --md "$E/eval.md"
tap_ok "eval JSON holds the mIoU and 21 classes" sh -c "grep -q '\"mIoU\": ' '$E/eval.json' && test \$(grep -o '\"class\": ' '$E/eval.json' | wc -l) -eq 21"
tap_ok "eval Markdown table ends with the mIoU" grep -q '^| \*\*mIoU\*\* |' "$E/eval.md"
tap_ok "the evaluation of the GT against itself is 100 mIoU" sh -c \
    "'$WSSEED' eval '$V/SegmentationClassAug' --gt '$V/SegmentationClassAug' | grep -q '^mIoU 100.00'"
tap_ok "wsseed merge (released rule)" "$WSSEED" merge "$E/seeds" --masks "$E/masks.h5" --out "$E/merged"
tap_ok "wsseed merge --assign argmax --method max_iou" "$WSSEED" merge "$E/seeds" --masks "$E/masks.h5" --out "$E/merged2" \
    --assign argmax --method max_iou
tap_ok "merged maps: values 0..20" sh -c "for f in '$E'/merged/*.png; do '$PNGSTAT' \"\$f\" --max 20 || exit 1; done"
mkdir -p "$E/extra"
cp "$V/SegmentationClassAug/synth_000009.png" "$E/extra/"
tap_ok "masks missing for an image are named" sh -c "! '$WSSEED' merge '$E/extra' --masks '$E/masks.h5' --out '$E/m3' \
    2> '$TMPD/e2' && grep -q 'synth_000009' '$TMPD/e2'"
cp "$V/SegmentationClassAug/synth_000001.png" "$E/extra/synth_000000.png"
tap_ok "eval refuses maps of different sizes, naming the file" sh -c "! '$WSSEED' eval '$E/extra' --gt '$V/SegmentationClassAug' \
    2> '$TMPD/e3' && grep -q 'synth_00000' '$TMPD/e3'"
tap_end

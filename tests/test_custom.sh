#!/bin/sh
# test_custom.sh - a custom dataset (data.dataset: custom) end to end: `wsseed synth --names`
# writes 5 classes ("owl: barn owl" with a prompt name), and the whole pipeline (masks, cls and
# seg training, CAMs, CAA, coarse and fine seeds, boxed-SAM seeds, eval, report) runs on it with
# the golden tiny CLIP, SAM and Grounding-DINO (random weights: the plumbing is what is checked):
#   - every seed is a label map of values 0..5 and 255 only; merge --classes 6 keeps to them;
#   - eval tables name the 5 + 1 classes as given (background first);
#   - the same classes as a YAML list instead of the file reuse every cached stage (stage keys
#     hash the resolved list, not the file name);
#   - training from a labels file without label maps;
#   - errors: "background" listed, 255 classes, a duplicate, no list, a list beside voc, an
#     unquoted "label: prompt" YAML item.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
PNGSTAT="$top_builddir/tests/pngstat"
D="$TMPD/data"
O="$TMPD/out"
tap_ok "synth --names writes a 5-class custom dataset" sh -c "'$WSSEED' synth '$D' --images 10 --min-side 60 --max-side 90 \
    --names 'cat,dog,wild bird,owl: barn owl,fox' --seed 5 > /dev/null"
tap_ok "... with classes.txt (line k = value k, the prompt name kept)" sh -c \
    "test \"\$(cat '$D/classes.txt' | tr '\n' '|')\" = 'cat|dog|wild bird|owl: barn owl|fox|'"
tap_ok "... and labels.txt: one line per image, classes in 1..5" sh -c \
    "test \$(wc -l < '$D/labels.txt') -eq 10 && ! cut -d' ' -f2- '$D/labels.txt' | tr ' ' '\n' | grep -v '^[1-5]\$'"

cat > "$TMPD/p.yaml" <<EOC
run: c5
out_dir: $O
model:
  clip: $GOLDEN/clip_tiny.pt
  vocab: $GOLDEN/bpe_simple_vocab_16e6.txt.gz
  sam: $GOLDEN/sam_tiny.pth
  decoder_heads: 2
data:
  dataset: custom
  root: $D
  class_file: classes.txt
masks:
  points_per_side: 6
  points_per_batch: 36
  pred_iou_thresh: 0
  stability_score_thresh: 0
  crop_n_layers: 0
cls:
  aug: {scale_low: 72, scale_high: 120, short_thresh: 64, crop: 64}
  optim: {warm_iters: 2, lr: 0.002}
  train: {batch: 2, max_iter: 6, save_every: 0}
seg:
  aug: {scale_low: 72, scale_high: 120, short_thresh: 64, crop: 64}
  optim: {warm_iters: 2, lr: 0.002}
  train: {batch: 2, max_iter: 6, save_every: 0}
caa:
  seg: {at_cam: false}
boxed:
  enable: true
  model:
    gdino: $GOLDEN/gdino_tiny.pth
    bert_vocab: $GOLDEN/bert_vocab_uncased.txt
    bert_config: $GOLDEN/gdino_tiny_bert_config.json
  gdino: {box_thresh: 0.25, size: 96, max_size: 160}
  labels: {tau: 0.05}
report:
  images: 2
EOC
tap_ok "the pipeline runs on the custom dataset" sh -c "'$WSSEED' pipeline '$TMPD/p.yaml' > '$TMPD/log1' 2>&1"
for s in masks train_cls cam_cls caa_cls seeds_coarse train_seg cam_seg caa_seg seeds_fine seeds_boxed; do
    tap_ok "stage $s is done" test -e "$O/c5/$s/DONE"
done
N=$(grep -c . "$D/ImageSets/Segmentation/train_aug.txt")
# allowed.sh FOLDER N OUT: FOLDER holds N PNGs whose values are 0..5 or 255; OUT gets the values seen
cat > "$TMPD/allowed.sh" <<EOS
set -e
test \$(ls "\$1" | grep -c '\\.png\$') -eq "\$2"
for f in "\$1"/*.png; do "$PNGSTAT" "\$f" --values; done | tr ' ' '\\n' | sort -un > "\$3"
! grep -qvx '[0-5]\\|255' "\$3"
EOS
for s in seeds_coarse seeds_fine seeds_boxed; do
    tap_ok "$s: $N seeds, values 0..5 and 255 only" sh "$TMPD/allowed.sh" "$O/c5/$s/seeds" "$N" "$TMPD/$s.vals"
done
tap_ok "the fine seeds hold foreground classes ($(tr '\n' ' ' < "$TMPD/seeds_fine.vals"))" grep -qx '[1-5]' "$TMPD/seeds_fine.vals"
printf 'background\ncat\ndog\nwild bird\nowl\nfox\n' > "$TMPD/names"
tap_ok "eval_fine.json: classes 0..5 named background, cat, dog, wild bird, owl, fox" sh -c \
    "test \"\$(grep -o '\"name\": \"[^\"]*\"' '$O/c5/eval_fine.json' | cut -d'\"' -f4 | tr '\n' '|')\" = 'background|cat|dog|wild bird|owl|fox|'"
grep '^| ' "$O/c5/eval_coarse.md" | sed 1d | cut -d'|' -f2 | sed 's/^ //; s/ $//' | grep -v 'mIoU' > "$TMPD/rows"
tap_ok "eval_coarse.md rows are named by the class list ($(tr '\n' ',' < "$TMPD/rows"))" sh -c \
    "grep -qx background '$TMPD/rows' && ! grep -vxF -f '$TMPD/names' '$TMPD/rows'"
tap_ok "eval.md lists the boxed seeds too" grep -q 'boxed SAM' "$O/c5/eval.md"
tap_ok "the run's config.yaml records the class file" grep -q 'class_file: "classes.txt"' "$O/c5/config.yaml"
tap_ok "wsseed eval --class-file names the classes" sh -c "'$WSSEED' eval '$O/c5/seeds_fine/seeds' --gt '$D/SegmentationClassAug' \
    --class-file '$D/classes.txt' > '$TMPD/ev' && grep -q '^wild bird ' '$TMPD/ev' && grep -q '^background ' '$TMPD/ev'"
tap_ok "... and the same figures as the pipeline's evaluation" sh -c "'$WSSEED' eval '$O/c5/seeds_fine/seeds' \
    --gt '$D/SegmentationClassAug' --class-file '$D/classes.txt' --json '$TMPD/ev.json' > /dev/null && cmp '$TMPD/ev.json' '$O/c5/eval_fine.json'"
tap_ok "merge --classes 6 on the fine seeds" sh -c "'$WSSEED' merge '$O/c5/seeds_fine/seeds' --masks '$O/c5/masks/masks.h5' \
    --out '$TMPD/merged' --classes 6 > /dev/null 2>&1"
tap_ok "... its label maps use values 0..5 and 255 only" sh "$TMPD/allowed.sh" "$TMPD/merged" "$N" "$TMPD/merged.vals"

# The hand-off: the custom run's seeds for mmsegmentation, named by the class list.
tap_ok "export mmseg of the custom run" sh -c "'$WSSEED' export mmseg '$TMPD/p.yaml' > '$TMPD/ex.log' 2>&1 &&
    test -s '$O/c5/mmseg/deeplabv3plus_r101_wsseed.py'"
tap_ok "... its classes.txt and config name background + the 5 classes, in order" sh -c "cmp '$TMPD/names' '$O/c5/mmseg/classes.txt' &&
    grep -qx 'classes = (\"background\", \"cat\", \"dog\", \"wild bird\", \"owl\", \"fox\",)' '$O/c5/mmseg/deeplabv3plus_r101_wsseed.py' &&
    grep -qx 'num_classes = 6' '$O/c5/mmseg/deeplabv3plus_r101_wsseed.py' &&
    grep -qx 'palette = \[\[0, 0, 0\], \[128, 0, 0\], \[0, 128, 0\], \[128, 128, 0\], \[0, 0, 128\], \[128, 0, 128\]\]' '$O/c5/mmseg/deeplabv3plus_r101_wsseed.py'"

# The same classes written as a YAML list: the stage keys hash the resolved list, so nothing reruns.
sed 's|^  class_file: classes.txt|  classes: [cat, dog, wild bird, "owl: barn owl", fox]|' "$TMPD/p.yaml" > "$TMPD/q.yaml"
tap_ok "the classes as a YAML list reuse every cached stage" sh -c "'$WSSEED' pipeline '$TMPD/q.yaml' > '$TMPD/log2' 2>&1 &&
    test \$(grep -c '^wsseed: skip ' '$TMPD/log2') -eq 10 && ! grep -q '^wsseed: stage ' '$TMPD/log2'"
sed 's|^  class_file: classes.txt|  classes: [cat, dog, wild bird, "owl: eagle owl", fox]|' "$TMPD/p.yaml" > "$TMPD/r.yaml"
tap_ok "another prompt name reuses the masks but trains again" sh -c "'$WSSEED' pipeline '$TMPD/r.yaml' > '$TMPD/log3' 2>&1 &&
    grep -q '^wsseed: skip  masks' '$TMPD/log3' && grep -q '^wsseed: stage train_cls' '$TMPD/log3' &&
    grep -q '^wsseed: stage seeds_boxed' '$TMPD/log3'"

# Training from image-level labels only (no label maps).
tap_ok "cls training from labels.txt without label maps" sh -c "'$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' \
    --set data.dataset=custom --set data.root='$D' --set data.class_file=classes.txt --set data.label_dir= \
    --set data.labels_file=labels.txt --set model.clip='$GOLDEN/clip_tiny.pt' \
    --set model.vocab='$GOLDEN/bpe_simple_vocab_16e6.txt.gz' --set aug.scale_low=72 --set aug.scale_high=120 \
    --set aug.short_thresh=64 --set aug.crop=64 --set train.batch=2 --set train.max_iter=2 --set out_dir='$TMPD/t' --set run=cust \
    > '$TMPD/log4' 2>&1 && test -s '$TMPD/t/cust/checkpoints/final.h5'"

# Errors: named before any stage runs.
bad() {   # bad NAME CLASS-FILE EXPECTED-MESSAGE
    printf '%s\n' "$3" > "$TMPD/want"
    tap_ok "$1 is refused: $3" sh -c "! '$WSSEED' pipeline '$TMPD/p.yaml' --set data.class_file='$2' > /dev/null \
        2> '$TMPD/e' && grep -qF -f '$TMPD/want' '$TMPD/e' && ! grep -q '^wsseed: stage ' '$TMPD/e'"
}
printf 'background\ncat\n' > "$TMPD/bg.txt"
bad "a class file listing background" "$TMPD/bg.txt" 'background is value 0 and never listed'
printf 'cat\ndog\ncat\n' > "$TMPD/dup.txt"
bad "a duplicate class" "$TMPD/dup.txt" "class 'cat' is listed twice (values 1 and 3)"
printf '# nothing\n\n' > "$TMPD/none.txt"
bad "an empty class file" "$TMPD/none.txt" 'names no class'
i=0; : > "$TMPD/many.txt"; while [ $i -lt 255 ]; do echo "c$i" >> "$TMPD/many.txt"; i=$((i + 1)); done
bad "a list of 255 classes" "$TMPD/many.txt" 'at most 254 foreground classes fit'
tap_ok "custom without a class list is refused" sh -c "! '$WSSEED' pipeline '$TMPD/p.yaml' --set data.class_file= 2> '$TMPD/e' &&
    grep -q 'needs its classes in exactly one of data.classes' '$TMPD/e'"
tap_ok "a class list beside voc is refused" sh -c "! '$WSSEED' pipeline '$TMPD/p.yaml' --set data.dataset=voc 2> '$TMPD/e' &&
    grep -q 'data.classes / data.class_file are for data.dataset: custom' '$TMPD/e'"
printf 'data:\n  dataset: custom\n  classes:\n    - cat\n    - owl: barn owl\n' > "$TMPD/u.yaml"
tap_ok "an unquoted 'label: prompt' YAML item is named (file:line)" sh -c "! '$WSSEED' pipeline '$TMPD/u.yaml' 2> '$TMPD/e' &&
    grep -q 'u.yaml:5' '$TMPD/e'"
tap_ok "configs/custom/example.yaml is a valid pipeline config" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/custom/example.yaml' --help > '$TMPD/h' &&
    grep -q 'data.dataset *\"custom\"' '$TMPD/h'"
tap_end

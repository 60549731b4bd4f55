#!/bin/sh
# test_boxes.sh - the boxed-SAM seed mode end to end (wsseed boxes + wsseed boxseed) on a small
# synthetic VOC-layout folder with the golden tiny CLIP, Grounding-DINO and SAM (random weights:
# the boxes are meaningless, the plumbing is what is checked):
#   - CLIP labels: every image gets >= 1 class; the store holds labels, gt_labels, clip_probs
#     (softmax: sums to 1), boxes, scores, classes of predicted classes only;
#   - resume (--max-images) and shards give the same store as one run;
#   - seeds: one palette PNG per image, image-sized, values <= 20; overlap maxid vs score;
#   - a detector's COCO-style JSON (list and {images, annotations} forms), boxes outside the image,
#     images without boxes (all background);
#   - eval --labels P/R/F1; bad input: foreign/truncated checkpoint, malformed JSON, bad category.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
PNGSTAT="$top_builddir/tests/pngstat"
V="$TMPD/voc"
"$WSSEED" synth "$V" --images 10 --min-side 60 --max-side 100 --classes 20 --seed 3 > /dev/null 2>&1
cat > "$TMPD/b.yaml" <<EOC
model:
  clip: $GOLDEN/clip_tiny.pt
  vocab: $GOLDEN/bpe_simple_vocab_16e6.txt.gz
  gdino: $GOLDEN/gdino_tiny.pth
  bert_vocab: $GOLDEN/bert_vocab_uncased.txt
  bert_config: $GOLDEN/gdino_tiny_bert_config.json
  sam: $GOLDEN/sam_tiny.pth
data:
  root: $V
  split: train_aug
labels:
  tau: 0.05
gdino:
  box_thresh: 0.25
  size: 96
  max_size: 160
out_dir: $TMPD/out
EOC
B="$WSSEED boxes $TMPD/b.yaml"
# vals FILE DATASET: the values of a dataset, one per line
vals() { h5dump -y -w 0 -d "$2" "$1" 2>/dev/null | sed -n '/DATA {/,/^   }/p' | sed '1d;$d' | tr -s ', ' '\n\n' | grep .; }
N=$(wc -l < "$V/ImageSets/Segmentation/train_aug.txt")

tap_ok "wsseed boxes: CLIP labels + Grounding-DINO over the split" sh -c "$B --set boxes.store=$TMPD/one.h5 2> $TMPD/log1"
tap_ok "... logs the labels' precision/recall/F1" grep -q "precision .* recall .* F1" "$TMPD/log1"
first=$(head -n 1 "$V/ImageSets/Segmentation/train_aug.txt")
vals "$TMPD/one.h5" "/boxes/$first/labels" > "$TMPD/lab.txt"
vals "$TMPD/one.h5" "/boxes/$first/cls" > "$TMPD/cls.txt"
vals "$TMPD/one.h5" "/boxes/$first/clip_probs" > "$TMPD/p.txt"
tap_ok "the store has a record per image ($N)" sh -c "test \$(h5ls $TMPD/one.h5/boxes | wc -l) -eq $N"
tap_ok "image $first has 20 labels, at least one set" sh -c "test \$(wc -l < $TMPD/lab.txt) -eq 20 && grep -qx 1 $TMPD/lab.txt"
tap_ok "its CLIP probabilities (20 fg + 25 bg) sum to 1" sh -c \
    "awk '{s+=\$1; n++} END {exit !(n==45 && s>0.9999 && s<1.0001)}' $TMPD/p.txt"
labs=$(awk '$1==1 {print NR-1}' "$TMPD/lab.txt" | tr '\n' ' ')
tap_ok "its boxes belong to its predicted classes ($labs)" sh -c \
    "test -s $TMPD/cls.txt && for c in \$(cat $TMPD/cls.txt); do echo ' $labs' | grep -q \" \$c \" || exit 1; done"
tap_ok "interrupted after 3 images" sh -c "$B --set boxes.store=$TMPD/two.h5 --max-images 3 2> /dev/null && test ! -e $TMPD/two.h5"
tap_ok "the second run resumes" sh -c "$B --set boxes.store=$TMPD/two.h5 2> $TMPD/log2 && grep -q '3 done before' $TMPD/log2"
tap_run "$H5CMP" "$TMPD/one.h5" "$TMPD/two.h5"
tap_ok "shard 0/2 then 1/2" sh -c "$B --set boxes.store=$TMPD/sh.h5 --shard 0/2 2> /dev/null && $B --set boxes.store=$TMPD/sh.h5 --shard 1/2 2> /dev/null"
tap_run "$H5CMP" "$TMPD/one.h5" "$TMPD/sh.h5"
tap_ok "other settings on an existing store are refused, naming it" sh -c \
    "! $B --set boxes.store=$TMPD/one.h5 --set gdino.box_thresh=0.5 2> $TMPD/e0 && grep -q one.h5 $TMPD/e0"

S="$WSSEED boxseed $TMPD/b.yaml --set boxes.store=$TMPD/one.h5"
tap_ok "wsseed boxseed writes the seeds" sh -c "$S --set boxseed.out=$TMPD/seeds 2> /dev/null"
tap_ok "one PNG per image" sh -c "test \$(ls $TMPD/seeds | grep -c png) -eq $N"
ok=1
for id in $(cat "$V/ImageSets/Segmentation/train_aug.txt"); do
    "$PNGSTAT" "$TMPD/seeds/$id.png" --max 20 --same-size "$V/SegmentationClassAug/$id.png" || ok=0
done
tap_ok "every seed is an image-sized label map with values <= 20" test $ok -eq 1
tap_ok "a second run keeps the existing seeds" sh -c "$S --set boxseed.out=$TMPD/seeds 2> $TMPD/log3 && grep -q '0 images ($N done before)' $TMPD/log3"
tap_ok "overlap=maxid (the closest implementation) runs too" sh -c "$S --set boxseed.out=$TMPD/seeds2 --set boxseed.overlap=maxid 2> /dev/null"
tap_ok "ignore band (k 2, delta 1): some pixels become 255" sh -c \
    "$S --set boxseed.out=$TMPD/band --set boxseed.ignore_band=2 --set boxseed.ignore_delta=1 2> /dev/null && ! cat $V/ImageSets/Segmentation/train_aug.txt | while read id; do '$PNGSTAT' $TMPD/band/\$id.png --max 254 2>/dev/null || exit 1; done"
tap_ok "... and elsewhere equal the seeds without it" sh -c \
    "for id in \$(cat $V/ImageSets/Segmentation/train_aug.txt); do '$PNGSTAT' $TMPD/band/\$id.png --max 255 --same-size $TMPD/seeds/\$id.png || exit 1; done"
tap_ok "eval of the seeds against the ground truth" sh -c "'$WSSEED' eval $TMPD/seeds --gt $V/SegmentationClassAug --json $TMPD/ev.json > /dev/null && grep -q '\"mIoU\": ' $TMPD/ev.json"
tap_ok "eval --labels: precision/recall/F1 of the CLIP labels" sh -c \
    "'$WSSEED' eval --labels $TMPD/one.h5 --json $TMPD/lab.json | grep -q 'precision' && grep -q '\"f1\"' $TMPD/lab.json && grep -q '\"images\": $N' $TMPD/lab.json"
tap_ok "labels.source=gt: the labels are the ground truth (F1 1)" sh -c \
    "$B --set boxes.store=$TMPD/gt.h5 --set labels.source=gt 2> /dev/null && '$WSSEED' eval --labels $TMPD/gt.h5 | grep -q 'F1 1.0000'"
tap_ok "a box threshold nobody passes: no boxes, all-background seeds, a warning" sh -c \
    "$B --set boxes.store=$TMPD/none.h5 --set gdino.box_thresh=0.9999 2> /dev/null && $S --set boxes.store=$TMPD/none.h5 --set boxseed.out=$TMPD/none 2> $TMPD/log4 && grep -q 'had no box' $TMPD/log4 && test \"\$('$PNGSTAT' $TMPD/none/$first.png --max 0)\" = ''"

# another detector's boxes: COCO-style JSON
second=$(sed -n 2p "$V/ImageSets/Segmentation/train_aug.txt")
cat > "$TMPD/det.json" <<EOJ
[{"image_id": "$first", "category_id": 12, "bbox": [5, 5, 30, 20], "score": 0.9},
 {"image_id": "$first", "category_id": 3, "bbox": [-40, -40, 500, 500], "score": 0.5},
 {"image_id": "$second", "category_id": 20, "bbox": [0, 0, 10, 10]}]
EOJ
tap_ok "boxes.json: a detector's result list (a box beyond the image included)" sh -c \
    "$B --set boxes.store=$TMPD/js.h5 --set boxes.json=$TMPD/det.json 2> /dev/null && $S --set boxes.store=$TMPD/js.h5 --set boxseed.out=$TMPD/js 2> /dev/null"
tap_ok "its boxes are stored as pixel xyxy" test "$(vals "$TMPD/js.h5" "/boxes/$first/xyxy" | tr '\n' ,)" = "5,5,35,25,-40,-40,460,460,"
tap_ok "labels = the classes of its boxes (3 and 12)" test "$(vals "$TMPD/js.h5" "/boxes/$first/labels" | awk '$1==1 {print NR}' | tr '\n' ' ')" = "3 12 "
third=$(sed -n 3p "$V/ImageSets/Segmentation/train_aug.txt")
tap_ok "an image without boxes in the JSON is all background" sh -c "test \"\$('$PNGSTAT' $TMPD/js/$third.png --max 0)\" = ''"
tap_ok "boxseed.max_box_frac 0.5 drops the image-covering box" sh -c \
    "$S --set boxes.store=$TMPD/js.h5 --set boxseed.out=$TMPD/js2 --set boxseed.max_box_frac=0.5 2> $TMPD/log5 && grep -q '1 boxes dropped' $TMPD/log5"
tap_ok "boxseed.ignore_empty: images without boxes are all 255" sh -c \
    "$S --set boxes.store=$TMPD/js.h5 --set boxseed.out=$TMPD/js3 --set boxseed.ignore_empty=true 2> /dev/null && ! '$PNGSTAT' $TMPD/js3/$third.png --max 254 2>/dev/null && '$PNGSTAT' $TMPD/js3/$first.png --max 20"
tap_ok "seeds of the JSON boxes only use their classes" sh -c "'$PNGSTAT' $TMPD/js/$second.png --max 20"
cat > "$TMPD/ds.json" <<EOJ
{"images": [{"id": 77, "file_name": "$first.jpg"}],
 "annotations": [{"id": 1, "image_id": 77, "category_id": 12, "bbox": [5, 5, 30, 20], "score": 0.9}]}
EOJ
tap_ok "boxes.json: the {images, annotations} form (ids through file names)" sh -c \
    "$B --set boxes.store=$TMPD/ds.h5 --set boxes.json=$TMPD/ds.json 2> /dev/null"
tap_ok "... its box reached image 77 = $first" test "$(vals "$TMPD/ds.h5" "/boxes/$first/xyxy" | tr '\n' ,)" = "5,5,35,25,"

num=$(echo "$second" | sed 's/.*[^0-9]0*//')
printf '[{"image_id": %s, "category_id": 5, "bbox": [1, 2, 3, 4]}, {"image_id": "%s", "category_id": 6, "bbox": [5, 6, 7, 8]}, {"image_id": %s, "category_id": 7, "bbox": [9, 9, 1, 1]}]' \
    "$num" "$second" "$num" > "$TMPD/num.json"
tap_ok "boxes.json: a numeric image_id matches the id's trailing number ($num -> $second), boxes in JSON order" sh -c \
    "$B --set boxes.store=$TMPD/num.h5 --set boxes.json=$TMPD/num.json 2> /dev/null"
tap_ok "... its classes are 5, 6, 7 in that order" test "$(vals "$TMPD/num.h5" "/boxes/$second/cls" | tr '\n' ' ')" = "4 5 6 "

# bad input
printf '[{"image_id": "a", "category_id": 12, "bbox": [1, 2, 3' > "$TMPD/bad.json"
tap_ok "malformed JSON: an error naming the file" sh -c \
    "! $B --set boxes.store=$TMPD/x1.h5 --set boxes.json=$TMPD/bad.json 2> $TMPD/e1 && grep -q 'bad.json' $TMPD/e1"
printf '[{"image_id": "a", "category_id": 21, "bbox": [1, 2, 3, 4]}]' > "$TMPD/bad2.json"
tap_ok "a category outside 1..20: an error naming the entry" sh -c \
    "! $B --set boxes.store=$TMPD/x2.h5 --set boxes.json=$TMPD/bad2.json 2> $TMPD/e2 && grep -q 'box entry 0' $TMPD/e2"
printf '[{"image_id": "a", "category_id": 2, "bbox": [1, 2, -3, 4]}]' > "$TMPD/bad3.json"
tap_ok "a negative box size: an error" sh -c "! $B --set boxes.store=$TMPD/x3.h5 --set boxes.json=$TMPD/bad3.json 2> $TMPD/e3 && grep -q 'negative' $TMPD/e3"
tap_ok "a SAM checkpoint as Grounding-DINO: an error naming the file" sh -c \
    "! $B --set boxes.store=$TMPD/x4.h5 --set model.gdino=$GOLDEN/sam_tiny.pth 2> $TMPD/e4 && grep -q 'sam_tiny.pth' $TMPD/e4"
head -c 3000000 "$GOLDEN/gdino_tiny.pth" > "$TMPD/trunc.pth"
tap_ok "a truncated Grounding-DINO checkpoint: an error naming the file" sh -c \
    "! $B --set boxes.store=$TMPD/x5.h5 --set model.gdino=$TMPD/trunc.pth 2> $TMPD/e5 && grep -q 'trunc.pth' $TMPD/e5"
tap_ok "labels.source must be clip or gt" sh -c "! $B --set labels.source=oracle 2> $TMPD/e6 && grep -q 'labels.source' $TMPD/e6"
tap_ok "boxseed before boxes: an error saying what to run" sh -c \
    "! $S --set boxes.store=$TMPD/missing.h5 2> $TMPD/e7 && grep -q 'missing.h5' $TMPD/e7"
# the pipeline: boxed seeds beside FMA seeds in one table (demo config + the tiny Grounding-DINO)
P="'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/pa --set data.root=$TMPD/pdata --set boxed.enable=true \
   --set boxed.model.gdino=$GOLDEN/gdino_tiny.pth --set boxed.model.bert_vocab=$GOLDEN/bert_vocab_uncased.txt \
   --set boxed.model.bert_config=$GOLDEN/gdino_tiny_bert_config.json --set boxed.gdino.size=128 --set boxed.gdino.max_size=200"
tap_ok "pipeline with boxed.enable runs" sh -c "$P > $TMPD/pa.log 2>&1"
tap_ok "stage seeds_boxed is done and holds a seed per image" sh -c \
    "test -e $TMPD/pa/demo/seeds_boxed/DONE && test \$(ls $TMPD/pa/demo/seeds_boxed/seeds | wc -l) -eq \$(wc -l < $TMPD/pdata/ImageSets/Segmentation/train_aug.txt)"
tap_ok "eval.md: coarse, fine and boxed seeds in one table" sh -c \
    "grep -q 'FMA-WSSS coarse' $TMPD/pa/demo/eval.md && grep -q 'FMA-WSSS fine' $TMPD/pa/demo/eval.md && grep -q 'boxed SAM' $TMPD/pa/demo/eval.md && grep -q '\"mIoU\": ' $TMPD/pa/demo/eval_boxed.json"
tap_ok "a second run skips the boxed stage" sh -c "$P 2>&1 | grep -q 'skip  seeds_boxed'"
tap_ok "configs/voc/boxes.yaml holds exactly the built-in defaults" sh -c \
    "'$WSSEED' boxes '$top_srcdir/configs/voc/boxes.yaml' --help > '$TMPD/h1' && '$WSSEED' boxes --help > '$TMPD/h2' && cmp '$TMPD/h1' '$TMPD/h2'"
tap_end

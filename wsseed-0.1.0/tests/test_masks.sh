#!/bin/sh
# test_masks.sh - `wsseed masks` end to end on a small VOC-layout folder (three copies of the
# golden photo) with the tiny SAM and the settings of amg_fma_ref.h5's `main` run:
#   - the store's records of an image equal `wsseed dump amg`'s (which match the golden file);
#   - an interrupted run (--max-images 1) resumes and gives the same store as one run;
#   - two shards (--shard 0/2, 1/2) give the same store;
#   - h5py-style layout: /masks/<id>/{rle_counts_*, size, area, bbox, level, ...};
#   - bad input fails with a clear message: corrupt JPEG, missing image, unknown config key,
#     malformed YAML, a store made with other settings.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
V="$TMPD/voc"
mkdir -p "$V/JPEGImages" "$V/ImageSets/Segmentation"
for i in a b c; do cp "$GOLDEN/dog.jpg" "$V/JPEGImages/$i.jpg"; done
printf 'a\nb\nc\n' > "$V/ImageSets/Segmentation/mini.txt"
cat > "$V/masks.yaml" <<EOC
model:
  sam: $GOLDEN/sam_tiny.pth
data:
  root: $V
  split: mini
amg:
  points_per_side: 8
  points_per_batch: 16
  pred_iou_thresh: 0.02
  stability_score_thresh: 0
EOC
run() { "$WSSEED" masks "$V/masks.yaml" "$@" 2> "$TMPD/log.txt"; }

tap_ok "one run over the split" run --set output.store="$TMPD/one.h5"
tap_ok "missing output folders are created" run --set output.store="$TMPD/new/sub/one.h5"
tap_ok "... and hold the complete store" test -s "$TMPD/new/sub/one.h5"
tap_ok "the parts folder is gone after completion" test ! -e "$TMPD/one.h5.parts"
"$WSSEED" dump amg --model "$GOLDEN/sam_tiny.pth" --input "$GOLDEN/amg_fma_ref.h5" --output "$TMPD/amg.h5"
tap_run "$H5CMP" "$TMPD/one.h5" "$TMPD/amg.h5" --group /masks/a:/amg/main --skip /masks/a/size

tap_ok "interrupted after one image" run --set output.store="$TMPD/two.h5" --max-images 1
tap_ok "nothing but the part of the finished image exists" sh -c "test ! -e '$TMPD/two.h5' && test -e '$TMPD/two.h5.parts/a.h5'"
tap_ok "the second run resumes" sh -c "'$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/two.h5' 2> '$TMPD/r.txt' && grep -q '2 to do' '$TMPD/r.txt'"
tap_run "$H5CMP" "$TMPD/one.h5" "$TMPD/two.h5"

tap_ok "shard 0/2" run --set output.store="$TMPD/sh.h5" --shard 0/2
tap_ok "shard 1/2 completes the store" sh -c "'$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/sh.h5' --shard 1/2 2> '$TMPD/s.txt' && grep -q 'store complete' '$TMPD/s.txt'"
tap_run "$H5CMP" "$TMPD/one.h5" "$TMPD/sh.h5"

# export: amg.py's PNG folders (mask x 255 + metadata.csv) and COCO-style JSON
tap_ok "masks export --png --coco" "$WSSEED" masks export "$TMPD/one.h5" --png "$TMPD/png" --coco "$TMPD/coco.json"
n_a=$(h5dump -d /masks/a/area -y -w 0 -o "$TMPD/area.txt" "$TMPD/one.h5" > /dev/null 2>&1; tr -s ', \n' '\n\n\n' < "$TMPD/area.txt" | grep -c .)
tap_ok "one PNG per mask of image a ($n_a)" test "$(ls "$TMPD/png/a" | grep -c '\.png$')" -eq "$n_a"
tap_ok "metadata.csv has the amg.py header and a row per mask" sh -c \
    "head -n 1 '$TMPD/png/a/metadata.csv' | grep -q '^id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x' && test \$(wc -l < '$TMPD/png/a/metadata.csv') -eq $((n_a + 1))"
area1=$(sed -n 3p "$TMPD/png/a/metadata.csv" | cut -d, -f2)
tap_ok "PNG 1 of image a is 800x534 with as many 255 pixels as its area ($area1)" sh -c \
    "test \"\$('$top_builddir/tests/pngstat' '$TMPD/png/a/1.png')\" = '800 534 $area1'"
tap_ok "COCO JSON holds 3 images and every mask" sh -c \
    "test \$(grep -c '\"file_name\"' '$TMPD/coco.json') -eq 3 && test \$(grep -c '\"segmentation\"' '$TMPD/coco.json') -eq $((3 * n_a))"

# bad input
head -c 20000 "$GOLDEN/dog.jpg" > "$V/JPEGImages/b.jpg"
tap_ok "a corrupt JPEG stops the run naming the file" sh -c \
    "! '$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/bad.h5' 2> '$TMPD/e1.txt' && grep -q 'b.jpg' '$TMPD/e1.txt'"
tap_ok "images finished before the error are kept" test -e "$TMPD/bad.h5.parts/a.h5"
rm "$V/JPEGImages/b.jpg"
tap_ok "a missing image is named" sh -c \
    "! '$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/bad2.h5' 2> '$TMPD/e2.txt' && grep -q 'JPEGImages/b.jpg' '$TMPD/e2.txt'"
printf 'amg:\n  points_per_sid: 8\n' > "$TMPD/unknown.yaml"
tap_ok "an unknown key is named with its line" sh -c \
    "! '$WSSEED' masks '$TMPD/unknown.yaml' 2> '$TMPD/e3.txt' && grep -q \"unknown.yaml:2: unknown key 'amg.points_per_sid'\" '$TMPD/e3.txt'"
printf 'amg:\n  points_per_side: [8\n' > "$TMPD/broken.yaml"
tap_ok "malformed YAML is reported" sh -c "! '$WSSEED' masks '$TMPD/broken.yaml' 2> '$TMPD/e4.txt' && grep -q 'broken.yaml:.*malformed YAML' '$TMPD/e4.txt'"
tap_ok "a wrong type is reported" sh -c "! '$WSSEED' masks --set amg.points_per_side=many 2> '$TMPD/e5.txt' && grep -q 'amg.points_per_side. needs an integer' '$TMPD/e5.txt'"
tap_ok "a store made with other settings is refused" sh -c \
    "! '$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/one.h5' --set amg.box_nms_thresh=0.5 2> '$TMPD/e6.txt' && grep -q 'one.h5 exists and was made with other settings' '$TMPD/e6.txt'"
# a plain image list (paths relative to the list), PNG input, and bad PNG / checkpoint files
mkdir -p "$TMPD/list"
"$top_builddir/tests/pngstat" "$TMPD/png/a/1.png" > /dev/null
cp "$TMPD/png/a/1.png" "$TMPD/list/grey.png"
cp "$GOLDEN/dog.jpg" "$TMPD/list/dog.jpg"
printf 'dog.jpg\ngrey.png\n' > "$TMPD/list/images.txt"
tap_ok "data.list with a JPEG and a PNG" "$WSSEED" masks "$V/masks.yaml" --set data.list="$TMPD/list/images.txt" \
    --set output.store="$TMPD/list.h5"
tap_ok "the list store holds both ids" sh -c "h5ls '$TMPD/list.h5/masks' | grep -q '^dog' && h5ls '$TMPD/list.h5/masks' | grep -q '^grey'"
head -c $(($(wc -c < "$TMPD/png/a/1.png") / 2)) "$TMPD/png/a/1.png" > "$TMPD/list/grey.png"
tap_ok "a truncated PNG is named" sh -c \
    "! '$WSSEED' masks '$V/masks.yaml' --set data.list='$TMPD/list/images.txt' --set output.store='$TMPD/list2.h5' 2> '$TMPD/e7.txt' && grep -q 'grey.png' '$TMPD/e7.txt'"
tap_ok "a CLIP checkpoint given as SAM is refused by name" sh -c \
    "! '$WSSEED' masks '$V/masks.yaml' --set model.sam='$GOLDEN/clip_tiny.pt' --set output.store='$TMPD/x.h5' 2> '$TMPD/e8.txt' && grep -q 'clip_tiny.pt' '$TMPD/e8.txt'"

tap_ok "configs/voc/masks.yaml holds exactly the built-in defaults" sh -c \
    "'$WSSEED' masks '$top_srcdir/configs/voc/masks.yaml' --help > '$TMPD/h1' && '$WSSEED' masks --help > '$TMPD/h2' && cmp '$TMPD/h1' '$TMPD/h2'"
tap_end

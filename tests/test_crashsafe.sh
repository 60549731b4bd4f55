#!/bin/sh
# test_crashsafe.sh - runs that must not strand (issue 13): locks that cannot outlive their holder,
# stage markers that are not trusted without their outputs, split files in the forms users have.
#   - a merge lock left by a killed process (the old <store>.merge.lock, or the kernel lock of a
#     process that is gone) never blocks a rerun; a live holder is waited for, then the store is whole;
#   - a pipeline stage whose DONE stamp is there but whose outputs were lost is redone;
#   - synth refuses a non-empty folder (--force writes into it) but finishes one it was killed in;
#     ground truth and label maps holding values that are no class are named (file, value, pixel count), not ignored;
#   - nan/inf, a negative learning rate and an inverted scale range are refused by key; the pipeline
#     names every missing model file and bad setting before its first stage;
#   - one split reader: UTF-8 BOM, CRLF, comments, blank lines, surrounding blanks and the
#     two-column train_aug.txt; an id listed twice is an error naming both lines (before any work).
# Random-weight SAM and CLIP (no golden files needed).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"

V="$TMPD/voc"
"$WSSEED" synth "$V" --images 6 --min-side 48 --max-side 64 --classes 3 --seed 3 > /dev/null
M="--set model.sam=random:tiny --set data.root=$V --set amg.points_per_side=4 --set amg.pred_iou_thresh=0 --set amg.stability_score_thresh=0 --set amg.crop_n_layers=0"

# -- merge locks --
"$WSSEED" masks $M --set data.split=train --set output.store="$TMPD/b.h5" --max-images 2 2> /dev/null
touch "$TMPD/b.h5.merge.lock"     # what a kill -9 during the merge left behind before
tap_ok "a lock file left by a killed merge does not strand the store" sh -c \
    "'$WSSEED' masks $M --set data.split=train --set output.store=$TMPD/b.h5 2> $TMPD/l1 && grep -q 'store complete' $TMPD/l1 && test -s $TMPD/b.h5"
"$WSSEED" masks $M --set data.split=train --set output.store="$TMPD/c.h5" --max-images 2 2> /dev/null
mkdir -p "$TMPD/c.h5.parts"
# a live holder of the merge lock, released only when the test says so (no timing assumptions)
flock "$TMPD/c.h5.parts/.lock" sh -c "touch '$TMPD/held'; while [ ! -e '$TMPD/release' ]; do sleep 0.1; done" &
holder=$!
for _ in $(seq 600); do [ -e "$TMPD/held" ] && break; sleep 0.1; done
"$WSSEED" masks $M --set data.split=train --set output.store="$TMPD/c.h5" 2> "$TMPD/l2" &
run=$!
for _ in $(seq 600); do grep -q 'waiting for it' "$TMPD/l2" 2> /dev/null && break; sleep 0.1; done
touch "$TMPD/release"
wait $holder
wait $run
rc=$?
tap_ok "a live merge holder is waited for, then the store is whole" sh -c \
    "test $rc -eq 0 && grep -q 'waiting for it' $TMPD/l2 && grep -q 'store complete' $TMPD/l2 && test -s $TMPD/c.h5 && test ! -e $TMPD/c.h5.parts"

# -- split files as users write them --
printf '\357\273\277%s\r\n# a comment\n\n  %s \t\r\n/JPEGImages/%s.jpg /SegmentationClassAug/%s.png\n' \
    "$(sed -n 1p "$V/ImageSets/Segmentation/train_aug.txt")" "$(sed -n 2p "$V/ImageSets/Segmentation/train_aug.txt")" \
    "$(sed -n 3p "$V/ImageSets/Segmentation/train_aug.txt")" "$(sed -n 3p "$V/ImageSets/Segmentation/train_aug.txt")" \
    > "$V/ImageSets/Segmentation/odd.txt"
tap_ok "BOM, CRLF, comments, blanks and the two-column format are read" sh -c \
    "'$WSSEED' masks $M --set data.split=odd --set output.store=$TMPD/odd.h5 2> $TMPD/l3 && h5ls $TMPD/odd.h5/masks | wc -l | grep -qx 3"
{ cat "$V/ImageSets/Segmentation/train_aug.txt"; sed -n 1p "$V/ImageSets/Segmentation/train_aug.txt"; } > "$V/ImageSets/Segmentation/dup.txt"
n=$(wc -l < "$V/ImageSets/Segmentation/dup.txt")
tap_ok "an id listed twice is refused before any work, naming both lines" sh -c \
    "! '$WSSEED' masks $M --set data.split=dup --set output.store=$TMPD/dup.h5 2> $TMPD/l4 &&
     grep -q 'dup.txt:$n: image .* is listed again (first at line 1)' $TMPD/l4 && test ! -e $TMPD/dup.h5.parts/$(sed -n 1p "$V/ImageSets/Segmentation/train_aug.txt").h5"

# -- the pipeline does not trust a DONE stamp without its outputs --
P="'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/p --set data.root=$TMPD/pdata --set data.synth=8"
P="$P --set cls.train.max_iter=2 --set seg.train.max_iter=2 --set cls.train.save_every=2 --set seg.train.save_every=2"
tap_ok "a pipeline run" sh -c "$P > $TMPD/p1 2>&1"
rm -f "$TMPD"/p/demo/masks/masks.h5 "$TMPD"/p/demo/seeds_fine/seeds/*0.png
tap_ok "a stage whose outputs were lost is redone, not skipped" sh -c "$P > $TMPD/p2 2>&1 &&
    grep -q 'redo  masks' $TMPD/p2 && grep -q 'redo  seeds_fine' $TMPD/p2 && grep -q 'skip  train_cls' $TMPD/p2"
tap_ok "... and its outputs are back" sh -c "test -s $TMPD/p/demo/masks/masks.h5 &&
    test \$(ls $TMPD/p/demo/seeds_fine/seeds | wc -l) -eq \$(wc -l < $TMPD/pdata/ImageSets/Segmentation/train_aug.txt)"
# -- settings checked where they are read; the pipeline checks everything before its first stage --
tap_ok "nan and inf are refused as numbers" sh -c "! '$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' --set optim.lr=nan 2> $TMPD/n1 &&
    grep -q 'optim.lr.*finite' $TMPD/n1 && ! '$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' --set optim.lr=inf 2> /dev/null"
tap_ok "a negative learning rate is refused by name" sh -c "! '$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' --set model.clip=random:tiny \
    --set model.vocab=builtin:bytes --set data.root=$V --set out_dir=$TMPD/t2 --set optim.lr=-0.1 2> $TMPD/n2 && grep -q 'optim.lr: -0.1 is negative' $TMPD/n2"
tap_ok "scale_low above scale_high is named, not 'out of memory'" sh -c "! '$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' \
    --set model.clip=random:tiny --set model.vocab=builtin:bytes --set data.root=$V --set out_dir=$TMPD/t3 --set aug.scale_low=500 \
    2> $TMPD/n3 && grep -q 'aug.scale_low 500 must be' $TMPD/n3"
tap_ok "the pipeline reports every missing file and bad setting before its first stage" sh -c \
    "! '$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/pf --set data.root=$TMPD/pdata --set model.vocab=$TMPD/none.gz \
       --set model.clip=$TMPD/none.pt --set seg.optim.lr=-1 2> $TMPD/n4 && grep -q '3 problems' $TMPD/n4 && grep -q 'model.vocab' $TMPD/n4 &&
     grep -q 'model.clip' $TMPD/n4 && grep -q 'seg.optim.lr' $TMPD/n4 && ! grep -q 'stage masks' $TMPD/n4"
tap_ok "... and the ranges of the masks, CAA, seed and boxed settings, under the pipeline's key names" sh -c \
    "! '$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/pr --set data.root=$TMPD/pdata --set masks.pred_iou_thresh=2 \
       --set caa.seg.box_thresh=-1 --set seed.cls_pow=0 --set boxed.enable=true --set boxed.labels.tau=7 2> $TMPD/n5 &&
     grep -q 'problems found before any stage' $TMPD/n5 && grep -q 'masks.pred_iou_thresh: 2' $TMPD/n5 && grep -q 'caa.seg:' $TMPD/n5 &&
     grep -q 'seed.cls_pow:' $TMPD/n5 && grep -q 'boxed.labels.tau: 7' $TMPD/n5 && ! grep -q 'stage masks' $TMPD/n5"
tap_ok "... and model names that are no file but no known built-in one either (random:, builtin:)" sh -c \
    "! '$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/pm --set data.root=$TMPD/pdata --set model.clip=random:nonsense \
       --set model.vocab=builtin:words --set model.sam=random:vit_l --set boxed.enable=true --set boxed.model.gdino=random:tiny 2> $TMPD/n6 &&
     grep -q '5 problems found before any stage' $TMPD/n6 && grep -q \"model.clip: unknown random CLIP 'random:nonsense'\" $TMPD/n6 &&
     grep -q \"model.vocab: unknown built-in vocabulary 'builtin:words'\" $TMPD/n6 && grep -q \"model.sam: unknown random SAM 'random:vit_l'\" $TMPD/n6 &&
     grep -q \"boxed.model.gdino: cannot read 'random:tiny'\" $TMPD/n6 && ! grep -q 'stage masks' $TMPD/n6"

# -- synth: a non-empty folder is refused; the split files land whole --
tap_ok "synth refuses a folder that is not empty" sh -c "! '$WSSEED' synth '$V' --images 4 2> $TMPD/s1 && grep -q 'not empty' $TMPD/s1 && grep -q -- '--force' $TMPD/s1"
tap_ok "... and writes into it with --force" sh -c "'$WSSEED' synth '$TMPD/v2' --images 4 --min-side 32 --max-side 40 > /dev/null &&
    '$WSSEED' synth '$TMPD/v2' --images 5 --min-side 32 --max-side 40 --force > /dev/null && test \$(wc -l < $TMPD/v2/ImageSets/Segmentation/train_aug.txt) -eq 4"
# killed while writing its 5th file (the 4 images come first, then the splits): the same command
# writes it again, as an uninterrupted synth, with no temporary file left
WSSEED_FAULT=file.commit:5:abort "$WSSEED" synth "$TMPD/v3" --images 4 --min-side 32 --max-side 40 > /dev/null 2>&1
rc=$?
tap_ok "synth killed while writing its split files (exit $rc) ..." sh -c \
    "test $rc -eq 137 && test ! -e '$TMPD/v3/ImageSets/Segmentation/train_aug.txt' && ls '$TMPD/v3/ImageSets/Segmentation' | grep -q tmp-"
tap_ok "... is finished by the same command: the files of an uninterrupted synth, no temporary left" sh -c \
    "'$WSSEED' synth '$TMPD/v3' --images 4 --min-side 32 --max-side 40 > /dev/null &&
     '$WSSEED' synth '$TMPD/v4' --images 4 --min-side 32 --max-side 40 > /dev/null && diff -r '$TMPD/v3' '$TMPD/v4'"
tap_ok "... and a finished synth folder is refused again" sh -c \
    "! '$WSSEED' synth '$TMPD/v3' --images 4 --min-side 32 --max-side 40 2> /dev/null"
mkdir -p "$TMPD/v5/JPEGImages" && : > "$TMPD/v5/JPEGImages/mine.jpg"
tap_ok "a folder holding other images than an interrupted synth's is refused" sh -c \
    "! '$WSSEED' synth '$TMPD/v5' --images 4 2> $TMPD/s5 && grep -q 'not empty' $TMPD/s5 && test -e '$TMPD/v5/JPEGImages/mine.jpg'"

# -- ground truth holding values that are no class: named, not silently ignored --
if command -v python3 > /dev/null; then
    id=$(sed -n 1p "$V/ImageSets/Segmentation/train_aug.txt")
    mkdir -p "$TMPD/gt" "$TMPD/pred"
    cp "$V/SegmentationClassAug/$id.png" "$TMPD/pred/$id.png"
    python3 - "$V/SegmentationClassAug/$id.png" "$TMPD/gt/$id.png" << 'EOP'
import struct, sys, zlib
# a grey 8-bit PNG of the same size as the label map, every pixel 37 (not a VOC class, not 255)
data = open(sys.argv[1], 'rb').read()
w, h = struct.unpack('>II', data[16:24])
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
raw = b''.join(b'\0' + bytes([37]) * w for _ in range(h))
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
                               + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
EOP
    tap_ok "eval names a ground-truth value that is no class" sh -c \
        "! '$WSSEED' eval '$TMPD/pred' --gt '$TMPD/gt' 2> $TMPD/g1 && grep -q '$id.png: value 37' $TMPD/g1"
    cp "$TMPD/gt/$id.png" "$V/SegmentationClassAug/$id.png"
    tap_ok "training names a label map value that is no class" sh -c \
        "! '$WSSEED' train '$top_srcdir/configs/voc/cls.yaml' --set model.clip=random:tiny --set model.vocab=builtin:bytes \
           --set data.root=$V --set out_dir=$TMPD/t --set train.max_iter=2 --set train.batch=2 --set aug.crop=112 \
           --set aug.short_thresh=112 --set aug.scale_low=128 --set aug.scale_high=160 --set train.save_every=1 2> $TMPD/g2 &&
         grep -q '$id.png: value 37' $TMPD/g2"
else
    echo "# python3 absent: the ground-truth value checks are not run"
fi
tap_end

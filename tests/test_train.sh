#!/bin/sh
# test_train.sh - `wsseed train` end to end on a synthetic VOC-layout dataset (`wsseed synth`)
# with the tiny CLIP of the golden folder (native 64x64 input, so the crop is 64):
#   - a cls run writes config.yaml, build.txt, train.log, metrics.csv and start/iter/final
#     checkpoints; the checked-in VOC/COCO configs resolve (configs/voc/cls.yaml = the defaults);
#   - loader threads do not change results (runtime.workers 1 vs 2);
#   - exact resume: a run killed with SIGKILL after a checkpoint and resumed with --resume auto
#     ends with the same context, momentum, data order and RNG state, bit for bit, and the same
#     metrics, as an uninterrupted run;
#   - a second training in a run folder that a running one holds is refused naming its pid;
#   - the feature cache: a cached run killed and resumed equals an uninterrupted cached run; a
#     cache of other settings is refused;
#   - a seg run (class-specific front ctx, empty bg names, CAM loss on seed maps) trains;
#   - a short run at a higher learning rate lowers the MCL loss;
#   - refusals: a checkpoint of the other task, a wrong architecture, a NaN loss, an unknown
#     key, a wrong type, malformed YAML, a missing split file, a corrupt image;
#   - export-ctx writes a state dict that loads back as prompt.init_file, bit for bit.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
V="$TMPD/voc"
E="$TMPD/exp"
tap_ok "wsseed synth writes a VOC-layout dataset" "$WSSEED" synth "$V" --images 30 --min-side 64 --max-side 120 --seed 3
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
  max_iter: 40
  save_every: 6
optim:
  warm_iters: 4
EOC
train() { "$WSSEED" train "$TMPD/tiny.yaml" "$@"; }
same_ckpt() {   # every dataset of two checkpoints identical (the config text names the run)
    tap_run "$H5CMP" "$1" "$2" --skip /config --tol '*=exact'
}

# -- configs --
"$WSSEED" train --help | sed -n '/^Keys/,$p' > "$TMPD/defaults.txt"
"$WSSEED" train "$top_srcdir/configs/voc/cls.yaml" --help | sed -n '/^Keys/,$p' > "$TMPD/voccls.txt"
tap_ok "configs/voc/cls.yaml states the built-in defaults" cmp "$TMPD/defaults.txt" "$TMPD/voccls.txt"
for f in voc/seg coco/cls coco/seg; do
    tap_ok "configs/$f.yaml resolves (base chain)" "$WSSEED" train "$top_srcdir/configs/$f.yaml" --help
done
tap_ok "coco/seg: shared ctx, 23 bg words, 8 chunks" sh -c "'$WSSEED' train '$top_srcdir/configs/coco/seg.yaml' --help |
    grep -q 'train.sub_iters  *8 ' && '$WSSEED' train '$top_srcdir/configs/coco/seg.yaml' --help | grep -q 'prompt.n_bg  *23 '"

# -- an uninterrupted run --
tap_ok "cls training run (40 iterations)" train --set run=full
for f in config.yaml build.txt train.log metrics.csv checkpoints/start.h5 checkpoints/iter-000006.h5 checkpoints/final.h5; do
    tap_ok "run folder has $f" test -s "$E/full/$f"
done
tap_ok "metrics.csv has one row per iteration" sh -c "test \$(wc -l < '$E/full/metrics.csv') -eq 41"

tap_ok "one loader thread (runtime.workers=1)" train --set run=w1 --set runtime.workers=1
same_ckpt "$E/full/checkpoints/final.h5" "$E/w1/checkpoints/final.h5"

# -- killed with SIGKILL, then resumed --
"$WSSEED" train "$TMPD/tiny.yaml" --set run=killed > "$TMPD/killed.log" 2>&1 &
pid=$!   # the wsseed process itself (not a subshell), so that SIGKILL stops it
n=0
while [ ! -e "$E/killed/checkpoints/iter-000012.h5" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
tap_ok "the run was killed before its end" sh -c "test ! -e '$E/killed/checkpoints/final.h5' && ! kill -0 $pid 2> /dev/null"
tap_ok "no temporary checkpoint is left behind as a checkpoint" sh -c "! ls '$E/killed/checkpoints/' | grep -v '^iter-0000[0-9][0-9].h5\$' | grep -v '^start.h5\$' | grep -qv tmp"
tap_ok "--resume auto continues the killed run" train --set run=killed --resume
same_ckpt "$E/full/checkpoints/final.h5" "$E/killed/checkpoints/final.h5"
tap_ok "resumed metrics equal the uninterrupted ones (iterations, losses, lr)" sh -c \
    "cut -d, -f1-7 '$E/full/metrics.csv' > '$TMPD/m1' && cut -d, -f1-7 '$E/killed/metrics.csv' > '$TMPD/m2' && cmp '$TMPD/m1' '$TMPD/m2'"
# a second training in the same run folder (a lock held as a running `wsseed train` holds it)
mkdir -p "$E/busy"
flock "$E/busy/.lock" sh -c "echo \$\$ > '$E/busy/.lock'; touch '$TMPD/held'; while [ ! -e '$TMPD/release' ]; do sleep 0.1; done" &
holder=$!
n=0
while [ ! -e "$TMPD/held" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
hp=$(cat "$E/busy/.lock")
tap_ok "a second training in a busy run folder is refused, naming the holder's pid and what to do" sh -c \
    "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=busy 2> '$TMPD/busy.log' && grep -q 'train (process $hp) is running in' '$TMPD/busy.log' &&
     grep -q 'another name' '$TMPD/busy.log' && test ! -e '$E/busy/checkpoints/start.h5'"
touch "$TMPD/release"
wait $holder
tap_ok "... and runs once the holder is gone" train --set run=busy --set train.max_iter=2
tap_ok "a finished run resumes to nothing" sh -c "'$WSSEED' train '$TMPD/tiny.yaml' --set run=killed --resume 2>&1 | grep -q 'nothing to do'"
tap_ok "--resume FILE from a middle checkpoint" train --set run=mid --resume "$E/full/checkpoints/iter-000018.h5"
same_ckpt "$E/full/checkpoints/final.h5" "$E/mid/checkpoints/final.h5"

# -- the feature cache (train.feature_cache) --
FC="--set train.feature_cache=$E/views.h5 --set train.cache_views=2"
# shellcheck disable=SC2086
tap_ok "cls training from a feature cache (built first, 2 views per image)" train --set run=cfull $FC
tap_ok "the cache store exists" test -s "$E/views.h5"
# shellcheck disable=SC2086
"$WSSEED" train "$TMPD/tiny.yaml" --set run=ckill $FC > "$TMPD/ckill.log" 2>&1 &
pid=$!
n=0
while [ ! -e "$E/ckill/checkpoints/iter-000012.h5" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
tap_ok "the cached run was killed before its end" sh -c "test ! -e '$E/ckill/checkpoints/final.h5' && ! kill -0 $pid 2> /dev/null"
# shellcheck disable=SC2086
tap_ok "--resume continues the cached run" train --set run=ckill $FC --resume
same_ckpt "$E/cfull/checkpoints/final.h5" "$E/ckill/checkpoints/final.h5"
# shellcheck disable=SC2086
tap_ok "a cache made with other settings is refused, saying why" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=cbad \
    --set train.feature_cache='$E/views.h5' --set train.cache_views=3 2> '$TMPD/ec' && grep -q 'other settings' '$TMPD/ec'"

# -- seg task --
SEG="--set task=seg --set prompt.csc=true --set prompt.cls_token_pos=front --set prompt.bg_names=empty"
SEG="$SEG --set prompt.init_seed=机 --set prompt.init_std=0.0125 --set loss.mcl=0 --set loss.cam_fg=1"
SEG="$SEG --set loss.cam_bg=1 --set aug.online_labels=true --set data.seed_dir=$V/SegmentationClassAug"
# shellcheck disable=SC2086
tap_ok "seg training run (CAM loss on seed maps, second-order gradient)" train --set run=seg --set train.max_iter=8 $SEG
tap_ok "seg losses are finite and positive" awk -F, 'NR > 1 && !($4 > 0 && $5 >= 0) { bad = 1 } END { exit bad }' "$E/seg/metrics.csv"
# shellcheck disable=SC2086
tap_ok "a cls checkpoint is refused for the seg task, saying why" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=seg2 $SEG \
    --resume '$E/full/checkpoints/final.h5' 2> '$TMPD/e1' && grep -q 'checkpoint of the cls task' '$TMPD/e1'"
tap_ok "a checkpoint of another architecture is refused" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=m8 \
    --set prompt.n_ctx=8 --resume '$E/full/checkpoints/final.h5' 2> '$TMPD/e2' && grep -q 'context tokens M is 16 there and 8 here' '$TMPD/e2'"

# -- learning --
tap_ok "a short run at lr 0.05 lowers the MCL loss (mean of the first vs the last 10 iterations)" sh -c \
    "'$WSSEED' train '$TMPD/tiny.yaml' --set run=learn --set train.max_iter=60 --set optim.lr=0.05 2>/dev/null &&
     awk -F, 'NR > 1 && NR <= 11 { a += \$2 } NR > 51 { b += \$2 } END { print \"first\", a / 10, \"last\", b / 10; exit !(b < 0.9 * a) }' '$E/learn/metrics.csv'"
tap_ok "a NaN loss stops the run with a clear error" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=nan \
    --set optim.lr=1e30 --set optim.warm_iters=0 2> '$TMPD/e3' && grep -q 'the loss is' '$TMPD/e3'"

# -- export --
tap_ok "export-ctx writes a PyTorch state dict" "$WSSEED" export-ctx "$E/full/checkpoints/final.h5" "$TMPD/ctx.pth"
tap_ok "the exported context loads back bit for bit (prompt.init_file)" train --set run=reload --set train.max_iter=1 \
    --set prompt.init_file="$TMPD/ctx.pth"
tap_run "$H5CMP" "$E/full/checkpoints/final.h5" "$E/reload/checkpoints/start.h5" --skip /config --skip '/meta/*' \
    --skip '/data/*' --skip '/rng/*' --skip '/optim/*' --tol '*=exact'

# -- COCO layout and a labels file --
C="$TMPD/coco"
mkdir -p "$C/JPEGImages/train" "$C/SegmentationClass/train" "$C/ImageSets"
cp "$V"/JPEGImages/*.jpg "$C/JPEGImages/train/"
cp "$V"/SegmentationClassAug/*.png "$C/SegmentationClass/train/"
cp "$V/ImageSets/Segmentation/train_aug.txt" "$C/ImageSets/train.txt"
tap_ok "cls training on the COCO-2014 layout (80 names, 23 bg words, 2 accumulation chunks)" \
    "$WSSEED" train "$top_srcdir/configs/coco/cls.yaml" --set out_dir="$E" --set run=coco --set data.root="$C" \
    --set model.clip="$GOLDEN/clip_tiny.pt" --set model.vocab="$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --set aug.scale_low=72 --set aug.scale_high=120 --set aug.short_thresh=64 --set aug.crop=64 \
    --set train.batch=4 --set train.sub_iters=2 --set train.max_iter=2
rm -rf "$C/SegmentationClass"
awk '{ printf "%s", $1; for (i = 2; i <= 4; i++) printf " %d", (NR * i) % 80 + 1; printf "\n" }' "$C/ImageSets/train.txt" > "$C/labels.txt"
tap_ok "image labels from a labels file when there are no masks" \
    "$WSSEED" train "$top_srcdir/configs/coco/cls.yaml" --set out_dir="$E" --set run=coco2 --set data.root="$C" \
    --set model.clip="$GOLDEN/clip_tiny.pt" --set model.vocab="$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --set aug.scale_low=72 --set aug.scale_high=120 --set aug.short_thresh=64 --set aug.crop=64 \
    --set train.batch=4 --set train.sub_iters=2 --set train.max_iter=2 --set data.label_dir= --set data.labels_file=labels.txt
echo "synth_000000 81" > "$C/bad_labels.txt"
tap_ok "a labels file with a bad class is refused with file:line" sh -c "! '$WSSEED' train '$top_srcdir/configs/coco/cls.yaml' \
    --set out_dir='$E' --set run=coco3 --set data.root='$C' --set model.clip='$GOLDEN/clip_tiny.pt' \
    --set model.vocab='$GOLDEN/bpe_simple_vocab_16e6.txt.gz' --set data.label_dir= --set data.labels_file=bad_labels.txt \
    2> '$TMPD/e9' && grep -q 'bad_labels.txt:1' '$TMPD/e9'"

# -- bad input --
printf 'train:\n  max_iters: 3\n' > "$TMPD/unknown.yaml"
tap_ok "an unknown key is named with file:line" sh -c "! '$WSSEED' train '$TMPD/unknown.yaml' 2> '$TMPD/e4' &&
    grep -q \"unknown.yaml:2: unknown key 'train.max_iters'\" '$TMPD/e4'"
printf 'train:\n  batch: many\n' > "$TMPD/type.yaml"
tap_ok "a wrong type is named with file:line" sh -c "! '$WSSEED' train '$TMPD/type.yaml' 2> '$TMPD/e5' && grep -q 'type.yaml:2' '$TMPD/e5'"
printf 'train: [1, 2\n' > "$TMPD/bad.yaml"
tap_ok "malformed YAML is reported" sh -c "! '$WSSEED' train '$TMPD/bad.yaml' 2> '$TMPD/e6' && grep -q 'malformed YAML' '$TMPD/e6'"
tap_ok "a missing split file is named" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=x --set data.split=nosuch 2> '$TMPD/e7' &&
    grep -q 'nosuch.txt' '$TMPD/e7'"
cp -r "$V" "$TMPD/voc2"
head -c 500 "$V/JPEGImages/synth_000001.jpg" > "$TMPD/voc2/JPEGImages/synth_000001.jpg"
tap_ok "a corrupt image is named" sh -c "! '$WSSEED' train '$TMPD/tiny.yaml' --set run=y --set data.root='$TMPD/voc2' \
    --set train.batch=24 --set train.max_iter=1 2> '$TMPD/e8' && grep -q 'synth_000001.jpg' '$TMPD/e8'"
tap_end

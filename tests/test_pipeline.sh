#!/bin/sh
# test_pipeline.sh - `wsseed pipeline` and `wsseed sweep` end to end on configs/demo.yaml (a
# synthetic dataset written by the pipeline, random-weight CLIP and SAM: no golden files needed):
#   - every stage runs; report.html is self-contained (embedded PNG panels: overlays, CAM, SAM
#     masks; SVG charts); eval tables exist; a second run skips every stage;
#   - a run killed with SIGKILL during the seg training and started again ends with the same fine
#     seeds and evaluation as an uninterrupted run;
#   - a 2x2 sweep shares the cached stages and writes summary.csv, summary.md and summary.html
#     with one plot per key;
#   - errors: an unknown override key, unknown sweep keys (file:line; swept keys before any run), a grid
#     key without values, a run the pre-flight refuses (before the first run), a missing config.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"
A="$TMPD/a"
B="$TMPD/b"

tap_ok "the demo pipeline runs" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir='$A' \
    --set data.root='$TMPD/data' > '$TMPD/a.log' 2>&1"
for s in masks train_cls cam_cls caa_cls seeds_coarse train_seg cam_seg caa_seg seeds_fine; do
    tap_ok "stage $s is linked into the run folder and done" test -e "$A/demo/$s/DONE"
done
tap_ok "report.html embeds its images (no external files)" sh -c "grep -q 'src=\"data:image/png;base64,' '$A/demo/report.html' &&
    ! grep -q 'src=\"http' '$A/demo/report.html'"
for cap in 'ground truth' 'coarse seed' 'fine seed' 'fine CAM' 'SAM masks'; do
    tap_ok "report.html shows: $cap" grep -q "<figcaption>$cap" "$A/demo/report.html"
done
for t in 'cls loss per iteration' 'seg learning rate per iteration' 'Per-class IoU of each seed mode' 'Confusion matrix'; do
    tap_ok "report.html charts: $t" grep -q "aria-label=\"$t" "$A/demo/report.html"
done
tap_ok "seed evaluation tables" sh -c "grep -q 'mIoU' '$A/demo/eval_coarse.md' && grep -q '\"mIoU\"' '$A/demo/eval_fine.json'"
tap_ok "a second run skips every stage" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir='$A' \
    --set data.root='$TMPD/data' 2>&1 | grep -c '^wsseed: skip ' | grep -qx 9"

# -- killed during the seg training, then started again --
"$WSSEED" pipeline "$top_srcdir/configs/demo.yaml" --set out_dir="$B" --set data.root="$TMPD/data" > "$TMPD/b.log" 2>&1 &
pid=$!   # the wsseed process itself (not a subshell), so that SIGKILL stops it
n=0
while ! ls "$B"/cache/train_seg-*/train/checkpoints/iter-000010.h5 > /dev/null 2>&1 && [ $n -lt 1200 ]; do
    sleep 0.05; n=$((n + 1))
done
kill -9 $pid 2> /dev/null
wait $pid 2> /dev/null
tap_ok "the run was killed during the seg training" sh -c "test ! -e '$B/demo/seeds_fine' && ! kill -0 $pid 2> /dev/null"
tap_ok "started again, it completes" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir='$B' \
    --set data.root='$TMPD/data' > '$TMPD/b2.log' 2>&1"
tap_ok "the resumed run's fine seeds equal the uninterrupted run's" sh -c \
    "for f in '$A'/demo/seeds_fine/seeds/*.png; do cmp \"\$f\" '$B'/demo/seeds_fine/seeds/\$(basename \$f) || exit 1; done"
tap_ok "... and so does the evaluation" cmp "$A/demo/eval_fine.json" "$B/demo/eval_fine.json"
tap_ok "... and the seg training metrics (iterations, losses, lr)" sh -c \
    "cut -d, -f1-7 '$A'/demo/train_seg/train/metrics.csv > '$TMPD/m1'; cut -d, -f1-7 '$B'/demo/train_seg/train/metrics.csv > '$TMPD/m2'; cmp '$TMPD/m1' '$TMPD/m2'"

# -- a 2x2 sweep --
cat > "$TMPD/sweep.yaml" <<EOC
pipeline: $top_srcdir/configs/demo.yaml
name: sw
set:
  out_dir: $A
  data.root: $TMPD/data
grid:
  seed.seg_pow: [0.5, 0.7]
  caa.seg.box_thresh: [0.4, 0.5]
EOC
tap_ok "wsseed sweep (2x2)" sh -c "'$WSSEED' sweep '$TMPD/sweep.yaml' > '$TMPD/s.log' 2>&1"
tap_ok "the sweep reuses the cached upstream stages" sh -c "! grep -q 'stage train_' '$TMPD/s.log'"
tap_ok "summary.csv: a header and 4 runs" sh -c "test \$(wc -l < '$A/sw/summary.csv') -eq 5"
tap_ok "summary.md table" grep -q '| seed.seg_pow | caa.seg.box_thresh | coarse mIoU | fine mIoU |' "$A/sw/summary.md"
tap_ok "summary.html: one labelled plot per swept key" sh -c "grep -q 'aria-label=\"Seed mIoU against seed.seg_pow' '$A/sw/summary.html' &&
    grep -q 'aria-label=\"Seed mIoU against caa.seg.box_thresh' '$A/sw/summary.html'"
tap_ok "sweep --list names the runs" sh -c "'$WSSEED' sweep '$TMPD/sweep.yaml' --list | grep -c 'seed.seg_pow=' | grep -qx 4"

# -- errors --
tap_ok "an unknown override key is an error naming it" sh -c "! '$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' \
    --set seg.train.max_iters=3 2> '$TMPD/e1' && grep -q 'seg.train.max_iters' '$TMPD/e1'"
printf 'pipeline: x.yaml\ngrids:\n  a: [1]\n' > "$TMPD/bad.yaml"
tap_ok "an unknown sweep key is named with file:line" sh -c "! '$WSSEED' sweep '$TMPD/bad.yaml' 2> '$TMPD/e2' &&
    grep -q 'bad.yaml:2: unknown key' '$TMPD/e2'"
printf 'pipeline: %s\nset:\n  out_dir: %s\ngrid:\n  seed.seg_pow: [1, 2]\n  cls.train.max_iterz: [1]\n' \
    "$top_srcdir/configs/demo.yaml" "$TMPD/sw_bad" > "$TMPD/bad2.yaml"
tap_ok "a swept key that is no pipeline key is named by its line, the likely key suggested, before any run" sh -c \
    "! '$WSSEED' sweep '$TMPD/bad2.yaml' 2> '$TMPD/e4' && grep -q \"bad2.yaml:6: unknown key 'cls.train.max_iterz'; did you mean 'cls.train.max_iter'\" '$TMPD/e4' &&
     test ! -e '$TMPD/sw_bad'"
printf 'pipeline: %s\ngrid:\n  seed.seg_pow: []\n' "$top_srcdir/configs/demo.yaml" > "$TMPD/bad3.yaml"
tap_ok "a grid key without values is refused, named by its line" sh -c \
    "! '$WSSEED' sweep '$TMPD/bad3.yaml' --list 2> '$TMPD/e5' && grep -q \"bad3.yaml:3: grid key 'seed.seg_pow' has no values\" '$TMPD/e5'"
printf 'pipeline: %s\nset:\n  out_dir: %s\n  data.root: %s\nlist:\n  - {seed.seg_pow: 1}\n  - {seed.cls_pow: 0}\n' \
    "$top_srcdir/configs/demo.yaml" "$TMPD/sw_pre" "$TMPD/data" > "$TMPD/bad4.yaml"
tap_ok "a run whose settings the pipeline refuses (the 2nd of 2) stops the sweep before the 1st starts" sh -c \
    "! '$WSSEED' sweep '$TMPD/bad4.yaml' 2> '$TMPD/e6' && grep -q 'bad4.yaml: run 2 of 2 (seed.cls_pow=0): the pipeline cannot run' '$TMPD/e6' &&
     grep -q 'seed.cls_pow:' '$TMPD/e6' && ! grep -q 'stage ' '$TMPD/e6' && test ! -e '$TMPD/sw_pre'"
tap_ok "a missing pipeline config is named" sh -c "! '$WSSEED' pipeline '$TMPD/none.yaml' 2> '$TMPD/e3' && grep -q 'none.yaml' '$TMPD/e3'"
tap_ok "configs/voc/pipeline.yaml states the built-in defaults" sh -c \
    "'$WSSEED' pipeline --help | sed -n '/^Keys/,\$p' > '$TMPD/d1'; '$WSSEED' pipeline '$top_srcdir/configs/voc/pipeline.yaml' --help | sed -n '/^Keys/,\$p' > '$TMPD/d2'; cmp '$TMPD/d1' '$TMPD/d2'"
for f in "$top_srcdir"/configs/voc/ablation-*.yaml; do
    tap_ok "$(basename "$f") lists its runs" sh -c "'$WSSEED' sweep '$f' --list | grep -q ablation"
done
tap_end

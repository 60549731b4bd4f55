#!/bin/sh
# test_dist.sh - several ranks on this machine (127.0.0.1 only), started by `wsseed launch`:
#   - the collectives (sums, broadcast, agreement) between 2 and 3 ranks; a rank that fails, one
#     killed with SIGKILL and one that never joins are named by the others, within the timeout;
#   - `wsseed masks` under 2 and 3 ranks gives the store of one process, dataset for dataset bit for
#     bit; a rank killed (SIGKILL) mid-share is named by the launcher and by rank 0, the images done
#     are kept, and the rerun completes the same store;
#   - data-parallel training (train.sub_iters 4 over 2 ranks) ends within the stated tolerance of one
#     process (ctx: 1e-6 absolute, momentum: 1e-5 x its largest value; measured 1e-8 and 5e-6);
#     2 chunks over 2 ranks are exact; a run resumed with 3 ranks from the 2-rank checkpoint too;
#   - the demo pipeline (shrunk) under 2 ranks gives the stores, seeds and scores of one process;
#   - a 2x2 sweep with --spread runs under 2 ranks (2 runs each) gives the summary, seeds and
#     evaluations of one process; a run failing on rank 1 is named, rank 0's run is kept, and the
#     rerun finishes without redoing it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
if ! grep -q '^#define WS_HAVE_GLOO 1' "$top_builddir/config.h"; then
    echo "# SKIP this build has no c10d Gloo (install libgloo-dev and run ./configure again)"
    exit 77
fi
unset RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT SLURM_PROCID SLURM_NTASKS SLURM_LOCALID
export WSSEED_DIST_TIMEOUT=60
# launch LOG N ARGS...: `wsseed launch -n N` on a random free-looking port; another port when the
# one drawn was taken (by another test), three times at most. The status is launch's.
launch() {
    log=$1; n=$2; shift 2
    for try in 1 2 3; do
        port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
        "$WSSEED" launch -n "$n" --port "$port" "$@" > "$log" 2>&1
        rc=$?
        grep -qi 'address already in use' "$log" || return $rc
    done
    return $rc
}
same_store() {   # every dataset of two HDF5 files bit for bit, both ways (no extra image either side)
    tap_run "$H5CMP" "$1" "$2" --tol '*=exact'
    tap_run "$H5CMP" "$2" "$1" --tol '*=exact'
}

# -- the collectives --
for n in 2 3; do
    tap_ok "$n ranks: sums, broadcast, agreement" launch "$TMPD/c$n.log" $n sh -c "exec '$top_builddir/tests/test_dist' ok > '$TMPD/c$n.'\$RANK"
    tap_ok "... every rank's checks passed" sh -c "for r in \$(seq 0 $((n - 1))); do grep -q '^1\.\.7' '$TMPD/c$n.'\$r && ! grep -q '^not ok' '$TMPD/c$n.'\$r || exit 1; done"
done
launch "$TMPD/f.log" 3 "$top_builddir/tests/test_dist" fail1
tap_ok "a rank that fails: launch fails naming it" sh -c "test $? -ne 0 && grep -q 'rank 1 (pid [0-9]*) exit status 1' '$TMPD/f.log'"
tap_ok "... and ranks 0 and 2 say that rank 1 failed" sh -c \
    "grep -q '^rank 0: rank(s) 1 failed during test step' '$TMPD/f.log' && grep -q '^rank 2: rank(s) 1 failed during test step' '$TMPD/f.log'"
start=$(date +%s)
launch "$TMPD/k.log" 3 "$top_builddir/tests/test_dist" kill1
st=$?
took=$(($(date +%s) - start))
tap_ok "a rank killed by SIGKILL: launch fails naming it" sh -c "test $st -ne 0 && grep -q 'rank 1 (pid [0-9]*) killed by signal 9' '$TMPD/k.log'"
tap_ok "... the others name it as the rank that did not arrive, before the timeout ($took s)" sh -c \
    "grep -q '^rank 0: .*rank 1 did not arrive' '$TMPD/k.log' && grep -q '^rank 2: .*rank 1 did not arrive' '$TMPD/k.log' && test $took -lt 60"
# work apart (a sweep's --spread runs): a rank 4 s beyond WSSEED_DIST_TIMEOUT is still met; a killed one is named
(WSSEED_DIST_TIMEOUT=3; export WSSEED_DIST_TIMEOUT
 launch "$TMPD/ap.log" 2 sh -c "exec '$top_builddir/tests/test_dist' apart > '$TMPD/ap.'\$RANK")
tap_ok "apart: 2 ranks meet again after one worked past the timeout" test $? -eq 0
tap_ok "... every rank's checks passed" sh -c "for r in 0 1; do grep -q '^1\.\.5' '$TMPD/ap.'\$r && ! grep -q '^not ok' '$TMPD/ap.'\$r || exit 1; done"
start=$(date +%s)
launch "$TMPD/ak.log" 3 "$top_builddir/tests/test_dist" apartkill
st=$?
took=$(($(date +%s) - start))
tap_ok "apart: a rank killed meanwhile is named by the others ($took s)" sh -c "test $st -ne 0 &&
    grep -q '^rank 0: .*rank 1' '$TMPD/ak.log' && grep -q '^rank 2: .*rank 1' '$TMPD/ak.log' && test $took -lt 25"
tap_ok "a rank that never joins is named after WSSEED_DIST_TIMEOUT" sh -c \
    "! RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$((20000 + $$ % 40000)) WSSEED_DIST_TIMEOUT=3 '$top_builddir/tests/test_dist' ok > '$TMPD/j.log' 2>&1 &&
     grep -q 'rank(s) 1 did not join within 3 s' '$TMPD/j.log'"
tap_ok "RANK out of WORLD_SIZE is refused naming it" sh -c \
    "! RANK=2 WORLD_SIZE=2 '$top_builddir/tests/test_dist' ok > '$TMPD/r.log' 2>&1 && grep -q \"RANK='2' is not an integer in \\[0, 1\\]\" '$TMPD/r.log'"
tap_ok "several ranks without MASTER_ADDR are refused naming it" sh -c \
    "! SLURM_PROCID=0 SLURM_NTASKS=2 '$top_builddir/tests/test_dist' ok > '$TMPD/a.log' 2>&1 && grep -q 'SLURM_PROCID/SLURM_NTASKS says 2 ranks but MASTER_ADDR is not set' '$TMPD/a.log'"

# -- masks: 1, 2 and 3 ranks --
V="$TMPD/voc"
mkdir -p "$V/JPEGImages" "$V/ImageSets/Segmentation"
for i in a b c d e; do cp "$GOLDEN/dog.jpg" "$V/JPEGImages/$i.jpg"; done
printf 'a\nb\nc\nd\ne\n' > "$V/ImageSets/Segmentation/mini.txt"
cat > "$V/masks.yaml" <<EOC
model:
  sam: $GOLDEN/sam_tiny.pth
data:
  root: $V
  split: mini
amg:
  points_per_side: 4
  points_per_batch: 16
  pred_iou_thresh: 0.02
  stability_score_thresh: 0
EOC
tap_ok "masks, one process" sh -c "'$WSSEED' masks '$V/masks.yaml' --set output.store='$TMPD/m1.h5' > '$TMPD/m1.log' 2>&1"
# 3 ranks are given the command as torchrun is ("wsseed masks"): this wsseed runs, not one on PATH
for n in 2 3; do
    w=""; [ $n -eq 3 ] && w=wsseed
    # shellcheck disable=SC2086
    tap_ok "masks, $n ranks${w:+ (written 'wsseed masks')}" launch "$TMPD/m$n.log" $n $w masks "$V/masks.yaml" --set output.store="$TMPD/m$n.h5"
    tap_ok "... the result said once (by rank 0), every rank's line whole" sh -c \
        "test \$(grep -c 'store complete' '$TMPD/m$n.log') -eq 1 && ! grep -Eq '^wsseed( \\(rank [0-9]+\\))?: wsseed( \\(rank [0-9]+\\))?: ' '$TMPD/m$n.log'"
    same_store "$TMPD/m1.h5" "$TMPD/m$n.h5"
done
launch "$TMPD/sh.log" 2 masks "$V/masks.yaml" --set output.store="$TMPD/sh.h5" --shard 1/2
tap_ok "--shard 1/2 under 2 ranks takes images 1 and 3 of 5 (shards 1/4 and 3/4)" sh -c \
    "test $? -eq 0 && test \"\$(ls '$TMPD/sh.h5.parts' | sort | tr '\n' ' ')\" = 'b.h5 d.h5 '"
# image b is rank 1's: a FIFO that rank 1 blocks on (the test holds its writing end open), so that
# rank 1 is surely mid-share when it is killed with SIGKILL; the rerun with the image completes
rm "$V/JPEGImages/b.jpg"
mkfifo "$V/JPEGImages/b.jpg"
"$WSSEED" launch -n 2 --port $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000)) masks "$V/masks.yaml" \
    --set output.store="$TMPD/mb.h5" > "$TMPD/kill.log" 2>&1 &
lp=$!
( exec 3> "$V/JPEGImages/b.jpg"; : > "$TMPD/opened"; sleep 600 ) &
wp=$!
n=0
while [ ! -e "$TMPD/opened" ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n + 1)); done
# the launcher's child with RANK=1 (read from /proc: a minimal Debian has no pgrep)
for d in /proc/[0-9]*; do
    [ "$(awk '/^PPid:/ { print $2 }' "$d/status" 2> /dev/null)" = "$lp" ] || continue
    tr '\0' '\n' < "$d/environ" 2> /dev/null | grep -qx RANK=1 && kill -9 "${d#/proc/}"
done
wait $lp
st=$?
kill $wp 2> /dev/null
wait $wp 2> /dev/null
tap_ok "rank 1 killed mid-share: launch fails naming it" sh -c "test $st -ne 0 && grep -q 'rank 1 (pid [0-9]*) killed by signal 9' '$TMPD/kill.log'"
tap_ok "... rank 0 names rank 1 as the rank that did not arrive" grep -q 'rank 0 of 2: the shares of masks failed: rank 1 did not arrive' "$TMPD/kill.log"
tap_ok "... rank 0's images are kept" sh -c "test -e '$TMPD/mb.h5.parts/a.h5' && test -e '$TMPD/mb.h5.parts/e.h5' && test ! -e '$TMPD/mb.h5'"
rm "$V/JPEGImages/b.jpg"
cp "$GOLDEN/dog.jpg" "$V/JPEGImages/b.jpg"
tap_ok "the rerun completes the store" launch "$TMPD/bad2.log" 2 masks "$V/masks.yaml" --set output.store="$TMPD/mb.h5"
tap_ok "... without redoing rank 0's images" grep -q '0 to do in shard 0/2' "$TMPD/bad2.log"
same_store "$TMPD/m1.h5" "$TMPD/mb.h5"

# -- data-parallel training --
"$WSSEED" synth "$TMPD/tv" --images 16 --min-side 64 --max-side 100 --seed 3 > /dev/null 2>&1
cat > "$TMPD/tiny.yaml" <<EOC
base: $top_srcdir/configs/voc/cls.yaml
run: tiny
out_dir: $TMPD/exp
model:
  clip: $GOLDEN/clip_tiny.pt
  vocab: $GOLDEN/bpe_simple_vocab_16e6.txt.gz
data:
  root: $TMPD/tv
aug:
  scale_low: 72
  scale_high: 120
  short_thresh: 64
  crop: 64
train:
  batch: 4
  sub_iters: 4
  max_iter: 6
  save_every: 3
optim:
  warm_iters: 2
EOC
E="$TMPD/exp"
TOL="--skip /config --tol /ctx=abs:1e-6 --tol /optim/momentum_buffer=scaled:1e-5 --tol *=exact"
tap_ok "training, one process" sh -c "'$WSSEED' train '$TMPD/tiny.yaml' --set run=one > '$TMPD/t1.log' 2>&1"
tap_ok "training, 2 ranks (4 chunks)" launch "$TMPD/t2.log" 2 train "$TMPD/tiny.yaml" --set run=two
tap_run "$H5CMP" "$E/one/checkpoints/final.h5" "$E/two/checkpoints/final.h5" $TOL
tap_ok "rank 0 alone wrote the metrics: one row per iteration" sh -c "test \$(wc -l < '$E/two/metrics.csv') -eq 7"
mkdir -p "$E/three/checkpoints"
cp "$E/two/checkpoints/iter-000003.h5" "$E/three/checkpoints/"
tap_ok "the 2-rank run's checkpoint resumed with 3 ranks" launch "$TMPD/t3.log" 3 train "$TMPD/tiny.yaml" --set run=three --resume auto
tap_ok "... from iteration 3" grep -q 'iter-000003.h5' "$TMPD/t3.log"
tap_run "$H5CMP" "$E/one/checkpoints/final.h5" "$E/three/checkpoints/final.h5" $TOL
tap_ok "training with 2 chunks, one process" sh -c "'$WSSEED' train '$TMPD/tiny.yaml' --set run=one2 --set train.sub_iters=2 > '$TMPD/t4.log' 2>&1"
tap_ok "training with 2 chunks, 2 ranks" launch "$TMPD/t5.log" 2 train "$TMPD/tiny.yaml" --set run=two2 --set train.sub_iters=2
tap_run "$H5CMP" "$E/one2/checkpoints/final.h5" "$E/two2/checkpoints/final.h5" --skip /config --tol '*=exact'

# -- the demo pipeline, shrunk: 2 ranks against one process --
S="--set data.root=$TMPD/pdata --set data.synth=8 --set cls.train.max_iter=3 --set seg.train.max_iter=3"
S="$S --set cls.train.save_every=2 --set seg.train.save_every=2 --set masks.points_per_side=4"
tap_ok "demo pipeline, one process" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir='$TMPD/p1' $S > '$TMPD/p1.log' 2>&1"
tap_ok "demo pipeline, 2 ranks" launch "$TMPD/p2.log" 2 pipeline "$top_srcdir/configs/demo.yaml" --set out_dir="$TMPD/p2" $S
for s in masks/masks.h5 cam_cls/cams.h5 caa_cls/caa.h5 cam_seg/cams.h5 caa_seg/caa.h5; do
    tap_run "$H5CMP" "$TMPD/p1/demo/$s" "$TMPD/p2/demo/$s" --tol '*=exact'
done
tap_ok "the same coarse and fine seeds, byte for byte" sh -c "for t in coarse fine; do for f in '$TMPD'/p1/demo/seeds_\$t/seeds/*.png; do
    cmp \"\$f\" '$TMPD'/p2/demo/seeds_\$t/seeds/\$(basename \"\$f\") || exit 1; done; done"
tap_ok "the same evaluation" sh -c "cmp '$TMPD/p1/demo/eval_coarse.json' '$TMPD/p2/demo/eval_coarse.json' && cmp '$TMPD/p1/demo/eval_fine.json' '$TMPD/p2/demo/eval_fine.json'"
tap_ok "each stage's DONE stamp was written once (by rank 0)" sh -c "test \$(grep -c '^wsseed.*: stage ' '$TMPD/p2.log') -eq 9"
launch "$TMPD/p3.log" 2 pipeline "$top_srcdir/configs/demo.yaml" --set out_dir="$TMPD/p2" $S
tap_ok "a rerun under 2 ranks skips every stage" sh -c "test $? -eq 0 && test \$(grep -c '^wsseed.*: skip ' '$TMPD/p3.log') -eq 9"

# -- a sweep spread over ranks by whole runs: the runs, scores and summary of one process --
# Both sweeps start from copies of the cache the pipeline above left (its upstream stages), so each
# computes the new seed stages itself; under 2 ranks the two ranks do so side by side.
cp -r "$TMPD/p1/cache" "$TMPD/cache1" && cp -r "$TMPD/p1/cache" "$TMPD/cache2"
for k in 1 2; do
    cat > "$TMPD/sweep$k.yaml" <<EOC
pipeline: $top_srcdir/configs/demo.yaml
name: sw
set: {out_dir: $TMPD/sw$k, cache_dir: $TMPD/cache$k, data.root: $TMPD/pdata, data.synth: 8, cls.train.max_iter: 3, seg.train.max_iter: 3, cls.train.save_every: 2, seg.train.save_every: 2, masks.points_per_side: 4}
grid:
  seed.seg_pow: [0.5, 0.7]
  seed.cls_pow: [0.6, 0.8]
EOC
done
tap_ok "a 2x2 sweep, one process" sh -c "'$WSSEED' sweep '$TMPD/sweep1.yaml' > '$TMPD/sw1.log' 2>&1"
tap_ok "the same sweep, 2 ranks, --spread runs" launch "$TMPD/sw2.log" 2 sweep "$TMPD/sweep2.yaml" --spread runs
tap_ok "... each rank ran 2 of the 4 runs" sh -c "test \$(grep -c 'sweep run [13]/4' '$TMPD/sw2.log') -eq 2 &&
    test \$(grep -c 'sweep run [24]/4' '$TMPD/sw2.log') -eq 2 && grep -q 'spread over 2 ranks (this is rank 1)' '$TMPD/sw2.log'"
tap_ok "... the same summary.csv" cmp "$TMPD/sw1/sw/summary.csv" "$TMPD/sw2/sw/summary.csv"
tap_ok "... the same seeds and evaluation in every run" sh -c "for r in '$TMPD'/sw1/sw/seed.*; do b=\$(basename \"\$r\");
    for f in \"\$r\"/seeds_fine/seeds/*.png \"\$r\"/seeds_coarse/seeds/*.png \"\$r\"/eval_fine.json; do
        cmp \"\$f\" \"\$(echo \"\$f\" | sed 's|/sw1/|/sw2/|')\" || exit 1; done; done"
# a run that fails on one rank while it runs (its dataset holds an image that is no image; settings
# the pre-flight refuses stop the sweep before any run): the other rank's run finishes and is kept,
# the job fails naming the rank, and the rerun (the image repaired) only runs what is left
rm -rf "$TMPD/pdata_bad"
cp -r "$TMPD/pdata" "$TMPD/pdata_bad"
bad=$(sed -n 1p "$TMPD/pdata_bad/ImageSets/Segmentation/train_aug.txt")
mv "$TMPD/pdata_bad/JPEGImages/$bad.jpg" "$TMPD/good.jpg"
echo "no image" > "$TMPD/pdata_bad/JPEGImages/$bad.jpg"
cat > "$TMPD/sweep3.yaml" <<EOC
pipeline: $top_srcdir/configs/demo.yaml
name: sw3
set: {out_dir: $TMPD/sw2, cache_dir: $TMPD/cache2, data.root: $TMPD/pdata, data.synth: 8, cls.train.max_iter: 3, seg.train.max_iter: 3, cls.train.save_every: 2, seg.train.save_every: 2, masks.points_per_side: 4}
list:
  - {seed.seg_pow: 0.55}
  - {seed.seg_pow: 0.65, data.root: $TMPD/pdata_bad}
EOC
for pass in 1 2; do
    launch "$TMPD/sw3-$pass.log" 2 sweep "$TMPD/sweep3.yaml" --spread runs
    st=$?
    [ $pass -eq 1 ] || break
    tap_ok "a run failing on rank 1: the sweep fails naming rank 1" sh -c "test $st -ne 0 &&
        grep -q 'rank(s) 1 failed during the sweep' '$TMPD/sw3-1.log' && grep -q 'JPEGImages/$bad.jpg is neither a JPEG nor a PNG' '$TMPD/sw3-1.log'"
    tap_ok "... rank 0's run finished" test -e "$TMPD/sw2/sw3/seed.seg_pow=0.55/eval_fine.json"
    mv "$TMPD/good.jpg" "$TMPD/pdata_bad/JPEGImages/$bad.jpg"
done
tap_ok "the rerun completes the sweep" sh -c "test $st -eq 0 && test \$(wc -l < '$TMPD/sw2/sw3/summary.csv') -eq 3"
tap_ok "... without running rank 0's finished run again" sh -c "test \$(grep -c '^wsseed: skip ' '$TMPD/sw3-2.log') -ge 9"
tap_end

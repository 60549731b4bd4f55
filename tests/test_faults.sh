#!/bin/sh
# test_faults.sh - crashes and full disks at every named fault point (core/fault.h, ARCHITECTURE.md
# "Fault points"), then a rerun that must equal an uninterrupted run byte for byte:
#   - masks, cam, training with the feature cache: every point the command passes (listed by
#     WSSEED_FAULT_TRACE) is hit once with `abort` (the process dies there as by kill -9) and once
#     with `enospc` (the write fails as on a full disk: exit 1 naming the file, no crash); the
#     rerun's store, cache and checkpoint equal the uninterrupted run's (cmp);
#   - the pipeline: its own points (DONE stamps, seed PNGs, text files), then a kill-storm
#     (runs killed at random moments) after which a clean rerun equals the uninterrupted run;
#   - two pipelines: a second run on the same run folder is refused naming the holder's pid; a
#     stage locked by another process is waited for and not stamped done meanwhile;
#   - a real full disk (a small tmpfs, when this user may mount one) during the masks, a store
#     merge, a checkpoint, synth (libjpeg) and export-ctx: a clear message, no SIGSEGV, and the rerun
#     after freeing space finishes with the same bytes.
# Random-weight CLIP and SAM at demo size (no golden files needed).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
MNT="$TMPD/mnt"
cleanup() { mountpoint -q "$MNT" 2> /dev/null && umount "$MNT"; rm -rf "$TMPD"; }
[ -n "$KEEP" ] || trap cleanup EXIT
. "$top_srcdir/tests/tap_lib.sh"
unset WSSEED_FAULT WSSEED_FAULT_TRACE

V="$TMPD/voc"
"$WSSEED" synth "$V" --images 5 --min-side 48 --max-side 64 --classes 3 --seed 3 > /dev/null
O="$TMPD/o"   # every run writes here, so settings texts (which name paths) are the same
M="--set model.sam=random:tiny --set data.root=$V --set data.split=train_aug --set amg.points_per_side=4 \
   --set amg.pred_iou_thresh=0 --set amg.stability_score_thresh=0 --set amg.crop_n_layers=0"
T="$top_srcdir/configs/voc/cls.yaml --set model.clip=random:tiny --set model.vocab=builtin:bytes --set data.root=$V \
   --set out_dir=$O --set run=t --set aug.crop=112 --set aug.short_thresh=112 --set aug.scale_low=128 \
   --set aug.scale_high=160 --set train.batch=2 --set train.max_iter=4 --set train.save_every=2"

# cycle LABEL POINT NTH ACTION: reset; run with the fault; rerun; the outputs must equal REF's.
# The command, its reset and its comparison are the functions run_cmd, reset and same.
cycle() {
    reset
    WSSEED_FAULT="$2:$3:$4" run_cmd > "$TMPD/f1" 2>&1
    rc1=$?
    run_cmd > "$TMPD/f2" 2>&1
    rc2=$?
    why=""
    if [ "$4" = abort ]; then
        [ $rc1 -eq 137 ] && grep -q "fault point $2: killed" "$TMPD/f1" || why="the fault did not kill it (exit $rc1)"
    else
        [ $rc1 -eq 1 ] && grep -q "no space left on device while writing" "$TMPD/f1" ||
            why="exit $rc1 without 'no space left on device while writing <file>'"
    fi
    [ -z "$why" ] && [ $rc2 -ne 0 ] && why="the rerun failed (exit $rc2)"
    [ -z "$why" ] && ! same > "$TMPD/f3" 2>&1 && why="the rerun differs from the uninterrupted run"
    if [ -z "$why" ]; then tap_ok "$1: $4 at $2 (hit $3), rerun equals the uninterrupted run" true
    else
        tap_ok "$1: $4 at $2 (hit $3): $why" false
        tail -n 3 "$TMPD/f1" "$TMPD/f2" "$TMPD/f3" | sed 's/^/#   /'
    fi
}

# every_point LABEL: the points one uninterrupted run passes, each hit mid-way with abort and
# first with enospc (a .cleanup point writes nothing: abort only)
every_point() {
    reset
    WSSEED_FAULT_TRACE="$TMPD/trace" run_cmd > /dev/null 2>&1
    sort "$TMPD/trace" | uniq -c > "$TMPD/points"
    rm -f "$TMPD/trace"
    tap_ok "$1: the run passes fault points ($(awk '{printf "%s%s", s, $2; s=" "}' "$TMPD/points"))" test -s "$TMPD/points"
    while read -r n point; do
        case " $2 " in *" ${point%%.*} "*) ;; *) continue ;; esac
        cycle "$1" "$point" $(((n + 1) / 2)) abort
        case $point in *.cleanup) ;; *) cycle "$1" "$point" 1 enospc ;; esac
    done < "$TMPD/points"
}

# -- masks: the store's parts and merge --
run_cmd() { "$WSSEED" masks $M --set output.store="$O/m.h5"; }
reset() { rm -rf "$O"; mkdir -p "$O"; }
same() { cmp "$O/m.h5" "$TMPD/ref_m.h5" && test ! -e "$O/m.h5.parts"; }
reset
run_cmd > /dev/null 2>&1 && cp "$O/m.h5" "$TMPD/ref_m.h5"
every_point masks masks

# -- masks export: files land whole (a folder's metadata.csv is written last, atomically) --
"$WSSEED" masks export "$TMPD/ref_m.h5" --png "$TMPD/ex_ref" > /dev/null 2>&1
WSSEED_FAULT=file.write:2 "$WSSEED" masks export "$TMPD/ref_m.h5" --png "$TMPD/ex" > "$TMPD/e1" 2>&1
rc=$?
tap_ok "masks export killed writing its 2nd metadata.csv (exit $rc) leaves no torn file" sh -c \
    "test $rc -eq 137 && test \$(find '$TMPD/ex' -name metadata.csv | wc -l) -eq 1"
"$WSSEED" masks export "$TMPD/ref_m.h5" --png "$TMPD/ex" > /dev/null 2>&1
tap_ok "... and its rerun writes the same files" sh -c \
    "cd '$TMPD/ex_ref' && find . -type f | grep -q . && for f in \$(find . -type f); do cmp \$f '$TMPD/ex/'\$f || exit 1; done"

# -- training: its checkpoints and the feature cache's parts and merge --
FC="--set train.feature_cache=$O/views.h5 --set train.cache_views=2"
run_cmd() { "$WSSEED" train $T $FC --resume auto; }
same() { cmp "$O/t/checkpoints/final.h5" "$TMPD/ref_final.h5" && cmp "$O/views.h5" "$TMPD/ref_views.h5"; }
reset
run_cmd > /dev/null 2>&1 && cp "$O/t/checkpoints/final.h5" "$TMPD/ref_final.h5" && cp "$O/views.h5" "$TMPD/ref_views.h5"
every_point "train + feature cache" "views ckpt file"

# -- cam: the CAM store's parts and merge (from the checkpoint above) --
run_cmd() { "$WSSEED" cam $T --ckpt "$TMPD/ref_final.h5" --out "$O/cams.h5"; }
same() { cmp "$O/cams.h5" "$TMPD/ref_cams.h5" && test ! -e "$O/cams.h5.parts"; }
reset
run_cmd > /dev/null 2>&1 && cp "$O/cams.h5" "$TMPD/ref_cams.h5"
every_point cam cams

# -- the pipeline: its stamps, seeds and text files; a kill-storm --
PD="$TMPD/pdata"
P="pipeline $top_srcdir/configs/demo.yaml --set out_dir=$O --set data.root=$PD --set data.synth=6 --set report.images=2 \
   --set cls.train.max_iter=4 --set seg.train.max_iter=4 --set cls.train.save_every=2 --set seg.train.save_every=2"
run_cmd() { "$WSSEED" $P; }
# every stage output (stores, checkpoints, seeds, stamps) and the evaluation, byte for byte
same() {
    (cd "$TMPD/ref_p" && find cache demo -name '*.h5' -o -name '*.png' -o -name DONE -o -name 'eval*') | grep -v '\.tmp-' |
        sort > "$TMPD/files"
    test -s "$TMPD/files" || return 1
    while read -r f; do cmp "$TMPD/ref_p/$f" "$O/$f" || return 1; done < "$TMPD/files"
    ! find "$O" -name '*.parts' | grep -q .
}
reset
t0=$(date +%s%N)
run_cmd > "$TMPD/pref.log" 2>&1
ref_ms=$((($(date +%s%N) - t0) / 1000000))
tap_ok "an uninterrupted pipeline run ($ref_ms ms)" test -e "$O/demo/seeds_fine/DONE"
rm -rf "$TMPD/ref_p"
cp -r "$O" "$TMPD/ref_p"
# (the stores' and checkpoints' points are the commands' above; text files are training's)
for c in "done.commit 3 abort" "done.write 5 enospc" "png.write 3 enospc" "png.commit 7 abort"; do
    # shellcheck disable=SC2086
    set -- $c
    cycle pipeline "$1" "$2" "$3"
done

# kill-storm: each run is killed at a random moment, drawn from the seed as a fraction (5 .. 65 %)
# of the uninterrupted run's time, so that the storm is the same on a slow and on a fast machine.
# A chain of runs on one folder ends after 3 kills, or when a run finishes after at least 2; a run
# that finishes sooner starts a new chain on an empty folder. A run that fails (neither killed nor
# done) is the bug this guards. The clean rerun after the chain must leave exactly what the
# uninterrupted run left.
reset
kills=0
runs=0
chains=1
failed=""
seed=${WSSEED_STORM_SEED:-$$}
echo "# kill-storm seed $seed (WSSEED_STORM_SEED=$seed reproduces the kill times), uninterrupted run $ref_ms ms"
while [ $runs -lt 30 ] && [ $kills -lt 3 ]; do
    runs=$((runs + 1))
    "$WSSEED" $P > "$TMPD/storm.log" 2>&1 &
    pid=$!
    delay=$(awk -v s="$seed" -v r="$runs" -v t="$ref_ms" \
        'BEGIN { srand(s * 100 + r); d = t / 1000 * (0.05 + 0.6 * rand()); printf "%.2f", d < 0.1 ? 0.1 : d }')
    sleep "$delay"
    kill -9 $pid 2> /dev/null
    wait $pid 2> /dev/null
    rc=$?
    if [ $rc -eq 137 ]; then kills=$((kills + 1))
    elif [ $rc -ne 0 ]; then
        failed="run $runs (after $kills kills) exited $rc"
        tail -n 5 "$TMPD/storm.log" | sed 's/^/#   /'
        break
    elif [ $kills -ge 2 ]; then break
    else reset; kills=0; chains=$((chains + 1))
    fi
done
run_cmd > "$TMPD/storm2.log" 2>&1
rc=$?
tap_ok "kill-storm: $kills kill -9 in the last of $chains chains ($runs runs)${failed:+, $failed}, then a clean rerun (exit $rc) ..." \
    sh -c "test -z '$failed' && test $rc -eq 0 && test $kills -ge 2"
tap_ok "... equals the uninterrupted run (stores, checkpoints, seeds, stamps, evaluation)" same

# -- two pipelines on one folder --
L="$O/demo/.lock"
flock "$L" sh -c "echo \$\$ > '$L'; touch '$TMPD/held'; while [ ! -e '$TMPD/release' ]; do sleep 0.1; done" &
holder=$!
for _ in $(seq 300); do [ -e "$TMPD/held" ] && break; sleep 0.1; done
hp=$(cat "$L")
run_cmd > "$TMPD/two1" 2>&1
rc=$?
tap_ok "a second pipeline on the same run folder is refused, naming the holder's pid and what to do" sh -c \
    "test $rc -ne 0 && grep -q 'process $hp) is running in' '$TMPD/two1' && grep -q 'another name' '$TMPD/two1'"
touch "$TMPD/release"
wait $holder
rm -f "$TMPD/held" "$TMPD/release"
S=$(ls -d "$O"/cache/seeds_fine-*)
rm -f "$S/DONE"
flock "$S/.lock" sh -c "echo \$\$ > '$S/.lock'; touch '$TMPD/held'; while [ ! -e '$TMPD/release' ]; do sleep 0.1; done" &
holder=$!
for _ in $(seq 300); do [ -e "$TMPD/held" ] && break; sleep 0.1; done
hp=$(cat "$S/.lock")
"$WSSEED" $P --set run=other > "$TMPD/two2" 2>&1 &
run=$!
for _ in $(seq 1200); do grep -q "wait  seeds_fine: process $hp" "$TMPD/two2" && break; sleep 0.1; done
tap_ok "a pipeline sharing the cache waits for the process holding a stage (naming its pid) ..." \
    grep -q "wait  seeds_fine: process $hp" "$TMPD/two2"
tap_ok "... and does not stamp that stage done meanwhile" test ! -e "$S/DONE"
touch "$TMPD/release"
wait $holder
wait $run
rc=$?
tap_ok "... then finishes it (exit $rc) with the same seeds" sh -c "test $rc -eq 0 && test -e '$S/DONE' &&
    for f in '$TMPD'/ref_p/demo/seeds_fine/seeds/*.png; do cmp \"\$f\" '$O'/other/seeds_fine/seeds/\$(basename \$f) || exit 1; done"

# -- a real full disk: a small tmpfs --
FC=""
run_cmd() { "$WSSEED" train $T; }
reset
run_cmd > /dev/null 2>&1 && cp "$O/t/checkpoints/final.h5" "$TMPD/ref_plain.h5"   # training without the cache
if mkdir -p "$MNT" && mount -t tmpfs -o size=24k tmpfs "$MNT" 2> /dev/null; then
    "$WSSEED" masks $M --set output.store="$MNT/m.h5" > "$TMPD/d1" 2>&1
    rc=$?
    tap_ok "masks on a full disk: exit 1 (not a crash: $rc), the part named" sh -c \
        "test $rc -eq 1 && grep -q 'no space left on device while writing $MNT/m.h5.parts/' '$TMPD/d1'"
    mount -o remount,size=72k "$MNT"   # room for the 4 parts (16k each), not for the merged store (32k)
    "$WSSEED" masks $M --set output.store="$MNT/m.h5" > "$TMPD/d2" 2>&1
    rc=$?
    tap_ok "a store merge on a full disk: exit 1 (not a crash: $rc), the store named, the parts kept" sh -c \
        "test $rc -eq 1 && grep -q 'no space left on device while writing $MNT/m.h5:' '$TMPD/d2' &&
         test \$(ls '$MNT/m.h5.parts' | wc -l) -eq \$(wc -l < '$V/ImageSets/Segmentation/train_aug.txt')"
    mount -o remount,size=1m "$MNT"
    tap_ok "after freeing space the rerun finishes with the same store" sh -c \
        "'$WSSEED' masks $M --set output.store='$MNT/m.h5' > /dev/null 2>&1 && cmp '$MNT/m.h5' '$TMPD/ref_m.h5'"
    rm -rf "${MNT:?}"/*
    mount -o remount,size=12k "$MNT"
    "$WSSEED" train $T --set out_dir="$MNT" > "$TMPD/d3" 2>&1
    rc=$?
    tap_ok "training on a full disk: exit 1 (not a crash: $rc), the file named" sh -c \
        "test $rc -eq 1 && grep -q 'no space left on device while writing $MNT/t/' '$TMPD/d3'"
    mount -o remount,size=1m "$MNT"
    tap_ok "after freeing space it resumes to the same final checkpoint" sh -c \
        "'$WSSEED' train $T --set out_dir='$MNT' --resume > /dev/null 2>&1 && '$top_builddir/tests/h5cmp' \
         '$TMPD/ref_plain.h5' '$MNT/t/checkpoints/final.h5' --skip /config --tol '*=exact' > /dev/null"
    # synth: libjpeg's own write error (JERR_FILE_WRITE) on the full disk, then the same command finishes
    rm -rf "${MNT:?}"/*
    mount -o remount,size=8k "$MNT"   # less than the first image (16 KB): libjpeg's writes fail, not a flush
    SY="--images 4 --min-side 200 --max-side 240 --seed 2"
    # shellcheck disable=SC2086
    "$WSSEED" synth "$MNT/s" $SY > "$TMPD/d4" 2>&1
    rc=$?
    tap_ok "synth on a full disk: exit 1 (not a crash: $rc), the image named" sh -c \
        "test $rc -eq 1 && grep -q 'no space left on device while writing $MNT/s/JPEGImages/synth_0000' '$TMPD/d4'"
    mount -o remount,size=1m "$MNT"
    # shellcheck disable=SC2086
    "$WSSEED" synth "$TMPD/s_ref" $SY > /dev/null 2>&1
    # shellcheck disable=SC2086
    tap_ok "after freeing space the same synth command finishes it: the same files, no temporary left" sh -c \
        "'$WSSEED' synth '$MNT/s' $SY > /dev/null 2>&1 && diff -r '$TMPD/s_ref' '$MNT/s'"
    # export-ctx: the state dict (9 KB here) on a 4 KB disk
    rm -rf "${MNT:?}"/*
    mount -o remount,size=4k "$MNT"
    "$WSSEED" export-ctx "$TMPD/ref_final.h5" "$TMPD/ctx_ref.pth" > /dev/null 2>&1
    "$WSSEED" export-ctx "$TMPD/ref_final.h5" "$MNT/ctx.pth" > "$TMPD/d5" 2>&1
    rc=$?
    tap_ok "export-ctx on a full disk: exit 1 (not a crash: $rc), the file named, no temporary left" sh -c \
        "test $rc -eq 1 && grep -q 'no space left on device while writing $MNT/ctx.pth' '$TMPD/d5' && test -z \"\$(ls '$MNT')\""
    mount -o remount,size=1m "$MNT"
    tap_ok "after freeing space it writes the same state dict" sh -c \
        "'$WSSEED' export-ctx '$TMPD/ref_final.h5' '$MNT/ctx.pth' > /dev/null 2>&1 && cmp '$TMPD/ctx_ref.pth' '$MNT/ctx.pth'"
    umount "$MNT"
else
    echo "# cannot mount a tmpfs here (not root?): the real full-disk cases are not run"
fi
tap_end

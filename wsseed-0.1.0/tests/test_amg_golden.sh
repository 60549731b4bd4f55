#!/bin/sh
# test_amg_golden.sh - the automatic mask generator through `wsseed dump amg`:
#   sam_tiny_ref.h5 /amg (upstream SamAutomaticMaskGenerator: crop0, crop1, default_thresh) and
#   amg_fma_ref.h5 (FMA-WSSS's level-aware SamAuto: main, spec_thresh, levels with every stage,
#   and the rock-sand-water filter alone).
# Float records 1e-4 + 1e-4|ref|; counts, orders, levels, crop boxes, grids exact; masks pixel by
# pixel, identical except pixels where our own logit is within 1e-4*max|logit| of 0 (the golden
# README's exception, reported per mask as borderline_pixels); areas and boxes exact otherwise.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
SAM="$GOLDEN/sam_tiny.pth"

out1="$TMPD/amg_sam.h5"
tap_ok "wsseed dump amg on sam_tiny_ref.h5" "$WSSEED" dump amg --model "$SAM" --input "$GOLDEN/sam_tiny_ref.h5" --output "$out1"
tap_run "$top_builddir/tests/h5cmp" "$GOLDEN/sam_tiny_ref.h5" "$out1" --group /amg \
    --rle /amg/crop0 --rle /amg/crop1 --rle /amg/default_thresh

out2="$TMPD/amg_fma.h5"
tap_ok "wsseed dump amg on amg_fma_ref.h5" "$WSSEED" dump amg --model "$SAM" --input "$GOLDEN/amg_fma_ref.h5" --output "$out2"
rles=""
for run in main spec_thresh levels; do
    for st in "" /stage_generate /stage_small_regions /stage_rock_sand_water; do rles="$rles --rle /amg/$run$st"; done
done
# shellcheck disable=SC2086
tap_run "$top_builddir/tests/h5cmp" "$GOLDEN/amg_fma_ref.h5" "$out2" --group /amg --group /rsw $rles
tap_end

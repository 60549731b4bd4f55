#!/bin/sh
# test_imageops_golden.sh - image_ops_ref.h5, SAM side, through `wsseed dump image-ops`:
# ResizeLongestSide(1024) with Pillow-exact bilinear resampling and small-region removal (holes,
# islands, both), all exact.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
out="$TMPD/imageops.h5"
tap_ok "wsseed dump image-ops" "$WSSEED" dump image-ops --input "$GOLDEN/image_ops_ref.h5" --output "$out"
tap_run "$top_builddir/tests/h5cmp" "$GOLDEN/image_ops_ref.h5" "$out" --group /sam_resize --group /small_regions
tap_end

#!/bin/sh
# test_imageops_golden.sh - image_ops_ref.h5 through `wsseed dump image-ops`, all exact:
# SAM side: ResizeLongestSide(1024) (Pillow bilinear) and small-region removal (holes, islands,
# both). Training side: the scale_img_label resizes (sizes by Python rounding, Pillow BICUBIC
# images, NEAREST labels) and RandColorJitter over OpenCV's 8-bit HSV; the composed cases'
# parameters and order drawn from their numpy seed by our MT19937 stream.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
out="$TMPD/imageops.h5"
ref="$GOLDEN/image_ops_ref.h5"
tap_ok "wsseed dump image-ops" "$WSSEED" dump image-ops --input "$ref" --output "$out"
tap_run "$top_builddir/tests/h5cmp" "$ref" "$out" --group /sam_resize --group /small_regions \
    --group /resize --group /color_jitter
for c in composed_all_full composed_all_chart composed_two_chart; do
    tap_run "$top_builddir/tests/h5cmp" "$ref" "$out" --group "/input/color_jitter/$c:/jitter_draw/$c" \
        --skip '*/numpy_seed' --tol '*=exact'
done
tap_end

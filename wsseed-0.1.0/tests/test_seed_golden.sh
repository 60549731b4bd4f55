#!/bin/sh
# test_seed_golden.sh - seed_ref.h5 through `wsseed dump caa|sams|merge|eval`, with the golden
# README's tolerances: CAA score 1e-6 (bit-exact float32 recipe), affinity / power / refined CAMs
# 1e-5 max|ref| + 1e-4|ref|, box masks exact; SAMS upsampled CAM and per-mask means
# 1e-6 + 1e-5|ref|, scores and confidences 1e-4, labels, paint orders and seeds exact; the
# seed-002 merge exact; evaluation confusion matrices exact and metrics 1e-12. Also the CAA box
# extraction cases of image_ops_ref.h5 (boxes as a multiset, hole contours included).
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
ref="$GOLDEN/seed_ref.h5"
for m in caa sams merge eval; do
    tap_ok "wsseed dump $m" "$WSSEED" dump $m --input "$ref" --output "$TMPD/$m.h5"
done
tap_run "$H5CMP" "$ref" "$TMPD/caa.h5" --group /caa --tol '*/score=abs:1e-6' --tol '*/box_mask=exact' \
    --tol '*=maxrel:1e-5:1e-4'
tap_run "$H5CMP" "$ref" "$TMPD/sams.h5" --group /sams --tol '*/cam_upsampled=rel:1e-6:1e-5' \
    --tol '*/mask_mean_relu_cam=rel:1e-6:1e-5' --tol '*/score=abs:1e-4' --tol '*/conf=abs:1e-4' --tol '*=exact'
tap_run "$H5CMP" "$ref" "$TMPD/merge.h5" --group /merge --tol '*=exact'
tap_run "$H5CMP" "$ref" "$TMPD/eval.h5" --group /eval --tol '*=abs:1e-12'
tap_ok "wsseed dump image-ops (boxes)" "$WSSEED" dump image-ops --input "$GOLDEN/image_ops_ref.h5" --output "$TMPD/io.h5"
tap_run "$H5CMP" "$GOLDEN/image_ops_ref.h5" "$TMPD/io.h5" --group /boxes --tol '*/boxes=rows' --tol '*=exact'
tap_end

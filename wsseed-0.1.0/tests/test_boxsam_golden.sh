#!/bin/sh
# test_boxsam_golden.sh - boxed_sam_ref.h5 through `wsseed dump boxsam` (sam_tiny.pth): from each
# class's detector outputs, the kept queries and their scores, the pixel and SamPredictor boxes
# (within 1e-5; they are equal), one SAM mask per box (exact), IoU predictions and low-res logits
# (1e-4 + 1e-4|ref|), and the label map by the per-pixel max rule (exact; the dog (12) wins over the
# cat (8) although the cat comes later), and the phrases (BERT WordPiece decode of the tokens above the
# text threshold + the score), exact.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
ref="$GOLDEN/boxed_sam_ref.h5"
tap_ok "wsseed dump boxsam" "$WSSEED" dump boxsam --model "$GOLDEN/sam_tiny.pth" --vocab "$GOLDEN/bert_vocab_uncased.txt" \
    --input "$ref" --output "$TMPD/bs.h5"
tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/bs.h5" --skip '/input/*' --skip '/config/*' --skip '*/pred_logits' \
    --skip '*/pred_boxes' --tol '*/boxes_*=abs:1e-5' --tol '*/masks=exact' \
    --tol '/label_map=exact'
tap_end

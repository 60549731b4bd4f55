#!/bin/sh
# test_sam_golden.sh - every dataset of sam_tiny_ref.h5 (preprocessing, image encoder, prompt
# encoder, decoder cases, predictor; the automatic mask generator has its own test) through
# `wsseed dump sam`, with the README's tolerances: activations 1e-4 + 1e-4|ref|, mask logits
# 1e-4 * max(1, max|ref|), binary masks identical except where our own logit is within 1e-3 of 0,
# uint8 images and the checkpoint manifest exact.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
REF="$GOLDEN/sam_tiny_ref.h5"
out="$TMPD/sam.out.h5"
tap_ok "wsseed dump sam --model sam_tiny.pth" "$WSSEED" dump sam --model "$GOLDEN/sam_tiny.pth" --input "$REF" --output "$out"
tap_run "$top_builddir/tests/h5cmp" "$REF" "$out" \
    --skip '/config/*' --skip '/amg/*' --skip '/prompts/*' --skip /preprocess/image_uint8 \
    --skip '/predictor/*/point_coords' --skip '/predictor/*/point_labels' --skip /predictor/box/box \
    --tol '*/masks_binary=mask:1e-3' --tol '/predictor/*/masks=mask:1e-3' \
    --tol '*low_res_logits=scaled:1e-4' --tol '*masks_logits=scaled:1e-4' --tol '*upscaled_128=scaled:1e-4' \
    --tol '/checkpoint/*/sum=rel:1e-12:1e-12' --tol '/checkpoint/*/abs_sum=rel:1e-12:1e-12' \
    --tol '/checkpoint/*/first8=exact'
# bad input: a CLIP file is not a SAM checkpoint; the error names the file and the tensor
tap_ok "a CLIP checkpoint is refused as SAM, naming the missing tensor" sh -c \
    "! '$WSSEED' dump sam --model '$GOLDEN/clip_tiny_state.pth' --input '$REF' --output '$TMPD/x.h5' 2> '$TMPD/e.txt' && grep -q 'clip_tiny_state.pth lacks tensor .image_encoder' '$TMPD/e.txt'"
head -c 500000 "$GOLDEN/sam_tiny.pth" > "$TMPD/trunc.pth"
tap_ok "a truncated SAM checkpoint is refused, naming the file" sh -c \
    "! '$WSSEED' dump sam --model '$TMPD/trunc.pth' --input '$REF' --output '$TMPD/x.h5' 2> '$TMPD/e2.txt' && grep -q 'trunc.pth' '$TMPD/e2.txt' && grep -q truncated '$TMPD/e2.txt'"
tap_end

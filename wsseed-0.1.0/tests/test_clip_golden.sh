#!/bin/sh
# test_clip_golden.sh - every dataset of clip_tiny_ref.h5 through `wsseed dump clip`, for both
# checkpoint formats (TorchScript archive and torch.save state dict), with the README's
# tolerances: activations, features, projections, CoOp loss and gradients 1e-4 + 1e-4|ref|,
# attention probabilities 1e-5 absolute, ids exact, manifests exact (sums to 1e-12 relative).
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
REF="$GOLDEN/clip_tiny_ref.h5"
for ck in clip_tiny.pt clip_tiny_state.pth; do
    other=clip_tiny_state_pth
    [ "$ck" = clip_tiny_state.pth ] && other=clip_tiny_pt
    out="$TMPD/$ck.out.h5"
    tap_ok "wsseed dump clip --model $ck" "$WSSEED" dump clip --model "$GOLDEN/$ck" \
        --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" --input "$REF" --output "$out"
    tap_run "$top_builddir/tests/h5cmp" "$REF" "$out" \
        --skip '/config/*' --skip "/checkpoint/$other/*" \
        --skip /image/input --skip /image_interp/input \
        --skip /tokenizer/strings --skip /tokenizer/categories \
        --skip /text/tokens --skip /text/prompts \
        --skip /coop/token_ids --skip /coop/R --skip '/coop/*/ctx' --skip /coop/classnames --skip /coop/prompt_strings \
        --tol '*attn_weights*=abs:1e-5' \
        --tol '/checkpoint/*/sum=rel:1e-12:1e-12' --tol '/checkpoint/*/abs_sum=rel:1e-12:1e-12' \
        --tol '/checkpoint/*/first8=exact'
done
tap_end

#!/bin/sh
# test_gdino_golden.sh - gdino_tiny_ref.h5 through `wsseed dump gdino`, the parts implemented so
# far: the BERT uncased WordPiece tokenizer on 70 strings (VOC/COCO names, captions, accents, CJK,
# emoji, control characters, over-long words): pieces, input ids, decode; Grounding-DINO's
# preprocess_caption, caption ids, position ids and block-diagonal self-attention masks. All exact.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
ref="$GOLDEN/gdino_tiny_ref.h5"
tap_ok "wsseed dump gdino (tokenizer)" "$WSSEED" dump gdino --vocab "$GOLDEN/bert_vocab_uncased.txt" --input "$ref" \
    --output "$TMPD/gd.h5"
tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gd.h5" --group /tokenizer --skip '/tokenizer/strings' \
    --skip '/tokenizer/categories' --tol '*=exact'
printf 'not a vocabulary\n' > "$TMPD/bad.txt"
tap_ok "a file that is not a BERT vocabulary is refused by name" sh -c "! '$WSSEED' dump gdino --vocab '$TMPD/bad.txt' \
    --input '$ref' --output '$TMPD/x.h5' 2> '$TMPD/e' && grep -q 'bad.txt is not a BERT vocabulary' '$TMPD/e'"
tap_end

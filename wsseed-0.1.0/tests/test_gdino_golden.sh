#!/bin/sh
# test_gdino_golden.sh - gdino_tiny_ref.h5 through `wsseed dump gdino`, the parts implemented so
# far: the BERT uncased WordPiece tokenizer on 70 strings (VOC/COCO names, captions, accents, CJK,
# emoji, control characters, over-long words): pieces, input ids, decode; Grounding-DINO's
# preprocess_caption, caption ids, position ids and block-diagonal self-attention masks (exact); and
# for both captions of /case: the text inputs (exact), BERT's extended mask (exact), embeddings,
# both layers and feat_map (1e-4 + 1e-4|ref|) from gdino_tiny.pth with its BERT config; the image
# side so far: load_image's resize (exact) and normalisation, the Swin backbone (patch embedding,
# every stage incl. the shifted-window block with its padding mask, the output norms) and the
# input projections with GroupNorm (1e-4 + 1e-4|ref|), the sine position embeddings of the image
# levels and of the text, the flattened multi-scale layout, the encoder's reference points and the
# two-stage proposals (+inf where invalid; 1e-5); the encoder (vision-text fusion, text enhancer,
# multi-scale deformable self-attention: every layer's outputs, memory and memory_text); the two-stage
# query selection (top-k indices exact, logits 1e-4·max), the decoder (every layer's intermediates,
# reference boxes 1e-5) and the outputs (pred_logits with their -inf padding, pred_boxes 1e-5);
# predict() at both threshold settings: kept queries, scores, boxes, phrases with and without
# remove_combined (exact); the +inf proposal path of /wide_proposals; the checkpoint manifest.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
ref="$GOLDEN/gdino_tiny_ref.h5"
tap_ok "wsseed dump gdino (tokenizer)" "$WSSEED" dump gdino --vocab "$GOLDEN/bert_vocab_uncased.txt" --input "$ref" \
    --output "$TMPD/gd.h5"
tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gd.h5" --group /tokenizer --skip '/tokenizer/strings' \
    --skip '/tokenizer/categories' --tol '*=exact'
tap_ok "wsseed dump gdino (text side of the model)" "$WSSEED" dump gdino --vocab "$GOLDEN/bert_vocab_uncased.txt" \
    --model "$GOLDEN/gdino_tiny.pth" --bert-config "$GOLDEN/gdino_tiny_bert_config.json" --input "$ref" --output "$TMPD/gdm.h5"
for c in dog dog_bowl; do
    tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group "/case/$c/text" \
        --tol '*/bert_extended_attention_mask=exact'
done
tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group /preprocess --group /image --tol '/preprocess/resized_uint8=exact' \
    --skip '/image/float64_check/*' --tol '*/output_proposals=abs:1e-5' --tol '*/encoder_reference_points=abs:1e-5'
for c in dog dog_bowl; do
    tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group "/case/$c/encoder"
    tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group "/case/$c/two_stage" --group "/case/$c/decoder" \
        --group "/case/$c/output" --tol '*/enc_outputs_class=scaled:1e-4' --tol '*/topk_logits=scaled:1e-4' \
        --tol '*/topk_scores=scaled:1e-4' --tol '*_coord*=abs:1e-5' --tol '*/pred_boxes=abs:1e-5' \
        --tol '*/reference_points*=abs:1e-5' --tol '*/refpoint_embed=abs:1e-5' --tol '*/init_box_proposal=abs:1e-5'
    tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group "/case/$c/predict" --tol '*/boxes=abs:1e-5'
done
tap_run "$top_builddir/tests/h5cmp" "$ref" "$TMPD/gdm.h5" --group /wide_proposals --group /checkpoint \
    --tol '*/output_proposals=abs:1e-5' --tol '*/sum=rel:0:1e-12' --tol '*/abs_sum=rel:0:1e-12' --tol '*/first8=exact'
tap_ok "a BERT config that disagrees with the checkpoint is refused" sh -c "printf '{\"num_hidden_layers\": 12}' > '$TMPD/c.json';
    ! '$WSSEED' dump gdino --vocab '$GOLDEN/bert_vocab_uncased.txt' --model '$GOLDEN/gdino_tiny.pth' --bert-config '$TMPD/c.json' \
    --input '$ref' --output '$TMPD/y.h5' 2> '$TMPD/e2' && grep -q 'BERT layers' '$TMPD/e2'"
tap_ok "a SAM checkpoint is refused as Grounding-DINO" sh -c "! '$WSSEED' dump gdino --vocab '$GOLDEN/bert_vocab_uncased.txt' \
    --model '$GOLDEN/sam_tiny.pth' --input '$ref' --output '$TMPD/z.h5' 2> '$TMPD/e3' && grep -qi 'grounding-dino\|bert' '$TMPD/e3'"
printf 'not a vocabulary\n' > "$TMPD/bad.txt"
tap_ok "a file that is not a BERT vocabulary is refused by name" sh -c "! '$WSSEED' dump gdino --vocab '$TMPD/bad.txt' \
    --input '$ref' --output '$TMPD/x.h5' 2> '$TMPD/e' && grep -q 'bad.txt is not a BERT vocabulary' '$TMPD/e'"
tap_end

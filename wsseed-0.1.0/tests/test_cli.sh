#!/bin/sh
# test_cli.sh - the wsseed command as a user meets it: help texts, the tokenize command against
# the golden ids, and bad input (unknown option, missing or corrupt checkpoint) giving a clear
# error, a non-zero exit and no half-written output.
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
REF="$GOLDEN/clip_tiny_ref.h5"
VOCAB="$GOLDEN/bpe_simple_vocab_16e6.txt.gz"

tap_ok "wsseed --help lists the commands" sh -c "'$WSSEED' --help | grep -q 'tokenize' && '$WSSEED' --help | grep -q 'dump'"
tap_ok "wsseed dump --help states the contract" sh -c "'$WSSEED' dump --help | grep -q -- '--input IN.h5 --output OUT.h5'"
tap_ok "unknown command exits 2" sh -c "'$WSSEED' frobnicate; test \$? -eq 2"
tap_ok "dump: unknown option is an error naming it" sh -c \
    "'$WSSEED' dump clip --model x --bogus 1 --input a --output b 2>&1 | grep -q -- \"unknown option '--bogus'\""
tap_ok "dump clip without --model is refused" sh -c "! '$WSSEED' dump clip --input '$REF' --output '$TMPD/x.h5' 2>/dev/null"

# tokenize: the 5 /text prompts give the golden ids
printf 'a photo of a dog.\na photo of a potted plant.\nan aeroplane flying over the sea\n\nit'"'"'s a tv monitor, isn'"'"'t it?\n' \
    > "$TMPD/prompts.txt"
"$WSSEED" tokenize --vocab "$VOCAB" < "$TMPD/prompts.txt" > "$TMPD/ids.txt" 2> "$TMPD/err.txt"
h5dump -d /text/tokens -y -w 0 -o "$TMPD/raw.txt" "$REF" > /dev/null 2>&1
tr -s ', \n' '\n\n\n' < "$TMPD/raw.txt" | grep . > "$TMPD/want.txt"
tr -s ' ' '\n' < "$TMPD/ids.txt" | grep . > "$TMPD/got.txt"
tap_ok "tokenize prints the golden ids of the 5 prompts" cmp "$TMPD/got.txt" "$TMPD/want.txt"
yes "very" | head -n 100 | tr '\n' ' ' > "$TMPD/long.txt"; echo >> "$TMPD/long.txt"
tap_ok "tokenize refuses a too-long line without --truncate" sh -c \
    "! '$WSSEED' tokenize --vocab '$VOCAB' < '$TMPD/long.txt' > /dev/null 2> '$TMPD/e.txt' && grep -q 'line 1' '$TMPD/e.txt'"
tap_ok "tokenize --truncate ends a long line with EOT" sh -c \
    "'$WSSEED' tokenize --vocab '$VOCAB' --truncate < '$TMPD/long.txt' | awk '{exit !(NF == 77 && \$77 == 49407)}'"

# bad checkpoints: clear message naming the file, non-zero exit, no output left behind
head -c 3000000 "$GOLDEN/clip_tiny.pt" > "$TMPD/trunc.pt"
tap_ok "truncated checkpoint: error names the file" sh -c \
    "! '$WSSEED' dump clip --model '$TMPD/trunc.pt' --input '$REF' --output '$TMPD/o.h5' 2> '$TMPD/e2.txt' && grep -q trunc.pt '$TMPD/e2.txt'"
tap_ok "no output file after a failed dump" sh -c "! ls '$TMPD'/o.h5* 2>/dev/null"
tap_ok "missing input file: error names it" sh -c \
    "! '$WSSEED' dump clip --model '$GOLDEN/clip_tiny.pt' --input '$TMPD/none.h5' --output '$TMPD/o.h5' 2> '$TMPD/e3.txt' && grep -q none.h5 '$TMPD/e3.txt'"
echo "previous" > "$TMPD/keep.h5"
"$WSSEED" dump clip --model "$TMPD/trunc.pt" --input "$REF" --output "$TMPD/keep.h5" 2>/dev/null
tap_ok "a failed dump leaves an existing output untouched" grep -q previous "$TMPD/keep.h5"
tap_ok "demo runs end to end on the tiny CLIP" sh -c \
    "'$WSSEED' demo --model '$GOLDEN/clip_tiny.pt' --vocab '$VOCAB' --image '$GOLDEN/dog.jpg' | grep -q 'tv monitor'"
tap_end

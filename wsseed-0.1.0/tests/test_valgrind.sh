#!/bin/sh
# test_valgrind.sh - no memory errors and no definite or indirect leaks under valgrind for a full
# CLIP forward and backward: `wsseed dump clip` on the golden inputs runs the image encoder, the
# tokenizer, the text encoder and the CoOp context gradient through autograd (about 90 s).
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
if ! command -v valgrind > /dev/null; then
    echo "# SKIP valgrind is not installed (apt-get install valgrind)"
    exit 77
fi
run="$top_builddir/libtool --mode=execute"
[ -x "$top_builddir/libtool" ] || run=""
# valgrind cannot run every CPU's start-up code: on some AMD hosts libhwy (pulled in by libtorch's
# image dependencies) executes RDTSCP in a library constructor, which valgrind 3.19 does not emulate
# there (SIGILL before main). Probe the same binary first and skip, saying so, rather than report a
# memory error that is valgrind's.
if ! $run valgrind -q "$WSSEED" version > "$TMPD/probe.out" 2>&1; then
    if grep -q 'SIGILL' "$TMPD/probe.out"; then
        echo "# SKIP valgrind cannot start wsseed on this CPU:"
        grep -m 3 -E 'SIGILL|Illegal opcode|at 0x' "$TMPD/probe.out" | sed 's/^/#   /'
        exit 77
    fi
fi
tap_ok "valgrind: dump clip (forward + backward) has no errors and no leaks" \
    $run valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --suppressions="$top_srcdir/tests/valgrind.supp" \
    "$WSSEED" dump clip --model "$GOLDEN/clip_tiny.pt" --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --input "$GOLDEN/clip_tiny_ref.h5" --output "$TMPD/vg.h5"
tap_ok "valgrind run produced the complete output" test -s "$TMPD/vg.h5"
tap_end

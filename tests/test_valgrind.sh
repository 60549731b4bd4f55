#!/bin/sh
# test_valgrind.sh - no memory errors and no definite or indirect leaks under valgrind for a full
# CLIP forward and backward: `wsseed dump clip` on the golden inputs runs the image encoder, the
# tokenizer, the text encoder and the CoOp context gradient through autograd (about 90 s).
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
if ! command -v valgrind > /dev/null; then
    echo "# SKIP valgrind is not installed (apt-get install valgrind)"
    exit 77
fi
if [ -n "${WS_ASAN:-}" ]; then
    echo "# SKIP this build uses AddressSanitizer (./configure --enable-asan), which cannot run under valgrind"
    exit 77
fi
run="$top_builddir/libtool --mode=execute"
[ -x "$top_builddir/libtool" ] || run=""
# libtorch_cpu -> OpenCV -> libavcodec -> libjxl loads libhwy, whose constructor executes RDTSCP. valgrind
# (3.19, Debian 12's) decodes RDTSCP only when CPUID reports it, and some virtual machines (this AMD EPYC
# host) execute it but hide the CPUID bit: valgrind then raises SIGILL before main. There is no valgrind
# option or libhwy environment variable for it, so when a one-second probe of that libhwy under valgrind
# shows the SIGILL, a stand-in libhwy (tests/valgrind_hwy_stub.c: libjxl's five imports, no constructor,
# abort if called; wsseed never decodes JPEG XL) is put first on the library path for the valgrind run.
hwy=$($run ldd "$WSSEED" 2> /dev/null | awk '/libhwy\.so/ { print $3; exit }')
if [ -n "$hwy" ] && ! LD_PRELOAD="$hwy" valgrind -q /bin/true > "$TMPD/probe.out" 2>&1; then
    if ! grep -q 'SIGILL' "$TMPD/probe.out"; then
        echo "# SKIP valgrind cannot load $hwy for another reason than SIGILL:"
        sed -n '1,5s/^/#   /p' "$TMPD/probe.out"
        exit 77
    fi
    mkdir -p "$TMPD/hwy"
    printf 'HWY_0 { global: *; };\n' > "$TMPD/hwy/hwy.map"
    if ! ${CC:-cc} -shared -fPIC -o "$TMPD/hwy/libhwy.so.1" -Wl,-soname,libhwy.so.1 \
        -Wl,--version-script="$TMPD/hwy/hwy.map" "$top_srcdir/tests/valgrind_hwy_stub.c" 2> "$TMPD/hwy/cc.err"; then
        echo "# SKIP valgrind dies with SIGILL in $hwy and the stand-in libhwy does not build:"
        sed -n '1,3s/^/#   /p' "$TMPD/hwy/cc.err"
        exit 77
    fi
    echo "# $hwy dies under valgrind (SIGILL: RDTSCP hidden from CPUID); using tests/valgrind_hwy_stub.c in its place"
    LD_LIBRARY_PATH="$TMPD/hwy${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
fi
tap_ok "valgrind: dump clip (forward + backward) has no errors and no leaks" \
    $run valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --suppressions="$top_srcdir/tests/valgrind.supp" \
    "$WSSEED" dump clip --model "$GOLDEN/clip_tiny.pt" --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --input "$GOLDEN/clip_tiny_ref.h5" --output "$TMPD/vg.h5"
tap_ok "valgrind run produced the complete output" test -s "$TMPD/vg.h5"
tap_end

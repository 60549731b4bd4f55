#!/bin/sh
# test_report_browser.sh - report.html and a sweep's summary.html as a person sees them: the demo
# pipeline (configs/demo.yaml: synthetic data, random-weight CLIP and SAM) and a two-run sweep,
# then headless Chromium loads both pages. The page's own script records, after load, the images
# that failed to decode and the script errors it caught (#ws-check); the test reads them from
# Chromium's DOM dump and its console log, checks the labelled charts are there, and saves
# screenshots (wide screen and phone width) under the test folder and /tmp/report-shot-*.png.
# The check itself is tested: a copy of the report with a corrupt image and a script error must fail it.
# Skips (77) when Chromium is not installed (`./quickstart.sh test` installs it).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
CHROME=""
for c in chromium chromium-browser google-chrome; do
    command -v "$c" > /dev/null 2>&1 && { CHROME=$(command -v "$c"); break; }
done
if [ -z "$CHROME" ]; then
    echo "# SKIP no headless Chromium (apt-get install chromium; ./quickstart.sh test installs it)"
    exit 77
fi
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"
A="$TMPD/a"

# chrome PAGE TAG WIDTH HEIGHT: the DOM after load (TAG.dom), the console log (TAG.err) and a screenshot
# (TAG.png). A private profile folder, so parallel tests never share one; a time budget so the load
# handlers run before the DOM is dumped.
chrome() {
    common="--headless --disable-gpu --no-sandbox --no-first-run --hide-scrollbars --user-data-dir=$TMPD/profile-$2
        --virtual-time-budget=10000 --window-size=$3,$4"
    timeout 120 "$CHROME" $common --enable-logging=stderr --v=0 --dump-dom "file://$1" > "$TMPD/$2.dom" 2> "$TMPD/$2.err"
    timeout 120 "$CHROME" $common --screenshot="$TMPD/$2.png" "file://$1" > /dev/null 2>&1
    [ -s "$TMPD/$2.png" ] && cp "$TMPD/$2.png" "/tmp/report-shot-$2.png" 2> /dev/null
    return 0
}
# rendered TAG: the page's check ran and found no broken image and no script error, and Chromium logged no
# console message (the report writes none).
rendered() {
    grep -q 'id="ws-check"[^>]*data-ready="1"' "$TMPD/$1.dom" || { echo "the page's check did not run"; return 1; }
    grep -q 'data-broken-images="0"' "$TMPD/$1.dom" || { grep -o 'data-broken-list="[^"]*"' "$TMPD/$1.dom"; return 1; }
    grep -q 'data-js-errors="0"' "$TMPD/$1.dom" || { grep -o 'data-js-error-list="[^"]*"' "$TMPD/$1.dom"; return 1; }
    ! grep 'CONSOLE' "$TMPD/$1.err"
}

tap_ok "the demo pipeline runs" sh -c "'$WSSEED' pipeline '$top_srcdir/configs/demo.yaml' --set out_dir='$A' \
    --set data.root='$TMPD/data' > '$TMPD/run.log' 2>&1"
R="$A/demo/report.html"
chrome "$R" wide 1400 2400
chrome "$R" phone 390 2400
tap_ok "Chromium renders report.html: no broken image, no script error, no console message" rendered wide
tap_ok "... at phone width too" rendered phone
tap_ok "screenshots saved (wide and phone)" sh -c "test -s '$TMPD/wide.png' && test -s '$TMPD/phone.png'"
# the rendered DOM (not the file) holds the labelled charts and panels
for t in 'Seed mIoU per seed mode' 'Per-class IoU of each seed mode' 'Per-class IoU, precision and recall of the fine seeds' \
    'Confusion matrix of the fine seeds' 'cls loss per iteration' 'cls learning rate per iteration' \
    'seg loss per iteration' 'seg learning rate per iteration'; do
    tap_ok "chart rendered: $t" grep -q "aria-label=\"$t" "$TMPD/wide.dom"
done
tap_ok "charts have axis labels with units" sh -c "grep -q '>iteration</text>' '$TMPD/wide.dom' &&
    grep -q '>learning rate (SGD step size)</text>' '$TMPD/wide.dom' && grep -q '>IoU (%)</text>' '$TMPD/wide.dom'"
tap_ok "class names label the charts and the table (VOC names of the demo's classes 1..5)" sh -c \
    "grep -q '>aeroplane</text>' '$TMPD/wide.dom' && grep -q '<td>bicycle</td>' '$TMPD/wide.dom'"
tap_ok "the CAM heat map and the confusion matrix carry a colour scale" sh -c \
    "grep -q '>CAM / image max</text>' '$TMPD/wide.dom' && grep -q \"fraction of the row's ground-truth pixels\" '$TMPD/wide.dom'"
for cap in 'image' 'ground truth' 'fine CAM' 'coarse seed' 'fine seed' 'SAM masks ('; do
    tap_ok "image panel rendered: $cap" grep -q "<figcaption>$cap" "$TMPD/wide.dom"
done
tap_ok "a legend of class colours per image" grep -q '<ul class="legend"><li><span style="background:' "$TMPD/wide.dom"
tap_ok "the per-class table is sortable (headers call wsSort)" grep -q '<th onclick="wsSort(this)">IoU FMA fine</th>' "$TMPD/wide.dom"

# the sort works in the browser: a copy whose extra script clicks "IoU FMA fine" twice (ascending, then
# descending) and records the column's sort keys in the marker
sed 's|</body>|<script>window.addEventListener("load",function(){var hs=document.querySelectorAll("#per-class th"),i,t;for(i=0;i<hs.length;i++)if(hs[i].textContent==="IoU FMA fine")t=hs[i];wsSort(t);wsSort(t);var c=[].indexOf.call(hs,t);document.getElementById("ws-check").setAttribute("data-sorted",[].map.call(document.querySelectorAll("#per-class tbody tr"),function(r){return r.cells[c].getAttribute("data-v")}).join(" "))})</script></body>|' \
    "$R" > "$TMPD/sorted.html"
chrome "$TMPD/sorted.html" sorted 1400 1200
sed -n 's/.*data-sorted="\([^"]*\)".*/\1/p' "$TMPD/sorted.dom" | tr ' ' '\n' > "$TMPD/sorted.txt"
tap_ok "clicking a header sorts the per-class table (IoU descending, $(wc -l < "$TMPD/sorted.txt") rows)" sh -c \
    "test \$(wc -l < '$TMPD/sorted.txt') -ge 2 && sort -g -r '$TMPD/sorted.txt' | cmp - '$TMPD/sorted.txt' &&
     ! sort -g '$TMPD/sorted.txt' | cmp -s - '$TMPD/sorted.txt'"

# the check catches what it guards against: a corrupt embedded PNG and a script error
sed -e '0,/data:image\/png;base64,[A-Za-z0-9+\/]\{8\}/s//data:image\/png;base64,AAAAAAAA/' \
    -e 's|</body>|<script>undefinedFunction()</script></body>|' "$R" > "$TMPD/broken.html"
chrome "$TMPD/broken.html" broken 1400 1200
tap_ok "a corrupt image fails the check" sh -c "grep -q 'data-broken-images=\"1\"' '$TMPD/broken.dom'"
tap_ok "a script error fails the check" grep -q 'data-js-errors="1"' "$TMPD/broken.dom"
if rendered broken > /dev/null 2>&1; then b=passed; else b=failed; fi
tap_ok "the doctored copy fails the whole check" test "$b" = failed

# a sweep's summary: one labelled plot per swept key (the two runs share every stage but the fine seeds)
cat > "$TMPD/sweep.yaml" <<EOC
pipeline: $top_srcdir/configs/demo.yaml
name: sw
set:
  out_dir: $A
  data.root: $TMPD/data
grid:
  seed.seg_pow: [0.5, 0.7]
EOC
tap_ok "a two-run sweep" sh -c "'$WSSEED' sweep '$TMPD/sweep.yaml' > '$TMPD/sweep.log' 2>&1"
chrome "$A/sw/summary.html" sweep 1000 900
tap_ok "Chromium renders summary.html without errors" sh -c "grep -q '<svg' '$TMPD/sweep.dom' && ! grep CONSOLE '$TMPD/sweep.err'"
tap_ok "summary.html plots seed mIoU against the swept key, values on the axis" sh -c \
    "grep -q 'aria-label=\"Seed mIoU against seed.seg_pow' '$TMPD/sweep.dom' && grep -q '>0.5</text>' '$TMPD/sweep.dom' &&
     grep -q '>0.7</text>' '$TMPD/sweep.dom' && grep -q '>seed mIoU (%)</text>' '$TMPD/sweep.dom'"
[ -s "$TMPD/sweep.png" ] && cp "$TMPD/sweep.png" /tmp/report-shot-sweep.png 2> /dev/null
tap_end

#!/bin/sh
# test_conventions.sh - what a user expects of the wsseed command, on every command: --version,
# -h/--help (stdout, status 0, nothing on stderr), a usage error (status 2, the message on stderr,
# nothing on stdout), --opt=value spelled either way, errors on stderr; `wsseed doctor` (the
# installation report and the config pre-flight); the manual page and the bash completion true
# to the commands. Needs no golden files.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"
COMMANDS="pipeline sweep demo masks train export-ctx cam caa seed merge eval boxes boxseed synth tokenize dump doctor version help"

# -- --version, --help, usage errors on every command --
tap_ok "wsseed --version prints the version on stdout" sh -c "'$WSSEED' --version 2> '$TMPD/e' | grep -qx 'wsseed [0-9][0-9.]*' && test ! -s '$TMPD/e'"
for c in $COMMANDS "masks export"; do
    for h in --help -h; do
        tap_ok "wsseed $c $h: usage on stdout, status 0, nothing on stderr" sh -c \
            "'$WSSEED' $c $h > '$TMPD/o' 2> '$TMPD/e' && grep -qi 'usage' '$TMPD/o' && test ! -s '$TMPD/e'"
    done
    tap_ok "wsseed $c --no-such-option: status 2, message on stderr, nothing on stdout" sh -c \
        "'$WSSEED' $c --no-such-option < /dev/null > '$TMPD/o' 2> '$TMPD/e'; test \$? -eq 2 && test -s '$TMPD/e' && test ! -s '$TMPD/o'"
done
tap_ok "wsseed help CMD is CMD --help" sh -c "'$WSSEED' help seed | grep -q 'Usage: wsseed seed'"
tap_ok "a bad option value is a usage error (2)" sh -c "'$WSSEED' synth '$TMPD/s' --images=abc 2> '$TMPD/e'; test \$? -eq 2 && grep -q 'abc' '$TMPD/e'"
tap_ok "a failure exits 1 with the message on stderr, nothing on stdout" sh -c \
    "'$WSSEED' pipeline '$TMPD/none.yaml' > '$TMPD/o' 2> '$TMPD/e'; test \$? -eq 1 && grep -q 'none.yaml' '$TMPD/e' && test ! -s '$TMPD/o'"

# -- --opt=value --
tap_ok "--opt=value: wsseed synth --images=3 --classes=2 writes 3 images" sh -c \
    "'$WSSEED' synth '$TMPD/syn' --images=3 --classes=2 --min-side=32 --max-side=40 > /dev/null 2>&1 && test \$(ls '$TMPD/syn/JPEGImages' | wc -l) -eq 3"
tap_ok "--opt value gives the same dataset" sh -c \
    "'$WSSEED' synth '$TMPD/syn2' --images 3 --classes 2 --min-side 32 --max-side 40 > /dev/null 2>&1 && cmp '$TMPD/syn/JPEGImages/synth_000002.jpg' '$TMPD/syn2/JPEGImages/synth_000002.jpg'"
tap_ok "--threads=2 before the command" sh -c "'$WSSEED' --threads=2 version | grep -q '2 intra-op threads'"
tap_ok "--set=key=value splits at the first '=' only" sh -c \
    "'$WSSEED' doctor '$top_srcdir/configs/demo.yaml' --set=out_dir='$TMPD/x=y' | grep -q 'out_dir $TMPD/x=y does not exist yet'"

# -- wsseed doctor --
"$WSSEED" doctor > "$TMPD/doc.txt" 2> "$TMPD/doc.err"
tap_ok "doctor without a config exits 0" test $? -eq 0
for w in 'wsseed ' 'configure ' 'libtorch ' 'CUDA devices seen: ' 'OpenBLAS ' 'core type ' 'SIMD ' 'environment ' 'HDF5 ' \
    'libyaml ' 'libpng ' 'libjpeg ' 'memory ' 'disk '; do
    tap_ok "doctor reports: $w" grep -q "$w" "$TMPD/doc.txt"
done
tap_ok "doctor's versions are the libraries' (HDF5 x.y.z, libpng x.y.z, OpenBLAS version)" sh -c \
    "grep -q '^HDF5  *[0-9]*\\.[0-9]*\\.[0-9]' '$TMPD/doc.txt' && grep -q '^libpng  *[0-9]*\\.[0-9]*\\.[0-9]' '$TMPD/doc.txt' &&
     grep -q '^OpenBLAS .*[0-9]\\.[0-9]' '$TMPD/doc.txt'"
tap_ok "doctor shows the OPENBLAS_* / OMP_* variables in force" sh -c \
    "OMP_NUM_THREADS=3 OPENBLAS_VERBOSE=0 '$WSSEED' doctor | grep -q 'OMP_NUM_THREADS=3' &&
     env -u OPENBLAS_CORETYPE -u OPENBLAS_NUM_THREADS -u OPENBLAS_L2_SIZE -u OMP_NUM_THREADS OPENBLAS_VERBOSE=0 '$WSSEED' doctor | grep -q 'OPENBLAS_VERBOSE=0'"
tap_ok "doctor: the demo config passes the pre-flight (its data is written by the pipeline)" sh -c \
    "'$WSSEED' doctor '$top_srcdir/configs/demo.yaml' --set data.root='$TMPD/nodata' > '$TMPD/d1' && grep -q 'written by the pipeline' '$TMPD/d1' &&
     grep -q 'every file it names is there' '$TMPD/d1'"
# a config naming a missing checkpoint, a file where a folder belongs, an empty vocabulary, a fake .gz
mkdir -p "$TMPD/ds/ImageSets/Segmentation"
: > "$TMPD/empty.txt.gz"
echo "not gzip" > "$TMPD/fake.txt.gz"
echo "x" > "$TMPD/ds/JPEGImages"
echo "a" > "$TMPD/ds/ImageSets/Segmentation/train_aug.txt"
cat > "$TMPD/bad.yaml" <<EOC
model:
  clip: $TMPD/no-such-clip.pt
  vocab: $TMPD/empty.txt.gz
  sam: $TMPD/fake.txt.gz
data:
  root: $TMPD/ds
  label_dir: ''
EOC
"$WSSEED" doctor "$TMPD/bad.yaml" > "$TMPD/d2" 2> "$TMPD/d2.err"
tap_ok "doctor: a config with bad files exits 1" test $? -eq 1
tap_ok "... naming the missing checkpoint by key" sh -c "grep -q 'FAIL model.clip .*no-such-clip.pt.*No such file' '$TMPD/d2' && grep -q 'model.clip' '$TMPD/d2.err'"
tap_ok "... the empty vocabulary" grep -q 'FAIL model.vocab .*empty' "$TMPD/d2"
tap_ok "... a .gz that is not gzip" grep -q 'FAIL model.sam .*not gzip-compressed' "$TMPD/d2"
tap_ok "... a file where a folder belongs" grep -q 'FAIL data.image_dir .*not a folder' "$TMPD/d2"
tap_ok "... and says what is fine" sh -c "grep -q 'ok   data.split_file' '$TMPD/d2' && grep -q 'ok   data.root' '$TMPD/d2'"
tap_ok "... the same problems the pipeline refuses to start with" sh -c \
    "'$WSSEED' pipeline '$TMPD/bad.yaml' --set out_dir='$TMPD/pout' 2> '$TMPD/p.err'; grep -q 'problems found before any stage' '$TMPD/p.err' &&
     grep -q 'data.image_dir' '$TMPD/p.err' && grep -q 'model.vocab' '$TMPD/p.err'"
tap_ok "doctor: a missing config is an error naming it (1)" sh -c "'$WSSEED' doctor '$TMPD/none.yaml' 2> '$TMPD/e'; test \$? -eq 1 && grep -q none.yaml '$TMPD/e'"

# -- the manual page and the completion know every command --
MAN="$top_srcdir/doc/wsseed.1"
COMP="$top_srcdir/doc/bash-completion/wsseed"
for c in $COMMANDS; do
    [ "$c" = help ] && continue
    tap_ok "wsseed.1 documents '$c'" grep -q "^\\.B.* $c\\|^\\.B $c\\|^\\.BR.*$c" "$MAN"
done
tap_ok "wsseed.1 states the exit status 0, 1, 2" sh -c "grep -q '^\\.SH EXIT STATUS' '$MAN' && grep -A12 '^\\.SH EXIT STATUS' '$MAN' | grep -q 'Usage error'"
if command -v groff > /dev/null 2>&1; then
    tap_ok "wsseed.1 renders without warnings" sh -c "groff -man -Tutf8 -ww '$MAN' > /dev/null 2> '$TMPD/g' && test ! -s '$TMPD/g'"
fi
tap_ok "the commands of wsseed --help are the completion's" sh -c \
    "'$WSSEED' --help | sed -n '/^Commands:/,/^\$/p' | awk 'NF && \$1 !~ /:/ && substr(\$0,3,1) != \" \" {print \$1}' | sort > '$TMPD/c1';
     bash -c 'source \"$COMP\"; COMP_WORDS=(wsseed \"\"); COMP_CWORD=1; _wsseed; printf \"%s\\n\" \"\${COMPREPLY[@]}\"' | sort > '$TMPD/c2';
     cmp '$TMPD/c1' '$TMPD/c2'"
complete_words() {   # complete_words WORD... : the completions of the last word
    bash -c 'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _wsseed; echo "${COMPREPLY[*]}"' "$COMP" "$@"
}
tap_ok "completion: 'wsseed pi' -> pipeline" test "$(complete_words "$WSSEED" pi)" = pipeline
tap_ok "completion: 'wsseed --threads 2 doc' -> doctor" test "$(complete_words "$WSSEED" --threads 2 doc)" = doctor
tap_ok "completion: 'wsseed pipeline x.yaml --se' -> --set" test "$(complete_words "$WSSEED" pipeline x.yaml --se)" = --set
tap_ok "completion: 'wsseed pipeline x.yaml --set seed.seg' -> the key, from wsseed pipeline --help" \
    test "$(complete_words "$WSSEED" pipeline x.yaml --set seed.seg)" = "seed.seg_pow="
tap_ok "completion: 'wsseed caa x.h5 --task ' -> cls seg" test "$(complete_words "$WSSEED" caa x.h5 --task '')" = "cls seg"
tap_end

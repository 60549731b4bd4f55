#!/bin/sh
# test_export_mmseg.sh - `wsseed export mmseg`, the hand-off to stage II:
#   - on the demo pipeline's output (configs/demo.yaml, shortened): the folder layout (image links,
#     seed copies byte for byte, split files, classes.txt) and the config: parsed with python3's
#     ast when python3 is there (classes = VOC's 21 names in order, palette = VOC's colour map,
#     data_root and every path it names exist, reduce_zero_label False, ignore_index 255,
#     num_classes 21), grep checks otherwise;
#   - all or nothing: a seed missing -> an error naming it and no OUT (only OUT.part); the seed
#     back -> the rerun completes OUT; an existing OUT is kept without --force, replaced with it,
#     and a folder not written by the export is never replaced;
#   - a seed value outside the class list is refused naming the file and value.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WSSEED="$top_builddir/wsseed"
PNGSTAT="$top_builddir/tests/pngstat"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"
P="$WSSEED pipeline $top_srcdir/configs/demo.yaml --set out_dir=$TMPD/exp --set data.root=$TMPD/data --set data.synth=12 \
   --set cls.train.max_iter=4 --set seg.train.max_iter=4 --set report.images=1"
E="$WSSEED export mmseg $top_srcdir/configs/demo.yaml --set out_dir=$TMPD/exp --set data.root=$TMPD/data"
R="$TMPD/exp/demo"
M="$R/mmseg"

tap_ok "the demo pipeline (shortened) runs" sh -c "$P > $TMPD/p.log 2>&1"
tap_ok "export mmseg writes <out_dir>/<run>/mmseg" sh -c "$E > $TMPD/e.log 2>&1 && test -d $M && test ! -e $M.part"
tap_ok "... the config, classes.txt, split files and its marker" sh -c \
    "test -s $M/deeplabv3plus_r101_wsseed.py && test -s $M/classes.txt && test -s $M/splits/train.txt && test -s $M/splits/val.txt && test -e $M/.wsseed-mmseg"
tap_ok "splits/train.txt lists the split's images" cmp "$M/splits/train.txt" "$TMPD/data/ImageSets/Segmentation/train_aug.txt"
tap_ok "splits/val.txt lists the val split" cmp "$M/splits/val.txt" "$TMPD/data/ImageSets/Segmentation/val.txt"
tap_ok "every seed is copied byte for byte to ann_dir/train" sh -c \
    "for id in \$(cat $M/splits/train.txt); do cmp $R/seeds_fine/seeds/\$id.png $M/ann_dir/train/\$id.png || exit 1; done"
tap_ok "every image is linked into img_dir/train, absolute" sh -c \
    "for id in \$(cat $M/splits/train.txt); do l=\$(readlink $M/img_dir/train/\$id.jpg) && case \$l in /*) ;; *) exit 1;; esac &&
     cmp \$l $TMPD/data/JPEGImages/\$id.jpg || exit 1; done"
tap_ok "val: images and their ground truth" sh -c \
    "for id in \$(cat $M/splits/val.txt); do test -e $M/img_dir/val/\$id.jpg && cmp $M/ann_dir/val/\$id.png $TMPD/data/SegmentationClassAug/\$id.png || exit 1; done"
tap_ok "classes.txt: background then VOC's 20 classes" sh -c \
    "test \$(wc -l < $M/classes.txt) -eq 21 && test \"\$(sed -n '1p;2p;21p' $M/classes.txt | tr '\n' ,)\" = 'background,aeroplane,tvmonitor,'"
C="$M/deeplabv3plus_r101_wsseed.py"
ABS=$(cd "$M" && pwd -P)
tap_ok "the config names its data_root, type, suffixes and ignore label" sh -c \
    "grep -qx 'data_root = \"$ABS\"' $C && grep -q \"dataset_type = 'BaseSegDataset'\" $C && grep -qx 'img_suffix = \".jpg\"' $C &&
     grep -q \"seg_map_suffix='.png'\" $C && grep -q 'reduce_zero_label=False, ignore_index=255' $C && grep -qx 'num_classes = 21' $C &&
     grep -q \"pretrained='open-mmlab://resnet101_v1c'\" $C && grep -q 'depth=101' $C && grep -q \"type='DepthwiseSeparableASPPHead'\" $C"
tap_ok "the config's classes are VOC's in label order" grep -qx \
    'classes = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",)' "$C"
tap_ok "its palette is VOC's colour map" sh -c "grep -q '^palette = \[\[0, 0, 0\], \[128, 0, 0\], \[0, 128, 0\], \[128, 128, 0\], \[0, 0, 128\],' $C &&
    grep -q '\[128, 192, 0\], \[0, 64, 128\]\]\$' $C"
if command -v python3 > /dev/null 2>&1; then
    cat > "$TMPD/check.py" <<'EOP'
# check.py CONFIG TRAIN_IDS VOC_NAMES: the mmseg config read as Python (ast), values checked
import ast, os, sys
cfg, ids, names = sys.argv[1], open(sys.argv[2]).read().split(), open(sys.argv[3]).read().split()
env = {'dict': dict}
exec(compile(ast.parse(open(cfg).read()), cfg, 'exec'), env)   # plain literals and dict() only
def voc(i):
    r = g = b = 0
    for j in range(7, -1, -1):
        r |= (i & 1) << j; g |= ((i >> 1) & 1) << j; b |= ((i >> 2) & 1) << j; i >>= 3
    return [r, g, b]
assert list(env['classes']) == names, env['classes']
assert env['palette'] == [voc(i) for i in range(21)], env['palette']
assert env['num_classes'] == 21 and env['model']['decode_head']['num_classes'] == 21
assert env['model']['auxiliary_head']['num_classes'] == 21
for loader, sub, suffix in (('train_dataloader', 'train', '.png'), ('val_dataloader', 'val', '.png')):
    d = env[loader]['dataset']
    assert d['type'] == 'BaseSegDataset' and d['metainfo']['classes'] == env['classes']
    assert d['reduce_zero_label'] is False and d['ignore_index'] == 255
    root = d['data_root']
    assert os.path.isabs(root) and os.path.isdir(root), root
    split = [l.strip() for l in open(os.path.join(root, d['ann_file']))]
    if sub == 'train': assert split == ids, (split, ids)
    for i in split:
        assert os.path.isfile(os.path.join(root, d['data_prefix']['img_path'], i + d['img_suffix'])), i
        assert os.path.isfile(os.path.join(root, d['data_prefix']['seg_map_path'], i + d['seg_map_suffix'])), i
assert env['val_evaluator']['type'] == 'IoUMetric' and env['train_cfg']['type'] == 'IterBasedTrainLoop'
print('config ok:', len(ids), 'train images')
EOP
    printf 'background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person pottedplant sheep sofa train tvmonitor\n' > "$TMPD/voc.txt"
    tap_ok "python3 reads the config: classes, palette, data_root and every file it names" \
        python3 "$TMPD/check.py" "$C" "$TMPD/data/ImageSets/Segmentation/train_aug.txt" "$TMPD/voc.txt"
else
    echo "# python3 not found: the config is checked by grep only"
fi

# -- all or nothing --
tap_ok "an existing export is kept without --force, named" sh -c "! $E 2> $TMPD/e1 && grep -q 'exists: give --force' $TMPD/e1 && test -s $C"
first=$(head -n 1 "$M/splits/train.txt")
mv "$R/seeds_fine/seeds/$first.png" "$TMPD/held.png"
tap_ok "a missing seed is an error naming it; no OUT is published" sh -c \
    "! $E --out $TMPD/o2 2> $TMPD/e2 && grep -q '$first.png' $TMPD/e2 && test ! -e $TMPD/o2 && test -d $TMPD/o2.part"
mv "$TMPD/held.png" "$R/seeds_fine/seeds/$first.png"
tap_ok "the rerun completes the export" sh -c "$E --out $TMPD/o2 > /dev/null 2>&1 && test ! -e $TMPD/o2.part &&
    for id in \$(cat $TMPD/o2/splits/train.txt); do cmp $R/seeds_fine/seeds/\$id.png $TMPD/o2/ann_dir/train/\$id.png || exit 1; done"
tap_ok "--force replaces an export (--seeds coarse, --copy-images, --val none)" sh -c \
    "$E --out $TMPD/o2 --force --seeds coarse --copy-images --val none > /dev/null 2>&1 && test ! -e $TMPD/o2.old &&
     cmp $R/seeds_coarse/seeds/$first.png $TMPD/o2/ann_dir/train/$first.png && test ! -L $TMPD/o2/img_dir/train/$first.jpg &&
     cmp $TMPD/o2/img_dir/train/$first.jpg $TMPD/data/JPEGImages/$first.jpg && test ! -e $TMPD/o2/splits/val.txt &&
     grep -qx 'val_dataloader = val_evaluator = val_cfg = None' $TMPD/o2/deeplabv3plus_r101_wsseed.py"
mkdir -p "$TMPD/mine" && echo keep > "$TMPD/mine/notes.txt"
tap_ok "--force never replaces a folder the export did not write" sh -c \
    "! $E --out $TMPD/mine --force 2> $TMPD/e3 && grep -q 'was not written by' $TMPD/e3 && test -s $TMPD/mine/notes.txt"
tap_ok "--val of a missing split is named" sh -c "! $E --out $TMPD/o3 --val nosuch 2> $TMPD/e4 && grep -q 'nosuch' $TMPD/e4"

# -- seeds that do not fit the class list (a fake run whose fine seeds are 20-class ground truth) --
"$WSSEED" synth "$TMPD/d20" --images 12 --min-side 40 --max-side 60 --classes 20 --seed 1 > /dev/null
mkdir -p "$TMPD/fake/r/seeds_fine" && ln -s "$TMPD/d20/SegmentationClassAug" "$TMPD/fake/r/seeds_fine/seeds"
hi=$(for f in "$TMPD"/d20/SegmentationClassAug/*.png; do "$PNGSTAT" "$f" --values; done | tr ' ' '\n' | grep -v 255 | sort -n | tail -n 1)
tap_ok "(the fake seeds hold values above 3: up to $hi)" test "$hi" -gt 3
tap_ok "a seed value beyond a 3-class list is refused, naming file and value" sh -c \
    "! '$WSSEED' export mmseg '$top_srcdir/configs/demo.yaml' --set out_dir=$TMPD/fake --set run=r --set data.root=$TMPD/d20 \
     --set data.dataset=custom '--set' 'data.classes=[a, b, c]' --out $TMPD/o4 2> $TMPD/e5 &&
     grep -q 'seeds/synth_[0-9]*.png: value [0-9]* is neither a class 0..3' $TMPD/e5 && test ! -e $TMPD/o4"
tap_ok "the same seeds as VOC's 20 classes export" sh -c "'$WSSEED' export mmseg '$top_srcdir/configs/demo.yaml' \
    --set out_dir=$TMPD/fake --set run=r --set data.root=$TMPD/d20 --out $TMPD/o5 > /dev/null 2>&1 && test -s $TMPD/o5/classes.txt"
tap_ok "export without a config is a usage error (2)" sh -c "'$WSSEED' export mmseg 2> /dev/null; test \$? -eq 2"
tap_end

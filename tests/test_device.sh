#!/bin/sh
# test_device.sh - runtime.device, runtime.precision and --device as a user meets them:
#   - `runtime.device: cpu` (the key, --device cpu, wsseed --device cpu, $WSSEED_DEVICE=cpu) gives
#     byte-for-byte the outputs of the default (dump clip, a mask store, a training run);
#   - bad spellings (gpu, cuda:x, cuda:-1, cuda:, CUDA) are refused naming runtime.device, exit 1;
#   - fp16 / bf16 with the CPU is refused naming runtime.precision (the CPU computes in fp32), an
#     unknown precision likewise;
#   - on a CPU-only libtorch a CUDA request (every way of asking) is a clear error naming what is
#     missing and pointing at the README, exit status 1 (not a crash), nothing written;
# On a libtorch with CUDA the refusals of CUDA are skipped (tools/gpu-check.sh runs the GPU side).
. "${top_srcdir:-$(dirname "$0")/..}/tests/golden_dir.sh"
H5CMP="$top_builddir/tests/h5cmp"
REF="$GOLDEN/clip_tiny_ref.h5"
V="$TMPD/voc"
mkdir -p "$V/JPEGImages" "$V/ImageSets/Segmentation"
cp "$GOLDEN/dog.jpg" "$V/JPEGImages/a.jpg"
printf 'a\n' > "$V/ImageSets/Segmentation/mini.txt"
cat > "$TMPD/masks.yaml" <<EOC
model:
  sam: $GOLDEN/sam_tiny.pth
data:
  root: $V
  split: mini
amg:
  points_per_side: 8
  points_per_batch: 16
  pred_iou_thresh: 0.02
  stability_score_thresh: 0
EOC
masks() { "$WSSEED" masks "$TMPD/masks.yaml" "$@"; }
same() { "$H5CMP" "$1" "$2" --tol '*=exact' > "$TMPD/cmp.txt" 2>&1 || { cat "$TMPD/cmp.txt"; return 1; }; }
# refused CMD... : exit status exactly 1 and the message (stderr) matches every later -e PATTERN
refused() {
    pats=""
    while [ "$1" = "-e" ]; do pats="$pats
$2"; shift 2; done
    "$@" > "$TMPD/out.txt" 2> "$TMPD/err.txt"
    rc=$?
    cat "$TMPD/err.txt"
    [ $rc -eq 1 ] || { echo "exit status $rc, expected 1"; return 1; }
    printf '%s\n' "$pats" | while IFS= read -r p; do
        [ -z "$p" ] || grep -q -e "$p" "$TMPD/err.txt" || { echo "message lacks '$p'"; exit 1; }
    done
}

# -- explicit cpu = the default, byte for byte --
"$WSSEED" dump clip --model "$GOLDEN/clip_tiny.pt" --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" --input "$REF" \
    --output "$TMPD/clip_default.h5" > /dev/null 2>&1
"$WSSEED" --device cpu dump clip --model "$GOLDEN/clip_tiny.pt" --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --input "$REF" --output "$TMPD/clip_cpu.h5" > /dev/null 2>&1
WSSEED_DEVICE=cpu "$WSSEED" dump clip --model "$GOLDEN/clip_tiny.pt" --vocab "$GOLDEN/bpe_simple_vocab_16e6.txt.gz" \
    --input "$REF" --output "$TMPD/clip_env.h5" > /dev/null 2>&1
tap_ok "dump clip: wsseed --device cpu = the default" same "$TMPD/clip_default.h5" "$TMPD/clip_cpu.h5"
tap_ok "dump clip: WSSEED_DEVICE=cpu = the default" same "$TMPD/clip_default.h5" "$TMPD/clip_env.h5"
tap_ok "masks: default run" masks --set output.store="$TMPD/m_default.h5"
tap_ok "masks: --device cpu" masks --set output.store="$TMPD/m_cpu.h5" --device cpu
tap_ok "masks: runtime.device=cpu, runtime.precision=fp32" masks --set output.store="$TMPD/m_key.h5" \
    --set runtime.device=cpu --set runtime.precision=fp32
tap_ok "mask store with --device cpu = the default" same "$TMPD/m_default.h5" "$TMPD/m_cpu.h5"
tap_ok "mask store with runtime.device: cpu = the default" same "$TMPD/m_default.h5" "$TMPD/m_key.h5"

"$WSSEED" synth "$TMPD/syn" --images 8 --min-side 64 --max-side 96 --seed 5 > /dev/null 2>&1
cat > "$TMPD/train.yaml" <<EOC
base: $top_srcdir/configs/voc/cls.yaml
out_dir: $TMPD/exp
model:
  clip: $GOLDEN/clip_tiny.pt
  vocab: $GOLDEN/bpe_simple_vocab_16e6.txt.gz
data:
  root: $TMPD/syn
aug:
  scale_low: 72
  scale_high: 96
  short_thresh: 64
  crop: 64
train:
  batch: 2
  max_iter: 4
  save_every: 2
optim:
  warm_iters: 1
EOC
train() { "$WSSEED" train "$TMPD/train.yaml" "$@"; }
tap_ok "train: default run" train --set run=default
tap_ok "train: runtime.device: cpu" train --set run=cpu --set runtime.device=cpu
tap_ok "train: wsseed --device cpu train" "$WSSEED" --device cpu train "$TMPD/train.yaml" --set run=gcpu
tap_ok "training with runtime.device: cpu = the default (ctx, momentum, RNG)" \
    "$H5CMP" "$TMPD/exp/default/checkpoints/final.h5" "$TMPD/exp/cpu/checkpoints/final.h5" --skip /config --tol '*=exact'
tap_ok "training with wsseed --device cpu = the default" \
    "$H5CMP" "$TMPD/exp/default/checkpoints/final.h5" "$TMPD/exp/gcpu/checkpoints/final.h5" --skip /config --tol '*=exact'
tap_ok "build.txt records the device and precision" sh -c \
    "grep -q '^runtime.device cpu (cpu)' '$TMPD/exp/cpu/build.txt' && grep -q '^runtime.precision fp32' '$TMPD/exp/cpu/build.txt'"

# -- spellings --
for v in gpu cuda:x cuda:-1 cuda: CUDA 'cuda:1x'; do
    tap_ok "runtime.device '$v' is refused naming the key" \
        refused -e "runtime.device: '$v' is not cpu, cuda or cuda:N" masks --set output.store="$TMPD/bad.h5" --device "$v"
done
printf 'base: %s\nruntime:\n  device: gpu\n' "$TMPD/masks.yaml" > "$TMPD/gpu.yaml"
tap_ok "runtime.device: gpu in a YAML file is refused" \
    refused -e "runtime.device: 'gpu'" "$WSSEED" masks "$TMPD/gpu.yaml" --set output.store="$TMPD/bad.h5"
tap_ok "wsseed --device gpu is refused before any work" refused -e "runtime.device: 'gpu'" "$WSSEED" --device gpu version
tap_ok "WSSEED_DEVICE=cuda:x is refused" sh -c "WSSEED_DEVICE=cuda:x '$WSSEED' version 2>&1; test \$? -eq 1"
tap_ok "no store was written by the refused runs" sh -c "! ls '$TMPD'/bad.h5* 2>/dev/null"

# -- precision --
for p in bf16 fp16; do
    tap_ok "runtime.precision: $p with the CPU is refused (the CPU computes in fp32)" \
        refused -e "runtime.precision: $p applies to CUDA devices only" -e "runtime.precision: fp32" \
        masks --set output.store="$TMPD/bad.h5" --set runtime.precision=$p
done
tap_ok "train: runtime.precision: bf16 with the CPU is refused" \
    refused -e "runtime.precision: bf16 applies to CUDA" train --set run=bf16 --set runtime.precision=bf16
tap_ok "runtime.precision: fp8 is refused naming the key" \
    refused -e "runtime.precision: 'fp8' is not fp32, fp16 or bf16" masks --set output.store="$TMPD/bad.h5" --set runtime.precision=fp8

# -- CUDA on a libtorch without it --
if "$WSSEED" version | grep -q 'CPU-only build'; then
    missing="this libtorch ([0-9.]*, CPU-only build) has no CUDA; build against a CUDA libtorch: see README"
    tap_ok "wsseed --device cuda dump clip: clear error, exit 1" refused -e "runtime.device: cuda:0 requested but $missing" \
        "$WSSEED" --device cuda dump clip --model "$GOLDEN/clip_tiny.pt" --input "$REF" --output "$TMPD/cuda.h5"
    tap_ok "no dump output after the refusal" sh -c "! ls '$TMPD'/cuda.h5* 2>/dev/null"
    tap_ok "masks --device cuda:1: clear error, exit 1" refused -e "runtime.device: cuda:1 requested but $missing" \
        masks --set output.store="$TMPD/cuda.h5" --device cuda:1
    tap_ok "train --set runtime.device=cuda: clear error, exit 1, no checkpoint" sh -c \
        "! '$WSSEED' train '$TMPD/train.yaml' --set run=cuda --set runtime.device=cuda 2> '$TMPD/e.txt' &&
         grep -q 'CPU-only build' '$TMPD/e.txt' && test ! -e '$TMPD/exp/cuda/checkpoints/start.h5'"
    tap_ok "WSSEED_DEVICE=cuda: clear error, exit 1" refused -e "CPU-only build" env WSSEED_DEVICE=cuda "$WSSEED" version
    tap_ok "wsseed version says the build is CPU-only" sh -c "'$WSSEED' version | grep -q 'CPU-only build'"
else
    echo "# SKIP the CUDA refusals: this libtorch has CUDA ($("$WSSEED" version | sed -n 2p))"
fi
tap_end

#!/bin/sh
# gpu-check.sh - wsseed on a GPU in one short session, ending in ONE JSON line.
#
#   tools/gpu-check.sh fetch [DIR]     here (Debian bookworm, package access): writes DIR (default
#                                      gpu-check/, git-ignored): the release tarball (make dist), the
#                                      Debian .debs of the C libraries (apt-get download), the golden
#                                      files the GPU checks read (golden.tar.xz); about 45 MiB.
#   tools/gpu-check.sh run [options]   there (NVIDIA GPU + a CUDA PyTorch, no package access): unpacks
#                                      the .debs into a private prefix (dpkg -x), builds the tarball
#                                      against the libtorch inside that PyTorch, runs the golden tests
#                                      and the shim test on the device, the benchmarks with --device,
#                                      and the official Python code's timings where it is importable;
#                                      prints one JSON line (stdout, last line).
# run options:
#   --dir DIR          what fetch wrote (default gpu-check/)
#   --device D         cuda (default), cuda:N or cpu (cpu: a dry run of the same steps, e.g. here)
#   --prebuilt DIR     use an already configured and built wsseed tree instead of building the tarball
#   --no-bench         skip the benchmarks (and the Python timings)
#   --work DIR         scratch folder (default: a new /tmp/wsseed-gpu.XXXXXX)
# Budget: the whole run within 10 minutes on a 16-core machine (build ~2-4 min with make -j, golden
# tests ~1-2 min, benchmarks ~2-3 min); every step has its own timeout and a failed step is
# recorded in the JSON ("errors") instead of stopping the others.
set -u

fetch() {
    out=${1:-gpu-check}
    mkdir -p "$out/debs"
    # The C libraries wsseed links (headers, pkg-config files, shared objects) and the shared objects
    # those need beyond a base system; bookworm's builds, unpacked there without installing.
    debs="libhdf5-dev libhdf5-103-1 libsz2 libaec0 libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1
          libyaml-dev libyaml-0-2 libopenblas-dev libopenblas-pthread-dev libopenblas0 libopenblas0-pthread
          libgfortran5 libquadmath0 libjpeg62-turbo-dev libjpeg62-turbo libjpeg-dev libpng-dev libpng16-16
          zlib1g-dev zlib1g"
    (cd "$out/debs" && apt-get download $debs) || { echo "gpu-check: apt-get download failed (run apt-get update?)" >&2; return 1; }
    # the release tarball: what a machine without autotools builds
    make dist > "$out/dist.log" 2>&1 || { echo "gpu-check: make dist failed (see $out/dist.log)" >&2; return 1; }
    mv wsseed-*.tar.gz "$out/"
    # The golden files of the device checks; the two CLIP archives hold the same weights, which xz's 32 MiB
    # window stores once (single-threaded on purpose: threads split the window).
    g=${WSSEED_GOLDEN:-../shared/golden}
    tar -C "$g" -cf - README.md clip_tiny.pt clip_tiny_state.pth clip_tiny_ref.h5 bpe_simple_vocab_16e6.txt.gz \
        sam_tiny.pth sam_tiny_ref.h5 amg_fma_ref.h5 fma_step_ref.h5 seed_ref.h5 image_ops_ref.h5 dog.jpg \
        boxed_sam_ref.h5 bert_vocab_uncased.txt | xz -8 -T1 > "$out/golden.tar.xz" || return 1
    du -sh "$out"
}

# ---- run ------------------------------------------------------------------------------------------
DIR=gpu-check DEVICE=cuda PREBUILT= BENCH=1 WORK=
T0=$(date +%s)
# errors go to a file: the steps run in command substitutions (subshells), where a variable would be lost
err() { echo "$1" >> "$WORK/errors.txt"; echo "gpu-check: $1" >&2; }
now() { date +%s; }

# The libtorch of the machine's PyTorch (torch/include, torch/lib); empty without one.
torch_dir() {
    python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null
}

unpack_debs() {
    P=$WORK/prefix
    mkdir -p "$P"
    for d in "$DIR"/debs/*.deb; do dpkg -x "$d" "$P" || return 1; done
    L=$P/usr/lib/x86_64-linux-gnu
    # dpkg -x does not run the alternatives: OpenBLAS's libopenblas.so / openblas.pc live in openblas-pthread/
    for f in "$L"/openblas-pthread/libopenblas.so* "$L"/openblas-pthread/pkgconfig/openblas.pc; do
        [ -e "$f" ] || continue
        case $f in *.pc) mkdir -p "$L/pkgconfig"; ln -sf "$f" "$L/pkgconfig/" ;; *) ln -sf "$f" "$L/" ;; esac
    done
    export PKG_CONFIG_SYSROOT_DIR=$P
    export PKG_CONFIG_LIBDIR=$L/pkgconfig:$P/usr/share/pkgconfig
    export LD_LIBRARY_PATH=$L:$L/hdf5/serial:$L/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LIBRARY_PATH=$L:$L/hdf5/serial${LIBRARY_PATH:+:$LIBRARY_PATH}
    export CPATH=$P/usr/include:$P/usr/include/hdf5/serial${CPATH:+:$CPATH}
}

build() {
    TD=$(torch_dir)
    SRC=$WORK/src
    mkdir -p "$SRC"
    tar -C "$SRC" -xzf "$DIR"/wsseed-*.tar.gz || return 1
    B=$(echo "$SRC"/wsseed-*)
    with=""
    if [ -n "$TD" ] && [ -d "$TD/include/ATen" ]; then with="--with-libtorch=$TD"
    elif [ "$DEVICE" != cpu ]; then err "no PyTorch with include/ATen found (python3 -c 'import torch')"; return 1; fi
    # --no-as-needed keeps libtorch_cuda linked although no symbol of it is named: without it CUDA
    # registers no hooks and the build looks CPU-only. The C++ ABI is the one the wheel was built with.
    abi=$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)
    (cd "$B" && ./configure -q $with LDFLAGS="-Wl,--no-as-needed ${LDFLAGS:-}" \
        CXXFLAGS="-O2 -D_GLIBCXX_USE_CXX11_ABI=$abi ${CXXFLAGS:-}" > "$WORK/configure.log" 2>&1) ||
        { err "configure failed: $(tail -n 3 "$WORK/configure.log" | tr '\n' ' ')"; return 1; }
    (cd "$B" && make -s -j"$(nproc)" wsseed tests/h5cmp tests/test_shim bench/clip bench/sam bench/train > "$WORK/make.log" 2>&1) ||
        { err "make failed: $(grep -m3 error "$WORK/make.log" | tr '\n' ' ')"; return 1; }
}

# TAP of one test script or program -> "pass fail"; its log stays in $WORK/logs.
run_tap() {
    name=$1; shift
    (cd "$B" && timeout 300 env top_srcdir="$B" top_builddir="$B" WSSEED_GOLDEN="$G" WSSEED_DEVICE="$DEVICE" "$@") \
        > "$WORK/logs/$name.log" 2>&1
    rc=$?
    p=$(grep -c '^ok' "$WORK/logs/$name.log"); f=$(grep -c '^not ok' "$WORK/logs/$name.log")
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { f=$((f + 1)); err "$name exited with status $rc"; }
    [ "$rc" -ne 77 ] || { f=0; err "$name skipped: $(grep -m1 SKIP "$WORK/logs/$name.log")"; }
    echo "\"$name\": {\"pass\": $p, \"fail\": $f}"
}

golden() {
    G=$WORK/golden
    mkdir -p "$G" "$WORK/logs"
    xz -dc "$DIR/golden.tar.xz" | tar -C "$G" -xf - || { err "cannot unpack golden.tar.xz"; return 1; }
    r=""
    # the golden tests of everything that computes with ATen (image-ops and Grounding-DINO stay CPU checks)
    for t in clip sam amg step seed boxsam; do
        r="$r${r:+, }$(run_tap "$t" sh "tests/test_${t}_golden.sh")"
    done
    # the shim test places tensors on the device itself (WSSEED_DEVICE is read by the wsseed command only)
    r="$r, $(run_tap shim ./tests/test_shim)"
    echo "{$r}"
}

# Last JSON line of a benchmark, or null.
bench_json() {
    name=$1; shift
    (cd "$B" && timeout 240 env WSSEED_BPE="$G/bpe_simple_vocab_16e6.txt.gz" "$@" --json --device "$DEVICE") \
        > "$WORK/logs/bench_$name.log" 2>&1 || err "bench/$name failed: $(tail -n 1 "$WORK/logs/bench_$name.log")"
    j=$(grep '^{' "$WORK/logs/bench_$name.log" | tail -n 1)
    echo "${j:-null}"
}

# The official Python code on the same device, where its packages are importable (openai/CLIP's
# model code, segment-anything): CLIP ViT-B/16 image forward (batch 16) and the mask generator with
# FMA-WSSS's VOC settings on bench/sam's picture, random weights like the benchmarks.
official() {
    timeout 240 python3 - "$DEVICE" <<'EOF' 2> "$WORK/logs/official.log" || echo null
import json, sys, time
out = {}
try:
    import torch
    dev = sys.argv[1]
    out["torch"] = torch.__version__
    def timed(f, reps=3):
        f()
        if dev.startswith("cuda"): torch.cuda.synchronize()
        t = []
        for _ in range(reps):
            t0 = time.time(); f()
            if dev.startswith("cuda"): torch.cuda.synchronize()
            t.append(time.time() - t0)
        return sorted(t)[len(t) // 2]
    try:
        from clip.model import VisionTransformer
        v = VisionTransformer(224, 16, 768, 12, 12, 512).to(dev).eval()
        x = torch.randn(16, 3, 224, 224, device=dev)
        with torch.no_grad():
            out["clip_image_b16_224_s"] = timed(lambda: v(x))
    except Exception as e:
        out["clip_error"] = repr(e)[:200]
    try:
        import numpy as np
        from segment_anything import build_sam_vit_b, SamAutomaticMaskGenerator
        sam = build_sam_vit_b(checkpoint=None).to(dev)
        g = SamAutomaticMaskGenerator(sam, points_per_side=32, points_per_batch=256, pred_iou_thresh=0.86,
                                      stability_score_thresh=0.92, crop_n_layers=1, crop_n_points_downscale_factor=2,
                                      min_mask_region_area=100)
        H, W = 375, 500
        yy, xx = np.mgrid[0:H, 0:W]
        r = np.hypot(xx - 0.6 * W, yy - 0.5 * H)
        img = np.stack([np.where(r < 90, 200, 60 + xx % 40), np.where(r < 90, 80, 120 + yy % 50), (xx + yy) % 256], -1).astype(np.uint8)
        out["amg_vitb_fma_s"] = timed(lambda: g.generate(img), reps=1)
    except Exception as e:
        out["sam_error"] = repr(e)[:200]
except Exception as e:
    out["error"] = repr(e)[:200]
print(json.dumps(out))
EOF
}

run() {
    while [ $# -gt 0 ]; do
        case $1 in
            --dir) DIR=$2; shift 2 ;;
            --device) DEVICE=$2; shift 2 ;;
            --prebuilt) PREBUILT=$2; shift 2 ;;
            --no-bench) BENCH=0; shift ;;
            --work) WORK=$2; shift 2 ;;
            *) echo "gpu-check run: unknown option $1" >&2; exit 2 ;;
        esac
    done
    DIR=$(cd "$DIR" && pwd) || exit 1
    [ -n "$WORK" ] || WORK=$(mktemp -d /tmp/wsseed-gpu.XXXXXX)
    mkdir -p "$WORK/logs"
    : > "$WORK/errors.txt"
    GOLD=null BENCHES=null OFFICIAL=null build_s=null B=
    if [ -n "$PREBUILT" ]; then
        B=$(cd "$PREBUILT" && pwd)
    else
        t=$(now)
        if unpack_debs && build; then build_s=$(( $(now) - t )); else B=; fi
    fi
    if [ -n "$B" ]; then
        n=${DEVICE#cuda:}; [ "$n" != "$DEVICE" ] || n=0
        devname=$(cd "$B" && ./wsseed version 2>&1 | sed -n 's/^device //p' | sed -n "$((n + 1))p")
        "$B/wsseed" --device "$DEVICE" version > "$WORK/logs/version.log" 2>&1 || err "$(tail -n 1 "$WORK/logs/version.log")"
        GOLD=$(golden) || GOLD=null
        if [ "$BENCH" = 1 ]; then
            c=$(bench_json clip ./bench/clip --reps 3)
            s=$(bench_json sam ./bench/sam)
            tr=$(bench_json train ./bench/train --reps 3)
            BENCHES="{\"clip\": $c, \"sam\": $s, \"train\": $tr}"
            OFFICIAL=$(official)
        fi
    fi
    python3 - "$DEVICE" "${devname:-}" "$GOLD" "$BENCHES" "$OFFICIAL" "$build_s" "$(( $(now) - T0 ))" "$WORK" <<'EOF'
import json, sys
dev, name, gold, bench, off, build_s, el, work = sys.argv[1:9]
errs = open(work + "/errors.txt").read()
g = json.loads(gold) if gold != "null" else None
res = {"check": "wsseed-gpu", "device": dev, "device_name": name or None,
       "golden": g, "golden_pass": sum(v["pass"] for v in g.values()) if g else 0,
       "golden_fail": sum(v["fail"] for v in g.values()) if g else None,
       "bench": json.loads(bench) if bench != "null" else None,
       "official": json.loads(off) if off != "null" else None,
       "build_s": None if build_s == "null" else int(build_s), "elapsed_s": int(el),
       "errors": [e for e in errs.split("\n") if e], "logs": work}
print(json.dumps(res, separators=(", ", ": ")))
EOF
}

case ${1:-} in
    fetch) shift; fetch "$@" ;;
    run) shift; run "$@" ;;
    *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac

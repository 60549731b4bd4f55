#!/bin/sh
# trixie-check.sh - build wsseed against Debian trixie's libtorch 2.x and run `make check` there.
#
# Usage: tools/trixie-check.sh [TARBALL]
#   TARBALL  a `make dist` tarball (wsseed-X.Y.Z.tar.gz); without it the script packs HEAD of
#            the repository it lives in with `git archive` and runs ./bootstrap inside the root.
# Environment:
#   WSSEED_TRIXIE_ROOT  the Debian trixie root (default /var/tmp/wsseed-trixie); it is built with
#                       debootstrap on the first run and reused afterwards (a rerun only refreshes
#                       the packages and rebuilds wsseed)
#   WSSEED_MIRROR       the Debian mirror (default http://deb.debian.org/debian)
#   WSSEED_GOLDEN       the golden folder (default: ../shared/golden beside the repository); it is
#                       bind-mounted read-only into the root so the golden tests run there too
#   JOBS                make -j (default 2)
#   TESTS               run only these tests (make check TESTS=...), e.g. "tests/test_sam_up"
# Needs root (debootstrap, chroot, mount). The build and the suite run under nice -n 10 because
# the machines this runs on are shared. The last line printed is the suite's summary:
# "trixie libtorch <version>: N passed, N failed, N skipped".
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${WSSEED_TRIXIE_ROOT:-/var/tmp/wsseed-trixie}
MIRROR=${WSSEED_MIRROR:-http://deb.debian.org/debian}
GOLDEN=${WSSEED_GOLDEN:-$here/../shared/golden}
JOBS=${JOBS:-2}
tarball=${1:-}
# What configure, the build and the suite need (README "Building by hand"; libgloo-dev for the ranks of
# test_dist), plus the tools some tests use when present (valgrind, python3, h5dump from hdf5-tools).
DEPS="build-essential autoconf automake libtool pkg-config libtorch-dev libgloo-dev libopenblas-dev libhdf5-dev
 libyaml-dev libjpeg-dev libpng-dev zlib1g-dev hdf5-tools valgrind python3 ca-certificates ccache"

die() { echo "trixie-check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mount)"
command -v debootstrap > /dev/null || die "debootstrap is missing: apt-get install debootstrap"
[ -z "$tarball" ] || [ -r "$tarball" ] || die "cannot read the tarball $tarball"
case "$ROOT" in "$here"|"$here"/*) die "the root $ROOT must lie outside the repository";; esac

# ---- the root: debootstrap once; a stamp marks a finished one so an interrupted run starts over
if [ ! -e "$ROOT/.wsseed-debootstrap-done" ]; then
    echo "trixie-check: debootstrap trixie into $ROOT (a few minutes)"
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1 ||
        die "debootstrap failed, see $ROOT.debootstrap.log"
    touch "$ROOT/.wsseed-debootstrap-done"
fi

mounted=""
cleanup() {
    for m in $mounted; do umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true; done
}
trap cleanup EXIT INT TERM
bind() { # bind SRC DST [ro]: a bind mount inside the root, undone on exit
    mkdir -p "$2"
    mountpoint -q "$2" || { mount --bind "$1" "$2"; mounted="$2 $mounted"
        [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"; }
}
mountpoint -q "$ROOT/proc" || { mount -t proc proc "$ROOT/proc"; mounted="$ROOT/proc $mounted"; }
bind /dev "$ROOT/dev"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2> /dev/null || true

# ccache's cache lives in the root, so a rerun recompiles only what changed.
inroot() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    CCACHE_DIR=/var/cache/wsseed-ccache CCACHE_BASEDIR=/build/src CCACHE_NOHASHDIR=true "$@"; }

# The stamp holds the package list, so a changed list installs again.
if [ "$(cat "$ROOT/.wsseed-deps-done" 2> /dev/null)" != "$(echo $DEPS)" ] || [ -n "${WSSEED_REFRESH:-}" ]; then
    echo "trixie-check: installing the build dependencies and libtorch-dev"
    inroot sh -c "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends $(echo $DEPS)" \
        > "$ROOT.apt.log" 2>&1 || die "apt-get in the root failed, see $ROOT.apt.log"
    echo $DEPS > "$ROOT/.wsseed-deps-done"
fi
torchver=$(inroot dpkg-query -W -f '${Version}' libtorch-dev 2> /dev/null || echo unknown)

# ---- the sources: a fresh copy each run (the root's /build is scratch space)
rm -rf "$ROOT/build"
mkdir -p "$ROOT/build/src"
if [ -n "$tarball" ]; then
    tar -xzf "$tarball" -C "$ROOT/build/src" --strip-components=1
else
    git -C "$here" archive --format=tar HEAD | tar -xf - -C "$ROOT/build/src"
fi
golden_env=""
if [ -r "$GOLDEN/README.md" ]; then
    bind "$(cd "$GOLDEN" && pwd)" "$ROOT/srv/golden" ro
    golden_env="WSSEED_GOLDEN=/srv/golden"
else
    echo "trixie-check: no golden folder at $GOLDEN: the golden tests will skip"
fi

echo "trixie-check: building wsseed against libtorch-dev $torchver (log: $ROOT/build.log)"
inroot sh -c "cd /build/src && { [ -x configure ] || ./bootstrap; } &&
    nice -n 10 ./configure -q CC='ccache gcc' CXX='ccache g++' && nice -n 10 make -s -j$JOBS" > "$ROOT/build.log" 2>&1 ||
    { tail -n 30 "$ROOT/build.log"; die "the build failed, see $ROOT/build.log"; }

echo "trixie-check: make check (log: $ROOT/check.log)"
set +e
inroot sh -c "cd /build/src && $golden_env nice -n 10 make -j$JOBS check ${TESTS:+TESTS='$TESTS'}" > "$ROOT/check.log" 2>&1
rc=$?
set -e
summary=$(sh "$here/tests/summary.sh" "$ROOT/build/src/tests")
grep -E '^(FAIL|ERROR|XPASS):' "$ROOT/check.log" | head -n 50 || true
echo "trixie libtorch $torchver: $summary (make check exit $rc)"
[ "$rc" = 0 ]

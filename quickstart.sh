#!/usr/bin/env bash
# quickstart.sh - install what wsseed needs (Debian packages), bootstrap, configure and build,
# then run the demo or the whole test suite.
#   ./quickstart.sh demo   # the main job on the embedded default: the pipeline on configs/demo.yaml
#   ./quickstart.sh test   # make check; last line "N passed, N failed, N skipped"
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-demo}

pkgs="build-essential autoconf automake libtool pkg-config ccache hdf5-tools valgrind
      libtorch-dev libgloo-dev libopenblas-dev libhdf5-dev libyaml-dev libjpeg-dev libpng-dev zlib1g-dev"
# the test suite also loads the demo's report.html in headless Chromium (tests/test_report_browser.sh)
# and renders the manual page (groff)
[ "$what" = test ] && pkgs="$pkgs chromium groff-base"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "quickstart: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then ./bootstrap; fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    cc="gcc"; cxx="g++"
    if command -v ccache > /dev/null; then cc="ccache gcc"; cxx="ccache g++"; fi
    ./configure -q CC="$cc" CXX="$cxx"
fi
jobs=$(nproc 2> /dev/null || echo 2)
make -s -j"$jobs"

case $what in
demo)
    ./wsseed pipeline configs/demo.yaml
    ;;
test)
    rc=0
    make -s -j"$jobs" check > tests/check.out 2>&1 || rc=$?
    grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS):' tests/check.out | grep -v '^PASS' || true
    if [ "$rc" -ne 0 ]; then
        for log in tests/*.log; do
            grep -q -E '^(not ok|ERROR|Bail out)' "$log" 2> /dev/null || continue
            echo "---- $log (failures) ----"
            grep -E '^(not ok|#|ERROR)' "$log" | head -n 60
        done
        if ! ls tests/*.trs > /dev/null 2>&1; then cat tests/check.out; fi
    fi
    sh tests/summary.sh tests
    exit "$rc"
    ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac

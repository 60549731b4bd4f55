# golden_dir.sh - sourced by the shell tests: finds the golden folder (or skips with 77) and
# provides a TAP stream that merges the output of several TAP-producing commands.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
GOLDEN=${WSSEED_GOLDEN:-$top_srcdir/../shared/golden}
WSSEED="$top_builddir/wsseed"
if [ ! -r "$GOLDEN/README.md" ]; then
    echo "# SKIP golden references not found at $GOLDEN (set WSSEED_GOLDEN)"
    exit 77
fi
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wsseed-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$TMPD"' EXIT
. "$top_srcdir/tests/tap_lib.sh"

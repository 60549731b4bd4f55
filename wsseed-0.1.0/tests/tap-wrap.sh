#!/bin/sh
# tap-wrap.sh - runs one test; exit 77 (skip, with a "# SKIP why" line) becomes a TAP skip.
out=$("$@" 2>&1)
rc=$?
if [ "$rc" -eq 77 ]; then
    why=$(printf '%s\n' "$out" | sed -n 's/^# SKIP //p' | head -n 1)
    echo "1..0 # SKIP ${why:-skipped}"
    exit 0
fi
printf '%s\n' "$out"
exit "$rc"

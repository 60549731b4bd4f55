#!/bin/sh
# run.sh - builds the libFuzzer harnesses of tests/fuzz/ and fuzzes each for SECONDS (default 60),
# one after the other, at the lowest CPU priority:
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]        (HARNESS: config split boxjson image ptload store)
#   tests/fuzz/run.sh replay [HARNESS...]           (runs the tracked corpus once: seeds + regressions)
# Working corpora, crash files and logs go to tests/fuzz/build/ (not tracked). The seeds and every
# input that once crashed a harness are in corpus/<harness>/; a new crash is reported with its file
# (build/artifacts/<harness>/crash-*) and the run goes on with the next harness. Each log ends with
# the CPU time of its run (/usr/bin/time -v when installed); tests/fuzz/cpu.sh sums them per harness.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B="$here/build"
mode=${1:-60}
[ $# -gt 0 ] && shift
list=${*:-config split boxjson image ptload store}
# FUZZ_NO_BUILD=1: several run.sh started at once must not rebuild the same files side by side
[ -n "${FUZZ_NO_BUILD:-}" ] || nice -n 19 make -s -C "$here/../.." -f tests/fuzz/fuzz.mk all || exit 1
mkdir -p "$B/logs"
status=0
for h in $list; do
    case $h in store | ptload) max_len=8192 ;; *) max_len=4096 ;; esac
    if [ "$mode" = replay ]; then
        # every tracked input once (a regression input that crashes again fails the replay)
        "$B/fuzz_$h" -runs=0 "$here/corpus/$h" > "$B/logs/$h.replay.log" 2>&1 \
            && echo "replay $h: ok ($(find "$here/corpus/$h" -type f | wc -l) inputs)" \
            || { echo "replay $h: FAILED, see $B/logs/$h.replay.log"; status=1; }
        continue
    fi
    mkdir -p "$B/corpus/$h" "$B/artifacts/$h"
    log="$B/logs/$h.$(date -u +%Y%m%dT%H%M%S).log"
    timer=""
    [ -x /usr/bin/time ] && timer="/usr/bin/time -v"
    # -timeout: one input taking a minute is a finding (a hang; the limit is wall-clock time, generous for
    # a busy machine); -rss_limit_mb: so is a small file that asks for gigabytes.
    nice -n 19 $timer "$B/fuzz_$h" -max_total_time="$mode" -timeout=60 -rss_limit_mb=2048 -max_len=$max_len \
        -artifact_prefix="$B/artifacts/$h/" -print_final_stats=1 "$B/corpus/$h" "$here/corpus/$h" \
        > "$log" 2>&1 || status=1
    echo "fuzz $h: $(grep -E '^#[0-9]+ *DONE|^Done' "$log" | tail -1) (log: $log)"
    grep -h -E '^stat::number_of_executed_units|User time|System time|^==[0-9]+== ?ERROR|^SUMMARY' "$log" | sed 's/^/  /'
    ls "$B/artifacts/$h" 2>/dev/null | sed 's/^/  artifact: /'
done
exit $status

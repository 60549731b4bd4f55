#!/bin/sh
# cpu.sh - what the fuzzing runs of tests/fuzz/run.sh cost and did, per harness, from the logs in
# build/logs/ (every run's /usr/bin/time -v figures and libFuzzer's final stats): runs, CPU seconds
# (user + system), executions, the highest coverage reached, and the runs that ended on a finding.
B="$(cd "$(dirname "$0")" && pwd)/build/logs"
for h in config split boxjson image ptload store; do
    ls "$B"/$h.*log 2> /dev/null | grep -v replay | xargs -r awk -v h=$h '
        /User time \(seconds\)/ { cpu += $4 }
        /System time \(seconds\)/ { cpu += $4 }
        /^stat::number_of_executed_units/ { ex += $2 }
        /^#[0-9]+/ && / cov: / { for (i = 1; i < NF; i++) if ($i == "cov:" && $(i + 1) > cov) cov = $(i + 1) }
        /^SUMMARY: libFuzzer|^SUMMARY: (Address|UndefinedBehavior)Sanitizer/ { found++ }
        FNR == 1 { runs++ }
        END { printf "%-8s runs %2d  cpu %7.0f s (%.2f h)  execs %9d  cov %4d  findings %d\n", h, runs, cpu, cpu / 3600, ex, cov, found }'
done | awk '{ print } { t += $5 } END { printf "total cpu %.0f s = %.2f CPU-hours\n", t, t / 3600 }'

#!/bin/sh
# summary.sh - the suite's last line, "N passed, N failed, N skipped", from the .trs files.
dir=${1:-tests}
cat "$dir"/*.trs 2>/dev/null | awk '
  /^:test-result: (PASS|XFAIL)/ { p++ }
  /^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
  /^:test-result: SKIP/ { s++ }
  END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'

# tap_lib.sh - the TAP helpers of the shell tests (sourced; golden_dir.sh sources it too).
tap_n=0
tap_fail=0
# tap_ok DESC CMD...: one assertion from a command's exit status (its output goes to diagnostics)
tap_ok() {
    desc=$1; shift
    if _tap_out=$("$@" 2>&1); then tap_n=$((tap_n + 1)); echo "ok $tap_n - $desc"
    else tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $desc"; fi
    [ -n "$_tap_out" ] && printf '%s\n' "$_tap_out" | sed 's/^/# /' | head -n 20
    return 0
}
# tap_run CMD...: a TAP-producing command, renumbered into this stream
tap_run() {
    "$@" > "$TMPD/tap.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) tap_n=$((tap_n + 1)); echo "ok $tap_n ${line#ok [0-9]* }" ;;
            "not ok "*) tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n ${line#not ok [0-9]* }" ;;
            1..*) ;;
            *) echo "# $line" ;;
        esac
    done < "$TMPD/tap.out"
    if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$TMPD/tap.out"; then
        tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $1 exited with status $rc"
    fi
}
# tap_skip DESC: a check this run cannot make (the TAP driver counts it as skipped); DESC says why
tap_skip() {
    tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $1"
}
tap_end() {
    echo "1..$tap_n"
    [ "$tap_fail" -eq 0 ]
}

# asan_env.sh - sourced before each test by `make check` in a build configured with --enable-asan
# (Makefile.am): the sanitizer options of that run. Values already in the environment win.
# - detect_leaks: on; tests/lsan.supp lists the process-lifetime allocations of third-party
#   libraries that LeakSanitizer reports at exit (each with its reason).
# - halt_on_error (UBSan): the build already uses -fno-sanitize-recover; the stack trace names the line.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

/* common.c - helpers every command shares (see common.h): the config file + --set + --threads +
 * --device sequence, strict number parsing for options, --shard, and the one error printer.
 *
 * Owns the precedence rule of settings: defaults < config file < --threads / --device before the
 * command (or $WSSEED_DEVICE) < --set / --threads / --device after it, in command-line order.
 */
#include "cli/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "stage/runtime.h"

/* --threads given before the command (0 = none), applied by ws_cli_settings after the config file so it
 * overrides runtime.threads. */
static int global_threads;
/* --device given before the command (or $WSSEED_DEVICE; NULL = none), applied like global_threads. */
static const char *global_device;

int ws_cli_error(void)
{
    fprintf(stderr, "wsseed%s: error: %s\n", ws_log_tag(), ws_last_error());
    return 1;
}

const char *ws_cli_default_vocab(void)
{
    /* An environment override: the vocabulary is the same file for every command (and bench/), so it
     * can live outside checkpoints/ without an option on each call. */
    const char *e = getenv("WSSEED_BPE");
    return e && *e ? e : "checkpoints/bpe_simple_vocab_16e6.txt.gz";
}

void ws_cli_set_global_threads(int n) { global_threads = n; }
void ws_cli_set_global_device(const char *d) { global_device = d; }
const char *ws_cli_global_device(void) { return global_device; }
int ws_cli_global_threads(void) { return global_threads; }

/* Options that take a value are skipped together with it when looking for the config file, so "--set a=b
 * cfg.yaml" finds cfg.yaml and not "a=b". */
static int takes_value(const char *o, const char *const *value_opts)
{
    if (!strcmp(o, "--set") || !strcmp(o, "--threads") || !strcmp(o, "--device")) return 1;
    for (int k = 0; value_opts && value_opts[k]; k++)
        if (!strcmp(o, value_opts[k])) return 1;
    return 0;
}

int ws_cli_common_opt(int argc, char **argv, int *i)
{
    if ((!strcmp(argv[*i], "--set") || !strcmp(argv[*i], "--threads") || !strcmp(argv[*i], "--device")) && *i + 1 < argc) {
        (*i)++;
        return 1;
    }
    return 0;
}

/* --threads N as the runtime.threads override (a command without that key refuses it). */
static int apply_threads(const char *cmd, const char *value, const ws_cfg_key *keys, size_t nk, void *settings)
{
    long n;
    int rc = ws_cli_long(cmd, "--threads", value, 1, WS_MAX_THREADS, &n);
    if (rc) return rc;
    char set[64];
    snprintf(set, sizeof set, "runtime.threads=%ld", n);
    /* Applied through ws_cfg_set like --set, so the value goes through the same checks; a command whose table
     * has no runtime.threads refuses --threads instead of ignoring it. */
    for (size_t k = 0; k < nk; k++)
        if (!strcmp(keys[k].key, "runtime.threads")) return ws_cfg_set(keys, nk, settings, set) ? ws_cli_error() : 0;
    fprintf(stderr, "wsseed %s: --threads: this command has no runtime.threads setting\n", cmd);
    return 2;
}

/* --device D as the runtime.device override: the value is checked where the key's value is (the stage's
 * ws_stage_set_runtime), so --device and runtime.device refuse the same things with the same message. */
static int apply_device(const char *cmd, const char *value, const ws_cfg_key *keys, size_t nk, void *settings)
{
    char set[WS_CFG_STR_MAX + 32];
    if (strlen(value) >= WS_CFG_STR_MAX) {
        fprintf(stderr, "wsseed %s: --device: value too long\n", cmd);
        return 2;
    }
    snprintf(set, sizeof set, "runtime.device=%s", value);
    for (size_t k = 0; k < nk; k++)
        if (!strcmp(keys[k].key, "runtime.device")) return ws_cfg_set(keys, nk, settings, set) ? ws_cli_error() : 0;
    fprintf(stderr, "wsseed %s: --device: this command has no runtime.device setting (it computes on the CPU)\n", cmd);
    return 2;
}

int ws_cli_settings(const char *cmd, int argc, char **argv, const char *const *value_opts, const ws_cfg_key *keys,
                    size_t nk, void *settings, const char **config)
{
    *config = NULL;
    for (int i = 1; i < argc; i++) {   /* the config first, so that the overrides apply to it */
        if (argv[i][0] != '-') { *config = argv[i]; break; }
        if (takes_value(argv[i], value_opts)) i++;
    }
    if (*config && ws_cfg_load(keys, nk, settings, *config)) return ws_cli_error();
    int rc = 0;
    if (global_threads > 0) {
        char v[32];
        snprintf(v, sizeof v, "%d", global_threads);
        if ((rc = apply_threads(cmd, v, keys, nk, settings))) return rc;
    }
    /* a global device is a default for whatever the command runs: a command without models ignores it */
    for (size_t k = 0; global_device && k < nk; k++)
        if (!strcmp(keys[k].key, "runtime.device") && (rc = apply_device(cmd, global_device, keys, nk, settings))) return rc;
    for (int i = 1; i < argc; i++) {
        if (!takes_value(argv[i], value_opts)) continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "wsseed %s: %s needs a value (see wsseed %s --help)\n", cmd, argv[i], cmd);
            return 2;
        }
        if (!strcmp(argv[i], "--set") && ws_cfg_set(keys, nk, settings, argv[i + 1])) return ws_cli_error();
        if (!strcmp(argv[i], "--threads") && (rc = apply_threads(cmd, argv[i + 1], keys, nk, settings))) return rc;
        if (!strcmp(argv[i], "--device") && (rc = apply_device(cmd, argv[i + 1], keys, nk, settings))) return rc;
        i++;
    }
    return 0;
}

int ws_cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    /* Strict: "4x", "" and out-of-range values are usage errors (exit 2), never read as a prefix or clamped. */
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "wsseed%s%s: %s needs an integer in %ld..%ld, got '%s'\n", *cmd ? " " : "", cmd, opt, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int ws_cli_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* nan and inf parse with strtod but are never a meaningful setting. */
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "wsseed %s: %s needs a finite number, got '%s'\n", cmd, opt, s);
        return 2;
    }
    *out = v;
    return 0;
}

int ws_cli_shard(const char *cmd, const char *s, int *i, int *n)
{
    char tail;
    /* The trailing %c catches "1/4x": sscanf would otherwise stop after the two numbers and accept it. */
    if (sscanf(s, "%d/%d%c", i, n, &tail) != 2 || *n < 1 || *i < 0 || *i >= *n) {
        fprintf(stderr, "wsseed %s: --shard needs i/n with 0 <= i < n, got '%s'\n", cmd, s);
        return 2;
    }
    return 0;
}

char **ws_cli_split_eq(int argc, char **argv, int *out_argc)
{
    /* One block: the new pointer array, then copies of the split words, so one free releases all. */
    size_t bytes = sizeof(char *) * (2 * (size_t)argc + 1);
    for (int i = 0; i < argc; i++) bytes += strlen(argv[i]) + 2;
    char **v = malloc(bytes), *p = (char *)(v + 2 * argc + 1);
    if (!v) return NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        /* Only a long option before its first '=' is split: "--set=a=b" -> "--set" "a=b"; "a=b" (a --set
         * value given as its own word) and "-x=1" stay as they are. */
        if (i == 0 || strncmp(argv[i], "--", 2) || !eq || eq == argv[i] + 2) { v[n++] = argv[i]; continue; }
        size_t l = (size_t)(eq - argv[i]);
        memcpy(p, argv[i], l);
        p[l] = '\0';
        v[n++] = p;
        p += l + 1;
        v[n++] = (char *)eq + 1;
    }
    v[n] = NULL;
    *out_argc = n;
    return v;
}

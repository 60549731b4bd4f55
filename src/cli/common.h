/* common.h - what every command of the wsseed program shares: the error exit, one rule for
 * "config file + --set overrides + --threads", strict number parsing. Commands only turn argv
 * into settings and call one stage function; nothing here runs a model.
 */
#ifndef WS_CLI_COMMON_H
#define WS_CLI_COMMON_H
#include <stddef.h>
#include "io/config.h"

/* Prints "wsseed: error: <last error>" to stderr and returns 1 (the exit status of a failure). */
int ws_cli_error(void);
/* Default BPE vocabulary path: $WSSEED_BPE, else checkpoints/bpe_simple_vocab_16e6.txt.gz. */
const char *ws_cli_default_vocab(void);

/* Loads a command's settings the one way every command does it: the defaults already in
 * `settings`, then the config file (the first argument that is neither an option nor the value of
 * one of the options in value_opts (NULL-terminated, may be NULL), --set or --threads), then every
 * `--threads N` (= runtime.threads, also accepted before the command), `--device D`
 * (= runtime.device, likewise) and `--set key=value` in order. *config receives the file (NULL when none). Returns 0, or the exit status after printing
 * the error (1 for a bad file or value, 2 for misuse). */
int ws_cli_settings(const char *cmd, int argc, char **argv, const char *const *value_opts, const ws_cfg_key *keys,
                    size_t nk, void *settings, const char **config);
/* 1 when argv[*i] is an option ws_cli_settings handled (--set, --threads, --device; *i skips its value). */
int ws_cli_common_opt(int argc, char **argv, int *i);
/* The `wsseed --threads N` given before the command (0 when none); main.c records it. */
void ws_cli_set_global_threads(int n);
/* The `wsseed --device D` given before the command or $WSSEED_DEVICE (NULL when none; borrowed, must
 * outlive the command); main.c records it, ws_cli_settings applies it as runtime.device. */
void ws_cli_set_global_device(const char *d);
const char *ws_cli_global_device(void);
int ws_cli_global_threads(void);

/* argv with every long option written "--opt=value" split into the two words "--opt" "value", so each
 * command's parser sees one spelling (the GNU convention: both are accepted everywhere). Returns a
 * NULL-terminated array in one malloc'd block (free it once; NULL when out of memory); the words that
 * were not split still point into argv. */
char **ws_cli_split_eq(int argc, char **argv, int *out_argc);

/* Strict integer of option opt of command cmd: the whole of s, within lo..hi; prints
 * "wsseed CMD: OPT needs ..." and returns 2 otherwise. */
int ws_cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* Strict finite number; same contract. */
int ws_cli_double(const char *cmd, const char *opt, const char *s, double *out);
/* "i/n" with 0 <= i < n (--shard); same contract. */
int ws_cli_shard(const char *cmd, const char *s, int *i, int *n);
#endif

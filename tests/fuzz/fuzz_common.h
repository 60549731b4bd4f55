/* fuzz_common.h - shared by the libFuzzer harnesses of tests/fuzz/: wsseed's readers take file
 * names, so each input is written to a private scratch folder (tmpfs when there is one) first. */
#ifndef WS_FUZZ_COMMON_H
#define WS_FUZZ_COMMON_H
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* The per-process scratch folder (created on first use; removed at exit). */
static const char *fuzz_dir(void);

static char fuzz_dir_buf[256];

static void fuzz_dir_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_buf);
    if (system(cmd)) { /* best effort */ }
}

static const char *fuzz_dir(void)
{
    if (fuzz_dir_buf[0]) return fuzz_dir_buf;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir_buf, sizeof fuzz_dir_buf, "%s/wsseed-fuzz-%d", base, (int)getpid());
    mkdir(fuzz_dir_buf, 0700);
    /* A config's `base:` may name any file: stdin must never block a run. */
    if (!freopen("/dev/null", "r", stdin)) { /* ignore */ }
    atexit(fuzz_dir_remove);
    return fuzz_dir_buf;
}

/* Writes data to <scratch>/name and returns the full path (static buffer per slot 0..3). */
static const char *fuzz_file(int slot, const char *name, const uint8_t *data, size_t size)
{
    static char paths[4][512];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f)) abort();
    return paths[slot];
}
#endif

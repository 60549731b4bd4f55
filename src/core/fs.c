/* fs.c - file-system helpers (see fs.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"

int ws_mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0) return 0;
    if (n >= sizeof buf) return ws_fail(WS_EIO, "path too long: %s", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ws_fail(WS_EIO, "cannot create folder %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return 0;
}

int ws_mkdir_parent(const char *path)
{
    char buf[4096];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    snprintf(buf, sizeof buf, "%.*s", (int)(slash - path), path);
    return ws_mkdir_p(buf);
}

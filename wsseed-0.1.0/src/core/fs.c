/* fs.c - file-system helpers (see fs.h): folders, the one durable atomic writer every output goes
 * through, and the sorted ids of a folder's files.
 *
 * The writer's rule: write to <path>.tmp-<pid>, fsync the file, rename it over <path>, fsync the
 * folder. A reader (or a resumed run) then sees the old file or the whole new one, never a torn
 * one, even after a power loss; this is what lets every stage treat "the file exists" as "done".
 */
#define _POSIX_C_SOURCE 200809L
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        /* EEXIST is success: shards and resumed runs create the same folders concurrently. 0777 lets the
         * umask decide, as mkdir -p does. */
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

/* ---- durable atomic files ---- */

/* fsync of the folder holding path, so that a rename into it survives a power loss. */
static int sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return ws_fail(WS_EIO, "cannot open folder %s to flush it: %s", dir, strerror(errno));
    /* EINVAL is how a file system that cannot fsync a folder answers; the rename is then as
     * durable as that file system allows, and failing the run for it would help no one. */
    int rc = fsync(fd) && errno != EINVAL ? ws_fail(WS_EIO, "cannot flush folder %s: %s", dir, strerror(errno)) : 0;
    close(fd);
    return rc;
}

FILE *ws_fs_open_tmp(const char *path, char *tmp, size_t cap)
{
    /* The pid keeps two processes writing the same output (shards, a rerun racing an old one) from sharing
     * one temporary file; the rename decides who wins, atomically. */
    if (snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid()) >= (int)cap) {
        ws_fail(WS_EIO, "path too long: %s", path);
        return NULL;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) ws_fail(WS_EIO, "cannot create %s: %s", tmp, strerror(errno));
    return f;
}

int ws_fs_commit(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    int err = fd < 0 || fsync(fd) ? errno : 0;
    if (fd >= 0) close(fd);
    if (!err && rename(tmp, path)) err = errno;
    if (err) {
        remove(tmp);
        return ws_fail(WS_EIO, "cannot write %s: %s", path, strerror(err));
    }
    return sync_parent(path);
}

int ws_fs_commit_file(FILE *f, const char *tmp, const char *path)
{
    /* buffered data reaches the disk only at fflush/fsync: a full disk shows up here, not at fprintf */
    int err = ferror(f) ? EIO : 0;
    if (!err && fflush(f)) err = errno;
    if (!err && fsync(fileno(f))) err = errno;
    if (fclose(f) && !err) err = errno;
    if (!err && rename(tmp, path)) err = errno;
    if (err) {
        remove(tmp);
        return ws_fail(WS_EIO, "cannot write %s: %s", path, strerror(err));
    }
    return sync_parent(path);
}

int ws_fs_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    FILE *f = ws_fs_open_tmp(path, tmp, sizeof tmp);
    if (!f) return WS_EIO;
    if (len && fwrite(data, 1, len, f) != len) {
        int err = errno;
        fclose(f);
        remove(tmp);
        return ws_fail(WS_EIO, "cannot write %s: %s", path, strerror(err ? err : EIO));
    }
    return ws_fs_commit_file(f, tmp, path);
}

/* ---- file ids of a folder ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ws_fs_list_ids(const char *dir, const char *ext, char ***ids, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int cap = 0;
    size_t le = strlen(ext);
    *ids = NULL;
    *n = 0;
    if (!d) return ws_fail(WS_EIO, "cannot open folder %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= le || strcmp(e->d_name + l - le, ext)) continue;
        if (*n == cap) {
            char **t = realloc(*ids, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *t);
            if (!t) { closedir(d); return ws_fail(WS_ENOMEM, "out of memory"); }
            *ids = t;
        }
        if (!((*ids)[*n] = strndup(e->d_name, l - le))) { closedir(d); return ws_fail(WS_ENOMEM, "out of memory"); }
        (*n)++;
    }
    closedir(d);
    /* readdir's order is the file system's: sorting makes every walk over a folder (eval, merge, report)
     * visit the images in the same order on every machine. */
    if (*n) qsort(*ids, (size_t)*n, sizeof **ids, cmp_str);
    return 0;
}

void ws_fs_ids_free(char **ids, int n)
{
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

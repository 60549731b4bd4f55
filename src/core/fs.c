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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
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
    if (!f) ws_fs_fail_write(errno, tmp);
    return f;
}

int ws_fs_fail_write(int err, const char *path)
{
    /* EDQUOT is the same situation for the user (a quota instead of the whole disk) */
    if (err == ENOSPC || err == EDQUOT)
        return ws_fail(WS_EIO, "no space left on device while writing %s%s: free some space and run the same command "
                       "again (what is complete is kept)", path, err == EDQUOT ? " (disk quota exceeded)" : "");
    return ws_fail(WS_EIO, "cannot write %s: %s", path, strerror(err ? err : EIO));
}

/* The kind of a file for its fault points (core/fault.h): seeds and other PNGs, the pipeline's
 * DONE stamps, every other file. */
static const char *file_kind(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t n = strlen(path);
    base = base ? base + 1 : path;
    if (!strcmp(base, "DONE")) return "done";
    if (n > 4 && !strcmp(path + n - 4, ".png")) return "png";
    return "file";
}

int ws_fs_commit(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    int err = fd < 0 || fsync(fd) ? errno : 0;
    if (fd >= 0) close(fd);
    if (!err && rename(tmp, path)) err = errno;
    if (err) {
        remove(tmp);
        return ws_fs_fail_write(err, path);
    }
    return sync_parent(path);
}

int ws_fs_commit_file(FILE *f, const char *tmp, const char *path)
{
    /* buffered data reaches the disk only at fflush/fsync: a full disk shows up here, not at fprintf */
    /* a write that failed earlier (stdio flushing a full buffer) left its cause in errno; only a full
     * disk is trusted from there, as errno may have been set since by an unrelated call */
    int err = ferror(f) ? (errno == ENOSPC || errno == EDQUOT ? errno : EIO) : 0;
    const char *kind = file_kind(path);
    if (!err) err = ws_fault_at(kind, "write");
    if (!err && fflush(f)) err = errno;
    if (!err && fsync(fileno(f))) err = errno;
    if (fclose(f) && !err) err = errno;
    if (!err) err = ws_fault_at(kind, "commit");   /* complete under its temporary name */
    if (!err && rename(tmp, path)) err = errno;
    if (err) {
        remove(tmp);
        return ws_fs_fail_write(err, path);
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
        return ws_fs_fail_write(err, path);
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

/* ---- temporary files left by dead writers ---- */

void ws_fs_remove_stale_tmp(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t lp = strlen(prefix);
    while (d && (e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp-");
        char *end;
        if (!t || strncmp(e->d_name, prefix, lp)) continue;
        long pid = strtol(t + 5, &end, 10);
        /* kill(pid, 0) fails with ESRCH only when no such process exists: a live writer (another
         * shard, a racing run) keeps its file */
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    if (d) closedir(d);
}

/* ---- kernel locks that name their holder ---- */

int ws_fs_lock(const char *path, int wait, int *fd, long *holder)
{
    *holder = 0;
    *fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (*fd < 0) return ws_fail(WS_EIO, "cannot open the lock %s: %s", path, strerror(errno));
    while (flock(*fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int err = errno;
        char buf[32] = "";
        ssize_t n = pread(*fd, buf, sizeof buf - 1, 0);
        if (n > 0) *holder = strtol(buf, NULL, 10);
        close(*fd);
        *fd = -1;
        if (err == EWOULDBLOCK) return 1;
        return ws_fail(WS_EIO, "cannot lock %s: %s", path, strerror(err));
    }
    /* the pid is for the message of the next process that finds the lock taken; the lock itself is
     * the kernel's, released when this process ends however it ends */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) == 0 && pwrite(*fd, buf, (size_t)n, 0) < 0) { /* the lock holds without its pid */ }
    return 0;
}

long ws_fs_lock_holder(const char *path)
{
    char buf[32] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

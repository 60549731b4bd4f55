/* fs.h - small file-system helpers: folders, durable atomic files, the ids of a folder.
 *
 * Every output file of wsseed is written under a temporary name and renamed into place only when
 * complete and flushed to the disk (file, then its folder): a kill or a power loss leaves either
 * the old file or the new one, never a torn one, and a full disk is an error naming the file.
 */
#ifndef WS_CORE_FS_H
#define WS_CORE_FS_H
#include <stddef.h>
#include <stdio.h>

/* Creates directory `dir` and its missing parents (like mkdir -p). Returns 0 or WS_EIO. */
int ws_mkdir_p(const char *dir);
/* Creates the missing parent directories of file `path`. */
int ws_mkdir_parent(const char *path);

/* Opens path.tmp-<pid> for writing ("wb"); tmp (cap bytes) receives its name. NULL on failure
 * (the message names the file and the cause). Finish with ws_fs_commit_file. */
FILE *ws_fs_open_tmp(const char *path, char *tmp, size_t cap);
/* Finishes a file written through ws_fs_open_tmp: flush, fsync, close f, rename tmp to path,
 * fsync the folder. On failure the temporary file is removed and the message names path and the
 * cause ("No space left on device"). f is closed in every case. */
int ws_fs_commit_file(FILE *f, const char *tmp, const char *path);
/* The same for a complete file already closed by its writer (HDF5, libpng): fsync tmp, rename it
 * to path, fsync the folder; tmp is removed on failure. */
int ws_fs_commit(const char *tmp, const char *path);
/* Writes len bytes to path atomically and durably (the three calls above). */
int ws_fs_write_atomic(const char *path, const void *data, size_t len);
/* Records the message of a failed write of path with errno err and returns WS_EIO: a full disk
 * (ENOSPC, EDQUOT) reads "no space left on device while writing <path>" with what to do. */
int ws_fs_fail_write(int err, const char *path);
/* Removes the temporary files <dir>/<prefix>*.tmp-<pid> whose writer <pid> is gone (a kill or a
 * full disk left them): they hold nothing complete, and on a full disk they hold the space a
 * rerun needs. Files of live processes are kept. Errors are ignored (best effort). */
void ws_fs_remove_stale_tmp(const char *dir, const char *prefix);

/* The names of the files of dir ending in ext, without it, sorted (*ids malloc'd: free with
 * ws_fs_ids_free). An empty folder gives *n = 0 and success. */
int ws_fs_list_ids(const char *dir, const char *ext, char ***ids, int *n);
void ws_fs_ids_free(char **ids, int n);

/* Takes the kernel lock (flock) of file path, created if missing, and writes this process's pid
 * into it; the kernel drops the lock when the process ends, however it ends. wait = 0: returns
 * 1 at once when another process holds it (*holder: its pid, 0 if unknown); wait = 1: blocks
 * until it is free. 0: locked, *fd is held (close it to release); < 0: error. */
int ws_fs_lock(const char *path, int wait, int *fd, long *holder);
/* The pid written in lock file path by its last holder, 0 when unknown. */
long ws_fs_lock_holder(const char *path);

#endif

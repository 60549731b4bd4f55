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

/* The names of the files of dir ending in ext, without it, sorted (*ids malloc'd: free with
 * ws_fs_ids_free). An empty folder gives *n = 0 and success. */
int ws_fs_list_ids(const char *dir, const char *ext, char ***ids, int *n);
void ws_fs_ids_free(char **ids, int n);

#endif

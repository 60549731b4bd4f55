/* fs.h - small file-system helpers. */
#ifndef WS_CORE_FS_H
#define WS_CORE_FS_H

/* Creates directory `dir` and its missing parents (like mkdir -p). Returns 0 or WS_EIO. */
int ws_mkdir_p(const char *dir);
/* Creates the missing parent directories of file `path`. */
int ws_mkdir_parent(const char *path);

#endif

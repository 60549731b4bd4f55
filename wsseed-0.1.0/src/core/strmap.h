/* strmap.h - a string -> int64 hash map (open addressing, FNV-1a). The map copies its keys. */
#ifndef WS_CORE_STRMAP_H
#define WS_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_strmap {
    char **keys;     /* [cap] owned copies, NULL = empty slot */
    size_t *klen;    /* [cap] key lengths */
    int64_t *vals;   /* [cap] */
    size_t cap, n;
} ws_strmap;

/* An empty map sized for about `expected` keys; 0 or WS_ENOMEM. Free with ws_strmap_free. */
int ws_strmap_init(ws_strmap *m, size_t expected);
/* Frees the map and its key copies; a zeroed map is a no-op. */
void ws_strmap_free(ws_strmap *m);
/* Inserts or overwrites key[0..len) -> v. */
int ws_strmap_put(ws_strmap *m, const char *key, size_t len, int64_t v);
/* 1 and *v when found, else 0. */
int ws_strmap_get(const ws_strmap *m, const char *key, size_t len, int64_t *v);

#endif

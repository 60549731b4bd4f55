/* strmap.c - string -> int64 hash map (see strmap.h): open addressing with linear probing over a
 * power-of-two table kept at most half full. Used where lookups are many and keys are short
 * (BPE and WordPiece vocabularies, BPE merge ranks, JSON box indexes), so FNV-1a and no deletion
 * keep it small.
 */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static uint64_t hash(const char *k, size_t len)
{
    /* FNV-1a (64-bit offset basis and prime): byte-at-a-time, good enough spread for short keys, no seed
     * needed since the keys are not adversarial. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h;
}

int ws_strmap_init(ws_strmap *m, size_t expected)
{
    size_t cap = 16;
    /* Power of two so a slot is hash & (cap - 1); twice the expected count keeps the load under 1/2, where
     * linear probes stay short. */
    while (cap < 2 * expected + 1) cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->klen = calloc(cap, sizeof *m->klen);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->klen || !m->vals) {
        ws_strmap_free(m);
        return ws_fail(WS_ENOMEM, "hash map: out of memory");
    }
    return 0;
}

void ws_strmap_free(ws_strmap *m)
{
    for (size_t i = 0; m->keys && i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->klen);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t slot(const ws_strmap *m, const char *key, size_t len)
{
    size_t i = hash(key, len) & (m->cap - 1);
    /* Terminates because the table is never full (the load stays at most 1/2). */
    while (m->keys[i] && (m->klen[i] != len || memcmp(m->keys[i], key, len) != 0)) i = (i + 1) & (m->cap - 1);
    return i;
}

static int grow(ws_strmap *m)
{
    ws_strmap big;
    if (ws_strmap_init(&big, m->cap)) return WS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = slot(&big, m->keys[i], m->klen[i]);
            big.keys[j] = m->keys[i];
            big.klen[j] = m->klen[i];
            big.vals[j] = m->vals[i];
            /* The key strings move to the new table rather than being copied; cleared here so freeing the old
             * table leaves them alone. */
            m->keys[i] = NULL;
        }
    big.n = m->n;
    ws_strmap_free(m);
    *m = big;
    return 0;
}

int ws_strmap_put(ws_strmap *m, const char *key, size_t len, int64_t v)
{
    if (2 * (m->n + 1) > m->cap && grow(m)) return WS_ENOMEM;
    size_t i = slot(m, key, len);
    if (!m->keys[i]) {
        char *k = malloc(len + 1);
        if (!k) return ws_fail(WS_ENOMEM, "hash map: out of memory");
        memcpy(k, key, len);
        k[len] = '\0';
        m->keys[i] = k;
        m->klen[i] = len;
        m->n++;
    }
    m->vals[i] = v;
    return 0;
}

int ws_strmap_get(const ws_strmap *m, const char *key, size_t len, int64_t *v)
{
    if (!m->cap) return 0;
    size_t i = slot(m, key, len);
    if (!m->keys[i]) return 0;
    if (v) *v = m->vals[i];
    return 1;
}

/* sha1.h - SHA-1 (FIPS 180-4), for AlchemyCat's string seeds: hash_str(s) =
 * int(sha1(utf8(s)).hexdigest(), 16) mod 2^32, the last 4 digest bytes big-endian. */
#ifndef WS_CORE_SHA1_H
#define WS_CORE_SHA1_H
#include <stddef.h>
#include <stdint.h>
/* SHA-1 of n bytes of data into digest (the cache keys of the pipeline, seed strings). */
void ws_sha1(const void *data, size_t n, uint8_t digest[20]);
/* AlchemyCat's hash_str of a UTF-8 string (e.g. "真" -> 2763632353). */
uint32_t ws_hash_str(const char *s);
#endif

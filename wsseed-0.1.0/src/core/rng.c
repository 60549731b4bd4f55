/* rng.c - MT19937 and numpy's legacy draws (see rng.h). numpy's RandomState algorithms are copied
 * draw for draw (random_sample, the masked-rejection interval, shuffle), so a seeded augmentation
 * makes the same crops as the official Python loader; the state is explicit (no hidden global) so
 * loader threads and checkpoints each hold their own.
 */
#include "core/rng.h"

void ws_rng_seed(ws_rng *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    /* pos = 624: the first draw regenerates the whole state, as the reference implementation does. */
    r->pos = 624;
}

static void regenerate(ws_rng *r)
{
    uint32_t *mt = r->mt;
    for (int i = 0; i < 624; i++) {
        uint32_t y = (mt[i] & 0x80000000u) | (mt[(i + 1) % 624] & 0x7fffffffu);
        mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->pos = 0;
}

uint32_t ws_rng_u32(ws_rng *r)
{
    if (r->pos >= 624) regenerate(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

double ws_rng_double(ws_rng *r)
{
    /* 53 random bits from two words (27 + 26), numpy's random_sample: every double in [0, 1) with
     * step 2^-53. */
    uint32_t a = ws_rng_u32(r) >> 5, b = ws_rng_u32(r) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double ws_rng_uniform(ws_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ws_rng_double(r);
}

uint32_t ws_rng_interval(ws_rng *r, uint32_t max)
{
    if (max == 0) return 0;
    uint32_t mask = max, v;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
    /* Mask to the next power of two and reject, numpy's legacy bounded draw: unbiased, and a different number
     * of words than a modulo would use, which matters for matching its stream. */
    while ((v = ws_rng_u32(r) & mask) > max) {}
    return v;
}

int64_t ws_rng_randint(ws_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)ws_rng_interval(r, (uint32_t)(hi - lo - 1));
}

void ws_rng_shuffle_i64(ws_rng *r, int64_t *a, int64_t n)
{
    /* Fisher-Yates from the end, numpy's legacy shuffle order. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)ws_rng_interval(r, (uint32_t)i), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* SplitMix64's finaliser: derives independent seeds for (seed, stream, purpose) so per-image generators do
 * not overlap, without a shared state. */
static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint32_t ws_rng_derive(uint64_t seed, uint64_t a, uint64_t b)
{
    return (uint32_t)(splitmix(splitmix(splitmix(seed) ^ a) ^ b) >> 32);
}

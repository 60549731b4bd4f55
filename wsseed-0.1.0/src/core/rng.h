/* rng.h - the project's own random stream: MT19937 with numpy's legacy RandomState draws.
 *
 * Augmentation and data order use this generator (explicit state, passed by pointer; no
 * globals). Seeding and the double/uniform/interval/shuffle draws follow numpy's legacy
 * `np.random.seed(int)` stream bit for bit, so the golden's composed colour-jitter cases are
 * reproduced from their numpy seed. The whole state is a plain struct: checkpoints store it.
 */
#ifndef WS_CORE_RNG_H
#define WS_CORE_RNG_H
#include <stdint.h>

typedef struct ws_rng {
    uint32_t mt[624];  /* MT19937 state vector */
    int32_t pos;       /* next index into mt (624 = regenerate) */
} ws_rng;

/* init_genrand(seed) (numpy `RandomState(seed)` for a 32-bit seed). */
void ws_rng_seed(ws_rng *r, uint32_t seed);
uint32_t ws_rng_u32(ws_rng *r);
/* numpy random_sample(): 53-bit double in [0, 1). */
double ws_rng_double(ws_rng *r);
/* numpy uniform(lo, hi) = lo + (hi - lo) * random_sample(). */
double ws_rng_uniform(ws_rng *r, double lo, double hi);
/* numpy's legacy bounded draw: uniform integer in [0, max] by masked rejection. */
uint32_t ws_rng_interval(ws_rng *r, uint32_t max);
/* numpy randint(lo, hi): uniform in [lo, hi). hi > lo. */
int64_t ws_rng_randint(ws_rng *r, int64_t lo, int64_t hi);
/* numpy shuffle of a (Fisher-Yates from the end with ws_rng_interval). */
void ws_rng_shuffle_i64(ws_rng *r, int64_t *a, int64_t n);
/* Derives an independent seed from (seed, a, b) (splitmix64 mix), e.g. per image and epoch. */
uint32_t ws_rng_derive(uint64_t seed, uint64_t a, uint64_t b);
#endif

/* rng.h - small seeded PRNG (splitmix64) for permutations.
 *
 * Header-only and libc-free so guest payloads can use it too.  Statistical
 * quality only has to be good enough that the permutation has no structure
 * the prefetchers or cache sets could exploit.
 */
#ifndef NESTBENCH_RNG_H
#define NESTBENCH_RNG_H

#include <stdint.h>

struct rng {
	uint64_t state;
};

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias (Lemire's multiply-shift with rejection). */
static inline uint64_t rng_below(struct rng *r, uint64_t bound)
{
	unsigned __int128 m = (unsigned __int128)rng_next(r) * bound;
	uint64_t low = (uint64_t)m;
	if (low < bound) {
		uint64_t threshold = (0 - bound) % bound;
		while (low < threshold) {
			m = (unsigned __int128)rng_next(r) * bound;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

#endif

/* rounds.h - a run measured in rounds, and each point's rounds merged.
 *
 * A run visits every point of its plan (a sweep point of a backing: every
 * sweeping kernel natively and in the VMs; a cell of a non-sweeping kernel)
 * once per round, in an order drawn afresh each round from the run's seed
 * (rounds_order), with a fresh chain seed each round (rounds_chain_seed).
 * Drift of the machine (neighbours, shared caches, frequency) then falls on
 * every point alike instead of on whichever backing or size happened to run
 * in a bad minute, and the round, not the 10 ms slice, is the replicate:
 * a point's median and interval come from its round medians
 * (summarize_rounds, core/stats.h).
 *
 * While a round runs, records_write hands each measurement to the holder
 * (rounds_hold_*), which keeps its samples and, from the first round, its
 * JSON parts; rounds_hold_finish writes one merged measurement per point,
 * in the order the points were first seen, with "rounds": {n, medians,
 * seeds, positions, ...}.  A point skipped or failed in any round is
 * written as that skip or failure (its measured rounds are dropped: a
 * failure must not hide behind the rounds that worked).  A point is a
 * unit's measurement of one kernel in one mode and guest page (the n-th
 * such of a visit), not its identity: some kernels record outcomes among
 * their parameters, and a skip is recorded without the parameters its
 * measured rounds had.
 */
#ifndef NESTBENCH_ROUNDS_H
#define NESTBENCH_ROUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "harness/run/records.h"

/* The most rounds a point is measured in (base and adaptive together). */
#define ROUNDS_MAX 64

/* The base rounds a cell of a non-sweeping kernel is visited in: the first
 * min(R, ROUNDS_CELLS).  Its setup (mapping and populating a region of up
 * to a GiB, forking, booting a VM) costs far more than its samples, so each
 * round is paid in setups; 5 is what compare needs to test and gate
 * (BOOT_MIN_SAMPLES).  Adaptive rounds may visit it again. */
#define ROUNDS_CELLS 5

/* order[0..n) = the visiting order of round `round`: a permutation of
 * 0..n-1 that depends on (seed, round) only (Fisher-Yates, splitmix64). */
void rounds_order(uint64_t seed, unsigned round, size_t *order, size_t n);

/* The chain seed of round `round`: round 0 keeps the run's seed (a run of
 * one round measures what it measured before rounds existed). */
uint64_t rounds_chain_seed(uint64_t seed, unsigned round);

/* Samples and warm-up samples of each of R rounds when a measurement is to
 * have `samples` in all: split, not multiplied (at least one per round;
 * warm-up: at least one per round when any was asked for, since each round
 * builds its chain afresh). */
unsigned rounds_samples_per_round(unsigned samples, unsigned rounds);
unsigned rounds_warmup_per_round(unsigned warmup, unsigned rounds);

/* The half-width of [lo, hi] in percent of the median (infinite when the
 * median is not positive). */
double rounds_half_width_pct(double median, double lo, double hi);

struct rounds_hold;

/* A holder for `recs` (sets recs->hold; records_write keeps working for
 * everything else once rounds_hold_finish has run).  target_pct: the
 * precision a point should reach (its interval's half-width in percent of
 * its median).  NULL when out of memory. */
struct rounds_hold *rounds_hold_new(struct run_records *recs, double target_pct);

/* Round `round` begins, with chain seed `seed`; then each point visited
 * announces its position in the round's order and the unit it belongs to
 * (what a later adaptive round re-measures). */
void rounds_hold_round(struct rounds_hold *h, unsigned round, uint64_t seed);
void rounds_hold_unit(struct rounds_hold *h, size_t unit, size_t position);

/* Is any measured point of `unit` short of the target precision? */
int rounds_hold_unit_imprecise(const struct rounds_hold *h, size_t unit);

/* Write every point's merged measurement to recs (and detach the holder
 * from it): 0, or -1 when a view could not be kept (recs->lost is set).
 * missed: the labels of the measured points that missed the target (a JSON
 * array, owned by the caller). */
int rounds_hold_finish(struct rounds_hold *h, json_t **missed, size_t *nmeasured);

void rounds_hold_free(struct rounds_hold *h);

#endif

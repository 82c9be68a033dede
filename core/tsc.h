/* tsc.h - fenced time-stamp-counter reads and TSC calibration.
 *
 * Timed regions are bracketed by tsc_begin()/tsc_end(): LFENCE before RDTSC
 * keeps earlier instructions from drifting into the region, RDTSCP + LFENCE at
 * the end waits for the measured loads to retire before reading the counter.
 * Both are static inline so that the same code runs on the host and inside
 * guest payloads (no libc involved).
 */
#ifndef NESTBENCH_TSC_H
#define NESTBENCH_TSC_H

#include <stdint.h>

static inline uint64_t tsc_begin(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t tsc_end(void)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

#ifndef NESTBENCH_FREESTANDING
/* Calibrate the TSC against CLOCK_MONOTONIC_RAW (once; later calls return
 * the cached value).  Returns ticks per nanosecond. */
double tsc_ticks_per_ns(void);
/* Smallest observed cost of an empty tsc_begin()/tsc_end() pair, in ticks. */
uint64_t tsc_overhead_ticks(void);
/* CPUID 0x80000007 EDX[8]: the TSC runs at a constant rate in all P/C-states. */
int tsc_is_invariant(void);
#endif

#endif

/* tsc.c - TSC calibration against CLOCK_MONOTONIC_RAW. */
#include "core/tsc.h"

#include <cpuid.h>
#include <time.h>

static uint64_t mono_raw_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One calibration window: TSC ticks over a ~20 ms CLOCK_MONOTONIC_RAW interval.
 * Each end point is the read pair with the smallest clock_gettime duration,
 * so a preemption between the two reads does not skew it. */
static double calibrate_once(void)
{
	uint64_t t0 = tsc_begin(), n0 = mono_raw_ns();
	uint64_t n1, t1;
	do {
		n1 = mono_raw_ns();
		t1 = tsc_end();
	} while (n1 - n0 < 20000000u);
	return (double)(t1 - t0) / (double)(n1 - n0);
}

double tsc_ticks_per_ns(void)
{
	static double cached;
	if (cached > 0)
		return cached;
	/* Median of five windows: robust against one window disturbed by the host. */
	double v[5];
	for (int i = 0; i < 5; i++)
		v[i] = calibrate_once();
	for (int i = 1; i < 5; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	cached = v[2];
	return cached;
}

uint64_t tsc_overhead_ticks(void)
{
	static uint64_t cached = UINT64_MAX;
	if (cached != UINT64_MAX)
		return cached;
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 10000; i++) {
		uint64_t a = tsc_begin();
		uint64_t b = tsc_end();
		if (b - a < best)
			best = b - a;
	}
	cached = best;
	return cached;
}

int tsc_is_invariant(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
		return 0;
	__get_cpuid(0x80000007u, &a, &b, &c, &d);
	return (d >> 8) & 1;
}

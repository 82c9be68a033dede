/* sweep.c - log-spaced working-set sweeps (see sweep.h). */
#include "harness/run/sweep.h"

#include <math.h>

size_t sweep_points(size_t min, size_t max, unsigned per_octave, size_t *out, size_t cap)
{
	const size_t quantum = 4096;
	if (min < quantum)
		min = quantum;
	if (max < min || per_octave == 0 || cap == 0)
		return 0;
	size_t n = 0;
	for (unsigned i = 0; n < cap; i++) {
		double v = (double)min * exp2((double)i / per_octave);
		if (v > (double)max)
			break;
		size_t ws = (size_t)llround(v / quantum) * quantum;
		if (n == 0 || ws > out[n - 1])
			out[n++] = ws;
	}
	size_t top = max / quantum * quantum;
	if (n < cap && top > out[n - 1])
		out[n++] = top;
	return n;
}

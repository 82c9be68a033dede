/* sweep.h - log-spaced working-set sweeps. */
#ifndef NESTBENCH_SWEEP_H
#define NESTBENCH_SWEEP_H

#include <stddef.h>

/* Working sets from min to max (both included), `per_octave` points per
 * doubling, each rounded to a multiple of 4 KiB and deduplicated.  Returns
 * the number of points written to out (at most cap). */
size_t sweep_points(size_t min, size_t max, unsigned per_octave, size_t *out, size_t cap);

#endif

/* suite.h - named suites: which kernels, which sweep, how many samples.
 *
 * smoke: seconds, for tests; quick: the `make run` default, a few minutes;
 * full: as long as tight confidence intervals need.
 */
#ifndef NESTBENCH_SUITE_H
#define NESTBENCH_SUITE_H

#include <stddef.h>

#include "core/kernel.h"

/* Sizes one non-sweeping kernel is measured at in a suite. */
struct suite_sizes {
	const char *kernel; /* NULL ends the list */
	struct kernel_sizes sizes;
};

struct suite {
	const char *name;
	const char *summary;
	const char *const *kernels; /* NULL-terminated kernel names */
	size_t ws_min;
	size_t ws_max;       /* upper end of the sweep, lowered to fit free memory */
	unsigned per_octave; /* sweep points per doubling of the working set */
	unsigned samples;
	unsigned warmup_samples;
	double target_sample_ns;
	unsigned rounds;         /* every point once per round; the samples split across them */
	unsigned time_budget_s;  /* adaptive rounds after the base ones, at most this long */
	const struct suite_sizes *sizes; /* per non-sweeping kernel (others: the kernel's defaults) */
};

extern const struct suite suites[];
extern const size_t suites_len;

const struct suite *suite_find(const char *name);
/* The sizes a suite gives a kernel, or NULL when it gives none. */
const struct kernel_sizes *suite_kernel_sizes(const struct suite *s, const char *kernel);

#endif

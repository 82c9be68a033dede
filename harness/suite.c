/* suite.c - the suite table (see suite.h). */
#include "suite.h"

#include <string.h>

#include "util.h"

static const char *const chase_kernels[] = {"chase", "chase-ctl", NULL};

const struct suite suites[] = {
	{
		.name = "smoke",
		.summary = "every kernel at a few sizes, 5 samples (seconds; what the tests run)",
		.kernels = chase_kernels,
		.ws_min = 16u << 10,
		.ws_max = 16u << 20,
		.per_octave = 1,
		.samples = 5,
		.warmup_samples = 1,
		.target_sample_ns = 1e6,
	},
	{
		.name = "quick",
		.summary = "16K..1G, 2 points per octave, 11 samples (a few minutes; make run)",
		.kernels = chase_kernels,
		.ws_min = 16u << 10,
		.ws_max = 1u << 30,
		.per_octave = 2,
		.samples = 11,
		.warmup_samples = 2,
		.target_sample_ns = 10e6,
	},
	{
		.name = "full",
		.summary = "16K..8G (what fits), 4 points per octave, 31 samples (tight intervals)",
		.kernels = chase_kernels,
		.ws_min = 16u << 10,
		.ws_max = (size_t)8 << 30,
		.per_octave = 4,
		.samples = 31,
		.warmup_samples = 3,
		.target_sample_ns = 20e6,
	},
};
const size_t suites_len = ARRAY_SIZE(suites);

const struct suite *suite_find(const char *name)
{
	for (size_t i = 0; i < suites_len; i++)
		if (!strcmp(suites[i].name, name))
			return &suites[i];
	return NULL;
}

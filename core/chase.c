/* chase.c - the chain builder (layout and order: chase.h). */
#include "core/chase.h"

#include <stdlib.h>

#include "core/rng.h"

int chase_build(void *buf, uint64_t vbase, uint64_t elements, uint64_t stride, uint64_t group_elems,
		uint64_t seed)
{
	if (!buf || elements == 0 || stride < CHASE_LINE_BYTES || stride % CHASE_LINE_BYTES)
		return -1;
	if (group_elems == 0 || group_elems > elements)
		group_elems = elements;
	uint64_t *order = malloc(elements * sizeof(*order));
	if (!order)
		return -1;
	struct rng r = {seed};

	/* Groups in shuffled order, elements shuffled within each group. */
	uint64_t groups = (elements + group_elems - 1) / group_elems;
	uint64_t *gorder = malloc(groups * sizeof(*gorder));
	if (!gorder) {
		free(order);
		return -1;
	}
	for (uint64_t g = 0; g < groups; g++)
		gorder[g] = g;
	for (uint64_t g = groups - 1; g > 0; g--) {
		uint64_t j = rng_below(&r, g + 1), t = gorder[g];
		gorder[g] = gorder[j];
		gorder[j] = t;
	}
	uint64_t n = 0;
	for (uint64_t gi = 0; gi < groups; gi++) {
		uint64_t first = gorder[gi] * group_elems;
		uint64_t count = first + group_elems <= elements ? group_elems : elements - first;
		uint64_t *o = order + n;
		for (uint64_t i = 0; i < count; i++)
			o[i] = first + i;
		for (uint64_t i = count - 1; i > 0 && count > 1; i--) {
			uint64_t j = rng_below(&r, i + 1), t = o[i];
			o[i] = o[j];
			o[j] = t;
		}
		n += count;
	}
	free(gorder);

	unsigned char *base = buf;
	for (uint64_t i = 0; i < elements; i++) {
		uint64_t from = chase_element_offset(order[i], stride);
		uint64_t to = chase_element_offset(order[(i + 1) % elements], stride);
		*(uint64_t *)(void *)(base + from) = vbase + to;
	}
	free(order);
	return 0;
}

/* plan.c - what a run measures (see plan.h). */
#include "harness/run/plan.h"

#include <string.h>

#include "harness/host/topology.h"
#include "harness/run/rounds.h"
#include "harness/run/suite.h"

/* The most bytes any kernel needs over the sweep. */
size_t plan_buffer_need(const struct run_config *cfg, const size_t *points, size_t npoints)
{
	size_t need = 0;
	for (size_t i = 0; i < cfg->nkernels; i++) {
		const struct kernel_desc *k = cfg->kernels[i];
		if (!(k->flags & KERNEL_NEEDS_BUFFER))
			continue;
		for (size_t p = 0; p < npoints; p++) {
			size_t b = k->buffer_bytes ? k->buffer_bytes(points[p], &cfg->kopt) : points[p];
			if (b > need)
				need = b;
		}
	}
	return need;
}

/* What a non-sweeping kernel is measured at: --size, else the suite's sizes,
 * else its own; each thread count and placement it uses. */
static const struct kernel_sizes *fixed_sizes(const struct run_config *cfg, const struct kernel_desc *k)
{
	if (cfg->sizes.n)
		return &cfg->sizes;
	const struct kernel_sizes *z = suite_kernel_sizes(cfg->suite, k->name);
	return z ? z : &k->default_sizes;
}

/* Default thread counts: 1, 2, 4, ... and the number of PUs allowed. */
static unsigned default_threads(int *out)
{
	int pus = topology_pu_count();
	unsigned n = 0;
	for (int t = 1; t < pus && n < KERNEL_SIZES_MAX - 1; t *= 2)
		out[n++] = t;
	out[n++] = pus > 0 ? pus : 1;
	return n;
}

static unsigned variant_count(const struct kernel_desc *k)
{
	unsigned n = 0;
	while (k->variants && k->variants[n])
		n++;
	return n ? n : 1;
}

static unsigned variants(const struct run_config *cfg, const struct kernel_desc *k)
{
	int tmp[KERNEL_SIZES_MAX];
	unsigned nt = !(k->flags & KERNEL_USES_THREADS) ? 1 : cfg->nthreads ? cfg->nthreads : default_threads(tmp);
	unsigned np = !(k->flags & KERNEL_USES_PLACEMENT) ? 1 : cfg->nplacements ? cfg->nplacements : KERNEL_PLACEMENT_COUNT;
	return nt * np * variant_count(k);
}

/* Measurements per point of a kernel in the run's modes: native, and one
 * per guest page for kernels that run guests themselves. */
unsigned plan_mode_count(const struct run_config *cfg, const struct kernel_desc *k)
{
	unsigned n = (cfg->modes & RUN_MODE_NATIVE) ? 1 : 0;
	if ((cfg->modes & RUN_MODE_VM) && (k->flags & KERNEL_HAS_GUEST))
		n += (unsigned)cfg->nguest_pages;
	return n;
}

size_t plan_per_backing_total(const struct run_config *cfg, size_t npoints)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nkernels; i++) {
		const struct kernel_desc *k = cfg->kernels[i];
		if (k->flags & KERNEL_SWEEPS_WS)
			n += (cfg->modes & RUN_MODE_NATIVE) ? npoints : 0;
		else
			n += fixed_sizes(cfg, k)->n * variants(cfg, k) * plan_mode_count(cfg, k);
	}
	return n;
}

size_t plan_round_total(const struct run_config *cfg, size_t npoints, unsigned rounds)
{
	size_t sweep = 0, all = plan_per_backing_total(cfg, npoints);
	for (size_t i = 0; i < cfg->nkernels; i++)
		if (cfg->kernels[i]->flags & KERNEL_SWEEPS_WS)
			sweep += (cfg->modes & RUN_MODE_NATIVE) ? npoints : 0;
	unsigned cell_rounds = rounds < ROUNDS_CELLS ? rounds : ROUNDS_CELLS;
	return sweep * rounds + (all - sweep) * cell_rounds;
}

int plan_fixed_cells(const struct run_config *cfg, const struct kernel_desc *k, plan_cell_fn fn, void *arg)
{
	const struct kernel_sizes *z = fixed_sizes(cfg, k);
	int threads[KERNEL_SIZES_MAX] = {1};
	unsigned nt = 1, np = 1;
	if (k->flags & KERNEL_USES_THREADS) {
		nt = cfg->nthreads ? cfg->nthreads : default_threads(threads);
		if (cfg->nthreads)
			memcpy(threads, cfg->threads, sizeof(threads));
	}
	enum kernel_placement places[KERNEL_PLACEMENT_COUNT] = {KERNEL_SAME_PU, KERNEL_CROSS_PU};
	if (k->flags & KERNEL_USES_PLACEMENT) {
		np = cfg->nplacements ? cfg->nplacements : KERNEL_PLACEMENT_COUNT;
		if (cfg->nplacements)
			memcpy(places, cfg->placements, sizeof(places));
	}
	unsigned nv = variant_count(k);
	/* Native first, then the guest side of the same point at each guest page. */
	size_t nmodes = 1 + ((cfg->modes & RUN_MODE_VM) && (k->flags & KERNEL_HAS_GUEST) ? cfg->nguest_pages : 0);
	for (unsigned si = 0; si < z->n; si++)
		for (unsigned ti = 0; ti < nt; ti++)
			for (unsigned pi = 0; pi < np; pi++)
				for (unsigned vi = 0; vi < nv; vi++)
					for (size_t mi = 0; mi < nmodes; mi++) {
						if (mi == 0 && !(cfg->modes & RUN_MODE_NATIVE))
							continue;
						struct kernel_options opt = cfg->kopt;
						opt.threads = threads[ti];
						opt.placement = places[pi];
						opt.variant = k->variants ? k->variants[vi] : NULL;
						opt.in_vm = mi > 0;
						opt.guest_page_bytes = mi > 0 ? cfg->guest_pages[mi - 1] : 0;
						if (fn(arg, z->bytes[si], &opt))
							return -1;
					}
	return 0;
}

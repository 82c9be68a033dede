/* kernel_run.h - drive one kernel through setup, samples and teardown the way
 * run.c does, with software counters around the samples (inheriting into
 * children when the kernel asks), for the kernel unit tests.  Header-only,
 * included by test_ptupdate.c and test_ctxsw.c. */
#ifndef NESTBENCH_KERNEL_RUN_H
#define NESTBENCH_KERNEL_RUN_H

#include <string.h>

#include "core/kernel.h"
#include "harness/pmu/swcount.h"
#include "harness/host/topology.h"

struct krun {
	int rc;                      /* setup: 0, 1 (skipped), -1; or the sample's -1 */
	nb_error err;
	uint64_t counts[SWC_COUNT];
	uint64_t ops;
	json_t *params, *flags, *backing;
	json_t *kvm; /* ctx.kvm_json: the kernel's VM as KVM saw it (guest kernels) */
};

static void krun_free(struct krun *r)
{
	json_decref(r->params);
	json_decref(r->flags);
	json_decref(r->backing);
	json_decref(r->kvm);
	memset(r, 0, sizeof(*r));
}

/* Does any flag contain `what`? */
static int krun_flagged(const struct krun *r, const char *what)
{
	size_t i;
	json_t *f;
	json_array_foreach(r->flags, i, f)
		if (strstr(json_string_value(f), what))
			return 1;
	return 0;
}

static int krun(const char *name, enum backing_kind b, size_t ws, const struct kernel_options *opt, uint64_t iters,
		unsigned samples, struct krun *r)
{
	memset(r, 0, sizeof(*r));
	const struct kernel_desc *k = kernel_find(name);
	if (!k) {
		r->rc = nb_fail(&r->err, "no kernel %s", name);
		return r->rc;
	}
	if (topology_init(&r->err))
		return r->rc = -1;
	int cpu = topology_default_measure_pu();
	if (topology_pin_self(cpu, &r->err))
		return r->rc = -1;
	struct swcount sw;
	int have = swcount_open(&sw, 0, (k->flags & KERNEL_COUNTS_CHILDREN) != 0, &r->err) == 0;
	struct kernel_ctx ctx = {
		.desc = k, .backing = b, .working_set_bytes = ws, .cpu = cpu, .opt = opt,
		.params = json_object(), .flags = json_array(),
	};
	r->rc = k->setup(&ctx, &r->err);
	if (r->rc == 0) {
		uint64_t ticks;
		/* One warm-up sample outside the counters, as measure.c does. */
		r->rc = k->sample(&ctx, iters, &ticks, &r->err);
		if (have)
			swcount_reset(&sw);
		for (unsigned i = 0; i < samples && r->rc == 0; i++) {
			if (have)
				swcount_start(&sw);
			r->rc = k->sample(&ctx, iters, &ticks, &r->err);
			if (have)
				swcount_stop(&sw);
			r->ops += iters;
		}
	}
	/* As run.c: a setup that failed or skipped cleaned up after itself. */
	if (ctx.priv && k->teardown)
		k->teardown(&ctx);
	if (have) {
		swcount_read(&sw, r->counts);
		if (r->rc == 0 && k->check)
			k->check(&ctx, r->counts, r->ops);
		swcount_close(&sw);
	} else {
		for (int i = 0; i < SWC_COUNT; i++)
			r->counts[i] = UINT64_MAX;
	}
	r->params = ctx.params;
	r->flags = ctx.flags;
	r->backing = ctx.backing_json;
	r->kvm = ctx.kvm_json;
	topology_restore_affinity();
	return r->rc;
}

#endif

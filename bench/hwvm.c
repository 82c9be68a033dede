/* hwvm.c - shared pieces of the hardware-assist kernels (see hwvm.h). */
#include "bench/hwvm.h"

#include <cpuid.h>
#include <string.h>
#include <unistd.h>

#include "core/tsc.h"

int hwvm_size0_once(const struct kernel_ctx *ctx, size_t bytes, nb_error *err)
{
	if (bytes == 0 && ctx->backing != BACKING_4K)
		return nb_skip(err, "touches no memory of the backing at size 0: measured once, under the 4k backing");
	return 0;
}

uint64_t hwvm_guest_page(const struct kernel_ctx *ctx)
{
	return ctx->opt->guest_page_bytes ? ctx->opt->guest_page_bytes : 4096;
}

int hwvm_region(struct hwvm *h, const struct kernel_ctx *ctx, size_t bytes, nb_error *err)
{
	memset(h, 0, sizeof(*h));
	uint64_t page = hwvm_guest_page(ctx);
	int rc = vm_available(err);
	if (rc)
		return rc;
	if ((rc = vm_guest_page_usable(page, err)) != 0)
		return rc;
	size_t region = bytes ? (bytes + page - 1) / page * page : page;
	if ((rc = backing_usable(ctx->backing, region, err)) != 0)
		return rc;
	return buffer_alloc(&h->region, ctx->backing, region, err);
}

void hwvm_kvm_facts(struct hwvm *h, struct kernel_ctx *ctx)
{
	if (!h->vm)
		return;
	json_decref(ctx->kvm_json);
	ctx->kvm_json = vm_kvm_json(h->vm);
	vm_kvm_flags(h->vm, h->region.verified_page_bytes, ctx->flags);
}

int hwvm_open(struct hwvm *h, struct kernel_ctx *ctx, size_t bytes, unsigned spaces, unsigned vcpus,
	      const int *ap_cpus, nb_error *err)
{
	int rc = hwvm_region(h, ctx, bytes, err);
	if (rc)
		return rc;
	uint64_t page = hwvm_guest_page(ctx);
	size_t region = h->region.bytes;
	struct vm_config vc = {
		.region = &h->region,
		.region_bytes = region,
		.region_page_bytes = page,
		.spaces = spaces,
		.vcpus = vcpus,
		.ap_cpus = ap_cpus,
		.cpu = ctx->cpu,
	};
	if ((rc = vm_create(&h->vm, &vc, err)) != 0) {
		buffer_free(&h->region);
		return rc;
	}
	ctx->guest_built_page_bytes = vm_built_page_bytes(h->vm);
	if (vm_inject_fault_if_asked(h->vm, ctx->desc->name, err)) {
		hwvm_close(h);
		return -1;
	}
	h->pmu = hwvm_pmu_open(ctx, vm_vcpu_tid(h->vm), &h->pmu_why);
	return 0;
}

struct pmu_session *hwvm_pmu_open(const struct kernel_ctx *ctx, int tid, const char **why_not)
{
	if (ctx->opt->no_pmu) {
		*why_not = "not opened: --no-pmu";
		return NULL;
	}
	if (tid <= 0) {
		*why_not = "not opened: the vCPU thread was gone";
		return NULL;
	}
	/* A failure to count (no PMU here) is recorded by the session itself,
	 * never an error of the kernel; --events was checked before the run. */
	struct pmu_request rq = {.events = ctx->opt->pmu_events, .tid = tid, .guest = 1, .no_software = 1};
	nb_error perr;
	struct pmu_session *s = pmu_session_open(&rq, &perr);
	if (!s)
		*why_not = "not opened: the event set could not be resolved";
	return s;
}

void hwvm_account(struct hwvm *h, const struct vm_reply *r)
{
	h->commands++;
	h->exits += r->exits;
	h->bench_exits += r->bench_exits;
	h->turns += r->turns;
	h->run_ticks += r->run_ticks;
	h->vmm_ticks += r->vmm_ticks;
	h->host_ticks += r->host_ticks;
	h->kvm_counted = h->commands == 1 ? r->kvm_counted : h->kvm_counted && r->kvm_counted;
	for (int i = 0; i < KVM_EXIT_STATS; i++)
		h->kvm_exits[i] += r->kvm_exits[i];
}

int hwvm_command(struct hwvm *h, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
		 struct vm_reply *r, nb_error *err)
{
	if (h->pmu)
		pmu_session_start(h->pmu);
	int rc = vm_command(h->vm, op, args, nargs, timeout_s, r, err);
	if (h->pmu)
		pmu_session_stop(h->pmu);
	if (rc == 0)
		hwvm_account(h, r);
	return rc;
}

json_t *hwvm_share_json(const struct hwvm *h)
{
	double tpn = tsc_ticks_per_ns();
	json_t *share = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:s}", "commands", (json_int_t)h->commands, "vm_exits",
			 (json_int_t)h->exits, "bench_exits", (json_int_t)h->bench_exits, "turns", (json_int_t)h->turns,
			 "in_kvm_run_ns", (double)h->run_ticks / tpn, "vmm_ns", (double)h->vmm_ticks / tpn, "note",
			 "measured on the vCPU thread: time inside KVM_RUN, and time in the VMM between a benchmark "
			 "exit's return from KVM_RUN and the next KVM_RUN");
	/* Every exit as KVM counts it (those KVM handles itself too), beside the
	 * ones that reached this VMM. */
	json_t *kx = json_object();
	for (int i = 0; i < KVM_EXIT_STATS && h->kvm_counted; i++)
		json_object_set_new(kx, vm_kvm_exit_names[i], json_integer((json_int_t)h->kvm_exits[i]));
	json_object_set_new(share, "kvm_counted_exits", h->kvm_counted ? kx : (json_decref(kx), json_null()));
	if (h->vm)
		json_object_set_new(share, "kvm", vm_kvm_json(h->vm));
	return share;
}

static int is_hardware(const json_t *ev)
{
	const char *k = json_string_value(json_object_get(ev, "kind"));
	return k && !strcmp(k, "hardware");
}

/* Did any hardware event of an available session count more than zero? */
static int any_hw_count(const json_t *full)
{
	size_t i;
	json_t *ev;
	json_array_foreach(json_object_get(full, "events"), i, ev)
		if (is_hardware(ev) &&
		    json_integer_value(json_object_get(ev, "count")) > 0)
			return 1;
	return 0;
}

json_t *hwvm_session_json(struct pmu_session *s, const char *why_not, uint64_t ops)
{
	if (!s)
		return json_pack("{s:b, s:s, s:b}", "available", 0, "reason", why_not ? why_not : "not opened",
				 "guest_mode", 1);
	json_t *full = pmu_session_json(s, ops);
	if (json_is_true(json_object_get(full, "available")) && any_hw_count(full))
		return full;
	json_t *brief;
	if (json_is_true(json_object_get(full, "available")))
		brief = json_pack("{s:b, s:s, s:b}", "available", 0, "reason",
				  "the session was started around every sample but every hardware event counted 0 in "
				  "guest mode: the host does not count this vCPU's guest mode (zero is no measurement)",
				  "guest_mode", 1);
	else
		brief = json_pack("{s:b, s:O, s:b}", "available", 0, "reason", json_object_get(full, "reason"),
				  "guest_mode", 1);
	json_decref(full);
	return brief;
}

json_t *hwvm_pmu_json(struct hwvm *h, uint64_t ops)
{
	return hwvm_session_json(h->pmu, h->pmu_why, ops);
}

void hwvm_close(struct hwvm *h)
{
	if (h->pmu)
		pmu_session_close(h->pmu);
	h->pmu = NULL;
	vm_destroy(h->vm);
	h->vm = NULL;
	if (h->region.map_base)
		buffer_free(&h->region);
	memset(&h->region, 0, sizeof(h->region));
}

double hwvm_timeout_s(uint64_t ops, double ns_per_op)
{
	return 10 + (double)ops * ns_per_op * 1e-9;
}

static json_t *param_file(const char *path)
{
	char buf[64];
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

json_t *hwvm_tlb_tagging_json(void)
{
	json_t *src = json_object();
	json_t *vpid = param_file("/sys/module/kvm_intel/parameters/vpid");
	json_t *ept = param_file("/sys/module/kvm_intel/parameters/ept");
	json_t *npt = param_file("/sys/module/kvm_amd/parameters/npt");
	json_t *pvm = param_file("/sys/module/kvm_pvm/parameters/pvm_native");
	int intel = json_is_string(vpid), amd = json_is_string(npt) || access("/sys/module/kvm_amd", F_OK) == 0;
	int is_pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	json_object_set_new(src, "kvm_intel.vpid", vpid);
	json_object_set_new(src, "kvm_intel.ept", ept);
	json_object_set_new(src, "kvm_amd.npt", npt);
	json_object_set_new(src, "kvm_pvm.pvm_native", pvm);
	unsigned a, b, c, d;
	int svm = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 2));
	json_object_set_new(src, "cpuid_svm", json_boolean(svm));
	if (svm && __get_cpuid(0x8000000a, &a, &b, &c, &d)) {
		json_object_set_new(src, "cpuid_8000000a_asids", json_integer(b));
		json_object_set_new(src, "cpuid_8000000a_edx", json_integer(d));
	} else {
		json_object_set_new(src, "cpuid_8000000a_asids", json_null());
	}
	int pcid = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 17));
	json_object_set_new(src, "host_pcid", json_boolean(pcid));
	const char *verdict, *why, *module;
	if (intel) {
		int on = json_string_value(json_object_get(src, "kvm_intel.vpid"))[0] == 'Y';
		verdict = on ? "tagged" : "not tagged";
		why = on ? "kvm_intel.vpid=Y: each vCPU has a VPID, guest TLB entries survive VM switches"
			 : "kvm_intel.vpid=N: KVM flushes the guest's TLB entries on every VM entry after a switch";
		module = "kvm_intel";
	} else if (amd) {
		verdict = "tagged";
		why = "kvm_amd: SVM tags guest TLB entries with an ASID per vCPU (mandatory in SVM; "
		      "CPUID 0x8000000A EBX gives the ASID count where SVM is visible)";
		module = "kvm_amd";
	} else if (is_pvm) {
		verdict = "unknown";
		why = "kvm_pvm: no hardware ASID/VPID (PVM runs guests on shadow page tables in host mode); whether "
		      "it keeps guest TLB entries across switches with host PCIDs is not visible from user space";
		module = "kvm_pvm";
	} else {
		verdict = "unknown";
		why = "no kvm_intel, kvm_amd or kvm_pvm module parameters visible";
		module = "none";
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "verdict", verdict, "why", why, "module", module, "sources", src);
}

int hwvm_native_sample(struct kernel_ctx *ctx, const struct kernel_desc *native, void *native_priv,
		       uint64_t iters, uint64_t *ticks, nb_error *err)
{
	void *mine = ctx->priv;
	ctx->priv = native_priv;
	int rc = native->sample(ctx, iters, ticks, err);
	ctx->priv = mine;
	return rc;
}

void hwvm_native_teardown(struct kernel_ctx *ctx, const struct kernel_desc *native, void *native_priv)
{
	ctx->priv = native_priv;
	if (native_priv && native->teardown)
		native->teardown(ctx);
	ctx->priv = NULL;
}

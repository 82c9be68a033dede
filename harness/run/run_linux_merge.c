/* run_linux_merge.c - the guest's results in the run's document (see run_linux_merge.h). */
#include "harness/run/run_linux_merge.h"

#include <string.h>

#include "harness/mem/backing.h"
#include "harness/run/record.h"
#include "harness/run/results.h"
#include "harness/run/run_linux_args.h"

/* What every linux measurement gets beside the guest's own fields. */
static void mark(json_t *m, const char *inner, const json_t *host_backing, int timing_valid)
{
	json_object_set_new(m, "inner_mode", json_string(inner));
	json_object_set_new(m, "mode", json_string("linux"));
	json_object_set_new(m, "host_backing", json_deep_copy(host_backing));
	json_object_set_new(m, "timing_valid", json_boolean(timing_valid));
}

long run_linux_merge(json_t *doc, const json_t *guest, const json_t *host_backing, int timing_valid)
{
	const json_t *ms = json_object_get(guest, "measurements");
	json_t *dst = json_object_get(doc, "measurements");
	if (!json_is_array(ms) || !json_is_object(json_object_get(guest, "host")) || !dst)
		return -1;
	long n = 0;
	size_t i;
	const json_t *m;
	json_array_foreach(ms, i, m) {
		const char *mode = json_string_value(json_object_get(m, "mode"));
		if (!json_is_object(m) || !mode || (strcmp(mode, "native") && strcmp(mode, "vm")))
			continue; /* not one of ours: nothing but native and vm runs inside */
		json_t *c = json_deep_copy(m);
		mark(c, mode, host_backing, timing_valid);
		json_array_append_new(dst, c);
		n++;
	}
	if (!json_object_get(doc, "guest_host"))
		json_object_set_new(doc, "guest_host", json_deep_copy(json_object_get(guest, "host")));
	return n;
}

void run_linux_unrun_cells(json_t *doc, const struct run_config *cfg, const json_t *host_backing, int timing_valid,
			   const char *reason, int failed)
{
	json_t *dst = json_object_get(doc, "measurements");
	unsigned gm = cfg->guest_modes ? cfg->guest_modes : RUN_MODE_NATIVE;
	const char *inner = gm & RUN_MODE_NATIVE ? "native" : "vm";
	for (size_t k = 0; k < cfg->nkernels; k++)
		for (int b = 0; b < BACKING_COUNT; b++) {
			if (!run_linux_guest_has_backing(cfg, (enum backing_kind)b))
				continue;
			const struct kernel_desc *kd = cfg->kernels[k];
			json_t *bj = json_pack("{s:s, s:I}", "requested", backing_name((enum backing_kind)b),
					       "requested_page_bytes", (json_int_t)backing_page_bytes((enum backing_kind)b));
			struct measurement r;
			record_skipped(&r, kd->name, kd->family, kd->metric, "linux", bj, 0, -1, reason);
			r.failed = failed;
			json_t *m = results_measurement_json(&r);
			mark(m, inner, host_backing, timing_valid);
			json_array_append_new(dst, m);
		}
}

void run_linux_print_summary(FILE *out, const json_t *doc)
{
	const json_t *q = json_object_get(doc, "qemu");
	if (!q)
		return;
	size_t n = 0, failed = 0, skipped = 0, i;
	const json_t *m;
	json_array_foreach(json_object_get(doc, "measurements"), i, m) {
		const char *mode = json_string_value(json_object_get(m, "mode"));
		if (!mode || strcmp(mode, "linux"))
			continue;
		n++;
		if (json_is_true(json_object_get(m, "failed")))
			failed++;
		else if (json_is_string(json_object_get(m, "skipped")))
			skipped++;
	}
	const char *accel = json_string_value(json_object_get(q, "accel"));
	fprintf(out, "\nlinux guest (%s, -cpu %s): %zu measurements, %zu measured, %zu skipped, %zu failed%s\n",
		accel ? accel : "?", json_string_value(json_object_get(q, "cpu_model")), n, n - failed - skipped,
		skipped, failed,
		json_is_true(json_object_get(q, "timing_valid")) ? ""
								  : "; TCG: function only (timing_valid false: these timings "
								    "are QEMU's emulation, not the hardware's)");
}

/* identity.c - the identity of a measurement (see identity.h). */
#include "core/identity.h"

#include <string.h>

int identity_param_counts(const char *name, const json_t *value)
{
	/* Not identity: the seed (another permutation measures the same thing),
	 * what follows from the working set or the verified page size (a THP run
	 * that got fewer huge pages must still match its baseline), facts about
	 * the machine (compare exists to put machines side by side) and
	 * descriptions. */
	static const char *const outcomes[] = {
		"seed",     "lines",         "span_bytes",           "verified_pages",         "pages",
		"page_bytes", "region_bytes", "pcid",                "page_table_isolation", "op",
		"switches_per_roundtrip", "touch_bytes_per_switch", "host_crosscheck_ns_per_access", "timed_at",
	};
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (!strcmp(name, outcomes[i]))
			return 0;
	/* "<event>_per_op": rates the kernels observed to prove their claims;
	 * "<what>_ns": times a kernel measured beside its metric (vm-lifecycle's
	 * first_create_boot_ns), outcomes that differ in every run. */
	size_t n = strlen(name);
	if ((n > 7 && !strcmp(name + n - 7, "_per_op")) || (n > 3 && !strcmp(name + n - 3, "_ns")))
		return 0;
	return json_is_string(value) || json_is_number(value) || json_is_boolean(value) || json_is_null(value);
}

char *identity_key(const struct identity_fields *f, json_t **params_out)
{
	json_t *id = json_object(), *params = json_object();
	char *key = NULL;
	const char *k;
	json_t *v;
	if (params_out)
		*params_out = NULL;
	if (!id || !params)
		goto out;
	json_object_foreach(f->params, k, v) {
		if ((!f->except_param || strcmp(k, f->except_param)) && identity_param_counts(k, v) &&
		    json_object_set(params, k, v))
			goto out;
	}
	if (json_object_set_new(id, "kernel", json_string(f->kernel)) ||
	    json_object_set_new(id, "mode", json_string(f->mode)) ||
	    json_object_set_new(id, "backing", json_string(f->backing)) ||
	    json_object_set_new(id, "working_set_bytes",
				f->has_ws ? json_integer((json_int_t)f->working_set_bytes) : json_null()) ||
	    json_object_set_new(id, "guest_page", f->guest_page ? json_string(f->guest_page) : json_null()) ||
	    json_object_set_new(id, "guest_built_page_bytes", json_integer(f->guest_built_page_bytes)) ||
	    json_object_set(id, "params", params))
		goto out;
	if ((f->inner_mode && json_object_set_new(id, "inner_mode", json_string(f->inner_mode))) ||
	    (f->host_backing && json_object_set_new(id, "host_backing", json_string(f->host_backing))))
		goto out;
	key = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (key && params_out)
		*params_out = json_incref(params);
out:
	json_decref(params);
	json_decref(id);
	return key;
}

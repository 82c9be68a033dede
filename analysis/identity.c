/* identity.c - the identity of a measurement, for matching across files. */
#include "analysis/identity.h"

#include <stdlib.h>
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
	/* "<event>_per_op": rates the kernels observed to prove their claims. */
	size_t n = strlen(name);
	if (n > 7 && !strcmp(name + n - 7, "_per_op"))
		return 0;
	return json_is_string(value) || json_is_number(value) || json_is_boolean(value) || json_is_null(value);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap + n + 1) * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return 0;
}

int identity_make(const struct res_meas *m, char **key, char **label)
{
	*key = *label = NULL;
	json_t *id = json_object();
	json_t *params = json_object();
	char *lab = NULL;
	size_t len = 0, cap = 0;
	char tmp[64];
	const char *k;
	json_t *v;
	int rc = -1;
	if (!id || !params)
		goto out;
	json_object_foreach(m->params, k, v) {
		if (identity_param_counts(k, v) && json_object_set(params, k, v))
			goto out;
	}
	if (json_object_set_new(id, "kernel", json_string(m->kernel)) ||
	    json_object_set_new(id, "mode", json_string(m->mode)) ||
	    json_object_set_new(id, "backing", json_string(m->backing)) ||
	    json_object_set_new(id, "working_set_bytes",
				m->has_ws ? json_integer((json_int_t)m->working_set_bytes) : json_null()) ||
	    json_object_set_new(id, "guest_page", m->guest_page ? json_string(m->guest_page) : json_null()) ||
	    json_object_set_new(id, "guest_built_page_bytes", json_integer(m->guest_built_page_bytes)) ||
	    json_object_set(id, "params", params))
		goto out;
	*key = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!*key)
		goto out;

	/* Label: kernel mode backing [guest=..] [ws=..] params in key order. */
	if (append(&lab, &len, &cap, m->kernel) || append(&lab, &len, &cap, " ") ||
	    append(&lab, &len, &cap, m->mode) || append(&lab, &len, &cap, " ") ||
	    append(&lab, &len, &cap, m->backing))
		goto out;
	if (m->guest_page && (append(&lab, &len, &cap, " guest=") || append(&lab, &len, &cap, m->guest_page)))
		goto out;
	if (m->has_ws) {
		format_size((size_t)m->working_set_bytes, tmp, sizeof(tmp));
		if (append(&lab, &len, &cap, " ws=") || append(&lab, &len, &cap, tmp))
			goto out;
	}
	void *iter;
	const char **names = calloc(json_object_size(params) + 1, sizeof(*names));
	size_t nn = 0;
	if (!names)
		goto out;
	for (iter = json_object_iter(params); iter; iter = json_object_iter_next(params, iter))
		names[nn++] = json_object_iter_key(iter);
	qsort(names, nn, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nn; i++) {
		json_t *pv = json_object_get(params, names[i]);
		char *val = json_dumps(pv, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!val || append(&lab, &len, &cap, " ") || append(&lab, &len, &cap, names[i]) ||
		    append(&lab, &len, &cap, "=") || append(&lab, &len, &cap, val)) {
			free(val);
			free(names);
			goto out;
		}
		free(val);
	}
	free(names);
	*label = lab;
	lab = NULL;
	rc = 0;
out:
	if (rc) {
		free(*key);
		*key = NULL;
	}
	free(lab);
	json_decref(params);
	json_decref(id);
	return rc;
}

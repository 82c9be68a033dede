/* identity.c - the identity of a measurement, for matching across files. */
#include "analysis/identity.h"

#include <stdlib.h>
#include <string.h>

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
	struct identity_fields f = {m->kernel, m->mode, m->backing, m->has_ws, m->working_set_bytes,
				    m->guest_page, m->guest_built_page_bytes, m->params, NULL, m->inner_mode, m->host_backing};
	json_t *params = NULL;
	char *lab = NULL;
	size_t len = 0, cap = 0;
	char tmp[64];
	int rc = -1;
	*key = identity_key(&f, &params);
	if (!*key)
		goto out;

	/* Label: kernel mode backing [guest=..] [ws=..] params in key order. */
	if (append(&lab, &len, &cap, m->kernel) || append(&lab, &len, &cap, " ") ||
	    append(&lab, &len, &cap, m->mode) || append(&lab, &len, &cap, " ") ||
	    append(&lab, &len, &cap, m->backing))
		goto out;
	if (m->host_backing && (append(&lab, &len, &cap, " host=") || append(&lab, &len, &cap, m->host_backing)))
		goto out;
	if (m->inner_mode && strcmp(m->inner_mode, "native") &&
	    (append(&lab, &len, &cap, " in=") || append(&lab, &len, &cap, m->inner_mode)))
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
	return rc;
}

/* records.c - a run's measurements, typed (see records.h). */
#include "harness/run/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/identity.h"
#include "harness/run/results.h"

/* The identity key of r as another kernel in another mode: native has no
 * guest page, so a VM record's native twin is keyed without one. */
static char *key_as(const struct run_record *r, const char *kernel, const char *mode, const char *except)
{
	int native = !strcmp(mode, "native");
	struct identity_fields f = {
		.kernel = kernel,
		.mode = mode,
		.backing = r->backing,
		.has_ws = r->has_ws,
		.working_set_bytes = r->working_set_bytes,
		.guest_page = native ? NULL : r->guest_page,
		/* -1 as analysis/resfile.c reads an absent or null built page size. */
		.guest_built_page_bytes = native || !r->guest_built_page_bytes ? -1 : (long long)r->guest_built_page_bytes,
		.params = r->params,
		.except_param = except,
	};
	return identity_key(&f, NULL);
}

/* The typed view's fields of m that its identity reads (borrowed). */
static void view_of(struct run_record *r, const struct measurement *m)
{
	memset(r, 0, sizeof(*r));
	r->kernel = m->kernel;
	r->family = m->family;
	r->metric = m->metric;
	r->mode = m->mode;
	const char *b = json_string_value(json_object_get(m->backing, "requested"));
	r->backing = b ? b : "";
	/* As results_measurement_json writes it: a skipped cell's 0 is null. */
	r->has_ws = !(m->skipped && !m->working_set_bytes);
	r->working_set_bytes = m->working_set_bytes;
	r->guest_page = m->guest_page;
	r->guest_built_page_bytes = m->guest_built_page_bytes;
	r->summary = m->summary;
}

static int records_add(struct run_records *rs, const struct measurement *m)
{
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 64;
		struct run_record *nr = realloc(rs->r, nc * sizeof(*nr));
		if (!nr)
			return -1;
		rs->r = nr;
		rs->cap = nc;
	}
	struct run_record *r = &rs->r[rs->n];
	view_of(r, m);
	r->backing_json = m->backing ? json_incref(m->backing) : NULL;
	r->params = m->params ? json_incref(m->params) : json_object();
	int bad = !r->params;
	if (m->skipped) {
		size_t n = strlen(m->skipped) + sizeof("failed: ");
		r->skipped = malloc(n);
		if (r->skipped)
			snprintf(r->skipped, n, "%s%s", m->failed ? "failed: " : "", m->skipped);
		bad |= !r->skipped;
	}
	if (!bad)
		r->key = key_as(r, r->kernel, r->mode, NULL);
	if (bad || !r->key) {
		json_decref(r->backing_json);
		json_decref(r->params);
		free(r->skipped);
		return -1;
	}
	rs->n++;
	return 0;
}

int records_write(struct run_records *rs, struct measurement *m)
{
	if (rs->hold)
		return rs->hold(rs->hold_arg, m);
	/* The view first: the writer takes m's JSON parts (the view holds its
	 * own references to backing and params). */
	int rc = records_add(rs, m);
	if (rc)
		rs->lost = 1;
	json_t *j = results_measurement_json(m);
	if (rs->measurements)
		json_array_append_new(rs->measurements, j);
	else
		json_decref(j);
	return rc;
}

const struct run_record *records_find_like(const struct run_records *rs, const struct run_record *r,
					   const char *kernel, const char *mode, const char *except)
{
	char *want = key_as(r, kernel, mode, except);
	const struct run_record *found = NULL;
	for (size_t i = 0; want && i < rs->n && !found; i++) {
		const struct run_record *c = &rs->r[i];
		if (c->skipped || strcmp(c->kernel, kernel) || strcmp(c->mode, mode))
			continue;
		/* The stored key has every parameter; with one set aside, key it again. */
		char *got = except ? key_as(c, c->kernel, c->mode, except) : NULL;
		if (got ? !strcmp(got, want) : !strcmp(c->key, want))
			found = c;
		free(got);
	}
	free(want);
	return found;
}

void records_free(struct run_records *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		json_decref(rs->r[i].backing_json);
		json_decref(rs->r[i].params);
		free(rs->r[i].skipped);
		free(rs->r[i].key);
	}
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

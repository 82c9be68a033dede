/* opt_parse.c - store and check option values from a table of rows (opt.h). */
#include "core/opt.h"

#include <stdio.h>
#include <string.h>

#include "core/commalist.h"

/* Fields are written (and, in opt_json.c, read) by their width, 4 or 8
 * bytes, so one row type serves int, unsigned, size_t, uint64_t, double,
 * pointer and enum fields alike. */
static void put_uint(void *p, unsigned width, uint64_t v)
{
	if (width == 8) {
		memcpy(p, &v, 8);
	} else if (width == 4) {
		uint32_t w = (uint32_t)v;
		memcpy(p, &w, 4);
	}
}

/* "native, vm or both" from "native vm both". */
static void choices_sentence(const char *words, char *buf, size_t len)
{
	size_t n = 0, count = 0, at = 0;
	for (const char *p = words; *p; p += strcspn(p, " "), p += strspn(p, " "))
		count++;
	buf[0] = '\0';
	for (const char *p = words + strspn(words, " "); *p && at < len; p += strspn(p, " ")) {
		size_t w = strcspn(p, " ");
		const char *sep = n == 0 ? "" : n + 1 == count ? " or " : ", ";
		at += (size_t)snprintf(buf + at, len - at, "%s%.*s", sep, (int)w, p);
		p += w;
		n++;
	}
}

/* The index of word in the space-separated words, or -1. */
static int choice_index(const char *words, const char *word)
{
	int i = 0;
	size_t len = strlen(word);
	for (const char *p = words + strspn(words, " "); *p; p += strspn(p, " "), i++) {
		size_t w = strcspn(p, " ");
		if (w == len && !strncmp(p, word, len))
			return i;
		p += w;
	}
	return -1;
}

/* One value (a scalar, or one list item) into out. */
static int parse_one(const struct cli_opt *o, const char *s, void *out, nb_error *err)
{
	nb_error e;
	switch (o->type) {
	case OPT_T_UINT: {
		unsigned long v;
		if (parse_uint(s, o->max ? o->max : ~0ul, &v, &e))
			return nb_fail(err, "--%s: %s", o->name, e.msg);
		if (v < o->min)
			return nb_fail(err, "--%s: must be at least %lu", o->name, o->min);
		if (o->flags & OPT_F_DOUBLE) {
			double d = (double)v * o->scale;
			memcpy(out, &d, sizeof(d));
		} else {
			put_uint(out, o->width, v);
		}
		return 0;
	}
	case OPT_T_SIZE: {
		size_t v;
		if (parse_size(s, &v, &e))
			return nb_fail(err, "--%s: %s", o->name, e.msg);
		/* An explicit 0 is not "the default": say so rather than fall back to it. */
		if (v < o->min)
			return o->min == 1 ? nb_fail(err, "--%s: must be larger than 0", o->name)
					   : nb_fail(err, "--%s: must be at least %lu bytes", o->name, o->min);
		if (o->align && v % o->align)
			return nb_fail(err, "--%s %s is not a whole number of %s", o->name, s,
				       o->align_what ? o->align_what : "its unit");
		put_uint(out, o->width, v);
		return 0;
	}
	case OPT_T_CHOICE: {
		int i = choice_index(o->choices, s);
		if (i < 0) {
			char words[256];
			choices_sentence(o->choices, words, sizeof(words));
			nb_fail(err, "--%s must be %s", o->name, words);
			return 2;
		}
		put_uint(out, o->width, o->choice_values ? o->choice_values[i] : (uint64_t)i);
		return 0;
	}
	case OPT_T_NAME:
		return o->name_parse(s, out, err) ? -1 : 0;
	default:
		return nb_fail(err, "--%s: not a value option", o->name);
	}
}

struct list_walk {
	const struct cli_opt *o;
	char *base;
	nb_error *err;
	uint64_t n;
};

static int list_item(const char *item, void *arg)
{
	struct list_walk *w = arg;
	const struct cli_opt *o = w->o;
	unsigned char one[16] = {0};
	if (o->width > sizeof(one))
		return nb_fail(w->err, "--%s: element too wide", o->name);
	int rc = parse_one(o, item, one, w->err);
	if (rc)
		return rc;
	char *elems = w->base + o->off;
	if (o->flags & OPT_F_UNIQUE)
		for (uint64_t i = 0; i < w->n; i++)
			if (!memcmp(elems + i * o->width, one, o->width))
				return 0;
	if (w->n == o->max_items) {
		nb_fail(w->err, "--%s takes at most %u values", o->name, o->max_items);
		return 2;
	}
	memcpy(elems + w->n++ * o->width, one, o->width);
	return 0;
}

int opt_set(const struct cli_opt *o, const char *arg, void *cfg, nb_error *err)
{
	char *base = cfg;
	if (o->type == OPT_T_FLAG) {
		put_uint(base + o->off, o->width ? o->width : sizeof(int), 1);
		return 0;
	}
	if (!arg)
		return nb_fail(err, "--%s needs a value", o->name);
	if (o->flags & OPT_F_LIST) {
		nb_error e;
		if (comma_list_each(arg, NULL, NULL, &e)) {
			nb_fail(err, "--%s %s", o->name, e.msg);
			return 2;
		}
		if (o->type == OPT_T_STRING) {
			memcpy(base + o->off, &arg, sizeof(arg));
			return 0;
		}
		/* A list given again replaces the earlier one, as a scalar does. */
		struct list_walk w = {o, base, err, 0};
		int rc = comma_list_each(arg, list_item, &w, err);
		put_uint(base + o->count_off, o->count_width, w.n);
		return rc;
	}
	if (o->type == OPT_T_STRING) {
		if (o->min && !*arg) {
			nb_fail(err, "--%s needs a %s", o->name, o->value == CLI_V_FILE ? "file name" : "value");
			return 2;
		}
		memcpy(base + o->off, &arg, sizeof(arg));
		return 0;
	}
	return parse_one(o, arg, base + o->off, err);
}

void opt_defaults(const struct cli_opt *opts, uint64_t given, void *cfg, const void *suite)
{
	char *base = cfg;
	for (int i = 0; opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];
		if (o->type == OPT_T_NONE || (given >> i & 1) || (o->flags & OPT_F_LIST))
			continue;
		if (o->flags & OPT_F_SUITE) {
			memcpy(base + o->off, (const char *)suite + o->suite_off, o->width);
		} else if (o->def && (o->type == OPT_T_UINT || o->type == OPT_T_SIZE || o->type == OPT_T_CHOICE)) {
			if (o->flags & OPT_F_DOUBLE) {
				double d = (double)o->def * o->scale;
				memcpy(base + o->off, &d, sizeof(d));
			} else {
				put_uint(base + o->off, o->width, (uint64_t)o->def);
			}
		}
	}
}

int opt_index(const struct cli_opt *opts, const char *name)
{
	for (int i = 0; opts[i].name; i++)
		if (!strcmp(opts[i].name, name))
			return i;
	return -1;
}

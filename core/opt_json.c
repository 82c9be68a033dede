/* opt_json.c - see opt_json.h.  Reading a field mirrors opt_parse.c's
 * writing it: by width, signed where the row says so. */
#include "core/opt_json.h"

#include <string.h>

static uint64_t get_uint(const void *p, unsigned width)
{
	if (width == 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	if (width == 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	return 0;
}

/* The word of `choices` at index i. */
static json_t *choice_word(const char *words, int i)
{
	for (const char *p = words + strspn(words, " "); *p; p += strspn(p, " "), i--) {
		size_t w = strcspn(p, " ");
		if (!i)
			return json_stringn(p, w);
		p += w;
	}
	return json_null();
}

/* One value (a scalar field or a list element) at p. */
static json_t *value_json(const struct cli_opt *o, const void *p)
{
	switch (o->type) {
	case OPT_T_FLAG: {
		int v;
		memcpy(&v, p, sizeof(v));
		return json_boolean((o->flags & OPT_F_INVERT) ? !v : v);
	}
	case OPT_T_STRING: {
		const char *s;
		memcpy(&s, p, sizeof(s));
		return s ? json_string(s) : json_null();
	}
	case OPT_T_UINT:
	case OPT_T_SIZE: {
		if (o->flags & OPT_F_DOUBLE) {
			double d;
			memcpy(&d, p, sizeof(d));
			return json_real(d);
		}
		uint64_t v = get_uint(p, o->width);
		if (o->flags & OPT_F_SIGNED) {
			int32_t s = (int32_t)v;
			return s < 0 ? json_null() : json_integer(s);
		}
		if (!v && o->echo_zero)
			return json_integer(o->echo_zero);
		/* JSON readers hold integers as int64: a 64-bit seed keeps its low 63 bits. */
		return json_integer((json_int_t)(v & INT64_MAX));
	}
	case OPT_T_CHOICE: {
		uint64_t v = get_uint(p, o->width);
		for (int i = 0; o->choice_values && o->choice_values[i]; i++)
			if (o->choice_values[i] == v)
				return choice_word(o->choices, i);
		return o->choice_values ? json_null() : choice_word(o->choices, (int)v);
	}
	case OPT_T_NAME: {
		const char *name = o->name_of(p);
		return name ? json_string(name) : json_null();
	}
	default:
		return json_null();
	}
}

json_t *opt_echo(const struct cli_opt *opts, const void *cfg)
{
	const char *base = cfg;
	json_t *c = json_object();
	for (const struct cli_opt *o = opts; o->name; o++) {
		if (!o->config_key || (o->echo_if && !o->echo_if(cfg)))
			continue;
		json_t *v;
		if ((o->flags & OPT_F_LIST) && o->type != OPT_T_STRING) {
			uint64_t n = get_uint(base + o->count_off, o->count_width);
			if (!n && (o->flags & OPT_F_NULL_EMPTY)) {
				v = json_null();
			} else {
				v = json_array();
				for (uint64_t i = 0; i < n; i++)
					json_array_append_new(v, value_json(o, base + o->off + i * o->width));
			}
		} else {
			v = value_json(o, base + o->off);
		}
		json_object_set_new(c, o->config_key, v);
	}
	return c;
}

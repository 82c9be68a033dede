/* run_linux_args.c - what the Linux guest is asked to do (see run_linux_args.h). */
#include "harness/run/run_linux_args.h"

#include <stdlib.h>
#include <string.h>

#include "harness/mem/backing.h"

#define MAX_GUEST_ARGS 512

int run_mode_parse(const char *s, int allow_linux, unsigned *out, nb_error *err)
{
	unsigned m = 0;
	const char *p = s;
	if (!s || !*s)
		return nb_fail(err, "--%smode needs a mode", allow_linux ? "" : "guest-");
	for (;;) {
		size_t n = strcspn(p, ",");
		if (n == 6 && !strncmp(p, "native", n))
			m |= RUN_MODE_NATIVE;
		else if (n == 2 && !strncmp(p, "vm", n))
			m |= RUN_MODE_VM;
		else if (n == 4 && !strncmp(p, "both", n))
			m |= RUN_MODE_NATIVE | RUN_MODE_VM;
		else if (n == 5 && !strncmp(p, "linux", n) && allow_linux)
			m |= RUN_MODE_LINUX;
		else if (allow_linux)
			return nb_fail(err, "unknown mode '%.*s' (--mode takes native, vm, linux or both, comma-separated)",
				       (int)n, p);
		else
			return nb_fail(err, "unknown guest mode '%.*s' (--guest-mode takes native, vm or both: no Linux "
					    "guest inside the guest)",
				       (int)n, p);
		if (!p[n])
			break;
		p += n + 1;
	}
	*out = m;
	return 0;
}

const char *run_mode_name(unsigned modes)
{
	static const char *const names[8] = {NULL,	     "native",		"vm",	     "both",
					      "linux",       "native,linux",	"vm,linux", "native,vm,linux"};
	return names[modes & 7];
}

void run_linux_args_free(char **args)
{
	for (size_t i = 0; args && args[i]; i++)
		free(args[i]);
	free(args);
}

/* Rows the guest does not get from the host's command line. */
static int dropped(const char *name)
{
	static const char *const drop[] = {"mode", "backing", "out", "cpu", "quiet", "help"};
	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		if (!strcmp(name, drop[i]))
			return 1;
	return !strncmp(name, "guest-", 6) && strcmp(name, "guest-page");
}

static const struct cli_opt *row_long(const struct cli_opt *opts, const char *name, size_t n)
{
	for (const struct cli_opt *o = opts; o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

static const struct cli_opt *row_short(const struct cli_opt *opts, char c)
{
	for (const struct cli_opt *o = opts; o->name; o++)
		if (o->key == (unsigned char)c)
			return o;
	return NULL;
}

struct argbuf {
	char **v;
	size_t n;
	int oom;
};

static void push(struct argbuf *a, const char *s)
{
	if (a->oom || a->n + 1 >= MAX_GUEST_ARGS || !(a->v[a->n] = strdup(s))) {
		a->oom = 1;
		return;
	}
	a->n++;
}

static void push2(struct argbuf *a, const char *name, const char *val)
{
	char opt[128];
	snprintf(opt, sizeof(opt), "--%s", name);
	push(a, opt);
	push(a, val);
}

int run_linux_guest_args(int argc, char **argv, const struct cli_opt *opts, const struct run_config *cfg,
			 char ***out, nb_error *err)
{
	struct argbuf a = {.v = calloc(MAX_GUEST_ARGS, sizeof(char *))};
	if (!a.v)
		return nb_fail(err, "out of memory");
	int i = 1;
	for (; i < argc && !a.oom; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "--")) {
			break;
		} else if (s[0] == '-' && s[1] == '-') {
			const char *eq = strchr(s + 2, '=');
			size_t n = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
			const struct cli_opt *o = row_long(opts, s + 2, n);
			if (!o) /* getopt_long's unambiguous prefixes: the command line parsed, so one matches */
				for (const struct cli_opt *p = opts; p->name && !o; p++)
					if (!strncmp(p->name, s + 2, n))
						o = p;
			if (!o) {
				run_linux_args_free(a.v);
				return nb_fail(err, "cannot pass option %s to the guest", s);
			}
			const char *val = o->arg ? (eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL)) : NULL;
			if (o->arg && !val) {
				run_linux_args_free(a.v);
				return nb_fail(err, "--%s needs an argument", o->name);
			}
			if (dropped(o->name))
				continue;
			if (val)
				push2(&a, o->name, val);
			else {
				char opt[128];
				snprintf(opt, sizeof(opt), "--%s", o->name);
				push(&a, opt);
			}
		} else if (s[0] == '-' && s[1]) {
			/* A cluster of short options: flags, then maybe one taking the rest or the next word. */
			for (const char *c = s + 1; *c && !a.oom; c++) {
				const struct cli_opt *o = row_short(opts, *c);
				if (!o) {
					run_linux_args_free(a.v);
					return nb_fail(err, "cannot pass option -%c to the guest", *c);
				}
				const char *val = NULL;
				if (o->arg) {
					val = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
					if (!val) {
						run_linux_args_free(a.v);
						return nb_fail(err, "-%c needs an argument", *c);
					}
				}
				if (!dropped(o->name)) {
					if (val)
						push2(&a, o->name, val);
					else {
						char opt[128];
						snprintf(opt, sizeof(opt), "--%s", o->name);
						push(&a, opt);
					}
				}
				if (val)
					break;
			}
		} else {
			push(&a, s); /* an operand: run has none, its parser said so already */
		}
	}
	unsigned gm = cfg->guest_modes ? cfg->guest_modes : RUN_MODE_NATIVE;
	push2(&a, "mode", run_mode_name(gm));
	if (cfg->nguest_backings) {
		char list[128] = "";
		for (size_t b = 0; b < cfg->nguest_backings; b++) {
			strcat(list, b ? "," : "");
			strcat(list, backing_name(cfg->guest_backings[b]));
		}
		push2(&a, "backing", list);
	}
	if (cfg->quiet)
		push(&a, "--quiet");
	if (a.oom) {
		run_linux_args_free(a.v);
		return nb_fail(err, "too many arguments for the guest (or out of memory)");
	}
	*out = a.v;
	return 0;
}

int run_linux_guest_has_backing(const struct run_config *cfg, enum backing_kind k)
{
	if (!cfg->nguest_backings)
		return 1;
	for (size_t i = 0; i < cfg->nguest_backings; i++)
		if (cfg->guest_backings[i] == k)
			return 1;
	return 0;
}

void run_linux_cmdline(const struct run_config *cfg, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "transparent_hugepage=madvise");
	/* The pools are reserved for good at boot (a 1G page can rarely be had
	 * later).  chase-ctl's control holds one page of the largest size for
	 * the whole run, whatever the backings (bench/chase.c); a hugetlb-1g
	 * sweep buffer needs another, a fixed-size kernel's own mapping one
	 * more.  At least 2 GiB stay ordinary memory for the kernel, the
	 * initramfs and the other backings; 2M pages, a sixteenth of the
	 * memory, are the control's fallback and the hugetlb-2m backing. */
	uint64_t want = run_linux_guest_has_backing(cfg, BACKING_HUGETLB_1G) ? 3 : 1;
	uint64_t room = cfg->guest_memory > (2ull << 30) ? (cfg->guest_memory - (2ull << 30)) >> 30 : 0;
	uint64_t ones = want < room ? want : room;
	if (ones && n < len)
		n += (size_t)snprintf(out + n, len - n, " hugepagesz=1G hugepages=%llu", (unsigned long long)ones);
	if (n < len)
		n += (size_t)snprintf(out + n, len - n, " hugepagesz=2M hugepages=%llu",
				      (unsigned long long)(cfg->guest_memory / 16 / (2u << 20)));
}

/* opt.h - one row per command-line option: what --help, the man page and
 * completion show, how the argument is parsed and checked, where the value
 * goes and under which key the results file echoes it.
 *
 * The row type lives in core/ (not harness/cli/) so that the run room, which
 * owns struct run_config and echoes it into results files, and the kernels
 * in bench/ (kernel_desc.opts) can declare rows without including the CLI.  The model
 * is fio's parse.h: a value type, an offset into the configuration struct
 * (offsetof), bounds, a default, a config key.
 *
 * harness/cli/cli.h turns tables of these into getopt_long arrays, --help,
 * man pages and completion; opt_set() and opt_defaults() (opt_parse.c) store
 * and check values; opt_echo() (opt_json.c) writes the effective values.
 */
#ifndef NESTBENCH_OPT_H
#define NESTBENCH_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/* What an option argument or an operand is, for completion (and the man page). */
enum cli_value {
	CLI_V_NONE,     /* a flag: no argument */
	CLI_V_WORD,     /* free text: nothing to complete */
	CLI_V_FILE,     /* a path to a file */
	CLI_V_DIR,      /* a path to a directory */
	CLI_V_CHOICE,   /* one of cli_opt.choices (comma lists allowed where the arg says so) */
	CLI_V_KERNELS,  /* kernel names: `nestbench list kernels --names` */
	CLI_V_BACKINGS, /* backing names: `nestbench list backings --names` */
	CLI_V_SUITES,   /* suite names: `nestbench list suites --names` */
	CLI_V_EVENTS,   /* libpfm4 event strings: `nestbench list events --names` */
	CLI_V_COMMANDS, /* subcommand names */
	CLI_V_COUNT
};

/* How the argument is parsed; where it is stored (off, width). */
enum opt_type {
	OPT_T_NONE,   /* not parsed from the table: the command handles it (--help) */
	OPT_T_FLAG,   /* no argument: the int at off becomes 1 */
	OPT_T_STRING, /* the argument itself (const char *); min 1: must not be empty */
	OPT_T_UINT,   /* an unsigned number in [min, max] */
	OPT_T_SIZE,   /* bytes with k, m, g suffixes; at least min; a multiple of align */
	OPT_T_CHOICE, /* one word of `choices`; the value stored is choice_values[i] */
	OPT_T_NAME,   /* a name that name_parse turns into the value (a kernel, a backing) */
};

enum opt_flags {
	/* A comma-separated list (core/commalist.h): elements of `width` bytes
	 * from off, their count (count_width bytes) at count_off.  For
	 * OPT_T_STRING the list is only checked and the string kept whole. */
	OPT_F_LIST = 1u << 0,
	OPT_F_UNIQUE = 1u << 1,     /* lists: an item given twice is kept once */
	OPT_F_SUITE = 1u << 2,      /* not given: copied from the suite's field at suite_off */
	OPT_F_SIGNED = 1u << 3,     /* an int; negative (the "not given" default) echoes null */
	OPT_F_NULL_EMPTY = 1u << 4, /* echo: null for an empty list */
	OPT_F_INVERT = 1u << 5,     /* flags: echo the opposite (--no-pmu as "pmu": false) */
	OPT_F_DOUBLE = 1u << 6,     /* OPT_T_UINT stored as a double, times scale (ms -> ns) */
};

struct cli_opt {
	const char *name;     /* long name without "--"; NULL ends a table */
	int key;              /* getopt_long's val: the short letter, or a value >= 256 (long only) */
	const char *arg;      /* metavariable ("N", "K[,K...]"), NULL for a flag */
	const char *help;     /* one paragraph, not wrapped: the writers wrap it */
	enum cli_value value; /* what the argument is */
	const char *choices;  /* CLI_V_CHOICE, OPT_T_CHOICE: the words, space-separated */

	/* Parsing, checks and echo; tables of commands that parse by hand
	 * leave these zero (OPT_T_NONE). */
	enum opt_type type;
	unsigned flags;          /* enum opt_flags */
	size_t off;              /* offsetof the field (a list's first element) in the config struct */
	unsigned width;          /* sizeof the field or of one list element: 4 or 8 (pointers, names: any) */
	size_t count_off;        /* lists: offsetof the item count */
	unsigned count_width;    /* lists: sizeof the item count */
	unsigned max_items;      /* lists: capacity of the array */
	unsigned long min, max;  /* UINT: the range (max 0: no limit); SIZE: min (1: not 0); STRING: min 1: not empty */
	size_t align;            /* SIZE: must be a multiple of this (0: any) */
	const char *align_what;  /* ... and the message says why: "4k pages (the smallest backing page)" */
	long long def;           /* the value when not given (and not OPT_F_SUITE) */
	size_t suite_off;        /* OPT_F_SUITE: offsetof the field in struct suite, of the same type */
	double scale;            /* OPT_F_DOUBLE */
	const unsigned long *choice_values; /* OPT_T_CHOICE: one per word (NULL: the word's index) */
	/* OPT_T_NAME: parse s into out (width bytes); 0, or -1 with a whole message in err. */
	int (*name_parse)(const char *s, void *out, nb_error *err);
	/* OPT_T_NAME echo: the name of the value at p (NULL: null). */
	const char *(*name_of)(const void *p);
	const char *config_key;  /* key in the results file's config; NULL: not echoed */
	long long echo_zero;     /* echoed in place of 0 (the value a 0 means, e.g. a 4k stride) */
	int (*echo_if)(const void *cfg); /* NULL, or whether the key is echoed for this config */
};

/* The most rows a table may have (getopt_long's arrays are this long). */
#define OPT_TABLE_MAX 48

/* Ends a row of a table whose command parses by hand: the parse fields
 * stay zero (and -Wmissing-field-initializers sees they are meant to). */
#define OPT_DOC_ONLY .type = OPT_T_NONE

/* Store and check one option's argument (NULL for a flag) into cfg.
 * Returns 0; -1 with the whole message in err; 2 with err set when the
 * message wants the caller's "see --help" hint after it. */
int opt_set(const struct cli_opt *o, const char *arg, void *cfg, nb_error *err);

/* Fill what was not given (bit i of given: opts[i] was): the row's default,
 * or with OPT_F_SUITE the suite's value (suite may then not be NULL). */
void opt_defaults(const struct cli_opt *opts, uint64_t given, void *cfg, const void *suite);

/* The row named name, and its index (-1: none). */
int opt_index(const struct cli_opt *opts, const char *name);

#endif

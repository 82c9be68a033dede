/* compare_out.h - render a comparison as text, Markdown, JSON or CSV.
 *
 * Shared by `nestbench compare` (stdout) and `nestbench report` (the
 * comparison tables of report.md).  Strings from the files are escaped for
 * each format (escape.h).
 */
#ifndef NESTBENCH_COMPARE_OUT_H
#define NESTBENCH_COMPARE_OUT_H

#include <stdio.h>

#include "analysis/match.h"
#include "analysis/resfile.h"

enum cmp_format { FMT_TEXT, FMT_MARKDOWN, FMT_JSON, FMT_CSV };

struct cmp_settings {
	double threshold_pct; /* < 0: no gate */
	unsigned iters;
	unsigned long long seed;
};

/* "A", "B", ... "Z", then "F27", "F28", ... */
void file_letter(size_t i, char *buf, size_t len);

/* One machine fact of a file, as a display string (untrusted, unescaped). */
struct fact {
	const char *name;
	void (*get)(const struct res_file *f, char *buf, size_t len);
};
extern const struct fact machine_facts[];
extern const size_t machine_facts_len;

int compare_print(FILE *out, enum cmp_format fmt, const struct res_file *files, size_t n,
		  const struct comparison *c, const struct cmp_settings *s);

#endif

/* findings.h - what the numbers of one or more results files say, in sentences.
 *
 * Pure: parsed results files (resfile.h) in, a list of typed findings out.
 * Each finding is one sentence with its main number, that number's interval,
 * and the measurements (file, index in measurements[], identity label) or
 * derived entries it rests on.  The report (HTML, Markdown, --format text)
 * and the terminal summary at the end of a run print the same list.
 *
 * A sentence may hold strings taken from a file (kernel names, derived
 * entries' modes and backings, TLB level names): findings are untrusted text
 * and every writer escapes them for its destination (escape.h).
 *
 * What is found, per file:
 *   FK_REACH      the knees of each chase/translation curve (mode x backing x
 *                 guest page) as brackets, named by TLB level when the knee or
 *                 host.tlb names one;
 *   FK_LEVEL_COST the translation plateau between knees (what a level costs);
 *   FK_REACH_GAIN how much further a large-page backing reaches than 4K;
 *   FK_SPLINTER   a large-page backing whose knees and costs match 4K's;
 *   FK_GAIN       the large-page gain on each plateau of the 4K curve;
 *   FK_TAX        guest/native per guest page x host backing on each plateau;
 *   FK_TCG        guest measurements whose timings are not the hardware's;
 *   FK_MMU        what the MMU virtualisation mode means for the guest;
 *   FK_PTUPDATE, FK_CTXSW  page-table-update and context-switch results per
 *                 backing with the large-page (or guest/native) ratio;
 *   FK_KVM_MAP    how KVM mapped each VM's memory (measurement kvm.stats.vm
 *                 pages_4k/2m/1g): a large host backing mapped with 4K
 *                 pages is the micro-VM's splintering, said with its cause;
 *   FK_NO_VM, FK_NOTHING   what is missing and why.
 * With several files, a finding of file k > 0 whose key also occurs in the
 * first file carries the ratio of its value to the first file's.
 */
#ifndef NESTBENCH_FINDINGS_H
#define NESTBENCH_FINDINGS_H

#include <stddef.h>
#include <stdio.h>

#include "analysis/doc.h"
#include "analysis/resfile.h"
#include "core/util.h"

enum finding_kind {
	FK_NOTHING,
	FK_NO_VM,
	FK_REACH,
	FK_REACH_GAIN,
	FK_SPLINTER,
	FK_LEVEL_COST,
	FK_GAIN,
	FK_TAX,
	FK_TCG,
	FK_MMU,
	FK_PTUPDATE,
	FK_CTXSW,
	FK_KVM_MAP,
	FK_KIND_COUNT
};

/* What a finding rests on: a measurement (meas = its index in
 * measurements[]) or a derived entry (meas = SIZE_MAX, what names it,
 * e.g. "derived.knees[3]"). */
struct finding_src {
	size_t file;
	size_t meas;
	const char *label; /* the measurement's identity label, borrowed from the file; NULL for derived */
	char what[40];
};

struct finding {
	enum finding_kind kind;
	size_t file;
	char key[200];      /* kind and series, for matching across files */
	char *text;         /* the sentence (malloc'd; may hold file strings: escape it) */
	double value;       /* the main number (unit below), NAN when none */
	double lo, hi;      /* its interval, NAN when none */
	const char *unit;   /* "ns", "x", ... (static) */
	int detail;         /* a detail behind a headline finding (reach per curve, per-plateau tax, ...) */
	int has_vs_first;   /* file > 0 and the first file has the same key */
	double vs_first;    /* value / the first file's value */
	struct finding_src *src;
	size_t nsrc;
};

struct findings {
	struct finding *v;
	size_t n, cap;
};

/* Build the findings of files[0..n).  0, or -1 with err (out of memory). */
int findings_build(const struct res_file *files, size_t n, struct findings *out, nb_error *err);
void findings_free(struct findings *fs);
/* How many findings of a kind (tests). */
size_t findings_count(const struct findings *fs, enum finding_kind kind);
/* The first finding of a kind in a file, or NULL. */
const struct finding *findings_first(const struct findings *fs, size_t file, enum finding_kind kind);
const char *finding_kind_name(enum finding_kind kind);


/* The findings as plain text for a terminal, every file string through
 * esc_text(); at most max_src sources listed per finding (0: none). */
void findings_write_text(FILE *out, const struct findings *fs, const struct res_file *files, size_t n,
			 size_t max_src);

/* The findings into a report body (HTML or Markdown, doc.h): one list per
 * file, each sentence through doc_text(), the sources beneath (HTML: in a
 * <details> element). */
void findings_write_doc(struct doc *d, const struct findings *fs, const struct res_file *files, size_t n);

/* The terminal summary of a run: its document parsed as a results file and
 * its findings printed (findings_write_text).  Declared for the run in
 * harness/run/run_summary.h too (harness does not include analysis/; the
 * call is resolved at link time, as the CLI reaches cmd_report).
 * 0, or -1 when the document cannot be read (the message on stderr). */
int findings_print_doc(FILE *out, const json_t *doc);

#endif

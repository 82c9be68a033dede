/* findings_impl.h - internal to the findings module (analysis/findings*.c):
 * what its parts share.  Not installed and not for other modules; the
 * public interface is findings.h. */
#ifndef NESTBENCH_FINDINGS_IMPL_H
#define NESTBENCH_FINDINGS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/findings.h"

#define MAX_SERIES 96
#define MAX_KNEES 8
#define MAX_WS_PTS 256

/* A large-page backing steps "where 4K does" when its first knee is within
 * this factor of 4K's; 2M pages would move it ~512x. */
#define SPLINTER_REACH_FACTOR 2.0
/* ...and costs "the same" when its chase latency is within this ratio. */
#define SPLINTER_COST_RATIO 1.25

/* One curve: mode x host backing x guest page (NULL: native). */
struct series {
	const char *mode, *backing, *gp;
};

struct kn {
	size_t idx;          /* in derived.knees */
	uint64_t ws, below, above;
	long long pages;
	double before, after;
	const char *level;   /* the TLB level's name, or NULL */
	long long entries, level_page, reach;
};

/* A sentence under construction (open_memstream). */
struct sb {
	char *buf;
	size_t len;
	FILE *f;
};

/* What the findings of one findings_build() are built in. */
struct ctx {
	const struct res_file *files;
	size_t nfiles;
	struct findings *out;
	nb_error *err;
	int oom;
};

/* ---- findings.c: the sentence builder and the findings list ---- */

int fnd_sb_open(struct sb *s);
void fnd_sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close and hand over the text (NULL when out of memory). */
char *fnd_sb_take(struct sb *s);
struct finding *fnd_add(struct ctx *c, enum finding_kind kind, size_t file, char *text);
void fnd_src_add(struct ctx *c, struct finding *x, size_t file, const struct res_meas *m, const char *what);
void fnd_set_num(struct finding *x, double v, double lo, double hi, const char *unit);
void fnd_set_key(struct finding *x, const char *kind, const struct series *s, const char *extra);

/* A detail finding that gives a ratio on each plateau of a curve (the
 * guest's tax, the large-page gain): its sentence is written in t; each
 * ratio given is kept with the two measurements it read, and the last one
 * is the finding's number. */
struct plateau_ratios {
	struct sb t;
	int any; /* a ratio was given */
	double last, lo, hi;
	const struct res_meas *srcs[2 * (MAX_KNEES + 1)];
	size_t ns;
};
/* 0, or -1 when out of memory (then nothing is to be finished). */
int fnd_pr_open(struct plateau_ratios *pr);
void fnd_pr_keep(struct plateau_ratios *pr, double r, double lo, double hi, const struct res_meas *a,
		 const struct res_meas *b);
/* End the sentence and add the finding (key: its kind's name and series s),
 * or nothing when no ratio was given. */
void fnd_pr_finish(struct ctx *c, size_t fi, struct plateau_ratios *pr, enum finding_kind kind, const char *key,
		   const struct series *s);

/* ---- findings_series.c: series, knees, plateaus, lookups, formatting ---- */

/* "256 KiB", "11.3 MiB". */
void fnd_fmt_bytes(char *buf, size_t len, double b);
long long fnd_backing_page_bytes(const char *b);
int fnd_eq(const char *a, const char *b);
int fnd_native(const char *mode);
int fnd_series_eq(const struct series *a, const struct series *b);
void fnd_series_name(char *buf, size_t len, const struct series *s);
const json_t *fnd_meas_json(const struct res_file *f, const struct res_meas *m);
/* Timings that are the hardware's: not TCG emulation. */
int fnd_timing_valid(const struct res_meas *m);
int fnd_is_large(const char *backing);
/* The made measurement of kernel in series s at ws (first match), or NULL. */
const struct res_meas *fnd_find_meas(const struct res_file *f, const char *kernel, const struct series *s,
				     uint64_t ws);
int fnd_cmp_u64(const void *a, const void *b);
/* Sorted distinct working sets of the series' chase measurements. */
size_t fnd_chase_ws(const struct res_file *f, const struct series *s, uint64_t *out, size_t cap);
size_t fnd_collect_series(const struct res_file *f, struct series *out, size_t cap);
long long fnd_jint(const json_t *o, const char *k, long long dflt);
/* The knees of series s, in working-set order: those found on the
 * translation curve when the file has them, else the chase's. */
size_t fnd_series_knees(const struct res_file *f, const struct series *s, struct kn *out, size_t cap);
void fnd_knee_name(char *buf, size_t len, const struct kn *k, size_t i);
/* The working set in the middle of plateau p of a curve with knees k
 * (plateau p: from knee p-1 to knee p; the last one open), among ws[]
 * for which keep() holds; 0 when none. */
uint64_t fnd_plateau_ws(const struct kn *k, size_t nk, size_t p, const uint64_t *ws, size_t nws);
/* Said beside a ratio whose interval holds 1: not a difference the data shows. */
const char *fnd_spans1(double lo, double hi);
/* A speed-up r = slow/fast with its interval, said as "1.5x faster [1.4, 1.6]" or, below 1,
 * "2.1x slower [1.9, 2.3]" (the reciprocal), never "0.47x faster". */
void fnd_faster(struct sb *t, double r, double lo, double hi);
/* Ratio a/b of two measurements' medians with a conservative interval
 * from their own intervals. */
double fnd_ratio(const struct res_meas *a, const struct res_meas *b, double *lo, double *hi);
int fnd_has_guest(const struct res_file *f, int made);
/* "ns_per_fault" -> "per fault". */
void fnd_metric_words(char *buf, size_t len, const char *metric);

/* ---- findings_tlb.c: the TLB findings of one series (or a pair of them) ---- */

void fnd_reach(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk);
/* The translation plateau between knees: what each level costs. */
void fnd_level_cost(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk);
/* Reach gain of a large-page backing over 4K, or splintering. */
void fnd_reach_gain(struct ctx *c, size_t fi, const struct series *L, const struct kn *kl, size_t nl,
		    const struct series *F, const struct kn *kf, size_t nf);
/* The large-page gain on each plateau of the 4K curve. */
void fnd_gain(struct ctx *c, size_t fi, const struct series *L, const struct series *F, const struct kn *kf,
	      size_t nf);
/* The large-page gain in one sentence per mode: every large-page backing
 * (x guest page) against 4K at the largest working set both have. */
void fnd_gain_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns);

/* ---- findings_guest.c: the guest's findings ---- */

/* guest/native per guest page x host backing on each plateau of the native curve. */
void fnd_tax(struct ctx *c, size_t fi, const struct series *S, const struct kn *kn, size_t nk);
/* How KVM mapped the VM's memory: per guest page x host backing, the
 * chase at its largest working set with KVM's page counts. */
void fnd_kvm_map(struct ctx *c, size_t fi, const struct series *s, size_t ns);
/* The heatmap in words: per guest mode, every guest page x host backing at
 * the largest working set it shares with native. */
void fnd_tax_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns);
void fnd_tcg(struct ctx *c, size_t fi);
void fnd_mmu(struct ctx *c, size_t fi);

/* ---- findings_kernels.c: the kernel families and what is missing ---- */

/* Per kernel of a family (native), per backing at the kernel's largest
 * working set: medians in words, and the interesting ratio. */
void fnd_family(struct ctx *c, size_t fi, const char *family, enum finding_kind kind);
/* Every cell skipped: why, grouped by reason. */
void fnd_nothing(struct ctx *c, size_t fi);
void fnd_no_vm(struct ctx *c, size_t fi);

#endif

/* doc.h - write one report body as Markdown or as self-contained HTML.
 *
 * The report is written once, through these calls, for both formats.  Text
 * that may come from a results file goes through doc_text()/doc_cell(),
 * which escape for the format (escape.h); doc_raw()/doc_cellf() are for
 * nestbench's own words and numbers only.
 */
#ifndef NESTBENCH_DOC_H
#define NESTBENCH_DOC_H

#include <stdio.h>

struct doc {
	FILE *f;
	int html;
	int in_row;
	int cell;
};

void doc_begin(struct doc *d, const char *title);
void doc_end(struct doc *d);
void doc_h(struct doc *d, int level, const char *text);
void doc_raw(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doc_text(struct doc *d, const char *untrusted);
void doc_para_begin(struct doc *d);
void doc_para_end(struct doc *d);
void doc_list_begin(struct doc *d);
void doc_item_begin(struct doc *d);
void doc_item_end(struct doc *d);
void doc_list_end(struct doc *d);
void doc_table_begin(struct doc *d, const char *const *headers, int ncols);
void doc_row_begin(struct doc *d);
void doc_cell(struct doc *d, const char *untrusted);
void doc_cellf(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doc_row_end(struct doc *d);
void doc_table_end(struct doc *d);
/* A plot: Markdown links NAME.svg (and NAME.png); HTML inlines the SVG read
 * from dirfd.  Returns 0, or -1 when the SVG cannot be read. */
int doc_plot(struct doc *d, int dirfd, const char *name, const char *caption);

#endif

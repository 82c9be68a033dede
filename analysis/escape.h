/* escape.h - make strings from results files inert wherever they are written.
 *
 * Results files are untrusted: a host name may hold `<script>`, backticks,
 * quotes, newlines or terminal escape sequences.  Every string from a file
 * goes out through one of these, chosen by the destination.
 */
#ifndef NESTBENCH_ESCAPE_H
#define NESTBENCH_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* HTML text and attribute values: & < > " ' as entities, control characters as U+FFFD. */
void esc_html(FILE *out, const char *s);
/* A Markdown table cell: HTML-escaped (renderers pass raw HTML through),
 * Markdown emphasis, code, link, table and heading characters backslash-escaped, newlines and controls as spaces. */
void esc_md(FILE *out, const char *s);
/* A terminal: control characters (newline, ESC, ...) shown as '?'. */
void esc_text(FILE *out, const char *s);
/* Same into a buffer (truncated, always NUL-terminated). */
void esc_text_buf(char *buf, size_t len, const char *s);
/* A CSV field, always quoted; quotes doubled; a leading = + - @ gets a ' so
 * spreadsheets do not read the cell as a formula. */
void esc_csv(FILE *out, const char *s);
/* A label for a gnuplot data file: only [A-Za-z0-9 ._+/:=-] kept, others
 * become '_', at most len-1 bytes.  Never contains quotes or newlines. */
void plot_label(char *buf, size_t len, const char *s);

#endif

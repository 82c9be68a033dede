/* doc.c - Markdown and HTML back ends of the report writer. */
#include "analysis/doc.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/escape.h"

static const char css[] =
	"body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
	"table{border-collapse:collapse;margin:1em 0;font-size:90%}"
	"td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
	"th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{font-style:italic}"
	".caveat{color:#8a4b00}"
	/* The findings open the report on one screen: compact, two columns when wide. */
	"#findings ul{columns:2 420px;column-gap:2em;font-size:13px;line-height:1.35;padding-left:1.2em;margin:.4em 0}"
	"#findings li{break-inside:avoid;margin:0 0 .45em}"
	"#findings .fk{font-size:10px;text-transform:uppercase;color:#fff;background:#0072B2;border-radius:3px;"
	"padding:0 4px;margin-right:4px}"
	"#findings details.src{display:inline;font-size:11px;color:#555}"
	"#findings details.src[open]{display:block}#findings details.src ul{columns:1}"
	"#findings ul.detail{font-size:12px;color:#333}#findings h3{font-size:1em;margin:.8em 0 .2em}"
	"h1{margin:.3em 0;font-size:1.6em}h1+p{margin:.2em 0;font-size:90%;color:#444}";

void doc_begin(struct doc *d, const char *title)
{
	d->in_row = 0;
	if (d->html) {
		fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		      "style-src 'unsafe-inline'; img-src data:\">\n<title>",
		      d->f);
		esc_html(d->f, title);
		fprintf(d->f, "</title>\n<style>%s</style>\n</head><body>\n", css);
	}
	doc_h(d, 1, title);
}

void doc_end(struct doc *d)
{
	if (d->html)
		fputs("</body></html>\n", d->f);
}

void doc_h(struct doc *d, int level, const char *text)
{
	if (d->html) {
		fprintf(d->f, "<h%d>", level);
		esc_html(d->f, text);
		fprintf(d->f, "</h%d>\n", level);
	} else {
		fprintf(d->f, "\n%.*s ", level, "######");
		esc_md(d->f, text);
		fputs("\n\n", d->f);
	}
}

void doc_raw(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(d->f, fmt, ap);
	va_end(ap);
}

void doc_text(struct doc *d, const char *s)
{
	if (d->html)
		esc_html(d->f, s);
	else
		esc_md(d->f, s);
}

void doc_para_begin(struct doc *d)
{
	if (d->html)
		fputs("<p>", d->f);
}

void doc_para_end(struct doc *d)
{
	fputs(d->html ? "</p>\n" : "\n\n", d->f);
}

void doc_list_begin(struct doc *d)
{
	if (d->html)
		fputs("<ul>\n", d->f);
}

void doc_item_begin(struct doc *d)
{
	fputs(d->html ? "<li>" : "- ", d->f);
}

void doc_item_end(struct doc *d)
{
	fputs(d->html ? "</li>\n" : "\n", d->f);
}

void doc_list_end(struct doc *d)
{
	fputs(d->html ? "</ul>\n" : "\n", d->f);
}

void doc_table_begin(struct doc *d, const char *const *headers, int ncols)
{
	if (d->html) {
		fputs("<table><thead><tr>", d->f);
		for (int i = 0; i < ncols; i++) {
			fputs("<th>", d->f);
			esc_html(d->f, headers[i]);
			fputs("</th>", d->f);
		}
		fputs("</tr></thead><tbody>\n", d->f);
	} else {
		fputs("|", d->f);
		for (int i = 0; i < ncols; i++) {
			fputc(' ', d->f);
			esc_md(d->f, headers[i]);
			fputs(" |", d->f);
		}
		fputs("\n|", d->f);
		for (int i = 0; i < ncols; i++)
			fputs(" --- |", d->f);
		fputc('\n', d->f);
	}
}

void doc_row_begin(struct doc *d)
{
	d->in_row = 1;
	d->cell = 0;
	fputs(d->html ? "<tr>" : "|", d->f);
}

void doc_cell(struct doc *d, const char *s)
{
	if (d->html) {
		fputs("<td>", d->f);
		esc_html(d->f, s);
		fputs("</td>", d->f);
	} else {
		fputc(' ', d->f);
		esc_md(d->f, s);
		fputs(" |", d->f);
	}
	d->cell++;
}

void doc_cellf(struct doc *d, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->html) {
		fputs("<td class=\"n\">", d->f);
		esc_html(d->f, buf);
		fputs("</td>", d->f);
	} else {
		fprintf(d->f, " %s |", buf);
	}
	d->cell++;
}

void doc_row_end(struct doc *d)
{
	d->in_row = 0;
	fputs(d->html ? "</tr>\n" : "\n", d->f);
}

void doc_table_end(struct doc *d)
{
	fputs(d->html ? "</tbody></table>\n" : "\n", d->f);
}

/* The SVG as gnuplot wrote it, from "<svg" on (the XML prolog and DOCTYPE
 * are not allowed inside HTML). */
static char *read_svg(int dirfd, const char *name)
{
	char fn[128];
	snprintf(fn, sizeof(fn), "%s.svg", name);
	int fd = openat(dirfd, fn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
		close(fd);
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[got] = '\0';
	return buf;
}

int doc_plot(struct doc *d, int dirfd, const char *name, const char *caption)
{
	if (!d->html) {
		fprintf(d->f, "![%s](%s.svg)\n\n*%s* ([PNG](%s.png))\n\n", caption, name, caption, name);
		return 0;
	}
	char *svg = read_svg(dirfd, name);
	const char *start = svg ? strstr(svg, "<svg") : NULL;
	if (!start) {
		free(svg);
		return -1;
	}
	fputs("<figure>\n", d->f);
	fputs(start, d->f);
	fputs("<figcaption>", d->f);
	esc_html(d->f, caption);
	fputs("</figcaption></figure>\n", d->f);
	free(svg);
	return 0;
}

/* escape.c - escaping untrusted strings per destination. */
#include "analysis/escape.h"

#include <string.h>

static int is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

void esc_html(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if (is_control(c))
				fputs("&#xfffd;", out);
			else
				fputc(c, out);
		}
	}
}

void esc_md(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '&' || c == '<' || c == '>' || c == '"' || c == '\'') {
			char one[2] = {(char)c, 0};
			esc_html(out, one);
		} else if (is_control(c)) {
			fputc(' ', out);
		} else if (strchr("\\`*_[]|~#", c)) {
			fputc('\\', out);
			fputc(c, out);
		} else {
			fputc(c, out);
		}
	}
}

void esc_text(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(is_control((unsigned char)*s) ? '?' : *s, out);
}

void esc_text_buf(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	if (!len)
		return;
	for (; *s && i + 1 < len; s++)
		buf[i++] = is_control((unsigned char)*s) ? '?' : *s;
	/* Cut short: never in the middle of a UTF-8 character. */
	if (*s && ((unsigned char)*s & 0xc0) == 0x80)
		while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
			i--;
	if (*s && i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0xc0)
		i--;
	buf[i] = '\0';
}

void esc_csv(FILE *out, const char *s)
{
	fputc('"', out);
	if (*s && strchr("=+-@", *s))
		fputc('\'', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			fputs("\"\"", out);
		else
			fputc(is_control(c) ? ' ' : c, out);
	}
	fputc('"', out);
}

void plot_label(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	if (!len)
		return;
	for (; *s && i + 1 < len; s++) {
		char c = *s;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 (c && strchr(" ._+/:=-", c));
		buf[i++] = ok ? c : '_';
	}
	buf[i] = '\0';
}

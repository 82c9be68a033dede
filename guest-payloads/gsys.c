/* gsys.c - messages to the host and small freestanding helpers (see gsys.h). */
#include <stdarg.h>

#include "guest-payloads/gsys.h"

struct gsys_state gsys;

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static size_t put_num(char *buf, size_t len, size_t at, uint64_t v, unsigned base)
{
	char tmp[24];
	size_t n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n && at + 1 < len)
		buf[at++] = tmp[--n];
	return at;
}

static size_t vgfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t at = 0;
	if (!len)
		return 0;
	for (; *fmt && at + 1 < len; fmt++) {
		if (*fmt != '%' || !fmt[1]) {
			buf[at++] = *fmt;
			continue;
		}
		switch (*++fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (s && *s && at + 1 < len)
				buf[at++] = *s++;
			break;
		}
		case 'u': at = put_num(buf, len, at, va_arg(ap, uint64_t), 10); break;
		case 'x': at = put_num(buf, len, at, va_arg(ap, uint64_t), 16); break;
		default: buf[at++] = *fmt; break;
		}
	}
	buf[at] = 0;
	return at;
}

size_t gfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = vgfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

/* The host reads the message during the OUT; it may live on the stack.
 * Messages are never sent inside a timed region. */
void gsys_send(struct nb_msg *m, uint32_t type)
{
	m->magic = NB_MSG_MAGIC;
	m->type = type;
	if (current_cpl() == 0)
		outl(NB_PORT_MSG, (uint32_t)(uintptr_t)m);
	else
		*(volatile uint32_t *)(uintptr_t)NB_DOORBELL_GPA = (uint32_t)(uintptr_t)m;
}

void gsys_print(const char *fmt, ...)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	va_list ap;
	va_start(ap, fmt);
	m.text_len = (uint32_t)vgfmt(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	gsys_send(&m, NB_MSG_PRINT);
}

void gsys_result(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	m.arg[0] = gsys.mbox->cmd.seq;
	m.arg[1] = a1;
	m.arg[2] = a2;
	m.arg[3] = a3;
	m.arg[4] = a4;
	gsys_send(&m, NB_MSG_RESULT);
}

void gsys_sync(void)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	gsys_send(&m, NB_MSG_SYNC);
}

_Noreturn void gsys_done(uint64_t status)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	m.arg[0] = status;
	for (;;)
		gsys_send(&m, NB_MSG_DONE);
}

_Noreturn void gsys_abort(const char *file, unsigned line, uint64_t rip, const char *fmt, ...)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	va_list ap;
	va_start(ap, fmt);
	m.text_len = (uint32_t)vgfmt(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	size_t i = 0;
	for (; file[i] && i + 1 < sizeof(m.file); i++)
		m.file[i] = file[i];
	m.line = line;
	m.arg[0] = rip;
	for (;;)
		gsys_send(&m, NB_MSG_ABORT);
}

/* channel.c - framing of the Linux guest's result channel (see channel.h). */
#include "harness/linuxguest/channel.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHANNEL_MAGIC "\nNESTBENCH-CHANNEL 1 "
#define CHANNEL_END "\nNESTBENCH-CHANNEL-END\n"

uint64_t channel_fnv1a64(const void *data, size_t len)
{
	return channel_fnv1a64_more(0xcbf29ce484222325ull, data, len);
}

uint64_t channel_fnv1a64_more(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int write_all(int fd, const void *data, size_t len, nb_error *err)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return nb_fail(err, "channel: write failed: %s", n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int channel_write(int fd, const void *data, size_t len, int status, nb_error *err)
{
	char head[160];
	int n = snprintf(head, sizeof(head), CHANNEL_MAGIC "status=%d bytes=%zu fnv1a64=%016" PRIx64 "\n", status, len,
			 channel_fnv1a64(data, len));
	if (write_all(fd, head, (size_t)n, err) || (len && write_all(fd, data, len, err)) ||
	    write_all(fd, CHANNEL_END, strlen(CHANNEL_END), err))
		return -1;
	return 0;
}

/* The last occurrence of needle in [hay, hay + len). */
static const unsigned char *find_last(const unsigned char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (len < n)
		return NULL;
	for (size_t i = len - n + 1; i-- > 0;)
		if (hay[i] == (unsigned char)needle[0] && !memcmp(hay + i, needle, n))
			return hay + i;
	return NULL;
}

int channel_parse(const void *buf, size_t len, const unsigned char **data, size_t *dlen, int *status,
		  nb_error *err)
{
	const unsigned char *b = buf;
	const unsigned char *h = find_last(b, len, CHANNEL_MAGIC);
	/* A frame's payload may itself contain the magic only if it is a results
	 * file that quotes it; ours never do, but walk back if the last one does
	 * not parse. */
	while (h) {
		const unsigned char *fields = h + strlen(CHANNEL_MAGIC);
		const unsigned char *eol = memchr(fields, '\n', len - (size_t)(fields - b));
		char line[128];
		int st;
		size_t bytes;
		uint64_t sum;
		if (eol && (size_t)(eol - fields) < sizeof(line)) {
			memcpy(line, fields, (size_t)(eol - fields));
			line[eol - fields] = '\0';
			char tail;
			if (sscanf(line, "status=%d bytes=%zu fnv1a64=%" SCNx64 "%c", &st, &bytes, &sum, &tail) == 3) {
				const unsigned char *body = eol + 1;
				size_t left = len - (size_t)(body - b);
				if (bytes > left || left - bytes < strlen(CHANNEL_END))
					return nb_fail(err, "the guest's result frame is truncated: %zu bytes announced, "
							    "%zu arrived",
						       bytes, left);
				if (memcmp(body + bytes, CHANNEL_END, strlen(CHANNEL_END)))
					return nb_fail(err, "the guest's result frame has no end marker after %zu bytes "
							    "(bytes lost or added on the serial line?)",
						       bytes);
				if (channel_fnv1a64(body, bytes) != sum)
					return nb_fail(err, "the guest's result frame fails its checksum (%zu bytes): the "
							    "serial line changed them",
						       bytes);
				*data = body;
				*dlen = bytes;
				*status = st;
				return 0;
			}
		}
		h = find_last(b, (size_t)(h - b), CHANNEL_MAGIC);
	}
	return nb_fail(err, "the guest sent no result frame (%zu bytes on the channel)", len);
}

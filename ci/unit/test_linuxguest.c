/* Unit tests: the Linux-guest launcher's parts that run without a guest:
 * the result channel's framing, the initramfs (cpio newc) writer, the QEMU
 * command line and the bzImage version reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/cpio.h"
#include "harness/linuxguest/image.h"
#include "harness/linuxguest/qemu.h"
#include "core/util.h"

/* Frame data into a temporary file and read the whole file back. */
static size_t frame(const char *data, size_t len, int status, char *out, size_t cap)
{
	char path[] = "/tmp/nb-channel-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	nb_error err;
	assert_int_equal(channel_write(fd, data, len, status, &err), 0);
	ssize_t n = pread(fd, out, cap, 0);
	close(fd);
	assert_true(n > 0);
	return (size_t)n;
}

static void channel_round_trip_keeps_bytes_and_status(void **state)
{
	(void)state;
	char buf[4096], data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7); /* every byte value, NUL and newlines included */
	size_t n = frame(data, sizeof(data), 4, buf, sizeof(buf));
	const unsigned char *body;
	size_t blen;
	int status = -1;
	nb_error err;
	assert_int_equal(channel_parse(buf, n, &body, &blen, &status, &err), 0);
	assert_int_equal(blen, sizeof(data));
	assert_memory_equal(body, data, sizeof(data));
	assert_int_equal(status, 4);
}

static void channel_takes_the_last_whole_frame(void **state)
{
	(void)state;
	char buf[8192];
	size_t n = 0;
	memcpy(buf, "boot noise\r\n", 12);
	n += 12;
	n += frame("first", 5, 1, buf + n, sizeof(buf) - n);
	n += frame("second", 6, 0, buf + n, sizeof(buf) - n);
	const unsigned char *body;
	size_t blen;
	int status;
	nb_error err;
	assert_int_equal(channel_parse(buf, n, &body, &blen, &status, &err), 0);
	assert_int_equal(blen, 6);
	assert_memory_equal(body, "second", 6);
	assert_int_equal(status, 0);
}

static void channel_names_truncation_and_damage(void **state)
{
	(void)state;
	char buf[4096];
	const char *text = "{\"schema_version\": 1}\n";
	size_t n = frame(text, strlen(text), 0, buf, sizeof(buf));
	const unsigned char *body;
	size_t blen;
	int status;
	nb_error err = {{0}};
	/* Cut short: the end marker is missing. */
	assert_int_equal(channel_parse(buf, n - 10, &body, &blen, &status, &err), -1);
	assert_non_null(strstr(err.msg, "truncated"));
	/* A changed byte (what a line discipline's \n -> \r\n would do). */
	char *brace = memchr(buf + 30, '{', n - 30);
	assert_non_null(brace);
	brace[1] = 'X';
	assert_int_equal(channel_parse(buf, n, &body, &blen, &status, &err), -1);
	assert_non_null(strstr(err.msg, "checksum"));
	/* Nothing at all. */
	assert_int_equal(channel_parse("console only\n", 13, &body, &blen, &status, &err), -1);
	assert_non_null(strstr(err.msg, "no result frame"));
}

/* A minimal newc reader, written from the format's description. */
struct entry {
	char name[128];
	unsigned mode;
	size_t size;
	char data[64];
};

static unsigned hex8(const char *p)
{
	char t[9];
	memcpy(t, p, 8);
	t[8] = '\0';
	return (unsigned)strtoul(t, NULL, 16);
}

static size_t read_newc(const char *buf, size_t len, struct entry *e, size_t max)
{
	size_t off = 0, n = 0;
	for (;;) {
		assert_true(off + 110 <= len);
		assert_memory_equal(buf + off, "070701", 6);
		unsigned mode = hex8(buf + off + 14), size = hex8(buf + off + 54), namesize = hex8(buf + off + 94);
		const char *name = buf + off + 110;
		assert_int_equal(name[namesize - 1], '\0');
		off = (off + 110 + namesize + 3) & ~(size_t)3; /* the name is padded to 4 bytes */
		if (!strcmp(name, "TRAILER!!!"))
			return n;
		assert_true(n < max);
		snprintf(e[n].name, sizeof(e[n].name), "%s", name);
		e[n].mode = mode;
		e[n].size = size;
		memcpy(e[n].data, buf + off, size < sizeof(e[n].data) ? size : sizeof(e[n].data));
		off = (off + size + 3) & ~(size_t)3;
		n++;
	}
}

static void cpio_writes_newc_with_parents_and_trailer(void **state)
{
	(void)state;
	char dir[] = "/tmp/nb-cpio-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], src[256];
	snprintf(path, sizeof(path), "%s/image.cpio", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fputs("abcde", f);
	fclose(f);
	struct cpio c;
	nb_error err;
	assert_int_equal(cpio_open(&c, path, &err), 0);
	assert_int_equal(cpio_add_bytes(&c, "/etc/nestbench/guest.json", "{}", 2, 0644, &err), 0);
	assert_int_equal(cpio_add_file(&c, "/bin/tool", src, 0755, &err), 0);
	assert_int_equal(cpio_add_symlink(&c, "/bin/sh", "busybox", &err), 0);
	assert_int_equal(cpio_add_dir(&c, "/etc", &err), 0); /* already there: not twice */
	assert_int_equal(cpio_close(&c, &err), 0);
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	struct entry e[16];
	size_t ne = read_newc(buf, (size_t)n, e, 16);
	const char *want[] = {"etc", "etc/nestbench", "etc/nestbench/guest.json", "bin", "bin/tool", "bin/sh"};
	assert_int_equal(ne, ARRAY_SIZE(want));
	for (size_t i = 0; i < ne; i++)
		assert_string_equal(e[i].name, want[i]);
	assert_int_equal(e[0].mode, 040755);
	assert_int_equal(e[2].mode, 0100644);
	assert_int_equal(e[4].mode, 0100755);
	assert_int_equal(e[4].size, 5);
	assert_memory_equal(e[4].data, "abcde", 5);
	assert_int_equal(e[5].mode, 0120777);
	assert_memory_equal(e[5].data, "busybox", 7);
	unlink(path);
	unlink(src);
	assert_int_equal(rmdir(dir), 0); /* no temporary file was left beside the image */
}

static void cpio_failure_leaves_nothing(void **state)
{
	(void)state;
	char dir[] = "/tmp/nb-cpio-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/image.cpio", dir);
	struct cpio c;
	nb_error err = {{0}};
	assert_int_equal(cpio_open(&c, path, &err), 0);
	assert_int_equal(cpio_add_file(&c, "/x", "/nonexistent/file", 0, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/file"));
	cpio_abort(&c);
	assert_int_equal(rmdir(dir), 0); /* empty: no image, no temporary */
}

static int has_pair(char **argv, const char *a, const char *b)
{
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], a) && !strcmp(argv[i + 1], b))
			return 1;
	return 0;
}

static void qemu_argv_per_accelerator(void **state)
{
	(void)state;
	struct qemu_config c = {
		.kernel = "/boot/vmlinuz", .initrd = "/w/i.cpio", .accel = QEMU_ACCEL_TCG, .cpus = 2,
		.memory_bytes = 3ull << 30, .console_log = "/w/con,sole", .channel = "/w/chan", .append = "hugepages=8",
	};
	char **argv;
	nb_error err;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), 0);
	assert_true(has_pair(argv, "-accel", "tcg,thread=single"));
	assert_true(has_pair(argv, "-cpu", "max"));
	assert_true(has_pair(argv, "-m", "3072M"));
	assert_true(has_pair(argv, "-smp", "2"));
	assert_true(has_pair(argv, "-chardev", "file,id=console,path=/w/con,,sole"));
	assert_true(has_pair(argv, "-chardev", "file,id=channel,path=/w/chan"));
	assert_true(has_pair(argv, "-append", "console=ttyS0 panic=-1 quiet hugepages=8"));
	qemu_argv_free(argv);
	c.accel = QEMU_ACCEL_KVM;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), 0);
	assert_true(has_pair(argv, "-accel", "kvm"));
	assert_true(has_pair(argv, "-cpu", "host"));
	qemu_argv_free(argv);
	c.accel = QEMU_ACCEL_AUTO;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), -1);
	c.accel = QEMU_ACCEL_TCG;
	c.memory_bytes = 1 << 20;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), -1);
}

static void kernel_version_from_the_setup_header(void **state)
{
	(void)state;
	char path[] = "/tmp/nb-bzimage-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static unsigned char img[0x1000];
	memset(img, 0, sizeof(img));
	memcpy(img + 0x202, "HdrS", 4);
	img[0x20e] = 0x00; /* version at 0x200 + 0x0600 */
	img[0x20f] = 0x06;
	const char *v = "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP";
	memcpy(img + 0x800, v, strlen(v) + 1);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	char ver[64];
	nb_error err;
	assert_int_equal(image_kernel_version(path, ver, sizeof(ver), &err), 0);
	assert_string_equal(ver, "6.1.0-57-amd64");
	/* Not a bzImage. */
	fd = open(path, O_WRONLY | O_TRUNC);
	memset(img, 'x', sizeof(img));
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	assert_int_equal(image_kernel_version(path, ver, sizeof(ver), &err), -1);
	assert_non_null(strstr(err.msg, "bzImage"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(channel_round_trip_keeps_bytes_and_status),
		cmocka_unit_test(channel_takes_the_last_whole_frame),
		cmocka_unit_test(channel_names_truncation_and_damage),
		cmocka_unit_test(cpio_writes_newc_with_parents_and_trailer),
		cmocka_unit_test(cpio_failure_leaves_nothing),
		cmocka_unit_test(qemu_argv_per_accelerator),
		cmocka_unit_test(kernel_version_from_the_setup_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

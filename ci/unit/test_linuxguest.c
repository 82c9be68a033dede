/* Unit tests: the Linux-guest parts that run without a guest: the result
 * channel's framing, the initramfs (cpio newc) writer and the run's
 * configuration archive, the QEMU command line, the bzImage version reader,
 * and --mode linux's pure logic (run_linux.c, hostmem.c): mode lists, the
 * guest's arguments, its kernel command line, the memory backend per host
 * backing, the smaps check, merging and the cells of a guest that failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/cpio.h"
#include "harness/linuxguest/image.h"
#include "harness/linuxguest/hostmem.h"
#include "harness/linuxguest/qemu.h"
#include "harness/run/run_linux.h"
#include "core/kernel.h"
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

static void qemu_argv_names_the_memory_backend(void **state)
{
	(void)state;
	struct qemu_config c = {
		.kernel = "/boot/vmlinuz", .initrd = "/dev/fd/5", .accel = QEMU_ACCEL_TCG, .cpus = 1,
		.memory_bytes = 1ull << 30, .console_log = "/dev/fd/6", .channel = "/dev/fd/7",
		.memory_object = "memory-backend-memfd,id=ram0,size=1024M,share=on",
	};
	char **argv;
	nb_error err;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), 0);
	assert_true(has_pair(argv, "-object", "memory-backend-memfd,id=ram0,size=1024M,share=on"));
	assert_true(has_pair(argv, "-machine", "memory-backend=ram0"));
	assert_true(has_pair(argv, "-initrd", "/dev/fd/5"));
	qemu_argv_free(argv);
	c.memory_object = NULL;
	assert_int_equal(qemu_build_argv(&c, &argv, &err), 0);
	for (size_t i = 0; argv[i]; i++)
		assert_string_not_equal(argv[i], "-object");
	qemu_argv_free(argv);
}

static void mode_lists_parse_and_echo(void **state)
{
	(void)state;
	unsigned m = 0;
	nb_error err = {{0}};
	assert_int_equal(run_mode_parse("native", 1, &m, &err), 0);
	assert_int_equal(m, RUN_MODE_NATIVE);
	assert_int_equal(run_mode_parse("both", 1, &m, &err), 0);
	assert_int_equal(m, RUN_MODE_NATIVE | RUN_MODE_VM);
	assert_int_equal(run_mode_parse("native,linux", 1, &m, &err), 0);
	assert_int_equal(m, RUN_MODE_NATIVE | RUN_MODE_LINUX);
	assert_string_equal(run_mode_name(m), "native,linux");
	assert_int_equal(run_mode_parse("linux,vm,native", 1, &m, &err), 0);
	assert_string_equal(run_mode_name(m), "native,vm,linux");
	assert_int_equal(run_mode_parse("vm,native", 1, &m, &err), 0);
	assert_string_equal(run_mode_name(m), "both"); /* the echo older readers know */
	assert_int_equal(run_mode_parse("native,xen", 1, &m, &err), -1);
	assert_non_null(strstr(err.msg, "'xen'"));
	assert_int_equal(run_mode_parse("native,", 1, &m, &err), -1);
	assert_int_equal(run_mode_parse("", 1, &m, &err), -1);
	/* No Linux guest inside the Linux guest. */
	assert_int_equal(run_mode_parse("linux", 0, &m, &err), -1);
	assert_non_null(strstr(err.msg, "--guest-mode"));
	assert_int_equal(run_mode_parse("vm", 0, &m, &err), 0);
	assert_int_equal(m, RUN_MODE_VM);
}

static void guest_gets_the_run_options_but_its_own_mode_and_backing(void **state)
{
	(void)state;
	char *argv[] = {"run", "--mode", "native,linux", "-b", "4k", "--kernel=chase", "-qs", "smoke",
			"--guest-cpus", "2", "--guest-page", "4k", "--cpu", "1", "--out", "x.json", "--ws-max", "1m",
			"--guest-kernel=/k", "--no-pmu", NULL};
	struct run_config cfg = {.guest_modes = RUN_MODE_VM, .nguest_backings = 2, .quiet = 1};
	cfg.guest_backings[0] = BACKING_4K;
	cfg.guest_backings[1] = BACKING_HUGETLB_2M;
	char **out;
	nb_error err = {{0}};
	assert_int_equal(run_linux_guest_args((int)ARRAY_SIZE(argv) - 1, argv, run_options(), &cfg, &out, &err), 0);
	const char *want[] = {"--kernel", "chase", "--suite", "smoke", "--guest-page", "4k", "--ws-max", "1m",
			      "--no-pmu", "--mode", "vm", "--backing", "4k,hugetlb-2m", "--quiet", NULL};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (!want[i]) {
			assert_null(out[i]);
			break;
		}
		assert_non_null(out[i]);
		assert_string_equal(out[i], want[i]);
	}
	run_linux_args_free(out);
	/* Defaults: the guest runs natively on every backing it can have. */
	char *argv2[] = {"run", "--mode", "linux", NULL};
	struct run_config cfg2 = {0};
	assert_int_equal(run_linux_guest_args(3, argv2, run_options(), &cfg2, &out, &err), 0);
	assert_string_equal(out[0], "--mode");
	assert_string_equal(out[1], "native");
	assert_null(out[2]);
	run_linux_args_free(out);
}

static void guest_cmdline_pools_follow_its_backings(void **state)
{
	(void)state;
	struct run_config cfg = {.guest_memory = 4ull << 30};
	char line[256];
	run_linux_cmdline(&cfg, line, sizeof(line));
	/* 4 GiB: the control's 1G page and the hugetlb-1g sweep buffer's */
	assert_string_equal(line, "transparent_hugepage=madvise hugepagesz=1G hugepages=2 hugepagesz=2M hugepages=128");
	cfg.guest_memory = 8ull << 30; /* and a fixed-size kernel's own mapping */
	run_linux_cmdline(&cfg, line, sizeof(line));
	assert_string_equal(line, "transparent_hugepage=madvise hugepagesz=1G hugepages=3 hugepagesz=2M hugepages=256");
	cfg.guest_memory = 2ull << 30;
	cfg.nguest_backings = 1;
	cfg.guest_backings[0] = BACKING_HUGETLB_1G;
	run_linux_cmdline(&cfg, line, sizeof(line)); /* no room for a 1G page */
	assert_string_equal(line, "transparent_hugepage=madvise hugepagesz=2M hugepages=64");
	cfg.guest_backings[0] = BACKING_4K; /* the control still wants its large page */
	cfg.guest_memory = 3ull << 30;
	run_linux_cmdline(&cfg, line, sizeof(line));
	assert_string_equal(line, "transparent_hugepage=madvise hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=96");
}

static void memory_backend_per_host_backing(void **state)
{
	(void)state;
	char obj[256];
	nb_error err = {{0}};
	assert_int_equal(hostmem_object(BACKING_4K, 3ull << 30, obj, sizeof(obj), &err), 0);
	assert_string_equal(obj, "memory-backend-memfd,id=ram0,size=3072M,share=on");
	assert_int_equal(hostmem_object(BACKING_THP, 3ull << 30, obj, sizeof(obj), &err), 0);
	assert_string_equal(obj, "memory-backend-ram,id=ram0,size=3072M,prealloc=on");
	assert_int_equal(hostmem_object(BACKING_HUGETLB_2M, 3ull << 30, obj, sizeof(obj), &err), 0);
	assert_string_equal(obj, "memory-backend-memfd,id=ram0,size=3072M,share=on,hugetlb=on,hugetlbsize=2M,prealloc=on");
	assert_int_equal(hostmem_object(BACKING_HUGETLB_1G, 3ull << 30, obj, sizeof(obj), &err), 0);
	assert_string_equal(obj, "memory-backend-memfd,id=ram0,size=3072M,share=on,hugetlb=on,hugetlbsize=1G,prealloc=on");
	/* 3.5G is no whole number of 1G pages. */
	assert_int_equal(hostmem_object(BACKING_HUGETLB_1G, 7ull << 29, obj, sizeof(obj), &err), -1);
	assert_non_null(strstr(err.msg, "1G pages"));
}

/* smaps of a QEMU process: a small anonymous mapping, then the guest's RAM. */
static const char smaps_fmt[] =
	"7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \n"
	"Size:               2048 kB\nKernelPageSize:        4 kB\nRss:                 2048 kB\n"
	"AnonHugePages:      2048 kB\nShared_Hugetlb:        0 kB\nPrivate_Hugetlb:       0 kB\n"
	"VmFlags: rd wr mr mw me ac \n"
	"7f1000000000-7f10c0000000 rw-s 00000000 00:01 1234 %s\n"
	"Size:            3145728 kB\nKernelPageSize:     %u kB\nRss:              %u kB\n"
	"AnonHugePages:      %u kB\nShmemPmdMapped:        0 kB\nShared_Hugetlb:     %u kB\n"
	"Private_Hugetlb:       0 kB\nVmFlags: rd wr sh mr mw me ms \n";

static void smaps_shows_the_host_page_of_guest_memory(void **state)
{
	(void)state;
	static char text[4096];
	struct hostmem_sample s;
	double cov;
	/* memfd on 4K pages, half resident */
	snprintf(text, sizeof(text), smaps_fmt, "/memfd:memory-backend-memfd (deleted)", 4u, 1572864u, 0u, 0u);
	assert_int_equal(hostmem_parse_smaps(text, 3ull << 30, &s), 0);
	assert_int_equal(s.vma_bytes, 3ull << 30);
	assert_int_equal(s.rss_bytes, 1572864ull << 10);
	assert_string_equal(s.name, "/memfd:memory-backend-memfd (deleted)");
	assert_int_equal(hostmem_verified_page(&s, &cov), 4096);
	assert_true(cov > 0.99);
	/* THP: most resident bytes on 2M pages */
	snprintf(text, sizeof(text), smaps_fmt, "", 4u, 3145728u, 3000000u, 0u);
	assert_int_equal(hostmem_parse_smaps(text, 3ull << 30, &s), 0);
	assert_int_equal(hostmem_verified_page(&s, &cov), 2u << 20);
	assert_true(cov > 0.95 && cov < 0.96);
	/* hugetlb 1G */
	snprintf(text, sizeof(text), smaps_fmt, "/memfd:x (deleted)", 1048576u, 3145728u, 0u, 3145728u);
	assert_int_equal(hostmem_parse_smaps(text, 3ull << 30, &s), 0);
	assert_int_equal(hostmem_verified_page(&s, &cov), 1u << 30);
	assert_true(cov == 1.0);
	json_t *j = hostmem_json(BACKING_HUGETLB_1G, "obj", &s, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "verified_page_bytes")), 1 << 30);
	json_decref(j);
	/* No mapping of the guest's size: none, and the JSON says so. */
	assert_int_equal(hostmem_parse_smaps(text, 64ull << 30, &s), -1);
	j = hostmem_json(BACKING_4K, "obj", &s, "no mapping");
	assert_true(json_is_null(json_object_get(j, "verified_page_bytes")));
	assert_string_equal(json_string_value(json_object_get(j, "unavailable")), "no mapping");
	json_decref(j);
}

static json_t *doc_with(json_t *measurements)
{
	return json_pack("{s:{s:s}, s:o}", "host", "hostname", "h", "measurements", measurements);
}

static void merge_marks_guest_measurements_linux(void **state)
{
	(void)state;
	json_t *doc = doc_with(json_pack("[{s:s, s:s}]", "kernel", "chase", "mode", "native"));
	json_t *guest = json_pack("{s:{s:s}, s:[{s:s, s:s}, {s:s, s:s, s:{s:s}}, {s:s, s:s}]}", "host", "hostname",
				  "guest", "measurements", "kernel", "fault", "mode", "native", "kernel", "chase",
				  "mode", "vm", "guest_page", "requested", "2m", "kernel", "x", "mode", "linux");
	json_t *hb = json_pack("{s:s, s:I}", "requested", "4k", "verified_page_bytes", (json_int_t)4096);
	assert_int_equal(run_linux_merge(doc, guest, hb, 0), 2);
	json_t *ms = json_object_get(doc, "measurements");
	assert_int_equal(json_array_size(ms), 3);
	json_t *a = json_array_get(ms, 1), *b = json_array_get(ms, 2);
	assert_string_equal(json_string_value(json_object_get(a, "mode")), "linux");
	assert_string_equal(json_string_value(json_object_get(a, "inner_mode")), "native");
	assert_string_equal(json_string_value(json_object_get(b, "inner_mode")), "vm");
	assert_true(json_is_false(json_object_get(a, "timing_valid")));
	assert_true(json_equal(json_object_get(a, "host_backing"), hb));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "guest_host"), "hostname")), "guest");
	/* The guest's own document is not changed (deep copies). */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(guest, "measurements"), 0),
							      "mode")),
			    "native");
	/* Not a results document. */
	json_t *junk = json_pack("{s:i}", "x", 1);
	assert_int_equal(run_linux_merge(doc, junk, hb, 0), -1);
	json_decref(junk);
	json_decref(guest);
	json_decref(hb);
	json_decref(doc);
}

static void a_failed_guest_leaves_failed_cells_with_the_reason(void **state)
{
	(void)state;
	json_t *doc = doc_with(json_array());
	struct run_config cfg = {.nkernels = 2, .nguest_backings = 2};
	cfg.kernels[0] = kernel_find("fault");
	cfg.kernels[1] = kernel_find("chase");
	cfg.guest_backings[0] = BACKING_4K;
	cfg.guest_backings[1] = BACKING_THP;
	json_t *hb = json_pack("{s:s}", "requested", "4k");
	run_linux_unrun_cells(doc, &cfg, hb, 0, "no qemu-system-x86_64", 1);
	json_t *ms = json_object_get(doc, "measurements");
	assert_int_equal(json_array_size(ms), 4);
	size_t i;
	json_t *m;
	json_array_foreach(ms, i, m) {
		assert_string_equal(json_string_value(json_object_get(m, "mode")), "linux");
		assert_true(json_is_true(json_object_get(m, "failed")));
		assert_string_equal(json_string_value(json_object_get(m, "skipped")), "failed: no qemu-system-x86_64");
		assert_true(json_is_null(json_object_get(m, "summary")));
	}
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ms, 1), "backing"), "requested")),
			    "thp");
	json_decref(hb);
	json_decref(doc);
}

static void config_archive_carries_the_run_arguments(void **state)
{
	(void)state;
	char dir[] = "/tmp/nb-cfg-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/config.cpio", dir);
	char *args[] = {"--suite", "smoke", "--mode", "vm", NULL};
	nb_error err;
	assert_int_equal(image_write_config(args, path, &err), 0);
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	struct entry e[8];
	size_t ne = read_newc(buf, (size_t)n, e, 8);
	assert_int_equal(ne, 3);
	assert_string_equal(e[2].name, "etc/nestbench/guest.json");
	/* The payload is read in full here (struct entry keeps 64 bytes only). */
	const char *body = memmem(buf, (size_t)n, "{", 1);
	assert_non_null(body);
	json_t *j = json_loadb(body, e[2].size, 0, NULL);
	assert_non_null(j);
	json_t *ra = json_object_get(j, "run_args");
	assert_int_equal(json_array_size(ra), 4);
	assert_string_equal(json_string_value(json_array_get(ra, 3)), "vm");
	assert_string_equal(json_string_value(json_object_get(j, "results")), IMAGE_RESULTS_PATH);
	json_decref(j);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
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
		cmocka_unit_test(qemu_argv_names_the_memory_backend),
		cmocka_unit_test(mode_lists_parse_and_echo),
		cmocka_unit_test(guest_gets_the_run_options_but_its_own_mode_and_backing),
		cmocka_unit_test(guest_cmdline_pools_follow_its_backings),
		cmocka_unit_test(memory_backend_per_host_backing),
		cmocka_unit_test(smaps_shows_the_host_page_of_guest_memory),
		cmocka_unit_test(merge_marks_guest_measurements_linux),
		cmocka_unit_test(a_failed_guest_leaves_failed_cells_with_the_reason),
		cmocka_unit_test(config_archive_carries_the_run_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

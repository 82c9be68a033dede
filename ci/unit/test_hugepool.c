/* test_hugepool.c - pool reading, growth checks and restoring on exit, error and signal.
 *
 * Most paths run against a fake pool directory (hugepool_set_root), so they
 * need neither root nor real memory; the real pools are used as root only.
 *
 * Fake pools: nr_hugepages is a symlink to free_hugepages, i.e. a "kernel"
 * that turns every page asked for into a free page; or a plain file, i.e.
 * a kernel that provides none.  Values stay single-digit because sysfs-style
 * writes do not truncate the regular files standing in for sysfs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/mem/backing.h"
#include "harness/mem/hugepool.h"

#define MB ((size_t)1 << 20)

static char fake_root[64];
static char fake_pool[128];

static void put(const char *file, const char *value)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_pool, file);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(value, f);
	assert_int_equal(fclose(f), 0);
}

static long get_nr(void)
{
	struct hugepool_state st;
	assert_int_equal(hugepool_read(2 * MB, &st), 0);
	return st.total;
}

/* A fake 2M pool: free = `free_pages`; growing works when `grows`. */
static void make_fake(int grows, const char *nr, const char *free_pages)
{
	snprintf(fake_root, sizeof(fake_root), "/tmp/nb-hugepool.XXXXXX");
	assert_non_null(mkdtemp(fake_root));
	snprintf(fake_pool, sizeof(fake_pool), "%s/hugepages-2048kB", fake_root);
	assert_int_equal(mkdir(fake_pool, 0755), 0);
	put("free_hugepages", free_pages);
	put("resv_hugepages", "0");
	put("surplus_hugepages", "0");
	if (grows) {
		char link[256];
		snprintf(link, sizeof(link), "%s/nr_hugepages", fake_pool);
		assert_int_equal(symlink("free_hugepages", link), 0);
	} else {
		put("nr_hugepages", nr);
	}
	hugepool_set_root(fake_root);
}

static void drop_fake(void)
{
	hugepool_set_root(NULL);
	static const char *const files[] = {"nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"};
	char path[256];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", fake_pool, files[i]);
		unlink(path);
	}
	rmdir(fake_pool);
	/* The fake root's ledger: the lock and any records left. */
	char ledger[128];
	snprintf(ledger, sizeof(ledger), "%s/ledger", fake_root);
	DIR *d = opendir(ledger);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(ledger);
	assert_int_equal(rmdir(fake_root), 0);
}

/* Number of records in the fake ledger. */
static size_t records(void)
{
	struct ledger_entry e[LEDGER_MAX_ENTRIES];
	return ledger_scan(0, e, ARRAY_SIZE(e));
}

/* Wait for one byte on fd (a step of another process). */
static void await(int fd)
{
	char c;
	assert_int_equal(read(fd, &c, 1), 1);
}

static void signal_step(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(90);
}

/* Two runs overlapping the way issue 15 found them leak: A grows the pool,
 * B grows it further while A's pages are still there, A ends first, then B.
 * Each gives back exactly its own pages: the pool ends as it began. */
static void test_fake_overlapping_runs_compose(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	int a_go[2], b_go[2], done[2];
	assert_int_equal(pipe(a_go), 0);
	assert_int_equal(pipe(b_go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		if (hugepool_reserve(2 * MB, 2, NULL) != 0)
			_exit(10);
		signal_step(done[1]);
		await(a_go[0]);
		exit(0); /* atexit gives the pages back */
	}
	await(done[0]);
	assert_int_equal(get_nr(), 2);
	pid_t b = fork();
	assert_true(b >= 0);
	if (b == 0) {
		/* A's two pages are free but A's: B adds its own three. */
		if (hugepool_reserve(2 * MB, 3, NULL) != 0)
			_exit(10);
		signal_step(done[1]);
		await(b_go[0]);
		exit(0);
	}
	await(done[0]);
	assert_int_equal(get_nr(), 5);
	assert_int_equal(records(), 2);
	int status;
	signal_step(a_go[1]);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(get_nr(), 3);
	signal_step(b_go[1]);
	assert_int_equal(waitpid(b, &status, 0), b);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(get_nr(), 0);
	assert_int_equal(records(), 0);
	for (int i = 0; i < 2; i++) {
		close(a_go[i]);
		close(b_go[i]);
		close(done[i]);
	}
	drop_fake();
}

/* A run killed outright leaves its record; it is reported as gone and
 * cleanup gives its pages back, once. */
static void test_fake_killed_run_cleanup(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (hugepool_reserve(2 * MB, 3, NULL) != 0)
			_exit(10);
		raise(SIGKILL);
		_exit(11);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(get_nr(), 3);
	struct ledger_entry e[4];
	assert_int_equal(hugepool_left_behind(2 * MB, e, 4), 1);
	assert_int_equal(e[0].pid, pid);
	assert_int_equal(e[0].pages, 3);
	assert_false(e[0].alive);

	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	nb_error err;
	assert_int_equal(hugepool_cleanup(out, &err), 0);
	assert_int_equal(hugepool_cleanup(out, &err), 0);
	fclose(out);
	assert_non_null(strstr(text, "gave back 3 2M hugetlb pages"));
	assert_non_null(strstr(text, "nothing to give back"));
	free(text);
	assert_int_equal(get_nr(), 0);
	assert_int_equal(hugepool_left_behind(2 * MB, e, 4), 0);
	drop_fake();
}

/* A record whose pid now belongs to another process (recycled) is gone. */
static void test_ledger_recycled_pid(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	assert_true(ledger_open(NULL) >= 0);
	assert_int_equal(ledger_write(getpid(), ledger_proc_start(getpid()) + 1, 2048, 4, NULL), 0);
	struct ledger_entry e[4];
	assert_int_equal(ledger_scan(2048, e, 4), 1);
	assert_false(e[0].alive);
	assert_int_equal(ledger_write(getpid(), ledger_proc_start(getpid()), 2048, 4, NULL), 0);
	assert_int_equal(ledger_scan(2048, e, 4), 1);
	assert_true(e[0].alive);
	assert_int_equal(ledger_scan(1048576, e, 4), 0);
	assert_int_equal(ledger_write(getpid(), 0, 2048, 0, NULL), 0);
	assert_int_equal(ledger_scan(0, e, 4), 0);
	drop_fake();
}

static volatile sig_atomic_t own_handler_ran;
static void own_handler(int sig)
{
	(void)sig;
	own_handler_ran = 1;
}

/* Runs first, in a child, before this process installs anything:
 * an ignored SIGHUP stays ignored, a handler installed earlier is called
 * after the pools are restored and the process survives. */
static void test_signal_dispositions_kept(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, own_handler);
		if (hugepool_reserve(2 * MB, 2, NULL) != 0)
			_exit(10);
		struct sigaction cur;
		sigaction(SIGHUP, NULL, &cur);
		if (cur.sa_handler != SIG_IGN)
			_exit(11);
		if (get_nr() != 2)
			_exit(12);
		raise(SIGTERM);
		if (!own_handler_ran)
			_exit(13);
		_exit(get_nr() == 0 ? 0 : 14);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(get_nr(), 0);
	drop_fake();
}

static void test_read_real(void **state)
{
	(void)state;
	struct hugepool_state st;
	if (hugepool_read(2 * MB, &st) == 0) {
		assert_true(st.present);
		assert_int_equal(st.page_bytes, 2 * MB);
		assert_true(st.total >= 0 && st.free >= 0 && st.free <= st.total + st.surplus);
	}
	assert_int_equal(hugepool_read(3 * MB, &st), -1);
	assert_false(st.present);

	json_t *j = hugepool_json();
	assert_non_null(j);
	const char *keys[] = {"2M", "1G"};
	for (size_t i = 0; i < 2; i++) {
		json_t *p = json_object_get(j, keys[i]);
		assert_non_null(p);
		if (!json_is_null(p)) {
			assert_true(json_is_integer(json_object_get(p, "total")));
			assert_true(json_is_integer(json_object_get(p, "free")));
		}
	}
	json_decref(j);
}

static void test_fake_enough_free(void **state)
{
	(void)state;
	make_fake(0, "3", "3");
	nb_error err;
	assert_int_equal(hugepool_reserve(2 * MB, 3, &err), 0);
	assert_int_equal(get_nr(), 3); /* nothing written */
	assert_int_equal(backing_usable(BACKING_HUGETLB_2M, 6 * MB, &err), 0);
	drop_fake();
}

/* The kernel accepts the write but provides nothing: a skip with the
 * counts, and the pool is put back at once. */
static void test_fake_kernel_provides_less(void **state)
{
	(void)state;
	make_fake(0, "1", "1");
	nb_error err;
	assert_int_equal(hugepool_reserve(2 * MB, 3, &err), 1);
	if (!strstr(err.msg, "could only provide 1 of 3"))
		fail_msg("unexpected reason: %s", err.msg);
	assert_int_equal(get_nr(), 1);
	drop_fake();
}

static void test_fake_missing_pool(void **state)
{
	(void)state;
	make_fake(0, "0", "0");
	nb_error err;
	assert_int_equal(hugepool_reserve((size_t)1 << 30, 1, &err), 1);
	assert_non_null(strstr(err.msg, "no 1G hugetlb pool"));
	assert_int_equal(backing_usable(BACKING_HUGETLB_1G, 1, &err), 1);
	assert_non_null(strstr(err.msg, "no 1G hugetlb pool"));
	json_t *j = hugepool_json();
	assert_true(json_is_null(json_object_get(j, "1G")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "2M"), "total")), 0);
	json_decref(j);
	drop_fake();
}

/* Growth that works, restore (twice), and a forked child that exits
 * normally must not restore the parent's pool through the inherited atexit. */
static void test_fake_grow_restore_fork(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	nb_error err;
	assert_int_equal(hugepool_reserve(2 * MB, 2, &err), 0);
	assert_int_equal(get_nr(), 2);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		exit(0); /* runs atexit handlers */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(get_nr(), 2);
	hugepool_restore_all();
	assert_int_equal(get_nr(), 0);
	hugepool_restore_all();
	assert_int_equal(get_nr(), 0);
	drop_fake();
}

/* A child that grew the pool and dies of SIGINT leaves it as it was. */
static void check_sigint_child(size_t extra)
{
	long original = get_nr();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hugepool_state st;
		if (hugepool_read(2 * MB, &st) != 0)
			_exit(77);
		size_t need = (size_t)(st.free - st.resv) + extra;
		if (hugepool_reserve(2 * MB, need, NULL) != 0)
			_exit(77);
		if (get_nr() <= original)
			_exit(3);
		raise(SIGINT);
		_exit(4);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		print_message("skipped: the kernel could not grow the pool\n");
		skip();
	}
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGINT);
	assert_int_equal(get_nr(), original);
}

static void test_fake_sigint(void **state)
{
	(void)state;
	make_fake(1, NULL, "0");
	check_sigint_child(3);
	drop_fake();
}

static void test_real_sigint(void **state)
{
	(void)state;
	struct hugepool_state st;
	if (geteuid() != 0 || hugepool_read(2 * MB, &st) != 0) {
		print_message("skipped: needs root and a 2M hugetlb pool\n");
		skip();
	}
	check_sigint_child(4);
}

static void test_real_reserve_restore(void **state)
{
	(void)state;
	struct hugepool_state before, during;
	if (geteuid() != 0 || hugepool_read(2 * MB, &before) != 0) {
		print_message("skipped: needs root and a 2M hugetlb pool\n");
		skip();
	}
	nb_error err;
	size_t need = (size_t)(before.free - before.resv) + 4;
	int rc = hugepool_reserve(2 * MB, need, &err);
	if (rc == 1) {
		print_message("skipped: %s\n", err.msg);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(hugepool_read(2 * MB, &during), 0);
	assert_true(during.total >= before.total + 4);
	assert_true((size_t)(during.free - during.resv) >= need);
	hugepool_restore_all();
	assert_int_equal(get_nr(), before.total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_dispositions_kept), /* must stay first */
		cmocka_unit_test(test_read_real),
		cmocka_unit_test(test_fake_enough_free),
		cmocka_unit_test(test_fake_kernel_provides_less),
		cmocka_unit_test(test_fake_missing_pool),
		cmocka_unit_test(test_fake_grow_restore_fork),
		cmocka_unit_test(test_fake_sigint),
		cmocka_unit_test(test_fake_overlapping_runs_compose),
		cmocka_unit_test(test_fake_killed_run_cleanup),
		cmocka_unit_test(test_ledger_recycled_pid),
		cmocka_unit_test(test_real_sigint),
		cmocka_unit_test(test_real_reserve_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

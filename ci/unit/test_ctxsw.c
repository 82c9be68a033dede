/* test_ctxsw.c - context-switch kernels at smoke size: two context switches
 * per round trip on one PU (counted across both sides), no migrations while
 * pinned, partners reaped, the placement recorded; and childguard itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/childguard.h"
#include "harness/mem/hugepool.h"
#include "ci/unit/kernel_run.h"

#define KB ((size_t)1 << 10)

static void skip_because(const char *why)
{
	print_message("skipped: %s\n", why);
	skip();
}

static void assert_no_children(void)
{
	assert_int_equal(childguard_count(), 0);
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void run_ok(const char *name, enum backing_kind b, size_t ws, enum kernel_placement p, struct krun *r)
{
	struct kernel_options o = {.threads = 1, .placement = p};
	krun(name, b, ws, &o, 200, 3, r);
	if (r->rc == 1) {
		char why[600];
		snprintf(why, sizeof(why), "%s: %s", name, r->err.msg);
		krun_free(r);
		skip_because(why);
	}
	if (r->rc)
		fail_msg("%s: %s", name, r->err.msg);
	if (r->counts[SWC_CONTEXT_SWITCHES] == UINT64_MAX) {
		krun_free(r);
		skip_because("software counters unavailable");
	}
}

/* Same PU: each round trip switches out each side once. */
static void check_same_pu(const char *name, size_t ws)
{
	struct krun r;
	run_ok(name, BACKING_4K, ws, KERNEL_SAME_PU, &r);
	assert_string_equal(json_string_value(json_object_get(r.params, "placement")), "same-pu");
	json_t *pus = json_object_get(r.params, "pus");
	assert_int_equal(json_integer_value(json_array_get(pus, 0)), json_integer_value(json_array_get(pus, 1)));
	assert_true(r.counts[SWC_CONTEXT_SWITCHES] >= 2 * r.ops);
	assert_int_equal(r.counts[SWC_CPU_MIGRATIONS], 0);
	assert_false(krun_flagged(&r, "contradict"));
	assert_true(json_is_boolean(json_object_get(r.params, "pcid")));
	assert_non_null(json_object_get(r.params, "page_table_isolation"));
	if (ws == 0)
		assert_string_equal(json_string_value(json_object_get(r.backing, "requested")), "none");
	else
		assert_int_equal(json_integer_value(json_object_get(r.backing, "verified_page_bytes")), 4096);
	krun_free(&r);
	assert_no_children();
}

static void test_pipe_proc_same(void **state)
{
	(void)state;
	check_same_pu("pipe-proc", 0);
	check_same_pu("pipe-proc", 64 * KB);
}

static void test_pipe_thread_same(void **state)
{
	(void)state;
	check_same_pu("pipe-thread", 0);
	check_same_pu("pipe-thread", 64 * KB);
}

static void test_yield(void **state)
{
	(void)state;
	check_same_pu("yield", 0);
	check_same_pu("yield", 64 * KB);
}

/* Cross PU: two distinct PUs recorded, still pinned (no migrations). */
static void test_cross_pu(void **state)
{
	(void)state;
	if (topology_init(NULL) || topology_pu_count() < 2)
		skip_because("one PU: nothing to cross to");
	const char *names[] = {"pipe-proc", "pipe-thread"};
	for (int i = 0; i < 2; i++) {
		struct krun r;
		run_ok(names[i], BACKING_4K, 0, KERNEL_CROSS_PU, &r);
		json_t *pus = json_object_get(r.params, "pus");
		assert_int_not_equal(json_integer_value(json_array_get(pus, 0)),
				     json_integer_value(json_array_get(pus, 1)));
		assert_string_equal(json_string_value(json_object_get(r.params, "placement")), "cross-pu");
		assert_int_equal(r.counts[SWC_CPU_MIGRATIONS], 0);
		krun_free(&r);
		assert_no_children();
	}
}

/* Size 0 under a huge-page backing is measured under 4k only. */
static void test_skip_ws0(void **state)
{
	(void)state;
	struct krun r;
	struct kernel_options o = {.threads = 1};
	assert_int_equal(krun("pipe-proc", BACKING_THP, 0, &o, 1, 1, &r), 1);
	assert_non_null(strstr(r.err.msg, "4k"));
	krun_free(&r);
	assert_no_children();
}

/* childguard: a hung child is killed at the deadline, never waited for forever. */
static void test_wait_timeout(void **state)
{
	(void)state;
	nb_error err;
	pid_t pid = childguard_fork(&err);
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(childguard_count(), 1);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	watchdog_arm(0.5);
	int status;
	assert_int_equal(childguard_wait(pid, &status, &err), -1);
	watchdog_disarm();
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_non_null(strstr(err.msg, "did not finish"));
	assert_true(b.tv_sec - a.tv_sec < 20); /* bounded, not a timing claim */
	assert_no_children();
}

/* childguard: a normal child is reaped with its status. */
static void test_wait_status(void **state)
{
	(void)state;
	nb_error err;
	pid_t pid = childguard_fork(&err);
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(7);
	int status;
	assert_int_equal(childguard_wait(pid, &status, &err), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_no_children();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_proc_same),
		cmocka_unit_test(test_pipe_thread_same),
		cmocka_unit_test(test_yield),
		cmocka_unit_test(test_cross_pu),
		cmocka_unit_test(test_skip_ws0),
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test(test_wait_status),
	};
	hugepool_install_cleanup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ctxsw.c - context-switch kernels at smoke size: two context switches
 * per round trip on one PU (counted across both sides), no migrations while
 * pinned, partners reaped, the placement recorded; and childguard itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdatomic.h>

#include "core/childguard.h"
#include "harness/mem/hugepool.h"
#include "ci/unit/kernel_run.h"
#include "ci/unit/components_check.h"
#include "bench/kutil.h"

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
	/* Per switch: the round trip minus the same calls without a switch,
	 * halved; kept for the warm-up and the 3 samples at 200 iterations. */
	assert_components(r.params, "roundtrip", "calls_without_switch", 0.5, "ns_per_switch", 4, 200);
	json_t *h = json_object_get(r.params, "handoff");
	assert_true(json_is_true(json_object_get(h, "context_switch")));
	assert_true(json_is_false(json_object_get(h, "wakeup_ipi")));
	assert_true(json_is_boolean(json_object_get(h, "address_space_switch")));
	assert_int_equal(json_is_true(json_object_get(h, "address_space_switch")), !strcmp(name, "pipe-proc"));
	/* Two switches per round trip, proved with the kernel counted (root). */
	json_t *proof = json_object_get(r.params, "counter_proof");
	assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 0), "event")), "context_switches");
	if (swcount_kernel_allowed(NULL, 0))
		assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 0), "verdict")), "holds");
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
		/* Labelled for what it is: a wake-up IPI and an idle exit, per hand-off. */
		assert_components(r.params, "roundtrip", "calls_without_switch", 0.5, "ns_per_handoff", 4, 200);
		json_t *h = json_object_get(r.params, "handoff");
		assert_string_equal(json_string_value(json_object_get(h, "kind")), "cross-pu wake-up");
		assert_true(json_is_false(json_object_get(h, "address_space_switch")));
		assert_true(json_is_false(json_object_get(h, "context_switch")));
		assert_true(json_is_true(json_object_get(h, "wakeup_ipi")));
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

static void *spin_yield(void *arg)
{
	atomic_int *stop = arg;
	while (!atomic_load(stop))
		sched_yield();
	return NULL;
}

/* Counted in user mode only (what perf_event_paranoid >= 2 leaves an
 * unprivileged process), context switches and migrations are blind: read
 * as unavailable, never as a 0 that passes for proof, and the claim says
 * it cannot prove anything; user-mode page faults still count. */
static void test_user_only(void **state)
{
	(void)state;
	nb_error err;
	struct swcount sw;
	if (swcount_open_user_only(&sw, 0, 1, &err))
		skip_because(err.msg);
	assert_true(sw.user_only[SWC_CONTEXT_SWITCHES] || sw.fd[SWC_CONTEXT_SWITCHES] < 0);
	/* Some real switches: a yielding partner on this PU. */
	if (topology_init(&err) || topology_pin_self(topology_default_measure_pu(), &err))
		fail_msg("%s", err.msg);
	atomic_int stop = 0;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, spin_yield, &stop), 0);
	swcount_reset(&sw);
	swcount_start(&sw);
	char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	pg[0] = 1; /* one user-mode fault */
	for (int i = 0; i < 100; i++)
		sched_yield();
	swcount_stop(&sw);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	topology_restore_affinity();
	munmap(pg, 4096);
	uint64_t counts[SWC_COUNT];
	swcount_read(&sw, counts);
	assert_true(counts[SWC_CONTEXT_SWITCHES] == UINT64_MAX);
	assert_true(counts[SWC_CPU_MIGRATIONS] == UINT64_MAX);
	if (sw.fd[SWC_PAGE_FAULTS] >= 0)
		assert_true(counts[SWC_PAGE_FAULTS] >= 1 && counts[SWC_PAGE_FAULTS] != UINT64_MAX);
	/* The premise, where the raw count can be read: zero despite the switches. */
	uint64_t raw;
	if (sw.fd[SWC_CONTEXT_SWITCHES] >= 0 &&
	    read(sw.fd[SWC_CONTEXT_SWITCHES], &raw, sizeof(raw)) == (ssize_t)sizeof(raw))
		assert_true(raw == 0);
	json_t *j = swcount_json(&sw, counts);
	assert_true(json_is_false(json_object_get(j, "includes_kernel")));
	assert_true(json_is_null(json_object_get(j, "context_switches")));
	assert_true(json_is_null(json_object_get(j, "cpu_migrations")));
	json_decref(j);
	struct kernel_ctx ctx = {.params = json_object(), .flags = json_array()};
	ku_claim_mode(&ctx, counts, SWC_CONTEXT_SWITCHES, 50, 2, 3, "two context switches per round trip on one PU", 0);
	json_t *e = json_array_get(json_object_get(ctx.params, "counter_proof"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "verdict")), "cannot prove");
	assert_true(json_is_false(json_object_get(e, "kernel_included")));
	assert_non_null(json_object_get(e, "perf_event_paranoid"));
	assert_int_equal(json_array_size(ctx.flags), 0);
	json_decref(ctx.params);
	json_decref(ctx.flags);
	swcount_close(&sw);
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
		cmocka_unit_test(test_user_only),
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test(test_wait_status),
	};
	hugepool_install_cleanup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

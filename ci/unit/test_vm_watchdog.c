/* Unit tests: the vCPU watchdog.  A timer that fires just after a command
 * finished must not leave immediate_exit set for the next command, a late
 * signal of an earlier arming must not count, and a kick (pthread_kill)
 * interrupts without counting as the watchdog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "harness/vmm/vm_watchdog.h"

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t))
		;
}

/* Queue our timer's kind of signal by hand, with a chosen generation: what
 * a late delivery looks like.  (sigqueue's si_code is SI_QUEUE, so it also
 * proves that only SI_TIMER counts; the generation check is exercised by
 * the real timer below.) */
static void late_signal(uint32_t gen)
{
	union sigval v = {.sival_int = (int)gen};
	assert_int_equal(pthread_sigqueue(pthread_self(), vm_watchdog_signal(), v), 0);
}

/* This thread's immediate_exit stand-in, the handler installed. */
static void bind_fresh(volatile uint8_t *flag)
{
	nb_error err;
	assert_int_equal(vm_watchdog_install(&err), 0);
	vm_watchdog_bind(flag);
}

static void fires_and_sets_immediate_exit(void **state)
{
	(void)state;
	volatile uint8_t flag = 0;
	nb_error err;
	struct vm_watchdog w = {0};
	bind_fresh(&flag);
	assert_int_equal(vm_watchdog_arm(&w, 0.001, &err), 0);
	assert_int_not_equal(vm_watchdog_generation(), 0);
	for (int i = 0; i < 2000 && !vm_watchdog_fired(); i++)
		nap_ms(1);
	assert_true(vm_watchdog_fired());
	assert_int_equal(flag, 1);
	vm_watchdog_disarm(&w);
	assert_int_equal(flag, 0);
	assert_int_equal(vm_watchdog_generation(), 0);
	vm_watchdog_bind(NULL);
}

/* The race of the issue: the timer fires after the command is done (here:
 * it fires while we sleep, armed but past its command), then the next
 * command arms again: it must start with immediate_exit clear and not fired. */
static void a_late_timer_does_not_leak_into_the_next_command(void **state)
{
	(void)state;
	volatile uint8_t flag = 0;
	nb_error err;
	struct vm_watchdog w = {0};
	bind_fresh(&flag);
	assert_int_equal(vm_watchdog_arm(&w, 0.001, &err), 0);
	uint32_t old = vm_watchdog_generation();
	nap_ms(150); /* fires, and re-fires every 100 ms */
	vm_watchdog_disarm(&w);
	/* Next command. */
	assert_int_equal(vm_watchdog_arm(&w, 30, &err), 0);
	assert_int_equal(flag, 0);
	assert_false(vm_watchdog_fired());
	assert_int_not_equal(vm_watchdog_generation(), old);
	late_signal(old);
	late_signal(vm_watchdog_generation()); /* right generation, but not from a timer */
	assert_int_equal(flag, 0);
	assert_false(vm_watchdog_fired());
	vm_watchdog_disarm(&w);
	/* Disarmed: nothing counts. */
	late_signal(old);
	assert_int_equal(flag, 0);
	vm_watchdog_bind(NULL);
}

static void a_kick_is_not_a_timeout(void **state)
{
	(void)state;
	volatile uint8_t flag = 0;
	nb_error err;
	struct vm_watchdog w = {0};
	bind_fresh(&flag);
	assert_int_equal(vm_watchdog_arm(&w, 30, &err), 0);
	assert_int_equal(pthread_kill(pthread_self(), vm_watchdog_signal()), 0);
	assert_false(vm_watchdog_fired());
	assert_int_equal(flag, 0);
	vm_watchdog_disarm(&w);
	vm_watchdog_bind(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fires_and_sets_immediate_exit),
		cmocka_unit_test(a_late_timer_does_not_leak_into_the_next_command),
		cmocka_unit_test(a_kick_is_not_a_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

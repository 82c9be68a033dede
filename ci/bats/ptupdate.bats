#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $stderr (run --separate-stderr)
# Page-table-update and context-switch kernels through `nestbench run`:
# schema-valid results, the software-counter proofs, bad input, and no
# orphans when a run is interrupted.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	OUT="$BATS_TEST_TMPDIR/r.json"
}


pus() {
	nproc
}

@test "run --help documents --size, --threads, --placement, --cow-pages" {
	run "$NB" run --help
	assert_success
	assert_output --partial '--size SIZE'
	assert_output --partial '--threads N'
	assert_output --partial '--placement P'
	assert_output --partial '--cow-pages N'
}

@test "list shows the ptupdate and ctxsw kernels with their metrics" {
	run "$NB" list kernels
	assert_success
	for k in fault mmap-munmap mprotect madvise-dontneed fork fork-cow shootdown pipe-proc pipe-thread yield; do
		assert_output --regexp "  $k +(ptupdate|ctxsw) "
	done
	assert_output --partial 'ns_per_roundtrip'
	assert_output --partial 'ns_per_fault'
}

@test "ptupdate kernels: schema-valid, one fault per page, none for mprotect" {
	run "$NB" run -k fault,mmap-munmap,mprotect,madvise-dontneed,fork,fork-cow -b 4k --size 2m \
		--samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[] | select(.skipped == null)] | length == 6' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fault") | .counters.page_faults == .counters.ops_counted' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fault") | .alt_metrics.ns_per_mib.median > 0' "$OUT"
	jq -e '.measurements[] | select(.kernel == "mmap-munmap" or .kernel == "madvise-dontneed")
		| .counters.page_faults >= 512 * .counters.ops_counted' "$OUT"
	jq -e '.measurements[] | select(.kernel == "mprotect") | .counters.page_faults <= 16' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fork-cow")
		| .counters.includes_children and .counters.page_faults >= .counters.ops_counted' "$OUT"
	jq -e '[.measurements[] | .flags[] | select(test("contradict|migrations"))] | length == 0' "$OUT"
	jq -e '.measurements[] | .backing.verified_page_bytes == 4096' "$OUT"
}

@test "ctxsw kernels: two switches per round trip on one PU, placement recorded" {
	run "$NB" run -k pipe-proc,pipe-thread,yield -b 4k --size 0,16k --placement same-pu \
		--samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[] | select(.skipped == null)] | length == 6' "$OUT"
	jq -e 'all(.measurements[]; .metric == "ns_per_roundtrip" and .params.placement == "same-pu"
		and .counters.context_switches >= 2 * .counters.ops_counted
		and .counters.cpu_migrations == 0
		and .alt_metrics.ns_per_switch.median > 0
		and (.params.pcid | type == "boolean") and has("params") and (.params | has("page_table_isolation")))' "$OUT"
	jq -e '[.measurements[] | select(.working_set_bytes == 0) | .backing.requested] | all(. == "none")' "$OUT"
}

@test "ctxsw cross-pu runs the partner on another PU" {
	[ "$(pus)" -ge 2 ] || skip "one PU"
	run "$NB" run -k pipe-proc -b 4k --size 0 --placement cross-pu --samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	jq -e '.measurements[0].params.pus | length == 2 and .[0] != .[1]' "$OUT"
	jq -e '.measurements[0].counters.cpu_migrations == 0' "$OUT"
}

@test "shootdown measures each thread count on distinct PUs" {
	[ "$(pus)" -ge 2 ] || skip "one PU"
	run "$NB" run -k shootdown -b 4k --threads 1,2 --samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[].params.threads] == [1, 2]' "$OUT"
	jq -e '.measurements[1].params.pus | length == 2 and .[0] != .[1]' "$OUT"
	jq -e 'all(.measurements[]; .counters.page_faults <= 16 and .counters.includes_children)' "$OUT"
}

@test "more threads than PUs is a usage error, not a hang" {
	run --separate-stderr "$NB" run -k shootdown -b 4k --threads 4096 -q -o "$OUT"
	assert_failure 2
	[[ "$stderr" == *"PUs only"* ]]
	[ ! -e "$OUT" ]
}

@test "bad --placement, --threads and --size are usage errors" {
	run --separate-stderr "$NB" run -k pipe-proc --placement sideways -o "$OUT"
	assert_failure 2
	[[ "$stderr" == *"same-pu, cross-pu"* ]]
	run --separate-stderr "$NB" run -k shootdown --threads 0 -o "$OUT"
	assert_failure 2
	run --separate-stderr "$NB" run -k fault --size 2q -o "$OUT"
	assert_failure 2
	run --separate-stderr "$NB" run -k fault --size 1000t -o "$OUT"
	assert_failure 1
	[[ "$stderr" == *"does not fit"* ]]
}

@test "a size that is not whole pages of the backing is skipped with the reason" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to grow the 2M pool"
	[ -e /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages ] || skip "no 2M pool"
	before=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
	run "$NB" run -k fault,shootdown -b hugetlb-2m --size 4k --threads 1 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e 'all(.measurements[]; .skipped | test("whole number of 2M pages"))' "$OUT"
	[ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)" = "$before" ]
}

# Start a long run in the background, wait for its first child, SIGINT the
# run and check that the child went with it.  Background jobs of a
# non-interactive shell start with SIGINT ignored: env gives it back its
# default, as a terminal's Ctrl-C would find it.
interrupt_leaves_no_orphans() {
	env --default-signal=INT "$NB" run "$@" --samples 10000 --sample-ms 50 -q -o "$OUT" 3>&- &
	local pid=$! child=""
	for _ in $(seq 1 100); do
		child=$(pgrep -P "$pid" | head -n1 || true)
		[ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ] || { kill -KILL "$pid"; fail "no child process appeared"; }
	sleep 0.3
	kill -INT "$pid"
	local status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || fail "the run ended with status $status, not by SIGINT"
	# Reaped by the run's handler before it died: not even a zombie is left.
	[ ! -e "/proc/$child" ] || fail "child $child outlived the run: $(head -3 "/proc/$child/status")"
	[ -z "$(pgrep -P "$pid" || true)" ]
	[ ! -e "$OUT" ]
}

@test "SIGINT during pipe-proc leaves no partner process behind" {
	interrupt_leaves_no_orphans -k pipe-proc -b 4k --size 0 --placement same-pu
}

@test "SIGINT during fork-cow leaves no child behind" {
	interrupt_leaves_no_orphans -k fork-cow -b 4k --size 64m
}

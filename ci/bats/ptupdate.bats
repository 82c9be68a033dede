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
	run "$NB" run --mode native -k fault,mmap-munmap,mprotect,madvise-dontneed,fork,fork-cow -b 4k --size 2m \
		--samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[] | select(.skipped == null)] | length == 6' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fault") | .counters.page_faults == .counters.ops_counted' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fault") | .alt_metrics.ns_per_mib.median > 0' "$OUT"
	# fault: first touch minus rewrite, zeroing and the fault path apart, each page faulted once
	jq -e '.measurements[] | select(.kernel == "fault") | .params as $p | $p.components as $c
		| ($c.parts | has("first_touch") and has("rewrite") and has("zeroing") and has("fault_path"))
		and ($c.net.value - ($c.parts.first_touch.ns_per_op - $c.parts.rewrite.ns_per_op) | fabs)
			<= 1e-6 * ($c.parts.first_touch.ns_per_op + $c.parts.rewrite.ns_per_op)
		and $c.net.unit == "ns_per_fault"
		and $p.phase_faults.first_touch_faults == $p.phase_faults.pages
		and $p.phase_faults.after_faults == 0' "$OUT"
	# fork: the region's share = fork minus the empty-region fork
	jq -e '.measurements[] | select(.kernel == "fork") | .params.components as $c
		| ($c.net.value - ($c.parts.fork.ns_per_op - $c.parts.fork_without_region.ns_per_op) | fabs)
			<= 1e-6 * ($c.parts.fork.ns_per_op + $c.parts.fork_without_region.ns_per_op)' "$OUT"
	# fork-cow on 4K: one 4K page copied per fault, counted in the child
	jq -e '.measurements[] | select(.kernel == "fork-cow") | .params.cow_copy
		| .copied_bytes_per_fault == 4096 and .timed_faults_per_fault == 1' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fork-cow") | .alt_metrics.ns_per_mib_copied.median > 0' "$OUT"
	jq -e 'all(.measurements[]; .counters.includes_kernel == true and .counters.cpu_migrations == 0)' "$OUT"
	jq -e '.measurements[] | select(.kernel == "mmap-munmap" or .kernel == "madvise-dontneed")
		| .counters.page_faults >= 512 * .counters.ops_counted' "$OUT"
	jq -e '.measurements[] | select(.kernel == "mprotect") | .counters.page_faults <= 16' "$OUT"
	jq -e '.measurements[] | select(.kernel == "fork-cow")
		| .counters.includes_children and .counters.page_faults >= .counters.ops_counted' "$OUT"
	jq -e '[.measurements[] | .flags[] | select(test("contradict|migrations"))] | length == 0' "$OUT"
	jq -e '.measurements[] | .backing.verified_page_bytes == 4096' "$OUT"
}

@test "ctxsw kernels: two switches per round trip on one PU, placement recorded" {
	run "$NB" run --mode native -k pipe-proc,pipe-thread,yield -b 4k --size 0,16k --placement same-pu \
		--samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[] | select(.skipped == null)] | length == 6' "$OUT"
	jq -e 'all(.measurements[]; .metric == "ns_per_roundtrip" and .params.placement == "same-pu"
		and .counters.context_switches >= 2 * .counters.ops_counted
		and .counters.cpu_migrations == 0
		and (.params.pcid | type == "boolean") and has("params") and (.params | has("page_table_isolation")))' "$OUT"
	# per switch: the round trip minus the same calls without a switch, halved
	jq -e 'all(.measurements[]; .params.components as $c | $c.net.unit == "ns_per_switch"
		and ($c.net.value - ($c.parts.roundtrip.ns_per_op - $c.parts.calls_without_switch.ns_per_op) / 2 | fabs)
			<= 1e-6 * ($c.parts.roundtrip.ns_per_op + $c.parts.calls_without_switch.ns_per_op)
		and .params.handoff.context_switch and (.params.handoff.wakeup_ipi | not))' "$OUT"
	jq -e '[.measurements[] | select(.kernel == "pipe-proc") | .params.handoff.address_space_switch] | all' "$OUT"
	jq -e '[.measurements[] | select(.kernel != "pipe-proc") | .params.handoff.address_space_switch] | any | not' "$OUT"
	jq -e '[.measurements[] | select(.working_set_bytes == 0) | .backing.requested] | all(. == "none")' "$OUT"
}

@test "ctxsw cross-pu runs the partner on another PU" {
	[ "$(pus)" -ge 2 ] || skip "one PU"
	run "$NB" run --mode native -k pipe-proc -b 4k --size 0 --placement cross-pu --samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	jq -e '.measurements[0].params.pus | length == 2 and .[0] != .[1]' "$OUT"
	jq -e '.measurements[0].counters.cpu_migrations == 0' "$OUT"
	# labelled for what it is: a wake-up IPI and an idle exit per hand-off, no switch
	jq -e '.measurements[0].params | .handoff.kind == "cross-pu wake-up" and .handoff.wakeup_ipi
		and (.handoff.address_space_switch | not) and .components.net.unit == "ns_per_handoff"' "$OUT"
}

@test "shootdown measures each thread count on distinct PUs" {
	[ "$(pus)" -ge 2 ] || skip "one PU"
	run "$NB" run --mode native -k shootdown -b 4k --threads 1,2 --samples 3 --warmup 0 --sample-ms 2 -q -o "$OUT"
	assert_success
	run validate_schema "$OUT"
	assert_success
	jq -e '[.measurements[].params.threads] == [1, 2]' "$OUT"
	jq -e '.measurements[1].params.pus | length == 2 and .[0] != .[1]' "$OUT"
	jq -e 'all(.measurements[]; .counters.page_faults <= 16 and .counters.includes_children)' "$OUT"
	# the IPI share: T minus the same pairs in a one-PU helper process (T=1), measured in each sample
	jq -e 'all(.measurements[]; .params.components as $c | $c.net.name == "ipi"
		and ($c.net.value - ($c.parts.mprotect_pair.ns_per_op - $c.parts.mprotect_pair_alone.ns_per_op) | fabs)
			<= 1e-6 * ($c.parts.mprotect_pair.ns_per_op + $c.parts.mprotect_pair_alone.ns_per_op))' "$OUT"
}

@test "unprivileged: the counters say they exclude the kernel and the switch proof cannot prove" {
	is_root || skip "needs root to drop to an unprivileged user"
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(cat /proc/sys/kernel/perf_event_paranoid)" -ge 2 ] || skip "perf_event_paranoid < 2: user counting includes the kernel"
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$NB" || skip "the build is not reachable by nobody"
	# Bats' own temporary tree may not be reachable by nobody: a directory of its own.
	local out
	out=$(mktemp -d)
	chmod 777 "$out"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$NB" run --mode native -k yield,fault -b 4k --size 64k \
		--samples 3 --warmup 0 --sample-ms 2 -q -o "$out/r.json"
	assert_success
	run validate_schema "$out/r.json"
	assert_success
	jq -e 'all(.measurements[] | select(.skipped == null); .counters.includes_kernel == false
		and .counters.context_switches == null and .counters.cpu_migrations == null)' "$out/r.json"
	jq -e '.measurements[] | select(.kernel == "yield") | .params.counter_proof[]
		| select(.event == "context_switches") | .verdict == "cannot prove" and .kernel_included == false
		and (.why | test("kernel included: false, cannot prove")) and .perf_event_paranoid >= 2' "$out/r.json"
	jq -e '[.measurements[] | .flags[] | select(test("contradict"))] | length == 0' "$out/r.json"
	jq -e '[.measurements[] | select(.skipped == null)] | length == 2' "$out/r.json"
	rm -rf "$out"
}

@test "more threads than PUs is a usage error, not a hang" {
	run --separate-stderr "$NB" run --mode native -k shootdown -b 4k --threads 4096 -q -o "$OUT"
	assert_failure 2
	[[ "$stderr" == *"PUs only"* ]]
	[ ! -e "$OUT" ]
}

@test "bad --placement, --threads and --size are usage errors" {
	run --separate-stderr "$NB" run --mode native -k pipe-proc --placement sideways -o "$OUT"
	assert_failure 2
	[[ "$stderr" == *"same-pu, cross-pu"* ]]
	run --separate-stderr "$NB" run --mode native -k shootdown --threads 0 -o "$OUT"
	assert_failure 2
	run --separate-stderr "$NB" run --mode native -k fault --size 2q -o "$OUT"
	assert_failure 2
	run --separate-stderr "$NB" run --mode native -k fault --size 1000t -o "$OUT"
	assert_failure 1
	[[ "$stderr" == *"does not fit"* ]]
}

@test "a size that is not whole pages of the backing is skipped with the reason" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to grow the 2M pool"
	[ -e /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages ] || skip "no 2M pool"
	before=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
	run "$NB" run --mode native -k fault,shootdown -b hugetlb-2m --size 4k --threads 1 -q -o "$OUT"
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
	env --default-signal=INT "$NB" run --mode native "$@" --samples 10000 --sample-ms 50 -q -o "$OUT" 3>&- &
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

@test "SIGINT during shootdown leaves no T=1 helper process behind" {
	interrupt_leaves_no_orphans -k shootdown -b 4k --threads 1
}

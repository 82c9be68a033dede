#!/usr/bin/env bats
# Hugepage pools are machine-wide: concurrent runs compose (each gives back
# exactly what it added), a run killed outright is named by `info`, and
# `nestbench cleanup` gives its pages back.  Other worktrees may use the pools
# at the same time: every check is against the baseline observed here.

load helpers

LEDGER=/run/nestbench

# A run that grows the 2M pool and holds it for about two seconds.
pool_run() {
	"$NB" run --mode native --suite smoke --kernel chase --backing hugetlb-2m --ws-min 2m --ws-max 64m \
		--samples "${2:-50}" --sample-ms 5 --no-pmu --quiet --out "$1"
}

@test "cleanup --help says what it does" {
	run "$NB" cleanup --help
	assert_success
	assert_output --partial "usage: nestbench cleanup"
	assert_output --partial "did not finish"
	run "$NB" cleanup --bogus
	assert_failure 2
	run "$NB" --help
	assert_output --partial "cleanup"
}

@test "2, 3 and 4 simultaneous runs end with the pools exactly as before" {
	is_root || skip "needs root to grow hugepage pools"
	[ "$(pool_size 2048)" != absent ] || skip "this kernel has no 2M hugetlb pool"
	local before2 before1 n i
	before2=$(pool_size 2048)
	before1=$(pool_size 1048576)
	for n in 2 3 4; do
		local pids=()
		for i in $(seq "$n"); do
			pool_run "$BATS_TEST_TMPDIR/c$n-$i.json" >/dev/null 2>"$BATS_TEST_TMPDIR/c$n-$i.err" &
			pids+=($!)
			# Staggered starts: the leak of issue 15 needed a second run
			# starting while the first held its grown pool.
			sleep "0.$((RANDOM % 8 + 2))"
		done
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}" || fail "run $((i + 1)) of $n failed: $(cat "$BATS_TEST_TMPDIR/c$n-$((i + 1)).err")"
		done
		assert_equal "$(pool_size 2048)" "$before2"
		assert_equal "$(pool_size 1048576)" "$before1"
		for i in $(seq "$n"); do
			run jq '[.measurements[] | select(.skipped == null)] | length' "$BATS_TEST_TMPDIR/c$n-$i.json"
			assert_output 6
		done
	done
}

@test "after kill -9: info names the pages left behind and cleanup gives them back" {
	is_root || skip "needs root to grow hugepage pools"
	[ "$(pool_size 2048)" != absent ] || skip "this kernel has no 2M hugetlb pool"
	local before pid i
	before=$(pool_size 2048)
	# Not through pool_run: $! must be nestbench itself, not a subshell.
	"$NB" run --mode native --suite smoke --kernel chase --backing hugetlb-2m --ws-min 2m --ws-max 64m \
		--samples 2000 --sample-ms 5 --no-pmu --quiet --out "$BATS_TEST_TMPDIR/killed.json" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 200); do
		[ -e "$LEDGER/pool-2048kB-$pid" ] && break
		sleep 0.1
	done
	[ -e "$LEDGER/pool-2048kB-$pid" ] || { kill -9 "$pid"; fail "the run never recorded growing the 2M pool"; }
	kill -9 "$pid"
	wait "$pid" || true
	[ "$(pool_size 2048)" -gt "$before" ] || fail "the pool did not stay grown after kill -9"

	run "$NB" info
	assert_success
	assert_output --regexp "[0-9]+ pages left by a run that did not finish \(pid $pid, gone\); \`nestbench cleanup\` gives them back"

	# The next run says so too, and leaves those pages alone.
	run --separate-stderr pool_run "$BATS_TEST_TMPDIR/next.json" 5
	assert_success
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ "$stderr" == *"left by a run that did not finish (pid $pid, gone)"* ]] || fail "next run was silent: $stderr"

	run "$NB" cleanup
	assert_success
	assert_output --partial "left by a run that did not finish (pid $pid)"
	assert_equal "$(pool_size 2048)" "$before"
	[ ! -e "$LEDGER/pool-2048kB-$pid" ]
	run "$NB" info
	refute_output --partial "(pid $pid, gone)"
}

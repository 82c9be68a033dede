#!/usr/bin/env bats
# Explicit requests that cannot be met fail, naming why, instead of being
# silently replaced by defaults, clamped or skipped.

load helpers

nb_run() {
	"$NB" run --mode native --suite smoke --no-pmu --quiet --out "$BATS_TEST_TMPDIR/out.json" "$@"
}

@test "an explicit 0 for --ws-max, --ws-min, --stride is a usage error" {
	local opt
	for opt in --ws-max --ws-min --stride --tlb-locality; do
		run nb_run "$opt" 0
		assert_failure 2
		assert_output --partial "$opt: must be larger than 0"
	done
	[ ! -e "$BATS_TEST_TMPDIR/out.json" ]
}

@test "--size that is not a whole number of 4k pages is a usage error" {
	run nb_run --kernel mmap-munmap --size 3k
	assert_failure 2
	assert_output --partial "--size 3k is not a whole number of 4k pages"
}

@test "--cow-pages beyond the region is an error, not a silent clamp" {
	run nb_run --kernel fork-cow --size 2m --cow-pages 99999999
	assert_failure 2
	assert_output --partial "--cow-pages 99999999 is more than the 512 pages"
	# Without --size the suite's regions are checked when fork-cow sets up.
	run nb_run --kernel fork-cow --backing 4k --cow-pages 99999999
	assert_failure 1
	assert_output --partial "fork-cow: --cow-pages 99999999 is more than the"
	[ ! -e "$BATS_TEST_TMPDIR/out.json" ]
}

@test "empty items in comma-separated lists are usage errors" {
	local args
	for args in "--size 4k,," "--events cycles,," "--kernel chase," "--backing ,4k" "--threads 1,,2" \
		"--placement same-pu," "--guest-page 4k,"; do
		# shellcheck disable=SC2086 # split on purpose: option and value
		run nb_run --mode both $args
		assert_failure 2
		assert_output --partial "empty item in the comma-separated list"
	done
}

@test "--mode vm without access to /dev/kvm fails naming why, even with --quiet" {
	[ -e /dev/kvm ] || skip "no /dev/kvm on this machine"
	is_root || skip "needs root to drop to an unprivileged user"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
	# nobody is in no group that may open /dev/kvm.
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$NB" run --suite smoke --mode vm --quiet \
		--out "$BATS_TEST_TMPDIR/vm.json"
	assert_failure 1
	assert_output --partial "--mode vm: cannot open /dev/kvm: Permission denied"
	[ ! -e "$BATS_TEST_TMPDIR/vm.json" ]
}

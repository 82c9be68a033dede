#!/usr/bin/env bats
# The command line: help texts, usage errors and their exit statuses.

load helpers

@test "no arguments prints usage and exits 2" {
	run "$NB"
	assert_failure 2
	assert_output --partial "usage: nestbench"
}

@test "--help lists every subcommand" {
	run "$NB" --help
	assert_success
	for c in info list run; do
		assert_output --partial "  $c "
	done
}

@test "--version names the build" {
	run "$NB" --version
	assert_success
	assert_output --regexp '^nestbench .+'
}

@test "every subcommand has --help that exits 0" {
	for c in info list run; do
		run "$NB" "$c" --help
		assert_success
		assert_output --partial "usage: nestbench $c"
	done
}

@test "unknown subcommand: one line, exit 2" {
	run "$NB" frobnicate
	assert_failure 2
	assert_output "nestbench: error: unknown command 'frobnicate' (see 'nestbench --help')"
}

@test "unknown option to run: exit 2" {
	run "$NB" run --bogus
	assert_failure 2
	assert_output --partial "unknown option"
}

@test "missing option value: exit 2" {
	run "$NB" run --suite
	assert_failure 2
	assert_output --partial "see 'nestbench run --help'"
}

@test "unknown suite, kernel and backing: exit 2 naming it" {
	run "$NB" run --suite huge
	assert_failure 2
	assert_output --partial "unknown suite 'huge'"
	run "$NB" run --kernel chase,nope
	assert_failure 2
	assert_output --partial "unknown kernel 'nope'"
	run "$NB" run --backing 4k,hugetlb-3m
	assert_failure 2
	assert_output --partial "hugetlb-3m"
}

@test "malformed sizes: exit 2 with the reason" {
	for bad in 12q -5 1.5m "" 99999999999999999999 16kx; do
		run "$NB" run --ws-max "$bad" --out "$BATS_TEST_TMPDIR/x.json"
		assert_failure 2
		assert_output --partial "--ws-max"
		[ ! -e "$BATS_TEST_TMPDIR/x.json" ]
	done
}

@test "absurd settings: exit 2" {
	run "$NB" run --ws-min 1m --ws-max 64k
	assert_failure 2
	run "$NB" run --stride 100
	assert_failure 2
	assert_output --partial "multiple of 64"
	run "$NB" run --samples 0
	assert_failure 2
	run "$NB" run --cpu 4096
	assert_failure 2
	assert_output --partial "cpu 4096"
}

@test "a working set larger than memory: exit 1, nothing written" {
	run "$NB" run --ws-max 64t --out "$BATS_TEST_TMPDIR/x.json"
	assert_failure 1
	assert_output --partial "does not fit in available memory"
	[ ! -e "$BATS_TEST_TMPDIR/x.json" ]
}

@test "unwritable output: exit 1 before measuring, nothing written" {
	run "$NB" run --suite smoke --out /nonexistent-dir/r.json
	assert_failure 1
	assert_output --partial "cannot write results to '/nonexistent-dir/r.json'"
	run "$NB" run --suite smoke --out "$BATS_TEST_TMPDIR"
	assert_failure 1
	assert_output --partial "is a directory"
}

@test "list shows kernels, backings with usability, suites" {
	run "$NB" list
	assert_success
	assert_output --partial "chase-ctl"
	assert_output --regexp "4k +usable"
	assert_output --regexp "thp +(usable|no)"
	assert_output --partial "smoke"
	run "$NB" list backings
	assert_success
	refute_output --partial "kernels:"
	run "$NB" list nonsense
	assert_failure 2
}

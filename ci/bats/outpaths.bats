#!/usr/bin/env bats
# `run --out` to what is not a regular file: devices and FIFOs are written in
# place and never replaced, a symlink stays a symlink, an empty name is a
# usage error before anything runs.

load helpers

small_run() {
	"$NB" run --mode native --suite smoke --kernel chase --backing 4k --ws-max 32k --no-pmu --quiet --out "$1"
}

@test "--out /dev/null: exit 0 and /dev/null is still a character device" {
	run small_run /dev/null
	assert_success
	[ -c /dev/null ] || fail "/dev/null is no longer a character device"
}

@test "--out /dev/full: exit 1 naming the cause, the device stays" {
	run small_run /dev/full
	assert_failure 1
	assert_output --partial "cannot write the results to '/dev/full': No space left on device"
	[ -c /dev/full ] || fail "/dev/full is no longer a character device"
}

@test "--out /dev/zero (any character device) is written in place" {
	run small_run /dev/zero
	assert_success
	[ -c /dev/zero ]
}

@test "--out FIFO: the results arrive through it and it stays a FIFO" {
	local fifo="$BATS_TEST_TMPDIR/fifo"
	mkfifo "$fifo"
	cat "$fifo" >"$BATS_TEST_TMPDIR/got.json" &
	local reader=$!
	run small_run "$fifo"
	assert_success
	wait "$reader"
	[ -p "$fifo" ] || fail "the FIFO was replaced"
	run validate_schema "$BATS_TEST_TMPDIR/got.json"
	assert_success
}

@test "--out a symlink to a regular file: the target is written, the link stays" {
	echo old >"$BATS_TEST_TMPDIR/target.json"
	ln -s target.json "$BATS_TEST_TMPDIR/link.json"
	run small_run "$BATS_TEST_TMPDIR/link.json"
	assert_success
	[ -L "$BATS_TEST_TMPDIR/link.json" ] || fail "the symlink was replaced"
	run validate_schema "$BATS_TEST_TMPDIR/target.json"
	assert_success
}

@test "--out a directory or a socket is refused before the run" {
	run small_run "$BATS_TEST_TMPDIR"
	assert_failure 1
	assert_output --partial "it is a directory"
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$BATS_TEST_TMPDIR/sock"
	run small_run "$BATS_TEST_TMPDIR/sock"
	assert_failure 1
	assert_output --partial "will not be replaced"
	[ -S "$BATS_TEST_TMPDIR/sock" ]
}

@test "--out '' is a usage error before anything runs" {
	# The quick suite would take minutes: an early usage error is all it can do.
	run "$NB" run --mode native --suite quick --out ""
	assert_failure 2
	assert_output --partial "--out needs a file name"
	refute_output --partial "results:"
}

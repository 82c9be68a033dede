#!/usr/bin/env bats
# ci/install-deps.sh: what `make deps` does when packages are missing and the user is not root.

load helpers

setup() {
	SHIM="$BATS_TEST_TMPDIR/shim"
	mkdir -p "$SHIM"
	# dpkg-query that knows no package, id that says "not root".
	printf '#!/bin/sh\nexit 1\n' >"$SHIM/dpkg-query"
	printf '#!/bin/sh\necho 1000\n' >"$SHIM/id"
	chmod +x "$SHIM/dpkg-query" "$SHIM/id"
}

@test "not root and packages missing: the exact apt-get line and a failure" {
	run env PATH="$SHIM:$PATH" "$BATS_TEST_DIRNAME/../install-deps.sh"
	assert_failure 1
	assert_output --partial "nestbench: error: missing packages:"
	assert_output --regexp "install them with: sudo apt-get install -y .*libpfm4-dev.*libhwloc-dev"
}

@test "nothing missing: silent success" {
	is_root || skip "needs the real package state"
	run "$BATS_TEST_DIRNAME/../install-deps.sh"
	assert_success
	assert_output ""
}

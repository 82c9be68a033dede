#!/usr/bin/env bats
# Messages name the real cause and never carry raw control bytes from
# outside (file names, JSON excerpts) to the terminal.

load helpers

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	FX="$ROOT/ci/fixtures"
	T="$BATS_TEST_TMPDIR"
	ESC=$'\e'
}

@test "a file name with a newline and ESC is printed escaped in errors" {
	local name="$T/bad"$'\n'"line${ESC}[2J.json"
	echo '{"schema_version": 1' >"$name"
	run "$NB" compare "$name" "$FX/baseline.json"
	assert_failure 1
	assert_output --partial 'bad\nline\x1b[2J.json: not valid JSON'
	[[ "$output" != *"$ESC"* ]] || fail "a raw ESC reached the terminal"
	assert_equal "${#lines[@]}" 1
	run "$NB" report "$name" --out "$T/rep"
	assert_failure 1
	assert_output --partial 'bad\nline\x1b[2J.json'
	[[ "$output" != *"$ESC"* ]]
}

@test "JSON error context with a raw ESC is printed escaped" {
	# jansson quotes the text near the error: here a backslash and an ESC.
	printf '{"schema_version": 1, "x": "\\\033[2J"}' >"$T/esc.json"
	run "$NB" compare "$T/esc.json" "$T/esc.json"
	assert_failure 1
	assert_output --partial "invalid escape near"
	assert_output --partial '\x1b'
	[[ "$output" != *"$ESC"* ]] || fail "a raw ESC reached the terminal"
}

@test "run --out with control bytes: the results line is escaped" {
	local name="$T/r${ESC}[1m"$'\n'"x.json"
	run "$NB" run --mode native --suite smoke --kernel chase --backing 4k --ws-max 32k --no-pmu --quiet --out "$name"
	assert_success
	assert_output --partial 'r\x1b[1m\nx.json'
	[[ "$output" != *"$ESC"* ]]
	[ -f "$name" ]
}

@test "hugetlb-1g under ulimit -v: the address-space limit is named as the cause" {
	is_root || skip "needs root to grow the 1G pool"
	[ "$(pool_size 1048576)" != absent ] || skip "this kernel has no 1G hugetlb pool"
	# 1 GiB of address space: nestbench starts, a 1G mapping cannot fit.
	run bash -c "ulimit -v 1048576 && exec \"$NB\" run --suite smoke --kernel chase --backing hugetlb-1g \
		--ws-min 64m --ws-max 64m --no-pmu --quiet --out \"$T/u.json\""
	if [[ "$output" == *"could only provide"* ]]; then
		skip "the kernel could not find a free 1G page: $output"
	fi
	assert_failure 1
	assert_output --partial "the address-space limit (ulimit -v, 1048576 KiB)"
	refute_output --partial "another process may have taken them"
}

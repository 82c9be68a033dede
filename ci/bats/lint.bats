#!/usr/bin/env bats
# Standards the build must keep: warning-free with clang as with gcc, shell scripts shellcheck-clean.

load helpers

TOP="$BATS_TEST_DIRNAME/../.."

@test "clang builds everything without a warning (-Werror)" {
	run make -C "$TOP" --no-print-directory BUILD=build/clang CC=clang -j2 all unit
	assert_success
	refute_output --partial "warning:"
}

@test "every shell script passes shellcheck" {
	cd "$TOP"
	shopt -s nullglob
	local files=(ci/*.sh ci/cloud/*.sh .ci/run ci/bats/*.bash ci/bats/*.bats completion/*.bash)
	run shellcheck -s bash "${files[@]}"
	assert_success
}

@test "make fuzz builds the results-file fuzzer and runs it without a crash" {
	run make -C "$TOP" --no-print-directory BUILD=build/fuzzcheck fuzz FUZZ_SECONDS=5
	assert_success
	assert_output --partial "Done"
	run find "$TOP/build/fuzzcheck/fuzz/crashes" -type f
	assert_output ""
}

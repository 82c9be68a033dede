#!/usr/bin/env bats
# One source of truth: results/schema.json and the strict reader
# (analysis/resfile.c) give the same verdict on one shared corpus of valid
# and invalid files (ci/corpus/mutate.py: the TEST FIXTURES, the committed
# example, a fresh smoke run and the fuzz regressions, each changed at one
# place at a time).

load helpers

setup_file() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	export ROOT CORPUS="$BATS_FILE_TMPDIR/corpus"
	"$ROOT/build/nestbench" run --suite smoke --kernel chase,mmap-munmap,pipe-proc --backing 4k --ws-max 64k \
		--quiet --out "$BATS_FILE_TMPDIR/smoke.json" >/dev/null
	python3 "$ROOT/ci/corpus/mutate.py" "$CORPUS" "$ROOT"/ci/fixtures/*.json \
		"$ROOT"/results/examples/*.json "$BATS_FILE_TMPDIR/smoke.json" \
		--also "$ROOT"/ci/fuzz/regressions/*.json >/dev/null
}

@test "the corpus holds thousands of valid and invalid files" {
	run bash -c "wc -l <'$CORPUS/index.tsv'"
	[ "$output" -gt 1000 ] || fail "only $output files"
}

@test "schema and reader agree on every file of the shared corpus" {
	run python3 "$ROOT/ci/corpus/agree.py" "$NB" "$SCHEMA" "$CORPUS"
	assert_success
	assert_output --regexp "[0-9]+ files, 0 disagreements"
}

@test "without timing.loop_overhead_ns_per_access: both reject" {
	jq 'del(.timing.loop_overhead_ns_per_access)' "$ROOT/ci/fixtures/baseline.json" >"$BATS_TEST_TMPDIR/t.json"
	run validate_schema "$BATS_TEST_TMPDIR/t.json"
	assert_failure
	run "$NB" compare "$BATS_TEST_TMPDIR/t.json" "$BATS_TEST_TMPDIR/t.json"
	assert_failure 1
	assert_output --partial "timing.loop_overhead_ns_per_access: missing"
}

@test "every fixture and the committed example validate against the schema" {
	local f
	for f in "$ROOT"/ci/fixtures/*.json "$ROOT"/results/examples/*.json; do
		run validate_schema "$f"
		assert_success
	done
}

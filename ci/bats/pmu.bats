#!/usr/bin/env bats
# PMU counters through the CLI: the resolved event set, the honest
# "unavailable, and why" on machines without a PMU, --events overrides.

load helpers

@test "list events shows the resolved set with encodings" {
	run "$NB" list events
	assert_success
	assert_output --regexp "event set: [a-z0-9_:]+"
	assert_output --regexp "config=0x[0-9a-f]+"
}

@test "info --json has a PMU section that says whether hardware counting works, and why not" {
	run bash -c "'$NB' info --json | jq -e '.pmu | (.hardware_counting | type == \"boolean\") and (.software_counting == true) and (.hardware_counting or (.reason | length > 10))'"
	assert_success
}

@test "a run records the PMU verdict per measurement and the per-event reasons once" {
	local out="$BATS_TEST_TMPDIR/p.json"
	run "$NB" run --mode native --kernel chase --backing 4k --ws-min 16k --ws-max 64k --samples 3 --out "$out" --quiet
	assert_success
	run validate_schema "$out"
	assert_success
	# Every event has a verdict; an unavailable one names its errno and a fix.
	run jq -e '.pmu.events | length > 0 and all(.available or ((.errno_name | length > 0) and (.why | length > 10)))' "$out"
	assert_success
	run jq -e '[.measurements[] | .pmu.available] | all(type == "boolean")' "$out"
	assert_success
	# Where the machine has no PMU (ENOENT), no derived metric is invented.
	if jq -e '.pmu.available == false' "$out" >/dev/null; then
		run jq -e '[.measurements[] | .pmu | has("derived") | not] | all' "$out"
		assert_success
	fi
}

@test "--events with a string libpfm4 cannot encode is a usage error" {
	run "$NB" run --mode native --events 'nosuchpmu::NOPE' --suite smoke --out "$BATS_TEST_TMPDIR/x.json"
	assert_failure 2
	assert_output --partial "--events"
	[ ! -e "$BATS_TEST_TMPDIR/x.json" ]
}

@test "--no-pmu leaves the PMU out and keeps software counters" {
	local out="$BATS_TEST_TMPDIR/n.json"
	run "$NB" run --mode native --kernel chase --backing 4k --ws-min 16k --ws-max 32k --samples 3 --no-pmu --out "$out" --quiet
	assert_success
	run jq -e '(has("pmu") | not) and ([.measurements[] | has("pmu")] | any | not) and ([.measurements[] | .counters.page_faults] | all(. != null))' "$out"
	assert_success
}

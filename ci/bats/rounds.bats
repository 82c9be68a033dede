#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2054 # jq programs are meant literally; commas separate kernel names
# Rounds (harness/run/rounds.c) and compare's replicates, end to end: two
# smoke-sized runs of one build compared pass a 5% gate, a real 20% slowdown
# of one kernel (the test hook NESTBENCH_TEST_SLOWDOWN, harness/run/measure.h)
# is caught, every point is visited once per round in a recorded order the
# seed reproduces, and a gate on too few rounds is refused.  No timing
# thresholds: the slowdown is real time spent, and the assertions are about
# which rows the gate names, not how fast anything is.

load helpers

# The runs are shared by the tests of this file (made once, in setup_file).
ARGS=(run --mode native --suite smoke --kernel chase,chase-ctl,mprotect --backing 4k,thp --ws-max 4m --rounds 9 --samples 27
	--quiet)

setup_file() {
	export D="$BATS_FILE_TMPDIR"
	"$NB" "${ARGS[@]}" --out "$D/a.json" >/dev/null
	"$NB" "${ARGS[@]}" --out "$D/b.json" >/dev/null
	NESTBENCH_TEST_SLOWDOWN=chase:20 "$NB" "${ARGS[@]}" --out "$D/slow.json" >/dev/null
}

@test "rounds: every point once per round, the order recorded and reproduced by the seed" {
	jq -e '.rounds.base == 9 and .rounds.adaptive == 0 and .rounds.samples_per_round == 3' "$D/a.json"
	# The sweep points in all 9 rounds; a cell (mprotect) in the first 5 (ROUNDS_CELLS).
	jq -e '[.measurements[] | select(.summary and .family == "chase") | .rounds.n == 9 and (.samples | length) == 27] | all' "$D/a.json"
	jq -e '[.measurements[] | select(.summary and .kernel == "mprotect") | .rounds.n == 5 and (.samples | length) == 15] | all' "$D/a.json"
	# Per round, the positions of the units (a sweep point's chase and chase-ctl
	# share one) are all different; in the first 5 rounds, when every unit is
	# visited, they are exactly 0 .. units-1.
	jq -e '.rounds.units as $u | [range(9) as $r | [.measurements[] | select(.summary and .rounds.n > $r) |
		{k: "\(.backing.requested) \(.working_set_bytes) \(.kernel == "mprotect")", p: .rounds.positions[$r]}]
		| unique | map(.p) | (. | length) == (unique | length) and ($r >= 5 or sort == [range($u)])] | all' "$D/a.json"
	# Not ascending: the order is drawn, and it differs from round to round.
	jq -e '[.measurements[] | select(.summary) | .rounds.positions | unique | length > 1] | any' "$D/a.json"
	# The same seed gives the same orders and chain seeds.
	[ "$(jq -c '[.measurements[] | .rounds.positions, .rounds.seeds]' "$D/a.json")" = \
		"$(jq -c '[.measurements[] | .rounds.positions, .rounds.seeds]' "$D/b.json")" ]
	# The interval is the round medians', with its coverage said (n = 9: 96.1%, n = 5: 93.75%).
	jq -e '[.measurements[] | select(.summary) | .summary.ci_method == "order statistics of the round medians"
		and (.summary.ci_coverage - (if .rounds.n == 9 then 1 - 20/512 else 0.9375 end) | fabs) < 1e-9] | all' "$D/a.json"
	validate_schema "$D/a.json"
}

@test "rounds: two runs of one build compared pass a 5% gate" {
	run "$NB" compare --threshold 5 "$D/a.json" "$D/b.json"
	assert_success
	assert_output --partial "gate: no significant slowdown above 5%"
	assert_output --partial "Benjamini-Hochberg"
}

@test "rounds: a real 20% slowdown of one kernel is caught, and only that kernel" {
	run "$NB" compare --threshold 5 --format json "$D/a.json" "$D/slow.json"
	assert_failure 3
	# The gate names chase rows, never another kernel's.
	jq -e '[.comparisons[] | select(.regression) | .identity.kernel == "chase"] | all' <<<"$output"
	jq -e '.regressions >= 1' <<<"$output"
	# Most native chase rows are found: their ratio is about 1.2 by construction.
	jq -e '[.comparisons[] | select(.identity.kernel == "chase") | .significant] | (map(select(.)) | length) * 2 > length' <<<"$output"
}

@test "rounds: a gate on one round is refused with the reason" {
	"$NB" run --mode native --suite smoke --kernel chase --backing 4k --ws-max 64k --rounds 1 --quiet --out "$D/one.json" >/dev/null
	jq -e '.measurements[0].rounds.n == 1 and .measurements[0].summary.ci_method == "order statistics of the samples"' "$D/one.json"
	run "$NB" compare --threshold 5 "$D/one.json" "$D/one.json"
	assert_failure 2
	assert_output --partial "refusing to gate"
	assert_output --partial "--rounds 5"
}

@test "rounds: --rounds, --precision and --time-budget are checked and echoed" {
	run "$NB" run --mode native --rounds 0 --kernel chase --out "$D/x.json"
	assert_failure 2
	run "$NB" run --mode native --precision 0 --kernel chase --out "$D/x.json"
	assert_failure 2
	[ ! -e "$D/x.json" ]
	jq -e '.config.rounds == 9 and .config.precision_pct == 2 and .config.time_budget_s == 0' "$D/a.json"
}

@test "rounds: adaptive rounds measure again what missed the precision, within the budget" {
	"$NB" run --mode native --suite smoke --kernel chase --backing 4k --ws-max 64k --rounds 5 --precision 1 --time-budget 2 \
		--quiet --out "$D/ad.json" >/dev/null
	jq -e '.rounds.time_budget_s == 2 and .rounds.precision_target_pct == 1' "$D/ad.json"
	# Every measurement either met the target or is listed as having missed it.
	jq -e '([.measurements[] | select(.summary) | select(.rounds.precision_met | not)] | length) == .rounds.missed_precision_count' "$D/ad.json"
	# Points measured again have more rounds than the base ones; none has fewer.
	jq -e '[.measurements[] | select(.summary) | .rounds.n >= 5] | all' "$D/ad.json"
	jq -e '.rounds.adaptive == 0 or ([.measurements[] | select(.summary) | .rounds.n > 5] | any)' "$D/ad.json"
}

#!/usr/bin/env bats
# shellcheck disable=SC2016 # hostile strings are meant literally, unexpanded
# nestbench compare on the TEST FIXTURES of ci/fixtures (hand-made inputs with
# known samples, not measurements), plus the hostile-input battery.

load helpers

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	FX="$ROOT/ci/fixtures"
	T="$BATS_TEST_TMPDIR"
}

# hostile FILTER NAME: write baseline.json changed by the jq filter to $T/NAME.
hostile() {
	jq "$1" "$FX/baseline.json" >"$T/$2"
}

@test "compare --help documents the exit statuses" {
	run "$NB" compare --help
	assert_success
	assert_output --partial "Exit status: 0 no regression"
	assert_output --partial "3 a significant"
	assert_output --partial "gate refused"
}

@test "compare: usage errors exit 2" {
	run "$NB" compare "$FX/baseline.json"
	assert_failure 2
	run "$NB" compare --format yaml "$FX/baseline.json" "$FX/same.json"
	assert_failure 2
	run "$NB" compare --threshold -5 "$FX/baseline.json" "$FX/same.json"
	assert_failure 2
	run "$NB" compare --bogus "$FX/baseline.json" "$FX/same.json"
	assert_failure 2
}

@test "compare: identical samples give ratio 1, nothing significant, exit 0 under a gate" {
	run "$NB" compare --format json --threshold 1 "$FX/baseline.json" "$FX/same.json"
	assert_success
	[ "$(jq '[.comparisons[] | select(.ratio != 1)] | length' <<<"$output")" -eq 0 ]
	[ "$(jq '[.comparisons[] | select(.significant)] | length' <<<"$output")" -eq 0 ]
	[ "$(jq '.regressions' <<<"$output")" -eq 0 ]
}

@test "compare: a 1.5x slowdown is found, with its interval, and the gate exits 3" {
	run "$NB" compare --format json --threshold 5 "$FX/baseline.json" "$FX/slower.json"
	assert_failure 3
	row=$(jq -c '.comparisons[] | select(.identity.kernel == "chase" and .identity.mode == "native"
		and .identity.backing == "4k" and .identity.working_set_bytes == 67108864
		and .identity.params.tlb_locality_bytes == 0)' <<<"$output")
	# medians 12 and 18 by construction: ratio exactly 1.5
	jq -e ".median_a == 12" <<<"$row"
	jq -e ".median_b == 18" <<<"$row"
	jq -e ".ratio == 1.5" <<<"$row"
	# samples lie in [0.98, 1.02] x median on both sides, so every resampled
	# ratio lies in [1.5*0.98/1.02, 1.5*1.02/0.98]
	jq -e '.ci95_low >= 1.441 and .ci95_low <= 1.5 and .ci95_high >= 1.5 and .ci95_high <= 1.562' <<<"$row"
	jq -e '.significant and .regression' <<<"$row"
	[ "$(jq '.regressions' <<<"$output")" -eq 1 ]
}

@test "compare: the gate trips on the interval's lower bound, not the point ratio" {
	# mmap-munmap x1.02: significant, interval [1.0099, 1.0303] (samples within
	# +-2% of the median on both sides).  A 5% or a 1% gate does not trip on
	# it (its lower bound is not beyond 1.01), a 0.5% gate does.
	run "$NB" compare --format json --threshold 5 "$FX/baseline.json" "$FX/slower.json"
	jq -e '.comparisons[] | select(.label | startswith("mmap-munmap native")) | .ratio == 1.02 and .significant and (.regression | not) and .ci95_low > 1.005 and .ci95_low < 1.01' <<<"$output"
	run "$NB" compare --format json --threshold 1 "$FX/baseline.json" "$FX/slower.json"
	assert_failure 3
	[ "$(jq '.regressions' <<<"$output")" -eq 1 ]
	run "$NB" compare --format json --threshold 0.5 "$FX/baseline.json" "$FX/slower.json"
	assert_failure 3
	[ "$(jq '.regressions' <<<"$output")" -eq 2 ]
	run "$NB" compare --threshold 60 "$FX/baseline.json" "$FX/slower.json"
	assert_success
	assert_output --partial "gate: no significant slowdown above 60%"
}

@test "compare: significance is corrected for the rows compared (Benjamini-Hochberg), and says so" {
	run "$NB" compare --format json "$FX/baseline.json" "$FX/slower.json"
	assert_success
	jq -e '.correction == "Benjamini-Hochberg" and .false_discovery_rate == 0.05' <<<"$output"
	# q >= p on every tested row, and significant rows have q <= 0.05
	jq -e '[.comparisons[] | select(.p != null) | .q >= .p] | all' <<<"$output"
	jq -e '[.comparisons[] | select(.significant) | .q <= 0.05] | all' <<<"$output"
	[ "$(jq '.rows_significant' <<<"$output")" -eq "$(jq '[.comparisons[] | select(.significant)] | length' <<<"$output")" ]
	run "$NB" compare "$FX/baseline.json" "$FX/slower.json"
	assert_output --partial "Benjamini-Hochberg correction over"
	# files from before rounds: the note says the replicates are samples
	assert_output --partial "replicates are samples"
}

@test "compare: a gate on too few replicates is refused with the reason (exit 2)" {
	jq '.measurements |= map(if .summary then .samples |= .[:3] else . end)' "$FX/baseline.json" >"$T/few.json"
	run "$NB" compare --threshold 5 "$T/few.json" "$FX/slower.json"
	assert_failure 2
	assert_output --partial "refusing to gate"
	assert_output --partial "at least 5 a side"
	# without a gate the comparison is made, claiming no significance
	run "$NB" compare "$T/few.json" "$FX/slower.json"
	assert_success
	assert_output --partial "fewer than 5 samples on a side"
	# one row short of replicates: left out of the gate and counted; the others are gated
	jq '.measurements |= map(if .kernel == "mmap-munmap" and .summary then .samples |= .[:3] else . end)' \
		"$FX/baseline.json" >"$T/one-few.json"
	run "$NB" compare --threshold 5 --format json "$T/one-few.json" "$FX/slower.json"
	assert_failure 3
	jq -e '.rows_not_gated >= 1 and .regressions == 1' <<<"$output"
	run "$NB" compare --threshold 5 "$T/one-few.json" "$FX/slower.json"
	assert_output --partial "not gated: fewer than 5 replicates a side"
}

@test "compare: a significant speed-up is not a regression" {
	run "$NB" compare --format json --threshold 5 "$FX/baseline.json" "$FX/faster.json"
	assert_success
	jq -e '[.comparisons[] | select(.significant)] | length == 1 and .[0].ratio == 0.5' <<<"$output"
}

@test "compare: unmatched and skipped measurements are listed, not dropped" {
	run "$NB" compare "$FX/baseline.json" "$FX/slower.json"
	assert_success
	assert_output --partial "mprotect vm 4k guest=4k ws=1M: not in the other file"
	assert_output --partial "madvise-dontneed native 4k ws=1M: not in the baseline"
	assert_output --partial "skipped: fixture: guest 1g pages"
	assert_output --partial "mmu virtualization  A   none"
	assert_output --partial "B   npt"
}

@test "compare: output is reproducible with the same seed" {
	a=$("$NB" compare --format csv "$FX/baseline.json" "$FX/slower.json")
	b=$("$NB" compare --format csv "$FX/baseline.json" "$FX/slower.json")
	[ "$a" = "$b" ]
	c=$("$NB" compare --format csv --seed 7 "$FX/baseline.json" "$FX/slower.json")
	[ "$a" != "$c" ]
}

@test "compare: markdown and csv formats" {
	run "$NB" compare --format markdown "$FX/baseline.json" "$FX/slower.json"
	assert_success
	assert_output --partial "| measurement | metric | X | median A | median X | X/A | 95% CI | significant |"
	run "$NB" compare --format csv "$FX/baseline.json" "$FX/slower.json"
	assert_success
	assert_line --index 0 --partial "status,file,baseline,label,kernel"
	assert_output --partial 'matched,B,A,"chase native 4k ws=64M'
	assert_output --partial 'unmatched,B,A,"madvise-dontneed'
	# p and q as the JSON has them, and every row as wide as the header.
	assert_line --index 0 --partial ",ci95_high,p,q,significant,"
	python3 -c '
import csv, sys
rows = list(csv.reader(sys.stdin))
head = rows[0]
assert all(len(r) == len(head) for r in rows), "ragged rows"
m = [r for r in rows[1:] if r[0] == "matched" and r[head.index("p")]]
assert m, "no matched row has a p"
assert all(0 <= float(r[head.index("q")]) <= 1 for r in m)
' <<<"$output"
}

@test "compare: three files compare each with the first" {
	run "$NB" compare --format json "$FX/baseline.json" "$FX/same.json" "$FX/slower.json"
	assert_success
	[ "$(jq '[.comparisons[].file] | unique | join(",")' <<<"$output")" = '"B,C"' ]
}

# ---- hostile input: one clear line naming the file and the field, exit 1 ----

@test "hostile: missing file, directory, empty file" {
	run "$NB" compare "$T/nope.json" "$FX/baseline.json"
	assert_failure 1
	assert_output --partial "nope.json: cannot open"
	run "$NB" compare "$T" "$FX/baseline.json"
	assert_failure 1
	: >"$T/empty.json"
	run "$NB" compare "$T/empty.json" "$FX/baseline.json"
	assert_failure 1
	assert_output --partial "empty.json: not valid JSON"
}

@test "hostile: not JSON and truncated JSON" {
	echo 'system("id") `reboot`' >"$T/text.json"
	run "$NB" compare "$FX/baseline.json" "$T/text.json"
	assert_failure 1
	assert_output --partial "text.json: not valid JSON"
	head -c 5000 "$FX/baseline.json" >"$T/trunc.json"
	run "$NB" compare "$FX/baseline.json" "$T/trunc.json"
	assert_failure 1
	assert_output --partial "trunc.json: not valid JSON"
	[ "${#lines[@]}" -eq 1 ]
}

@test "hostile: wrong schema_version, tool, top-level type" {
	hostile '.schema_version = 2' v2.json
	run "$NB" compare "$FX/baseline.json" "$T/v2.json"
	assert_failure 1
	assert_output --partial "v2.json: schema_version: is 2, this nestbench reads schema version 1 only"
	hostile '.schema_version = "1"' vs.json
	run "$NB" compare "$FX/baseline.json" "$T/vs.json"
	assert_failure 1
	assert_output --partial "vs.json: schema_version: expected an integer"
	echo '[1,2]' >"$T/arr.json"
	run "$NB" compare "$FX/baseline.json" "$T/arr.json"
	assert_failure 1
	assert_output --partial "expected an object"
}

@test "hostile: missing and mistyped fields name the field" {
	hostile 'del(.host.kvm.mmu_virt_mode)' f1.json
	run "$NB" compare "$FX/baseline.json" "$T/f1.json"
	assert_failure 1
	assert_output "nestbench: error: $T/f1.json: host.kvm.mmu_virt_mode: missing (required by schema v1)"
	hostile '.measurements[3].kernel = 42' f2.json
	run "$NB" compare "$FX/baseline.json" "$T/f2.json"
	assert_failure 1
	assert_output --partial "f2.json: measurements[3].kernel: expected a string"
	hostile '.measurements[2].mode = "bare-metal"' f3.json
	run "$NB" compare "$FX/baseline.json" "$T/f3.json"
	assert_failure 1
	assert_output --partial "f3.json: measurements[2].mode: unknown value"
	hostile '.measurements[0].summary = null' f4.json
	run "$NB" compare "$FX/baseline.json" "$T/f4.json"
	assert_failure 1
	assert_output --partial "measurements[0]: summary is null, but the measurement is not skipped"
	hostile '.derived.knees[0].pages = "many"' f5.json
	run "$NB" compare "$FX/baseline.json" "$T/f5.json"
	assert_failure 1
	assert_output --partial "derived.knees[0].pages: expected an integer"
	hostile '.measurements[1].samples = []' f6.json
	run "$NB" compare "$FX/baseline.json" "$T/f6.json"
	assert_failure 1
	assert_output --partial "measurements[1].samples: empty, but the measurement is not skipped"
}

@test "hostile: NaN, Inf, negative and non-number samples" {
	sed '0,/"samples": \[/s//"samples": [NaN, /' "$FX/baseline.json" >"$T/nan.json"
	run "$NB" compare "$FX/baseline.json" "$T/nan.json"
	assert_failure 1
	assert_output --partial "nan.json: not valid JSON"
	sed '0,/"samples": \[/s//"samples": [1e999, /' "$FX/baseline.json" >"$T/inf.json"
	run "$NB" compare "$FX/baseline.json" "$T/inf.json"
	assert_failure 1
	assert_output --partial "inf.json: not valid JSON"
	hostile '.measurements[4].samples[2] = -1' neg.json
	run "$NB" compare "$FX/baseline.json" "$T/neg.json"
	assert_failure 1
	assert_output --partial "neg.json: measurements[4].samples[2]: expected a finite number >= 0"
	hostile '.measurements[4].samples[0] = "7"' str.json
	run "$NB" compare "$FX/baseline.json" "$T/str.json"
	assert_failure 1
	assert_output --partial "measurements[4].samples[0]: expected a finite number >= 0"
	hostile '.measurements[0].summary.cv = -0.5' cv.json
	run "$NB" compare "$FX/baseline.json" "$T/cv.json"
	assert_failure 1
	assert_output --partial "measurements[0].summary.cv: -0.5 is below the minimum 0"
}

@test "hostile: absurd array sizes and duplicate keys" {
	hostile '.measurements[0].samples = [range(1000001) | 1]' big.json
	run "$NB" compare "$FX/baseline.json" "$T/big.json"
	assert_failure 1
	assert_output --partial "measurements[0].samples: 1000001 samples exceed the limit of 1000000"
	printf '{"schema_version": 1, "schema_version": 1}' >"$T/dup.json"
	run "$NB" compare "$FX/baseline.json" "$T/dup.json"
	assert_failure 1
	assert_output --partial "dup.json: not valid JSON"
	assert_output --partial "duplicate"
}

@test "hostile: strings with control characters cannot reach the terminal" {
	hostile '.host.hostname = "evil\u001b[2J\nsecond line `reboot` $(id) system(\"id\") <script>alert(1)</script>"' esc.json
	run "$NB" compare "$FX/baseline.json" "$T/esc.json"
	assert_success
	refute_output --partial $'\e'
	assert_output --partial 'evil?[2J?second line `reboot` $(id) system("id") <script>'
	run "$NB" compare --format csv "$T/esc.json" "$FX/baseline.json"
	assert_success
	run "$NB" compare --format json "$T/esc.json" "$FX/baseline.json"
	assert_success
	[ "$(jq -r '.files[0].machine.host' <<<"$output")" = $'evil\e[2J\nsecond line `reboot` $(id) system("id") <script>alert(1)</script>' ]
}

@test "regressions: inputs that once broke the reader exit 0 or 1, never crash" {
	for f in "$ROOT"/ci/fuzz/regressions/*.json; do
		[ -e "$f" ] || continue
		run "$NB" compare "$f" "$f"
		[ "$status" -eq 0 ] || [ "$status" -eq 1 ] || fail "$f: exit $status"
		run "$NB" report --out "$T/reg" "$f"
		[ "$status" -eq 0 ] || [ "$status" -eq 1 ] || fail "$f: report exit $status"
	done
}

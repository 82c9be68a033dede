#!/usr/bin/env bats
# Pathological but well-formed inputs (built from the TEST FIXTURES of
# ci/fixtures): a million samples per measurement, medians of 0, 1e308 and
# 5e-324.  Each is either drawn and printed, or rejected with a clear
# message; never a raw gnuplot error, "inf" or "nan".

load helpers

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	FX="$ROOT/ci/fixtures"
	T="$BATS_TEST_TMPDIR"
}

# every_value V NAME: baseline.json with every sample, summary value and
# translation point set to V.
every_value() {
	jq --argjson v "$1" '.measurements |= map(if (.samples | length) > 0 then
		.samples |= map($v) | .summary |= (.median = $v | .min = $v | .mean = $v | .stddev = 0 | .cv = 0
		| .ci95_low = $v | .ci95_high = $v) else . end)
		| .derived.translation |= map(.ns_per_access = $v | .ci95_low = $v | .ci95_high = $v)' \
		"$FX/baseline.json" >"$T/$2"
}

@test "compare of a measurement with 1,000,000 samples finishes well within a minute" {
	python3 - "$FX/baseline.json" "$T/big.json" <<'PY'
import json, random, sys
d = json.load(open(sys.argv[1]))
m = next(x for x in d["measurements"] if x["samples"])
random.seed(1)
m["samples"] = [round(10 + random.random(), 4) for _ in range(1000000)]
json.dump(d, open(sys.argv[2], "w"))
PY
	# Generous for a noisy 2-vCPU machine: this took 381 s before the
	# bootstrap stopped resampling every value, about a second after.
	run timeout 60 "$NB" compare "$T/big.json" "$T/big.json"
	assert_success
	assert_output --partial "ratio 1.000"
}

@test "all medians 0: compare says n/a, report draws it" {
	every_value 0 zero.json
	run "$NB" compare "$T/zero.json" "$T/zero.json"
	assert_success
	assert_output --partial "ratio n/a"
	refute_output --regexp "inf|nan"
	run "$NB" report "$T/zero.json" --out "$T/rep"
	assert_success
	refute_output --partial "gnuplot"
	[ -s "$T/rep/latency.svg" ] && [ -s "$T/rep/report.html" ]
}

@test "all medians equal: flat curves and bars are drawn" {
	every_value 7.5 flat.json
	run "$NB" report "$T/flat.json" --out "$T/rep"
	assert_success
	refute_output --partial "gnuplot"
}

@test "medians of 1e308 and 5e-324 are rejected by the reader, naming the field" {
	local v
	for v in 1e308 5e-324; do
		every_value "$v" "v.json"
		run "$NB" compare "$T/v.json" "$T/v.json"
		assert_failure 1
		assert_output --regexp "v.json: measurements\[0\]\.samples\[0\]: .* is not a value a measurement can have \(0, or 1e-09 to 1e\+15\)"
		run "$NB" report "$T/v.json" --out "$T/rep-$v"
		assert_failure 1
		refute_output --partial "gnuplot"
		[ ! -e "$T/rep-$v" ]
	done
}

@test "a zero baseline against a non-zero file: n/a, never inf [-nan, -nan]" {
	every_value 0 zero.json
	every_value 2 two.json
	run "$NB" compare "$T/zero.json" "$T/two.json"
	assert_success
	assert_output --partial "ratio n/a"
	refute_output --regexp "inf|nan"
	run "$NB" compare "$T/two.json" "$T/zero.json"
	assert_success
	refute_output --regexp "inf|nan"
}

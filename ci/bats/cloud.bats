#!/usr/bin/env bats
# ci/cloud: the GitHub Actions step and run-on-instance.sh, run as written in a
# clean copy of the tree (as a fresh checkout on an instance would be), in
# smoke size, and each artefact checked.

load helpers

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."

setup_file() {
	export SRC="$BATS_FILE_TMPDIR/checkout"
	mkdir -p "$SRC"
	# What a checkout has: tracked (and new, not ignored) files; no build/.
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$TOP" ls-files -z --cached --others --exclude-standard |
			(cd "$TOP" && tar --null --ignore-failed-read -T - -c 2>/dev/null) | tar -x -C "$SRC"
	else
		tar -C "$TOP" --exclude=./build -c . | tar -x -C "$SRC"
	fi
}

need_root() {
	is_root || skip "the instance script installs packages and runs as root (or with sudo)"
}

# The artefacts every run leaves in OUT.
check_run_artefacts() {
	local out=$1
	assert [ -s "$out/version.txt" ]
	grep -qx "data directory: $SRC/build/cloud-prefix/share/nestbench (compiled in)" "$out/version.txt"
	grep -q "^KVM" "$out/info.txt"
	jq -e '.cpu and .kvm' "$out/info.json" >/dev/null
	validate_schema "$out/results.json"
	jq -e '.config.suite == "smoke" and (.measurements | length) > 10' "$out/results.json" >/dev/null
	assert [ -s "$out/report/report.html" ]
	assert [ -s "$out/report/report.md" ]
	assert [ -s "$out/report/latency.svg" ]
	assert [ -s "$out/report/latency.png" ]
	if [ -w /dev/kvm ]; then
		validate_schema "$out/hwassist.json"
		jq -e '[.measurements[].mode] | index("vm") != null' "$out/hwassist.json" >/dev/null
		assert [ -s "$out/report-hwassist/report.html" ]
	fi
	# The run's files belong to the user who ran the script, not to root.
	[ "$(stat -c %u "$out/results.json")" = "$(id -u)" ]
}

@test "run-on-instance.sh: usage error exits 2, an unreadable baseline 1, before installing anything" {
	run "$SRC/ci/cloud/run-on-instance.sh"
	assert_failure 2
	assert_output --partial "usage:"
	run "$SRC/ci/cloud/run-on-instance.sh" "$BATS_TEST_TMPDIR/nope.json"
	assert_failure 1
	assert_output --partial "cannot read the baseline"
	[ ! -d "$SRC/build" ]
}

@test "the GitHub Actions step as written, first run without a baseline: artefacts, exit 0" {
	need_root
	# The workflow's env and its run step, taken from the template itself.
	local yml="$SRC/ci/cloud/github-actions.yml"
	# shellcheck disable=SC2016 # python code, not shell
	python3 -c 'import sys, yaml
w = yaml.safe_load(open(sys.argv[1]))
job = w["jobs"]["bench"]
for k, v in job["env"].items():
    print("export %s=%s" % (k, "5" if "${{" in str(v) else v))
steps = [s["run"] for s in job["steps"] if "run" in s]
assert len(steps) == 1, steps
print(steps[0])' "$yml" >"$BATS_TEST_TMPDIR/step.sh"
	grep -q "run-on-instance.sh" "$BATS_TEST_TMPDIR/step.sh"
	cd "$SRC"
	SUITE=smoke run bash -e "$BATS_TEST_TMPDIR/step.sh"
	assert_success
	assert_output --partial "::warning::no baseline at results/baselines/github-ubuntu-24.04.json"
	assert_output --partial "nothing to gate"
	check_run_artefacts "$SRC/ci-out"
	assert [ ! -e "$SRC/ci-out/compare.md" ]
	# The run path installed no browser and needs none.
	run ! grep -q chromium <("$SRC/ci/install-deps.sh" --list toolchain build run)
}

@test "run-on-instance.sh gates: against a baseline twice as fast, compare finds the slowdown and exits 3" {
	need_root
	[ -s "$SRC/ci-out/results.json" ] || skip "needs the previous test's run"
	# The previous run with every time halved (the round medians too: compare's
	# replicates): this run is ~2x slower than that.
	jq '.measurements |= map(if .summary then
			(.samples |= map(. * 0.5)) |
			(if .rounds.medians then .rounds.medians |= map(. * 0.5) else . end) |
			(.summary |= with_entries(if .key == "cv" or .key == "ci_coverage" or (.value | type) != "number"
				then . else .value *= 0.5 end))
		else . end)' "$SRC/ci-out/results.json" >"$BATS_TEST_TMPDIR/fast.json"
	cd "$BATS_TEST_TMPDIR"
	SUITE=smoke run "$SRC/ci/cloud/run-on-instance.sh" fast.json 10 gate-out
	assert_failure 3
	assert_output --partial "compare exit status 3"
	check_run_artefacts "$BATS_TEST_TMPDIR/gate-out"
	assert [ -s gate-out/report-vs-baseline/report.html ]
	grep -qi "regression" gate-out/compare.md
	jq -e '.' gate-out/compare.json >/dev/null
}

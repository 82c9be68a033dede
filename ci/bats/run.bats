#!/usr/bin/env bats
# `nestbench run --suite smoke`: a results file that validates, verified page
# sizes, and the machine left as found (hugepage pools, also after SIGINT).

load helpers

setup_file() {
	export NB_OUT="$BATS_FILE_TMPDIR/smoke.json"
	export POOL2M_BEFORE POOL1G_BEFORE
	POOL2M_BEFORE=$(pool_size 2048)
	POOL1G_BEFORE=$(pool_size 1048576)
	local rc=0
	"$BATS_TEST_DIRNAME/../../build/nestbench" run --mode native --suite smoke --out "$NB_OUT" \
		>"$BATS_FILE_TMPDIR/stdout" 2>"$BATS_FILE_TMPDIR/stderr" || rc=$?
	echo "$rc" >"$BATS_FILE_TMPDIR/status"
}

@test "smoke run succeeds and says where the results are" {
	[ "$(cat "$BATS_FILE_TMPDIR/status")" = 0 ] || fail "smoke run failed: $(cat "$BATS_FILE_TMPDIR/stderr")"
	run cat "$BATS_FILE_TMPDIR/stdout"
	assert_output --partial "results: $NB_OUT"
	assert_output --partial "ns per access"
}

@test "no progress lines when stderr is not a terminal" {
	run cat "$BATS_FILE_TMPDIR/stderr"
	refute_output --partial "nestbench: ["
}

@test "the results file validates against results/schema.json" {
	run validate_schema "$NB_OUT"
	assert_success
}

@test "every measurement of the smoke suite is there: kernel x backing x working set" {
	# 16K..16M at one point per octave = 11 working sets, two kernels, four backings;
	# a backing that could not be had appears as skipped entries instead.
	run jq '[.measurements[] | select(.family == "chase" and .skipped == null)] | length' "$NB_OUT"
	local measured=$output
	run jq '[.measurements[] | select(.family == "chase" and .skipped != null)] | length' "$NB_OUT"
	local skipped=$output
	run jq -r '[.measurements[] | select(.family == "chase" and .skipped == null) | .backing.requested] | unique | length' "$NB_OUT"
	[ "$measured" -eq $((output * 22)) ]
	[ $((measured / 22 + skipped / 2)) -eq 4 ]
}

@test "4k and thp buffers have verified page sizes" {
	run jq -e '[.measurements[] | select(.backing.requested == "4k")] | all(.backing.verified_page_bytes == 4096 and .backing.coverage > 0.99)' "$NB_OUT"
	assert_success
	# THP is best effort for the kernel: it must be verified and flagged if it fell back.
	run jq -e '[.measurements[] | select(.backing.requested == "thp" and .skipped == null)] | all(.backing.verified_page_bytes == 2097152 or (.flags | any(test("unverified"))))' "$NB_OUT"
	assert_success
}

@test "hugetlb buffers are verified at 2M and 1G when the pools can be reserved (root)" {
	is_root || skip "not root: pools cannot be reserved"
	for b in hugetlb-2m:2097152 hugetlb-1g:1073741824; do
		run jq -e --arg b "${b%%:*}" --argjson p "${b#*:}" \
			'[.measurements[] | select(.backing.requested == $b)] | (length > 0) and all(.skipped != null or .backing.verified_page_bytes == $p)' "$NB_OUT"
		assert_success
	done
	run jq -e '[.measurements[] | select(.backing.requested == "hugetlb-2m" and .skipped == null)] | length > 0' "$NB_OUT"
	assert_success
}

@test "hugepage pools are back at their original sizes after the run" {
	[ "$(pool_size 2048)" = "$POOL2M_BEFORE" ]
	[ "$(pool_size 1048576)" = "$POOL1G_BEFORE" ]
}

@test "samples, summary and translation cost are consistent" {
	run jq -e '[.measurements[] | select(.skipped == null) | .summary as $s | ($s.min <= $s.median and $s.median <= ([.samples[]] | max) and $s.ci95_low <= $s.median and $s.median <= $s.ci95_high and (.samples | length) == 5)] | all' "$NB_OUT"
	assert_success
	run jq -e '.derived.translation | length > 0' "$NB_OUT"
	assert_success
	# translation = chase - chase-ctl at the same point.
	run jq -e '.derived.translation[0] as $t | [.measurements[] | select(.backing.requested == $t.backing and .working_set_bytes == $t.working_set_bytes)] | (map(select(.kernel == "chase"))[0].summary.median - map(select(.kernel == "chase-ctl"))[0].summary.median - $t.ns_per_access) | fabs < 1e-6' "$NB_OUT"
	assert_success
}

@test "software counters prove the chase loop did not fault or migrate" {
	run jq -e '[.measurements[] | select(.family == "chase" and .skipped == null) | .counters] | all(.page_faults == 0 and .cpu_migrations == 0)' "$NB_OUT"
	assert_success
}

@test "chase params: one line per page, the control the same chain on its own large pages" {
	run jq -e '[.measurements[] | select(.kernel == "chase" and .skipped == null)] | all(.params.stride_bytes == 4096 and .params.lines == .working_set_bytes / 4096)' "$NB_OUT"
	assert_success
	# chase-ctl: the chase's stride and span, on a mapping of its own verified
	# on 2M or 1G pages, its pages counted; or skipped saying why.
	run jq -e '[.measurements[] | select(.kernel == "chase-ctl" and .skipped == null)] | all(.params.stride_bytes == 4096 and .params.span_bytes == .params.lines * 4096 and .params.control_backing.verified_page_bytes >= 2097152 and .params.verified_pages == ((.params.span_bytes + .params.control_backing.verified_page_bytes - 1) / .params.control_backing.verified_page_bytes | floor))' "$NB_OUT"
	assert_success
	run jq -e '[.measurements[] | select(.kernel == "chase-ctl" and .skipped != null)] | all(.skipped | test("hugetlb-1g"))' "$NB_OUT"
	assert_success
}

@test "SIGINT during a run: pools restored, no results file, no temporary file" {
	is_root || skip "not root: no pools to reserve"
	local out="$BATS_TEST_TMPDIR/int.json" before
	before=$(pool_size 2048)
	# Without job control a background job starts with SIGINT ignored (and
	# nestbench, like any well-behaved tool, keeps an inherited SIG_IGN).
	set -m
	"$NB" run --mode native --suite quick --backing hugetlb-2m --out "$out" --quiet &
	local pid=$!
	set +m
	# Wait until the pool has grown, i.e. the run is measuring on hugetlb pages.
	for _ in $(seq 100); do
		[ "$(pool_size 2048)" != "$before" ] && break
		sleep 0.1
	done
	[ "$(pool_size 2048)" != "$before" ]
	kill -INT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ] # killed by SIGINT, after the pools were restored
	[ "$(pool_size 2048)" = "$before" ]
	[ ! -e "$out" ]
	run bash -c "ls '$BATS_TEST_TMPDIR' | grep -c tmp"
	assert_output 0
}

@test "an explicitly requested backing that cannot be had is an error" {
	# As an unprivileged user the 1G pool cannot grow: ask for one page more than it has free.
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	[ -r /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages ] || skip "no 1G hugetlb pool in this kernel"
	local free
	free=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages)
	# The bats temporary directories are private to root: use a shared one.
	local dir
	dir=$(mktemp -d /tmp/nestbench-nobody.XXXXXX)
	chmod 777 "$dir"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$NB" run --mode native --backing hugetlb-1g --suite smoke \
		--ws-min 16k --ws-max "$((free + 1))g" --out "$dir/x.json"
	local files
	files=$(ls -A "$dir")
	rm -rf "$dir"
	assert_failure 1
	assert_output --partial "hugetlb-1g"
	[ -z "$files" ]
}

@test "on a terminal: one progress line per measurement and round on stderr" {
	command -v script >/dev/null || skip "script (util-linux) not installed"
	local out="$BATS_TEST_TMPDIR/tty.json"
	# script gives the command a pseudo-terminal; its stdout and stderr both land in the log.
	# 3 points x 2 kernels, each measured in 2 rounds: 12 lines, 6 merged measurements.
	run script -qec "'$NB' run --mode native --kernel chase,chase-ctl --backing 4k --ws-min 16k --ws-max 64k --points-per-octave 1 --rounds 2 --samples 4 --time-budget 0 --out '$out'" /dev/null
	assert_success
	local lines
	lines=$(grep -c 'nestbench: \[[0-9]*/12\]' <<<"$output")
	[ "$lines" -eq 12 ]
	run jq '.measurements | length' "$out"
	assert_output 6
}

@test "timer and loop overheads are measured and recorded" {
	run jq -e '.timing | .tsc_ticks_per_ns > 0 and .timer_overhead_ticks >= 0 and .loop_overhead_ns_per_access >= 0' "$NB_OUT"
	assert_success
}

@test "no two cells share an identity: the run compared with itself matches every row" {
	# Skipped cells keep what tells them apart (variant, threads, placement):
	# vmexit's pio and mmio variants both skip natively, and must stay two.
	run jq '[.measurements[] | select(.kernel == "vmexit" and .mode == "native" and .skipped != null)]
		| group_by(.backing.requested)
		| map(map(.params.variant) | (length >= 2 and length == (unique | length))) | all' "$NB_OUT"
	assert_output true
	run "$NB" compare --format json "$NB_OUT" "$NB_OUT"
	assert_success
	run jq '[.unmatched[] | select(.reason | startswith("same identity"))] | length' <<<"$output"
	assert_output 0
}

@test "natively the chase and its control are timed in turn, each naming the other" {
	run jq -r '[.measurements[] | select(.mode == "native" and .family == "chase" and .skipped == null)
		| "\(.kernel) \(.params.interleaved.with)"] | unique | .[]' "$NB_OUT"
	if jq -e '[.measurements[] | select(.kernel == "chase-ctl" and .skipped == null)] | length == 0' "$NB_OUT" \
		>/dev/null; then
		# No hugetlb page for the control: the chase is timed alone.
		assert_output "chase null"
	else
		assert_output $'chase chase-ctl\nchase-ctl chase'
	fi
}

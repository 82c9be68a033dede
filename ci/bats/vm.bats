#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $stderr (run --separate-stderr)
# nestbench run --mode vm|both: every matrix cell that can run here produces a
# schema-valid results file; what cannot be had is skipped with a reason.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	OUT="${BATS_TEST_TMPDIR}/vm.json"
}

@test "run --mode vm --suite smoke: schema-valid, every cell measured or skipped with a reason" {
	run --separate-stderr "$NB" run --mode vm --suite smoke --ws-max 1m -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	# No native measurements in vm mode.
	jq -e '[.measurements[] | select(.mode != "vm")] | length == 0' "$OUT"
	# Every guest page x backing cell of the chase is there, measured or skipped with a reason.
	for gp in 4k 2m 1g; do
		for b in 4k thp hugetlb-2m hugetlb-1g; do
			jq -e --arg gp "$gp" --arg b "$b" \
				'[.measurements[] | select(.kernel == "chase" and .guest_page.requested == $gp and .backing.requested == $b)] | length > 0' "$OUT"
		done
	done
	jq -e '[.measurements[] | select(.skipped != null) | .skipped | length > 0] | all' "$OUT"
	if [ -w /dev/kvm ]; then
		# Measured cells carry the guest page the payload built and the host's MMU mode.
		jq -e '[.measurements[] | select(.kernel == "chase" and .skipped == null)] | length > 0' "$OUT"
		jq -e '[.measurements[] | select(.skipped == null and .kernel == "chase") |
			.guest_page.built_page_bytes == ({"4k": 4096, "2m": 2097152, "1g": 1073741824}[.guest_page.requested])] | all' "$OUT"
		jq -e '[.measurements[] | select(.skipped == null) | .mmu_virt_mode | type == "string"] | all' "$OUT"
		jq -e '[.measurements[] | select(.kernel == "vm-lifecycle" and .skipped == null)] | length > 0' "$OUT"
	fi
}

@test "run --mode both interleaves native and vm measurements of the same points" {
	run --separate-stderr "$NB" run --mode both --suite smoke -k chase -b 4k --guest-page 2m --ws-max 64k -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.kernel == "chase") | .mode] | index("native") != null' "$OUT"
	jq -e '.config.mode == "both" and .config.guest_pages == ["2m"]' "$OUT"
	if [ -w /dev/kvm ]; then
		# native then vm at each point
		jq -e '[.measurements[] | select(.kernel == "chase") | .mode] | .[0:2] == ["native", "vm"]' "$OUT"
	fi
}

@test "--mode both: translation per guest page, and the report draws the guest/native heatmap" {
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	run --separate-stderr "$NB" run --mode both --suite smoke -k chase,chase-ctl -b 4k --guest-page 4k,2m \
		--ws-min 16k --ws-max 64k -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	# Every VM translation point names its guest page; both guest pages are there.
	jq -e '[.derived.translation[] | select(.mode == "vm")] | (length > 0) and all(.guest_page != null)' "$OUT"
	jq -e '[.derived.translation[] | select(.mode == "vm") | .guest_page] | unique == ["2m", "4k"]' "$OUT"
	run "$NB" report "$OUT" --out "$BATS_TEST_TMPDIR/rep"
	assert_success
	[ -s "$BATS_TEST_TMPDIR/rep/heatmap-A-64K.svg" ]
	# One cell per guest page on the 4k host backing (rows: backing index, guest index, ratio).
	[ "$(wc -l <"$BATS_TEST_TMPDIR/rep/heatmap-A-64K.dat")" -eq 2 ]
}

@test "--guest-page rejects unknown sizes and needs a vm mode" {
	run --separate-stderr "$NB" run --mode vm --guest-page 3m
	assert_failure 2
	[[ "$stderr" == *"unknown guest page size '3m'"* ]]
	run --separate-stderr "$NB" run --mode native --guest-page 2m
	assert_failure 2
	[[ "$stderr" == *"--guest-page needs --mode vm or both"* ]]
	run --separate-stderr "$NB" run --mode sideways
	assert_failure 2
	[[ "$stderr" == *"unknown mode 'sideways' (--mode takes native, vm, linux or both"* ]]
}

@test "a run without --mode: native and micro-VM side by side where /dev/kvm opens, natively elsewhere saying why" {
	is_root || skip "needs root: /dev/kvm is root's here, and the second half runs as nobody"
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	run --separate-stderr "$NB" run --suite smoke --kernel chase --backing 4k --ws-max 32k --guest-page 4k \
		--samples 3 -q -o "$OUT"
	assert_success
	jq -e '.config.mode == "native,vm" or .config.mode == "both"' "$OUT"
	jq -e '[.measurements[] | select(.mode == "native")] | length > 0' "$OUT"
	jq -e '[.measurements[] | select(.mode == "vm" and .skipped == null)] | length > 0' "$OUT"
	# As a user who cannot open /dev/kvm: natively, with the reason and the fix.
	local dir
	dir=$(mktemp -d /tmp/nestbench-nobody.XXXXXX) # a place nobody can reach and write
	chmod 777 "$dir"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$NB" run --suite smoke --kernel chase \
		--backing 4k --ws-max 32k --samples 3 -o "$dir/n.json"
	local n
	n=$(jq '[.measurements[] | select(.mode != "native")] | length' "$dir/n.json")
	rm -rf "$dir"
	assert_success
	[[ "$stderr" == *"measuring natively only, no micro-VM beside it: cannot open /dev/kvm"* ]]
	[[ "$stderr" == *"kvm group"* ]]
	[ "$n" = 0 ]
}

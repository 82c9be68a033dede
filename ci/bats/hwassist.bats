#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $stderr (run --separate-stderr)
# The hardware-assist kernels (vmexit, vmswitch, guest-shootdown) in smoke
# size: the VMs ran, took the turns claimed (counted by guests and VMMs),
# shootdowns reached every vCPU (or the precise skip reason), side by side
# with their native counterparts in a schema-valid file and the report.

load 'helpers'

bats_require_minimum_version 1.5.0

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	OUT="${BATS_TEST_TMPDIR}/hw.json"
}

kvm_usable() {
	[ -w /dev/kvm ]
}

@test "--mode both: every hardware-assist kernel beside its native counterpart, schema-valid" {
	run --separate-stderr "$NB" run --mode both -k vmexit,vmswitch,guest-shootdown -b 4k --guest-page 4k \
		--suite smoke -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.family != "hwassist")] | length == 0' "$OUT"
	# Native counterparts: a host system call, host processes, the shootdown kernel.
	jq -e '[.measurements[] | select(.mode == "native" and .skipped == null) | .kernel] | unique ==
		["guest-shootdown", "vmexit", "vmswitch"]' "$OUT"
	jq -e '[.measurements[] | select(.mode == "native" and .kernel == "vmexit" and .skipped != null) |
		.skipped | test("no native counterpart")] | length == 2 and all' "$OUT"
	jq -e '[.measurements[] | select(.skipped != null) | .skipped | length > 0] | all' "$OUT"
	if ! kvm_usable; then
		skip "no usable /dev/kvm: the guest sides are skipped (checked above)"
	fi
	# Every exit kind measured in the guest, each exit answered by the VMM.
	jq -e '[.measurements[] | select(.kernel == "vmexit" and .mode == "vm" and .skipped == null) |
		.params.exit] | sort == ["mmio", "pio", "syscall"]' "$OUT"
	jq -e '[.measurements[] | select(.kernel == "vmexit" and .mode == "vm" and .params.exit != "syscall") |
		.params.host_share | .bench_exits == .ops and .ops > 0] | all' "$OUT"
	jq -e '[.measurements[] | select(.mode == "vm" and .skipped == null) |
		.guest_page.built_page_bytes == 4096 and (.mmu_virt_mode | type == "string")] | all' "$OUT"
	# Two VMs took the turns claimed: each guest and each VMM counted them all.
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .mode == "vm" and .params.switch == "vm") |
		.params.turns as $t | ($t.turns_counted_by_guest == $t.turns_counted_by_vmm) and
		($t.turns_counted_by_guest | length == 2 and all(. > 0))] | length == 2 and all' "$OUT"
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .mode == "vm") | .params.tlb_tagging.verdict |
		IN("tagged", "not tagged", "unknown")] | all' "$OUT"
	# Two VMM processes, and the tagging measured beside the module's view (numbers, a verdict).
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .mode == "vm" and .params.switch == "vm") |
		.params.pids | length == 2 and .[0] != .[1] and all(. > 0)] | length == 2 and all' "$OUT"
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .mode == "vm" and .params.switch == "vm" and
		.working_set_bytes > 0) | .params.tlb_tagging.measured |
		(.after_switch_ns_per_pass > 0) and (.same_vm_ns_per_pass > 0) and (.ratio > 0) and
		(.verdict | IN("tagged", "not tagged", "inconclusive")) and (.thresholds.why | length > 0)] |
		length == 1 and all' "$OUT"
	# Guest PMU: never available with every hardware count zero.
	jq -e '[.measurements[] | select(.mode == "vm" and .skipped == null) | (.pmu.vms // [.pmu])[] |
		(.available | not) or ([.events[] | select(.kind == "hardware") | .count // 0] | add > 0)] | all' "$OUT"
	# Shootdowns: acknowledged by every other vCPU, or skipped with the reason.
	jq -e '[.measurements[] | select(.kernel == "guest-shootdown" and .mode == "vm" and .skipped == null) |
		.params.threads as $n | .params.shootdowns | .acknowledged == .sent * ($n - 1) and
		(.ipis_handled_per_vcpu[1:] | all(. >= 0))] | length > 0 and all' "$OUT"
	if [ "$(nproc)" -ge 2 ]; then
		jq -e '[.measurements[] | select(.kernel == "guest-shootdown" and .mode == "vm" and .params.threads == 2) |
			.params.shootdowns | .ipis_handled_per_vcpu[1] >= .sent] | length == 1 and all' "$OUT"
	fi
}

@test "--no-pmu: no guest PMU session is opened for any VM of vmswitch" {
	kvm_usable || skip "no usable /dev/kvm"
	run --separate-stderr "$NB" run --mode vm -k vmswitch -b 4k --guest-page 4k --suite smoke --no-pmu -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .skipped == null) | .pmu.vms[] |
		.available == false and .reason == "not opened: --no-pmu"] | length == 6 and all' "$OUT"
}

@test "--mode native: only the native counterparts, the VM-only variants skipped with the reason" {
	run --separate-stderr "$NB" run --mode native -k vmexit,vmswitch -b 4k --suite smoke -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.mode != "native")] | length == 0' "$OUT"
	jq -e '[.measurements[] | select(.kernel == "vmswitch" and .skipped != null) | .skipped |
		test("no native counterpart")] | length > 0 and all' "$OUT"
}

@test "more vCPUs than PUs: guest-shootdown is refused with the reason" {
	run --separate-stderr "$NB" run --mode vm -k guest-shootdown -b 4k --threads $(($(nproc) + 1)) -q -o "$OUT"
	assert_failure 2
	[[ "$stderr" == *"PUs only"* ]]
}

@test "the report has a hardware-assist section" {
	run --separate-stderr "$NB" run --mode both -k vmexit -b 4k --guest-page 4k --suite smoke -q -o "$OUT"
	assert_success
	run --separate-stderr "$NB" report "$OUT" --out "${BATS_TEST_TMPDIR}/rep"
	assert_success
	# One chart per kernel of the family: vmexit is the only one run here.
	[ -s "${BATS_TEST_TMPDIR}/rep/bars-hwassist-1.dat" ]
	[ ! -e "${BATS_TEST_TMPDIR}/rep/bars-hwassist-2.dat" ]
	grep -q "Hardware-assist kernel vmexit" "${BATS_TEST_TMPDIR}/rep/report.md"
	# Native and guest of the guest's own system call share a row (a category).
	grep -q '"0B syscall"' "${BATS_TEST_TMPDIR}/rep/bars-hwassist-1.dat"
	head -1 "${BATS_TEST_TMPDIR}/rep/bars-hwassist-1.dat" | grep -q '"A native none"'
	head -1 "${BATS_TEST_TMPDIR}/rep/bars-hwassist-1.dat" | grep -q '"A vm none guest=4k"'
}

@test "SIGINT during vmswitch leaves no VM, thread or file behind" {
	kvm_usable || skip "no usable /dev/kvm"
	env --default-signal=INT "$NB" run --mode vm -k vmswitch -b 4k --guest-page 4k --size 0 \
		--samples 10000 --sample-ms 50 -q -o "$OUT" 3>&- &
	local pid=$!
	sleep 2
	kill -INT "$pid"
	local status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || fail "the run ended with status $status, not by SIGINT"
	[ ! -e "/proc/$pid" ]
	[ ! -e "$OUT" ]
}

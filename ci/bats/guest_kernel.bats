#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $stderr (run --separate-stderr)
# The guest-kernel kernels and vm-lifecycle are table kernels like the
# hardware-assist ones: listed, selected by --kernel, run in their own VMs
# (bench/hwvm.c) in --mode vm/both, skipped natively with the reason, and a
# guest that stops costs its cell only ("failed": true, exit status 4).

load 'helpers'

bats_require_minimum_version 1.5.0

GK_KERNELS="guest-syscall guest-fault guest-protect guest-unmap guest-ctxsw guest-ctxsw-pcid vm-lifecycle"

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	OUT="${BATS_TEST_TMPDIR}/gk.json"
}

@test "list kernels shows every guest-kernel kernel and vm-lifecycle with its family and metric" {
	run "$NB" list kernels
	assert_success
	assert_output --regexp "guest-syscall +guest-kernel +ns_per_call"
	assert_output --regexp "guest-fault +guest-kernel +ns_per_fault"
	assert_output --regexp "guest-protect +guest-kernel +ns_per_op"
	assert_output --regexp "guest-unmap +guest-kernel +ns_per_op"
	assert_output --regexp "guest-ctxsw +guest-kernel +ns_per_switch"
	assert_output --regexp "guest-ctxsw-pcid +guest-kernel +ns_per_switch"
	assert_output --regexp "vm-lifecycle +vm +ns_per_vm"
}

@test "--kernel guest-syscall --mode vm measures that kernel only, at each guest page" {
	run --separate-stderr "$NB" run --mode vm -k guest-syscall -b 4k --guest-page 4k,2m --suite smoke -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | .kernel] | unique == ["guest-syscall"]' "$OUT"
	jq -e '[.measurements[] | select(.mode == "vm" and .family == "guest-kernel" and .metric == "ns_per_call") |
		.guest_page.requested] | sort == ["2m", "4k"]' "$OUT"
	if [ -w /dev/kvm ]; then
		jq -e '[.measurements[] | select(.skipped == null)] | length == 2' "$OUT"
		jq -e '[.measurements[] | .kvm.stats | type == "object"] | all' "$OUT"
		jq -e '[.measurements[] | .params.guest_kernel_ns_per_op > 0 and .params.ops_per_sample == 64] | all' "$OUT"
		# A sample is at least one whole guest command of 64 calls, however slow the guest kernel.
		jq -e '[.measurements[] | .iterations_per_sample >= 64] | all' "$OUT"
		jq -e '[.measurements[] | .guest_page.built_page_bytes == ({"4k": 4096, "2m": 2097152}[.guest_page.requested])] | all' "$OUT"
	fi
}

@test "--mode native: the guest-only kernels are skipped with the reason" {
	# shellcheck disable=SC2086
	run --separate-stderr "$NB" run --mode native -k "$(echo $GK_KERNELS | tr ' ' ,)" -b 4k --suite smoke -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.mode == "native")] | length == 7' "$OUT"
	jq -e '[.measurements[] | .skipped | test("no native counterpart")] | all' "$OUT"
}

@test "--mode vm: every guest-kernel kernel and vm-lifecycle measured (or skipped for a reason) at 4k guest pages" {
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	# shellcheck disable=SC2086
	run --separate-stderr "$NB" run --mode vm -k "$(echo $GK_KERNELS | tr ' ' ,)" -b 4k --guest-page 4k \
		--suite smoke -q -o "$OUT"
	assert_success
	validate_schema "$OUT"
	for k in $GK_KERNELS; do
		jq -e --arg k "$k" '[.measurements[] | select(.kernel == $k and .mode == "vm")] | length == 1' "$OUT"
	done
	# Only PCID may be missing (the guest's CPUID); everything else ran.
	jq -e '[.measurements[] | select(.skipped != null) | .kernel] - ["guest-ctxsw-pcid"] | length == 0' "$OUT"
	# The figures count the guest pages their region holds: 64 faults and 16 remaps of 4K pages.
	jq -e '.measurements[] | select(.kernel == "guest-fault") | .working_set_bytes == 262144' "$OUT"
	jq -e '.measurements[] | select(.kernel == "guest-unmap") | .working_set_bytes == 65536' "$OUT"
	jq -e '.measurements[] | select(.kernel == "vm-lifecycle") |
		.params.region_bytes == 16777216 and .params.first_create_boot_ns > 0 and .summary.median > 0' "$OUT"
}

@test "a guest that stops in guest-fault: that cell failed with the reason, the others measured, exit 4" {
	[ -w /dev/kvm ] || skip "no usable /dev/kvm"
	NESTBENCH_INJECT_GUEST_FAULT=guest-fault run --separate-stderr "$NB" run --mode vm \
		-k guest-syscall,guest-fault,vm-lifecycle -b 4k --guest-page 4k --suite smoke -q -o "$OUT"
	assert_failure 4
	validate_schema "$OUT"
	jq -e '[.measurements[] | select(.failed == true) | .kernel] == ["guest-fault"]' "$OUT"
	jq -e '.measurements[] | select(.kernel == "guest-fault") | .skipped | test("NESTBENCH_INJECT_GUEST_FAULT|fault")' "$OUT"
	jq -e '[.measurements[] | select(.kernel != "guest-fault" and .skipped == null)] | length == 2' "$OUT"
	[[ "$stderr" == *"1 cell failed"* ]]
}

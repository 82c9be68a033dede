#!/usr/bin/env bats
# nestbench info: help, JSON facts, human output, usage errors.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

bats_require_minimum_version 1.5.0

setup() {
	NB="${BATS_TEST_DIRNAME}/../../build/nestbench"
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
}

@test "info --help prints usage to stdout and exits 0" {
	run --separate-stderr "$NB" info --help
	assert_success
	assert_output --partial 'usage: nestbench info'
	assert_output --partial '--json'
	[ -z "$stderr" ]
}

@test "info --json is valid JSON with the documented facts" {
	run --separate-stderr "$NB" info --json
	assert_success
	echo "$output" | jq -e '.cpu.vendor | type == "string" and length > 0'
	echo "$output" | jq -e '(.hypervisor.signature | type) as $t | if .hypervisor.present then $t == "string" else $t == "null" end'
	echo "$output" | jq -e '.kvm.mmu_virt_mode | IN("ept", "npt", "shadow", "pvm-shadow", "unknown", "none")'
	echo "$output" | jq -e '.topology.pus >= 1'
	echo "$output" | jq -e '.tsc.ticks_per_ns > 0'
	echo "$output" | jq -e '.topology.allowed_pus | length >= 1 and all(type == "number")'
	echo "$output" | jq -e '.user_is_root | type == "boolean"'
}

@test "info --json reports the mode that the module parameters say" {
	run "$NB" info --json
	assert_success
	mode=$(echo "$output" | jq -r '.kvm.mmu_virt_mode')
	if [ -d /sys/module/kvm_intel ] && [ "$(cat /sys/module/kvm_intel/parameters/ept)" = Y ]; then
		assert_equal "$mode" ept
	elif [ -d /sys/module/kvm_amd ] && grep -qx '[Y1]' /sys/module/kvm_amd/parameters/npt; then
		assert_equal "$mode" npt
	elif [ -d /sys/module/kvm_pvm ]; then
		assert_equal "$mode" pvm-shadow
	elif [ ! -e /dev/kvm ] && [ ! -d /sys/module/kvm ]; then
		assert_equal "$mode" none
	fi
}

@test "info --json honours the process affinity" {
	run "$NB" info --json
	assert_success
	first=$(echo "$output" | jq -r '.topology.allowed_pus[0]')
	run taskset -c "$first" "$NB" info --json
	assert_success
	echo "$output" | jq -e --argjson pu "$first" '.topology.allowed_pus == [$pu] and .topology.default_measure_pu == $pu'
}

@test "info prints aligned sections" {
	run --separate-stderr "$NB" info
	assert_success
	for section in Host CPU TSC Hypervisor Kernel THP Hugepages KVM Topology Perf; do
		assert_line "$section"
	done
	assert_line --regexp '^  vendor: +[^ ]'
	assert_line --regexp '^  mmu virtualization: +(ept|npt|shadow|pvm-shadow|unknown|none)$'
	assert_line --regexp '^  L1d: +[0-9]+K, 64B lines'
	# Values start in the same column on every key line.
	cols=$(echo "$output" | grep '^  [^ ].*: ' | sed -E 's/^(  [^:]+: +).*/\1/' | awk '{ print length($0) }' | sort -u)
	assert_equal "$cols" 25
}

@test "info --bogus fails with a usage error" {
	run --separate-stderr "$NB" info --bogus
	assert_failure 2
	assert_output ''
	[[ "$stderr" == *"unknown option '--bogus'"* ]]
	[[ "$stderr" == *"nestbench info --help"* ]]
}

@test "info with a stray argument fails with a usage error" {
	run --separate-stderr "$NB" info extra
	assert_failure 2
	[[ "$stderr" == *"unexpected argument 'extra'"* ]]
}

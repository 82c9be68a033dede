#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $output
# The micro-VM on KVM with hardware-assisted paging, where this machine's own
# KVM cannot give it: `nestbench run --mode linux` boots a Linux guest under
# QEMU TCG with `-cpu max` (emulated AMD SVM with nested paging), the guest
# loads kvm_amd (npt=Y) and, with --guest-mode both, runs every VM kernel
# there.  The guest's memory is on host THP (QEMU's memory-backend-ram with
# prealloc).  Function only: TCG timings mean nothing and nothing here looks
# at them.
#
# One guest boot for the whole file (setup_file); the tests read its file.

load 'helpers'

bats_require_minimum_version 1.5.0

VM_KERNELS="chase chase-ctl guest-syscall guest-fault guest-protect guest-unmap guest-ctxsw guest-ctxsw-pcid
vm-lifecycle vmexit vmswitch guest-shootdown"

setup_file() {
	export NPT_DIR="$BATS_FILE_TMPDIR"
	export NPT_OUT="$NPT_DIR/npt.json"
	[ -x "$NB" ] || return 0
	is_root || return 0
	command -v qemu-system-x86_64 >/dev/null || return 0
	[ -x /bin/busybox ] || return 0
	compgen -G '/boot/vmlinuz-*' >/dev/null || return 0
	export NESTBENCH_CACHE_DIR="$NPT_DIR/cache"
	# Five minutes at most: the guest boots in seconds, the smoke run in about 2 minutes
	# in one round (what is checked here is that every VM kernel runs under NPT, not its
	# interval; five rounds of every VM set-up under TCG would not fit), in 5g (the run
	# holds every VM of the plan at once; in 3g the guest's nestbench ran out of memory).
	"$NB" run --mode linux --guest-mode both --guest-accel tcg --guest-timeout 290 --guest-memory 5g --rounds 1 \
		--guest-backing 4k --backing thp --suite smoke --ws-max 1m \
		--kernel chase,chase-ctl,guest-syscall,guest-fault,guest-protect,guest-unmap,guest-ctxsw,guest-ctxsw-pcid,vm-lifecycle,vmexit,vmswitch,guest-shootdown \
		--out "$NPT_OUT" >"$NPT_DIR/stdout" 2>"$NPT_DIR/stderr"
	echo $? >"$NPT_DIR/status"
}

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	is_root || skip "needs root (/dev/kvm inside the guest is fine, but /boot/vmlinuz-* is root's)"
	command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (apt-get install -y qemu-system-x86)"
	[ -x /bin/busybox ] || skip "no /bin/busybox (apt-get install -y busybox-static)"
	compgen -G '/boot/vmlinuz-*' >/dev/null || skip "no /boot/vmlinuz-* (apt-get install -y linux-image-amd64)"
}

@test "--mode linux under TCG: exit 0 and a schema-valid results file with the guest's measurements" {
	run cat "$NPT_DIR/status"
	if [ "$output" != 0 ]; then
		echo "status $output; stderr (the guest's console is echoed there):"
		tail -40 "$NPT_DIR/stderr"
		fail "nestbench run --mode linux failed"
	fi
	validate_schema "$NPT_OUT"
	jq -e '.qemu.accel == "tcg" and .qemu.cpu_model == "max"' "$NPT_OUT"
	jq -e '[.measurements[] | select(.mode != "linux")] | length == 0' "$NPT_OUT"
	grep -q "TCG: function only" "$NPT_DIR/stdout"
}

@test "inside: KVM is kvm_amd with NPT, nested, and every VM measurement says npt" {
	jq -e '.guest_host.kvm.mmu_virt_mode == "npt" and .guest_host.kvm.nested == true' "$NPT_OUT"
	jq -e '.guest_host.kvm.params["kvm_amd.npt"] == "Y"' "$NPT_OUT"
	jq -e '[.measurements[] | select(.inner_mode == "vm")] | length > 0' "$NPT_OUT"
	jq -e '[.measurements[] | select(.inner_mode == "vm" and .mmu_virt_mode != "npt")] | length == 0' "$NPT_OUT"
}

@test "the guest's memory is on host THP, as QEMU's smaps show" {
	jq -e '.qemu.boots | length == 1 and .[0].error == null' "$NPT_OUT"
	jq -e '.qemu.boots[0].host_backing | .requested == "thp" and (.memory_backend | test("memory-backend-ram.*prealloc=on")) and
		.verified_page_bytes == 2097152 and .coverage > 0.5' "$NPT_OUT"
	jq -e '[.measurements[] | select(.host_backing.requested != "thp")] | length == 0' "$NPT_OUT"
}

@test "every VM kernel x guest page is measured or skipped for a reason named here; none failed" {
	for k in $VM_KERNELS; do
		for g in 4k 2m 1g; do
			n=$(jq --arg k "$k" --arg g "$g" \
				'[.measurements[] | select(.inner_mode == "vm" and .kernel == $k and .guest_page.requested == $g)] | length' \
				"$NPT_OUT")
			[ "$n" -gt 0 ] || fail "no measurement of $k with $g guest pages"
		done
	done
	jq -e '[.measurements[] | select(.failed == true)] | length == 0' "$NPT_OUT"
	# The reasons this emulated machine gives: TCG's CPU offers no PCID to
	# KVM's guests; a 1G guest page leaves guest-shootdown's 4M region one page.
	run jq -r '.measurements[] | select(.inner_mode == "vm" and .skipped != null) | "\(.kernel) \(.guest_page.requested): \(.skipped)"' "$NPT_OUT"
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		case "$line" in
		"guest-ctxsw-pcid "*": the guest has no PCID"*) ;;
		"guest-shootdown 1g: guest-shootdown needs at least 2 guest pages"*) ;;
		*) fail "unexpected skip: $line" ;;
		esac
	done <<<"$output"
	# The chase ran in the guest at every guest page size, the guest's page size verified.
	for b in 4096 2097152 1073741824; do
		jq -e --argjson b "$b" '[.measurements[] | select(.inner_mode == "vm" and .kernel == "chase" and .skipped == null and
			.guest_page.built_page_bytes == $b)] | length > 0' "$NPT_OUT"
	done
}

@test "inside: KVM's statistics say how it mapped guest memory and count every exit" {
	jq -e '[.measurements[] | select(.inner_mode == "vm" and .kernel == "chase" and .skipped == null) |
		.kvm.stats | select(.available == true and (.vm.pages_4k + .vm.pages_2m + .vm.pages_1g) > 0 and
		.vcpu.exits > 0)] | length > 0' "$NPT_OUT"
	jq -e '[.measurements[] | select(.kernel == "vmexit" and .inner_mode == "vm" and .skipped == null) |
		.params.host_share.kvm_counted_exits.exits > 0] | all' "$NPT_OUT"
}

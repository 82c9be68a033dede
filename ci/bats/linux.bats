#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $output
# `nestbench run --mode linux`: the suite inside a Linux guest under QEMU,
# merged beside native.  On these machines KVM is PVM, so the guest runs
# under TCG: function only, and nothing here looks at a timing.
#
# Guest boots are the expensive part (under TCG a smoke run is about 20 s
# from boot to results): one in setup_file for the whole suite, two cut
# short by SIGINT and SIGTERM, one by --guest-timeout, one that panics, one
# small one on host hugetlb pages.  The failure tests before any boot (no
# QEMU, a bad kernel) boot nothing.

load 'helpers'

bats_require_minimum_version 1.5.0

have_guest() {
	[ -x "$NB" ] && is_root && command -v qemu-system-x86_64 >/dev/null && [ -x /bin/busybox ] &&
		compgen -G '/boot/vmlinuz-*' >/dev/null
}

setup_file() {
	export LX_DIR="$BATS_FILE_TMPDIR"
	export LX_OUT="$LX_DIR/linux.json"
	export NESTBENCH_CACHE_DIR="$LX_DIR/cache"
	mkdir -p "$LX_DIR/tmp"
	have_guest || return 0
	TMPDIR="$LX_DIR/tmp" "$NB" run --mode native,linux --suite smoke --backing 4k --guest-accel tcg \
		--guest-timeout 290 --out "$LX_OUT" >"$LX_DIR/stdout" 2>"$LX_DIR/stderr"
	echo $? >"$LX_DIR/status"
}

setup() {
	[ -x "$NB" ] || fail "build/nestbench is missing: run make first"
	is_root || skip "needs root (/boot/vmlinuz-* is root's; copy one and give --guest-kernel to run as a user)"
	command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (apt-get install -y qemu-system-x86)"
	[ -x /bin/busybox ] || skip "no /bin/busybox (apt-get install -y busybox-static)"
	compgen -G '/boot/vmlinuz-*' >/dev/null || skip "no /boot/vmlinuz-* (apt-get install -y linux-image-amd64)"
}

# QEMU processes whose command line names this path (a kernel copied for one test).
qemu_of() {
	pgrep -f -- "-kernel $1" || true
}

@test "native,linux under TCG: exit 0, schema-valid, linux measurements marked function only" {
	run cat "$LX_DIR/status"
	if [ "$output" != 0 ]; then
		tail -30 "$LX_DIR/stderr"
		fail "status $output"
	fi
	validate_schema "$LX_OUT"
	jq -e '.qemu.accel == "tcg" and .qemu.cpu_model == "max" and .qemu.timing_valid == false' "$LX_OUT"
	jq -e '.qemu.accel_reason | test("tcg")' "$LX_OUT"
	jq -e '.qemu.version | test("^[0-9]+\\.")' "$LX_OUT"
	jq -e '[.measurements[] | select(.mode == "linux")] | length > 0' "$LX_OUT"
	jq -e '[.measurements[] | select(.mode == "linux" and .timing_valid != false)] | length == 0' "$LX_OUT"
	jq -e '[.measurements[] | select(.mode == "linux" and .failed == true)] | length == 0' "$LX_OUT"
	# The guest's facts are its own: its kernel booted with our command line.
	jq -e '.guest_host.kernel.release == .qemu.kernel_version' "$LX_OUT"
	jq -e '.guest_host.topology.pus == .qemu.guest_cpus' "$LX_OUT"
	grep -q "TCG: function only" "$LX_DIR/stdout"
	grep -q "results: $LX_OUT" "$LX_DIR/stdout"
}

@test "every kernel measured natively is measured inside the guest, with the same identity" {
	local k
	for k in $(jq -r '[.measurements[] | select(.mode == "native" and .skipped == null) | .kernel] | unique | .[]' "$LX_OUT"); do
		jq -e --arg k "$k" '[.measurements[] | select(.mode == "linux" and .inner_mode == "native" and
			.kernel == $k and .skipped == null)] | length > 0' "$LX_OUT" >/dev/null ||
			fail "kernel $k was measured natively but not in the guest"
	done
	# compare pairs by the identity rules: the guest's 4k (and backing-less)
	# measurements, relabelled native, must pair with every native one.
	jq '.measurements |= [.[] | select(.mode == "native")]' "$LX_OUT" >"$BATS_TEST_TMPDIR/nat.json"
	jq '.measurements |= [.[] | select(.mode == "linux" and .inner_mode == "native" and
		(.backing.requested == "4k" or .backing.requested == "none")) | .mode = "native" |
		del(.inner_mode, .host_backing, .timing_valid)] | del(.guest_host, .qemu)' "$LX_OUT" >"$BATS_TEST_TMPDIR/lin.json"
	run "$NB" compare "$BATS_TEST_TMPDIR/nat.json" "$BATS_TEST_TMPDIR/lin.json" --format json
	assert_success
	echo "$output" >"$BATS_TEST_TMPDIR/cmp.json"
	jq -e '.comparisons | length > 10' "$BATS_TEST_TMPDIR/cmp.json"
	run jq -r '.unmatched[] | select(.reason == "not in the other file") | .label' "$BATS_TEST_TMPDIR/cmp.json"
	assert_output ""
	# And compare reads the merged file itself (mode linux is known to the reader).
	run "$NB" compare "$LX_OUT" "$LX_OUT"
	assert_success
}

@test "guest page x host page: the host's page from QEMU's smaps, the guest's from its own check" {
	jq -e '[.measurements[] | select(.mode == "linux") | .host_backing |
		select(.requested == "4k" and .verified_page_bytes == 4096 and (.memory_backend | test("memory-backend-memfd")))] |
		length > 0' "$LX_OUT"
	jq -e '[.measurements[] | select(.mode == "linux" and .host_backing.verified_page_bytes != 4096)] | length == 0' "$LX_OUT"
	jq -e '.qemu.boots | length == 1 and .[0].error == null and .[0].boot_to_results_s > 0' "$LX_OUT"
	# The guest's own derivations stay with its boot, out of the document's derived.
	jq -e '.qemu.boots[0].guest_derived.translation | length > 0' "$LX_OUT"
	jq -e '[.derived.translation[] | select(.mode != "native")] | length == 0' "$LX_OUT"
	# The pools and THP mode on the guest's command line make every backing available inside.
	jq -e '.qemu.kernel_cmdline | test("hugepagesz=1G hugepages=3") and test("hugepagesz=2M") and
		test("transparent_hugepage=madvise")' "$LX_OUT"
	# what the guest's memory layout gave: enough for the control's page and a hugetlb-1g buffer
	jq -e '.guest_host.hugepages["1G"].total >= 2' "$LX_OUT"
	local b p
	for b in 4k:4096 thp:2097152 hugetlb-2m:2097152 hugetlb-1g:1073741824; do
		p=${b#*:}
		jq -e --arg b "${b%%:*}" --argjson p "$p" '[.measurements[] | select(.mode == "linux" and
			.kernel == "chase" and .backing.requested == $b and .skipped == null and
			.backing.verified_page_bytes == $p)] | length > 0' "$LX_OUT" >/dev/null ||
			fail "no chase in the guest on ${b%%:*} with verified ${p}-byte pages"
	done
}

@test "the initramfs is cached; nothing temporary is left" {
	local path bytes
	path=$(jq -r '.qemu.initramfs.cache_path' "$LX_OUT")
	bytes=$(jq -r '.qemu.initramfs.bytes' "$LX_OUT")
	jq -e '.qemu.initramfs.cached == false and (.qemu.initramfs.cache_key | test("^[0-9a-f]{16}$"))' "$LX_OUT"
	[ "$(dirname "$path")" = "$NESTBENCH_CACHE_DIR" ]
	[ "$(stat -c %s "$path")" = "$bytes" ]
	run ls -A "$NESTBENCH_CACHE_DIR"
	assert_output "$(basename "$path")"
	run ls -A "$LX_DIR/tmp"
	assert_output ""
}

@test "no QEMU: the linux cells fail saying so, the native results are written" {
	local out="$BATS_TEST_TMPDIR/noqemu.json" bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	run env PATH="$bin" "$NB" run --mode native,linux --suite smoke --kernel fault --backing 4k --quiet --out "$out"
	assert_failure 4
	assert_output --partial "qemu-system-x86"
	validate_schema "$out"
	jq -e '[.measurements[] | select(.mode == "native" and .skipped == null)] | length > 0' "$out"
	jq -e '[.measurements[] | select(.mode == "linux")] | length > 0 and all(.failed == true and
		(.skipped | test("qemu-system-x86")))' "$out"
}

@test "a bad kernel path: the linux cells fail naming it, the native results are written" {
	local out="$BATS_TEST_TMPDIR/badkernel.json"
	run "$NB" run --mode native,linux --guest-kernel /nonexistent/vmlinuz --suite smoke --kernel fault \
		--backing 4k --quiet --out "$out"
	assert_failure 4
	assert_output --partial "/nonexistent/vmlinuz"
	validate_schema "$out"
	jq -e '[.measurements[] | select(.mode == "native" and .skipped == null)] | length > 0' "$out"
	jq -e '[.measurements[] | select(.mode == "linux")] | all(.failed == true and (.skipped | test("/nonexistent/vmlinuz")))' "$out"
	# Not a kernel at all.
	run "$NB" run --mode linux --guest-kernel "$NB" --kernel fault --backing 4k --quiet --out "$out"
	assert_failure 4
	assert_output --partial "bzImage"
}

@test "options: lists, guest options without --mode linux, bad values" {
	run "$NB" run --mode native,xen
	assert_failure 2
	assert_output --partial "native, vm, linux or both"
	run "$NB" run --guest-cpus 2 --kernel fault
	assert_failure 2
	assert_output --partial "--guest-cpus needs --mode linux"
	run "$NB" run --mode linux --guest-mode linux
	assert_failure 2
	assert_output --partial "no Linux guest inside the guest"
	run "$NB" run --mode linux --guest-accel xen
	assert_failure 2
	run "$NB" run --mode linux --guest-memory 255m
	assert_failure 2
	assert_output --partial "--guest-memory"
	run "$NB" run --help
	assert_output --partial "--guest-kernel"
	assert_output --partial "function only"
	# The old subcommand is gone: one way to boot a guest.
	run "$NB" guest
	assert_failure 2
}

@test "a guest that does not finish in time: one error with its console's end, failed cells, native intact, no QEMU left" {
	local out="$BATS_TEST_TMPDIR/timeout.json" kernel="$BATS_TEST_TMPDIR/vmlinuz"
	cp "$(compgen -G '/boot/vmlinuz-*' | sort -V | tail -1)" "$kernel"
	run "$NB" run --mode native,linux --guest-kernel "$kernel" --guest-accel tcg --guest-timeout 3 --suite smoke \
		--kernel fault --backing 4k --quiet --out "$out"
	assert_failure 4
	assert_output --partial "did not finish within 3 s"
	assert_output --partial "its console ended:"
	validate_schema "$out"
	jq -e '[.measurements[] | select(.mode == "native" and .skipped == null)] | length > 0' "$out"
	jq -e '[.measurements[] | select(.mode == "linux")] | all(.failed == true and (.skipped | test("did not finish")))' "$out"
	jq -e '.qemu.initramfs.cached == true' "$out" # the base image built in setup_file
	[ -z "$(qemu_of "$kernel")" ]
}

# Boot a guest, wait until its nestbench measures, send nestbench signal $1,
# expect exit status $2: QEMU gone with it, no results file, nothing temporary.
interrupt_guest() {
	local sig=$1 want=$2 out="$BATS_TEST_TMPDIR/int.json" kernel="$BATS_TEST_TMPDIR/vmlinuz-$1"
	local tmp="$BATS_TEST_TMPDIR/tmp"
	cp "$(compgen -G '/boot/vmlinuz-*' | sort -V | tail -1)" "$kernel"
	mkdir -p "$tmp"
	set -m # a background job without job control would start with SIGINT ignored
	TMPDIR="$tmp" "$NB" run --mode linux --guest-kernel "$kernel" --guest-accel tcg --suite smoke --backing 4k \
		--out "$out" >"$BATS_TEST_TMPDIR/int.out" 2>"$BATS_TEST_TMPDIR/int.err" &
	local pid=$!
	set +m
	# Wait until the guest's own nestbench is measuring.
	for _ in $(seq 600); do
		grep -q "guest: nestbench: \[" "$BATS_TEST_TMPDIR/int.err" && break
		sleep 0.1
	done
	grep -q "guest: nestbench: \[" "$BATS_TEST_TMPDIR/int.err" || fail "the guest never started measuring"
	[ -n "$(qemu_of "$kernel")" ]
	kill "-$sig" "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq "$want" ]
	[ -z "$(qemu_of "$kernel")" ]
	[ ! -e "$out" ]
	run ls -A "$tmp"
	assert_output ""
}

@test "SIGINT while the guest runs: QEMU ends with nestbench, nothing temporary is left" {
	interrupt_guest INT 130
}

@test "SIGTERM while the guest runs: the same" {
	interrupt_guest TERM 143
}

# (The pool's growth is given back by hugepool.c as for native runs, which
# pools.bats tests; its size is not compared here: other runs may share it.)
@test "host backing hugetlb-2m: QEMU's memory on a hugetlb memfd, verified from its smaps" {
	local out="$BATS_TEST_TMPDIR/h2m.json"
	run "$NB" run --mode linux --backing hugetlb-2m --guest-memory 1g --guest-backing 4k --kernel fault --suite smoke \
		--guest-accel tcg --quiet --out "$out"
	assert_success
	validate_schema "$out"
	jq -e '.qemu.boots[0].host_backing | .requested == "hugetlb-2m" and
		(.memory_backend | test("hugetlb=on,hugetlbsize=2M,prealloc=on")) and .verified_page_bytes == 2097152 and
		.kernel_page_bytes == 2097152 and .hugetlb_bytes == 1073741824' "$out"
	jq -e '[.measurements[] | select(.mode == "linux" and .skipped == null and
		.host_backing.verified_page_bytes == 2097152)] | length > 0' "$out"
}

@test "a guest that does not boot: one error with its console's last lines, failed cells, native intact" {
	local out="$BATS_TEST_TMPDIR/noboot.json"
	# No init in the initramfs: the kernel looks for a root file system and panics.
	NESTBENCH_GUEST_APPEND=rdinit=/nonexistent run "$NB" run --mode native,linux --suite smoke --kernel fault \
		--backing 4k --guest-accel tcg --quiet --out "$out"
	assert_failure 4
	run grep -c "error: linux guest" <<<"$output"
	assert_output 1
	validate_schema "$out"
	jq -e '.qemu.kernel_cmdline | test("rdinit=/nonexistent")' "$out"
	jq -e '[.measurements[] | select(.mode == "native" and .skipped == null)] | length > 0' "$out"
	jq -e '[.measurements[] | select(.mode == "linux")] | all(.failed == true and
		(.skipped | test("no result frame.*console ended: Kernel panic")))' "$out"
}

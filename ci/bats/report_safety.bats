#!/usr/bin/env bats
# `nestbench report` leaves nothing behind and writes nowhere else: children
# die with it, a full disk or a failing gnuplot leaves no new files, planted
# symlinks are replaced rather than written through, and gnuplot's exec
# failures say why.  Inputs are the TEST FIXTURES of ci/fixtures.

load helpers

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	FX="$ROOT/ci/fixtures"
	T="$BATS_TEST_TMPDIR"
}

# Templates whose first plot pauses: gnuplot is mid-draw for 30 s.
slow_templates() {
	cp -r "$ROOT/analysis/templates" "$T/slow"
	sed -i '1i pause 30' "$T/slow/sweep.gp"
}

interrupt_report() {
	local sig=$1 want=$2 pid rc=0
	slow_templates
	# A background job of a non-interactive shell starts with SIGINT
	# ignored; give it the default disposition a terminal job would have.
	env --default-signal=INT "$NB" report "$FX/baseline.json" --templates "$T/slow" --out "$T/rep" \
		>/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		pgrep -f "$T/slow/sweep.gp" >/dev/null && break
		sleep 0.1
	done
	pgrep -f "$T/slow/sweep.gp" >/dev/null || fail "gnuplot never started"
	kill "-$sig" "$pid"
	wait "$pid" || rc=$?
	assert_equal "$rc" "$want"
	sleep 0.5
	run pgrep -f "$T/slow/sweep.gp"
	assert_failure # no gnuplot survived
	run ls -A "$T"
	assert_output "slow"
}

@test "SIGINT to report mid-gnuplot: exit 130, no gnuplot survives, nothing left" {
	interrupt_report INT 130
}

@test "SIGTERM to report mid-gnuplot: exit 143, no gnuplot survives, nothing left" {
	interrupt_report TERM 143
}

@test "a full disk: exit 1 naming the truncated file, nothing new left" {
	is_root || skip "needs root to mount a small tmpfs"
	mkdir "$T/mnt"
	local size
	# Sizes that run out at different files: data, SVG, PNG, report.html.
	for size in 60k 150k 250k 350k 450k 550k; do
		mount -t tmpfs -o "size=$size" tmpfs "$T/mnt" || skip "cannot mount tmpfs"
		run "$NB" report "$FX/baseline.json" --out "$T/mnt/rep"
		local left
		left=$(ls -A "$T/mnt")
		umount "$T/mnt"
		assert_failure 1
		assert_output --regexp "incomplete|No space left on device"
		assert_equal "$left" ""
	done
}

@test "gnuplot rejecting its input leaves no data files or plots behind" {
	cp -r "$ROOT/analysis/templates" "$T/broken"
	echo 'plot nosuchfunction(x)' >"$T/broken/sweep.gp"
	run "$NB" report "$FX/baseline.json" --templates "$T/broken" --out "$T/rep"
	assert_failure 1
	assert_output --partial "gnuplot failed on"
	[ ! -e "$T/rep" ]
	run ls -A "$T"
	assert_output "broken"
}

@test "a planted symlink in --out is replaced, never written through; other files stay" {
	mkdir "$T/rep"
	ln -s "$T/elsewhere.svg" "$T/rep/latency.svg"
	ln -s "$T/elsewhere.html" "$T/rep/report.html"
	echo mine >"$T/rep/notes.txt"
	run "$NB" report "$FX/baseline.json" --out "$T/rep"
	assert_success
	[ ! -e "$T/elsewhere.svg" ] && [ ! -e "$T/elsewhere.html" ] || fail "wrote through a symlink"
	[ -f "$T/rep/latency.svg" ] && [ ! -L "$T/rep/latency.svg" ]
	[ -f "$T/rep/report.html" ] && [ ! -L "$T/rep/report.html" ]
	assert_equal "$(cat "$T/rep/notes.txt")" mine
	run ls -A "$T"
	assert_output "rep"
}

@test "--out that exists and is not a directory is refused" {
	echo x >"$T/file"
	run "$NB" report "$FX/baseline.json" --out "$T/file"
	assert_failure 1
	assert_output --partial "exists and is not a directory"
	assert_equal "$(cat "$T/file")" x
}

@test "gnuplot that cannot be executed: the real cause, not 'not found'" {
	mkdir "$T/bin"
	printf '#!/bin/sh\n' >"$T/bin/gnuplot"
	chmod 644 "$T/bin/gnuplot"
	run env PATH="$T/bin" "$NB" report "$FX/baseline.json" --out "$T/rep"
	assert_failure 1
	assert_output --partial "cannot run gnuplot: Permission denied"
	refute_output --partial "not found"
	run env PATH="$T/nothing" "$NB" report "$FX/baseline.json" --out "$T/rep2"
	assert_failure 1
	assert_output --partial "gnuplot not found in PATH"
	[ ! -e "$T/rep" ] && [ ! -e "$T/rep2" ]
}

@test "hostile strings in every source of a finding stay inert in HTML, Markdown and text" {
	# ci/fixtures/findings/hostile.json: <script>, ESC, quotes, Markdown links and a
	# newline in TLB level names, knee texts, kernels, flags, skip reasons, host facts.
	run "$NB" report --out "$T/r" "$FX/findings/hostile.json"
	assert_success
	run ! grep -q '<script' "$T/r/report.html"
	run ! grep -q '<script' "$T/r/report.md"
	run ! grep -qP '\x1b' "$T/r/report.html" "$T/r/report.md"
	grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/r/report.html"
	"$NB" report --format text "$FX/findings/hostile.json" >"$T/text"
	grep -qF '<script>alert(1)</script>?[31m' "$T/text"
	run ! grep -qP '\x1b' "$T/text"
	# the newline inside the hostile string is shown as '?', never a line of its own
	run ! grep -q '^next' "$T/text"
}

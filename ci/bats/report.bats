#!/usr/bin/env bats
# shellcheck disable=SC2016 # hostile strings are meant literally, unexpanded
# nestbench report on the TEST FIXTURES of ci/fixtures (hand-made inputs, not
# measurements): every plot, no gnuplot warnings, PNG sizes, inert hostile
# strings, and report.html rendered in headless Chromium.

load helpers

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	FX="$ROOT/ci/fixtures"
	T="$BATS_TEST_TMPDIR"
}

# png_size FILE: "WIDTHxHEIGHT" from the IHDR chunk.
png_size() {
	local w h
	w=$(od -An -tu1 -j16 -N4 "$1" | awk '{print ($1*16777216)+($2*65536)+($3*256)+$4}')
	h=$(od -An -tu1 -j20 -N4 "$1" | awk '{print ($1*16777216)+($2*65536)+($3*256)+$4}')
	echo "${w}x${h}"
}

@test "report --help and usage errors" {
	run "$NB" report --help
	assert_success
	assert_output --partial "usage: nestbench report FILE..."
	run "$NB" report
	assert_failure 2
	run "$NB" report --ws banana "$FX/baseline.json"
	assert_failure 2
	run "$NB" report --templates "$T/none" --out "$T/r" "$FX/baseline.json"
	assert_failure 1
	assert_output --partial "cannot find the gnuplot templates"
}

@test "report: invalid file exits 1 naming the file and field, writes nothing" {
	jq '.measurements[0].samples[0] = -3' "$FX/baseline.json" >"$T/bad.json"
	run "$NB" report --out "$T/r" "$FX/baseline.json" "$T/bad.json"
	assert_failure 1
	assert_output "nestbench: error: $T/bad.json: measurements[0].samples[0]: expected a finite number >= 0"
	[ ! -e "$T/r" ]
}

@test "report: every plot as SVG and PNG, no gnuplot warnings" {
	run "$NB" report --out "$T/r" --ws 64M "$FX/pmu.json" "$FX/slower.json"
	assert_success
	refute_output --partial "warning"
	# One bar chart per kernel of each family, no more.
	local np nc
	np=$(jq -s '[.[].measurements[] | select(.family == "ptupdate" and .skipped == null) | .kernel] | unique | length' "$FX/pmu.json" "$FX/slower.json")
	nc=$(jq -s '[.[].measurements[] | select(.family == "ctxsw" and .skipped == null) | .kernel] | unique | length' "$FX/pmu.json" "$FX/slower.json")
	[ ! -e "$T/r/bars-ptupdate-$((np + 1)).svg" ] || fail "more ptupdate charts than kernels"
	[ ! -e "$T/r/bars-ctxsw-$((nc + 1)).svg" ] || fail "more ctxsw charts than kernels"
	for p in latency translation heatmap-A-64M heatmap-B-64M bars-ptupdate-1 "bars-ptupdate-$np" "bars-ctxsw-$nc" \
		pmu-walk-cycles pmu-walks-per-access pmu-page-mix; do
		[ -s "$T/r/$p.svg" ] || fail "missing $p.svg"
		[ "$(png_size "$T/r/$p.png")" = "1920x1200" ] || fail "$p.png is $(png_size "$T/r/$p.png")"
		grep -q "<svg" "$T/r/$p.svg" || fail "$p.svg is not SVG"
	done
	[ -s "$T/r/report.md" ]
	[ -s "$T/r/report.html" ]
}

@test "report: without PMU data it says the plots are unavailable and why" {
	run "$NB" report --out "$T/r" "$FX/baseline.json"
	assert_success
	[ ! -e "$T/r/pmu-walk-cycles.svg" ]
	grep -q "PMU plots (walk-cycle fraction, walks per access, page-size mix) not drawn" "$T/r/report.md"
	grep -q "PMU plots" "$T/r/report.html"
	grep -q "PMU unavailable: fixture: no hardware PMU events" "$T/r/report.html"
}

@test "report: caveats list skipped cells, unverified pages, TCG guests, noisy samples, flags" {
	run "$NB" report --out "$T/r" "$FX/baseline.json"
	assert_success
	html="$T/r/report.html"
	grep -q "skipped: fixture: guest 1g pages need a 1g-aligned guest physical window" "$html"
	grep -q "pages unverified: no verified page size recorded" "$html"
	grep -q "TCG-only guest (QEMU emulation): functional, not a timing" "$html"
	grep -q "noisy samples: cv 0.30 &gt; 0.10" "$html"
	grep -q "flag: high cv: 0.31 (fixture)" "$html"
}

@test "report: self-contained HTML, SVG inlined, no external references" {
	run "$NB" report --out "$T/r" "$FX/baseline.json" "$FX/slower.json"
	assert_success
	html="$T/r/report.html"
	[ "$(grep -c '<svg' "$html")" -ge 5 ]
	run ! grep -qiE '(src|href)="(https?:)?//' "$html"
	run ! grep -qi '<script' "$html"
	run ! grep -q '<?xml' "$html"
	grep -q "Comparison with the baseline" "$html"
}

@test "report: hostile strings come out inert in HTML, Markdown and the plots" {
	evil='evil`reboot`$(id) system("touch /tmp/nb-pwned") '\''q'\'' <script>alert(1)</script> <img src=x onerror=alert(2)>'
	jq --arg e "$evil" --arg n "$evil"$'\nline2' '.host.hostname = $n | .host.cpu.name = $e
		| .measurements[0].kernel = $e | .measurements[0].flags = [$e]
		| .config.command_line = [$e] | .derived.translation[0].mode = $e' \
		"$FX/baseline.json" >"$T/evil.json"
	rm -f /tmp/nb-pwned
	run "$NB" report --out "$T/r" "$T/evil.json" "$FX/baseline.json"
	assert_success
	[ ! -e /tmp/nb-pwned ]
	html="$T/r/report.html"
	run ! grep -q '<script' "$html"
	run ! grep -q '<img' "$html"
	grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$html"
	grep -q 'system(&quot;touch /tmp/nb-pwned&quot;)' "$html"
	run ! grep -q '<script' "$T/r/report.md"
	run ! grep -q '<img' "$T/r/report.md"
	# data files: labels reduced to a safe character set, one per line
	run ! grep -q '[`$<>();]' "$T/r/latency.dat" "$T/r/translation.dat"
	run ! grep -q '<script' "$T/r/latency.svg" "$T/r/translation.svg"
}

@test "report: headless Chromium renders report.html: not blank, no console errors" {
	command -v chromium >/dev/null || skip "chromium not installed (make deps installs it)"
	run "$NB" report --out "$T/r" "$FX/baseline.json" "$FX/slower.json"
	assert_success
	ud="$T/chromium-profile"
	run timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$ud" --enable-logging=stderr --v=0 --window-size=1200,2000 \
		--screenshot="$T/shot.png" "file://$T/r/report.html"
	assert_success
	[ "$(png_size "$T/shot.png")" = "1200x2000" ]
	# console messages are logged as CONSOLE(...) lines; none is allowed
	refute_output --partial "CONSOLE"
	refute_output --regexp "Uncaught|Refused to"
	# not blank: a blank page compresses to a few kB; the rendered report has
	# text, tables and plots
	[ "$(stat -c %s "$T/shot.png")" -gt 50000 ]
	# the DOM holds the report
	run timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$ud-2" --dump-dom "file://$T/r/report.html"
	assert_success
	assert_output --partial "<h1>nestbench report</h1>"
	assert_output --partial "pointer chase: latency vs working set"
}

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
	grep -q "TCG guest (QEMU emulation): function only, its timings are not the hardware&#39;s" "$html"
	grep -q "noisy samples: cv above 0.10" "$html"
	grep -q "cv 0.30" "$html"
	grep -q "flag: high cv: 0.31 (fixture)" "$html"
}

@test "report: caveats grouped by cause, once each, with counts and the affected beneath" {
	run "$NB" report --out "$T/r" "$FX/baseline.json" "$FX/same.json"
	assert_success
	html="$T/r/report.html"
	# two files with the same unverified measurement: one cause, count 2, both listed
	[ "$(grep -o 'pages unverified: no verified page size recorded (2)' "$html" | wc -l)" = 1 ]
	grep -q '<li>A: chase native 4k ws=64M' "$html"
	grep -q '<li>B: chase native 4k ws=64M' "$html"
	# the measurement table is an appendix, folded
	grep -q '<details id="measurements"><summary>the full measurement table</summary>' "$html"
}

@test "report --format text: the findings and the key tables on stdout, nothing written" {
	cd "$T"
	run "$NB" report --format text "$FX/findings/splintered.json"
	assert_success
	assert_output --partial "findings, file A ("
	assert_output --partial "Splintered: native, hugetlb-2m backing (verified 2M pages) steps where 4k does"
	assert_output --partial "L1 dTLB: 64 entries x 4K = 256 KiB; steps between 256 KiB and 364 KiB"
	assert_output --partial "file A, chase latency per access, native (median [95% interval]):"
	assert_output --partial "caveats ("
	[ ! -e "$T/report" ]
	run "$NB" report --format text "$FX/findings/matrix.json" "$FX/findings/reach512.json"
	assert_success
	assert_output --partial "findings, file B ("
	assert_output --partial "x of file A's]"
	assert_output --partial "TCG: function only"
	run "$NB" report --format pdf "$FX/baseline.json"
	assert_failure 2
	assert_output --partial "invalid --format 'pdf': expected html or text"
}

@test "report: the HTML opens with the findings, then the plots that carry them" {
	run "$NB" report --out "$T/r" "$FX/findings/matrix.json"
	assert_success
	html="$T/r/report.html"
	# order: findings, key plots, machines, more plots, caveats, appendix
	local f k m c a
	f=$(grep -n '<h2>Findings</h2>' "$html" | cut -d: -f1)
	k=$(grep -n '<h2>The plots that carry them</h2>' "$html" | cut -d: -f1)
	m=$(grep -n '<h2>Machines</h2>' "$html" | cut -d: -f1)
	c=$(grep -n '<h2>Caveats, grouped by cause</h2>' "$html" | cut -d: -f1)
	a=$(grep -n '<h2>Appendix: every measurement</h2>' "$html" | cut -d: -f1)
	[ -n "$f" ] && [ "$f" -lt "$k" ] && [ "$k" -lt "$m" ] && [ "$m" -lt "$c" ] && [ "$c" -lt "$a" ]
	# the key plots: latency, translation, heatmap and gains, in that section
	sed -n "${k},${m}p" "$html" >"$T/key"
	for t in "pointer chase: latency vs working set" "translation cost per access" \
		"guest/native chase latency" "large-page gain"; do
		grep -q "$t" "$T/key" || fail "key plots lack: $t"
	done
	[ "$(png_size "$T/r/gains.png")" = "1920x1200" ]
	grep -q "Guest&#39;s tax (vm/native" "$html"
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

# webdriver METHOD PATH [JSON]: one WebDriver request to our chromedriver.
webdriver() {
	curl -sf -X "$1" -H 'Content-Type: application/json' "http://127.0.0.1:$WD_PORT$2" ${3:+--data "$3"}
}

@test "report: in Chromium the findings are on the first screen and every plot loads" {
	command -v chromium >/dev/null || skip "chromium not installed (make deps installs it)"
	command -v chromedriver >/dev/null || skip "chromedriver not installed (package chromium-driver; make deps)"
	run "$NB" report --out "$T/r" "$FX/findings/matrix.json"
	assert_success
	WD_PORT=$((20000 + RANDOM % 20000))
	chromedriver --port="$WD_PORT" >"$T/chromedriver.log" 2>&1 &
	local wd=$! sid caps geo
	for _ in $(seq 100); do
		webdriver GET /status 2>/dev/null | jq -e '.value.ready' >/dev/null && break
		sleep 0.1
	done
	caps=$(jq -n --arg ud "$T/wd-profile" '{capabilities: {alwaysMatch: {browserName: "chrome",
		"goog:chromeOptions": {binary: "/usr/bin/chromium", args: ["--headless", "--no-sandbox",
		"--disable-gpu", "--window-size=1280,900", "--user-data-dir=\($ud)"]}}}}')
	sid=$(webdriver POST /session "$caps" | jq -r .value.sessionId)
	[ -n "$sid" ] && [ "$sid" != null ] || { kill "$wd"; fail "no WebDriver session: $(cat "$T/chromedriver.log")"; }
	webdriver POST "/session/$sid/url" "$(jq -n --arg u "file://$T/r/report.html" '{url: $u}')" >/dev/null
	# Geometry from the DOM: where the findings are, and every image and inline plot.
	local js='var f = document.getElementById("findings"), h = f.querySelector("ul.headline");
		var fr = f.getBoundingClientRect(), hr = h.getBoundingClientRect();
		return {vh: window.innerHeight, top: fr.top, hbottom: hr.bottom,
		  first: document.querySelector("h2").textContent,
		  imgs: Array.from(document.images).map(function (i) { return i.complete ? i.naturalWidth : 0; }),
		  svgs: Array.from(document.querySelectorAll("figure svg")).map(function (s) {
		    var r = s.getBoundingClientRect(); return Math.min(r.width, r.height); })};'
	geo=$(webdriver POST "/session/$sid/execute/sync" "$(jq -n --arg s "$js" '{script: $s, args: []}')" | jq -c .value)
	webdriver GET "/session/$sid/screenshot" | jq -r .value | base64 -d >"$T/first-screen.png"
	webdriver DELETE "/session/$sid" >/dev/null || true
	kill "$wd"
	echo "$geo"
	[ "$(echo "$geo" | jq -r .first)" = Findings ]
	# the findings section starts and its headline list ends within the first screen
	echo "$geo" | jq -e '.top >= 0 and .top < .vh and .hbottom <= .vh' >/dev/null || fail "findings not on the first screen: $geo"
	# every plot is there and drawn; any <img> has loaded
	echo "$geo" | jq -e '(.svgs | length) >= 5 and all(.svgs[]; . > 100)' >/dev/null || fail "plots missing: $geo"
	echo "$geo" | jq -e 'all(.imgs[]; . > 0)' >/dev/null || fail "an image did not load: $geo"
	# the screenshot is of the first screen, not blank
	[[ "$(png_size "$T/first-screen.png")" == 1280x* ]] || fail "screenshot is $(png_size "$T/first-screen.png")"
	[ "$(stat -c %s "$T/first-screen.png")" -gt 30000 ]
}

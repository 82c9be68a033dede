#!/usr/bin/env bats
# shellcheck disable=SC2154 # bats sets $stderr (run --separate-stderr)
# Installed like a system tool: make install/uninstall with DESTDIR and PREFIX,
# the data directory the installed binary reads, the generated man pages and
# the bash completion.

load helpers

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."
FX="$BATS_TEST_DIRNAME/../fixtures"

setup() {
	T="$BATS_TEST_TMPDIR"
	unset NESTBENCH_DATADIR NESTBENCH_TEMPLATES
}

# The option names ("--suite", ...) --help lists for one command: the first
# word of each option line ("  -s, --suite NAME ..." or "      --ws-min SIZE ...").
help_options() {
	"$NB" "$@" --help | sed -nE 's/^  (-[a-zA-Z], |    )(--[a-z][a-z0-9-]*).*/\2/p' | sort -u
}

@test "make install DESTDIR: binary, data, man pages, completion; the staged binary finds its data" {
	run make -C "$TOP" --no-print-directory install DESTDIR="$T/stage"
	assert_success
	local p="$T/stage/usr/local"
	[ -x "$p/bin/nestbench" ]
	for f in "$TOP"/analysis/templates/*.gp; do
		cmp "$f" "$p/share/nestbench/templates/$(basename "$f")"
	done
	cmp "$TOP/results/schema.json" "$p/share/nestbench/schema.json"
	for c in "" -info -list -run -compare -report -help; do
		[ -s "$p/share/man/man1/nestbench$c.1" ]
	done
	[ -s "$p/share/bash-completion/completions/nestbench" ]
	[ -s "$p/share/zsh/site-functions/_nestbench" ]

	run "$p/bin/nestbench" --version
	assert_success
	assert_line --regexp '^nestbench .+'
	assert_line "data directory: $(realpath "$p/share/nestbench") (next to the binary)"
	assert_line "built for: /usr/local/share/nestbench"

	# The staged binary draws a report with the staged templates.
	run "$p/bin/nestbench" report --out "$T/rep" "$FX/baseline.json"
	assert_success
	[ -s "$T/rep/report.html" ]
	[ -s "$T/rep/latency.svg" ]
}

@test "the binary alone: compiled-in data directory, NESTBENCH_DATADIR overrides it" {
	mkdir -p "$T/alone"
	cp "$NB" "$T/alone/nestbench"
	run --separate-stderr "$T/alone/nestbench" --version
	assert_success
	assert_line "data directory: /usr/local/share/nestbench (compiled in, missing)"
	[[ "$stderr" == *"the data files are missing"* ]]

	mkdir -p "$T/data/templates"
	cp "$TOP"/analysis/templates/*.gp "$T/data/templates/"
	cp "$TOP/results/schema.json" "$T/data/"
	NESTBENCH_DATADIR="$T/data" run "$T/alone/nestbench" --version
	assert_success
	assert_line "data directory: $(realpath "$T/data") (NESTBENCH_DATADIR)"
	NESTBENCH_DATADIR="$T/data" run "$T/alone/nestbench" report --out "$T/rep" "$FX/baseline.json"
	assert_success
}

@test "make uninstall removes everything make install put there" {
	make -C "$TOP" --no-print-directory install DESTDIR="$T/stage" PREFIX=/opt/nb >/dev/null
	[ -x "$T/stage/opt/nb/bin/nestbench" ]
	run make -C "$TOP" --no-print-directory uninstall DESTDIR="$T/stage" PREFIX=/opt/nb
	assert_success
	run find "$T/stage" -type f
	assert_output ""
	[ ! -e "$T/stage/opt/nb/share/nestbench" ]
}

@test "a build tree binary reads the source tree's data files" {
	run "$NB" --version
	assert_success
	assert_line "data directory: $(realpath "$TOP") (source tree)"
	assert_line "templates: $(realpath "$TOP/analysis/templates")"
	assert_line "schema: $(realpath "$TOP/results/schema.json")"
}

@test "man pages render without groff warnings and have the perf/git sections" {
	for page in "$TOP"/build/nestbench*.1; do
		run groff -ww -z -man "$page"
		assert_success
		assert_output ""
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
			grep -qx ".SH \"$s\"" "$page"
		done
	done
}

@test "every option --help lists is in the man pages" {
	for c in info list run compare report help; do
		groff -man -Tascii -P-cbou "$TOP/build/nestbench-$c.1" >"$T/$c.txt"
		groff -man -Tascii -P-cbou "$TOP/build/nestbench.1" >"$T/all.txt"
		local n=0
		while read -r opt; do
			grep -qF -- "$opt" "$T/$c.txt" || fail "nestbench-$c.1 lacks $opt"
			grep -qF -- "$opt" "$T/all.txt" || fail "nestbench.1 lacks $c's $opt"
			n=$((n + 1))
		done < <(help_options "$c")
		[ "$n" -ge 1 ]
	done
	# The man page is the build's: regenerating it gives the same text.
	SOURCE_DATE_EPOCH=0 "$NB" help --man run >"$T/a.1"
	SOURCE_DATE_EPOCH=0 "$NB" help --man run >"$T/b.1"
	cmp "$T/a.1" "$T/b.1"
	grep -q '^.TH "NESTBENCH-RUN" 1 "1970-01-01"' "$T/a.1"
}

@test "getopt_long accepts exactly the options --help lists" {
	# Each listed option is recognised (not "unknown option") ...
	while read -r opt; do
		run "$NB" run "$opt" 1 --help
		refute_output --partial "unknown option"
	done < <(help_options run)
	# ... and the completion data lists the same set.
	diff <(help_options run) <("$NB" help --complete run | awk -F'\t' '$1 == "option" {print $2}' | sort -u)
}

@test "list --names prints one bare name a line" {
	run "$NB" list kernels --names
	assert_success
	assert_line chase
	assert_line guest-shootdown
	refute_output --partial "kernels:"
	run "$NB" list suites --names
	assert_output $'smoke\nquick\nfull'
	run "$NB" list backings --names
	assert_output $'4k\nthp\nhugetlb-2m\nhugetlb-1g'
	run "$NB" list events --names
	assert_success
	assert_line perf::PERF_COUNT_HW_CPU_CYCLES
}

# Drive the bash completion function as bash would.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_nestbench
	printf '%s\n' "${COMPREPLY[@]}"
}

@test "bash completion offers every kernel, backing, suite and the commands" {
	# shellcheck disable=SC1091 # completion/nestbench.bash is linted on its own
	source "$TOP/completion/nestbench.bash"
	run complete_words "$NB" run --kernel ""
	assert_success
	local k n=0
	for k in $("$NB" list kernels --names); do
		assert_line "$k"
		n=$((n + 1))
	done
	[ "$n" -ge 10 ]
	[ "${#lines[@]}" -eq "$n" ]

	run complete_words "$NB" run --kernel chase,f
	assert_line chase,fault
	refute_line chase
	run complete_words "$NB" run -b hug
	assert_output $'hugetlb-2m\nhugetlb-1g'
	run complete_words "$NB" run --suite ""
	assert_output $'smoke\nquick\nfull'
	run complete_words "$NB" run --mode ""
	assert_output $'native\nvm\nlinux\nboth'
	run complete_words "$NB" run --no
	assert_output --no-pmu
	run complete_words "$NB" ""
	assert_output "$("$NB" help --complete | awk -F'\t' '$1 == "command" { print $2 }')"
	assert_line cleanup
	run complete_words "$NB" list ""
	assert_output $'kernels\nbackings\nsuites\nevents'
	run complete_words "$NB" compare "$FX/bas"
	assert_output "$FX/baseline.json"
	run complete_words "$NB" run --events ""
	assert_line perf::PERF_COUNT_HW_CPU_CYCLES
}

@test "zsh completion offers the kernels (zsh driven through a pty)" {
	command -v zsh >/dev/null || skip "zsh not installed (make deps installs it)"
	cat >"$T/drive.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; setopt nobeep"
zpty -w -n z "$2 run -k chase,f"$'\t'
sleep 2
out=""
while zpty -r -t z more; do out+=$more; done
zpty -d z
print -r -- "$out"
ZSH
	run timeout 30 zsh -f "$T/drive.zsh" "$TOP/completion" "$NB"
	assert_success
	assert_output --partial "fault"
	assert_output --partial "fork-cow"
}

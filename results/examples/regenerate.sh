#!/bin/sh
# regenerate.sh - replace results/examples/ with a real quick run of this
# machine and its report (`make examples`).
#
#   results/examples/regenerate.sh [NESTBENCH [RESULTS.json]]   (default: build/nestbench)
#
# With RESULTS.json, no run: its findings and report are written from it
# (to re-render the examples after a change to the report).
# Native and micro-VM side by side (--mode both) where /dev/kvm is usable,
# natively otherwise (the reason is printed).  Everything is made in a
# temporary directory beside this script and moved in only when the run and
# the report both succeeded, so a failed or interrupted run leaves the old
# examples as they were.
set -eu

nb=${1:-build/nestbench}
from=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$nb" ] || { echo "regenerate.sh: $nb is not an executable (run make first)" >&2; exit 1; }
# Absolute, because the run and the report below work inside the temporary
# directory with relative names: the files record their command line and
# name, and an example must not carry the path of the machine it was made on.
nb=$(realpath "$nb")

kvm=$("$nb" info | awk '/^KVM/ {k = 1} k && /^ *usable:/ {sub(/^ *usable: */, ""); print; exit}')
case "$kvm" in
yes*) mode=both ;;
*)
	mode=native
	[ -n "$from" ] || echo "regenerate.sh: natively only: /dev/kvm is not usable here ($kvm)" >&2
	;;
esac
if [ -n "$from" ]; then
	[ -f "$from" ] || { echo "regenerate.sh: $from: no such file" >&2; exit 1; }
	# Its command line is kept in the file: an absolute --out would name a
	# path of the machine it ran on.
	if jq -e '[.config.out, (.config.command_line // [])[]] | any(type == "string" and startswith("/"))' \
		"$from" >/dev/null; then
		echo "regenerate.sh: $from was written to an absolute path, which its config records; run it with a" \
			"relative --out, or let this script run the suite" >&2
		exit 1
	fi
	# the mode it was run with: the word after "--mode" in its command line
	mode=$(grep -A1 '"--mode"' "$from" | sed -n 2p | tr -dc '[:lower:]')
	mode=${mode:-native}
fi

tmp=$(mktemp -d "$here/.regenerate.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM HUP

json="quick-$mode.json"
if [ -n "$from" ]; then
	cp "$from" "$tmp/$json"
else
	(cd "$tmp" && "$nb" run --suite quick --mode "$mode" --out "$json")
fi
(cd "$tmp" && "$nb" report --out report "$json")
(cd "$tmp" && "$nb" report --format text "$json") >"$tmp/findings.txt"
if grep -rlF "$here" "$tmp" >/dev/null; then
	echo "regenerate.sh: an output names this machine's path ($here); not replacing the examples" >&2
	exit 1
fi
# The plots that carry the findings, beside the README.
for p in latency translation gains; do
	if [ -f "$tmp/report/$p.png" ]; then cp "$tmp/report/$p.png" "$tmp/$p.png"; fi
done
for p in "$tmp"/report/heatmap-*.png; do
	if [ -f "$p" ]; then cp "$p" "$tmp/heatmap.png" && break; fi
done
# Of the report, report.html alone (every plot inlined as SVG): the data
# files, report.md and the separate SVG and PNG files follow from the JSON.
find "$tmp/report" -type f ! -name report.html -exec rm -f {} +

{
	echo "# Example results"
	echo
	echo "A real \`make examples\` run (the quick suite, --mode $mode) of nestbench on one machine, kept so"
	echo "that readers can see what a results file, its findings and its report look like. It was"
	echo "measured, not made up; its absolute numbers belong to that one machine and minute, and other"
	echo "processes may have been running (the noisy measurements' flags and the caveats say so)."
	echo
	echo "| file | what |"
	echo "| --- | --- |"
	echo "| \`$json\` | the results file (schema v1); its \`host\` section has every fact of the machine |"
	echo "| \`findings.txt\` | \`nestbench report --format text\` of it: the findings, the chase tables, the caveats |"
	echo "| \`report/report.html\` | the self-contained HTML report (findings first, every plot inlined as SVG) |"
	echo "| \`latency.png\`, \`translation.png\`, \`heatmap.png\`, \`gains.png\` | the plots that carry the findings (those the run could draw) |"
	echo
	echo "The machine, from \`nestbench info\` when the examples were written:"
	echo
	echo '```'
	"$nb" info | awk '/^(CPU|Hypervisor|Kernel|KVM)/ {s = 1} /^(Topology|Hugepages|THP|PMU)/ {s = 0} s' | head -30
	echo '```'
	echo
	echo "The headline findings:"
	echo
	echo '```'
	awk '/^findings/ {f = 1; next} f && /^  \* / {print} f && /^  the details/ {exit} f && /^$/ {exit}' \
		"$tmp/findings.txt" | head -20
	echo '```'
	echo
	echo "Regenerate with \`make examples\` (this script); the report alone with"
	echo "\`build/nestbench report results/examples/$json\`."
} >"$tmp/README.md"

# Replace the old examples with the new ones.
find "$here" -mindepth 1 -maxdepth 1 ! -name regenerate.sh ! -name "$(basename "$tmp")" -exec rm -rf {} +
for f in "$tmp"/*; do
	mv "$f" "$here/"
done
echo "results/examples: $json, findings.txt, report/, README.md"

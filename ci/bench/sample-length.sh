#!/usr/bin/env bash
# sample-length.sh - a BENCHMARK, not a test: does the chase median depend on
# the length of its samples?  (issue 12, item 1.)
#
# For the 4k backing, pinned, at 16K, 1M, 16M and 256M and at a 64-byte and
# a page stride, measures the chase with 10, 50 and 200 ms samples and prints
# the medians and the 10 ms / 200 ms ratio, beside each median's interval
# half-width.  The three sample lengths are interleaved: each repetition
# visits every (size, stride) and every length in an order of its own, so
# drift of the machine falls on all of them alike; a cell's median is the
# median of its repetitions' medians.  Nothing is asserted: the numbers of a
# shared machine vary from run to run, and the table is for the reader.
#
# usage: ci/bench/sample-length.sh [REPS]
#   NB=path/to/nestbench (default build/nestbench), CPU=N to pin elsewhere than
#   the default measuring PU, ROUNDS=N rounds per measurement (default 5).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NB="${NB:-$ROOT/build/nestbench}"
REPS="${1:-3}"
ROUNDS="${ROUNDS:-5}"
SIZES=(16k 1m 16m 256m)
STRIDES=(64 4096)
LENGTHS=(10 50 200)
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT

[ -x "$NB" ] || { echo "sample-length.sh: no nestbench at $NB (make first, or set NB)" >&2; exit 1; }
command -v jq >/dev/null || { echo "sample-length.sh: needs jq" >&2; exit 1; }

# One repetition's order of the (size, stride, length) cells: shuf, seeded by
# the repetition so a rerun visits them in the same orders.
cells() {
	local s st l
	for s in "${SIZES[@]}"; do
		for st in "${STRIDES[@]}"; do
			for l in "${LENGTHS[@]}"; do
				echo "$s $st $l"
			done
		done
	done
}

# A nestbench from before rounds (to measure what changed) takes 11 samples
# of one measurement instead.
if "$NB" run --help | grep -q -- --rounds; then
	PER=(--rounds "$ROUNDS" --samples "$ROUNDS" --warmup 1 --time-budget 0)
else
	PER=(--samples 11 --warmup 2)
fi
if [ -n "${CPU:-}" ]; then
	PER+=(--cpu "$CPU")
fi

for rep in $(seq 1 "$REPS"); do
	while read -r s st l; do
		out="$T/$s-$st-$l-$rep.json"
		"$NB" run --quiet --kernel chase --backing 4k --stride "$st" --ws-min "$s" --ws-max "$s" \
			--sample-ms "$l" "${PER[@]}" --out "$out" >/dev/null
	done < <(cells | shuf --random-source=<(yes "$rep"))
done

med() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf '%-6s %-7s %12s %12s %12s %9s   %s\n' size stride "10ms ns" "50ms ns" "200ms ns" "10/200" \
	"interval half-width % (10, 50, 200 ms; median over the repetitions)"
for s in "${SIZES[@]}"; do
	for st in "${STRIDES[@]}"; do
		declare -A m=() hw=()
		for l in "${LENGTHS[@]}"; do
			m[$l]=$(# A nestbench from before rounds (to measure what changed) takes 11 samples
# of one measurement instead.
if "$NB" run --help | grep -q -- --rounds; then
	PER=(--rounds "$ROUNDS" --samples "$ROUNDS" --warmup 1 --time-budget 0)
else
	PER=(--samples 11 --warmup 2)
fi
if [ -n "${CPU:-}" ]; then
	PER+=(--cpu "$CPU")
fi

for rep in $(seq 1 "$REPS"); do
				jq '.measurements[0].summary.median' "$T/$s-$st-$l-$rep.json"
			done | med)
			hw[$l]=$(# A nestbench from before rounds (to measure what changed) takes 11 samples
# of one measurement instead.
if "$NB" run --help | grep -q -- --rounds; then
	PER=(--rounds "$ROUNDS" --samples "$ROUNDS" --warmup 1 --time-budget 0)
else
	PER=(--samples 11 --warmup 2)
fi
if [ -n "${CPU:-}" ]; then
	PER+=(--cpu "$CPU")
fi

for rep in $(seq 1 "$REPS"); do
				jq '.measurements[0].rounds.half_width_pct // 0' "$T/$s-$st-$l-$rep.json"
			done | med)
		done
		printf '%-6s %-7s %12.3f %12.3f %12.3f %9.3f   %.1f %.1f %.1f\n' "$s" "$st" "${m[10]}" "${m[50]}" \
			"${m[200]}" "$(echo "${m[10]} / ${m[200]}" | bc -l)" "${hw[10]}" "${hw[50]}" "${hw[200]}"
	done
done

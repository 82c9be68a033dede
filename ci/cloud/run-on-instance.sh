#!/usr/bin/env bash
# Run nestbench on a fresh Debian/Ubuntu cloud instance and gate on a baseline.
#
#   ci/cloud/run-on-instance.sh BASELINE.json|none [THRESHOLD_PCT] [OUT_DIR]
#
# From a checkout: installs the build and run dependencies (root or sudo,
# apt-get; no test tools, no browser), builds and installs nestbench into a
# prefix, prints `nestbench --version` and `nestbench info`, runs a suite with
# whatever the instance allows (no PMU, no /dev/kvm and no hugepages are
# recorded as skipped with the reason, not failures), writes the reports into
# OUT_DIR (default: ci-out) for the CI system to keep as an artifact, and
# finally gates with `nestbench compare --threshold` against the baseline.
# BASELINE "none": no gate (a first run; its results.json can become the
# baseline).
#
# Environment:
#   SUITE             suite to run (default quick; the tests use smoke)
#   NESTBENCH_PREFIX  where to install (default: build/cloud-prefix in the
#                     checkout; /usr/local installs it system-wide, with sudo)
#
# OUT_DIR afterwards: version.txt, info.txt, info.json, results.json,
# report/, report-vs-baseline/ and compare.md, compare.json (with a baseline),
# hwassist.json and report-hwassist/ (where /dev/kvm is usable).
#
# Exit status: that of compare (0 ok, 1 unreadable file, 3 significant
# slowdown above the threshold), 0 without a baseline, 2 usage error, or the
# failing step's status when a step before it failed.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 BASELINE.json|none [THRESHOLD_PCT] [OUT_DIR]" >&2
	exit 2
fi
baseline=$1
threshold=${2:-5}
out=${3:-ci-out}
suite=${SUITE:-quick}

here=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${NESTBENCH_PREFIX:-$here/build/cloud-prefix}

# Paths given relative to where we were called from.
abspath() {
	case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac
}
if [ "$baseline" != none ]; then
	if [ ! -r "$baseline" ]; then
		echo "nestbench-ci: cannot read the baseline '$baseline'" >&2
		exit 1
	fi
	baseline=$(abspath "$baseline")
fi
out=$(abspath "$out")

step() {
	echo "nestbench-ci: $*" >&2
}
trap 'echo "nestbench-ci: failed: $BASH_COMMAND (status $?)" >&2' ERR

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

cd "$here"
step "installing the build and run dependencies"
"${sudo_cmd[@]}" ci/install-deps.sh --run

step "building and installing into $prefix"
make -j"$(nproc)" BUILD=build/cloud PREFIX="$prefix" all
install_sudo=()
if ! mkdir -p "$prefix" 2>/dev/null || [ ! -w "$prefix" ]; then
	install_sudo=("${sudo_cmd[@]}")
fi
"${install_sudo[@]}" make BUILD=build/cloud PREFIX="$prefix" install
nb=$prefix/bin/nestbench

mkdir -p "$out"
"$nb" --version | tee "$out/version.txt"
"$nb" info | tee "$out/info.txt"
"$nb" info --json >"$out/info.json"

# Root grows hugepage pools (restored afterwards) and opens /dev/kvm.
# MODE: native by default, so that the gate compares like with like against a
# native baseline whatever /dev/kvm the instance has (MODE=both adds the
# micro-VM beside it; the hardware-assist run below is separate).
step "running the $suite suite (--mode ${MODE:-native})"
"${sudo_cmd[@]}" "$nb" run --suite "$suite" --mode "${MODE:-native}" --out "$out/results.json"
"${sudo_cmd[@]}" chown "$(id -u):$(id -g)" "$out/results.json"
"$nb" report --out "$out/report" "$out/results.json"
if [ "$baseline" != none ]; then
	"$nb" report --out "$out/report-vs-baseline" "$baseline" "$out/results.json"
fi
# The hardware-assist claims (exit costs, VM switches with tagged TLBs, guest
# shootdowns) are what an instance with EPT/NPT can check and a shadow-paging
# host cannot: run them, native beside guest, wherever /dev/kvm is usable.
if "${sudo_cmd[@]}" test -w /dev/kvm; then
	step "running the hardware-assist kernels (native and VM)"
	"${sudo_cmd[@]}" "$nb" run --mode both -k vmexit,vmswitch,guest-shootdown --guest-page 4k \
		--suite "$suite" --out "$out/hwassist.json"
	"${sudo_cmd[@]}" chown "$(id -u):$(id -g)" "$out/hwassist.json"
	"$nb" report --out "$out/report-hwassist" "$out/hwassist.json"
fi

if [ "$baseline" = none ]; then
	echo "nestbench-ci: no baseline: nothing to gate; $out/results.json can become the baseline"
	exit 0
fi
trap - ERR
set +e
"$nb" compare --threshold "$threshold" --format json "$baseline" "$out/results.json" >"$out/compare.json"
"$nb" compare --threshold "$threshold" --format markdown "$baseline" "$out/results.json" | tee "$out/compare.md"
status=${PIPESTATUS[0]}
set -e
echo "nestbench-ci: compare exit status $status (0 ok, 1 unreadable file, 3 regression above ${threshold}%)"
exit "$status"

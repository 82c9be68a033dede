#!/usr/bin/env bash
# Run nestbench on a fresh Debian/Ubuntu cloud instance and gate on a baseline.
#
#   ci/cloud/run-on-instance.sh BASELINE.json [THRESHOLD_PCT] [OUT_DIR]
#
# Installs the dependencies (root, apt-get), builds, prints `nestbench info`,
# runs the quick suite with whatever the instance allows (no PMU, no /dev/kvm
# and no hugepages are recorded as skipped with the reason, not failures),
# writes the report into OUT_DIR (default: ci-out) for the CI system to keep as
# an artifact, and finally runs `nestbench compare --threshold` against the
# stored baseline.  Exit status: that of compare (0 ok, 1 unreadable file,
# 3 significant slowdown above the threshold), or non-zero when a step before
# it failed.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 BASELINE.json [THRESHOLD_PCT] [OUT_DIR]" >&2
	exit 2
fi
baseline=$1
threshold=${2:-5}
out=${3:-ci-out}

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

if [ ! -r "$baseline" ]; then
	echo "nestbench-ci: cannot read the baseline '$baseline'" >&2
	exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

"${sudo_cmd[@]}" ci/install-deps.sh
make -j"$(nproc)"
mkdir -p "$out"

build/nestbench info | tee "$out/info.txt"
"${sudo_cmd[@]}" build/nestbench run --suite quick --out "$out/results.json"
build/nestbench report --out "$out/report" "$out/results.json"
build/nestbench report --out "$out/report-vs-baseline" "$baseline" "$out/results.json"
# The hardware-assist claims (exit costs, VM switches with tagged TLBs, guest
# shootdowns) are what an instance with EPT/NPT can check and a shadow-paging
# host cannot: run them, native beside guest, wherever /dev/kvm is usable.
if "${sudo_cmd[@]}" test -w /dev/kvm; then
	"${sudo_cmd[@]}" build/nestbench run --mode both -k vmexit,vmswitch,guest-shootdown --guest-page 4k \
		--suite quick --out "$out/hwassist.json"
	build/nestbench report --out "$out/report-hwassist" "$out/hwassist.json"
fi

set +e
build/nestbench compare --threshold "$threshold" --format markdown "$baseline" "$out/results.json" \
	| tee "$out/compare.md"
status=${PIPESTATUS[0]}
set -e
echo "nestbench-ci: compare exit status $status (0 ok, 1 unreadable file, 3 regression above ${threshold}%)"
exit "$status"

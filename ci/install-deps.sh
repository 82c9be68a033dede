#!/usr/bin/env bash
# Install the Debian packages nestbench needs, when they are missing.
# As root: apt-get installs them.  Otherwise: print the exact command and fail.
set -euo pipefail

packages=(
	build-essential clang pkg-config git
	libpfm4-dev libhwloc-dev hwloc libjansson-dev libcmocka-dev
	gnuplot-nox bats bats-assert bats-support shellcheck
	python3-jsonschema jq
	chromium libclang-rt-dev
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "nestbench: error: missing packages: ${missing[*]}" >&2
	echo "nestbench: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "nestbench: installing missing packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

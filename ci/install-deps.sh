#!/usr/bin/env bash
# Install the Debian packages nestbench needs (ci/packages.list), when missing.
#
#   ci/install-deps.sh           everything: build, run, tests (make deps, make test)
#   ci/install-deps.sh --run     what building and running needs, no test tools
#   ci/install-deps.sh --list ROLE...   print the packages of these roles, one a line
#
# As root: apt-get installs them.  Otherwise: print the exact command and fail.
# The browser role is optional (chromium is a snap on Ubuntu): when it cannot
# be installed, a warning says so and the tests that need it skip.
set -euo pipefail

list="$(dirname "$0")/packages.list"

# packages_of ROLE...: the names with one of these roles, in file order.
packages_of() {
	local name role want
	while read -r name role _; do
		case $name in '' | '#'*) continue ;; esac
		for want in "$@"; do
			if [ "$role" = "$want" ]; then
				printf '%s\n' "$name"
			fi
		done
	done <"$list"
}

roles=(toolchain build run test)
optional_roles=(browser)
case ${1:-} in
--list)
	shift
	packages_of "$@"
	exit 0
	;;
--run)
	roles=(toolchain build run)
	optional_roles=()
	;;
'') ;;
*)
	echo "usage: $0 [--run | --list ROLE...]" >&2
	exit 2
	;;
esac

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
while read -r p; do
	installed "$p" || missing+=("$p")
done < <(packages_of "${roles[@]}")
optional=()
if [ ${#optional_roles[@]} -gt 0 ]; then
	while read -r p; do
		installed "$p" || optional+=("$p")
	done < <(packages_of "${optional_roles[@]}")
fi

[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if [ ${#missing[@]} -eq 0 ]; then
		echo "nestbench: optional packages missing (their tests skip): ${optional[*]}" >&2
		exit 0
	fi
	echo "nestbench: error: missing packages: ${missing[*]}" >&2
	echo "nestbench: install them with: sudo apt-get install -y ${missing[*]} ${optional[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	echo "nestbench: installing missing packages: ${missing[*]}" >&2
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#optional[@]} -gt 0 ]; then
	echo "nestbench: installing optional packages: ${optional[*]}" >&2
	if ! apt-get install -y -qq "${optional[@]}" >/dev/null 2>&1; then
		echo "nestbench: warning: could not install ${optional[*]} (on Ubuntu chromium is a snap);" \
			"the tests that need it skip" >&2
	fi
fi

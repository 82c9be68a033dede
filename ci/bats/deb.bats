#!/usr/bin/env bats
# The Debian package: debian/control's dependencies come from ci/packages.list
# (the list ci/install-deps.sh installs); dpkg-buildpackage builds a .deb that
# lintian passes, that installs, runs from /usr/bin and removes cleanly.

load helpers

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."

# A debian/control field as one name a line (versions and substvars dropped).
control_field() {
	awk -v f="$1" '
		$0 ~ "^" f ":" { on = 1; sub("^" f ":", ""); print; next }
		on && /^[ \t]/ { print; next }
		{ on = 0 }' "$TOP/debian/control" |
		tr ',' '\n' | sed -E 's/\(.*\)//; s/^[[:space:]]+//; s/[[:space:]]+$//' | grep -v '^\$' | grep -v '^$'
}

@test "debian/control Build-Depends and Depends are the build and run packages of ci/packages.list" {
	diff <(control_field Build-Depends | grep -v '^debhelper-compat$' | sort) \
		<("$TOP/ci/install-deps.sh" --list build | sort)
	diff <(control_field Depends | sort) <("$TOP/ci/install-deps.sh" --list run | sort)
	control_field Build-Depends | grep -qx debhelper-compat
	# debhelper itself is installed by the test dependencies.
	"$TOP/ci/install-deps.sh" --list test | grep -qx debhelper
}

can_build() {
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null
}

setup_file() {
	can_build && is_root || return 0
	export DEB_DIR="$BATS_FILE_TMPDIR/pkg"
	export DEB_LOCK=/run/lock/nestbench-deb-test.lock
	# A copy of the tree as a source package would have it (no build/).
	mkdir -p "$DEB_DIR/nestbench"
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$TOP" ls-files -z --cached --others --exclude-standard |
			(cd "$TOP" && tar --null --ignore-failed-read -T - -c 2>/dev/null) | tar -x -C "$DEB_DIR/nestbench"
	else
		tar -C "$TOP" --exclude=./build -c . | tar -x -C "$DEB_DIR/nestbench"
	fi
	(cd "$DEB_DIR/nestbench" && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b) \
		>"$DEB_DIR/build.log" 2>&1 || true
}

teardown_file() {
	# Never leave the package behind, whichever test failed.
	if [ -e "$BATS_FILE_TMPDIR/installed" ]; then
		dpkg -r nestbench >/dev/null 2>&1 || true
	fi
}

need_deb() {
	can_build || skip "dpkg-buildpackage or debhelper not installed (make deps installs them)"
	is_root || skip "installing a package needs root"
	local debs=("$DEB_DIR"/nestbench_*_amd64.deb)
	DEB=${debs[0]}
	[ -e "$DEB" ] || fail "dpkg-buildpackage failed: $(tail -30 "$DEB_DIR/build.log")"
}

@test "dpkg-buildpackage -us -uc -b builds the .deb, warning-free, with the files in place" {
	need_deb
	refute grep -E 'warning:' "$DEB_DIR/build.log"
	run dpkg-deb -c "$DEB"
	assert_success
	for f in usr/bin/nestbench usr/share/nestbench/schema.json usr/share/nestbench/templates/sweep.gp \
		usr/share/man/man1/nestbench.1.gz usr/share/man/man1/nestbench-run.1.gz \
		usr/share/bash-completion/completions/nestbench usr/share/zsh/vendor-completions/_nestbench \
		usr/share/doc/nestbench/copyright; do
		assert_output --partial "./$f"
	done
}

@test "lintian finds no errors in the package" {
	need_deb
	command -v lintian >/dev/null || skip "lintian not installed (make deps installs it)"
	run lintian --fail-on error "$DEB_DIR"/nestbench_*_amd64.changes
	assert_success
	refute_output --regexp '^E: '
}

@test "the .deb installs, runs info and the smoke suite from /usr/bin, and removes cleanly" {
	need_deb
	exec 9>"$DEB_LOCK"
	flock -w 300 9 || fail "another package test holds $DEB_LOCK"
	if dpkg-query -W -f='${Status}' nestbench 2>/dev/null | grep -q 'install ok installed'; then
		skip "a nestbench package is already installed here: not replacing it"
	fi
	run dpkg -i "$DEB"
	assert_success
	touch "$BATS_FILE_TMPDIR/installed"
	dpkg -L nestbench >"$BATS_FILE_TMPDIR/files"

	run /usr/bin/nestbench --version
	assert_success
	assert_line "data directory: /usr/share/nestbench (compiled in)"
	run /usr/bin/nestbench info
	assert_success
	assert_output --partial "kvm"
	run /usr/bin/nestbench run --mode native --suite smoke --quiet --out "$BATS_FILE_TMPDIR/smoke.json"
	assert_success
	validate_schema "$BATS_FILE_TMPDIR/smoke.json"
	run /usr/bin/nestbench report --out "$BATS_FILE_TMPDIR/rep" "$BATS_FILE_TMPDIR/smoke.json"
	assert_success
	[ -s "$BATS_FILE_TMPDIR/rep/report.html" ]
	run man -w nestbench-run
	assert_output /usr/share/man/man1/nestbench-run.1.gz

	run dpkg -r nestbench
	assert_success
	rm -f "$BATS_FILE_TMPDIR/installed"
	run dpkg-query -W -f='${Status}' nestbench
	refute_output --partial "install ok installed"
	local f
	while read -r f; do
		[ -d "$f" ] && continue # shared directories such as /usr/share/man stay
		[ ! -e "$f" ] || fail "$f is left after dpkg -r"
	done <"$BATS_FILE_TMPDIR/files"
	[ ! -e /usr/share/nestbench ]
}

#!/usr/bin/env bash
# Run every test: the C unit tests (ASan + UBSan builds, cmocka, TAP output)
# and the CLI tests (bats).  Prints each suite's TAP and ends with the line
#   N passed, N failed
# (after a line "N skipped": a skip is neither a pass nor a failure).
# Exit status 0 only when nothing failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# TAP: "ok", "not ok", and skips marked "# SKIP" (bats writes "ok N ... # skip",
# cmocka "not ok N # SKIP"): a skip is neither a pass nor a failure.
count() {
	local ok notok skip
	skip=$(grep -ciE '^(not )?ok .*# skip' "$log")
	ok=$(grep -E '^ok ' "$log" | grep -civE '# skip')
	notok=$(grep -E '^not ok ' "$log" | grep -civE '# skip')
	passed=$((passed + ok))
	failed=$((failed + notok))
	skipped=$((skipped + skip))
}

for t in build/unit/test_*; do
	[ -x "$t" ] || continue
	echo "# unit: $t"
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	count
	# A crash (sanitizer abort) may leave no "not ok" line: count it as a failure.
	if [ $rc -ne 0 ] && [ "$(grep -E '^not ok ' "$log" | grep -civE '# skip')" -eq 0 ]; then
		echo "not ok - $t exited with status $rc"
		failed=$((failed + 1))
	fi
done

for f in ci/bats/*.bats; do
	[ -e "$f" ] || continue
	echo "# bats: $f"
	bats --tap "$f" >"$log" 2>&1
	rc=$?
	cat "$log"
	count
	if [ $rc -ne 0 ] && [ "$(grep -E '^not ok ' "$log" | grep -civE '# skip')" -eq 0 ]; then
		echo "not ok - $f exited with status $rc"
		failed=$((failed + 1))
	fi
done

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

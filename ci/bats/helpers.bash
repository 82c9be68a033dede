# Shared set-up for the CLI tests.
# shellcheck shell=bash

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# `run !` and `run --separate-stderr` need bats 1.5 (Debian 12 has 1.8).
bats_require_minimum_version 1.5.0

# shellcheck disable=SC2034 # used by the test files that load this
NB="$BATS_TEST_DIRNAME/../../build/nestbench"
# shellcheck disable=SC2034
SCHEMA="$BATS_TEST_DIRNAME/../../results/schema.json"

# Validate a results file against results/schema.json (Debian's python3-jsonschema).
validate_schema() {
	jsonschema -i "$1" "$SCHEMA" 2>/dev/null || jsonschema -i "$1" "$SCHEMA"
}

# nr_hugepages of the 2M or 1G pool ("absent" when the kernel has none).
pool_size() {
	local f="/sys/kernel/mm/hugepages/hugepages-$1kB/nr_hugepages"
	if [ -r "$f" ]; then cat "$f"; else echo absent; fi
}

is_root() {
	[ "$(id -u)" -eq 0 ]
}

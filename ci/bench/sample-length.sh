#!/usr/bin/env bash
# sample-length.sh - a BENCHMARK, not a test: does the chase median depend on
# the length of its samples?  (issue 12, item 1.)  Builds and runs
# ci/bench/sample_length.c, which says how it measures; arguments are passed
# on (--help lists them), e.g. `ci/bench/sample-length.sh --reps 15`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
make -C "$ROOT" --no-print-directory -s bench >&2
exec "$ROOT/build/bench/sample_length" "$@"

#!/usr/bin/env bash
# npm test: tools, Rust tests (native + wasm in Node and headless Chromium),
# the npm package build, then every JS test (npm API in Node, Worker in workerd).
#
# Every stage runs even if an earlier one failed (so one run shows every
# failure); the exit status is non-zero if any stage failed. The output ends
# with the summary of node's test runner.
set -uo pipefail
cd "$(dirname "$0")/.."

export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

failed=()
stage() {
  local name=$1
  shift
  echo
  echo "== $name"
  if ! "$@"; then
    echo "!! $name FAILED"
    failed+=("$name")
    return 1
  fi
}

stage "ensure-tools" bash scripts/ensure-tools.sh
stage "Rust tests (scripts/test-rust.sh)" bash scripts/test-rust.sh
stage "differential canonicalization vs libxml2 (300 random documents)" bash scripts/c14n-diff.sh 300
if ! stage "build pkg/" bash scripts/build-pkg.sh; then
  # Never let the JS tests pass against a stale package.
  rm -rf pkg
fi

if ((${#failed[@]})); then
  echo
  echo "!! failed before the JS tests: ${failed[*]}"
fi
echo
echo "== JS tests (node --test tests/js/)"
# Default reporter: spec on a terminal, TAP otherwise (which ends with the summary).
node --test tests/js/
js=$?

if ((${#failed[@]})) || ((js != 0)); then
  exit 1
fi

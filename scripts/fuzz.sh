#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers and whole request paths (fuzz/).
#
#   bash scripts/fuzz.sh seed                         write seeds from tests/vectors into fuzz/corpus/<target>/
#   bash scripts/fuzz.sh build                        build every target
#   bash scripts/fuzz.sh run SECONDS [TARGET...]      fuzz each target (default: all) for SECONDS, one after another
#   bash scripts/fuzz.sh smoke                        CI: build, seed, run every target briefly (a few minutes in all)
#   bash scripts/fuzz.sh list                         the targets
#
# `run` and `smoke` print executions, coverage (libFuzzer's final `cov:`
# and `ft:`) and the path of any crash/timeout/OOM input, and exit non-zero
# if one appeared. Reproduce one with
#   cargo +nightly fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-…
# and minimise it with `cargo +nightly fuzz tmin -s none TARGET FILE`.
#
# Environment: FUZZ_SANITIZER (default none: the crate forbids unsafe code,
# and `address` halves the speed; set it to address to check dependencies'
# unsafe code), SMOKE_SECONDS (default 8 per target), FUZZ_NICE (default 10),
# FUZZ_RSS_LIMIT_MB (default 512) and FUZZ_MALLOC_LIMIT_MB (default 64).
# One fuzzer process at a time, single-threaded (no -jobs/-workers: that is
# libFuzzer's one in-process loop).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGETS=(token_request xml_parse c14n xmldsig_verify saml_assertion saml_resigned jwt jwt_resigned jwk config saml_metadata dpop_proof)
SANITIZER="${FUZZ_SANITIZER:-none}"
NICE="${FUZZ_NICE:-10}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
# Inputs are at most 64 KiB: a few hundred MB of RSS, and no single
# allocation of 64 MB or more (a 1,000× blow-up of the largest input), is
# tight enough to catch amplification (the 1 MiB c14n bound, the XML and JSON
# limits) without flagging libFuzzer's own corpus and tables.
LIBFUZZER_FLAGS=(-rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-512}" -malloc_limit_mb="${FUZZ_MALLOC_LIMIT_MB:-64}" -timeout=10 -max_len=65536 -print_final_stats=1)

dict_for() {
  case "$1" in
    xml_parse | c14n | xmldsig_verify | saml_assertion | saml_resigned | saml_metadata) echo fuzz/dict/xml.dict ;;
    jwk | config | jwt_resigned | dpop_proof) echo fuzz/dict/json.dict ;;
    token_request | jwt) echo fuzz/dict/form.dict ;;
  esac
}

ensure_tools() {
  if ! rustup toolchain list | grep -q "^${TOOLCHAIN}"; then
    echo "fuzz: installing the ${TOOLCHAIN} toolchain" >&2
    rustup toolchain install "$TOOLCHAIN" --profile minimal
  fi
  if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
  fi
}

build() {
  ensure_tools
  nice -n "$NICE" cargo "+$TOOLCHAIN" fuzz build -s "$SANITIZER" -O -a
}

seed() {
  python3 fuzz/seed.py
}

check_target() {
  local t
  for t in "${TARGETS[@]}"; do [[ "$t" == "$1" ]] && return 0; done
  echo "fuzz: unknown target $1 (targets: ${TARGETS[*]})" >&2
  exit 2
}

# run_one TARGET SECONDS — fuzzes one target; prints a summary line; returns
# 1 if a new artifact appeared or libFuzzer failed.
run_one() {
  local t="$1" secs="$2"
  local corpus="fuzz/corpus/$t" artifacts="fuzz/artifacts/$t"
  local log="fuzz/artifacts/$t.log"
  mkdir -p "$corpus" "$artifacts"
  local before
  before="$(ls -1 "$artifacts" | sort)"
  local dict
  dict="$(dict_for "$t")"
  local status=0
  nice -n "$NICE" cargo "+$TOOLCHAIN" fuzz run -s "$SANITIZER" -O -a "$t" "$corpus" -- \
    "${LIBFUZZER_FLAGS[@]}" -max_total_time="$secs" ${dict:+-dict=$dict} \
    > "$log" 2>&1 || status=$?
  local last execs cov ft corp
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  cov="$(grep -oE 'cov: [0-9]+' <<< "$last" | tail -n 1 | cut -d' ' -f2)"
  ft="$(grep -oE 'ft: [0-9]+' <<< "$last" | tail -n 1 | cut -d' ' -f2)"
  corp="$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<< "$last" | tail -n 1 | cut -d' ' -f2)"
  local slowest
  slowest="$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -n 1)"
  local peak
  peak="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)"
  printf '%-15s %6ss  execs=%-10s cov=%-6s ft=%-6s corpus=%-12s slowest=%ss peak_rss=%sMB\n' \
    "$t" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${slowest:-?}" "${peak:-?}"
  local after new
  after="$(ls -1 "$artifacts" | sort)"
  new="$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)"
  if [[ -n "$new" ]]; then
    while read -r f; do echo "  FOUND: $artifacts/$f"; done <<< "$new"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 | sed 's/^/  /'
    echo "  log: $log"
    return 1
  fi
  if [[ "$status" -ne 0 ]]; then
    echo "  libFuzzer exited with $status; log: $log"
    tail -n 20 "$log" | sed 's/^/  /'
    return 1
  fi
  return 0
}

run() {
  local secs="${1:?usage: fuzz.sh run SECONDS [TARGET...]}"
  shift
  local targets=("$@")
  [[ ${#targets[@]} -eq 0 ]] && targets=("${TARGETS[@]}")
  local t
  for t in "${targets[@]}"; do check_target "$t"; done
  build
  [[ -d fuzz/corpus ]] || seed
  local failed=0
  for t in "${targets[@]}"; do
    run_one "$t" "$secs" || failed=1
  done
  if [[ "$failed" -ne 0 ]]; then
    echo "fuzz: findings above (inputs under fuzz/artifacts/)" >&2
    return 1
  fi
}

smoke() {
  local start=$SECONDS
  build
  seed > /dev/null
  run "${SMOKE_SECONDS:-8}"
  echo "fuzz smoke: $((SECONDS - start)) s"
}

case "${1:-}" in
  seed) seed ;;
  build) build ;;
  run) shift; run "$@" ;;
  smoke) smoke ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

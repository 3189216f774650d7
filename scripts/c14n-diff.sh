#!/usr/bin/env bash
# Differential canonicalization test (issue #4): random namespace-heavy XML documents, canonicalized
# by libxml2 (Python lxml, plus the system libxml2 for the cases where lxml is known to deviate)
# and by src/xml/c14n.rs, compared byte for byte. See tests/c14n_diff/README.md.
#
#   bash scripts/c14n-diff.sh [count] [seed]      count documents (default 300), seed (default 0)
#
# Environment: PYTHON (default python3); C14N_DIFF_AVOID=feature,... leaves constructs out
# (gen.py --avoid; e.g. while a known bug is being fixed).
# Writes target/c14n-diff/{cases,failures,disagreements}.jsonl. Exit status 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-300}
seed=${2:-0}
py=${PYTHON:-python3}
out=target/c14n-diff
mkdir -p "$out"

has_lxml() { "$1" -c 'import lxml.etree' 2>/dev/null; }
if ! has_lxml "$py"; then
  if [[ -x $out/venv/bin/python ]] && has_lxml "$out/venv/bin/python"; then
    py=$out/venv/bin/python
  else
    echo "c14n-diff: installing lxml with pip"
    "$py" -m pip install --quiet lxml || "$py" -m pip install --quiet --user lxml || true
    if ! has_lxml "$py"; then
      # An externally managed Python (PEP 668): a virtual environment under target/.
      "$py" -m venv "$out/venv"
      "$out/venv/bin/python" -m pip install --quiet lxml
      py=$out/venv/bin/python
    fi
  fi
fi

avoid=()
if [[ -n ${C14N_DIFF_AVOID:-} ]]; then
  avoid=(--avoid "$C14N_DIFF_AVOID")
fi
"$py" tests/c14n_diff/gen.py --count "$count" --seed "$seed" --out "$out/cases.jsonl" \
  --disagreements "$out/disagreements.jsonl" "${avoid[@]}"
cargo run --quiet --release --example c14n_diff -- "$out/cases.jsonl" --failures "$out/failures.jsonl"

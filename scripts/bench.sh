#!/usr/bin/env bash
# npm run bench: CPU per token request inside workerd (ours vs jose / xml-crypto
# peers), Node, latency with the Durable Object, cold start, size, profile;
# writes bench/results/latest.json, docs/bench.md and docs/bench.svg.
#
#   npm run bench                    the full run (≈3 min after the machine is quiet)
#   npm run bench -- --native        also `cargo bench --bench exchange` (criterion, ≈2 min)
#   npm run bench -- --quick         smoke test: bench/results/quick.json only, docs untouched
#   npm run bench -- --no-wait       do not wait for the 1-min load average to fall below 1.0
#   npm run bench -- --wait 600      wait up to 600 s for it before the first phase (default 180; later phases 60)
#   npm run bench -- --skip cold,node,profile,latency   leave phases out
#
# Loopback only. Every workerd it starts is stopped by PID (bench/run.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh --no-browser
command -v xmlsec1 >/dev/null || { echo "bench: xmlsec1 signs the SAML assertions: apt-get install -y xmlsec1" >&2; exit 1; }
for dep in miniflare jose xml-crypto @xmldom/xmldom esbuild; do
  if [[ ! -f node_modules/$dep/package.json ]]; then
    echo "bench: installing npm devDependencies ($dep missing)"
    npm install --no-audit --no-fund
    break
  fi
done
# --pkg DIR measures another build of the package: leave pkg/ alone.
if [[ " $* " != *" --pkg "* ]]; then
  nice -n 10 bash scripts/build-pkg.sh --if-stale
fi

# Quiet and offline (Miniflare: cf fetch off in bench/run.mjs).
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

# Node 20 has WebSocket (for the profiler's inspector session) behind a flag.
flags=()
if node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null; then :; else flags+=(--experimental-websocket); fi
exec node "${flags[@]}" bench/run.mjs "$@"

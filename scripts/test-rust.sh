#!/usr/bin/env bash
# Rust tests: natively, then the same integration tests compiled to wasm in
# Node and in headless Chromium. Called by `npm test` (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (native)"
cargo test --all-targets --quiet
cargo test --doc --quiet

echo "== wasm tests in Node (wasm-pack test --node)"
wasm-pack test --node -- --test endpoint --test saml --test limits --test explain --test keysets --test idjag --test refresh

echo "== wasm tests in headless Chromium (wasm-pack test --headless --chrome)"
wasm-pack test --headless --chrome --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  -- --features browser-tests --test endpoint --test saml --test limits --test explain --test keysets --test idjag --test refresh

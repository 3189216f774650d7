#!/usr/bin/env bash
# Build the npm package in pkg/: the wasm core (cargo + wasm-bindgen,
# --target web) plus the friendly JS API from js/. No wasm-opt (Debian's
# binaryen breaks the module).
#
# wasm-bindgen runs directly (not through wasm-pack) because the JS API needs
# `--experimental-reset-state-function`: after a wasm trap the instance is
# poisoned and js/index.js re-instantiates it with `__wbg_reset_state()`.
#
#   bash scripts/build-pkg.sh             always rebuild the wasm
#   bash scripts/build-pkg.sh --if-stale  rebuild the wasm only when src/ or
#                                         Cargo.* (or this script) are newer than pkg/; the JS
#                                         files are copied either way
set -euo pipefail
cd "$(dirname "$0")/.."

if_stale=0
for arg in "$@"; do
  case "$arg" in
    --if-stale) if_stale=1 ;;
    *) echo "build-pkg.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

wasm=pkg/assertion_grant_bg.wasm
need_build=1
if [[ $if_stale == 1 && -f $wasm && -f pkg/assertion_grant.js && -f pkg/slim/assertion_grant_bg.wasm ]]; then
  if [[ -z "$(find src Cargo.toml Cargo.lock scripts/build-pkg.sh scripts/wasm-strip-names.mjs -newer "$wasm" -print -quit 2>/dev/null)" ]]; then
    need_build=0
  fi
fi

# Two builds of one crate:
#   pkg/       the full module (default features: both signature backends, the
#              synchronous helpers, the test IdP) — the npm package's main entry;
#   pkg/slim/  without `rust-crypto` (no big-integer or curve-signature code):
#              WebCrypto verifies and signs — what the Worker ships
#              (`assertion-grant/worker`), smaller and faster to start.
# Each has its own target directory so neither rebuild evicts the other.
build_variant() {
  local out=$1 target_dir=$2
  shift 2
  cargo build --release --target wasm32-unknown-unknown --lib --quiet --target-dir "$target_dir" "$@"
  mkdir -p "$out"
  rm -f "$out"/assertion_grant.js "$out"/assertion_grant.d.ts "$out"/assertion_grant_bg.wasm "$out"/assertion_grant_bg.wasm.d.ts
  wasm-bindgen --target web --out-dir "$out" --experimental-reset-state-function \
    "$target_dir"/wasm32-unknown-unknown/release/assertion_grant.wasm
  # Ship without the `name` section (debug names, ~9 % of the file); keep the
  # named module for the benchmark's profiler.
  mkdir -p target/wasm-names/"$out"
  cp "$out"/assertion_grant_bg.wasm target/wasm-names/"$out"/assertion_grant_bg.wasm
  node scripts/wasm-strip-names.mjs target/wasm-names/"$out"/assertion_grant_bg.wasm "$out"/assertion_grant_bg.wasm
  touch "$out"/assertion_grant_bg.wasm
}

if [[ $need_build == 1 ]]; then
  echo "build-pkg: cargo build --release --target wasm32-unknown-unknown; wasm-bindgen --target web (full, then slim)"
  build_variant pkg target
  build_variant pkg/slim target/slim --no-default-features
  touch "$wasm"
else
  echo "build-pkg: pkg/ is up to date with src/ and Cargo files; copying js/ only"
fi

shopt -s nullglob
js_files=(js/*.js js/*.d.ts)
cp "${js_files[@]}" pkg/
# The same JS layer over the slim module.
cp "${js_files[@]}" pkg/slim/

node --input-type=module - "${js_files[@]}" <<'NODE'
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const extra = process.argv.slice(2).map((f) => basename(f));
const file = 'pkg/package.json';
const cargo = readFileSync('Cargo.toml', 'utf8');
const field = (name) => cargo.match(new RegExp(`^${name} = "([^"]*)"`, 'm'))?.[1];
const pkg = {
  version: field('version'),
  description: field('description'),
  license: field('license'),
  repository: { type: 'git', url: field('repository') },
  files: [
    'assertion_grant_bg.wasm', 'assertion_grant.js', 'assertion_grant.d.ts', 'assertion_grant_bg.wasm.d.ts',
    'slim/assertion_grant_bg.wasm', 'slim/assertion_grant.js', 'slim/assertion_grant.d.ts',
    ...extra.map((f) => `slim/${f}`),
  ],
};
pkg.name = 'assertion-grant';
pkg.type = 'module';
pkg.main = 'index.js';
pkg.module = 'index.js';
pkg.types = 'index.d.ts';
pkg.exports = {
  '.': { types: './index.d.ts', import: './index.js', default: './index.js' },
  './core': { types: './assertion_grant.d.ts', import: './assertion_grant.js', default: './assertion_grant.js' },
  './assertion_grant_bg.wasm': './assertion_grant_bg.wasm',
  // Workers and other hosts that have WebCrypto: no pure-Rust signature code.
  './worker': { types: './slim/index.d.ts', import: './slim/index.js', default: './slim/index.js' },
  './worker/assertion_grant_bg.wasm': './slim/assertion_grant_bg.wasm',
  './package.json': './package.json',
};
pkg.files = [...new Set([...(pkg.files ?? []), ...extra])].sort();
pkg.sideEffects = pkg.sideEffects ?? ['./snippets/*'];
writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
console.log(`build-pkg: pkg/package.json -> ${pkg.name}@${pkg.version}, files: ${pkg.files.join(', ')}`);
NODE

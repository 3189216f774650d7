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

# The package's README: the repository README's sections for package users
# (the command-line tool, using the package, the npm API), and the licences.
{
  echo '# assertion-grant'
  echo
  echo 'An OAuth 2.0 token endpoint for assertion grants — RFC 7523 JWT bearer (and ID-JAG),'
  echo 'RFC 7522 SAML 2.0 bearer, DPoP, refresh tokens — issuing RFC 9068 access tokens: a'
  echo 'Rust core compiled to WebAssembly for Node, browsers and Cloudflare Workers.'
  echo
  awk '/^## Command-line tool/{on=1} /^## Rust API/{on=0} on' README.md
} > pkg/README.md
cp LICENSE-MIT LICENSE-APACHE pkg/

# pkg/package.json: everything a published package needs. Checked by
# tests/js/package-projects.test.mjs (npm pack / npm publish --dry-run, and the
# tarball installed into fresh Node, TypeScript, Worker, browser and Hono projects).
node --input-type=module - "${js_files[@]}" <<'NODE'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const fail = (message) => {
  console.error(`build-pkg: ${message}`);
  process.exit(1);
};
const cargo = readFileSync('Cargo.toml', 'utf8');
const field = (name) => cargo.match(new RegExp(`^${name} = "([^"]*)"`, 'm'))?.[1] ?? fail(`Cargo.toml has no ${name}`);

// The JS layer (js/*.js, js/*.d.ts), in pkg/ and again over the slim module in
// pkg/slim/. The command-line tool is the package's `bin` only: not in slim/.
const BIN = 'cli.js';
const js = process.argv.slice(2).map((f) => basename(f));
if (!js.includes(BIN)) fail(`js/${BIN} is missing (it is the package's bin)`);
if (!readFileSync(`pkg/${BIN}`, 'utf8').startsWith('#!/usr/bin/env node\n')) {
  fail(`js/${BIN} must start with "#!/usr/bin/env node" (npm links it as the assertion-grant command)`);
}
chmodSync(`pkg/${BIN}`, 0o755);
for (const f of ['index.js', 'index.d.ts']) if (!js.includes(f)) fail(`js/${f} is missing`);

const core = ['assertion_grant_bg.wasm', 'assertion_grant.js', 'assertion_grant.d.ts'];
const files = [
  ...core, 'assertion_grant_bg.wasm.d.ts', ...js,
  ...core.map((f) => `slim/${f}`), ...js.filter((f) => f !== BIN).map((f) => `slim/${f}`),
  // npm adds README and LICENSE on its own, but not LICENSE-MIT / LICENSE-APACHE.
  'README.md', 'LICENSE-MIT', 'LICENSE-APACHE',
];
// wasm-bindgen writes snippets/ only for inline JS (none today); they would
// be the one part with side effects at import.
const snippets = ['snippets', 'slim/snippets'].filter((d) => existsSync(`pkg/${d}`));
for (const f of files) if (!existsSync(`pkg/${f}`)) fail(`pkg/${f} is missing`);

// In every conditional export `types` comes first (TypeScript takes the first
// condition that matches) and `default` last.
const entry = (base) => ({ types: `./${base}.d.ts`, import: `./${base}.js`, default: `./${base}.js` });
const pkg = {
  name: 'assertion-grant',
  version: field('version'),
  description:
    'OAuth 2.0 token endpoint for assertion grants (RFC 7523 JWT bearer and ID-JAG, RFC 7522 SAML 2.0 bearer, DPoP, ' +
    'refresh tokens) issuing RFC 9068 access tokens: a Rust core compiled to WebAssembly for Node, browsers and Cloudflare Workers',
  keywords: [
    'oauth', 'oauth2', 'token-endpoint', 'jwt-bearer', 'rfc7523', 'saml', 'saml2-bearer', 'rfc7522', 'id-jag',
    'assertion-grant', 'dpop', 'rfc9068', 'webassembly', 'cloudflare-workers',
  ],
  license: field('license'),
  repository: { type: 'git', url: field('repository') },
  type: 'module',
  main: './index.js',
  module: './index.js',
  types: './index.d.ts',
  exports: {
    '.': entry('index'),
    // The raw wasm-bindgen core, for hosts that drive the steps themselves.
    './core': entry('assertion_grant'),
    './assertion_grant_bg.wasm': './assertion_grant_bg.wasm',
    // Workers and other hosts that have WebCrypto: no pure-Rust signature code.
    './worker': entry('slim/index'),
    './worker/assertion_grant_bg.wasm': './slim/assertion_grant_bg.wasm',
    './package.json': './package.json',
  },
  bin: { 'assertion-grant': BIN },
  // Anchored: a bare "cli.js" would also match slim/cli.js (gitignore rules).
  files: [...new Set([...files, ...snippets])].map((f) => `/${f}`).sort(),
  sideEffects: snippets.length === 0 ? false : snippets.map((d) => `./${d}/*`),
  engines: { node: '>=20.3.0' },
};
writeFileSync('pkg/package.json', JSON.stringify(pkg, null, 2) + '\n');
console.log(`build-pkg: pkg/package.json -> ${pkg.name}@${pkg.version}, files: ${pkg.files.join(', ')}`);
NODE

#!/usr/bin/env bash
# Install what building and testing assertion-grant needs, idempotently.
# A second run does no installs and takes a few seconds.
#
#   bash scripts/ensure-tools.sh              everything, incl. Chromium for wasm browser tests
#   bash scripts/ensure-tools.sh --no-browser skip Chromium/chromedriver
#
# Registries only: rustup targets, crates.io (cargo install), Debian (apt-get), npm.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) browser=0 ;;
    *) echo "ensure-tools.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'ensure-tools: %-22s %s\n' "$1" "$2"; }
die() { echo "ensure-tools: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install Rust with rustup first)"
command -v node >/dev/null || die "node not found"

# --- Rust target -------------------------------------------------------------
if command -v rustup >/dev/null; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say wasm32-unknown-unknown "present"
  else
    rustup target add wasm32-unknown-unknown >/dev/null
    say wasm32-unknown-unknown "installed"
  fi
else
  say wasm32-unknown-unknown "rustup not found; assuming the target is installed"
fi

# --- wasm-pack -----------------------------------------------------------------
if v=$(wasm-pack --version 2>/dev/null); then
  say wasm-pack "present ($v)"
else
  echo "ensure-tools: installing wasm-pack (cargo install, several minutes)..."
  cargo install wasm-pack --locked
  say wasm-pack "installed ($(wasm-pack --version))"
fi

# --- wasm-bindgen-cli, exactly the version in Cargo.lock -----------------------
[[ -f Cargo.lock ]] || cargo generate-lockfile
want=$(awk '
  /^\[\[package\]\]/ { name = "" }
  /^name = / { name = $3; gsub(/"/, "", name) }
  /^version = / && name == "wasm-bindgen" { v = $3; gsub(/"/, "", v); print v; exit }
' Cargo.lock)
[[ -n $want ]] || die "no wasm-bindgen package in Cargo.lock"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have == "$want" ]]; then
  say wasm-bindgen-cli "present ($have)"
else
  echo "ensure-tools: installing wasm-bindgen-cli $want (have: ${have:-none}; cargo install, several minutes)..."
  # No --locked: one of its locked dependencies is not in the registry.
  cargo install wasm-bindgen-cli --version "$want" --force
  say wasm-bindgen-cli "installed ($(wasm-bindgen --version))"
fi

# --- Chromium + chromedriver (wasm-pack test --headless --chrome) --------------
if [[ $browser == 1 ]]; then
  if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    say chromium "present ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  else
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "ensure-tools: installing chromium and chromium-driver (apt-get)..."
    "${sudo[@]}" apt-get update -qq
    install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver)
    # dpkg sometimes reports missing archives on the first attempt: retry once.
    "${install[@]}" || "${install[@]}"
    say chromium "installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  fi
else
  say chromium "skipped (--no-browser)"
fi

# --- xmlsec1 (signs fresh SAML assertions in the Worker tests) ------------------
if [[ $browser == 1 ]]; then
  if command -v xmlsec1 >/dev/null; then
    say xmlsec1 "present ($(xmlsec1 --version 2>/dev/null | head -1))"
  else
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "ensure-tools: installing xmlsec1 (apt-get)..."
    "${sudo[@]}" apt-get update -qq
    install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xmlsec1)
    "${install[@]}" || "${install[@]}"
    say xmlsec1 "installed ($(xmlsec1 --version 2>/dev/null | head -1))"
  fi
fi

# --- npm dependencies (wrangler, miniflare) ------------------------------------
marker=node_modules/.package-lock.json
if [[ -d node_modules && -f $marker && ! package-lock.json -nt $marker ]]; then
  say node_modules "present"
else
  echo "ensure-tools: npm ci..."
  npm ci --no-audit --no-fund
  touch "$marker"
  say node_modules "installed"
fi

# --- Python: Authlib + requests, a real refresh_token client for the Worker tests
if command -v python3 >/dev/null; then
  if python3 -c 'import authlib, requests' 2>/dev/null; then
    say authlib "present"
  else
    python3 -m pip install --quiet --disable-pip-version-check 'authlib==1.9.10' 'requests==2.34.2' \
      || die "pip install authlib requests failed (PyPI unreachable?)"
    say authlib "installed"
  fi
else
  die "python3 not found (the Python client tests need it)"
fi

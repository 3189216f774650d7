#!/usr/bin/env bash
# Dependency audit with no network: cargo-deny (advisories, licences, bans,
# sources) against the RustSec snapshot in ../shared/advisory-db, plus the
# code-level guarantee behind the one accepted advisory.
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot="${ADVISORY_DB:-../shared/advisory-db}"
if [ ! -d "$snapshot/crates" ]; then
  echo "audit: advisory snapshot not found at $snapshot" >&2
  exit 1
fi
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "audit: installing cargo-deny"
  cargo install cargo-deny --locked --quiet
fi

# cargo-deny expects a git checkout at <db-path>/advisory-db-<hash of URL>
# whose FETCH_HEAD mtime tells the database's age.
db="target/advisory-dbs/advisory-db-3157b0e258782691"
stamp="$(cat "$snapshot/SNAPSHOT")"
if [ ! -f "$db/.snapshot" ] || [ "$(cat "$db/.snapshot")" != "$stamp" ]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -r "$snapshot"/. "$db"/
  chmod -R u+w "$db"
  date_of_snapshot="$(sed -n 's/.*(\(.*\)).*/\1/p' "$snapshot/SNAPSHOT")"
  (cd "$db" && git init -q && git add -A && \
    git -c user.email=audit@local -c user.name=audit commit -qm snapshot && \
    touch -d "${date_of_snapshot:-now}" .git/FETCH_HEAD)
  echo "$stamp" > "$db/.snapshot"
fi

cargo fetch --quiet
cargo deny --offline check advisories licenses bans sources

# RUSTSEC-2023-0071 is accepted only because no RSA private-key operation
# exists in the product. Keep it that way.
if grep -rnE 'RsaPrivateKey|pkcs1v15::SigningKey|pss::SigningKey|BlindedSigningKey' src/; then
  echo "audit: an RSA private-key type appears in src/; RUSTSEC-2023-0071 would apply" >&2
  exit 1
fi
echo "audit: ok (RUSTSEC-2023-0071 accepted: no RSA private-key operations in src/)"

#!/usr/bin/env bash
# npm start: the Worker on http://127.0.0.1:8787 under wrangler dev (workerd, offline).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh --no-browser
bash scripts/build-pkg.sh --if-stale

# Quiet and offline: no metrics, no error reports, no request.cf lookup.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

base=http://127.0.0.1:8787
cat <<MSG

assertion-grant: starting the Worker on $base
  (demo configuration unless AG_CONFIG / AG_SIGNING_KEY are set in .dev.vars)

Try it, in another terminal:
  npm run demo
  curl -s $base/.well-known/oauth-authorization-server
  curl -s $base/.well-known/jwks.json

Stop with Ctrl-C.

MSG

exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port 8787 "$@"

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

# ag.config.json (if present) is bundled into the Worker: wrangler runs the
# same generator as its [build] command and again whenever the file changes;
# running it here first stops on an invalid file before wrangler starts.
node scripts/bundle-config.mjs

# .dev.vars names a variable (VAR=… or VAR="…"), or not.
dev_var() { [[ -f .dev.vars ]] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=" .dev.vars; }

# The precedence is the Worker's (README): AG_CONFIG, then ag.config.json, then the demo.
if dev_var AG_CONFIG; then
  config_note="configuration: AG_CONFIG from .dev.vars"
  if [[ -f ag.config.json ]]; then config_note+=" (it wins over ag.config.json)"; fi
elif [[ -f ag.config.json ]]; then
  config_note="configuration: ag.config.json"
elif dev_var AG_SIGNING_KEY; then
  config_note="no configuration (no ag.config.json, no AG_CONFIG in .dev.vars)"
else
  config_note="demo configuration (no ag.config.json, no AG_CONFIG / AG_SIGNING_KEY in .dev.vars)"
fi
if [[ $config_note != demo* ]] && ! dev_var AG_SIGNING_KEY; then
  config_note+="
  !! AG_SIGNING_KEY is not in .dev.vars: the Worker answers 500 until it is"
elif [[ $config_note == "no configuration"* ]]; then
  config_note+="
  !! AG_SIGNING_KEY without a configuration is refused (the demo never runs with a real key): 500"
fi

base=http://127.0.0.1:8787
cat <<MSG

assertion-grant: starting the Worker on $base
  $config_note

Try it, in another terminal:
  npm run demo
  curl -s $base/.well-known/oauth-authorization-server
  curl -s $base/.well-known/jwks.json

Stop with Ctrl-C.

MSG

# AG_DEMO=1: the demo configuration may serve when none is set. Only here:
# a deployed Worker without configuration answers 500 instead.
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port 8787 --var AG_DEMO:1 "$@"

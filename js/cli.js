#!/usr/bin/env node
// assertion-grant — the operator's command-line tool (the npm package's bin).
//
//   npx assertion-grant <command> [options]      (--help for each)
//
// Exit codes (stable, for scripts):
//   0  done; for check-config: valid; for explain: the request would get a token
//   1  the answer is "no": check-config found errors, explain found a refusal
//   2  usage: unknown command or option, a missing or extra argument
//   3  input: a file or URL that cannot be read, text that is not what it should be
//
// Secrets never come from the command line (it ends up in shell history and
// process listings): hash-secret reads stdin, explain --url reads the admin
// token from the AG_ADMIN_TOKEN environment variable.

import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  CONFIG_RISKS,
  checkConfig,
  createSigningKey,
  hashClientSecret,
  importSamlMetadata,
  mintTestAssertion,
  ready,
  testIdpTrustEntry,
  TokenEndpoint,
} from './index.js';

const EXIT = { ok: 0, no: 1, usage: 2, input: 3 };

class CliError extends Error {
  constructor(exit, message) {
    super(message);
    this.exit = exit;
  }
}

const usage = (message) => new CliError(EXIT.usage, message);
const input = (message) => new CliError(EXIT.input, message);

const HELP = {
  main: `assertion-grant — operator tools for the assertion-grant token endpoint

Usage: assertion-grant <command> [options]

Commands:
  keygen            a new ES256 signing key for AG_SIGNING_KEY (private JWK on stdout)
  hash-secret       client_secret_sha256 of a client secret read from stdin
  import-metadata   a trusted_issuers entry from an IdP's SAML or OAuth/OIDC metadata
  check-config      validate a configuration; print every error, or the effective configuration
  explain           run the checks for a token request, locally or on a deployed Worker
  mint              a test assertion signed by a test IdP key (never for production)

Options for every command:
  --json            machine-readable output on stdout
  -h, --help        this help, or a command's (assertion-grant <command> --help)

Exit codes: 0 ok · 1 the answer is no (invalid configuration, refused request)
            2 usage error · 3 unreadable or malformed input`,
  keygen: `Usage: assertion-grant keygen [--kid KID] [--json]

A new EC P-256 private JWK (ES256), made by WebCrypto. stdout gets the private
JWK alone on one line, ready to pipe:
  npx assertion-grant keygen --kid 2026-12 | npx wrangler secret put AG_SIGNING_KEY
stderr gets its public JWK. With --json, stdout gets {"kid", "private_jwk", "public_jwk"}.
Default kid: the key's RFC 7638 thumbprint.`,
  'hash-secret': `Usage: assertion-grant hash-secret [--json] < secret.txt

Reads one client secret from stdin (a terminal prompts without echo; one
trailing newline is removed) and prints its lowercase hex SHA-256, the value of
a client's client_secret_sha256. The secret is never taken from the command line.`,
  'import-metadata': `Usage: assertion-grant import-metadata FILE|URL [--json]

Reads an IdP's metadata and prints a trusted_issuers entry to paste into the
configuration:
  SAML 2.0 metadata (EntityDescriptor with an IDPSSODescriptor)
      → {"issuer": entityID, "format": "saml2", "x509_certificates": [...]}
  OAuth 2.0 (RFC 8414) or OpenID Connect discovery metadata (JSON)
      → {"issuer", "format": "jwt", "jwks_uri"}
Metadata without signing keys (no certificate, no jwks_uri) is an error.
URLs must be https (http only on localhost).`,
  'check-config': `Usage: assertion-grant check-config FILE [--json]

Validates a configuration completely. Invalid: every error with its field
path, exit 1. Valid: the effective configuration (every default filled in)
and the risky options it sets, exit 0. FILE "-" reads stdin.`,
  explain: `Usage: assertion-grant explain [REQUEST] [fields] (--config FILE | --url ISSUER) [--now SECONDS] [--json]

The checks the endpoint runs on one token request, in order, and where it
fails — without consuming a one-time-use entry or issuing a token.

The request (one of):
  --request FILE         a form body (grant_type=...&assertion=...), or JSON
                         {"body": "<form body>", "headers": {...}} as the Worker's /explain takes
  -d, --data NAME=VALUE  a form field (repeatable; the value is form-encoded for you;
                         VALUE "@FILE" reads it from FILE — use it for assertions,
                         which are bearer credentials until they expire)
  -H, --header "Name: value"  a request header (repeatable)
  -u, --user CLIENT_ID    HTTP Basic client authentication; the secret from the
                         AG_CLIENT_SECRET environment variable, else stdin (a
                         terminal prompts without echo) — never the command line

Where to run the checks:
  --config FILE          locally, against this configuration (keys at URLs are fetched)
  --url ISSUER           on a deployed Worker: POST ISSUER/explain with the admin
                         token from the AG_ADMIN_TOKEN environment variable
  --now SECONDS          the clock (seconds since the epoch; default: now)

Exit 0 when the request would get a token, 1 when it would be refused.`,
  mint: `Usage: assertion-grant mint --key FILE --issuer ISS --subject SUB --audience AUD [options]

A test assertion signed with a test IdP's private EC P-256 JWK (e.g. from
keygen). For trying a configuration, never for production: a trusted issuer
whose key is on a developer's disk is not an identity provider.
  --format jwt|saml2     default jwt
  --lifetime SECONDS     default 300
  --recipient URL        SAML Recipient: the token endpoint URL (default: the audience)
  --attribute NAME=VALUE a claim / attribute (repeatable; repeated names make a list)
  --now SECONDS          issue time (default: now)
  --trust-entry          print the trusted_issuers entry for the key instead
stdout: the assertion (the form's assertion parameter); --json: {"assertion", "format"}.`,
};

/** Parses argv against `spec` ({ name: 'flag' | 'value' | 'list' }, aliases). */
function parseArgs(argv, spec, aliases = {}) {
  const options = {};
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let inline;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const name = aliases[arg] ?? (arg.startsWith('--') ? arg.slice(2) : undefined);
    const kind = name === undefined ? undefined : spec[name];
    if (kind === undefined) throw usage(`unknown option ${arg}`);
    if (kind === 'flag') {
      if (inline !== undefined) throw usage(`${arg} takes no value`);
      options[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw usage(`${arg} needs a value`);
    if (kind === 'list') (options[name] ??= []).push(value);
    else if (options[name] !== undefined) throw usage(`${arg} given twice`);
    else options[name] = value;
  }
  return { options, positional };
}

const COMMON = { json: 'flag', help: 'flag' };
const COMMON_ALIASES = { '-h': 'help' };

function readText(path, what) {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw input(`cannot read ${what} ${path}: ${err.code ?? err.message}`);
  }
}

/** JSON.parse, or an input error; `secret`: never quote the text (a key file). */
function parseJson(text, what, { secret = false } = {}) {
  try {
    return JSON.parse(text);
  } catch (err) {
    const position = /position \d+/.exec(err.message)?.[0];
    throw input(`${what} is not valid JSON${secret ? (position ? ` (at ${position})` : '') : `: ${err.message}`}`);
  }
}

function seconds(value, name) {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw usage(`${name} must be whole seconds, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** An https URL (http only for localhost), or a usage error. */
function checkedUrl(text, name) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw usage(`${name}: not a URL: ${text}`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw usage(`${name}: must be https (http only on localhost): ${text}`);
  }
  return url;
}

const MAX_FETCH_BYTES = 1024 * 1024;

/** GET `url` (no redirects, 10 s, at most 1 MiB) as text. */
async function fetchText(url) {
  let response;
  try {
    response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw input(`cannot fetch ${url}: ${err.cause?.code ?? err.message}`);
  }
  if (!response.ok) throw input(`cannot fetch ${url}: HTTP ${response.status}`);
  const chunks = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > MAX_FETCH_BYTES) throw input(`${url}: larger than ${MAX_FETCH_BYTES} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw input(`cannot fetch ${url}: ${err.cause?.code ?? err.message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The issuer a metadata URL names (RFC 8414 §3, OpenID Connect Discovery
 * §4): the part before `/.well-known/openid-configuration`, or the origin
 * plus the part after `/.well-known/oauth-authorization-server`; else none.
 */
function issuerOfMetadataUrl(url) {
  const path = url.pathname;
  const oidc = '/.well-known/openid-configuration';
  const oauth = '/.well-known/oauth-authorization-server';
  if (path.endsWith(oidc)) return url.origin + path.slice(0, -oidc.length);
  if (path === oauth || path.startsWith(`${oauth}/`)) return url.origin + path.slice(oauth.length);
  return undefined;
}

// ---------------------------------------------------------------------------
// Commands

async function keygen({ options, positional }, out) {
  if (positional.length > 0) throw usage(`keygen takes no arguments, got ${positional[0]}`);
  if (options.kid !== undefined && !/^[\x21-\x7e]{1,128}$/.test(options.kid)) {
    throw usage('--kid must be 1-128 printable ASCII characters without spaces');
  }
  const privateJwk = JSON.parse(await createSigningKey(options.kid));
  const { d: _d, ...publicJwk } = privateJwk;
  if (options.json) {
    out.json({ kid: privateJwk.kid, private_jwk: privateJwk, public_jwk: publicJwk });
  } else {
    out.line(JSON.stringify(privateJwk));
    out.note(`public JWK (kid ${privateJwk.kid}): ${JSON.stringify(publicJwk)}`);
    out.note('the line on stdout is the private key: store it as a secret (wrangler secret put AG_SIGNING_KEY), never in a file you commit');
  }
  return EXIT.ok;
}

/** Reads a secret from stdin: without echo on a terminal. */
async function readSecret(stdin, stderr) {
  if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
    stderr.write('client secret (not echoed): ');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    try {
      return await new Promise((resolve, reject) => {
        let text = '';
        const onData = (chunk) => {
          for (const ch of chunk) {
            if (ch === '\r' || ch === '\n') {
              stdin.off('data', onData);
              stderr.write('\n');
              resolve(text);
              return;
            }
            if (ch === '\u0003') {
              stdin.off('data', onData);
              reject(usage('cancelled'));
              return;
            }
            if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
            else text += ch;
          }
        };
        stdin.on('data', onData);
      });
    } finally {
      stdin.setRawMode(false);
      stdin.pause();
    }
  }
  const chunks = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function hashSecret({ options, positional }, out, io) {
  if (positional.length > 0) {
    throw usage('hash-secret reads the secret from stdin, never from the command line (it would stay in your shell history)');
  }
  const secret = await readSecret(io.stdin, io.stderr);
  if (secret.length === 0) throw input('no secret on stdin');
  if (/[\r\n]/.test(secret)) throw input('the secret on stdin has more than one line');
  const hash = hashClientSecret(secret);
  if (options.json) out.json({ client_secret_sha256: hash });
  else out.line(hash);
  return EXIT.ok;
}

async function importMetadata({ options, positional }, out) {
  if (positional.length !== 1) throw usage('import-metadata needs one FILE or URL');
  const warnings = [];
  const source = positional[0];
  const url = /^https?:\/\//i.test(source) ? checkedUrl(source, 'URL') : undefined;
  const text = url !== undefined ? await fetchText(url) : readText(source, 'metadata file');
  let entry;
  if (text.trimStart().startsWith('<')) {
    try {
      entry = importSamlMetadata(text);
    } catch (err) {
      throw input(`SAML metadata not usable: ${err.message}`);
    }
  } else {
    const doc = parseJson(text, 'metadata');
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw input('metadata must be a JSON object or SAML XML');
    if (typeof doc.issuer !== 'string' || doc.issuer === '') throw input('metadata has no issuer');
    // RFC 8414 §3.3, OpenID Connect Discovery §4.3: the issuer in the
    // document must be the one its URL was formed from, or a server could
    // claim to be another issuer and name its own keys.
    const expected = url === undefined ? undefined : issuerOfMetadataUrl(url);
    if (url !== undefined && expected === undefined) {
      throw input(`${url.href} is not a metadata URL (…/.well-known/openid-configuration or /.well-known/oauth-authorization-server/…): its issuer cannot be checked`);
    }
    if (expected !== undefined && doc.issuer !== expected) {
      throw input(`metadata at ${url.href} names issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(expected)} (RFC 8414 §3.3): refusing`);
    }
    if (url === undefined) warnings.push(`the issuer ${JSON.stringify(doc.issuer)} comes from a file: check it is the IdP you mean (fetching its metadata URL checks it)`);
    if (typeof doc.jwks_uri !== 'string' || doc.jwks_uri === '') {
      throw input(`metadata of ${doc.issuer} has no jwks_uri: no signing keys to trust`);
    }
    try {
      checkedUrl(doc.jwks_uri, 'jwks_uri');
    } catch (err) {
      throw input(err.message);
    }

    entry = { issuer: doc.issuer, format: 'jwt', jwks_uri: doc.jwks_uri };
    const algs = Array.isArray(doc.id_token_signing_alg_values_supported) ? doc.id_token_signing_alg_values_supported : [];
    const known = algs.filter((a) => ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256'].includes(a));
    if (known.length > 0) entry.algorithms = known;
  }
  for (const warning of warnings) out.note(`warning: ${warning}`);
  if (options.json) out.json(entry);
  else {
    out.line(JSON.stringify(entry, null, 2));
    out.note('add it to trusted_issuers, then add scope, claims and subject_prefix as your policy needs (docs/configuration.md)');
  }
  return EXIT.ok;
}

/** Every concrete path of a CONFIG_RISKS pattern (`trusted_issuers[].x`) that `doc` sets, with its value. */
function setPaths(doc, pattern) {
  let found = [{ path: '', node: doc }];
  for (const part of pattern.split('.')) {
    const list = part.endsWith('[]');
    const name = list ? part.slice(0, -2) : part;
    const next = [];
    for (const { path, node } of found) {
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, name)) continue;
      const here = path === '' ? name : `${path}.${name}`;
      const value = node[name];
      if (list) {
        if (Array.isArray(value)) value.forEach((item, i) => next.push({ path: `${here}[${i}]`, node: item }));
      } else next.push({ path: here, node: value });
    }
    found = next;
  }
  return found.filter(({ node }) => node !== undefined && node !== null);
}

/** The value at a concrete path (`clients[0].scope`), or undefined. */
function valueAt(doc, path) {
  let node = doc;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (node === null || typeof node !== 'object') return undefined;
    node = part.startsWith('[') ? node[Number(part.slice(1, -1))] : node[part];
  }
  return node;
}

/** `doc` without the field at a concrete path. */
function without(doc, path) {
  const copy = structuredClone(doc);
  const parts = path.match(/[^.[\]]+|\[\d+\]/g);
  const last = parts.pop();
  const parent = valueAt(copy, parts.map((p) => (p.startsWith('[') ? p : `.${p}`)).join('').replace(/^\./, ''));
  if (parent !== null && typeof parent === 'object') delete parent[last];
  return copy;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Numeric risk fields where a smaller value is the weaker setting.
const LOWER_IS_RISKIER = ['key_cache.min_cache_secs', 'key_cache.refetch_cooldown_secs'];

/**
 * The risky options a valid document sets: every field the schema marks with
 * `Risk:` (CONFIG_RISKS) that is set to something other than what leaving it
 * out gives — compared on the effective configuration, so `audiences: []` is
 * not called out and `refetch_cooldown_secs: 0` is — plus what the
 * configuration leaves open (no scope ceiling, public clients).
 */
function risksOf(doc, effective) {
  const risks = [];
  for (const [pattern, risk] of Object.entries(CONFIG_RISKS)) {
    for (const { path, node: value } of setPaths(doc, pattern)) {
      const fallback = checkConfig(without(doc, path));
      const byDefault = fallback.valid ? valueAt(fallback.effective, path) : undefined;
      const now = valueAt(effective, path);
      if (fallback.valid && same(byDefault, now)) continue;
      // A number is a risk only past its default in the risky direction
      // (a shorter lifetime is safer; a shorter cooldown is not).
      if (typeof now === 'number' && typeof byDefault === 'number') {
        const lowerIsRiskier = LOWER_IS_RISKIER.some((p) => pattern === p);
        if (lowerIsRiskier ? now >= byDefault : now <= byDefault) continue;
      }
      risks.push({ path, value, ...(byDefault === undefined ? {} : { default: byDefault }), note: risk });
    }
  }
  (effective.trusted_issuers ?? []).forEach((issuer, i) => {
    if (issuer.scope === undefined) {
      risks.push({ path: `trusted_issuers[${i}].scope`, value: null, note: `no scope ceiling for ${issuer.issuer}: its grants get whatever the client may have.` });
    }
  });
  (effective.clients ?? []).forEach((client, i) => {
    if (client.token_endpoint_auth_method === 'none') {
      risks.push({ path: `clients[${i}].token_endpoint_auth_method`, value: 'none', note: `public client ${client.client_id}: anyone can use its id.` });
    }
  });
  return risks;
}

async function checkConfigCommand({ options, positional }, out) {
  if (positional.length !== 1) throw usage('check-config needs one FILE (or - for stdin)');
  const text = readText(positional[0], 'configuration');
  const doc = parseJson(text, 'the configuration');
  const report = checkConfig(text);
  if (!report.valid) {
    if (options.json) out.json({ valid: false, errors: report.errors });
    else {
      out.note(`${positional[0]}: ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}`);
      for (const e of report.errors) out.line(`${e.path === '' ? '(document)' : e.path}: ${e.reason}`);
    }
    return EXIT.no;
  }
  const risks = risksOf(doc, report.effective);
  if (options.json) out.json({ valid: true, effective: report.effective, risks });
  else {
    out.line(JSON.stringify(report.effective, null, 2));
    out.note(`${positional[0]}: valid (above: the effective configuration, every default filled in)`);
    if (risks.length === 0) out.note('risky options: none');
    else {
      out.note(`risky options (${risks.length}):`);
      for (const r of risks) out.note(`  ! ${r.path} = ${JSON.stringify(r.value)}${r.default === undefined ? '' : ` (default ${JSON.stringify(r.default)})`}: ${r.note}`);
    }
  }
  return EXIT.ok;
}

/** The token request to explain: {body, headers} from --request, -d, -H, -u. */
async function explainInput(options, io) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  let body;
  if (options.request !== undefined) {
    if (options.data !== undefined) throw usage('--request and -d/--data are exclusive');
    const text = readText(options.request, 'request file');
    if (text.trimStart().startsWith('{')) {
      const doc = parseJson(text, 'the request file');
      if (typeof doc?.body !== 'string') throw input('the request file must be a form body or JSON {"body": "...", "headers": {...}}');
      body = doc.body;
      if (doc.headers !== undefined) {
        if (doc.headers === null || typeof doc.headers !== 'object') throw input('"headers" must be an object');
        for (const [name, value] of Object.entries(doc.headers)) headers[name.toLowerCase()] = String(value);
      }
    } else {
      body = text.trim();
    }
  } else if (options.data !== undefined) {
    const form = new URLSearchParams();
    for (const field of options.data) {
      const eq = field.indexOf('=');
      if (eq <= 0) throw usage(`-d needs NAME=VALUE, got ${JSON.stringify(field)}`);
      const name = field.slice(0, eq);
      let value = field.slice(eq + 1);
      if (value.startsWith('@')) value = readText(value.slice(1), 'field file').trim();
      else if (name === 'client_secret') throw usage('-d client_secret=@FILE only (or -u CLIENT_ID with AG_CLIENT_SECRET): a secret on the command line stays in shell history and process listings');
      form.append(name, value);
    }
    body = form.toString();
  } else {
    throw usage('explain needs a request: --request FILE or -d NAME=VALUE fields');
  }
  for (const header of options.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw usage(`-H needs "Name: value", got ${JSON.stringify(header)}`);
    const name = header.slice(0, colon).trim().toLowerCase();
    if (name === 'authorization') throw usage('-H Authorization: use -u CLIENT_ID (the secret from AG_CLIENT_SECRET or stdin) or a --request file; never a credential on the command line');
    headers[name] = header.slice(colon + 1).trim();
  }
  if (options.user !== undefined) {
    if (options.user.includes(':') || options.user === '') {
      throw usage('-u takes the CLIENT_ID only: the secret comes from AG_CLIENT_SECRET or stdin, never from the command line');
    }
    let secret = io.env.AG_CLIENT_SECRET;
    if (typeof secret !== 'string' || secret === '') secret = await readSecret(io.stdin, io.stderr);
    if (secret === '') throw input('no client secret (AG_CLIENT_SECRET or stdin)');
    const enc = (text) => encodeURIComponent(text).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(options.user)}:${enc(secret)}`).toString('base64')}`;
  }
  return { body, headers };
}

async function explain({ options, positional }, out, io) {
  if (positional.length > 0) throw usage(`explain takes no positional arguments, got ${positional[0]}`);
  if ((options.config === undefined) === (options.url === undefined)) throw usage('explain needs exactly one of --config FILE and --url ISSUER');
  const now = seconds(options.now, '--now');
  const request = await explainInput(options, io);
  let report;
  if (options.config !== undefined) {
    const text = readText(options.config, 'configuration');
    parseJson(text, 'the configuration');
    const check = checkConfig(text);
    if (!check.valid) {
      throw input(`the configuration is not valid (assertion-grant check-config ${options.config}): ${check.errors.map((e) => `${e.path}: ${e.reason}`).join('; ')}`);
    }
    let endpoint;
    try {
      // A throwaway nonce secret: a local run cannot know the deployment's
      // (a proof's nonce then fails here; explain against --url for that).
      endpoint = new TokenEndpoint(text, { crypto: 'wasm', refreshTokens: false, dpopNonceSecret: crypto.getRandomValues(new Uint8Array(32)) });
    } catch (err) {
      throw input(`cannot build an endpoint from ${options.config}: ${err.message}`);
    }
    report = await endpoint.explain(request, { now });
  } else {
    const token = io.env.AG_ADMIN_TOKEN;
    if (typeof token !== 'string' || token.length < 16) throw usage('--url needs the admin token in the AG_ADMIN_TOKEN environment variable (at least 16 characters)');
    const base = checkedUrl(options.url, '--url');
    const url = new URL('/explain', base);
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, ...(now === undefined ? {} : { now }) }),
        redirect: 'error',
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw input(`cannot reach ${url}: ${err.cause?.code ?? err.message}`);
    }
    if (response.status === 404) throw input(`${url}: 404 — the Worker answers /explain only with AG_ADMIN_TOKEN set and presented (is the token right?)`);
    if (!response.ok) throw input(`${url}: HTTP ${response.status}`);
    report = parseJson(await response.text(), 'the /explain answer');
    if (!Array.isArray(report?.checks)) throw input(`${url}: not an explain report`);
  }
  if (options.json) out.json(report);
  else {
    for (const c of report.checks) {
      const mark = c.outcome === 'pass' ? 'ok  ' : c.outcome === 'fail' ? 'FAIL' : c.outcome.padEnd(4);
      out.line(`${mark} ${c.id}${c.spec ? ` (${c.spec})` : ''}${c.detail ? `: ${c.detail}` : ''}${c.reason ? ` [${c.reason}]` : ''}`);
    }
    if (report.would_issue) out.line('=> a token would be issued');
    else if (report.error !== undefined) {
      out.line(`=> refused: ${report.error.status} ${report.error.error} [${report.error.reason}]: ${report.error.error_description}`);
      out.note(`reason ${report.error.reason}: see docs/reasons.md and README "When an exchange fails"`);
    }
  }
  return report.would_issue ? EXIT.ok : EXIT.no;
}

async function mint({ options, positional }, out) {
  if (positional.length > 0) throw usage(`mint takes no positional arguments, got ${positional[0]}`);
  if (options.key === undefined) throw usage('mint needs --key FILE (a private EC P-256 JWK, e.g. from keygen)');
  if (options.issuer === undefined) throw usage('mint needs --issuer');
  const key = parseJson(readText(options.key, 'key file'), 'the key file', { secret: true });
  if (key?.kty !== 'EC' || key?.crv !== 'P-256' || typeof key?.d !== 'string') throw input('--key must hold a private EC P-256 JWK (kty EC, crv P-256, d)');
  const format = options.format ?? 'jwt';
  if (format !== 'jwt' && format !== 'saml2') throw usage(`--format must be jwt or saml2, got ${format}`);
  if (options['trust-entry']) {
    const entry = testIdpTrustEntry(format, options.issuer, key);
    if (options.json) out.json(entry);
    else out.line(JSON.stringify(entry, null, 2));
    return EXIT.ok;
  }
  if (options.subject === undefined) throw usage('mint needs --subject');
  if (options.audience === undefined) throw usage('mint needs --audience (this server\'s issuer or token endpoint)');
  const attributes = {};
  for (const pair of options.attribute ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--attribute needs NAME=VALUE, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    attributes[name] = attributes[name] === undefined ? value : [attributes[name], value].flat();
  }
  const spec = {
    format,
    issuer: options.issuer,
    subject: options.subject,
    audience: options.audience,
    now: seconds(options.now, '--now') ?? Math.floor(Date.now() / 1000),
    lifetime_secs: seconds(options.lifetime, '--lifetime') ?? 300,
    ...(options.recipient === undefined ? {} : { recipient: options.recipient }),
    ...(Object.keys(attributes).length === 0 ? {} : { attributes }),
  };
  let assertion;
  try {
    assertion = await mintTestAssertion(spec, key);
  } catch (err) {
    throw input(`cannot mint: ${err.message}`);
  }
  if (options.json) out.json({ assertion, format });
  else out.line(assertion);
  return EXIT.ok;
}

const COMMANDS = {
  keygen: { run: keygen, spec: { kid: 'value' } },
  'hash-secret': { run: hashSecret, spec: {} },
  'import-metadata': { run: importMetadata, spec: {} },
  'check-config': { run: checkConfigCommand, spec: {} },
  explain: {
    run: explain,
    spec: { request: 'value', data: 'list', header: 'list', user: 'value', config: 'value', url: 'value', now: 'value' },
    aliases: { '-d': 'data', '-H': 'header', '-u': 'user' },
  },
  mint: {
    run: mint,
    spec: { key: 'value', issuer: 'value', subject: 'value', audience: 'value', format: 'value', lifetime: 'value', recipient: 'value', attribute: 'list', now: 'value', 'trust-entry': 'flag' },
  },
};

/**
 * Runs the CLI: `argv` without node and the script; `io` gives stdin,
 * stdout, stderr and env. Resolves with the exit code; never throws.
 */
export async function main(argv, io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }) {
  const out = {
    line: (text) => io.stdout.write(`${text}\n`),
    json: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => io.stderr.write(`${text}\n`),
  };
  const [name, ...rest] = argv;
  const wantsJson = rest.includes('--json');
  try {
    if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      (name === undefined ? out.note : out.line)(HELP[topic] ?? HELP.main);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const command = COMMANDS[name];
    if (command === undefined) throw usage(`unknown command ${JSON.stringify(name)} (assertion-grant --help lists them)`);
    const args = parseArgs(rest, { ...COMMON, ...command.spec }, { ...COMMON_ALIASES, ...(command.aliases ?? {}) });
    if (args.options.help) {
      out.line(HELP[name]);
      return EXIT.ok;
    }
    await ready();
    return await command.run(args, out, io);
  } catch (err) {
    const exit = err instanceof CliError ? err.exit : EXIT.input;
    const message = err instanceof Error ? err.message : String(err);
    if (wantsJson) io.stdout.write(`${JSON.stringify({ error: exit === EXIT.usage ? 'usage' : 'input', message }, null, 2)}\n`);
    io.stderr.write(`assertion-grant: ${message}\n`);
    if (exit === EXIT.usage && name !== undefined && COMMANDS[name] !== undefined) io.stderr.write(`(assertion-grant ${name} --help)\n`);
    return exit;
  }
}

// Run when executed (the bin, or node cli.js), not when imported by tests.
const invoked = process.argv[1];
if (invoked !== undefined && import.meta.url === pathToFileURL(realpathSync(invoked)).href) {
  process.exitCode = await main(process.argv.slice(2));
}

// The command-line tool (pkg/cli.js, the package's `assertion-grant` bin),
// run as a user runs it: a child process with arguments and stdin, its
// stdout, stderr and exit code asserted. Exit codes: 0 ok, 1 "no" (invalid
// configuration, refused request), 2 usage, 3 input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PKG, ROOT, importPkg, mintDemoAssertion, requireFile } from './helpers.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';

const CLI = join(PKG, 'cli.js');
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SECRET = { AG_CLIENT_SECRET: 'demo-secret' };

/** Runs the CLI; resolves with { code, stdout, stderr }. */
function run(args, { stdin = '', env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let dir;
let demo;

before(async () => {
  requireFile(CLI, 'build it first: npm run build:pkg');
  dir = mkdtempSync(join(tmpdir(), 'ag-cli-'));
  const pkg = await importPkg();
  demo = JSON.parse(pkg.demoConfig());
  writeFileSync(join(dir, 'demo.json'), JSON.stringify(demo));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('assertion-grant: help and usage', () => {
  test('--help lists every command (exit 0); no command is a usage error (exit 2)', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['keygen', 'hash-secret', 'import-metadata', 'check-config', 'explain', 'mint']) {
      assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    }
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: assertion-grant <command>/);
  });

  test('every command has --help (exit 0)', async () => {
    for (const command of ['keygen', 'hash-secret', 'import-metadata', 'check-config', 'explain', 'mint']) {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0, command);
      assert.match(r.stdout, new RegExp(`Usage: assertion-grant ${command}`));
    }
  });

  test('unknown command, unknown option, missing value: exit 2 with a message; --json gives a JSON error', async () => {
    const unknown = await run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const option = await run(['keygen', '--colour']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option --colour/);
    const value = await run(['keygen', '--kid']);
    assert.equal(value.code, 2);
    assert.match(value.stderr, /--kid needs a value/);
    const json = await run(['check-config', '--json']);
    assert.equal(json.code, 2);
    assert.deepEqual(Object.keys(JSON.parse(json.stdout)).sort(), ['error', 'message']);
    assert.equal(JSON.parse(json.stdout).error, 'usage');
  });
});

describe('assertion-grant keygen', () => {
  test('stdout: one private JWK line (with kid), stderr: the public JWK', async () => {
    const r = await run(['keygen', '--kid', 'k-2026']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const jwk = JSON.parse(lines[0]);
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    assert.equal(jwk.kid, 'k-2026');
    assert.equal(jwk.alg, 'ES256');
    assert.match(jwk.d, /^[A-Za-z0-9_-]{43}$/);
    const publicLine = r.stderr.split('\n').find((l) => l.startsWith('public JWK'));
    const pub = JSON.parse(publicLine.slice(publicLine.indexOf('{')));
    assert.equal(pub.x, jwk.x);
    assert.equal(pub.d, undefined);
    assert.ok(!r.stderr.includes(jwk.d), 'the private scalar on stderr');
    // The key works as AG_SIGNING_KEY.
    const pkg = await importPkg();
    const endpoint = new pkg.TokenEndpoint(demo, { signingKeys: lines[0] });
    await endpoint.ready();
    assert.equal(endpoint.jwks().keys[0].kid, 'k-2026');
  });

  test('--json; a fresh key each run; a bad kid or an argument is a usage error', async () => {
    const a = JSON.parse((await run(['keygen', '--json'])).stdout);
    const b = JSON.parse((await run(['keygen', '--json'])).stdout);
    assert.deepEqual(Object.keys(a).sort(), ['kid', 'private_jwk', 'public_jwk']);
    assert.equal(a.public_jwk.d, undefined);
    assert.notEqual(a.private_jwk.d, b.private_jwk.d);
    assert.equal(a.kid, a.private_jwk.kid);
    assert.equal((await run(['keygen', '--kid', 'has space'])).code, 2);
    assert.equal((await run(['keygen', 'extra'])).code, 2);
  });
});

describe('assertion-grant hash-secret', () => {
  test('reads the secret from stdin (one trailing newline dropped)', async () => {
    const r = await run(['hash-secret'], { stdin: 'demo-secret\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf\n');
    const json = await run(['hash-secret', '--json'], { stdin: 'demo-secret' });
    assert.deepEqual(JSON.parse(json.stdout), { client_secret_sha256: 'cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf' });
  });

  test('never from argv (exit 2, the secret not echoed); empty or multi-line stdin is exit 3', async () => {
    const argv = await run(['hash-secret', 'my-secret-value']);
    assert.equal(argv.code, 2);
    assert.match(argv.stderr, /stdin, never from the command line/);
    assert.ok(!argv.stderr.includes('my-secret-value') && !argv.stdout.includes('my-secret-value'));
    assert.equal((await run(['hash-secret'], { stdin: '' })).code, 3);
    assert.equal((await run(['hash-secret'], { stdin: 'one\ntwo\n' })).code, 3);
  });
});

describe('assertion-grant import-metadata', () => {
  let server;
  let base;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: base, jwks_uri: 'https://idp.example.com/keys', id_token_signing_alg_values_supported: ['RS256', 'HS256'] }));
      } else if (req.url === '/.well-known/oauth-authorization-server/impostor') {
        // Claims to be another issuer, with its own keys (RFC 8414 §3.3).
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: 'https://accounts.example.com', jwks_uri: 'https://attacker.example/jwks.json' }));
      } else if (req.url === '/metadata.json') {
        res.end(JSON.stringify({ issuer: base, jwks_uri: 'https://idp.example.com/keys' }));
      } else if (req.url === '/huge/.well-known/openid-configuration') {
        res.write('{"issuer": "');
        res.end('x'.repeat(2 * 1024 * 1024));
      } else if (req.url === '/saml') {
        res.end(readFileSync(join(ROOT, 'tests/vectors/saml/metadata/idp-metadata.xml')));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });

  after(() => server?.close());

  test('SAML metadata file → a saml2 entry with its certificates; it validates in a configuration', async () => {
    const r = await run(['import-metadata', join(ROOT, 'tests/vectors/saml/metadata/idp-metadata.xml'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const entry = JSON.parse(r.stdout);
    assert.equal(entry.format, 'saml2');
    assert.ok(entry.issuer.length > 0);
    assert.ok(entry.x509_certificates.length >= 1);
    const pkg = await importPkg();
    const config = { ...demo, trusted_issuers: [...demo.trusted_issuers, entry] };
    assert.equal(pkg.checkConfig(config).valid, true, JSON.stringify(pkg.checkConfig(config).errors));
  });

  test('OpenID discovery over HTTP → a jwt entry with jwks_uri (HMAC algorithms dropped); SAML by URL too', async () => {
    const r = await run(['import-metadata', `${base}/.well-known/openid-configuration`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { issuer: base, format: 'jwt', jwks_uri: 'https://idp.example.com/keys', algorithms: ['RS256'] });
    const saml = await run(['import-metadata', `${base}/saml`, '--json']);
    assert.equal(saml.code, 0, saml.stderr);
    assert.equal(JSON.parse(saml.stdout).format, 'saml2');
  });

  test('metadata without signing keys, not metadata, invalid JSON, a missing file or page: exit 3', async () => {
    const noKeys = await run(['import-metadata', join(ROOT, 'tests/vectors/saml/metadata/no-signing-key.xml')]);
    assert.equal(noKeys.code, 3);
    assert.match(noKeys.stderr, /SAML metadata not usable/);
    assert.equal((await run(['import-metadata', join(ROOT, 'tests/vectors/saml/metadata/not-metadata.xml')])).code, 3);
    const noJwks = join(dir, 'no-jwks.json');
    writeFileSync(noJwks, JSON.stringify({ issuer: 'https://idp.example.com' }));
    const r = await run(['import-metadata', noJwks]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no jwks_uri: no signing keys/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"issuer": ');
    assert.match((await run(['import-metadata', bad])).stderr, /not valid JSON/);
    assert.equal((await run(['import-metadata', join(dir, 'absent.json')])).code, 3);
    assert.equal((await run(['import-metadata', `${base}/missing`])).code, 3);
  });

  test('a document naming another issuer than its URL, a URL that is no metadata URL, a body over 1 MiB: exit 3', async () => {
    const impostor = await run(['import-metadata', `${base}/.well-known/oauth-authorization-server/impostor`]);
    assert.equal(impostor.code, 3);
    assert.match(impostor.stderr, /names issuer "https:\/\/accounts\.example\.com", not "http:\/\/127\.0\.0\.1:\d+\/impostor"/);
    assert.equal(impostor.stdout, '');
    const plain = await run(['import-metadata', `${base}/metadata.json`]);
    assert.equal(plain.code, 3);
    assert.match(plain.stderr, /not a metadata URL/);
    const huge = await run(['import-metadata', `${base}/huge/.well-known/openid-configuration`]);
    assert.equal(huge.code, 3);
    assert.match(huge.stderr, /larger than 1048576 bytes/);
  });

  test('plain http to another host is refused (exit 2); no argument is exit 2', async () => {
    assert.equal((await run(['import-metadata', 'http://idp.example.com/metadata'])).code, 2);
    assert.equal((await run(['import-metadata'])).code, 2);
  });
});

describe('assertion-grant check-config', () => {
  test('valid: the effective configuration with defaults filled in, and its risky options (exit 0)', async () => {
    const r = await run(['check-config', join(dir, 'demo.json'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { valid, effective, risks } = JSON.parse(r.stdout);
    assert.equal(valid, true);
    assert.equal(effective.clock_skew_secs, 60);
    assert.equal(effective.token_endpoint, `${demo.issuer}/token`);
    assert.equal(effective.access_token.lifetime_secs, 600, 'a written value is kept');
    assert.equal(effective.access_token.max_subject_bytes, 255, 'a default is filled in');
    assert.equal(effective.dpop.max_age_secs, 300);
    assert.equal(effective.refresh_token.require_offline_access, true);
    assert.equal(typeof effective.key_cache.min_cache_secs, 'number');
    const issuer = effective.trusted_issuers[0];
    assert.equal(issuer.require_jti, true);
    assert.equal(issuer.dangerous.allow_missing_jti, false);
    assert.ok(Array.isArray(issuer.algorithms) && issuer.algorithms.length > 0);
    assert.ok(Array.isArray(risks));
    // Text mode: the effective document on stdout, the verdict on stderr.
    const text = await run(['check-config', join(dir, 'demo.json')]);
    assert.equal(text.code, 0);
    assert.equal(JSON.parse(text.stdout).issuer, demo.issuer);
    assert.match(text.stderr, /valid/);
  });

  test('a dangerous option is called out', async () => {
    const risky = structuredClone(demo);
    risky.trusted_issuers[0].dangerous = { allow_missing_jti: true, allow_shared_keys: false };
    risky.access_token.lifetime_secs = 86400;
    risky.key_cache = { refetch_cooldown_secs: 0 };
    risky.refresh_token = { require_offline_access: false };
    risky.audiences = [];
    risky.clients[0].allow_introspection = true;
    const file = join(dir, 'risky.json');
    writeFileSync(file, JSON.stringify(risky));
    const r = await run(['check-config', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const paths = JSON.parse(r.stdout).risks.map((x) => x.path);
    for (const want of ['trusted_issuers[0].dangerous.allow_missing_jti', 'access_token.lifetime_secs', 'key_cache.refetch_cooldown_secs', 'refresh_token.require_offline_access', 'clients[0].allow_introspection']) {
      assert.ok(paths.includes(want), `${want} not in ${paths.join(', ')}`);
    }
    // Set to what leaving it out gives: not a risk.
    assert.ok(!paths.includes('audiences'), paths.join());
    assert.ok(!paths.includes('trusted_issuers[0].dangerous.allow_shared_keys'), paths.join());
    // A shorter lifetime than the default (the demo's 600 s) is not a risk.
    const plain = JSON.parse((await run(['check-config', join(dir, 'demo.json'), '--json'])).stdout).risks.map((x) => x.path);
    assert.ok(!plain.includes('access_token.lifetime_secs'), plain.join());
    const text = await run(['check-config', file]);
    assert.match(text.stderr, /! trusted_issuers\[0\]\.dangerous\.allow_missing_jti = true/);
  });

  test('every error, by field path, in one run (exit 1)', async () => {
    const broken = structuredClone(demo);
    broken.clock_skew_secs = 5000; // out of range
    broken.access_token.lifetime_secs = 0; // out of range
    broken.trusted_issuers.push({ issuer: 'https://other.example', format: 'jwt', jwks: { keys: [] }, colour: 'blue' }); // unknown field
    broken.trusted_issuers.push({ issuer: 'https://third.example', format: 'carrier-pigeon' }); // bad enum
    broken.clients.push({ client_id: 'c2', token_endpoint_auth_method: 'client_secret_basic', client_secret_sha256: 'not-hex' });
    broken.clients.push({ client_id: 'c3', token_endpoint_auth_method: 'none', trusted_issuers: ['https://nowhere.example'] });
    broken.clients.push({ client_id: broken.clients[0].client_id, token_endpoint_auth_method: 'none' }); // duplicate
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const r = await run(['check-config', file, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.valid, false);
    const paths = report.errors.map((e) => e.path);
    const n = demo.trusted_issuers.length;
    const c = demo.clients.length;
    // Schema errors are reported per entry.
    assert.ok(paths.includes(`trusted_issuers[${n}].colour`) || paths.some((p) => p.startsWith(`trusted_issuers[${n}]`)), paths.join());
    assert.ok(paths.some((p) => p.startsWith(`trusted_issuers[${n + 1}]`)), paths.join());
    assert.ok(report.errors.length >= 2);

    // Once the schema is right, every semantic error at once.
    const semantic = structuredClone(demo);
    semantic.clock_skew_secs = 5000;
    semantic.access_token.lifetime_secs = 0;
    semantic.clients.push({ client_id: 'c2', token_endpoint_auth_method: 'client_secret_basic', client_secret_sha256: 'not-hex' });
    semantic.clients.push({ client_id: 'c3', token_endpoint_auth_method: 'none', trusted_issuers: ['https://nowhere.example'] });
    semantic.clients.push({ client_id: semantic.clients[0].client_id, token_endpoint_auth_method: 'none' });
    writeFileSync(file, JSON.stringify(semantic));
    const s = await run(['check-config', file, '--json']);
    assert.equal(s.code, 1);
    const spaths = JSON.parse(s.stdout).errors.map((e) => e.path);
    for (const want of ['clock_skew_secs', 'access_token.lifetime_secs', `clients[${c}].client_secret_sha256`, `clients[${c + 1}].trusted_issuers[0]`, `clients[${c + 2}].client_id`]) {
      assert.ok(spaths.includes(want), `${want} not in ${spaths.join(', ')}`);
    }
    // Text mode: one line per error, path first.
    const text = await run(['check-config', file]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^clock_skew_secs: /m);
    assert.match(text.stderr, /6 errors/);
  });

  test('not JSON, a missing file, no argument: exit 3, 3, 2', async () => {
    const bad = join(dir, 'bad-config.json');
    writeFileSync(bad, '{ "issuer": "https://a", }');
    const r = await run(['check-config', bad]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /not valid JSON/);
    assert.equal((await run(['check-config', join(dir, 'nope.json')])).code, 3);
    assert.equal((await run(['check-config'])).code, 2);
  });

  test('reads stdin with -', async () => {
    const r = await run(['check-config', '-', '--json'], { stdin: JSON.stringify(demo) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).valid, true);
  });
});

describe('assertion-grant explain and mint', () => {
  test('locally: a demo assertion would get a token (exit 0); with the clock later, assertion.expired (exit 1)', async () => {
    const assertion = await mintDemoAssertion();
    const args = ['explain', '--config', join(dir, 'demo.json'), '-d', `grant_type=${JWT_BEARER}`, '-d', `assertion=${assertion}`, '-d', 'scope=read', '-u', 'demo-client'];
    const ok = await run([...args, '--json'], { env: SECRET });
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.would_issue, true);
    assert.ok(report.checks.length > 3);
    // The secret from stdin when AG_CLIENT_SECRET is unset.
    const text = await run(args, { stdin: 'demo-secret\n' });
    assert.match(text.stdout, /=> a token would be issued/);
    const wrongSecret = await run([...args, '--json'], { env: { AG_CLIENT_SECRET: 'not-it' } });
    assert.equal(wrongSecret.code, 1);
    assert.equal(JSON.parse(wrongSecret.stdout).error.error, 'invalid_client');

    const later = await run([...args, '--now', String(Math.floor(Date.now() / 1000) + 86400)], { env: SECRET });
    assert.equal(later.code, 1);
    assert.match(later.stdout, /FAIL .*\[assertion\.expired\]/);
    assert.match(later.stdout, /=> refused: 400 invalid_grant \[assertion\.expired\]/);
  });

  test('a request file (form body or the Worker JSON) with -u and -H; a wrong secret is invalid_client', async () => {
    const assertion = await mintDemoAssertion();
    const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString();
    const file = join(dir, 'request.json');
    writeFileSync(file, JSON.stringify({ body, headers: { authorization: `Basic ${Buffer.from('demo-client:wrong').toString('base64')}` } }));
    const r = await run(['explain', '--request', file, '--config', join(dir, 'demo.json'), '--json']);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.error, 'invalid_client');
    const form = join(dir, 'request.txt');
    writeFileSync(form, `${body}\n`);
    const h = await run(['explain', '--request', form, '-u', 'demo-client', '-H', 'X-Trace: 1', '--config', join(dir, 'demo.json'), '--json'], { env: SECRET });
    assert.equal(h.code, 0, h.stdout);
    // A credential header on the command line is refused.
    const header = await run(['explain', '--request', form, '-H', `Authorization: Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`, '--config', join(dir, 'demo.json')]);
    assert.equal(header.code, 2);
  });

  test('usage errors: no request, both or neither of --config/--url, a bad -d, a bad --now', async () => {
    const config = ['--config', join(dir, 'demo.json')];
    assert.equal((await run(['explain', ...config])).code, 2);
    assert.equal((await run(['explain', '-d', 'grant_type=x'])).code, 2);
    assert.equal((await run(['explain', '-d', 'grant_type=x', ...config, '--url', 'https://a.example'])).code, 2);
    assert.equal((await run(['explain', '-d', 'novalue', ...config])).code, 2);
    assert.equal((await run(['explain', '-d', 'grant_type=x', ...config, '--now', 'yesterday'])).code, 2);
    assert.equal((await run(['explain', '-d', 'grant_type=x', '--url', 'https://a.example'])).code, 2, 'no AG_ADMIN_TOKEN');
    // Secrets never on the command line.
    const colon = await run(['explain', '-d', 'grant_type=x', ...config, '-u', 'demo-client:demo-secret']);
    assert.equal(colon.code, 2);
    assert.match(colon.stderr, /never from the command line/);
    assert.equal((await run(['explain', '-d', 'grant_type=x', '-d', 'client_secret=s3cret', ...config])).code, 2);
  });

  test('mint: a JWT and a SAML assertion from keygen keys get a token per explain; --trust-entry; bad input', async () => {
    const config = structuredClone(demo);
    const keyFiles = {};
    for (const format of ['jwt', 'saml2']) {
      // One key per issuer: a key shared by two issuers is a configuration error.
      const key = JSON.parse((await run(['keygen', '--kid', `test-idp-${format}`, '--json'])).stdout).private_jwk;
      keyFiles[format] = join(dir, `idp-${format}.jwk.json`);
      writeFileSync(keyFiles[format], JSON.stringify(key));
      const entry = JSON.parse((await run(['mint', '--key', keyFiles[format], '--issuer', `https://test-idp.local/${format}`, '--format', format, '--trust-entry', '--json'])).stdout);
      assert.equal(entry.format, format);
      assert.equal(entry.issuer, `https://test-idp.local/${format}`);
      config.trusted_issuers.push(entry);
    }
    const configFile = join(dir, 'with-test-idp.json');
    writeFileSync(configFile, JSON.stringify(config));
    for (const format of ['jwt', 'saml2']) {
      // SAML: the Recipient is the token endpoint (RFC 7522 §3 item 5).
      const recipient = format === 'saml2' ? ['--recipient', `${demo.issuer}/token`] : [];
      const minted = await run(['mint', '--key', keyFiles[format], '--issuer', `https://test-idp.local/${format}`, '--format', format, '--subject', 'alice', '--audience', demo.issuer, ...recipient, '--attribute', 'email=alice@example.com']);
      assert.equal(minted.code, 0, minted.stderr);
      const assertion = minted.stdout.trim();
      const grant = format === 'jwt' ? JWT_BEARER : 'urn:ietf:params:oauth:grant-type:saml2-bearer';
      const r = await run(['explain', '--config', configFile, '-d', `grant_type=${grant}`, '-d', `assertion=${assertion}`, '-u', 'demo-client', '--json'], { env: SECRET });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(JSON.parse(r.stdout).would_issue, true, format);
      // Signed by another key: the signature check fails.
      const other = await run(['mint', '--key', keyFiles[format === 'jwt' ? 'saml2' : 'jwt'], '--issuer', `https://test-idp.local/${format}`, '--format', format, '--subject', 'alice', '--audience', demo.issuer, ...recipient]);
      const bad = await run(['explain', '--config', configFile, '-d', `grant_type=${grant}`, '-d', `assertion=${other.stdout.trim()}`, '-u', 'demo-client', '--json'], { env: SECRET });
      assert.equal(bad.code, 1, format);
      assert.equal(JSON.parse(bad.stdout).error.error, 'invalid_grant');
    }
    assert.equal((await run(['mint', '--issuer', 'x', '--subject', 'a', '--audience', 'b'])).code, 2, 'no --key');
    const notKey = join(dir, 'not-key.json');
    writeFileSync(notKey, JSON.stringify({ kty: 'oct', k: 'AAAA' }));
    assert.equal((await run(['mint', '--key', notKey, '--issuer', 'x', '--subject', 'a', '--audience', 'b'])).code, 3);
    assert.equal((await run(['mint', '--key', keyFiles.jwt, '--issuer', 'x', '--subject', 'a', '--audience', 'b', '--format', 'pem'])).code, 2);
  });
});

describe('assertion-grant explain --url (a deployed Worker, in workerd)', () => {
  const ADMIN = 'cli-admin-token-0123456789abcdef';
  let mf;
  let url;

  before(async () => {
    const pkg = await importPkg();
    mf = createMiniflare(tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(demo), AG_SIGNING_KEY: pkg.generateSigningKey('cli-url'), AG_ADMIN_TOKEN: ADMIN } }));
    url = (await mf.ready).href.replace(/\/$/, '');
  });

  after(async () => {
    await mf?.dispose();
  });

  test('with AG_ADMIN_TOKEN from the environment: the Worker explains (exit 0); a wrong token is exit 3', async () => {
    const assertion = await mintDemoAssertion();
    const args = ['explain', '--url', url, '-d', `grant_type=${JWT_BEARER}`, '-d', `assertion=${assertion}`, '-u', 'demo-client', '--json'];
    const ok = await run(args, { env: { AG_ADMIN_TOKEN: ADMIN, ...SECRET } });
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.equal(JSON.parse(ok.stdout).would_issue, true);
    const wrong = await run(args, { env: { AG_ADMIN_TOKEN: 'not-the-admin-token-at-all', ...SECRET } });
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /404/);
    // explain consumed nothing: the same assertion still gets a token.
    const response = await mf.dispatchFetch(`${url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });
});

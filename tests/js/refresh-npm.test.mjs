// Refresh tokens on the npm endpoint (TokenEndpoint in Node) with its default
// in-memory MemoryFamilyStore, a custom store, and refreshTokens: false.
// Assertions are minted with jose (independent of the code under test).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SignJWT, importJWK } from 'jose';
import { ROOT, importPkg, requireFile } from './helpers.mjs';

const IDJAG = join(ROOT, 'tests/vectors/idjag');
const IDP = 'https://both-idp.example';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
let pkg;
let idpKey;
let config;

before(async () => {
  requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  pkg = await importPkg();
  idpKey = await importJWK(JSON.parse(readFileSync(join(IDJAG, 'keys/both-ec-1.json'), 'utf8')), 'ES256');
  config = JSON.parse(readFileSync(join(IDJAG, 'config.json'), 'utf8'));
  const issuer = config.trusted_issuers.find((i) => i.issuer === IDP);
  issuer.allow_refresh_tokens = true;
  issuer.scope += ' offline_access';
  const client = config.clients.find((c) => c.client_id === 'agent-app');
  client.grant_types = [JWT_BEARER, 'refresh_token'];
  client.scope += ' offline_access';
});

function assertion() {
  const t = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: IDP, sub: 'carol', aud: 'https://as.example.com/token', jti: crypto.randomUUID(), iat: t, exp: t + 300 })
    .setProtectedHeader({ alg: 'ES256', kid: 'both-ec-1' })
    .sign(idpKey);
}

const CLIENT = { clientId: 'agent-app', clientSecret: 'agent-secret' };

test('the default in-memory store: rotate, reuse revokes the family', async () => {
  const endpoint = new pkg.TokenEndpoint(config);
  const first = await endpoint.exchange({ assertion: await assertion(), scope: 'offline_access calendar.read', ...CLIENT });
  assert.match(first.refresh_token, /^agrt1\./);
  const second = await endpoint.exchange({ grantType: 'refresh_token', refreshToken: first.refresh_token, ...CLIENT });
  assert.notEqual(second.refresh_token, first.refresh_token);
  await assert.rejects(endpoint.exchange({ grantType: 'refresh_token', refreshToken: first.refresh_token, ...CLIENT }), { code: 'invalid_grant' });
  await assert.rejects(endpoint.exchange({ grantType: 'refresh_token', refreshToken: second.refresh_token, ...CLIENT }), { code: 'invalid_grant' });
  assert.ok(endpoint.metadata().grant_types_supported.includes('refresh_token'));
});

test('a custom store sees compare-and-swap writes; refreshTokens: false issues none', async () => {
  const writes = [];
  const inner = new pkg.MemoryFamilyStore();
  const store = { get: (f) => inner.get(f), swap: (w) => (writes.push(w.expectedVersion), inner.swap(w)) };
  const endpoint = new pkg.TokenEndpoint(config, { refreshTokens: { store } });
  const first = await endpoint.exchange({ assertion: await assertion(), scope: 'offline_access calendar.read', ...CLIENT });
  await endpoint.exchange({ grantType: 'refresh_token', refreshToken: first.refresh_token, ...CLIENT });
  assert.deepEqual(writes, [0, 1], 'created at version 0, rotated from version 1');
  const none = new pkg.TokenEndpoint(config, { refreshTokens: false });
  const token = await none.exchange({ assertion: await assertion(), scope: 'offline_access calendar.read', ...CLIENT });
  assert.equal(token.refresh_token, undefined);
  assert.ok(!none.metadata().grant_types_supported.includes('refresh_token'));
});

test('explain of a refresh reads the family, writes nothing: issuable, then a rotated token is reuse', async () => {
  const writes = [];
  const inner = new pkg.MemoryFamilyStore();
  const store = { get: (f) => inner.get(f), swap: (w) => (writes.push(w.expectedVersion), inner.swap(w)) };
  const endpoint = new pkg.TokenEndpoint(config, { refreshTokens: { store } });
  const first = await endpoint.exchange({ assertion: await assertion(), scope: 'offline_access calendar.read', ...CLIENT });
  const request = (token) => ({
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('agent-app:agent-secret').toString('base64')}` },
  });
  const before = writes.length;
  const report = await endpoint.explain(request(first.refresh_token));
  assert.equal(report.would_issue, true, JSON.stringify(report.error));
  assert.ok(report.checks.some((c) => c.id === 'refresh.family' && c.outcome === 'pass'), JSON.stringify(report.checks));
  assert.equal(writes.length, before, 'explain wrote the family');
  // The token still refreshes once (explain rotated nothing) …
  const second = await endpoint.exchange({ grantType: 'refresh_token', refreshToken: first.refresh_token, ...CLIENT });
  assert.ok(second.refresh_token);
  // … and explaining the rotated one now names the reuse, without revoking the family.
  const reuse = await endpoint.explain(request(first.refresh_token));
  assert.equal(reuse.would_issue, false);
  assert.equal(reuse.error.error, 'invalid_grant');
  assert.match(reuse.error.reason, /^refresh\./);
  const third = await endpoint.exchange({ grantType: 'refresh_token', refreshToken: second.refresh_token, ...CLIENT });
  assert.ok(third.access_token, 'explain of a reuse revoked the family');
});

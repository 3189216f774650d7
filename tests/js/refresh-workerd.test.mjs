// Refresh tokens on the Worker in real workerd (Miniflare), with its
// RefreshFamily Durable Object: the full cycle, rotation, reuse killing the
// family, and 50 concurrent refreshes of one token — exactly one new pair.
//
// Decision (documented in README "Refresh tokens"): a rotated-out token
// presented at any time is reuse and revokes the family (RFC 9700
// §4.14.2), even when it raced the rotation; a request that loses the
// compare-and-swap without having seen the rotation is a conflict
// (`invalid_grant`, the family untouched). So after 50 concurrent uses the
// family is revoked exactly when some loser read it after the winner's
// write — the test reads which from the answers and checks the family
// state agrees.
//
// Independent tools: jose (the IdP's JWT assertions), oauth4webapi (a real
// client's refresh_token grant). Real clock, no sleeps, nothing timed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, importJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import { ROOT, basicAuth, importPkg, requireFile } from './helpers.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';

const IDJAG = join(ROOT, 'tests/vectors/idjag');
const execFileAsync = promisify(execFile);
const AS = 'https://as.example.com';
const TOKEN_URL = `${AS}/token`;
const IDP = 'https://both-idp.example';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT = ['agent-app', 'agent-secret'];
const RS = ['resource-server', 'rs-secret'];

let mf;
let idpKey;

/** The ID-JAG vectors' configuration with refresh tokens allowed for both-idp and agent-app. */
function config() {
  const c = JSON.parse(readFileSync(join(IDJAG, 'config.json'), 'utf8'));
  const issuer = c.trusted_issuers.find((i) => i.issuer === IDP);
  issuer.allow_refresh_tokens = true;
  issuer.scope += ' offline_access';
  const client = c.clients.find((x) => x.client_id === CLIENT[0]);
  client.grant_types = [JWT_BEARER, 'refresh_token'];
  client.scope += ' offline_access';
  c.clients.push({
    client_id: RS[0],
    token_endpoint_auth_method: 'client_secret_basic',
    // SHA-256 of "rs-secret"
    client_secret_sha256: '95b763d8e90d5624b50490d9ba78000d4385bd24a60e26fc3de36cabf682f652',
    allow_introspection: true,
  });
  return c;
}

before(async () => {
  requireFile(join(ROOT, 'pkg/slim/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  const pkg = await importPkg();
  idpKey = await importJWK(JSON.parse(readFileSync(join(IDJAG, 'keys/both-ec-1.json'), 'utf8')), 'ES256');
  mf = createMiniflare(
    {
      ...tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(config()), AG_SIGNING_KEY: pkg.generateSigningKey('refresh-test') } }),
      // A loopback port too, for the Python client.
      host: '127.0.0.1',
      port: 0,
    },
  );
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

function assertion(sub = 'alice') {
  const t = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: IDP, sub, aud: TOKEN_URL, jti: crypto.randomUUID(), iat: t, exp: t + 300 })
    .setProtectedHeader({ alg: 'ES256', kid: 'both-ec-1' })
    .sign(idpKey);
}

async function post(fields, auth = CLIENT) {
  const response = await mf.dispatchFetch(TOKEN_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(...auth) },
    body: new URLSearchParams(fields).toString(),
  });
  assert.equal(response.headers.get('cache-control'), 'no-store');
  return { status: response.status, body: await response.json() };
}

const grant = async (scope = 'offline_access calendar.read', sub) =>
  post({ grant_type: JWT_BEARER, assertion: await assertion(sub), scope });
const refresh = (token, extra = {}) => post({ grant_type: 'refresh_token', refresh_token: token, ...extra });

describe('refresh tokens on the Worker (RefreshFamily Durable Objects)', () => {
  test('assertion → access + refresh → refresh → refresh; old tokens stop at once', async () => {
    const first = await grant();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.refresh_token, /^agrt1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const second = await refresh(first.body.refresh_token);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.ok(second.body.access_token);
    const third = await refresh(second.body.refresh_token, { scope: 'calendar.read' });
    assert.equal(third.status, 200, JSON.stringify(third.body));
    assert.equal(third.body.scope, undefined, 'the requested scope was granted as asked');
    // No refresh token without offline_access.
    const plain = await grant('calendar.read');
    assert.equal(plain.status, 200);
    assert.equal(plain.body.refresh_token, undefined);
  });

  test('reuse of a rotated token revokes the whole family', async () => {
    const first = await grant();
    const second = await refresh(first.body.refresh_token);
    assert.equal(second.status, 200);
    const reused = await refresh(first.body.refresh_token);
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, 'invalid_grant');
    const newest = await refresh(second.body.refresh_token);
    assert.equal(newest.status, 400, 'the family is revoked');
    assert.equal(newest.body.error, 'invalid_grant');
  });

  test('50 concurrent refreshes with one token: exactly one new pair, and a consistent family', async () => {
    const first = await grant();
    const answers = await Promise.all(Array.from({ length: 50 }, () => refresh(first.body.refresh_token)));
    const winners = answers.filter((a) => a.status === 200);
    const losers = answers.filter((a) => a.status !== 200);
    assert.equal(winners.length, 1, answers.map((a) => a.status).join(' '));
    assert.equal(losers.length, 49);
    for (const l of losers) assert.equal(l.body.error, 'invalid_grant', JSON.stringify(l.body));
    const sawReuse = losers.some((l) => /revoked/.test(l.body.error_description));
    const next = await refresh(winners[0].body.refresh_token);
    if (sawReuse) {
      assert.equal(next.status, 400, 'a loser counted as reuse: the family is revoked, the winner too');
    } else {
      assert.equal(next.status, 200, 'only conflicts: the winner keeps the family');
    }
  });

  test('guessed, foreign and malformed tokens are refused and change nothing', async () => {
    const first = await grant();
    const [, family] = first.body.refresh_token.split('.');
    for (const bad of [`agrt1.${family}.${'A'.repeat(43)}`, `agrt1.${'B'.repeat(22)}.${'C'.repeat(43)}`, 'agrt1.x.y', 'x'.repeat(5000)]) {
      const r = await refresh(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error, 'invalid_grant', bad);
    }
    assert.equal((await refresh(first.body.refresh_token)).status, 200, 'the family was untouched');
  });

  test("oauth4webapi's refreshTokenGrantRequest refreshes", async () => {
    const first = await grant();
    const as = { issuer: AS, token_endpoint: TOKEN_URL };
    const client = { client_id: CLIENT[0] };
    const response = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(CLIENT[1]), first.body.refresh_token, {
      [oauth.customFetch]: (url, init) => mf.dispatchFetch(url, init),
      [oauth.allowInsecureRequests]: false,
    });
    const result = await oauth.processRefreshTokenResponse(as, client, response);
    assert.equal(result.token_type, 'bearer');
    assert.match(result.refresh_token, /^agrt1\./);
    assert.notEqual(result.refresh_token, first.body.refresh_token);
  });

  test('revocation (RFC 7009): the family dies; other tokens get 200 and change nothing', async () => {
    const metadata = await (await mf.dispatchFetch(`${AS}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.revocation_endpoint, `${AS}/revoke`);
    assert.ok(metadata.grant_types_supported.includes('refresh_token'));
    const revoke = async (token, auth = CLIENT) => {
      const response = await mf.dispatchFetch(`${AS}/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(...auth) },
        body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }).toString(),
      });
      assert.equal(response.headers.get('cache-control'), 'no-store');
      return { status: response.status, body: await response.json() };
    };
    const first = await grant();
    const second = await refresh(first.body.refresh_token);
    assert.equal(second.status, 200);
    assert.equal((await revoke('not-a-token')).status, 200);
    // Introspection (a client with allow_introspection), and an access
    // token revoked by its client: inactive from then on.
    const introspect = async (token) => {
      const response = await mf.dispatchFetch(`${AS}/introspect`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(...RS) },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      return response.json();
    };
    const before = await introspect(second.body.access_token);
    assert.equal(before.active, true);
    assert.equal(before.sub, 'both|alice');
    assert.equal((await introspect(second.body.refresh_token)).active, true);
    assert.equal((await introspect(first.body.refresh_token)).active, false, 'rotated');
    assert.equal((await revoke(second.body.access_token)).status, 200);
    assert.deepEqual(await introspect(second.body.access_token), { active: false });
    const wrongSecret = await revoke(second.body.refresh_token, [CLIENT[0], 'wrong']);
    assert.equal(wrongSecret.status, 401);
    const third = await refresh(second.body.refresh_token);
    assert.equal(third.status, 200, 'nothing was revoked so far');
    // An unknown client is refused before anything is looked at.
    assert.equal((await revoke(third.body.refresh_token, ['both-idp-nobody', 'x'])).status, 401);
    // A fresh family, revoked by its client: its token stops working.
    const fresh = await grant();
    assert.deepEqual(await revoke(fresh.body.refresh_token), { status: 200, body: {} });
    const after = await refresh(fresh.body.refresh_token);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
  });

  test('revoke racing a refresh: whichever lands first, the family ends revoked', async () => {
    const revoke = (token) =>
      mf.dispatchFetch(`${AS}/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(...CLIENT) },
        body: new URLSearchParams({ token }).toString(),
      });
    for (let round = 0; round < 5; round += 1) {
      const first = await grant();
      const [refreshed, revoked] = await Promise.all([refresh(first.body.refresh_token), revoke(first.body.refresh_token)]);
      assert.equal(revoked.status, 200);
      if (refreshed.status === 200) {
        // The refresh won: the revocation (of a now rotated token of the
        // family) still killed the family, new token included.
        const after = await refresh(refreshed.body.refresh_token);
        assert.equal(after.status, 400, `round ${round}: the new token outlived the revocation`);
      } else {
        assert.equal(refreshed.body.error, 'invalid_grant');
      }
      assert.equal((await refresh(first.body.refresh_token)).status, 400);
    }
  });

  test("Python Authlib's OAuth2Session.refresh_token refreshes (over loopback HTTP)", async () => {
    const first = await grant();
    const url = new URL('/token', await mf.ready);
    const script = join(ROOT, 'tests/js/python/authlib_refresh.py');
    const { stdout } = await execFileAsync('python3', [script, url.href, ...CLIENT, first.body.refresh_token], { timeout: 30_000 });
    const token = JSON.parse(stdout);
    assert.equal(token.token_type.toLowerCase(), 'bearer');
    assert.match(token.refresh_token, /^agrt1\./);
    assert.notEqual(token.refresh_token, first.body.refresh_token);
    assert.equal((await refresh(token.refresh_token)).status, 200, "Authlib's new token works");
    assert.equal((await refresh(first.body.refresh_token)).status, 400, 'the old token is spent');
  });

  test("openid-client's refreshTokenGrant refreshes", async () => {
    const first = await grant();
    const config = new openid.Configuration({ issuer: AS, token_endpoint: TOKEN_URL }, CLIENT[0], undefined, openid.ClientSecretBasic(CLIENT[1]));
    config[openid.customFetch] = (url, init) => mf.dispatchFetch(url, init);
    const tokens = await openid.refreshTokenGrant(config, first.body.refresh_token);
    assert.equal(tokens.token_type, 'bearer');
    assert.match(tokens.refresh_token, /^agrt1\./);
    assert.notEqual(tokens.refresh_token, first.body.refresh_token);
    assert.equal((await refresh(tokens.refresh_token)).status, 200);
  });
});

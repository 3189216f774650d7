// The request mix and the checks of the concurrency/load test, shared by
// scripts/load.mjs (real `wrangler dev` over loopback HTTP) and
// tests/js/load.test.mjs (workerd through Miniflare, small size).
//
// runLoad({ send, ... }) drives any fetch-like transport:
//   send(path, init) → Promise<Response>   (path: '/token', init: {method, headers, body})
// and returns a report whose `violations` must be empty.
//
// Request classes (main phase, bounded concurrency):
//   valid    a fresh assertion that must get exactly one 200 with a token
//            (JWT ES256/RS256 with Basic, post, public, private_key_jwt and no
//            client; SAML from a pool pre-signed with xmlsec1)
//   invalid  each must get its exact 4xx status and `error`
//   replay   an assertion that already got a token, sent again → invalid_grant
//            (plus a reused private_key_jwt client assertion → invalid_client)
// then, per burst, 50 concurrent copies of one fresh JWT / SAML request:
// exactly one 200, 49 × invalid_grant; then, per burst, a refresh-token
// family: 50 concurrent refreshes with one token (exactly one new pair), the
// winner's token (200, or 400 if a loser saw the rotation and revoked the
// family as reuse), a revocation (200), and a refresh after it (400).
import { performance } from 'node:perf_hooks';
import {
  CLIENT_ASSERTION_TYPE,
  JWT_BEARER,
  basicAuth,
  endpointPaths,
  fromB64urlJson,
  loadConfig,
  loadPrivateKeys,
  signJwt,
  verifyAccessToken,
} from './helpers.mjs';
import { SAML2_BEARER, samlIssuerEntry, signSamlAssertion } from './xmlsec.mjs';

export const DEFAULTS = Object.freeze({
  requests: 3000,
  concurrency: 32,
  bursts: 1, // rounds of (JWT burst + SAML burst)
  burstSize: 50,
  verifyEvery: 20, // verify every Nth token's signature against the JWKS (claims of all are checked)
  requestTimeoutMs: 30_000,
});

const FORM = 'application/x-www-form-urlencoded';
const IDP = 'https://idp.example.com';
const SVC_IDP = 'https://service-idp.example.com';
const SAML_SUBJECT = 'alice@example.com';

const CLIENTS = {
  basic: { id: 'basic-client', secret: 'basic-secret' },
  post: { id: 'post-client', secret: 'post-secret' },
  limited: { id: 'limited-client', secret: 'limited-secret' }, // saml2-bearer only
  none: { id: 'public-client' },
  pkjwt: { id: 'jwt-client', kid: 'client-ec-1' },
};

/**
 * Class table: weight (share of the main phase), group and expected answer.
 * Weights are relative; counts are apportioned exactly to --requests.
 */
export const CLASSES = {
  // valid: exactly one 200 each
  jwt_basic_es256: { group: 'valid', weight: 150 },
  jwt_basic_rs256: { group: 'valid', weight: 80 },
  jwt_post: { group: 'valid', weight: 80 },
  jwt_public: { group: 'valid', weight: 60 },
  jwt_private_key_jwt: { group: 'valid', weight: 80 },
  jwt_no_client: { group: 'valid', weight: 50 },
  saml: { group: 'valid', weight: 34 }, // 3000 requests → 102 pre-signed assertions
  // invalid: the exact 4xx
  bad_signature_jwt: { group: 'invalid', weight: 20, status: 400, error: 'invalid_grant' },
  bad_signature_saml: { group: 'invalid', weight: 12, status: 400, error: 'invalid_grant' },
  wrong_audience_jwt: { group: 'invalid', weight: 20, status: 400, error: 'invalid_grant' },
  wrong_audience_saml: { group: 'invalid', weight: 10, status: 400, error: 'invalid_grant' },
  expired_jwt: { group: 'invalid', weight: 20, status: 400, error: 'invalid_grant' },
  unknown_client: { group: 'invalid', weight: 20, status: 401, error: 'invalid_client' },
  bad_secret: { group: 'invalid', weight: 20, status: 401, error: 'invalid_client' },
  malformed_body: { group: 'invalid', weight: 20, status: 400, error: 'invalid_request' },
  wrong_content_type: { group: 'invalid', weight: 20, status: 400, error: 'invalid_request' },
  get_token: { group: 'invalid', weight: 15, status: 405, error: 'invalid_request' },
  unsupported_grant: { group: 'invalid', weight: 10, status: 400, error: 'unsupported_grant_type' },
  invalid_scope: { group: 'invalid', weight: 10, status: 400, error: 'invalid_scope' },
  unauthorized_client: { group: 'invalid', weight: 10, status: 400, error: 'unauthorized_client' },
  // replays of assertions that already got a token
  replay: { group: 'replay', weight: 120, status: 400, error: 'invalid_grant' },
  replay_other_client: { group: 'replay', weight: 50, status: 400, error: 'invalid_grant' },
  // RFC 7523 §3: a client assertion's jti is one-time too; client auth failure → 401
  replay_client_assertion: { group: 'replay', weight: 20, status: 401, error: 'invalid_client' },
};

/** tests/vectors/jwt/config.json plus the xmlsec1 SAML IdP: what the Worker is configured with. */
export function serverConfig() {
  const config = loadConfig();
  config.trusted_issuers.push(samlIssuerEntry());
  // Refresh tokens for the basic client's grants from the JWT IdP, when it
  // asks for offline_access (the refresh phase; the main phase never does).
  const idp = config.trusted_issuers.find((i) => i.issuer === IDP);
  idp.allow_refresh_tokens = true;
  idp.scope = `${idp.scope} offline_access`;
  const basic = config.clients.find((c) => c.client_id === CLIENTS.basic.id);
  basic.grant_types = [JWT_BEARER, SAML2_BEARER, 'refresh_token'];
  basic.scope = `${basic.scope} offline_access`;
  return config;
}

/** Small fast seeded PRNG (mulberry32) so a plan can be reproduced with --seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts per class for n requests (largest remainder, so they sum to n). */
export function apportion(n) {
  const entries = Object.entries(CLASSES);
  const total = entries.reduce((s, [, c]) => s + c.weight, 0);
  const raw = entries.map(([name, c]) => [name, (n * c.weight) / total]);
  const counts = Object.fromEntries(raw.map(([name, x]) => [name, Math.floor(x)]));
  let left = n - Object.values(counts).reduce((s, x) => s + x, 0);
  for (const [name] of [...raw].sort((a, b) => (b[1] % 1) - (a[1] % 1))) {
    if (left-- <= 0) break;
    counts[name] += 1;
  }
  return counts;
}

/** Shuffled plan of class names; no replay in the first `warmup` slots (nothing has a token yet). */
export function makePlan(n, random, warmup) {
  const counts = apportion(n);
  const plan = Object.entries(counts).flatMap(([name, k]) => Array(k).fill(name));
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  const isReplay = (name) => CLASSES[name].group === 'replay';
  for (let i = 0, j = Math.min(warmup, plan.length); i < Math.min(warmup, plan.length); i++) {
    if (!isReplay(plan[i])) continue;
    while (j < plan.length && isReplay(plan[j])) j++;
    if (j >= plan.length) break;
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  return { plan, counts };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Sign the SAML assertions the run needs, before it starts (xmlsec1 takes
 * ~20–50 ms each): `valid` good ones, plus a few for tampering and a few
 * with a wrong audience (those two never get a token, so they are reused).
 */
export function presignSaml({ config, valid, log = () => {} }) {
  const paths = endpointPaths(config);
  const sign = (audience) =>
    signSamlAssertion({ subject: SAML_SUBJECT, audience, recipient: paths.tokenEndpoint, lifetime: 900 });
  const started = performance.now();
  const pool = {
    valid: Array.from({ length: valid }, () => sign(config.issuer)),
    forTamper: Array.from({ length: 3 }, () => sign(config.issuer)),
    wrongAudience: Array.from({ length: 3 }, () => sign('https://elsewhere.example/')),
  };
  log(`pre-signed ${valid + 6} SAML assertions with xmlsec1 in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return pool;
}

/**
 * Run the mix against `send` and check every answer.
 *
 * @param {object} o
 * @param {(path: string, init: object) => Promise<Response>} o.send
 * @param {object} o.config       the configuration the Worker serves (serverConfig())
 * @param {object} o.saml         presignSaml() result; needs ≥ counts.saml + bursts valid ones
 * @param {string} [o.expectKid]  the kid the JWKS must publish (when we chose the signing key)
 * @param {AbortSignal} [o.signal] stops scheduling (hard timeout, SIGINT)
 */
export async function runLoad({
  send,
  config,
  saml,
  requests = DEFAULTS.requests,
  concurrency = DEFAULTS.concurrency,
  bursts = DEFAULTS.bursts,
  burstSize = DEFAULTS.burstSize,
  verifyEvery = DEFAULTS.verifyEvery,
  requestTimeoutMs = DEFAULTS.requestTimeoutMs,
  seed = 1,
  expectKid,
  signal,
  log = () => {},
}) {
  const random = rng(seed);
  const paths = endpointPaths(config);
  const keys = loadPrivateKeys();
  const key = (kid) => {
    const k = keys.get(kid);
    if (!k) throw new Error(`no private key ${kid} under tests/vectors/jwt/keys/`);
    return k;
  };
  const { plan, counts } = makePlan(requests, random, Math.max(2 * concurrency, 8));
  const samlValid = [...saml.valid];
  if (samlValid.length < counts.saml + bursts) {
    throw new Error(`need ${counts.saml + bursts} pre-signed SAML assertions, have ${samlValid.length}`);
  }

  const violations = [];
  const violate = (kind, detail) => violations.push({ kind, ...detail, at: new Date().toISOString() });

  // --- discovery: metadata and JWKS answer, and are ours ------------------
  const metaResponse = await send(paths.metadata, { method: 'GET' });
  const metadata = await metaResponse.json();
  if (metaResponse.status !== 200 || metadata.issuer !== config.issuer || metadata.token_endpoint !== paths.tokenEndpoint) {
    throw new Error(`metadata is not this configuration's: HTTP ${metaResponse.status} ${JSON.stringify(metadata).slice(0, 300)}`);
  }
  const jwksResponse = await send(paths.jwks, { method: 'GET' });
  const jwks = await jwksResponse.json();
  if (jwksResponse.status !== 200 || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`JWKS: HTTP ${jwksResponse.status} ${JSON.stringify(jwks).slice(0, 300)}`);
  }
  if (expectKid !== undefined && !jwks.keys.some((k) => k.kid === expectKid)) {
    throw new Error(`JWKS does not publish our signing key ${expectKid}: ${JSON.stringify(jwks.keys.map((k) => k.kid))}`);
  }

  // --- building requests ---------------------------------------------------
  const now = () => Math.floor(Date.now() / 1000);
  let serial = 0;

  const mintJwt = (overrides = {}, { kid = 'idp-ec-1', signWith, header } = {}) => {
    const t = now();
    const issuer = kid === 'svc-ec-1' ? SVC_IDP : IDP;
    const claims = {
      iss: issuer,
      sub: kid === 'svc-ec-1' ? 'svc-batch' : `user-${++serial}`,
      aud: paths.tokenEndpoint,
      iat: t,
      exp: t + 600,
      jti: crypto.randomUUID(),
      ...overrides,
    };
    return signJwt(key(signWith ?? kid), claims, { kid, ...(kid.includes('rsa') ? { alg: 'RS256' } : {}), ...header }).then(
      (jwt) => ({ jwt, claims }),
    );
  };
  const mintClientAssertion = () => {
    const t = now();
    const id = CLIENTS.pkjwt.id;
    return signJwt(key(CLIENTS.pkjwt.kid), { iss: id, sub: id, aud: config.issuer.replace(/\/$/, ""), iat: t, exp: t + 300, jti: crypto.randomUUID() });
  };

  /** Client authentication parts → { fields, headers, clientId, clientAssertion? }. */
  async function client(kind, { secret, clientAssertion } = {}) {
    switch (kind) {
      case 'basic':
      case 'limited':
        return {
          fields: [],
          headers: { Authorization: basicAuth(CLIENTS[kind].id, secret ?? CLIENTS[kind].secret) },
          clientId: CLIENTS[kind].id,
        };
      case 'post':
        return { fields: [['client_id', CLIENTS.post.id], ['client_secret', secret ?? CLIENTS.post.secret]], headers: {}, clientId: CLIENTS.post.id };
      case 'none':
        return { fields: [['client_id', CLIENTS.none.id]], headers: {}, clientId: CLIENTS.none.id };
      case 'pkjwt': {
        const ca = clientAssertion ?? (await mintClientAssertion());
        return {
          fields: [['client_assertion_type', CLIENT_ASSERTION_TYPE], ['client_assertion', ca]],
          headers: {},
          clientId: CLIENTS.pkjwt.id,
          clientAssertion: ca,
        };
      }
      case 'anonymous':
        return { fields: [], headers: {}, clientId: undefined };
      default:
        throw new Error(`client kind ${kind}`);
    }
  }

  function post(fields, headers = {}, { contentType = FORM, rawBody } = {}) {
    const h = { ...headers };
    if (contentType !== null) h['Content-Type'] = contentType; // null: no Content-Type header
    return { method: 'POST', headers: h, body: rawBody ?? new URLSearchParams(fields).toString() };
  }

  /** A grant request: { init, grant, expectClaims, auth } */
  async function grantRequest({ grantType, assertion, clientKind, scope, clientOpts }) {
    const auth = await client(clientKind, clientOpts);
    const fields = [['grant_type', grantType], ['assertion', assertion]];
    if (scope !== undefined) fields.push(['scope', scope]);
    fields.push(...auth.fields);
    return { init: post(fields, auth.headers), auth };
  }

  // Assertions that got a 200 in this run (candidates for replay), and the
  // token count per grant assertion (exactly 1 for valid ones, else 0).
  const issued = []; // { grantType, assertion, clientKind, scope, sub, kind }
  const usedClientAssertions = [];
  const tokensPer = new Map(); // assertion → { expected, tokens, cls }
  const track = (assertion, expected, cls) => {
    if (!tokensPer.has(assertion)) tokensPer.set(assertion, { expected, tokens: 0, cls });
  };

  const VALID_JWT = {
    jwt_basic_es256: { kid: 'idp-ec-1', clientKind: 'basic', scope: 'read write' },
    jwt_basic_rs256: { kid: 'idp-rsa-1', clientKind: 'basic', scope: 'read' },
    jwt_post: { kid: 'idp-ec-1', clientKind: 'post', scope: 'read' },
    jwt_public: { kid: 'idp-ec-1', clientKind: 'none', scope: 'read' },
    jwt_private_key_jwt: { kid: 'idp-ec-1', clientKind: 'pkjwt', scope: 'read write' },
    jwt_no_client: { kid: 'svc-ec-1', clientKind: 'anonymous', scope: 'read' },
  };

  /** Another client that may use the same issuer and scope, for cross-client replays. */
  function otherClient(src) {
    if (src.kind === 'saml') return src.clientKind === 'limited' ? 'basic' : 'limited';
    return src.clientKind === 'basic' ? 'post' : 'basic';
  }

  /** Build the request for one plan slot. Returns undefined if it must wait (replay without a source). */
  async function build(cls) {
    const spec = CLASSES[cls];
    const expect = { status: spec.status, error: spec.error };
    if (cls in VALID_JWT) {
      const v = VALID_JWT[cls];
      const { jwt, claims } = await mintJwt({}, { kid: v.kid });
      const { init, auth } = await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: v.clientKind, scope: v.scope });
      track(jwt, 1, cls);
      return {
        init,
        assertion: jwt,
        expect: { status: 200, claims: { sub: claims.sub, client_id: auth.clientId, scope: v.scope } },
        source: { kind: 'jwt', grantType: JWT_BEARER, assertion: jwt, clientKind: v.clientKind, scope: v.scope, clientAssertion: auth.clientAssertion },
      };
    }
    switch (cls) {
      case 'saml': {
        const assertion = samlValid.pop();
        const clientKind = random() < 0.5 ? 'basic' : 'limited';
        const { init, auth } = await grantRequest({ grantType: SAML2_BEARER, assertion, clientKind, scope: 'read' });
        track(assertion, 1, cls);
        return {
          init,
          assertion,
          expect: { status: 200, claims: { sub: SAML_SUBJECT, client_id: auth.clientId, scope: 'read', email: SAML_SUBJECT } },
          source: { kind: 'saml', grantType: SAML2_BEARER, assertion, clientKind, scope: 'read' },
        };
      }
      case 'bad_signature_jwt': {
        // Alternately: signed by an attacker's key under the IdP's kid, or a
        // genuine signature over a payload whose sub was changed afterwards.
        let jwt;
        if (random() < 0.5) {
          ({ jwt } = await mintJwt({}, { kid: 'idp-ec-1', signWith: 'attacker-ec-1' }));
        } else {
          const genuine = (await mintJwt({}, { kid: 'idp-ec-1' })).jwt.split('.');
          const claims = fromB64urlJson(genuine[1]);
          claims.sub = 'admin';
          jwt = [genuine[0], Buffer.from(JSON.stringify(claims)).toString('base64url'), genuine[2]].join('.');
        }
        track(jwt, 0, cls);
        return { init: (await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'basic', scope: 'read' })).init, assertion: jwt, expect };
      }
      case 'bad_signature_saml': {
        const base = saml.forTamper[Math.floor(random() * saml.forTamper.length)];
        const xml = Buffer.from(base, 'base64url').toString('utf8');
        const tampered = xml.replace(`${SAML_SUBJECT}</saml:NameID>`, `mallory-${++serial}@example.com</saml:NameID>`);
        if (tampered === xml) throw new Error('SAML tamper did not apply');
        const assertion = Buffer.from(tampered, 'utf8').toString('base64url');
        track(assertion, 0, cls);
        return { init: (await grantRequest({ grantType: SAML2_BEARER, assertion, clientKind: 'basic', scope: 'read' })).init, assertion, expect };
      }
      case 'wrong_audience_jwt': {
        const { jwt } = await mintJwt({ aud: random() < 0.5 ? 'https://elsewhere.example/token' : `${paths.tokenEndpoint}/` });
        track(jwt, 0, cls);
        return { init: (await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'basic', scope: 'read' })).init, assertion: jwt, expect };
      }
      case 'wrong_audience_saml': {
        const assertion = saml.wrongAudience[Math.floor(random() * saml.wrongAudience.length)];
        track(assertion, 0, cls);
        return { init: (await grantRequest({ grantType: SAML2_BEARER, assertion, clientKind: 'basic', scope: 'read' })).init, assertion, expect };
      }
      case 'expired_jwt': {
        const t = now();
        const { jwt } = await mintJwt({ iat: t - 1200, exp: t - 600 });
        track(jwt, 0, cls);
        return { init: (await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'basic', scope: 'read' })).init, assertion: jwt, expect };
      }
      case 'unknown_client':
      case 'bad_secret': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        const viaBasic = random() < 0.5;
        const id = cls === 'unknown_client' ? `nobody-${serial}` : viaBasic ? CLIENTS.basic.id : CLIENTS.post.id;
        const fields = [['grant_type', JWT_BEARER], ['assertion', jwt], ['scope', 'read']];
        const headers = {};
        if (viaBasic) headers.Authorization = basicAuth(id, 'wrong-secret');
        else fields.push(['client_id', id], ['client_secret', 'wrong-secret']);
        return { init: post(fields, headers), assertion: jwt, expect: { ...expect, wwwAuthenticate: viaBasic } };
      }
      case 'malformed_body': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        const gt = encodeURIComponent(JWT_BEARER);
        const bodies = [
          `grant_type=${gt}&assertion=${jwt}&scope=%ZZread`, // invalid percent-encoding
          `grant_type=${gt}&assertion=${jwt}&assertion=${jwt}`, // repeated parameter
          `grant_type=${gt}&scope=read`, // no assertion
          `grant_type=${gt}&assertion=${jwt}&scope=%FF%FE`, // not UTF-8
        ];
        const rawBody = bodies[Math.floor(random() * bodies.length)];
        return { init: post([], { Authorization: basicAuth(CLIENTS.basic.id, CLIENTS.basic.secret) }, { rawBody }), assertion: jwt, expect };
      }
      case 'wrong_content_type': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        const fields = [['grant_type', JWT_BEARER], ['assertion', jwt], ['scope', 'read']];
        const variants = [
          { contentType: 'application/json', rawBody: JSON.stringify(Object.fromEntries(fields)) },
          { contentType: 'text/plain', rawBody: new URLSearchParams(fields).toString() },
          // no Content-Type at all (a byte body, so fetch adds none)
          { contentType: null, rawBody: new TextEncoder().encode(new URLSearchParams(fields).toString()) },
        ];
        const v = variants[Math.floor(random() * variants.length)];
        return { init: post(fields, { Authorization: basicAuth(CLIENTS.basic.id, CLIENTS.basic.secret) }, v), assertion: jwt, expect };
      }
      case 'get_token':
        return { init: { method: 'GET', headers: {} }, expect: { ...expect, allow: 'POST' } };
      case 'unsupported_grant': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        return { init: (await grantRequest({ grantType: 'urn:example:not-a-grant', assertion: jwt, clientKind: 'basic', scope: 'read' })).init, assertion: jwt, expect };
      }
      case 'invalid_scope': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        // admin is within the IdP's ceiling but not post-client's allowance.
        return { init: (await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'post', scope: 'admin' })).init, assertion: jwt, expect };
      }
      case 'unauthorized_client': {
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        return { init: (await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'limited', scope: 'read' })).init, assertion: jwt, expect };
      }
      case 'replay':
      case 'replay_other_client': {
        if (issued.length === 0) return undefined;
        const src = issued[Math.floor(random() * issued.length)];
        const clientKind = cls === 'replay' ? src.clientKind : otherClient(src);
        const scope = cls === 'replay' ? src.scope : 'read';
        // private_key_jwt: a fresh client assertion, so only the grant is a replay.
        const { init } = await grantRequest({ grantType: src.grantType, assertion: src.assertion, clientKind, scope });
        return { init, assertion: src.assertion, expect, note: `${src.kind} via ${clientKind}` };
      }
      case 'replay_client_assertion': {
        if (usedClientAssertions.length === 0) return undefined;
        const ca = usedClientAssertions[Math.floor(random() * usedClientAssertions.length)];
        const { jwt } = await mintJwt();
        track(jwt, 0, cls);
        const { init } = await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'pkjwt', scope: 'read', clientOpts: { clientAssertion: ca } });
        return { init, assertion: jwt, expect };
      }
      default:
        throw new Error(`unknown class ${cls}`);
    }
  }

  // --- sending and checking --------------------------------------------------
  const stats = new Map(Object.keys(CLASSES).map((c) => [c, { sent: 0, ok: 0, bad: 0, lat: [] }]));
  const histogram = new Map();
  const tokenJtis = new Set();
  let tokens = 0;
  let verified = 0;

  const describe = (cls, req) => {
    const raw = req.init.body;
    const body = typeof raw === 'string' ? raw : raw instanceof Uint8Array ? `<${raw.length} bytes> ${new TextDecoder().decode(raw)}` : '';
    return `${cls}${req.note ? ` (${req.note})` : ''}: ${req.init.method} ${paths.token} ` +
      `${JSON.stringify(req.init.headers)} ${body.length > 160 ? `${body.slice(0, 160)}…(${body.length} B)` : body}`;
  };

  async function timedSend(init) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${requestTimeoutMs} ms`)), requestTimeoutMs);
    });
    const started = performance.now();
    try {
      const response = await Promise.race([send(paths.token, init), timeout]);
      const text = await Promise.race([response.text(), timeout]);
      return { response, text, ms: performance.now() - started };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Check one answer; returns { status, error, token? } and records violations. */
  async function check(cls, req, response, text) {
    const where = () => describe(cls, req);
    const status = response.status;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const error = body?.error;
    const bump = (k) => histogram.set(k, (histogram.get(k) ?? 0) + 1);
    bump(`${status} ${error ?? (status === 200 ? 'token' : '(no error)')}`);
    const problems = [];
    if (status >= 500) problems.push('5xx');
    if (body === undefined) problems.push('body is not JSON');
    const h = response.headers;
    if (h.get('cache-control') !== 'no-store') problems.push(`Cache-Control: ${h.get('cache-control')}`);
    if (h.get('pragma') !== 'no-cache') problems.push(`Pragma: ${h.get('pragma')}`);
    if (!/^application\/json;\s*charset=utf-8$/i.test(h.get('content-type') ?? '')) problems.push(`Content-Type: ${h.get('content-type')}`);

    const exp = req.expect;
    if (status !== exp.status) problems.push(`status ${status}, expected ${exp.status}`);
    if (exp.status !== 200 && error !== exp.error) problems.push(`error ${error}, expected ${exp.error}`);
    if (exp.status !== 200 && body?.access_token !== undefined) problems.push('an error answer carries an access_token');
    if (exp.wwwAuthenticate === true && !/^Basic\b/i.test(h.get('www-authenticate') ?? '')) problems.push('401 to Basic without WWW-Authenticate: Basic');
    if (exp.allow && !(h.get('allow') ?? '').split(/\s*,\s*/).includes(exp.allow)) problems.push(`Allow: ${h.get('allow')}`);

    if (status === 200 && typeof body?.access_token === 'string') {
      tokens += 1;
      if (req.assertion !== undefined) {
        const t = tokensPer.get(req.assertion);
        if (t) t.tokens += 1;
      }
      problems.push(...(await checkToken(body, exp.claims)));
    }
    if (problems.length > 0) {
      violate(status >= 500 ? '5xx' : 'unexpected answer', {
        cls,
        input: where(),
        expected: exp.status === 200 ? `200 with a token ${JSON.stringify(exp.claims ?? {})}` : `${exp.status} ${exp.error}`,
        got: `${status} ${text.slice(0, 300)}${body === undefined ? ` (headers ${JSON.stringify(Object.fromEntries(h))})` : ''}`,
        problems,
      });
      return false;
    }
    return true;
  }

  async function checkToken(body, expectClaims = {}) {
    const problems = [];
    if (body.token_type !== 'Bearer') problems.push(`token_type ${body.token_type}`);
    if (typeof body.expires_in !== 'number' || body.expires_in <= 0) problems.push(`expires_in ${body.expires_in}`);
    let header;
    let claims;
    try {
      const parts = body.access_token.split('.');
      header = fromB64urlJson(parts[0]);
      claims = fromB64urlJson(parts[1]);
    } catch (err) {
      return [`access_token does not decode: ${err.message}`];
    }
    if (header.typ !== 'at+jwt' || header.alg !== 'ES256') problems.push(`token header ${JSON.stringify(header)}`);
    if (claims.iss !== config.issuer) problems.push(`iss ${claims.iss}`);
    if (claims.aud !== config.access_token.audience) problems.push(`aud ${claims.aud}`);
    for (const [name, value] of Object.entries(expectClaims)) {
      if (claims[name] !== value) problems.push(`${name} ${JSON.stringify(claims[name])}, expected ${JSON.stringify(value)}`);
    }
    if (Math.abs(claims.iat - Date.now() / 1000) > 120) problems.push(`iat ${claims.iat} is not now`);
    if (typeof claims.jti !== 'string' || tokenJtis.has(claims.jti)) problems.push(`token jti ${claims.jti} missing or repeated`);
    tokenJtis.add(claims.jti);
    if (verifyEvery > 0 && tokens % verifyEvery === 1 % verifyEvery) {
      try {
        await verifyAccessToken(body.access_token, jwks);
        verified += 1;
      } catch (err) {
        problems.push(`signature: ${err.message}`);
      }
    }
    return problems;
  }

  async function exec(cls, req) {
    const s = stats.get(cls);
    s.sent += 1;
    let result;
    try {
      result = await timedSend(req.init);
    } catch (err) {
      if (signal?.aborted) {
        // Cut off by the hard timeout or Ctrl-C: reported once, as "aborted".
        s.sent -= 1;
        return undefined;
      }
      s.bad += 1;
      histogram.set('ERR transport', (histogram.get('ERR transport') ?? 0) + 1);
      violate('transport error', { cls, input: describe(cls, req), expected: `${req.expect.status}`, got: String(err?.message ?? err) });
      return undefined;
    }
    s.lat.push(result.ms);
    const good = await check(cls, req, result.response, result.text);
    if (good) s.ok += 1;
    else s.bad += 1;
    return { status: result.response.status, good };
  }

  // --- main phase: bounded concurrency over the plan ------------------------
  log(`main phase: ${plan.length} requests, concurrency ${concurrency}, seed ${seed}`);
  let cursor = 0;
  const deferred = [];
  let validInFlight = 0;
  let validLeft = plan.filter((c) => CLASSES[c].group === 'valid').length;
  let waiters = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  let skipped = 0;
  const mainStarted = performance.now();
  let done = 0;
  const progressEvery = Math.max(1, Math.ceil(plan.length / 10));

  async function worker() {
    for (;;) {
      if (signal?.aborted) return;
      let cls;
      let fromDeferred = false;
      if (cursor < plan.length) cls = plan[cursor++];
      else if (deferred.length > 0) {
        cls = deferred.shift();
        fromDeferred = true;
      } else return;

      const req = await build(cls);
      if (req === undefined) {
        // A replay with nothing to replay yet.
        if (!fromDeferred) {
          deferred.push(cls);
          continue;
        }
        if (validInFlight > 0 || validLeft > 0) {
          deferred.push(cls);
          await new Promise((resolve) => waiters.push(resolve));
          continue;
        }
        skipped += 1;
        violate('not run', { cls, input: cls, expected: 'a replay', got: 'no assertion got a token to replay' });
        continue;
      }
      const isValid = CLASSES[cls].group === 'valid';
      if (isValid) validInFlight += 1;
      const result = await exec(cls, req);
      if (isValid) {
        validInFlight -= 1;
        validLeft -= 1;
        if (result?.status === 200) {
          issued.push(req.source);
          if (req.source.clientAssertion) usedClientAssertions.push(req.source.clientAssertion);
        }
        wake();
      }
      done += 1;
      if (done % progressEvery === 0) log(`  ${done}/${plan.length} (${violations.length} violations)`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
  wake();
  const mainMs = performance.now() - mainStarted;

  // --- bursts: N concurrent copies of one fresh assertion → exactly one token
  const burstResults = [];
  for (let round = 0; round < bursts && !signal?.aborted; round++) {
    for (const kind of ['jwt', 'saml']) {
      let req;
      if (kind === 'jwt') {
        const { jwt, claims } = await mintJwt();
        const { init } = await grantRequest({ grantType: JWT_BEARER, assertion: jwt, clientKind: 'basic', scope: 'read' });
        req = { init, assertion: jwt, expect: { status: 200, claims: { sub: claims.sub, client_id: CLIENTS.basic.id, scope: 'read' } } };
      } else {
        const assertion = samlValid.pop();
        const { init } = await grantRequest({ grantType: SAML2_BEARER, assertion, clientKind: 'basic', scope: 'read' });
        req = { init, assertion, expect: { status: 200, claims: { sub: SAML_SUBJECT, client_id: CLIENTS.basic.id, scope: 'read' } } };
      }
      const cls = `burst_${kind}`;
      track(req.assertion, 1, cls);
      stats.set(cls, stats.get(cls) ?? { sent: 0, ok: 0, bad: 0, lat: [] });
      const s = stats.get(cls);
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: burstSize }, async () => {
          try {
            return await timedSend(req.init);
          } catch (err) {
            return { error: err };
          }
        }),
      );
      const tally = {};
      let oneToken = 0;
      for (const a of answers) {
        s.sent += 1;
        if (a.error) {
          tally['ERR transport'] = (tally['ERR transport'] ?? 0) + 1;
          histogram.set('ERR transport', (histogram.get('ERR transport') ?? 0) + 1);
          s.bad += 1;
          continue;
        }
        s.lat.push(a.ms);
        let body;
        try {
          body = JSON.parse(a.text);
        } catch {
          body = {};
        }
        const status = a.response.status;
        const k = `${status} ${body.error ?? (status === 200 ? 'token' : '(no error)')}`;
        tally[k] = (tally[k] ?? 0) + 1;
        // The one winner is checked like any valid answer, the rest like replays.
        const expectNow = status === 200 && oneToken === 0 ? req.expect : { status: 400, error: 'invalid_grant' };
        if (status === 200) oneToken += 1;
        const good = await check(cls, { ...req, expect: expectNow, note: `burst ${round + 1}, ${burstSize} concurrent` }, a.response, a.text);
        if (good) s.ok += 1;
        else s.bad += 1;
      }
      const wallMs = performance.now() - started;
      const expected = { '200 token': 1, '400 invalid_grant': burstSize - 1 };
      const same = JSON.stringify(Object.entries(tally).sort()) === JSON.stringify(Object.entries(expected).sort());
      if (!same) {
        violate('burst', { cls, input: `${burstSize} concurrent copies of one fresh ${kind} assertion`, expected: JSON.stringify(expected), got: JSON.stringify(tally) });
      }
      burstResults.push({ kind, round: round + 1, tally, wallMs, ok: same });
    }
  }

  // --- refresh and revoke: per round, a family from a fresh grant; a burst of
  // concurrent refreshes with its token (exactly one new pair); rotation of
  // the winner; revocation; then nothing of the family works.
  const refreshResults = [];
  const formSend = async (path, fields, headers) => {
    const response = await send(path, post(fields, headers));
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = {};
    }
    return { status: response.status, body };
  };
  const basicHeaders = { Authorization: basicAuth(CLIENTS.basic.id, CLIENTS.basic.secret) };
  const revokePath = `${new URL(config.issuer).pathname.replace(/\/$/, '')}/revoke`;
  for (let round = 0; round < bursts && !signal?.aborted; round++) {
    const cls = 'refresh';
    const { jwt } = await mintJwt();
    const granted = await formSend(paths.token, [['grant_type', JWT_BEARER], ['assertion', jwt], ['scope', 'read offline_access']], basicHeaders);
    if (granted.status !== 200 || typeof granted.body.refresh_token !== 'string') {
      violate('refresh', { cls, input: 'grant with offline_access', expected: '200 with a refresh_token', got: JSON.stringify(granted) });
      continue;
    }
    const token = granted.body.refresh_token;
    const answers = await Promise.all(
      Array.from({ length: burstSize }, () => formSend(paths.token, [['grant_type', 'refresh_token'], ['refresh_token', token]], basicHeaders)),
    );
    const tally = {};
    for (const a of answers) {
      const k = `${a.status} ${a.body.error ?? (a.status === 200 ? 'token' : '(no error)')}`;
      tally[k] = (tally[k] ?? 0) + 1;
      histogram.set(k, (histogram.get(k) ?? 0) + 1);
    }
    const expected = { '200 token': 1, '400 invalid_grant': burstSize - 1 };
    const same = JSON.stringify(Object.entries(tally).sort()) === JSON.stringify(Object.entries(expected).sort());
    if (!same) violate('refresh burst', { cls, input: `${burstSize} concurrent refreshes with one token`, expected: JSON.stringify(expected), got: JSON.stringify(tally) });
    const winner = answers.find((a) => a.status === 200);
    const reused = answers.some((a) => a.status === 400 && /revoked/.test(a.body.error_description ?? ''));
    if (winner !== undefined) {
      const next = await formSend(paths.token, [['grant_type', 'refresh_token'], ['refresh_token', winner.body.refresh_token]], basicHeaders);
      // A loser that saw the rotation counted as reuse and revoked the family.
      if (next.status !== (reused ? 400 : 200)) {
        violate('refresh', { cls, input: "the burst winner's token", expected: reused ? '400 (family revoked by reuse)' : '200', got: JSON.stringify(next) });
      }
      const live = next.status === 200 ? next.body.refresh_token : winner.body.refresh_token;
      const revoked = await formSend(revokePath, [['token', live]], basicHeaders);
      if (revoked.status !== 200) violate('revoke', { cls: 'revoke', input: 'revoke the family', expected: '200', got: JSON.stringify(revoked) });
      const after = await formSend(paths.token, [['grant_type', 'refresh_token'], ['refresh_token', live]], basicHeaders);
      if (after.status !== 400 || after.body.error !== 'invalid_grant') {
        violate('revoke', { cls: 'revoke', input: 'refresh after revocation', expected: '400 invalid_grant', got: JSON.stringify(after) });
      }
    }
    refreshResults.push({ round: round + 1, tally, ok: same, reused });
  }

  // --- end-of-run checks ------------------------------------------------------
  for (const [assertion, t] of tokensPer) {
    if (t.expected === 1 && t.tokens !== 1) {
      // A valid one that was not sent (abort) counts under "aborted" instead.
      if (!(signal?.aborted && t.tokens === 0)) {
        violate('token count', { cls: t.cls, input: `${t.cls} assertion …${assertion.slice(-24)}`, expected: '1 token', got: `${t.tokens} tokens` });
      }
    } else if (t.expected === 0 && t.tokens !== 0) {
      violate('token count', { cls: t.cls, input: `${t.cls} assertion …${assertion.slice(-24)}`, expected: '0 tokens', got: `${t.tokens} tokens` });
    }
  }
  let jwksAfter;
  try {
    jwksAfter = await (await send(paths.jwks, { method: 'GET' })).json();
  } catch (err) {
    jwksAfter = String(err?.message ?? err);
  }
  if (JSON.stringify(jwksAfter) !== JSON.stringify(jwks)) {
    violate('jwks changed', { cls: '-', input: 'GET JWKS after the run', expected: JSON.stringify(jwks), got: JSON.stringify(jwksAfter) });
  }
  if (signal?.aborted) {
    violate('aborted', { cls: '-', input: '-', expected: 'the run to finish', got: String(signal.reason?.message ?? signal.reason ?? 'aborted') });
  }

  const mainLat = [...Object.keys(CLASSES)].flatMap((c) => stats.get(c).lat).sort((a, b) => a - b);
  const mainSent = Object.keys(CLASSES).reduce((s, c) => s + stats.get(c).sent, 0);
  return {
    seed,
    requests,
    concurrency,
    counts,
    stats,
    histogram,
    tokens,
    verified,
    skipped,
    bursts: burstResults,
    refresh: refreshResults,
    mainMs,
    mainSent,
    rps: mainSent / (mainMs / 1000),
    latency: { p50: percentile(mainLat, 50), p95: percentile(mainLat, 95), p99: percentile(mainLat, 99), max: mainLat.at(-1) },
    violations,
  };
}

/** The summary table as text. */
export function formatReport(r, { maxViolations = 15 } = {}) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const rows = [['class', 'group', 'sent', 'as expected', 'violations', 'p50 ms', 'p95 ms', 'p99 ms']];
  const groups = new Map();
  for (const [cls, s] of r.stats) {
    const group = CLASSES[cls]?.group ?? 'burst';
    const lat = [...s.lat].sort((a, b) => a - b);
    rows.push([cls, group, s.sent, s.ok, s.bad, f(percentile(lat, 50)), f(percentile(lat, 95)), f(percentile(lat, 99))]);
    const g = groups.get(group) ?? { sent: 0, ok: 0, bad: 0, lat: [] };
    g.sent += s.sent;
    g.ok += s.ok;
    g.bad += s.bad;
    g.lat.push(...s.lat);
    groups.set(group, g);
  }
  rows.push(null);
  for (const [group, g] of groups) {
    const lat = g.lat.sort((a, b) => a - b);
    rows.push([`total ${group}`, '', g.sent, g.ok, g.bad, f(percentile(lat, 50)), f(percentile(lat, 95)), f(percentile(lat, 99))]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.filter(Boolean).map((row) => String(row[i]).length)));
  const line = (row) => row.map((cell, i) => (i < 2 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(rows[0]), sep, ...rows.slice(1).map((row) => (row ? line(row) : sep))];

  out.push('', 'status histogram (all requests, bursts included):');
  for (const [k, n] of [...r.histogram].sort()) out.push(`  ${k.padEnd(32)} ${String(n).padStart(6)}`);

  out.push('', 'bursts (concurrent copies of one fresh assertion):');
  for (const b of r.bursts) out.push(`  ${b.kind.padEnd(4)} round ${b.round}: ${JSON.stringify(Object.fromEntries(Object.entries(b.tally).sort()))} in ${b.wallMs.toFixed(0)} ms ${b.ok ? 'OK' : 'VIOLATION'}`);
  out.push('', 'refresh bursts (concurrent refreshes of one token, then rotate, revoke):');
  for (const b of r.refresh ?? []) out.push(`  round ${b.round}: ${JSON.stringify(Object.fromEntries(Object.entries(b.tally).sort()))}${b.reused ? ' (a loser saw the rotation: family revoked)' : ''} ${b.ok ? 'OK' : 'VIOLATION'}`);

  out.push(
    '',
    `main phase: ${r.mainSent} requests in ${(r.mainMs / 1000).toFixed(2)} s = ${r.rps.toFixed(0)} req/s at concurrency ${r.concurrency} (seed ${r.seed})`,
    `latency (main phase): p50 ${f(r.latency.p50)} ms, p95 ${f(r.latency.p95)} ms, p99 ${f(r.latency.p99)} ms, max ${f(r.latency.max)} ms`,
    `tokens issued: ${r.tokens} (claims of all checked, ${r.verified} signatures verified against the JWKS)`,
    `violations: ${r.violations.length}`,
  );
  for (const v of r.violations.slice(0, maxViolations)) {
    out.push(`  [${v.kind}] ${v.cls}`, `    input:    ${v.input}`, `    expected: ${v.expected}`, `    got:      ${v.got}`);
    if (v.problems) out.push(`    problems: ${v.problems.join('; ')}`);
  }
  if (r.violations.length > maxViolations) out.push(`  … and ${r.violations.length - maxViolations} more`);
  return out.join('\n');
}

// The token endpoint running in the page: a test IdP mints an assertion,
// explain() reports on it, exchange() turns it into an access token, and
// verifyAccessToken() checks that token as a resource server would.
import {
  OAuthError,
  TokenEndpoint,
  createSigningKey,
  hashClientSecret,
  mintTestAssertion,
  ready,
  testIdpTrustEntry,
  verifyAccessToken,
} from 'assertion-grant';
import wasmUrl from 'assertion-grant/assertion_grant_bg.wasm';

const ISSUER = 'https://as.example.com';
const API = 'https://api.example.com';
const IDP = 'https://test-idp.local';

async function run() {
  await ready(new URL(wasmUrl, import.meta.url));
  const idpKey = JSON.parse(await createSigningKey('test-idp'));
  const endpoint = new TokenEndpoint(
    {
      issuer: ISSUER,
      access_token: { audience: API, lifetime_secs: 600 },
      trusted_issuers: [{ ...testIdpTrustEntry('jwt', IDP, idpKey), scope: 'read write' }],
      clients: [
        {
          client_id: 'spa-tester',
          token_endpoint_auth_method: 'client_secret_post',
          client_secret_sha256: hashClientSecret('s3cret'),
          scope: 'read',
        },
      ],
    },
    { signingKeys: await createSigningKey('as-1') },
  );
  const assertion = await mintTestAssertion(
    { format: 'jwt', issuer: IDP, subject: 'bob', audience: ISSUER, now: Math.floor(Date.now() / 1000), lifetime_secs: 300 },
    idpKey,
  );
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion,
    scope: 'read',
    client_id: 'spa-tester',
    client_secret: 's3cret',
  }).toString();
  const report = await endpoint.explain({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  const params = { assertion, scope: 'read', clientId: 'spa-tester', clientSecret: 's3cret', clientAuth: 'post' };
  const token = await endpoint.exchange(params);
  let replay;
  try {
    await endpoint.exchange(params);
    replay = { issued: true };
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    replay = { code: err.code, status: err.status };
  }
  const { claims } = await verifyAccessToken(
    new Request(`${API}/me`, { headers: { authorization: `Bearer ${token.access_token}` } }),
    { issuer: ISSUER, audience: API, jwks: endpoint.jwks() },
  );
  return {
    ok: true,
    crypto: endpoint.crypto,
    explain: { would_issue: report.would_issue, failed: report.checks.filter((c) => c.outcome === 'fail').map((c) => c.id) },
    token,
    jwks: endpoint.jwks(),
    replay,
    claims,
  };
}

const out = document.getElementById('result');
run()
  .catch((err) => ({ ok: false, error: String(err?.stack ?? err) }))
  .then((result) => {
    out.textContent = JSON.stringify(result);
    out.dataset.done = 'true';
  });

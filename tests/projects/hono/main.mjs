// Runs the Hono app through app.fetch (as any fetch-style host would): the
// metadata, one token exchange with HTTP Basic client authentication, the
// API with and without the token, and a GET on the token path. Prints JSON.
import {
  TokenEndpoint,
  createSigningKey,
  hashClientSecret,
  mintTestAssertion,
  ready,
  testIdpTrustEntry,
} from 'assertion-grant';
import { createApp } from './app.mjs';

const ISSUER = 'https://as.example.com';
const API = 'https://api.example.com';
const IDP = 'https://test-idp.local';

await ready();
const idpKey = JSON.parse(await createSigningKey('test-idp'));
const endpoint = new TokenEndpoint(
  {
    issuer: ISSUER,
    access_token: { audience: API, lifetime_secs: 600 },
    trusted_issuers: [{ ...testIdpTrustEntry('jwt', IDP, idpKey), scope: 'read write' }],
    clients: [
      {
        client_id: 'reporting-app',
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret_sha256: hashClientSecret('s3cret'),
        scope: 'read',
      },
    ],
  },
  { signingKeys: await createSigningKey('as-1') },
);
const app = createApp(endpoint, { issuer: ISSUER, audience: API });

async function call(path, init) {
  const response = await app.fetch(new Request(new URL(path, ISSUER), init));
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

const assertion = await mintTestAssertion(
  { format: 'jwt', issuer: IDP, subject: 'carol', audience: ISSUER, now: Math.floor(Date.now() / 1000), lifetime_secs: 300 },
  idpKey,
);
const metadata = await call('/.well-known/oauth-authorization-server');
const jwks = await call('/.well-known/jwks.json');
const token = await call('/token', {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${btoa('reporting-app:s3cret')}`,
  },
  body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion, scope: 'read' }),
});
const me = await call('/api/me', { headers: { authorization: `Bearer ${token.body.access_token}` } });
const anonymous = await call('/api/me');
const getToken = await call('/token');

console.log(JSON.stringify({ metadata, jwks, token, me, anonymous, getToken }));

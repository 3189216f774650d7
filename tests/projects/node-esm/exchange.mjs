// A Node ESM script using the installed package by its name: a throwaway test
// IdP, a token endpoint trusting it, one assertion exchanged for an access
// token, then the same assertion again (one-time use). Prints JSON for the test.
import {
  OAuthError,
  TokenEndpoint,
  createSigningKey,
  hashClientSecret,
  mintTestAssertion,
  ready,
  testIdpTrustEntry,
} from 'assertion-grant';

const ISSUER = 'https://as.example.com';
const IDP = 'https://test-idp.local';

await ready(); // Node reads the .wasm beside the module

const idpKey = JSON.parse(await createSigningKey('test-idp'));
const config = {
  issuer: ISSUER,
  access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
  trusted_issuers: [{ ...testIdpTrustEntry('jwt', IDP, idpKey), scope: 'read write' }],
  clients: [
    {
      client_id: 'reporting-app',
      token_endpoint_auth_method: 'client_secret_basic',
      client_secret_sha256: hashClientSecret('s3cret'),
      scope: 'read',
    },
  ],
};
const endpoint = new TokenEndpoint(config, { signingKeys: await createSigningKey('as-1') });

const assertion = await mintTestAssertion(
  { format: 'jwt', issuer: IDP, subject: 'alice', audience: ISSUER, now: Math.floor(Date.now() / 1000), lifetime_secs: 300 },
  idpKey,
);
const params = { assertion, scope: 'read', clientId: 'reporting-app', clientSecret: 's3cret', clientAuth: 'basic' };
const token = await endpoint.exchange(params);

let replay;
try {
  await endpoint.exchange(params);
  replay = { issued: true };
} catch (err) {
  if (!(err instanceof OAuthError)) throw err;
  replay = { code: err.code, status: err.status };
}

console.log(
  JSON.stringify({
    resolved: import.meta.resolve('assertion-grant'),
    crypto: endpoint.crypto,
    token,
    jwks: endpoint.jwks(),
    replay,
  }),
);

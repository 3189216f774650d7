// The Node API, fully typed: configuration objects, the endpoint, the test
// IdP, the exchange and its errors, explain reports, a resource server check.
import {
  AccessTokenError,
  JWT_BEARER,
  MemoryReplayStore,
  OAuthError,
  TokenEndpoint,
  createSigningKey,
  hashClientSecret,
  mintTestAssertion,
  ready,
  testIdpTrustEntry,
  verifyAccessToken,
  type ClientConfig,
  type Config,
  type Explanation,
  type ReasonCode,
  type ReplayStore,
  type TokenResponse,
  type TrustedIssuerConfig,
} from 'assertion-grant';

export const ISSUER = 'https://as.example.com';
const IDP = 'https://test-idp.local';

export async function buildEndpoint(): Promise<{ endpoint: TokenEndpoint; idpKey: string }> {
  await ready();
  const idpKey = await createSigningKey('test-idp');
  const idp: TrustedIssuerConfig = { ...testIdpTrustEntry('jwt', IDP, idpKey), scope: 'read write' };
  const client: ClientConfig = {
    client_id: 'reporting-app',
    token_endpoint_auth_method: 'client_secret_basic',
    client_secret_sha256: hashClientSecret('s3cret'),
    grant_types: [JWT_BEARER],
    scope: 'read',
  };
  const config: Config = {
    issuer: ISSUER,
    access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
    trusted_issuers: [idp],
    clients: [client],
  };
  const replayStore: ReplayStore = new MemoryReplayStore({ maxEntries: 10_000 });
  const signingKeys = process.env.AG_SIGNING_KEY ?? (await createSigningKey('as-1'));
  const endpoint = new TokenEndpoint(config, { signingKeys, replayStore, onError: (err: unknown) => console.error(err) });
  return { endpoint, idpKey };
}

/** A token, or the reason the request was refused. */
export async function exchange(endpoint: TokenEndpoint, idpKey: string): Promise<TokenResponse | OAuthError> {
  const assertion: string = await mintTestAssertion(
    { format: 'jwt', issuer: IDP, subject: 'alice', audience: ISSUER, now: Math.floor(Date.now() / 1000), lifetime_secs: 300 },
    idpKey,
  );
  try {
    return await endpoint.exchange({ assertion, scope: ['read'], clientId: 'reporting-app', clientSecret: 's3cret', clientAuth: 'basic' });
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
}

export async function whyRefused(endpoint: TokenEndpoint, body: string): Promise<ReasonCode | undefined> {
  const report: Explanation = await endpoint.explain({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  for (const check of report.checks) {
    if (check.outcome === 'fail') console.log(check.id, check.spec, check.detail);
  }
  return report.error?.reason;
}

/** A resource server's check of our access tokens. */
export async function api(request: Request, endpoint: TokenEndpoint): Promise<Response> {
  try {
    const { claims, scheme } = await verifyAccessToken(request, { issuer: ISSUER, audience: 'https://api.example.com', jwks: endpoint.jwks() });
    return Response.json({ sub: claims.sub, scheme });
  } catch (err) {
    if (err instanceof AccessTokenError) return err.response();
    throw err;
  }
}

export const serve = (endpoint: TokenEndpoint) => (request: Request): Promise<Response> => endpoint.handle(request);

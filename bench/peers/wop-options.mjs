// How the @cloudflare/workers-oauth-provider peer is configured from the same
// configuration as ours (AG_CONFIG): pure data and callbacks, no import of the
// library, so the runner (Node) can use it too — it serves the issuer's JWKS
// at jwksUri(issuer) to the peer's Worker (Miniflare outboundService), since
// the library fetches issuer keys from a URL and has no inline-JWKS option.
//
//   OAuthAuthorizationServer({ issuer, resources, tokenEndpoint, accessTokenTTL,
//                              enterpriseManagedAuthorization })
//   issuer            = config.issuer                 (the ID-JAG `aud`)
//   resources         = [config.access_token.audience] (token audience)
//   tokenEndpoint     = config.token_endpoint
//   accessTokenTTL    = config.access_token.lifetime_secs
//   trustedIssuers    = the issuers whose `profiles` list `id-jag`: issuer,
//                       jwksUri, algorithms from their JWKS (ES256 / RS256),
//                       audience = config.issuer
//   clockSkewSeconds  = config.clock_skew_secs; maxAssertionLifetimeSeconds =
//                       the issuer's max_lifetime_secs (the library's default is 300)
//   mapClaims         = userId subject_prefix + sub; scope = requested (already
//                       ∩ the ID-JAG's scope by the library) ∩ client ∩ issuer
//                       ceiling, as ours; props = the issuer's `claims` mapping
//   allowPublicClients: false (the default: the grant needs client authentication)

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Where the peer's Worker fetches an issuer's keys (answered by the runner). */
export const jwksUri = (issuer) => `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;

/** The configuration's ID-JAG issuers. */
export const idJagIssuers = (config) =>
  config.trusted_issuers.filter((i) => i.format === 'jwt' && (i.profiles ?? []).includes('id-jag'));

/** The JWK Set the runner serves at `url`, or undefined. */
export function jwksFor(config, url) {
  const issuer = idJagIssuers(config).find((i) => jwksUri(i.issuer) === url);
  return issuer?.jwks;
}

const words = (s) => (s ?? '').split(' ').filter(Boolean);

/**
 * Options for OAuthAuthorizationServer. `clientScope` is the scope allowance
 * of the configured client the peer's registered client stands for (the
 * library's clients carry no scope of their own).
 */
export function wopOptions(config, { clientScope }) {
  const issuers = new Map(
    idJagIssuers(config).map((i) => [
      i.issuer,
      {
        config: i,
        trusted: {
          issuer: i.issuer,
          jwksUri: jwksUri(i.issuer),
          algorithms: [...new Set(i.jwks.keys.map((k) => (k.kty === 'EC' ? 'ES256' : 'RS256')))],
          audience: config.issuer,
        },
      },
    ]),
  );
  const maxLifetimes = [...issuers.values()].map((i) => i.config.max_lifetime_secs ?? 3600);
  return {
    issuer: config.issuer,
    resources: [config.access_token.audience],
    tokenEndpoint: config.token_endpoint ?? `${config.issuer}/token`,
    accessTokenTTL: config.access_token.lifetime_secs ?? 3600,
    enterpriseManagedAuthorization: {
      trustedIssuers: async ({ iss }) => issuers.get(iss)?.trusted ?? null,
      mapClaims: async ({ claims, requestedScope }) => {
        const issuer = issuers.get(claims.iss).config;
        const ceiling = new Set(words(issuer.scope));
        const client = new Set(words(clientScope));
        const props = {};
        for (const [to, from] of Object.entries(issuer.claims ?? {})) if (claims[from] !== undefined) props[to] = claims[from];
        return {
          userId: `${issuer.subject_prefix ?? ''}${claims.sub}`,
          scope: requestedScope.filter((s) => ceiling.has(s) && client.has(s)),
          metadata: { issuer: claims.iss, subject: claims.sub },
          props,
        };
      },
      // Keys fetched once per isolate, as ours and jose import them once.
      jwksCacheTtlSeconds: 86400,
      clockSkewSeconds: config.clock_skew_secs ?? 60,
      maxAssertionLifetimeSeconds: Math.max(...maxLifetimes),
    },
  };
}

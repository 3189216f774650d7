// Peer for the JWT paths: a minimal RFC 7523 JWT-bearer token endpoint on
// `jose` (WebCrypto underneath). Same configuration, keys and request as
// ours: client_secret_basic, the issuer's configured JWKS only (keys imported
// once per isolate by createLocalJWKSet), jwtVerify with issuer / audience /
// exp / nbf / iat-age / required-claims checks, exp − now ≤ max lifetime,
// one-time jti, scope, and an ES256 RFC 9068 access token with the same claims.
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { PeerError, createCommon, handleWith, mapClaims } from './common.mjs';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export async function createJoseEndpoint(config, signingJwk) {
  const common = await createCommon(config, signingJwk);
  const issuers = new Map(
    config.trusted_issuers
      .filter((i) => i.format === 'jwt')
      .map((i) => [
        i.issuer,
        {
          config: i,
          jwks: createLocalJWKSet(i.jwks),
          algorithms: [...new Set(i.jwks.keys.map((k) => (k.kty === 'EC' ? 'ES256' : 'RS256')))],
        },
      ]),
  );

  async function token(request) {
    const form = await common.form(request);
    const client = await common.client(request);
    if (form.get('grant_type') !== JWT_BEARER) throw new PeerError('unsupported_grant_type');
    const assertion = form.get('assertion');
    if (!assertion) throw new PeerError('invalid_request');
    let unverified;
    try {
      unverified = decodeJwt(assertion);
    } catch {
      throw new PeerError('invalid_grant');
    }
    const issuer = issuers.get(unverified.iss);
    if (issuer === undefined) throw new PeerError('invalid_grant');
    const maxLifetime = issuer.config.max_lifetime_secs ?? 3600;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, issuer.jwks, {
        issuer: issuer.config.issuer,
        audience: common.audiences,
        algorithms: issuer.algorithms,
        clockTolerance: issuer.config.clock_skew_secs ?? common.skew,
        maxTokenAge: maxLifetime,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch {
      throw new PeerError('invalid_grant');
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp - now > maxLifetime) throw new PeerError('invalid_grant');
    const scope = common.scope(form.get('scope'), client, issuer.config);
    if (!common.claim(`jwt:${payload.iss}:${payload.jti}`, payload.exp)) throw new PeerError('invalid_grant');
    const claims = mapClaims(issuer.config.claims, (name) => payload[name]);
    return common.issue({ sub: payload.sub, client, scope, claims });
  }

  return {
    handle: handleWith(token),
    resetReplay: common.resetReplay,
  };
}

// Peer for the JWT paths: a minimal RFC 7523 JWT-bearer token endpoint on
// `jose` (WebCrypto underneath). Same configuration, keys and request as
// ours: client_secret_basic, the issuer's configured JWKS only (keys imported
// once per isolate by createLocalJWKSet), jwtVerify with issuer / audience /
// exp / nbf / iat-age / required-claims checks, exp − now ≤ max lifetime,
// one-time jti, scope, and an ES256 RFC 9068 access token with the same claims.
//
// ID-JAGs (header typ oauth-id-jag+jwt, draft-ietf-oauth-identity-assertion-
// authz-grant) only from an issuer whose `profiles` list `id-jag` (and plain
// JWTs only from one that lists `jwt-bearer`, the default), with the ID-JAG
// rules on top: jwtVerify's `typ` check, aud = our issuer identifier alone
// (a string or a one-element array), required client_id = the authenticated
// client, which must be confidential, and the ID-JAG's scope as one more
// ceiling; the token's sub gets the issuer's subject_prefix.
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { PeerError, createCommon, handleWith, mapClaims } from './common.mjs';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** RFC 7515 §4.1.9: `typ` compared case-insensitively, `application/` optional. */
const isIdJagTyp = (typ) => typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === ID_JAG_TYP;

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
    let idJag;
    try {
      unverified = decodeJwt(assertion);
      idJag = isIdJagTyp(decodeProtectedHeader(assertion).typ);
    } catch {
      throw new PeerError('invalid_grant');
    }
    const issuer = issuers.get(unverified.iss);
    if (issuer === undefined) throw new PeerError('invalid_grant');
    const profiles = issuer.config.profiles ?? ['jwt-bearer'];
    if (!profiles.includes(idJag ? 'id-jag' : 'jwt-bearer')) throw new PeerError('invalid_grant');
    // An ID-JAG needs a confidential client (public ones: invalid_client).
    if (idJag && (client.token_endpoint_auth_method ?? 'client_secret_basic') === 'none') throw new PeerError('invalid_client', 401);
    const maxLifetime = issuer.config.max_lifetime_secs ?? 3600;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, issuer.jwks, {
        issuer: issuer.config.issuer,
        audience: idJag ? config.issuer : common.audiences,
        algorithms: issuer.algorithms,
        clockTolerance: issuer.config.clock_skew_secs ?? common.skew,
        maxTokenAge: maxLifetime,
        requiredClaims: idJag ? ['sub', 'exp', 'iat', 'jti', 'client_id'] : ['sub', 'exp', 'iat', 'jti'],
        ...(idJag ? { typ: ID_JAG_TYP } : {}),
      }));
    } catch {
      throw new PeerError('invalid_grant');
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp - now > maxLifetime) throw new PeerError('invalid_grant');
    let ceiling;
    if (idJag) {
      // aud: our issuer identifier alone; client_id: the client that authenticated.
      if (Array.isArray(payload.aud) && payload.aud.length !== 1) throw new PeerError('invalid_grant');
      if (payload.client_id !== client.client_id) throw new PeerError('invalid_grant');
      if (payload.authorization_details !== undefined) throw new PeerError('invalid_authorization_details');
      if (payload.cnf !== undefined) throw new PeerError('invalid_grant'); // no DPoP in this peer
      if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new PeerError('invalid_grant');
      ceiling = payload.scope;
    }
    const scope = common.scope(form.get('scope'), client, issuer.config, ceiling);
    if (!common.claim(`jwt:${payload.iss}:${payload.jti}`, payload.exp)) throw new PeerError('invalid_grant');
    const claims = mapClaims(issuer.config.claims, (name) => payload[name]);
    // ID-JAG: the token names the vouching issuer (idp) and its subject namespace, as ours does.
    if (idJag) claims.idp = issuer.config.issuer;
    const sub = idJag ? `${issuer.config.subject_prefix ?? ''}${payload.sub}` : payload.sub;
    return common.issue({ sub, client, scope, claims });
  }

  return {
    handle: handleWith(token),
    resetReplay: common.resetReplay,
  };
}

// Protocol constants the page relies on: grant-type URNs, the claim names the
// endpoint treats specially and the token request's content type. Kept in
// this one module so that each can come from the package instead of a copy.
import { RESERVED_CLAIMS as RESERVED } from '../../pkg/index.js';

export { JWT_BEARER, SAML2_BEARER } from '../../pkg/index.js';

/** Claims the server sets itself; they cannot be mapped from assertion attributes (from the core). */
export const RESERVED_CLAIMS = new Set(RESERVED);

/** The RFC 9068 §2.2 access-token claims (plus nbf and scope); the verdict summarises up to three others. */
export const ACCESS_TOKEN_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope']);

/** NumericDate claims (RFC 7519 §2): shown with a readable time next to them. */
export const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time']);

/** The token request's body (RFC 6749 §4.1.3, RFC 7521 §4.1). */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

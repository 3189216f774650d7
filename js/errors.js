// The errors the npm API throws: OAuthError (a token endpoint's answer) and
// ConfigError (a configuration field path and what is wrong).


/** An OAuth 2.0 error response (RFC 6749 §5.2), as returned by `exchange()`. */
export class OAuthError extends Error {
  /**
   * @param {string} code RFC 6749 error code, e.g. "invalid_grant"
   * @param {string | undefined} description error_description, if any
   * @param {number} status HTTP status of the response
   */
  constructor(code, description, status) {
    super(description ? `${code}: ${description}` : code);
    this.name = 'OAuthError';
    this.code = code;
    this.description = description;
    this.status = status;
  }
}

/** The configuration (or signing key) was rejected by the core. */
export class ConfigError extends Error {
  /**
   * @param {string} path JSON path of the offending field, e.g. "trusted_issuers[0].jwks"
   * @param {string} message full message "<path>: <reason>"
   * @param {unknown} [cause]
   */
  constructor(path, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ConfigError';
    this.code = 'invalid_config';
    this.path = path;
  }
}

export function toConfigError(err) {
  const message = typeof err?.message === 'string' ? err.message : String(err);
  let path = typeof err?.path === 'string' ? err.path : undefined;
  if (path === undefined) {
    const colon = message.indexOf(': ');
    path = colon > 0 ? message.slice(0, colon) : '';
  }
  return new ConfigError(path, message, err);
}

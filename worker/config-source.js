// Where the Worker's configuration comes from, and when it is re-read.
//
// Precedence (the first that is set wins):
//   1. AG_CONFIG_KV  KV namespace binding, key "config" — re-read every
//                    config_refresh_secs (default 60; 0 = every request)
//   2. AG_CONFIG     environment variable (JSON text, or an object from [vars])
//   3. ag.config.json  bundled at deploy (scripts/bundle-config.mjs)
//   4. the built-in demo (only when none of the above is set; index.js
//      refuses it with a real AG_SIGNING_KEY)
//
// No Workers APIs here: the endpoint builder, the clock and the log are
// passed in, so tests/js/worker-config.test.mjs drives it directly in Node.

export const KV_BINDING = 'AG_CONFIG_KV';
export const KV_KEY = 'config';
export const DEFAULT_REFRESH_SECS = 60;
export const MAX_REFRESH_SECS = 86400;

/** Configuration text of an environment value: undefined when unset or empty. */
export function textOf(value) {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The configuration below KV: AG_CONFIG, else the bundled ag.config.json
 * text, else none (text undefined: the demo).
 * @returns {{text: string | undefined, source: 'AG_CONFIG' | 'ag.config.json' | 'demo'}}
 */
export function staticConfig(env, bundledText) {
  const fromEnv = textOf(env.AG_CONFIG);
  if (fromEnv !== undefined) return { text: fromEnv, source: 'AG_CONFIG' };
  const bundled = textOf(bundledText);
  if (bundled !== undefined) return { text: bundled, source: 'ag.config.json' };
  return { text: undefined, source: 'demo' };
}

/** The KV binding, when there is one. */
export function kvOf(env) {
  const kv = env?.[KV_BINDING];
  return kv !== null && typeof kv === 'object' && typeof kv.get === 'function' ? kv : undefined;
}

/**
 * `config_refresh_secs` of a configuration text: an integer 0..=86400, else
 * the default (60). The core validates the field; this only reads it.
 */
export function refreshSecsOf(configText) {
  if (configText === undefined) return DEFAULT_REFRESH_SECS;
  let secs;
  try {
    secs = JSON.parse(configText)?.config_refresh_secs;
  } catch {
    return DEFAULT_REFRESH_SECS;
  }
  return Number.isInteger(secs) && secs >= 0 && secs <= MAX_REFRESH_SECS ? secs : DEFAULT_REFRESH_SECS;
}

// Members whose string values are secrets: client secrets (however named) and
// the private members of JWKs.
const SECRET_MEMBER = /secret|^(d|p|q|dp|dq|qi|k|oth)$/i;

/** The secret string values in a configuration text, for redaction (none if it is not JSON). */
export function secretsOf(configText) {
  if (configText === undefined) return [];
  let value;
  try {
    value = JSON.parse(configText);
  } catch {
    return [];
  }
  const found = [];
  const walk = (node, secret) => {
    if (typeof node === 'string') {
      if (secret) found.push(node);
    } else if (Array.isArray(node)) {
      for (const item of node) walk(item, secret);
    } else if (node !== null && typeof node === 'object') {
      for (const [name, item] of Object.entries(node)) walk(item, secret || SECRET_MEMBER.test(name));
    }
  };
  walk(value, false);
  return found;
}

/** Remove from `message` every long base64url run that occurs in one of the secrets. */
export function redact(message, secrets) {
  if (secrets.length === 0) return message;
  return message.replace(/[A-Za-z0-9_-]{16,}/g, (run) => (secrets.some((s) => s.includes(run)) ? '[redacted]' : run));
}

const SOURCE_LABEL = { AG_CONFIG_KV: `${KV_BINDING} key "${KV_KEY}"`, 'ag.config.json': 'bundled ag.config.json' };

/**
 * The endpoint of one isolate and the configuration it serves.
 *
 * Without the KV binding: the endpoint of AG_CONFIG / ag.config.json / the
 * demo, built once and rebuilt only when the configuration or key text
 * changes (a broken one answers 500 and is logged once).
 *
 * With the KV binding: the key is read on the first request (which waits for
 * it) and again when config_refresh_secs (of the configuration being served)
 * have passed since the last read. The request that finds a re-read due waits
 * for it, so it is served by what it read; requests arriving while that read
 * runs do not wait: they are served by the current endpoint (only a request
 * with no good endpoint yet joins the read). One read at a time per isolate.
 * A new text replaces the running one only once an endpoint is built from it
 * (`build` resolves, i.e. the core accepted it and the keys are imported); a
 * rejected text leaves the last good endpoint serving, is logged once by
 * field path, and is not retried until the value changes. A failed read
 * leaves the endpoint as it is (with none yet the request answers 500 and the
 * next request reads again).
 */
export class ConfigSource {
  #build;
  #now;
  #log;
  /** @type {{configText?: string, keyText?: string, source: string, refreshMs: number, endpoint: Promise<object | undefined>} | undefined} */
  #current;
  #readAt = -Infinity;
  /** @type {Promise<void> | undefined} */
  #reading;
  #rejected;
  #readFailing = false;

  /**
   * @param {object} options
   * @param {(input: {env: object, configText?: string, keyText?: string, source: string}) => Promise<object>} options.build
   *   the endpoint for a configuration; throws (an error with `.path`) when it is unusable
   * @param {() => number} [options.now] milliseconds (default Date.now)
   * @param {{error: (line: string) => void}} [options.log] default console
   */
  constructor({ build, now = () => Date.now(), log = console }) {
    this.#build = build;
    this.#now = now;
    this.#log = log;
  }

  /** Which source the current endpoint was built from (for tests and logs). */
  get source() {
    return this.#current?.source;
  }

  /**
   * The endpoint to serve this request with, or undefined (answer 500).
   * @param {object} env the Worker's bindings
   * @param {{bundledText?: string, waitUntil?: (p: Promise<unknown>) => void}} [options]
   *   waitUntil keeps a KV re-read alive when the request that started it ends
   */
  async endpoint(env, { bundledText, waitUntil } = {}) {
    const keyText = textOf(env.AG_SIGNING_KEY);
    const fallback = staticConfig(env, bundledText);
    const kv = kvOf(env);
    if (kv === undefined) {
      const current = this.#current;
      if (current === undefined || current.configText !== fallback.text || current.keyText !== keyText) {
        this.#current = this.#entry(env, fallback.text, keyText, fallback.source, false);
      }
      return this.#current.endpoint;
    }

    if (this.#current !== undefined && this.#now() - this.#readAt < this.#current.refreshMs) {
      return this.#current.endpoint;
    }
    const serving = await this.#current?.endpoint;
    if (this.#reading === undefined) {
      this.#reading = this.#refresh(env, kv, keyText, fallback)
        .catch((err) => {
          this.#log.error(`assertion-grant: ${KV_BINDING} refresh failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          this.#reading = undefined;
        });
      waitUntil?.(this.#reading);
    } else if (serving !== undefined) {
      return serving;
    }
    await this.#reading;
    return this.#current?.endpoint;
  }

  async #refresh(env, kv, keyText, fallback) {
    let value;
    try {
      value = await kv.get(KV_KEY, 'text');
    } catch (err) {
      const serving = await this.#current?.endpoint;
      if (serving !== undefined) this.#readAt = this.#now();
      if (!this.#readFailing) {
        this.#readFailing = true;
        const reason = err instanceof Error ? err.message : String(err);
        this.#log.error(
          `assertion-grant: ${KV_BINDING} read failed: ${reason}; ` +
            (serving !== undefined ? 'still serving the last good configuration' : 'answering 500 until a read succeeds'),
        );
      }
      return;
    }
    this.#readFailing = false;
    this.#readAt = this.#now();
    // An absent key falls back; a present one (even empty) is the configuration.
    const next = value === null || value === undefined ? fallback : { text: String(value), source: KV_BINDING };
    await this.#adopt(env, next.text, keyText, next.source);
  }

  async #adopt(env, configText, keyText, source) {
    const current = this.#current;
    if (current !== undefined && current.configText === configText && current.keyText === keyText) {
      current.source = source;
      this.#rejected = undefined;
      return;
    }
    const id = `${keyText}\u0000${configText}`;
    if (id === this.#rejected) return;
    const serving = await current?.endpoint;
    const entry = this.#entry(env, configText, keyText, source, serving !== undefined);
    if (serving === undefined) {
      // Nothing good to keep: serve what was read, broken or not (as without KV).
      this.#current = entry;
      this.#rejected = undefined;
      await entry.endpoint;
    } else if ((await entry.endpoint) !== undefined) {
      this.#current = entry;
      this.#rejected = undefined;
    } else {
      this.#rejected = id;
    }
  }

  #entry(env, configText, keyText, source, replacing) {
    const endpoint = Promise.resolve()
      .then(() => this.#build({ env, configText, keyText, source }))
      .catch((err) => {
        // The path names the field; the message never contains key material
        // or secrets (ConfigError messages are "<path>: <reason>").
        const path = typeof err?.path === 'string' && err.path !== '' ? err.path : 'unknown';
        const message = err instanceof Error ? err.message : String(err);
        const secrets = [...(keyText === undefined ? [] : [keyText]), ...secretsOf(configText)];
        const reason = redact(message, secrets);
        const from = SOURCE_LABEL[source] === undefined ? '' : ` (${SOURCE_LABEL[source]})`;
        const kept = replacing ? '; still serving the last good configuration' : '';
        this.#log.error(`assertion-grant: configuration error at ${path}: ${reason}${from}${kept}`);
        return undefined;
      });
    return { configText, keyText, source, refreshMs: refreshSecsOf(configText) * 1000, endpoint };
  }
}

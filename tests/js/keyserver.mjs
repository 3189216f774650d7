// A local key server for the remote key-set tests (keysets.test.mjs,
// keysets-workerd.test.mjs): Node `http` on 127.0.0.1, a random port, with
// each path's behaviour set by the test — the document it serves and its
// headers, an error status, a delay or a hang, a body streamed past any
// limit, a redirect — and a count of the requests each path received.
// Not a test file (`node --test` runs only *.test.mjs).
//
//   const server = await startKeyServer();
//   server.route('/idp/jwks', { json: { keys: [jwk] }, headers: { 'Cache-Control': 'max-age=60' } });
//   server.url('/idp/jwks')            'http://127.0.0.1:<port>/idp/jwks'
//   server.count('/idp/jwks')          requests so far
//   await server.close()
//
// Also: IdP keys and assertions made with jose (makeIdp).
import { createServer } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

/**
 * What a path does (every field optional):
 *   status      HTTP status (default 200)
 *   body        the body, text
 *   json        the body, as JSON (Content-Type application/json)
 *   headers     extra response headers
 *   delayMs     wait this long before answering
 *   bodyDelayMs send the headers, then wait this long before the body
 *   hang        never answer (until close())
 *   huge        stream this many bytes of JSON-looking filler, no Content-Length
 *   declaredLength  send this Content-Length (with a short body)
 *   html        answer a 200 HTML page (an error page behind a proxy)
 *   redirect    Location to answer with (status 302 unless `status` says)
 *   reset       destroy the connection without an answer
 *   bytes       the body, raw bytes (e.g. invalid UTF-8)
 */
export async function startKeyServer() {
  const routes = new Map();
  const counts = new Map();
  const requests = [];
  const hanging = new Set();
  const timers = new Set();
  /** A timer close() cancels (a delayed answer must not keep the process alive). */
  const later = (fn, ms) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    requests.push({ path, accept: req.headers.accept, method: req.method, host: req.headers.host });
    const route = routes.get(path) ?? { status: 404, body: 'not found' };
    const answer = () => respond(route, req, res, hanging, later);
    if (route.delayMs) later(answer, route.delayMs);
    else answer();
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;

  return {
    port,
    origin,
    /** The URL of `path` on this server. */
    url: (path) => `${origin}${path}`,
    /** The same path under another origin (localhost: another host name, same server). */
    otherOriginUrl: (path) => `http://localhost:${port}${path}`,
    /** Sets what `path` does (replacing what it did). */
    route(path, behaviour) {
      routes.set(path, behaviour);
    },
    /** Requests `path` received so far. */
    count: (path) => counts.get(path) ?? 0,
    /** Every request so far: { path, accept, method, host }. */
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function respond(route, req, res, hanging, later) {
  if (route.reset) {
    req.socket.destroy();
    return;
  }
  if (route.hang) {
    hanging.add(res);
    res.on('close', () => hanging.delete(res));
    return;
  }
  const headers = { ...(route.headers ?? {}) };
  if (route.redirect !== undefined) {
    res.writeHead(route.status ?? 302, { Location: route.redirect, ...headers });
    res.end('moved');
    return;
  }
  if (route.huge !== undefined) {
    res.writeHead(route.status ?? 200, { 'Content-Type': 'application/json', ...headers });
    streamFiller(res, route.huge);
    return;
  }
  let body;
  if (route.html) {
    body = Buffer.from('<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>');
    headers['Content-Type'] ??= 'text/html; charset=utf-8';
  } else if (route.json !== undefined) {
    body = Buffer.from(JSON.stringify(route.json));
    headers['Content-Type'] ??= 'application/json';
  } else if (route.bytes !== undefined) {
    body = Buffer.from(route.bytes);
  } else {
    body = Buffer.from(route.body ?? '');
  }
  headers['Content-Length'] = String(route.declaredLength ?? body.length);
  if (route.declaredLength !== undefined) {
    // A declared length the body never reaches: the client refuses it first.
    res.writeHead(route.status ?? 200, headers);
    res.write(body);
    hanging.add(res);
    res.on('close', () => hanging.delete(res));
    return;
  }
  res.writeHead(route.status ?? 200, headers);
  if (route.bodyDelayMs) {
    res.flushHeaders();
    later(() => res.end(body), route.bodyDelayMs);
  } else {
    res.end(body);
  }
}

/** Streams `total` bytes in 16 KiB chunks, stopping when the client goes away. */
function streamFiller(res, total) {
  const chunk = Buffer.alloc(16 * 1024, 0x20);
  chunk.write('{"keys":[');
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      if (res.destroyed) return;
      const size = Math.min(chunk.length, total - sent);
      sent += size;
      if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    sent = total;
  });
  pump();
}

/**
 * An IdP (or a private_key_jwt client) with ES256 keys made by jose:
 * `addKey(kid)` makes a key, `jwks(...kids)` the public JWK Set of those
 * kids (default: all), `sign(kid, claims)` a compact JWS with that key.
 */
export async function makeIdp() {
  const keys = new Map();
  return {
    async addKey(kid) {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
      keys.set(kid, { privateKey, jwk });
      return jwk;
    },
    jwks(...kids) {
      const chosen = kids.length > 0 ? kids : [...keys.keys()];
      return { keys: chosen.map((kid) => keys.get(kid).jwk) };
    },
    /** A signed JWT; `iat`, `exp` from claims (seconds), kid in the header. */
    async sign(kid, claims) {
      const entry = keys.get(kid);
      if (entry === undefined) {
        // A kid the IdP never published: sign with a throwaway key.
        const { privateKey } = await generateKeyPair('ES256');
        return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(privateKey);
      }
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(entry.privateKey);
    },
  };
}

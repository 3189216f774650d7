// Test-only Worker: the npm package inside real workerd, with the clock and
// the signature backend chosen by the test (tests/js/seam-workerd.test.mjs).
//   POST /verify   {cases: [{alg, key, message, signature}]} (base64url bytes) → [boolean]
//   POST /exchange {config, signingKey, now, crypto, requests: [{body, headers}]} → [{status, body}]
import wasm from '../../../pkg/assertion_grant_bg.wasm';
import { initSync, MemoryReplayStore, TokenEndpoint, verifySignature } from '../../../pkg/index.js';

const bytes = (b64url) => Uint8Array.from(atob(b64url.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

export default {
  async fetch(request) {
    initSync(wasm);
    const url = new URL(request.url);
    const input = await request.json();
    if (url.pathname === '/verify') {
      const results = [];
      for (const c of input.cases) {
        const check = { alg: c.alg, key: c.key, message: bytes(c.message), signature: bytes(c.signature) };
        results.push(await verifySignature(check, { crypto: input.crypto }));
      }
      return Response.json(results);
    }
    if (url.pathname === '/exchange') {
      const now = () => input.now;
      const endpoint = new TokenEndpoint(input.config, {
        signingKeys: input.signingKey,
        crypto: input.crypto,
        now,
        replayStore: new MemoryReplayStore({ now }),
      });
      const results = [];
      for (const r of input.requests) {
        const response = await endpoint.handle(
          new Request(input.config.token_endpoint ?? `${input.config.issuer}/token`, { method: 'POST', headers: r.headers, body: r.body }),
        );
        results.push({ status: response.status, body: await response.json() });
      }
      return Response.json({ crypto: endpoint.crypto, results });
    }
    return new Response('not found', { status: 404 });
  },
};

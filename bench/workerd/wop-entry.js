// Bench Worker "wop": the @cloudflare/workers-oauth-provider peer for the
// ID-JAG path (bench/peers/wop-endpoint.mjs) in the same workerd as ours,
// built once per isolate from the same configuration (AG_CONFIG). Bundled by
// the runner with esbuild (`cloudflare:workers` stays external). Bindings:
// AG_CONFIG, OAUTH_KV (Miniflare's KV simulator, in memory); its outbound
// fetch (the issuer's JWKS, once per isolate) is answered by the runner.
// Routes: /__wop/client (the registered client's id and secret, for the
// runner to sign ID-JAGs for), /wop/token, /wop-kv/token (passed on as a
// request to the configured token endpoint URL), and the bench
// harness routes (impl=wop | wop-kv).
import { createWopEndpoint } from '../peers/wop-endpoint.mjs';
import { benchHandler } from './harness.js';

let peer;
let currentEnv;
function build(env) {
  peer ??= createWopEndpoint(JSON.parse(env.AG_CONFIG), env);
  return peer;
}

const impl = (name) => async () => {
  const p = (await build(currentEnv))[name];
  return { fetch: (request) => p.handle(request), reset: () => p.resetReplay() };
};

const handler = benchHandler({ wop: impl('wop'), 'wop-kv': impl('wop-kv') }, async (request, env) => {
  const path = new URL(request.url).pathname;
  const p = await build(env);
  // The library serves its token endpoint at the configured URL only (host included).
  const at = (r) => new Request(JSON.parse(env.AG_CONFIG).token_endpoint, r);
  if (path === '/wop/token') return p.wop.handle(at(request));
  if (path === '/wop-kv/token') return p['wop-kv'].handle(at(request));
  if (path === '/__wop/client') return new Response(JSON.stringify(p.client), { headers: { 'Content-Type': 'application/json' } });
  return new Response('not found', { status: 404 });
});

export default {
  fetch(request, env, ctx) {
    currentEnv = env;
    return handler(request, env, ctx);
  },
};

// Bench Worker "peer": the two peer token endpoints (bench/peers/) in the
// same workerd, built once per isolate from the same configuration and
// signing key as ours. Bundled by the runner with esbuild (xml-crypto is
// CommonJS and needs node:crypto, hence nodejs_compat for this Worker only).
// Routes: /jose/token, /xmlcrypto/token, and the bench harness routes.
import { createJoseEndpoint } from '../peers/jose-endpoint.mjs';
import { createXmlCryptoEndpoint } from '../peers/xmlcrypto-endpoint.mjs';
import { benchHandler } from './harness.js';

let peers;
let currentEnv;
function build(env) {
  peers ??= (async () => {
    const config = JSON.parse(env.AG_CONFIG);
    const [jose, xmlcrypto] = await Promise.all([
      createJoseEndpoint(config, env.AG_SIGNING_KEY),
      createXmlCryptoEndpoint(config, env.AG_SIGNING_KEY),
    ]);
    return { jose, xmlcrypto };
  })();
  return peers;
}

const impl = (name) => async () => {
  const p = (await build(currentEnv))[name];
  return { fetch: (request) => p.handle(request), reset: () => p.resetReplay() };
};

const handler = benchHandler({ jose: impl('jose'), xmlcrypto: impl('xmlcrypto') }, async (request, env) => {
  const path = new URL(request.url).pathname;
  const p = await build(env);
  if (path === '/jose/token') return p.jose.handle(request);
  if (path === '/xmlcrypto/token') return p.xmlcrypto.handle(request);
  if (path === '/__info') return new Response(JSON.stringify({ xmlcryptoKey: p.xmlcrypto.keyKind }));
  return new Response('not found', { status: 404 });
});

export default {
  fetch(request, env, ctx) {
    currentEnv = env;
    return handler(request, env, ctx);
  },
};

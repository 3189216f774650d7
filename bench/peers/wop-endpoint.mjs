// Peer for the ID-JAG path: Cloudflare's @cloudflare/workers-oauth-provider
// (its experimental Enterprise-Managed Authorization, i.e. ID-JAG, support) as
// an OAuthAuthorizationServer configured from the same configuration as ours
// (bench/peers/wop-options.mjs). Runs in workerd only: the library imports
// `cloudflare:workers`.
//
// Per request the library: parses the form, authenticates the client
// (client_secret_basic: the client record from KV, SHA-256 of the secret),
// parses the ID-JAG, checks typ / alg / issuer, verifies the ES256 signature
// with WebCrypto against the issuer's cached JWKS (importKey on every
// request), checks aud / client_id / resource / exp / iat / lifetime / scope,
// marks the jti used in KV (get + put), runs mapClaims, and issues an opaque
// access token: a grant record and a token record in KV, its props encrypted
// with a fresh AES-GCM key wrapped under a key derived from the token (HMAC,
// AES-KW). No JWT is signed: its tokens are looked up, not verified.
//
// Two stores, one server:
//   'wop'    env.OAUTH_KV = MemoryKV (in-memory, the binding's interface): the
//            library's own work, as ours is measured with an in-memory replay
//            namespace in place of its Durable Object;
//   'wop-kv' env.OAUTH_KV = Miniflare's KV binding (local simulator, in
//            memory): five KV operations per request, as deployed.
// The client is registered once with OAuthHelpers.createClient() (the
// documented way to pre-register a client); it returns a generated client_id
// and secret, so the runner signs this peer's ID-JAGs for that client_id.
import { OAuthAuthorizationServer } from '@cloudflare/workers-oauth-provider';
import { MemoryKV } from './memory-kv.mjs';
import { wopOptions } from './wop-options.mjs';

const REPLAY_PREFIX = 'enterprise-jti:'; // the library's replay markers (src/ema/jti.ts)
const ISSUED_PREFIXES = ['grant:', 'token:'];

export async function createWopEndpoint(config, env, { clientId = 'basic-client' } = {}) {
  const configured = config.clients.find((c) => c.client_id === clientId);
  if (!configured) throw new Error(`wop peer: no client ${clientId} in the configuration`);
  const server = new OAuthAuthorizationServer(wopOptions(config, { clientScope: configured.scope }));
  const memory = new MemoryKV();
  const memoryEnv = { ...env, OAUTH_KV: memory };
  if (env.OAUTH_KV === undefined) throw new Error('wop peer: no OAUTH_KV binding');

  // Pre-register the client (in the in-memory store; the same record is copied to the KV binding).
  const registered = await server.getOAuthApi(memoryEnv).createClient({
    clientName: 'bench agent app',
    redirectUris: ['https://agent.example.com/callback'],
    tokenEndpointAuthMethod: configured.token_endpoint_auth_method ?? 'client_secret_basic',
  });
  const record = await memory.get(`client:${registered.clientId}`);
  await env.OAUTH_KV.put(`client:${registered.clientId}`, record);

  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
  async function clearKv(kv, prefixes) {
    for (const prefix of prefixes) {
      let cursor;
      do {
        const page = await kv.list({ prefix, cursor });
        await Promise.all(page.keys.map((k) => kv.delete(k.name)));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
    }
  }
  return {
    client: { clientId: registered.clientId, clientSecret: registered.clientSecret, method: registered.tokenEndpointAuthMethod },
    wop: {
      handle: (request) => server.fetch(request, memoryEnv, ctx),
      resetReplay: () => memory.clearExcept(['client:']),
    },
    'wop-kv': {
      handle: (request) => server.fetch(request, env, ctx),
      resetReplay: () => clearKv(env.OAUTH_KV, [REPLAY_PREFIX, ...ISSUED_PREFIXES]),
    },
  };
}

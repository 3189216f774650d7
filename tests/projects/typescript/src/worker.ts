// A Worker in TypeScript on `assertion-grant/worker` (the WebCrypto-only build).
import wasm from 'assertion-grant/worker/assertion_grant_bg.wasm';
import { TokenEndpoint, initSync } from 'assertion-grant/worker';

interface Env {
  AG_CONFIG: string;
  AG_SIGNING_KEY: string;
}

let endpoint: TokenEndpoint | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (endpoint === undefined) {
      initSync(wasm);
      endpoint = new TokenEndpoint(env.AG_CONFIG, { signingKeys: env.AG_SIGNING_KEY });
    }
    return endpoint.handle(request);
  },
};

// A Worker of one's own on `assertion-grant/worker`: the build without the
// pure-Rust signature code (WebCrypto verifies and signs), smaller and quicker
// to start. workerd cannot compile wasm from bytes at run time: the module
// comes in as an import (a compiled WebAssembly.Module) and initSync takes it.
import wasm from 'assertion-grant/worker/assertion_grant_bg.wasm';
import { TokenEndpoint, initSync } from 'assertion-grant/worker';

let endpoint;

export default {
  async fetch(request, env) {
    if (endpoint === undefined) {
      initSync(wasm);
      // The default replay store is in memory, one per isolate: for one-time
      // use across isolates pass a `replayStore` backed by a Durable Object.
      endpoint = new TokenEndpoint(env.AG_CONFIG, { signingKeys: env.AG_SIGNING_KEY });
    }
    return endpoint.handle(request);
  },
};

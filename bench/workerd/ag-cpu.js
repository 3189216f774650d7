// Bench Worker "ag-cpu": our Worker (worker/index.js — its real routing,
// configuration cache and TokenEndpoint) called in-process by the bench
// harness, with one change: env.REPLAY_SHARDS is an in-memory namespace with the
// ReplayShard interface (idFromName → get → claim(key, expiresAt) / has(key)),
// so the CPU number is the Worker's own work and not the Durable Object's.
// It is a real one-time store (a second claim of a key fails); the runner
// gives every request of a batch a different assertion and empties the store
// between rounds. End-to-end latency WITH the Durable Object is measured on
// the unmodified worker/index.js (Worker "ag").
import worker from '../../worker/index.js';
import { benchHandler } from './harness.js';

/** ReplayShard's interface in memory: get(id) → claim(key, expiresAt, partition) / has(key). */
class MemoryReplayNamespace {
  #claimed = new Map();

  idFromName(name) {
    return name;
  }

  get() {
    const claimed = this.#claimed;
    return {
      async claim(key, expiresAt) {
        if (claimed.has(key)) return false;
        claimed.set(key, expiresAt);
        return true;
      },
      async has(key) {
        return claimed.has(key);
      },
    };
  }

  reset() {
    this.#claimed.clear();
  }
}

const replay = new MemoryReplayNamespace();
let benchEnv;
const envFor = (env) => (benchEnv ??= { ...env, REPLAY_SHARDS: replay });

let currentEnv;
const impls = {
  ours: async () => ({ fetch: (request) => worker.fetch(request, envFor(currentEnv)), reset: () => replay.reset() }),
};
const handler = benchHandler(impls, (request, env) => worker.fetch(request, envFor(env)));

export default {
  fetch(request, env, ctx) {
    currentEnv = env;
    return handler(request, env, ctx);
  },
};

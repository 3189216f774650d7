// The wasm core's life: loading it (ready / initSync), the instance
// generation, and recovery from a trap (a trapped instance is replaced; no
// object of a retired instance is used or freed).

// One file over two builds of the module (scripts/build-pkg.sh): the full one
// (pkg/) and the slim one without the pure-Rust signature backend
// (pkg/slim/, `assertion-grant/worker`). Read through the namespace, the
// exports only the full build has are simply undefined in the slim one.
import init, * as wasm from './assertion_grant.js';

export { wasm };

const {
  initSync: coreInitSync,
  Core,
  hashClientSecret: coreHashClientSecret,
  demoConfig: coreDemoConfig,
  importSamlMetadata: coreImportSamlMetadata,
  hostErrorResponse: coreHostErrorResponse,
  __wbg_reset_state: coreResetState,
} = wasm;

export { Core, coreDemoConfig, coreHashClientSecret, coreImportSamlMetadata };

// Every error response a host sends is built by the core. The ones a host
// may need when the instance is unusable (it just trapped) are read once,
// as soon as the core is loaded, and kept as plain data.
const HOST_ERROR_KINDS = [
  'server_error',
  'not_found',
  'document_method_not_allowed',
  'replay_store_unavailable',
  'body_too_large',
  'explain_input',
  'token_method_not_allowed',
  'refresh_conflict',
];
let hostErrors;

function readHostErrors() {
  hostErrors = Object.freeze(
    Object.fromEntries(HOST_ERROR_KINDS.map((kind) => [kind, Object.freeze(coreHostErrorResponse(kind))])),
  );
}

/**
 * The core's response for `kind` (see HOST_ERROR_KINDS) as `{ status,
 * headers, body }`. Before the core has loaded there is none to ask: a bare
 * 500 is the one answer not built by the core.
 */
export function hostError(kind) {
  // Own properties only: 'constructor' or '__proto__' is an unknown kind.
  const http = hostErrors === undefined ? undefined : Object.hasOwn(hostErrors, kind) ? hostErrors[kind] : hostErrors.server_error;
  if (http !== undefined) return http;
  return {
    status: 500,
    headers: [['Cache-Control', 'no-store'], ['Pragma', 'no-cache'], ['Content-Type', 'application/json;charset=UTF-8']],
    body: '{"error":"server_error"}',
  };
}

/** Whether this build carries the pure-Rust signature backend. */
export const hasRustCrypto = () => wasm.hasRustCrypto?.() === true;

/** An export of the full build only; a clear error in the slim one. */
export function fullBuild(name) {
  const fn = wasm[name];
  if (typeof fn !== 'function' || !hasRustCrypto()) {
    throw new Error(`assertion-grant: ${name} needs the full build ('assertion-grant'), not 'assertion-grant/worker'`);
  }
  return fn;
}

const WASM_FILE = 'assertion_grant_bg.wasm';

// ---------------------------------------------------------------------------
// Initialisation

let initialised = false;
let pending;

function isNodeWithFileModule() {
  return (
    typeof process === 'object' &&
    process !== null &&
    typeof process.versions?.node === 'string' &&
    import.meta.url.startsWith('file:')
  );
}

async function readWasmBesideModule() {
  const url = new URL(WASM_FILE, import.meta.url);
  if (typeof process.getBuiltinModule === 'function') {
    const fs = process.getBuiltinModule('node:fs/promises');
    return fs.readFile(url);
  }
  // Node < 20.16 has no getBuiltinModule. A literal `import()` would make
  // workerd's module loader (and bundlers) try to resolve `node:fs`; hide it.
  const dynamicImport = new Function('specifier', 'return import(specifier)');
  const fs = await dynamicImport('node:fs/promises');
  return fs.readFile(url);
}

/**
 * Initialise the wasm core once. Safe to call many times and concurrently.
 * @param {WebAssembly.Module | BufferSource | Response | Promise<Response> | URL | string} [wasmSource]
 */
export async function ready(wasmSource) {
  if (initialised) return;
  if (pending === undefined) {
    pending = (async () => {
      let source = wasmSource;
      if (source === undefined && isNodeWithFileModule()) {
        source = await readWasmBesideModule();
      }
      if (source instanceof WebAssembly.Module || ArrayBuffer.isView(source) || source instanceof ArrayBuffer) {
        coreInitSync({ module: source });
      } else {
        await init(source === undefined ? undefined : { module_or_path: source });
      }
      readHostErrors();
      initialised = true;
    })();
  }
  try {
    await pending;
  } catch (err) {
    pending = undefined;
    throw err;
  }
}

/**
 * Initialise the wasm core synchronously from a compiled module or its bytes
 * (Cloudflare Workers: `import wasm from "./assertion_grant_bg.wasm"`).
 * @param {WebAssembly.Module | BufferSource | { module: WebAssembly.Module | BufferSource }} module
 */
export function initSync(module) {
  if (initialised) return;
  const source =
    module !== null && typeof module === 'object' && Object.getPrototypeOf(module) === Object.prototype
      ? module.module
      : module;
  coreInitSync({ module: source });
  readHostErrors();
  initialised = true;
}

// A wasm trap (`WebAssembly.RuntimeError`: a bug, an out-of-memory) leaves
// the instance in an unknown state — a half-updated allocator, a leaked
// stack, a borrow flag never released. It is never used again: the instance
// is re-instantiated from the same module (`__wbg_reset_state`) and every
// TokenEndpoint rebuilds its core from its configuration before the next
// call. `generation` counts the instances.
export let generation = 0;

/**
 * If `err` is a wasm trap, poison the instance and re-instantiate it.
 * @returns {boolean} whether it was a trap
 */
const recovered = new WeakSet();
export function recoverFromTrap(err) {
  if (!(err instanceof WebAssembly.RuntimeError)) return false;
  // Once per trap: the catch that sees it first, and handle() after it.
  if (recovered.has(err)) return true;
  recovered.add(err);
  try {
    coreResetState();
  } finally {
    // Even if re-instantiating failed, wasm-bindgen has retired the old
    // instance: no object of it may be used (or freed) again.
    generation += 1;
  }
  return true;
}

/** A wasm object outlived its instance (another request trapped meanwhile). */
class InstanceReplaced extends Error {
  constructor() {
    super('assertion-grant: the wasm instance was replaced during this request');
    this.name = 'InstanceReplaced';
  }
}

/**
 * Throws InstanceReplaced if the instance changed since `gen`: objects made
 * before an await must not be used after it (their methods throw) nor freed
 * (`free()` would release their old pointer in the new instance's memory).
 */
export function stillCurrent(gen) {
  if (gen !== generation) throw new InstanceReplaced();
}

/** Frees a wasm object only if its instance is still the current one. */
export function freeIfCurrent(object, gen) {
  if (gen !== generation) return;
  try {
    object.free();
  } catch {
    // The instance trapped while this object was borrowed: freeing it fails,
    // and must not hide the trap (recoverFromTrap retires the instance).
  }
}

/** Runs `fn`; a wasm trap retires the instance before the error propagates. */
export function guarded(fn) {
  try {
    return fn();
  } catch (err) {
    recoverFromTrap(err);
    throw err;
  }
}

export function assertReady(what) {
  if (!initialised) {
    throw new Error(`assertion-grant: call \`await ready()\` (or initSync) before ${what}`);
  }
}

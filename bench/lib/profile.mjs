// Where the time of one token request goes, inside workerd: V8's sampling
// CPU profiler over the workerd inspector protocol (Miniflare's
// `inspectorPort`; wasm frames carry the Rust names from the .wasm name
// section). Each sample counts equally (the sampler's own time deltas are
// irregular in workerd); the shares are then applied to the CPU time measured
// without the profiler.
//
// Needs a WebSocket client: Node ≥ 22 has one; on Node 20 the runner is
// started with --experimental-websocket (scripts/bench.sh does).

/**
 * Stages. A sample that has a signature operation anywhere on its stack
 * belongs to it; otherwise the stack is walked from the leaf up and the first
 * frame that matches one of the other stages decides (allocation, copying and
 * std frames match none, so they count for the stage that called them).
 */
export const SIGNATURE_STAGES = [
  // WebCrypto (the default on JS hosts): crypto.subtle's own frames and ours around them.
  ['signature verify (RSA/ECDSA)', /assertion_grant::crypto::verify\b|^verifyWith$|^verify$/],
  ['ES256 sign (access token)', /SigningKey::sign_es256|^sign$/],
];
export const STAGES = [
  ['XML parse (and freeing the tree)', /assertion_grant::xml::(Document::parse|Parser|split_qname|attribute_value|normalize_eol)|quick_xml::|drop_in_place<[^>]*assertion_grant::xml::/],
  ['exclusive c14n', /assertion_grant::xml::c14n::/],
  ['SHA-256 (reference digest, client secret)', /^sha2::|<D as digest::digest::Digest>|assertion_grant::crypto::digest/],
  ['base64', /base64::/],
  ['JSON (serde_json)', /serde_json::/],
  ['client auth', /assertion_grant::client_auth::/],
  ['JWS / JWT rules', /assertion_grant::(jose|grant::jwt)::/],
  ['SAML rules + XML-DSig structure', /assertion_grant::(grant::saml2|xmldsig)::/],
  ['grant rules (times, audience, claims)', /assertion_grant::grant::/],
  ['request / form parse', /assertion_grant::request::/],
  ['token claims + minting', /assertion_grant::(endpoint::TokenEndpoint::(token_claims|issue)|token::)/],
  ['wasm-bindgen glue (args in, response out)', /serde_wasm_bindgen|wasm_bindgen|__wbindgen|__wbg_|passStringToWasm|passArray8ToWasm|getStringFromWasm|getDataViewMemory|getUint8ArrayMemory|takeObject|addHeapObject|externref shim|^js-to-wasm|^wasm-to-js|assertion_grant::wasm::/],
  ['other core (endpoint, policy)', /^assertion_grant::/],
];

/** What the leaf (self-time) frame is, for the allocation / copying / arithmetic view. */
export const LEAF_KINDS = [
  ['bigint / field arithmetic', /crypto_bigint|p256::arithmetic|primeorder|elliptic_curve|__multi3|rsa::/],
  ['SHA-2 compression', /sha2::/],
  ['allocator', /dlmalloc|__rust_(alloc|dealloc|realloc)|__rdl_|finish_grow|RawVec/],
  ['memcpy / memmove / memset', /^mem(cpy|move|set)|compiler_builtins::mem/],
  ['BTreeMap (serde_json maps)', /btree/],
  ['serde_json', /serde_json/],
  ['XML (quick-xml, parser, c14n)', /quick_xml|assertion_grant::xml/],
  ['other wasm', /::|^__|^\$?func\d+/],
];

const JS_LAYER = /(worker\/index|pkg\/index|index)\.js$|assertion_grant\.js$/;
const HARNESS = /harness\.js$|ag-cpu\.js$|peer-entry\.js$|peer-worker\.mjs$/;

export function analyse(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stages = new Map();
  const leaves = new Map();
  const selfFns = new Map();
  let counted = 0;
  const add = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const leafId of profile.samples) {
    const leaf = byId.get(leafId).callFrame;
    if (leaf.functionName === '(idle)') continue;
    const frames = [];
    for (let id = leafId; id !== undefined; id = parent.get(id)) frames.push(byId.get(id).callFrame);
    counted++;
    let stage = SIGNATURE_STAGES.find(([, re]) => frames.some((f) => re.test(f.functionName)))?.[0];
    for (let i = 0; stage === undefined && i < frames.length; i++) {
      stage = STAGES.find(([, re]) => re.test(frames[i].functionName))?.[0];
    }
    if (stage === undefined) {
      if (leaf.functionName === '(garbage collector)') stage = 'V8 garbage collector';
      else if (leaf.functionName === '(program)') stage = 'runtime (native, outside JS)';
      else if (frames.some((f) => JS_LAYER.test(f.url) && !HARNESS.test(f.url))) stage = 'JS layer (worker/index.js, pkg/index.js)';
      else if (frames.some((f) => HARNESS.test(f.url))) stage = 'bench loop (new Request, read body)';
      else stage = 'other';
    }
    add(stages, stage);
    const fn = leaf.functionName.replace(/::h[0-9a-f]{16}$/, '') || `(anonymous ${leaf.url.split('/').pop()})`;
    add(selfFns, fn);
    let kind = leaf.url.includes('.wasm') || /::/.test(fn) ? undefined : 'JS / runtime';
    if (kind === undefined) kind = LEAF_KINDS.find(([, re]) => re.test(fn))?.[0] ?? 'other wasm';
    add(leaves, kind);
  }
  const share = (m) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ name, samples: n, share: n / counted }));
  return { samples: counted, stages: share(stages), leaves: share(leaves), topSelf: share(selfFns).slice(0, 25) };
}

/** A minimal Chrome DevTools Protocol session over the workerd inspector. */
export async function inspectorSession(port, targetId) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = list.find((t) => t.id === targetId);
  if (!target) throw new Error(`bench: no inspector target ${targetId} (have ${list.map((t) => t.id).join(', ')})`);
  if (typeof WebSocket !== 'function') throw new Error('bench: no WebSocket in this Node (run with --experimental-websocket)');
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  const pending = new Map();
  let next = 0;
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id !== undefined && pending.has(m.id)) {
      const { resolve, reject } = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) reject(new Error(`${m.error.message}`));
      else resolve(m.result);
    }
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return {
    send(method, params = {}) {
      return new Promise((resolve, reject) => {
        const id = ++next;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close() {
      ws.close();
    },
  };
}

// Size of what gets deployed: the .wasm (raw, gzip -9, brotli), its custom
// sections (the `name` section is debug-only and could be stripped), and the
// Worker upload (worker/index.js + pkg JS + .wasm) compressed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const br = (buf) => brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

function sections(buf) {
  const out = [];
  const names = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];
  let o = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    let x;
    do {
      x = buf[o++];
      r += (x & 127) * 2 ** s;
      s += 7;
    } while (x & 128);
    return r;
  };
  while (o < buf.length) {
    const id = buf[o++];
    const len = leb();
    const start = o;
    let name = names[id] ?? String(id);
    if (id === 0) {
      const n = leb();
      name = `custom:${buf.subarray(o, o + n).toString()}`;
    }
    out.push({ name, bytes: len });
    o = start + len;
  }
  return out;
}

/**
 * @param {string} root the tree holding pkg/ and worker/
 * @param {string} [namedWasm] the same module with its `name` section (pkg/
 *   ships without it): used only to attribute code to crates
 */
export function sizes(root, namedWasm) {
  const wasm = readFileSync(join(root, 'pkg/assertion_grant_bg.wasm'));
  const js = ['worker/index.js', 'pkg/index.js', 'pkg/assertion_grant.js'].map((f) => readFileSync(join(root, f)));
  const secs = sections(wasm);
  const nameSection = secs.find((s) => s.name === 'custom:name')?.bytes ?? 0;
  const named = nameSection > 0 ? wasm : namedWasm !== undefined && existsSync(namedWasm) ? readFileSync(namedWasm) : null;
  const namesStripped = nameSection === 0 && named !== null ? sections(named).find((s) => s.name === 'custom:name')?.bytes ?? 0 : 0;
  return {
    codeByCrate: named === null ? null : codeByCrate(named),
    namesStripped,
    wasmRaw: wasm.length,
    wasmGzip: gz(wasm),
    wasmBrotli: br(wasm),
    sections: secs,
    nameSection,
    workerUploadRaw: wasm.length + js.reduce((a, b) => a + b.length, 0),
    workerUploadGzip: gz(wasm) + js.reduce((a, b) => a + gz(b), 0),
  };
}

/**
 * Code bytes per crate, from the code section's function bodies and the
 * `name` section (Rust's demangled paths): where the .wasm's size comes from.
 */
export function codeByCrate(buf) {
  let o = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    let x;
    do {
      x = buf[o++];
      r += (x & 127) * 2 ** s;
      s += 7;
    } while (x & 128);
    return r;
  };
  const str = () => {
    const n = leb();
    const v = buf.subarray(o, o + n).toString();
    o += n;
    return v;
  };
  let importedFns = 0;
  const bodies = [];
  const names = new Map();
  while (o < buf.length) {
    const id = buf[o++];
    const len = leb();
    const end = o + len;
    if (id === 2) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        str();
        str();
        const kind = buf[o++];
        if (kind === 0) {
          leb();
          importedFns++;
        } else if (kind === 1) {
          o++;
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 2) {
          const f = leb();
          leb();
          if (f & 1) leb();
        } else if (kind === 3) {
          o += 2;
        } else throw new Error(`import kind ${kind}`);
      }
    } else if (id === 10) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const size = leb();
        bodies.push(size);
        o += size;
      }
    } else if (id === 0) {
      const name = str();
      if (name === 'name') {
        while (o < end) {
          const sub = buf[o++];
          const sublen = leb();
          const subEnd = o + sublen;
          if (sub === 1) {
            const n = leb();
            for (let i = 0; i < n; i++) {
              const idx = leb();
              names.set(idx, str());
            }
          }
          o = subEnd;
        }
      }
    }
    o = end;
  }
  const crateOf = (name) => {
    if (!name) return '(unnamed)';
    const m = /^[<&\s]*(?:dyn\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(name);
    return m ? m[1] : name.startsWith('__') || /^mem|^str|^wasm/.test(name) ? '(runtime / compiler-builtins)' : '(other)';
  };
  const byCrate = new Map();
  bodies.forEach((size, i) => {
    const c = crateOf(names.get(importedFns + i));
    byCrate.set(c, (byCrate.get(c) ?? 0) + size);
  });
  const total = bodies.reduce((a, b) => a + b, 0);
  return { total, functions: bodies.length, crates: [...byCrate].sort((a, b) => b[1] - a[1]).map(([crate, bytes]) => ({ crate, bytes })) };
}

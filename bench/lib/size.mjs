// Size of what gets deployed: the .wasm (raw, gzip -9, brotli), its custom
// sections (the `name` section is debug-only and could be stripped), and the
// Worker upload (worker/index.js + pkg JS + .wasm) compressed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { leb128 } from '../../scripts/wasm-strip-names.mjs';

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const br = (buf) => brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/** A cursor over a wasm binary: unsigned LEB128 integers and length-prefixed names. */
function cursor(buf, at = 8) {
  const c = {
    at,
    leb() {
      const { value, next } = leb128(buf, c.at);
      c.at = next;
      return value;
    },
    str() {
      const n = c.leb();
      const v = buf.subarray(c.at, c.at + n).toString();
      c.at += n;
      return v;
    },
  };
  return c;
}

function sections(buf) {
  const out = [];
  const names = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];
  const c = cursor(buf);
  while (c.at < buf.length) {
    const id = buf[c.at++];
    const len = c.leb();
    const end = c.at + len;
    const name = id === 0 ? `custom:${c.str()}` : names[id] ?? String(id);
    out.push({ name, bytes: len });
    c.at = end;
  }
  return out;
}

/**
 * @param {string} root the tree holding pkg/ and worker/
 * @param {string} [namedWasm] the same module with its `name` section (pkg/
 *   ships without it): used only to attribute code to crates
 */
export function sizes(root, namedWasm) {
  // What the Worker ships: the slim build (scripts/build-pkg.sh).
  const wasm = readFileSync(join(root, 'pkg/slim/assertion_grant_bg.wasm'));
  const js = ['worker/index.js', 'pkg/slim/index.js', 'pkg/slim/assertion_grant.js'].map((f) => readFileSync(join(root, f)));
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
  const c = cursor(buf);
  let importedFns = 0;
  const bodies = [];
  const names = new Map();
  while (c.at < buf.length) {
    const id = buf[c.at++];
    const len = c.leb();
    const end = c.at + len;
    if (id === 2) {
      const n = c.leb();
      for (let i = 0; i < n; i++) {
        c.str();
        c.str();
        const kind = buf[c.at++];
        if (kind === 0) {
          c.leb();
          importedFns++;
        } else if (kind === 1) {
          c.at++;
          const f = c.leb();
          c.leb();
          if (f & 1) c.leb();
        } else if (kind === 2) {
          const f = c.leb();
          c.leb();
          if (f & 1) c.leb();
        } else if (kind === 3) {
          c.at += 2;
        } else throw new Error(`import kind ${kind}`);
      }
    } else if (id === 10) {
      const n = c.leb();
      for (let i = 0; i < n; i++) {
        const size = c.leb();
        bodies.push(size);
        c.at += size;
      }
    } else if (id === 0 && c.str() === 'name') {
      while (c.at < end) {
        const sub = buf[c.at++];
        const subEnd = c.leb() + c.at;
        if (sub === 1) {
          const n = c.leb();
          for (let i = 0; i < n; i++) {
            const idx = c.leb();
            names.set(idx, c.str());
          }
        }
        c.at = subEnd;
      }
    }
    c.at = end;
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

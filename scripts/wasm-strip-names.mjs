// Removes the `name` custom section (function names for stack traces and
// profiles: ≈ 9 % of the file, ≈ 28 kB gzipped) from a .wasm module. The code
// is unchanged byte for byte; only that debug section goes.
//
//   node scripts/wasm-strip-names.mjs IN.wasm OUT.wasm
//
// scripts/build-pkg.sh ships the stripped module in pkg/ and keeps the named
// one at target/wasm-names/ for the benchmark's profiler (bench/run.mjs).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** The unsigned LEB128 integer at `offset`, and the offset after it. */
export function leb128(buf, offset) {
  let value = 0;
  let shift = 0;
  for (let o = offset; o < buf.length && shift < 35; o++) {
    value += (buf[o] & 0x7f) * 2 ** shift;
    shift += 7;
    if ((buf[o] & 0x80) === 0) return { value, next: o + 1 };
  }
  throw new Error('wasm-strip-names: malformed LEB128 length');
}

/**
 * @param {Uint8Array} wasm a WebAssembly binary module
 * @returns {Uint8Array} the same module without its `name` custom section(s)
 */
export function stripNames(wasm) {
  if (wasm.length < 8 || MAGIC.some((b, i) => wasm[i] !== b)) {
    throw new Error('wasm-strip-names: not a WebAssembly 1.0 binary');
  }
  const kept = [wasm.subarray(0, 8)];
  let o = 8;
  while (o < wasm.length) {
    const start = o;
    const id = wasm[o];
    const { value: size, next } = leb128(wasm, o + 1);
    const end = next + size;
    if (end > wasm.length) throw new Error('wasm-strip-names: section runs past the end');
    let drop = false;
    if (id === 0) {
      const { value: len, next: nameAt } = leb128(wasm, next);
      drop = Buffer.from(wasm.subarray(nameAt, nameAt + len)).toString('utf8') === 'name';
    }
    if (!drop) kept.push(wasm.subarray(start, end));
    o = end;
  }
  return Buffer.concat(kept);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node scripts/wasm-strip-names.mjs IN.wasm OUT.wasm');
    process.exit(2);
  }
  const before = readFileSync(input);
  const after = stripNames(before);
  writeFileSync(output, after);
  console.log(`wasm-strip-names: ${before.length} → ${after.length} bytes`);
}

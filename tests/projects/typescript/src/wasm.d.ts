// What a Worker's types say of `.wasm` imports (as @cloudflare/workers-types
// does): wrangler hands them over as compiled modules.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

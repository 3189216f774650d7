// The text of ag.config.json bundled into the Worker, or undefined.
//
// This file is the stand-in: it bundles nothing, and is what the Worker
// imports when it is loaded without wrangler's build (the Miniflare tests).
// `wrangler dev` and `wrangler deploy` first run scripts/bundle-config.mjs
// (wrangler.toml [build]), which writes worker/bundled-config.generated.js
// (git-ignored) from ag.config.json, and wrangler.toml's [alias] makes the
// import of './bundled-config.js' resolve to that file instead.
export default undefined;

#!/usr/bin/env node
// npm run demo: mint an ES256 JWT assertion as the demo IdP and exchange it at
// the running Worker (npm start) for an access token.
//
//   node scripts/demo.mjs [--url http://127.0.0.1:8787/token] [--print-assertion]
//
// --print-assertion prints the form body and a curl command instead of posting.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8787/token' },
    'print-assertion': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log('usage: npm run demo -- [--url http://127.0.0.1:8787/token] [--print-assertion]');
  process.exit(0);
}

const ISSUER = 'https://demo-idp.example';
const CLIENT_ID = 'demo-client';
const CLIENT_SECRET = 'demo-secret';
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const b64urlJson = (value) => b64url(new TextEncoder().encode(JSON.stringify(value)));

async function mintAssertion(audience) {
  const jwk = JSON.parse(await readFile(new URL('../demo/demo-idp.private.jwk.json', import.meta.url), 'utf8'));
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ: 'JWT', kid: jwk.kid };
  const claims = {
    iss: ISSUER,
    sub: 'demo-user@example.com',
    aud: audience,
    iat: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
    email: 'demo-user@example.com',
    groups: ['demo-users', 'readers'],
  };
  const signingInput = `${b64urlJson(header)}.${b64urlJson(claims)}`;
  // WebCrypto ECDSA signatures are already JWS-shaped: 64-byte r || s.
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(new Uint8Array(signature))}`;
}

function decodeJwt(token) {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
  };
}

const assertion = await mintAssertion(args.url);
const form = new URLSearchParams({ grant_type: GRANT_TYPE, assertion, scope: 'read' });
const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');

if (args['print-assertion']) {
  console.log('# assertion claims:');
  console.log(JSON.stringify(decodeJwt(assertion).claims, null, 2));
  console.log('\n# form body (application/x-www-form-urlencoded):');
  console.log(form.toString());
  console.log('\n# curl:');
  console.log(`curl -s -u ${CLIENT_ID}:${CLIENT_SECRET} ${args.url} \\\n  -d grant_type=${encodeURIComponent(GRANT_TYPE)} \\\n  -d scope=read \\\n  -d assertion=${assertion}`);
  process.exit(0);
}

let response;
try {
  response = await fetch(args.url, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form,
  });
} catch (err) {
  console.error(`demo: cannot reach ${args.url} (${err.cause?.code ?? err.message}). Is \`npm start\` running?`);
  process.exit(1);
}

const text = await response.text();
console.log(`HTTP ${response.status} ${response.statusText}`);
for (const name of ['cache-control', 'pragma', 'content-type', 'www-authenticate']) {
  const value = response.headers.get(name);
  if (value !== null) console.log(`${name}: ${value}`);
}
let body;
try {
  body = JSON.parse(text);
  console.log(JSON.stringify(body, null, 2));
} catch {
  console.log(text);
}
if (response.status === 200 && typeof body?.access_token === 'string') {
  const { header, claims } = decodeJwt(body.access_token);
  console.log('\n# access token header:');
  console.log(JSON.stringify(header, null, 2));
  console.log('# access token claims:');
  console.log(JSON.stringify(claims, null, 2));
} else {
  process.exitCode = 1;
}

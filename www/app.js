// The assertion debugger: runs the assertion-grant wasm core in the page and
// renders TokenEndpoint.explain() as a checklist. No framework, no network
// beyond this origin; every untrusted string goes into the DOM as text.
import * as ag from '../pkg/index.js';

const $ = (id) => document.getElementById(id);

/** Claims the server sets itself; they cannot be mapped from assertion attributes. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'cnf', 'auth_time', 'acr', 'amr', 'act', 'may_act', 'azp']);
const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time']);
const MARK = { pass: '✓', fail: '✗', skipped: '–' };
const OUTCOME_TEXT = { pass: 'passed', fail: 'failed', skipped: 'skipped' };
const LIVE_DELAY_MS = 300;

const state = {
  ready: false,
  /** 'live': the clock follows the current time; 'fixed': state.clock. */
  clockMode: 'live',
  clock: 0,
  /** The test IdP's private JWK (object), made in this page. */
  idpKey: null,
  endpointCache: { text: null, endpoint: null },
  evalSeq: 0,
  timer: 0,
  lastNow: 0,
};

// ---------------------------------------------------------------------------
// Small helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function bytesToB64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
const b64url = (bytes) => bytesToB64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Standard or url-safe base64 (padding optional) → bytes, or null. */
function b64ToBytes(text) {
  let s = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (s.length % 4 === 1 || !/^[A-Za-z0-9+/]*$/.test(s)) return null;
  s += '='.repeat((4 - (s.length % 4)) % 4);
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function decodeUtf8(bytes) {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 for Basic). */
const formEncode = (value) => new URLSearchParams({ v: value }).toString().slice(2);

const pad = (n) => String(n).padStart(2, '0');

/** Seconds → "YYYY-MM-DDTHH:MM:SS" in local time (datetime-local value). */
function toLocalInput(secs) {
  const d = new Date(secs * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Seconds → "2027-01-15 08:00:00 UTC". */
function utcText(secs) {
  if (!Number.isFinite(secs)) return String(secs);
  const iso = new Date(secs * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** A duration in words: "5 min", "2 h 3 min", "3 days". */
function durationText(secs) {
  const s = Math.abs(Math.round(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400 * 2) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ''}`;
  }
  return `${Math.floor(s / 86400)} days`;
}
const relativeText = (secs, now) => (secs === now ? 'now' : secs > now ? `in ${durationText(secs - now)}` : `${durationText(now - secs)} ago`);

// ---------------------------------------------------------------------------
// Clock

function currentNow() {
  return state.clockMode === 'live' ? Math.floor(Date.now() / 1000) : state.clock;
}

function renderClock({ force = false } = {}) {
  const now = currentNow();
  const input = $('clock');
  if (force || document.activeElement !== input) input.value = toLocalInput(now);
  const mode = state.clockMode === 'live' ? 'follows the current time' : 'fixed';
  $('clock-info').textContent = `${utcText(now)} · ${now} · ${mode}`;
  $('clock-now').disabled = state.clockMode === 'live';
}

function setClock(secs) {
  state.clockMode = 'fixed';
  state.clock = Math.floor(secs);
  renderClock({ force: true });
  scheduleLive();
}

// ---------------------------------------------------------------------------
// Configuration

function configText() {
  return $('config').value;
}

/** The configuration as an object, or { error } for JSON syntax errors. */
function parseConfig() {
  const text = configText();
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { error: 'the configuration must be a JSON object' };
    }
    return { value };
  } catch (err) {
    return { error: jsonErrorText(err, text) };
  }
}

function jsonErrorText(err, text) {
  const m = /position (\d+)/.exec(err.message);
  if (m) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    return `not valid JSON at line ${line}, column ${col}: ${err.message.replace(/ in JSON at position \d+.*$/, '')}`;
  }
  return `not valid JSON: ${err.message}`;
}

function setConfig(obj, { badge } = {}) {
  $('config').value = JSON.stringify(obj, null, 2);
  if (badge) setConfigBadge(badge);
  onConfigEdited({ immediate: true, keepBadge: true });
}

function setConfigBadge(text) {
  const badge = $('config-badge');
  badge.textContent = text;
  badge.className = text === 'demo' ? 'badge' : 'badge info';
}

const tokenEndpointOf = (config) => config?.token_endpoint ?? (typeof config?.issuer === 'string' ? `${config.issuer.replace(/\/$/, '')}/token` : undefined);

/** Add or replace (same issuer) a trusted_issuers entry; returns 'added' | 'replaced'. */
function upsertTrustedIssuer(config, entry) {
  if (!Array.isArray(config.trusted_issuers)) config.trusted_issuers = [];
  const index = config.trusted_issuers.findIndex((t) => t && t.issuer === entry.issuer);
  if (index >= 0) {
    config.trusted_issuers[index] = entry;
    return { how: 'replaced', index };
  }
  config.trusted_issuers.push(entry);
  return { how: 'added', index: config.trusted_issuers.length - 1 };
}

function renderConfigSummary(config, problem) {
  const box = $('config-summary');
  box.replaceChildren();
  if (!config) {
    box.append(el('p', { class: 'hint', text: 'The summary appears when the configuration is valid JSON.' }));
    return;
  }
  const dl = el('dl', {},
    el('dt', { text: 'issuer' }), el('dd', {}, el('code', { text: String(config.issuer ?? '—') })),
    el('dt', { text: 'token endpoint' }), el('dd', {}, el('code', { text: String(tokenEndpointOf(config) ?? '—') })),
  );
  box.append(dl);

  const issuers = Array.isArray(config.trusted_issuers) ? config.trusted_issuers : [];
  box.append(el('h3', { id: 'trusted-heading', text: `Trusted issuers (${issuers.length})` }));
  const list = el('ul', { class: 'issuer-list', 'aria-labelledby': 'trusted-heading' });
  issuers.forEach((entry, index) => {
    const format = entry?.format === 'saml2' ? 'saml2' : 'jwt';
    const keys = entry?.jwks?.keys?.length ?? 0;
    const certs = entry?.x509_certificates?.length ?? 0;
    const parts = [];
    if (keys) parts.push(`${keys} key${keys === 1 ? '' : 's'}`);
    if (certs) parts.push(`${certs} cert${certs === 1 ? '' : 's'}`);
    if (entry?.saml_metadata) parts.push('metadata');
    if (entry?.claims && Object.keys(entry.claims).length) parts.push(`${Object.keys(entry.claims).length} claims mapped`);
    const name = entry?.issuer ?? '(entityID from saml_metadata)';
    list.append(el('li', {},
      el('span', { class: `fmt ${format}`, text: format === 'saml2' ? 'SAML' : 'JWT' }),
      el('span', { class: 'name', text: name }),
      el('span', { class: 'meta', text: parts.join(' · ') }),
      el('button', {
        type: 'button', class: 'btn ghost', text: 'Remove', 'aria-label': `Remove trusted issuer ${name}`,
        onclick: () => {
          const parsed = parseConfig();
          if (!parsed.value) return;
          parsed.value.trusted_issuers.splice(index, 1);
          setConfig(parsed.value, { badge: 'edited' });
        },
      }),
    ));
  });
  if (!issuers.length) list.append(el('li', {}, el('span', { class: 'meta', text: 'none: every assertion will be refused' })));
  box.append(list);

  const clients = Array.isArray(config.clients) ? config.clients : [];
  box.append(el('h3', { id: 'clients-heading', text: `Clients (${clients.length})` }));
  const clist = el('ul', { class: 'client-list', 'aria-labelledby': 'clients-heading' });
  for (const client of clients) {
    clist.append(el('li', {},
      el('span', { class: 'name', text: String(client?.client_id ?? '?') }),
      el('span', { class: 'meta', text: [client?.token_endpoint_auth_method, client?.scope && `scope "${client.scope}"`].filter(Boolean).join(' · ') }),
    ));
  }
  box.append(clist);
  if (problem) box.append(el('p', { class: 'field-error', text: problem }));
}

/** A cached TokenEndpoint for the configuration text, or throws ConfigError. */
function endpointFor(config, text) {
  if (state.endpointCache.text !== text) {
    state.endpointCache = { text: null, endpoint: null };
    const endpoint = new ag.TokenEndpoint(config, { now: () => state.lastNow });
    state.endpointCache = { text, endpoint };
  }
  return state.endpointCache.endpoint;
}

// ---------------------------------------------------------------------------
// The assertion: shape, encoding, decoding

/**
 * What the pasted text is: { kind: 'empty'|'saml'|'jwt'|'unknown', label,
 * param (what is sent as `assertion`), notes[], xml?, jwtParts? }.
 */
function analyseAssertion(raw) {
  const text = raw.trim();
  if (!text) return { kind: 'empty', label: 'empty', notes: [] };
  if (text.startsWith('<')) {
    return {
      kind: 'saml', label: 'SAML · raw XML', xml: text, param: b64url(utf8.encode(text)),
      notes: ['Raw XML: base64url-encoded before it is sent.'],
    };
  }
  if (/^[A-Za-z0-9_\-=]*(\.[A-Za-z0-9_\-=]*){2,4}$/.test(text)) {
    const parts = text.split('.');
    const label = parts.length === 5 ? 'JWE (encrypted JWT)' : parts.length === 3 ? 'JWT' : `JWT? (${parts.length} parts)`;
    return { kind: 'jwt', label, param: text, jwtParts: parts, notes: [] };
  }
  const compact = text.replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/_\-]+={0,2}$/.test(compact)) {
    const bytes = b64ToBytes(compact);
    const xml = bytes && decodeUtf8(bytes);
    if (xml !== null && xml !== undefined && /^\uFEFF?\s*</.test(xml)) {
      const urlSafe = /[-_]/.test(compact);
      const std = /[+/]/.test(compact) || compact.endsWith('=');
      const encoding = urlSafe && std ? 'mixed base64' : urlSafe ? 'base64url' : 'base64';
      const notes = [];
      if (compact !== text) notes.push('Line breaks and spaces were removed before sending (the endpoint refuses whitespace inside base64).');
      return { kind: 'saml', label: `SAML · ${encoding}`, xml, param: compact, notes };
    }
  }
  return { kind: 'unknown', label: 'not recognised', param: text, notes: ['Neither a JWT nor SAML XML (raw or base64): sent as a JWT bearer assertion.'] };
}

function grantTypeFor(info) {
  const choice = $('grant-type').value;
  if (choice === 'jwt') return ag.JWT_BEARER;
  if (choice === 'saml2') return ag.SAML2_BEARER;
  return info.kind === 'saml' ? ag.SAML2_BEARER : ag.JWT_BEARER;
}

/** The form body and headers sent to explain(). */
function buildRequest(info) {
  const form = new URLSearchParams();
  form.set('grant_type', grantTypeFor(info));
  form.set('assertion', info.param ?? '');
  const scope = $('scope').value.trim();
  if (scope) form.set('scope', scope);
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const method = $('client-auth').value;
  const clientId = $('client-id').value;
  const secret = $('client-secret').value;
  if (method === 'basic') {
    headers.authorization = `Basic ${bytesToB64(utf8.encode(`${formEncode(clientId)}:${formEncode(secret)}`))}`;
  } else if (method === 'post') {
    form.set('client_id', clientId);
    form.set('client_secret', secret);
  } else if (clientId) {
    form.set('client_id', clientId);
  }
  return { body: form.toString(), headers };
}

// --- highlighted renderers (tokens → spans, all as text) -------------------

class Out {
  constructor() {
    this.frag = document.createDocumentFragment();
  }
  put(text, cls) {
    if (!text) return;
    this.frag.append(cls ? el('span', { class: cls, text }) : document.createTextNode(text));
  }
}

function xmlEscapeText(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function xmlEscapeAttr(s) {
  return xmlEscapeText(s).replace(/"/g, '&quot;');
}

/** Pretty-printed, highlighted XML (a DocumentFragment), or null when it does not parse. */
function prettyXml(xmlText) {
  const doc = new DOMParser().parseFromString(xmlText.replace(/^\uFEFF/, ''), 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) return null;
  const out = new Out();
  const decl = /^\s*<\?xml[^>]*\?>/.exec(xmlText.replace(/^\uFEFF/, ''));
  if (decl) out.put(`${decl[0].trim()}\n`, 't-punct');
  const walk = (node, depth) => {
    const indent = '  '.repeat(depth);
    switch (node.nodeType) {
      case Node.ELEMENT_NODE: {
        out.put(indent);
        out.put('<', 't-punct');
        out.put(node.nodeName, 't-tag');
        for (const attr of node.attributes) {
          out.put(' ');
          out.put(attr.name, 't-attr');
          out.put('="', 't-punct');
          out.put(xmlEscapeAttr(attr.value), 't-val');
          out.put('"', 't-punct');
        }
        const kids = [...node.childNodes].filter((c) => !(c.nodeType === Node.TEXT_NODE && !c.data.trim()));
        if (!kids.length) {
          out.put('/>\n', 't-punct');
          return;
        }
        out.put('>', 't-punct');
        const inline = kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE && kids[0].data.length <= 100 && !kids[0].data.includes('\n');
        if (inline) {
          out.put(xmlEscapeText(kids[0].data), 't-text');
        } else {
          out.put('\n');
          for (const kid of kids) walk(kid, depth + 1);
          out.put(indent);
        }
        out.put('</', 't-punct');
        out.put(node.nodeName, 't-tag');
        out.put('>\n', 't-punct');
        return;
      }
      case Node.TEXT_NODE:
        out.put(indent);
        out.put(xmlEscapeText(node.data.trim()), 't-text');
        out.put('\n');
        return;
      case Node.CDATA_SECTION_NODE:
        out.put(`${indent}<![CDATA[${node.data}]]>\n`, 't-comment');
        return;
      case Node.COMMENT_NODE:
        out.put(`${indent}<!--${node.data}-->\n`, 't-comment');
        return;
      case Node.PROCESSING_INSTRUCTION_NODE:
        out.put(`${indent}<?${node.target} ${node.data}?>\n`, 't-comment');
        return;
      default:
    }
  };
  for (const node of doc.childNodes) {
    if (node.nodeType === Node.DOCUMENT_TYPE_NODE) continue;
    walk(node, 0);
  }
  return out.frag;
}

/** Highlighted, indented JSON with readable times after NumericDate claims. */
function prettyJson(value, now, { annotateTimes = false } = {}) {
  const out = new Out();
  const write = (v, depth, key) => {
    const indent = '  '.repeat(depth);
    if (Array.isArray(v)) {
      if (!v.length) return out.put('[]', 't-punct');
      out.put('[\n', 't-punct');
      v.forEach((item, i) => {
        out.put(`${indent}  `);
        write(item, depth + 1);
        out.put(i < v.length - 1 ? ',\n' : '\n', 't-punct');
      });
      out.put(`${indent}]`, 't-punct');
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      if (!entries.length) return out.put('{}', 't-punct');
      out.put('{\n', 't-punct');
      entries.forEach(([k, item], i) => {
        out.put(`${indent}  `);
        out.put(JSON.stringify(k), 't-key');
        out.put(': ', 't-punct');
        write(item, depth + 1, k);
        out.put(i < entries.length - 1 ? ',' : '', 't-punct');
        if (annotateTimes && depth === 0 && TIME_CLAIMS.has(k) && typeof item === 'number') {
          out.put(`  // ${utcText(item)} (${relativeText(item, now)})`, 't-comment');
        }
        out.put('\n');
      });
      out.put(`${indent}}`, 't-punct');
    } else if (typeof v === 'string') {
      out.put(JSON.stringify(v), 't-str');
    } else if (typeof v === 'number') {
      out.put(String(v), 't-num');
    } else {
      out.put(String(v), 't-lit');
    }
    return undefined;
  };
  write(value, 0);
  return out.frag;
}

function codeBlock(content, label) {
  const pre = el('pre', { class: 'code-block', tabindex: '0', 'aria-label': label });
  pre.append(content);
  return pre;
}

function decodeJwtPart(part) {
  const bytes = b64ToBytes(part ?? '');
  if (!bytes) return { error: 'not base64url' };
  const text = decodeUtf8(bytes);
  if (text === null) return { error: 'not UTF-8', bytes };
  try {
    return { json: JSON.parse(text), text, bytes };
  } catch {
    return { error: 'not JSON', text, bytes };
  }
}

function renderDecoded(info, now) {
  const box = $('decoded');
  box.replaceChildren();
  if (info.kind === 'empty') {
    box.append(el('p', { class: 'empty', text: 'Paste or mint an assertion to see it decoded.' }));
    return;
  }
  for (const note of info.notes) box.append(el('p', { class: 'note', text: note }));
  if (info.kind === 'jwt') {
    const [h, p, s] = info.jwtParts;
    if (info.jwtParts.length === 5) {
      box.append(el('p', { class: 'note warn', text: 'Five parts: an encrypted JWT (JWE). Only the protected header can be read.' }));
    }
    const header = decodeJwtPart(h);
    box.append(el('div', { class: 'code-title' }, el('h3', { text: 'Header' }), el('span', { class: 'meta', text: 'JOSE' })));
    box.append(header.json !== undefined ? codeBlock(prettyJson(header.json, now), 'JWT header') : el('p', { class: 'note warn', text: `Header: ${header.error}` }));
    if (info.jwtParts.length === 3) {
      const payload = decodeJwtPart(p);
      box.append(el('div', { class: 'code-title' }, el('h3', { text: 'Claims' }), el('span', { class: 'meta', text: `times relative to the clock, ${utcText(now)}` })));
      box.append(payload.json !== undefined ? codeBlock(prettyJson(payload.json, now, { annotateTimes: true }), 'JWT claims') : el('p', { class: 'note warn', text: `Payload: ${payload.error}` }));
      const sig = b64ToBytes(s ?? '');
      box.append(el('div', { class: 'code-title' }, el('h3', { text: 'Signature' }), el('span', { class: 'meta', text: sig ? `${sig.length} bytes` : 'not base64url' })));
      box.append(codeBlock(document.createTextNode(s || '(empty)'), 'JWT signature'));
    }
    return;
  }
  if (info.kind === 'saml') {
    const size = utf8.encode(info.xml).length;
    box.append(el('div', { class: 'code-title' }, el('h3', { text: 'SAML assertion' }), el('span', { class: 'meta', text: `${info.label.replace('SAML · ', '')} · ${size.toLocaleString('en')} bytes of XML · pretty-printed for reading` })));
    if (/<!DOCTYPE/i.test(info.xml)) {
      box.append(el('p', { class: 'note warn', text: 'The XML has a DOCTYPE (the endpoint refuses DTDs); shown as it is, not parsed.' }));
      box.append(codeBlock(document.createTextNode(info.xml), 'SAML XML'));
      return;
    }
    const pretty = prettyXml(info.xml);
    if (!pretty) {
      box.append(el('p', { class: 'note warn', text: 'The XML is not well-formed; shown as it is.' }));
      box.append(codeBlock(document.createTextNode(info.xml), 'SAML XML'));
      return;
    }
    box.append(codeBlock(pretty, 'SAML XML, pretty-printed'));
    return;
  }
  box.append(el('p', { class: 'note warn', text: 'Not recognised as a JWT or SAML XML (raw, base64 or base64url).' }));
}

function renderRequest(info, request, config) {
  const box = $('request');
  box.replaceChildren();
  if (info.kind === 'empty') {
    box.append(el('p', { class: 'empty', text: 'The token request appears here once there is an assertion.' }));
    return;
  }
  let target;
  try {
    target = new URL(tokenEndpointOf(config) ?? 'http://localhost/token');
  } catch {
    target = new URL('http://localhost/token');
  }
  const out = new Out();
  out.put('POST ', 't-tag');
  out.put(`${target.pathname}${target.search} HTTP/1.1\n`);
  out.put('Host', 't-key');
  out.put(`: ${target.host}\n`);
  for (const [k, v] of Object.entries(request.headers)) {
    out.put(k.replace(/(^|-)([a-z])/g, (_, a, b) => a + b.toUpperCase()), 't-key');
    out.put(`: ${v}\n`);
  }
  out.put('\n');
  request.body.split('&').forEach((pair, i) => {
    const [k, v = ''] = pair.split('=');
    if (i) out.put('&', 't-punct');
    out.put(k, 't-attr');
    out.put('=', 't-punct');
    out.put(v, 't-val');
  });
  box.append(el('p', { class: 'note', text: `What explain() was given: the request a client would POST to ${target.href}.` }));
  box.append(codeBlock(out.frag, 'HTTP request'));

  const curl = [`curl -sS ${shellQuote(target.href)}`];
  for (const [k, v] of Object.entries(request.headers)) {
    if (k === 'content-type') continue;
    curl.push(`  -H ${shellQuote(`${k}: ${v}`)}`);
  }
  for (const [k, v] of new URLSearchParams(request.body)) curl.push(`  --data-urlencode ${shellQuote(`${k}=${v}`)}`);
  const curlText = curl.join(' \\\n');
  const copy = el('button', {
    type: 'button', class: 'btn small', text: 'Copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(curlText);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy failed';
      }
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    },
  });
  box.append(el('div', { class: 'code-title' }, el('h3', { text: 'As curl' }), copy));
  box.append(codeBlock(document.createTextNode(curlText), 'curl command'));
}

const shellQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------------------------------------------------------------------------
// The report

function setVerdict(kind, { mark, title, sub, body = [] }) {
  const verdict = $('verdict');
  verdict.dataset.kind = kind;
  verdict.replaceChildren(
    el('span', { class: 'big-mark', 'aria-hidden': 'true', text: mark }),
    el('h3', { text: title }),
    ...(sub ? [el('p', { class: 'sub', text: sub })] : []),
    el('div', {}, ...body),
  );
}

function setChecks(checks, { stopped = false } = {}) {
  const list = $('checks');
  list.replaceChildren();
  for (const c of checks) {
    const outcome = MARK[c.outcome] ? c.outcome : 'skipped';
    list.append(el('li', { class: `check ${outcome}`, dataset: { outcome, check: c.check } },
      el('span', { class: 'mark', 'aria-hidden': 'true', text: MARK[outcome] }),
      el('span', { class: 'what' },
        el('span', { class: 'name' }, el('span', { class: 'sr-only', text: `${OUTCOME_TEXT[outcome]}: ` }), c.check),
        el('span', { class: 'spec' }, el('span', { class: 'sr-only', text: 'spec: ' }), c.spec)),
      el('span', { class: 'detail' }, el('span', { class: 'sr-only', text: '— ' }), c.detail),
    ));
  }
  $('checks-empty').hidden = checks.length > 0;
  $('checks-stopped').hidden = !stopped;
  const count = $('checks-count');
  const failed = checks.filter((c) => c.outcome === 'fail').length;
  count.textContent = checks.length ? String(checks.length) : '';
  count.className = `count${failed ? ' bad' : checks.length ? ' good' : ''}`;
  count.setAttribute('aria-label', checks.length ? `${checks.length} checks${failed ? `, ${failed} failed` : ''}` : '');
}

function renderToken(report, now) {
  const box = $('token');
  box.replaceChildren();
  if (!report?.token_claims) {
    box.append(el('p', { class: 'empty', text: report ? 'No access token would be issued.' : 'No report yet.' }));
    return;
  }
  box.append(el('p', { class: 'note', text: 'The RFC 9068 access token\'s claims, not signed: explain() never signs and never consumes the assertion.' }));
  box.append(codeBlock(prettyJson(report.token_claims, now, { annotateTimes: true }), 'Access token claims'));
}

function claimsSummary(claims, now) {
  const pick = ['sub', 'client_id', 'scope', 'aud', 'exp'];
  const grid = el('dl', { class: 'claims-grid', 'aria-label': 'Access token claims' });
  for (const key of pick) {
    if (!(key in claims)) continue;
    let value = claims[key];
    if (key === 'exp' && typeof value === 'number') value = `${utcText(value).slice(11)} (${relativeText(value, now)})`;
    else if (Array.isArray(value)) value = value.join(', ');
    else if (typeof value !== 'string') value = JSON.stringify(value);
    grid.append(el('dt', { text: key }), el('dd', { text: value }));
  }
  const extra = Object.keys(claims).filter((k) => !['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope'].includes(k));
  for (const key of extra.slice(0, 3)) {
    const v = claims[key];
    const text = typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : JSON.stringify(v);
    grid.append(el('dt', { text: key }), el('dd', { text }));
  }
  return grid;
}

function renderIdle() {
  setVerdict('idle', {
    mark: '?',
    title: 'Paste an assertion, or make one',
    sub: 'Paste a SAML assertion or a JWT on the left and the endpoint explains, check by check, what it would do.',
    body: [el('ol', { class: 'steps' },
      el('li', {}, 'No assertion at hand? In ', el('strong', { text: 'Test identity provider' }), ': Generate key → Mint → Trust this IdP.'),
      el('li', {}, 'Or in one go: ', el('button', { type: 'button', class: 'btn link', id: 'quick-start', text: 'mint and trust a SAML test assertion', onclick: quickStart })),
    )],
  });
  setChecks([]);
  $('checks-empty').textContent = 'No report yet.';
  renderToken(null);
}

function scheduleLive() {
  if (!$('live').checked) return;
  clearTimeout(state.timer);
  state.timer = setTimeout(evaluate, LIVE_DELAY_MS);
}

/** Build the endpoint, explain the request and render everything. */
async function evaluate() {
  clearTimeout(state.timer);
  if (!state.ready) return;
  const seq = ++state.evalSeq;
  const now = currentNow();
  state.lastNow = now;
  renderClock();
  const report = $('report');
  report.setAttribute('aria-busy', 'true');

  const info = analyseAssertion($('assertion').value);
  const detected = $('detected');
  detected.replaceChildren(el('span', { class: 'sr-only', text: 'Detected: ' }), info.label);
  detected.className = `badge${info.kind === 'saml' || info.kind === 'jwt' ? ' info' : info.kind === 'unknown' ? ' warn' : ''}`;

  const parsed = parseConfig();
  const configBox = $('config');
  const configError = $('config-error');
  const request = buildRequest(info);
  renderDecoded(info, now);
  renderRequest(info, request, parsed.value);

  const done = () => {
    report.setAttribute('aria-busy', 'false');
    report.dataset.evaluated = String(seq);
  };

  if (parsed.error) {
    configBox.setAttribute('aria-invalid', 'true');
    configError.hidden = false;
    configError.textContent = `Configuration ${parsed.error}`;
    renderConfigSummary(null);
    setVerdict('config', {
      mark: '✗', title: 'The configuration is not valid JSON',
      body: [el('p', { class: 'desc', text: parsed.error })],
    });
    setChecks([]);
    $('checks-empty').textContent = 'Fix the configuration to see the checks.';
    renderToken(null);
    done();
    return;
  }

  let endpoint;
  try {
    endpoint = endpointFor(parsed.value, configText());
  } catch (err) {
    const path = err?.path;
    configBox.setAttribute('aria-invalid', 'true');
    configError.hidden = false;
    configError.replaceChildren('Configuration error', ...(path ? [' at ', el('code', { text: path })] : []), `: ${stripPath(err?.message ?? String(err), path)}`);
    renderConfigSummary(parsed.value);
    setVerdict('config', {
      mark: '✗', title: 'The configuration is refused',
      sub: 'new TokenEndpoint(config) threw a ConfigError; the endpoint would not start.',
      body: [el('p', { class: 'desc' }, ...(path ? [el('code', { class: 'err', text: path }), ': '] : []), stripPath(err?.message ?? String(err), path))],
    });
    setChecks([]);
    $('checks-empty').textContent = 'Fix the configuration to see the checks.';
    renderToken(null);
    done();
    return;
  }
  configBox.removeAttribute('aria-invalid');
  configError.hidden = true;
  renderConfigSummary(parsed.value);

  if (info.kind === 'empty') {
    renderIdle();
    done();
    return;
  }

  let result;
  try {
    result = await endpoint.explain({ body: request.body, headers: request.headers, method: 'POST' }, { now });
  } catch (err) {
    if (seq !== state.evalSeq) return;
    setVerdict('fail', { mark: '✗', title: 'explain() failed', body: [el('p', { class: 'desc', text: String(err?.message ?? err) })] });
    setChecks([]);
    done();
    return;
  }
  if (seq !== state.evalSeq) return;

  const checks = result.checks ?? [];
  const failed = checks.find((c) => c.outcome === 'fail');
  const passed = checks.filter((c) => c.outcome === 'pass').length;
  const skipped = checks.filter((c) => c.outcome === 'skipped').length;
  const counts = `${passed} passed${skipped ? ` · ${skipped} skipped` : ''}${failed ? ' · 1 failed' : ''}`;
  const at = `at ${utcText(now)}`;
  if (result.would_issue) {
    setVerdict('pass', {
      mark: '✓', title: 'Would issue an access token',
      sub: `${counts} · ${at}`,
      body: [claimsSummary(result.token_claims ?? {}, now)],
    });
  } else {
    const e = result.error ?? { error: 'refused', error_description: '', status: 400 };
    setVerdict('fail', {
      mark: '✗', title: `Would refuse: ${e.error}`,
      sub: `HTTP ${e.status}${failed ? ` · failed check: ${failed.check}` : ''} · ${counts} · ${at}`,
      body: [el('p', { class: 'desc' }, el('code', { class: 'err', text: e.error }), ' — ', e.error_description || '(no description)')],
    });
  }
  setChecks(checks, { stopped: Boolean(failed) && checks.at(-1) === failed });
  renderToken(result, now);
  done();
}

const stripPath = (message, path) => (path && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);

// ---------------------------------------------------------------------------
// Test IdP

const idpFormat = () => document.querySelector('input[name="idp-format"]:checked').value;

function parseAttributes(text) {
  const attributes = {};
  const errors = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed) return;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      errors.push(`line ${i + 1}: expected key=value`);
      return;
    }
    const key = trimmed.slice(0, eq).trim();
    const values = trimmed.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
    attributes[key] = values.length === 1 ? values[0] : values;
  });
  return { attributes, errors };
}

function idpStatus(text, kind = 'ok') {
  const status = $('idp-status');
  status.textContent = text;
  status.className = `status-line ${kind}`;
}

// The test IdP's key is made by WebCrypto and signs there (ag.mintTestAssertion):
// the core builds each assertion and what to sign.
async function generateKey() {
  const kid = `test-idp-${Math.random().toString(36).slice(2, 8)}`;
  state.idpKey = JSON.parse(await ag.createSigningKey(kid));
  $('key-info').replaceChildren('EC P-256 · kid ', el('code', { text: state.idpKey.kid }), ' · x ', el('code', { text: `${state.idpKey.x.slice(0, 12)}…` }));
  idpStatus('New key pair. Trust this IdP again if the configuration trusted an older key.');
}

async function mint() {
  if (!state.ready) return;
  if (!state.idpKey) await generateKey();
  const parsed = parseConfig();
  const config = parsed.value ?? {};
  const format = idpFormat();
  const { attributes, errors } = parseAttributes($('idp-attributes').value);
  if (errors.length) {
    idpStatus(`Attributes: ${errors.join('; ')}`, 'error');
    $('idp-attributes').setAttribute('aria-invalid', 'true');
    return;
  }
  $('idp-attributes').removeAttribute('aria-invalid');
  const lifetime = Number($('idp-lifetime').value);
  if (!Number.isInteger(lifetime) || lifetime <= 0) {
    idpStatus('Lifetime: a whole number of seconds, at least 1.', 'error');
    return;
  }
  const audience = $('idp-audience').value.trim() || config.issuer || '';
  const spec = {
    format,
    issuer: $('idp-issuer').value.trim(),
    subject: $('idp-subject').value,
    audience,
    now: currentNow(),
    lifetime_secs: lifetime,
  };
  if (format === 'saml2') spec.recipient = $('idp-recipient').value.trim() || tokenEndpointOf(config) || audience;
  if (Object.keys(attributes).length) spec.attributes = attributes;
  try {
    const assertion = await ag.mintTestAssertion(spec, state.idpKey);
    $('assertion').value = assertion;
    $('grant-type').value = 'auto';
    idpStatus(`Minted a ${format === 'saml2' ? 'SAML' : 'JWT'} assertion at ${utcText(spec.now)}, valid ${durationText(lifetime)}, into the assertion box.`);
    evaluate();
  } catch (err) {
    idpStatus(`Could not mint: ${err?.message ?? err}`, 'error');
  }
}

async function trustIdp() {
  if (!state.ready) return;
  if (!state.idpKey) await generateKey();
  const parsed = parseConfig();
  if (!parsed.value) {
    idpStatus(`Fix the configuration first: ${parsed.error}`, 'error');
    return;
  }
  const format = idpFormat();
  const issuer = $('idp-issuer').value.trim();
  try {
    const entry = ag.testIdpTrustEntry(format, issuer, state.idpKey);
    if ($('idp-map-claims').checked) {
      const { attributes } = parseAttributes($('idp-attributes').value);
      const claims = {};
      for (const name of Object.keys(attributes)) {
        if (!RESERVED_CLAIMS.has(name) && /^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(name)) claims[name] = name;
      }
      if (Object.keys(claims).length) entry.claims = claims;
    }
    const { how, index } = upsertTrustedIssuer(parsed.value, entry);
    setConfig(parsed.value, { badge: 'edited' });
    idpStatus(`Trusted ${issuer} (${format === 'saml2' ? 'SAML' : 'JWT'}, key ${state.idpKey.kid}): ${how} trusted_issuers[${index}].`);
  } catch (err) {
    idpStatus(`Could not trust: ${err?.message ?? err}`, 'error');
  }
}

async function quickStart() {
  if (!state.idpKey) await generateKey();
  document.querySelector('input[name="idp-format"][value="saml2"]').checked = true;
  syncFormat();
  await trustIdp();
  await mint();
}

function syncFormat() {
  const saml = idpFormat() === 'saml2';
  $('idp-recipient').disabled = !saml;
  $('recipient-field').classList.toggle('disabled', !saml);
}

function updateIdpPlaceholders() {
  const config = parseConfig().value;
  $('idp-audience').placeholder = `default: ${config?.issuer ?? 'the configuration issuer'}`;
  $('idp-recipient').placeholder = `default: ${tokenEndpointOf(config) ?? 'the token endpoint'}`;
}

// ---------------------------------------------------------------------------
// SAML metadata import

function metadataStatus(text, kind) {
  const status = $('metadata-status');
  status.textContent = text;
  status.className = `status-line ${kind}`;
}

function importMetadata() {
  const xml = $('metadata-xml').value.trim();
  if (!xml) {
    metadataStatus('Choose a metadata file or paste its XML first.', 'error');
    return;
  }
  const parsed = parseConfig();
  if (!parsed.value) {
    metadataStatus(`Fix the configuration first: ${parsed.error}`, 'error');
    return;
  }
  let entry;
  try {
    entry = ag.importSamlMetadata(xml);
  } catch (err) {
    metadataStatus(`Not imported: ${err?.message ?? err}`, 'error');
    $('metadata-xml').setAttribute('aria-invalid', 'true');
    return;
  }
  $('metadata-xml').removeAttribute('aria-invalid');
  const { how, index } = upsertTrustedIssuer(parsed.value, entry);
  setConfig(parsed.value, { badge: 'edited' });
  const certs = entry.x509_certificates?.length ?? 0;
  metadataStatus(`Trusted ${entry.issuer} (SAML, ${certs} signing certificate${certs === 1 ? '' : 's'}): ${how} trusted_issuers[${index}]. Add scope or claims in the JSON if needed.`, 'ok');
}

// ---------------------------------------------------------------------------
// Wiring

function onConfigEdited({ immediate = false, keepBadge = false } = {}) {
  if (!keepBadge) setConfigBadge('edited');
  updateIdpPlaceholders();
  if (immediate) evaluate();
  else scheduleLive();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (e) => {
      let next;
      if (e.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
      else if (e.key === 'ArrowLeft') next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (e.key === 'Home') next = tabs[0];
      else if (e.key === 'End') next = tabs.at(-1);
      if (next) {
        e.preventDefault();
        select(next, true);
      }
    });
  });
}

function wire() {
  $('explain').addEventListener('click', () => evaluate());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      evaluate();
    }
  });
  $('clear-assertion').addEventListener('click', () => {
    $('assertion').value = '';
    $('assertion').focus();
    evaluate();
  });
  for (const id of ['assertion', 'scope', 'client-id', 'client-secret']) $(id).addEventListener('input', scheduleLive);
  for (const id of ['grant-type']) $(id).addEventListener('change', () => evaluate());
  $('client-auth').addEventListener('change', () => {
    const none = $('client-auth').value === 'none';
    $('client-secret').disabled = none;
    evaluate();
  });
  $('live').addEventListener('change', () => {
    if ($('live').checked) evaluate();
  });

  // Clock
  $('clock').addEventListener('change', () => {
    const value = $('clock').value;
    if (!value) return;
    const ms = new Date(value).getTime();
    if (Number.isFinite(ms)) setClock(ms / 1000);
  });
  for (const button of document.querySelectorAll('[data-shift]')) {
    button.addEventListener('click', () => setClock(currentNow() + Number(button.dataset.shift)));
  }
  $('clock-now').addEventListener('click', () => {
    state.clockMode = 'live';
    renderClock({ force: true });
    scheduleLive();
  });
  setInterval(() => {
    if (state.clockMode === 'live') renderClock();
  }, 1000);

  // Config
  $('config').addEventListener('input', () => onConfigEdited());
  $('config-format').addEventListener('click', () => {
    const parsed = parseConfig();
    if (parsed.value) setConfig(parsed.value);
    else evaluate();
  });
  $('config-reset').addEventListener('click', () => {
    setConfig(JSON.parse(ag.demoConfig()), { badge: 'demo' });
  });

  // Test IdP
  $('gen-key').addEventListener('click', generateKey);
  $('mint').addEventListener('click', mint);
  $('trust-idp').addEventListener('click', trustIdp);
  for (const radio of document.querySelectorAll('input[name="idp-format"]')) radio.addEventListener('change', syncFormat);

  // Metadata
  $('metadata-file').addEventListener('change', async () => {
    const file = $('metadata-file').files?.[0];
    if (!file) return;
    $('metadata-xml').value = await file.text();
    importMetadata();
  });
  $('metadata-import').addEventListener('click', importMetadata);

  setupTabs();
}

async function main() {
  wire();
  syncFormat();
  renderClock({ force: true });
  const status = $('core-status');
  try {
    await ag.ready();
  } catch (err) {
    status.dataset.state = 'error';
    $('core-status-text').textContent = 'Core failed to load';
    setVerdict('config', {
      mark: '✗', title: 'The WebAssembly core did not load',
      sub: 'Serve this page with `npm run www` (it builds pkg/ when it is missing), or serve the repository root and open /www/.',
      body: [el('p', { class: 'desc', text: String(err?.message ?? err) })],
    });
    return;
  }
  state.ready = true;
  status.dataset.state = 'ready';
  $('core-status-text').textContent = 'WebAssembly core ready · offline';
  $('config').value = JSON.stringify(JSON.parse(ag.demoConfig()), null, 2);
  setConfigBadge('demo');
  updateIdpPlaceholders();
  await evaluate();
  document.body.dataset.ready = 'true';
}

main();

// The configuration: the JSON text box, parsed and summarised (issuer, trusted
// issuers, clients), edits that re-explain, and the cached TokenEndpoint.
import * as ag from '../../pkg/index.js';
import { $, el } from './dom.js';
import { evaluate, scheduleLive } from './evaluate.js';
import { updateIdpPlaceholders } from './idp.js';
import { state } from './state.js';

export function configText() {
  return $('config').value;
}

/** The configuration as an object, or { error } for JSON syntax errors. */
export function parseConfig() {
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

export function setConfig(obj, { badge } = {}) {
  $('config').value = JSON.stringify(obj, null, 2);
  if (badge) setConfigBadge(badge);
  onConfigEdited({ immediate: true, keepBadge: true });
}

export function setConfigBadge(text) {
  const badge = $('config-badge');
  badge.textContent = text;
  badge.className = text === 'demo' ? 'badge' : 'badge info';
}

export const tokenEndpointOf = (config) => config?.token_endpoint ?? (typeof config?.issuer === 'string' ? `${config.issuer.replace(/\/$/, '')}/token` : undefined);

/** Add or replace (same issuer) a trusted_issuers entry; returns 'added' | 'replaced'. */
export function upsertTrustedIssuer(config, entry) {
  if (!Array.isArray(config.trusted_issuers)) config.trusted_issuers = [];
  const index = config.trusted_issuers.findIndex((t) => t && t.issuer === entry.issuer);
  if (index >= 0) {
    config.trusted_issuers[index] = entry;
    return { how: 'replaced', index };
  }
  config.trusted_issuers.push(entry);
  return { how: 'added', index: config.trusted_issuers.length - 1 };
}

export function renderConfigSummary(config, problem) {
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
export function endpointFor(config, text) {
  if (state.endpointCache.text !== text) {
    state.endpointCache = { text: null, endpoint: null };
    const endpoint = new ag.TokenEndpoint(config, { now: () => state.lastNow });
    state.endpointCache = { text, endpoint };
  }
  return state.endpointCache.endpoint;
}

function onConfigEdited({ immediate = false, keepBadge = false } = {}) {
  if (!keepBadge) setConfigBadge('edited');
  updateIdpPlaceholders();
  if (immediate) evaluate();
  else scheduleLive();
}

/** Typing in the JSON, "Format JSON" and "Reset to the demo configuration". */
export function wireConfig() {
  $('config').addEventListener('input', () => onConfigEdited());
  $('config-format').addEventListener('click', () => {
    const parsed = parseConfig();
    if (parsed.value) setConfig(parsed.value);
    else evaluate();
  });
  $('config-reset').addEventListener('click', () => {
    setConfig(JSON.parse(ag.demoConfig()), { badge: 'demo' });
  });
}

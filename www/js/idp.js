// The test identity provider: a key pair made in the page, assertions minted
// with it, and a trusted_issuers entry for it.
import * as ag from '../../pkg/index.js';
import { currentNow } from './clock.js';
import { parseConfig, setConfig, tokenEndpointOf, upsertTrustedIssuer } from './config.js';
import { $, el } from './dom.js';
import { evaluate } from './evaluate.js';
import { RESERVED_CLAIMS } from './protocol.js';
import { state } from './state.js';
import { durationText, utcText } from './time.js';

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

export async function quickStart() {
  if (!state.idpKey) await generateKey();
  document.querySelector('input[name="idp-format"][value="saml2"]').checked = true;
  syncFormat();
  await trustIdp();
  await mint();
}

export function syncFormat() {
  const saml = idpFormat() === 'saml2';
  $('idp-recipient').disabled = !saml;
  $('recipient-field').classList.toggle('disabled', !saml);
}

export function updateIdpPlaceholders() {
  const config = parseConfig().value;
  $('idp-audience').placeholder = `default: ${config?.issuer ?? 'the configuration issuer'}`;
  $('idp-recipient').placeholder = `default: ${tokenEndpointOf(config) ?? 'the token endpoint'}`;
}

/** "Generate key", "Mint", "Trust this IdP" and the format radios. */
export function wireIdp() {
  $('gen-key').addEventListener('click', generateKey);
  $('mint').addEventListener('click', mint);
  $('trust-idp').addEventListener('click', trustIdp);
  for (const radio of document.querySelectorAll('input[name="idp-format"]')) radio.addEventListener('change', syncFormat);
}

// Import of an IdP's SAML metadata (file or pasted XML) into trusted_issuers.
import * as ag from '../../pkg/index.js';
import { parseConfig, setConfig, upsertTrustedIssuer } from './config.js';
import { $ } from './dom.js';

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

/** The metadata file input and "Import into trusted_issuers". */
export function wireMetadata() {
  $('metadata-file').addEventListener('change', async () => {
    const file = $('metadata-file').files?.[0];
    if (!file) return;
    $('metadata-xml').value = await file.text();
    importMetadata();
  });
  $('metadata-import').addEventListener('click', importMetadata);
}

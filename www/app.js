// The assertion debugger: runs the assertion-grant wasm core in the page and
// renders TokenEndpoint.explain() as a checklist. No framework, no network
// beyond this origin; every untrusted string goes into the DOM as text.
//
// The entry module: wires the modules in js/ to the page and starts the core.
import * as ag from '../pkg/index.js';
import { renderClock, wireClock } from './js/clock.js';
import { setConfigBadge, wireConfig } from './js/config.js';
import { $, el } from './js/dom.js';
import { evaluate, scheduleLive } from './js/evaluate.js';
import { syncFormat, updateIdpPlaceholders, wireIdp } from './js/idp.js';
import { wireMetadata } from './js/metadata.js';
import { setVerdict } from './js/report.js';
import { state } from './js/state.js';
import { setupTabs } from './js/tabs.js';

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

  wireClock();
  wireConfig();
  wireIdp();
  wireMetadata();
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

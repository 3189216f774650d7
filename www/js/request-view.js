// The "HTTP request" tab: the token request as raw HTTP and as a curl command
// to copy.
import { tokenEndpointOf } from './config.js';
import { $, el } from './dom.js';
import { codeBlock, Out } from './highlight.js';

export function renderRequest(info, request, config) {
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

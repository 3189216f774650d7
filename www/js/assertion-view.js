// The "Decoded assertion" tab: a JWT's header, claims (with readable times) and
// signature, or the SAML XML pretty-printed.
import { $, el } from './dom.js';
import { b64ToBytes, decodeUtf8, utf8 } from './encoding.js';
import { codeBlock, prettyJson, prettyXml } from './highlight.js';
import { utcText } from './time.js';

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

export function renderDecoded(info, now) {
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

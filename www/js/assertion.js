// The pasted assertion: its shape (SAML raw XML, base64 or base64url; JWT;
// unrecognised), what is sent as the `assertion` parameter, and notes on it.
import { b64ToBytes, b64url, decodeUtf8, utf8 } from './encoding.js';

/**
 * What the pasted text is: { kind: 'empty'|'saml'|'jwt'|'unknown', label,
 * param (what is sent as `assertion`), notes[], xml?, jwtParts? }.
 */
export function analyseAssertion(raw) {
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

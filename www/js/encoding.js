// Bytes and text: UTF-8, standard and url-safe base64, form encoding.

export const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function bytesToB64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
export const b64url = (bytes) => bytesToB64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Standard or url-safe base64 (padding optional) → bytes, or null. */
export function b64ToBytes(text) {
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

export function decodeUtf8(bytes) {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 for Basic). */
export const formEncode = (value) => new URLSearchParams({ v: value }).toString().slice(2);

// HTTP plumbing for the hosts: core responses to `Response`s, the headers
// the core reads, and a bounded body reader.

import { hostError } from './runtime.js';

export const PUBLIC_JSON_HEADERS = Object.freeze([
  ['Cache-Control', 'public, max-age=300'],
  ['Content-Type', 'application/json'],
]);

export function jsonResponse(status, body, headers, extraHeaders = []) {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: [...headers, ...extraHeaders],
  });
}

export function coreResponse(http) {
  const response = new Response(http.body, { status: http.status, headers: http.headers });
  if (http.reason !== undefined) OUTCOMES.set(response, { reason: http.reason, body: http.body });
  return response;
}

// What the core said about the error responses it built (the stable reason
// code and the body), for the endpoint's log line: never sent.
const OUTCOMES = new WeakMap();

/**
 * The RFC error code and stable reason code of an error response the core
 * built, or undefined (a success, or a response from elsewhere).
 * @param {Response} response
 * @returns {{ error: string | undefined, reason: string } | undefined}
 */
export function refusalOf(response) {
  const outcome = OUTCOMES.get(response);
  if (outcome === undefined) return undefined;
  let error;
  try {
    const parsed = JSON.parse(outcome.body);
    if (typeof parsed?.error === 'string') error = parsed.error;
  } catch {
    // not JSON: no code
  }
  return { error, reason: outcome.reason };
}

/**
 * An error response built by the core, for a host's answers outside a token
 * request: 'server_error', 'not_found', 'document_method_not_allowed',
 * 'replay_store_unavailable', 'body_too_large', 'explain_input'.
 * @param {string} kind
 * @returns {Response}
 */
export function errorResponse(kind) {
  return coreResponse(hostError(kind));
}

export class BodyTooLarge extends Error {}

// The request headers the core reads (src/request.rs `HttpRequest::from_headers`).
// Only these cross into wasm: converting every header a request carries
// (a dozen at the edge) into wasm strings costs more than the check.
const CORE_HEADERS = ['content-type', 'authorization', 'dpop'];

/**
 * Split a header value that `Headers` joined from repeated fields (", ")
 * back into its fields. No header the core reads has a comma in any value
 * it accepts (Basic credentials are token68; the form media type's only
 * parameter is a charset; a DPoP proof is a compact JWS), so every comma —
 * quoted or not — marks a repeated field, and the core refuses repeated
 * fields on every host (two DPoP proofs: `invalid_dpop_proof`).
 */
function splitJoinedFields(value) {
  return value.includes(',') ? value.split(',').map((field) => field.trim()) : [value];
}

/** @param {Headers} headers */
export function coreHeaders(headers) {
  // Two lookups: iterating a Headers object (sorting, combining) costs more.
  const out = [];
  for (const name of CORE_HEADERS) {
    const value = headers.get(name);
    if (value === null) continue;
    for (const field of splitJoinedFields(value)) out.push([name, field]);
  }
  return out;
}

/**
 * Read at most `limit` bytes of the body, always through the stream: a
 * declared Content-Length only allows refusing early (413) without reading,
 * never reading more than the limit because the declaration said less.
 */
export async function readBody(request, limit) {
  const header = request.headers.get('content-length');
  const declared = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
  if (declared !== null && declared > limit) throw new BodyTooLarge();
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge();
    }
    chunks.push(value);
    // All the declared bytes arrived: no second read just to see the end
    // (the limit above still bounds what a wrong declaration could bring).
    if (total === declared) {
      reader.releaseLock();
      break;
    }
  }
  return concatBytes(chunks, total);
}

/** The `chunks` of a streamed body (`total` bytes in all) as one Uint8Array. */
export function concatBytes(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export function formUrlEncode(value) {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

export function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function toJsonText(value, what) {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  throw new TypeError(`assertion-grant: ${what} must be a JSON string or an object`);
}


// The token request explain() is given: grant type, assertion and scope in a
// form body, client authentication in the body or an Authorization header.
import { $ } from './dom.js';
import { bytesToB64, formEncode, utf8 } from './encoding.js';
import { FORM_CONTENT_TYPE, JWT_BEARER, SAML2_BEARER } from './protocol.js';

function grantTypeFor(info) {
  const choice = $('grant-type').value;
  if (choice === 'jwt') return JWT_BEARER;
  if (choice === 'saml2') return SAML2_BEARER;
  return info.kind === 'saml' ? SAML2_BEARER : JWT_BEARER;
}

/** The form body and headers sent to explain(). */
export function buildRequest(info) {
  const form = new URLSearchParams();
  form.set('grant_type', grantTypeFor(info));
  form.set('assertion', info.param ?? '');
  const scope = $('scope').value.trim();
  if (scope) form.set('scope', scope);
  const headers = { 'content-type': FORM_CONTENT_TYPE };
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

// Deliberate mistakes: `tsc -p tsconfig.errors.json` (src/ and this folder)
// must reject each marked line with the marked code, and nothing else. They
// fail only if the package's types are really read: an untyped module would
// accept them all.
import { TokenEndpoint, mintTestAssertion, type ClientConfig, type ReasonCode } from 'assertion-grant';
import { initSync } from 'assertion-grant/worker';

declare const endpoint: TokenEndpoint;
declare const idpKey: string;

// An authentication method the endpoint does not have.
export const client: ClientConfig = { client_id: 'app', token_endpoint_auth_method: 'client_secret_jwt' }; // TS2820

// A misspelt option (it is signingKeys).
export const typo = new TokenEndpoint('{}', { signingKey: idpKey }); // TS2561

// handle() takes a Request, not a URL.
export const answer = endpoint.handle('https://as.example.com/token'); // TS2345

// access_token is a string.
export const seconds: number = (await endpoint.exchange({ assertion: 'eyJ' })).access_token; // TS2322

// A test assertion needs a subject, an audience, a time and a lifetime.
export const partial = mintTestAssertion({ format: 'jwt', issuer: 'https://idp.example' }, idpKey); // TS2345

// Reason codes are a closed set.
export const reason: ReasonCode = 'assertion.too_cold'; // TS2322

// initSync needs the compiled module (WebAssembly.Module is an empty
// interface in TypeScript's lib, so nearly any value would pass for one).
initSync(); // TS2554

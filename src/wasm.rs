//! The `#[wasm_bindgen]` façade: the only file that knows JavaScript.
//!
//! It converts between JS values and the core's types and nothing more;
//! every decision stays in the Rust modules. The friendly npm API
//! (`TokenEndpoint.handle(Request)`, replay stores) is `js/` (`index.js`
//! re-exports its modules), built on these exports.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::backend::KeyLookup;
#[cfg(feature = "rust-crypto")]
use crate::config::signing_keys_from_json;
use crate::config::{Config, ConfigError, public_signing_keys_from_json};
use crate::crypto::seam::KeyRef;
use crate::endpoint::{Exchange, PendingToken, TokenEndpoint, UnsignedToken};
use crate::error::OAuthError;
use crate::keyset::{FetchResult, KeySource};
use crate::replay::{ReplayKey, ReplayKind};
use crate::request::HttpRequest;
use crate::response::HttpResponse;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** An HTTP response to send as it is. */
export interface HttpResponse { status: number; headers: Array<[string, string]>; body: string; reason?: string; }
/** A signature the core needs checked: does `signature` over `message` verify under `alg` with one of `keys` (ids for `Core.verificationKey`, tried in order)? */
export interface SignatureCheck { alg: "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "RS1"; keys: string[]; message: Uint8Array; signature: Uint8Array; /** The public JWK of key id "proof" (a DPoP proof's own key); absent otherwise. */ jwk?: JsonWebKey; }
/** A DPoP proof that passed every rule. */
export interface VerifiedDpopProof { jkt: string; jti: string; iat: number; replayKey: string; expiresAt: number; }
/** A refused DPoP proof. */
export interface DpopRefusal { error: "invalid_dpop_proof" | "use_dpop_nonce"; reason: string; description: string; }
/** A one-time-use key to claim (atomically) before issuing. */
/** A key set the core needs fetched before it can go on. */
export interface KeySetNeed { source: number; url: string; kind: "jwks" | "saml-metadata"; owner: string; why: "first_use" | "unknown_kid" | "expired"; timeoutMs: number; maxBytes: number; haveFetchedAt: number | null; }
/** A remote key set the configuration names. */
export interface KeySource { source: number; url: string; kind: "jwks" | "saml-metadata"; owner: string; timeoutMs: number; maxBytes: number; }
/** The host's answer to a KeySetNeed. */
export type KeySetFetchResult = { ok: true; body: string; cacheControl?: string | null; fetchedAt?: number } | { ok: false; error: string };
/** What the core made of a fetched document. */
export interface KeySetReport { source: number; url: string; accepted: boolean; keys: number; skipped: string[]; error?: string; fetchedAt?: number; freshUntil?: number; staleUntil?: number; generation?: number; }
/** A one-time-use key to claim (atomically) before issuing. */
export interface ReplayKeyClaim { key: string; expiresAt: number; kind: "grant" | "client_assertion" | "dpop_proof"; partition: string; }
/** One check of an explain report. */
export interface ExplainCheck { check: string; spec: string; outcome: "pass" | "fail" | "skipped"; detail: string; }
/** What the endpoint would do with a request, check by check. */
export interface Explanation {
  checks: ExplainCheck[];
  would_issue: boolean;
  error?: { error: string; error_description: string; status: number };
  token_claims?: Record<string, unknown>;
}
"#;

/// The token endpoint core, built once per isolate from the configuration.
#[wasm_bindgen]
pub struct Core {
    inner: TokenEndpoint,
    sources: std::rc::Rc<[KeySource]>,
}

/// A token request in progress ([`Exchange`]): answer its
/// `signatureCheck` with [`Core::resume`] until there is none, then
/// [`Core::finish_exchange`] (or [`Core::finish_explain`]).
#[wasm_bindgen(js_name = Exchange)]
pub struct PendingExchange {
    state: Option<Result<Exchange, OAuthError>>,
    /// The endpoint's key sources, to describe a need without a `Core`.
    sources: Option<std::rc::Rc<[KeySource]>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NeedJs<'a> {
    source: usize,
    url: &'a str,
    kind: &'static str,
    owner: String,
    why: &'static str,
    timeout_ms: u64,
    max_bytes: usize,
    have_fetched_at: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceJs<'a> {
    source: usize,
    url: &'a str,
    kind: &'static str,
    owner: String,
    timeout_ms: u64,
    max_bytes: usize,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchResultJs {
    ok: bool,
    body: Option<String>,
    cache_control: Option<String>,
    fetched_at: Option<f64>,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJs<'a> {
    source: usize,
    url: &'a str,
    accepted: bool,
    keys: usize,
    skipped: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fetched_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<u64>,
}

#[derive(Serialize)]
struct CheckJs<'a> {
    alg: &'static str,
    keys: Vec<String>,
    #[serde(with = "serde_bytes_js")]
    message: &'a [u8],
    #[serde(with = "serde_bytes_js")]
    signature: &'a [u8],
    #[serde(skip_serializing_if = "Option::is_none")]
    jwk: Option<serde_json::Value>,
}

/// Serializes bytes as a `Uint8Array` (serde-wasm-bindgen's bytes).
mod serde_bytes_js {
    pub fn serialize<S: serde::Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }
}

#[wasm_bindgen(js_class = Exchange)]
impl PendingExchange {
    /// The signature check to answer next; `undefined` when decided.
    #[wasm_bindgen(getter, js_name = signatureCheck, unchecked_return_type = "SignatureCheck | undefined")]
    pub fn signature_check(&self) -> JsValue {
        match &self.state {
            Some(Ok(exchange)) => check_to_js(exchange),
            _ => JsValue::UNDEFINED,
        }
    }

    /// The key set the core needs fetched before it can go on (answer with
    /// `Core.keySetFetched`, then `Core.resumeKeys`); `undefined` if none.
    #[wasm_bindgen(getter, js_name = keySetNeed, unchecked_return_type = "KeySetNeed | undefined")]
    pub fn key_set_need(&self) -> JsValue {
        match &self.state {
            Some(Ok(exchange)) => match (exchange.key_set_need(), &self.sources) {
                (Some(need), Some(sources)) => match sources.get(need.source) {
                    Some(source) => to_js(&NeedJs {
                        source: need.source,
                        url: &source.url,
                        kind: source.kind.as_str(),
                        owner: source.owner_path(),
                        why: need.why.as_str(),
                        timeout_ms: source.policy.fetch_timeout_ms,
                        max_bytes: source.kind.max_bytes(),
                        have_fetched_at: need.have_fetched_at,
                    }),
                    None => JsValue::UNDEFINED,
                },
                _ => JsValue::UNDEFINED,
            },
            _ => JsValue::UNDEFINED,
        }
    }

    /// The refresh-token family the core needs read (its id), or
    /// `undefined`: answer with `Core.resumeFamily`.
    #[wasm_bindgen(getter, js_name = familyNeed)]
    pub fn family_need(&self) -> Option<String> {
        match &self.state {
            Some(Ok(exchange)) => exchange.family_need().map(str::to_owned),
            _ => None,
        }
    }

    /// The replay key an introspection needs read (is it held?), or
    /// `undefined`.
    #[wasm_bindgen(getter, js_name = revokedNeed)]
    pub fn revoked_need(&self) -> Option<String> {
        match &self.state {
            Some(Ok(exchange)) => exchange.revoked_need().map(|k| k.key.clone()),
            _ => None,
        }
    }

    /// The replay keys of a decided, successful exchange (for `explain`).
    #[wasm_bindgen(getter, js_name = replayKeys, unchecked_return_type = "string[]")]
    pub fn replay_keys(&self) -> JsValue {
        let keys: Vec<&str> = match &self.state {
            Some(Ok(exchange)) => exchange
                .replay_keys()
                .iter()
                .map(|k| k.key.as_str())
                .collect(),
            _ => Vec::new(),
        };
        to_js(&keys)
    }
}

/// The check `exchange` waits for, as a JS object; `undefined` when decided.
fn check_to_js(exchange: &Exchange) -> JsValue {
    match exchange.signature_check() {
        Some(check) => signature_check_js(check),
        None => JsValue::UNDEFINED,
    }
}

fn signature_check_js(check: &crate::crypto::seam::SignatureCheck) -> JsValue {
    let js = CheckJs {
        alg: check.alg.as_jose(),
        keys: check.keys.iter().map(ToString::to_string).collect(),
        message: &check.message,
        signature: &check.signature,
        jwk: check.proof_key.as_ref().map(|k| k.to_jwk()),
    };
    // Bytes as Uint8Array; the proof's JWK as a plain object (what
    // `crypto.subtle.importKey('jwk', …)` reads), not a Map.
    js.serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .unwrap_or(JsValue::UNDEFINED)
}

/// A DPoP proof checked for a resource server (RFC 9449 §7.1, §4.3):
/// answer its `signatureCheck` (the key is the proof's own, `check.jwk`),
/// then `finish`.
#[wasm_bindgen(js_name = DpopProofCheck)]
pub struct DpopProofCheck {
    state: Option<
        Result<
            (
                crate::dpop::ProofPending,
                crate::crypto::seam::SignatureCheck,
            ),
            crate::dpop::DpopError,
        >,
    >,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedProofJs<'a> {
    jkt: &'a str,
    jti: &'a str,
    iat: i64,
    replay_key: &'a str,
    expires_at: i64,
}

#[derive(Serialize)]
struct DpopRefusalJs {
    error: &'static str,
    reason: &'static str,
    description: String,
}

fn dpop_refusal_js(e: &crate::dpop::DpopError) -> JsValue {
    to_js(&DpopRefusalJs {
        error: if *e == crate::dpop::DpopError::Nonce {
            "use_dpop_nonce"
        } else {
            "invalid_dpop_proof"
        },
        reason: e.reason().code(),
        // The RFC 6749 §5.2 character set, as every other description: a
        // proof's own text (a `kty`) may be in it.
        description: OAuthError::from(e.clone()).description().to_owned(),
    })
}

#[wasm_bindgen(js_class = DpopProofCheck)]
impl DpopProofCheck {
    /// Parses `proof` against `rules`: the request's `method` and `uri`,
    /// the `accessToken` it carries (its `ath` must match), `nowSecs`,
    /// `maxAgeSecs` and `skewSecs` for `iat`, and the accepted `algorithms`.
    /// Rules that are not that shape refuse the proof.
    #[wasm_bindgen(constructor)]
    pub fn new(
        proof: &str,
        #[wasm_bindgen(
            unchecked_param_type = "{ method: string; uri: string; accessToken?: string; nowSecs: number; maxAgeSecs: number; skewSecs: number; algorithms: string[] }"
        )]
        rules: JsValue,
    ) -> DpopProofCheck {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct RulesJs {
            method: String,
            uri: String,
            access_token: Option<String>,
            now_secs: f64,
            max_age_secs: f64,
            skew_secs: f64,
            algorithms: Vec<String>,
        }
        let Ok(r) = serde_wasm_bindgen::from_value::<RulesJs>(rules) else {
            return DpopProofCheck {
                state: Some(Err(crate::dpop::DpopError::Malformed)),
            };
        };
        let algorithms: Vec<crate::crypto::Algorithm> = r
            .algorithms
            .iter()
            .filter_map(|a| crate::crypto::Algorithm::from_jose(a))
            .collect();
        let clamp = |v: f64| seconds(v).unwrap_or(0).clamp(0, 86_400);
        let state = match seconds(r.now_secs) {
            None => Err(crate::dpop::DpopError::IssuedAt),
            Some(now) => crate::dpop::begin(
                proof,
                &crate::dpop::ProofRules {
                    method: &r.method,
                    uri: &r.uri,
                    now,
                    max_age: clamp(r.max_age_secs),
                    skew: clamp(r.skew_secs),
                    algorithms: &algorithms,
                    access_token: r.access_token.as_deref(),
                    nonce: None,
                },
            ),
        };
        DpopProofCheck { state: Some(state) }
    }

    /// The signature check to answer, or `undefined` when the proof was
    /// already refused (then `finish` says why).
    #[wasm_bindgen(getter, js_name = signatureCheck, unchecked_return_type = "SignatureCheck | undefined")]
    pub fn signature_check(&self) -> JsValue {
        match &self.state {
            Some(Ok((_, check))) => signature_check_js(check),
            _ => JsValue::UNDEFINED,
        }
    }

    /// Every claim rule on the verified claims: `{ok: true, proof}` or
    /// `{ok: false, refusal}`. Consumes the check.
    #[wasm_bindgen(
        unchecked_return_type = "{ ok: true; proof: VerifiedDpopProof } | { ok: false; refusal: DpopRefusal }"
    )]
    pub fn finish(&mut self, verified: bool) -> JsValue {
        let result = match self.state.take() {
            Some(Ok((pending, _))) => pending.finish(verified),
            Some(Err(e)) => Err(e),
            None => Err(crate::dpop::DpopError::Malformed),
        };
        let out = js_sys::Object::new();
        match result {
            Ok(p) => {
                let _ = js_sys::Reflect::set(&out, &"ok".into(), &true.into());
                let proof = to_js(&VerifiedProofJs {
                    jkt: &p.jkt,
                    jti: &p.jti,
                    iat: p.iat,
                    replay_key: &p.replay.key,
                    expires_at: p.replay.expires_at,
                });
                let _ = js_sys::Reflect::set(&out, &"proof".into(), &proof);
            }
            Err(e) => {
                let _ = js_sys::Reflect::set(&out, &"ok".into(), &false.into());
                let _ = js_sys::Reflect::set(&out, &"refusal".into(), &dpop_refusal_js(&e));
            }
        }
        out.into()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToSign<'a> {
    kid: &'a str,
    signing_input: &'a str,
}

/// An access token waiting for the host's ES256 signature
/// ([`Core::token_to_sign`] → sign → [`Core::finish_token`]), or the error
/// response instead.
#[wasm_bindgen(js_name = UnsignedToken)]
pub struct PendingSignature {
    result: Result<UnsignedToken, HttpResponse>,
}

#[wasm_bindgen(js_class = UnsignedToken)]
impl PendingSignature {
    /// The finished (error) response, or `undefined` when there is a token
    /// to sign.
    #[wasm_bindgen(getter, unchecked_return_type = "HttpResponse | undefined")]
    pub fn response(&self) -> JsValue {
        match &self.result {
            Err(response) => to_js(response),
            Ok(_) => JsValue::UNDEFINED,
        }
    }

    /// What to sign, in one crossing: `{kid, signingInput}` (ECDSA P-256
    /// with SHA-256 over the JWS signing input), or `undefined` when
    /// [`Self::response`] is the answer.
    #[wasm_bindgen(getter, js_name = toSign, unchecked_return_type = "{ kid: string; signingInput: string } | undefined")]
    pub fn to_sign(&self) -> JsValue {
        match &self.result {
            Ok(t) => to_js(&ToSign {
                kid: t.kid(),
                signing_input: t.signing_input(),
            }),
            Err(_) => JsValue::UNDEFINED,
        }
    }
}

/// The outcome of [`Core::prepare`]: a finished (error) response, or replay
/// keys to claim before [`Core::issue`].
#[wasm_bindgen]
pub struct Prepared {
    result: Result<PendingToken, HttpResponse>,
    /// A family record to write although the request was refused (a
    /// reused refresh token revokes its family).
    refused_write: Option<crate::refresh::FamilyWrite>,
    /// A revocation mark to claim before answering (RFC 7009).
    mark: Option<ReplayKey>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FamilyWriteJs<'a> {
    family: &'a str,
    expected_version: u64,
    version: u64,
    state: &'a str,
    forget_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyClaim<'a> {
    key: &'a str,
    expires_at: i64,
    kind: &'static str,
    partition: &'a str,
}

fn config_error(e: ConfigError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    // Setting properties on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &"invalid_config".into());
    let _ = js_sys::Reflect::set(&err, &"path".into(), &e.path.as_str().into());
    err.into()
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
}

/// Runs `f` on the request JS describes (method, `[name, value]` header
/// pairs, body) at `now_secs`; unreadable headers or a non-finite clock are
/// `server_error` (a host bug), a repeated header the core's own refusal.
fn with_request<T>(
    method: &str,
    headers: JsValue,
    body: &[u8],
    now_secs: f64,
    f: impl FnOnce(&HttpRequest<'_>, i64) -> Result<T, OAuthError>,
) -> Result<T, OAuthError> {
    let headers: Vec<(String, String)> =
        serde_wasm_bindgen::from_value(headers).map_err(|_| OAuthError::server_error())?;
    let now = seconds(now_secs).ok_or_else(OAuthError::server_error)?;
    let req = HttpRequest::from_headers(
        method,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )?;
    f(&req, now)
}

/// Seconds since the epoch from JS; non-finite values are refused.
fn seconds(now: f64) -> Option<i64> {
    (now.is_finite() && now.abs() < 9.0e15).then(|| now.floor() as i64)
}

#[wasm_bindgen]
impl Core {
    /// Validates the configuration and loads the signing keys (one EC P-256
    /// JWK, or a JWK Set whose first key is active). With `hostSigns`, the
    /// keys are the *public* halves (`d` refused) and the host signs
    /// tokens ([`Core::token_to_sign`]); otherwise private JWKs the core
    /// signs with. Without keys, an ephemeral key is generated in the core.
    /// Throws an Error with `code = "invalid_config"` and the field `path`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        config_json: &str,
        signing_keys: Option<String>,
        host_signs: Option<bool>,
    ) -> Result<Core, JsValue> {
        let config = Config::from_json(config_json).map_err(config_error)?;
        let inner = match (signing_keys, host_signs.unwrap_or(false)) {
            (Some(keys), true) => TokenEndpoint::with_host_signer(
                config,
                public_signing_keys_from_json(&keys).map_err(config_error)?,
            ),
            #[cfg(feature = "rust-crypto")]
            (Some(keys), false) => {
                TokenEndpoint::new(config, signing_keys_from_json(&keys).map_err(config_error)?)
            }
            #[cfg(feature = "rust-crypto")]
            (None, _) => TokenEndpoint::with_ephemeral_key(config),
            #[cfg(not(feature = "rust-crypto"))]
            _ => Err(ConfigError {
                path: "signing_key".into(),
                reason: "this build signs with the host's WebCrypto key: pass the signing key"
                    .into(),
            }),
        }
        .map_err(config_error)?;
        let sources = inner.config().key_sources().to_vec().into();
        Ok(Core { inner, sources })
    }

    /// Sets the secret stateless DPoP nonces are made with (at least 32
    /// bytes, the same on every instance); throws `invalid_config` if too
    /// short.
    #[wasm_bindgen(js_name = setDpopNonceSecret)]
    pub fn set_dpop_nonce_secret(&mut self, secret: &[u8]) -> Result<(), JsValue> {
        self.inner
            .set_dpop_nonce_secret(secret)
            .map_err(config_error)
    }

    /// Whether the configuration requires DPoP nonces and no secret was set.
    #[wasm_bindgen(getter, js_name = needsDpopNonceSecret)]
    pub fn needs_dpop_nonce_secret(&self) -> bool {
        self.inner.needs_dpop_nonce_secret()
    }

    /// Whether the core signs access tokens itself (`issue`); else the host
    /// does (`tokenToSign` → sign → `finishToken`).
    #[wasm_bindgen(getter, js_name = signsLocally)]
    pub fn signs_locally(&self) -> bool {
        self.inner.signs_locally()
    }

    /// The public JWK (JSON text, no `kid`/`alg`) of the verification key a
    /// `SignatureCheck` names by `id`, for the host to import once;
    /// `undefined` for an unknown id.
    #[wasm_bindgen(js_name = verificationKey)]
    pub fn verification_key(&self, id: &str) -> Option<String> {
        let key = self.inner.public_key(KeyRef::parse(id)?)?;
        Some(key.to_jwk().to_string())
    }

    /// Every key a signature check can name, with the algorithms it may be
    /// used with: `[{id, algs}]`, for hosts that import them all up front.
    #[wasm_bindgen(js_name = verificationKeys, unchecked_return_type = "Array<{ id: string; algs: string[] }>")]
    pub fn verification_keys(&self) -> JsValue {
        #[derive(Serialize)]
        struct Entry {
            id: String,
            algs: Vec<&'static str>,
        }
        let entries: Vec<Entry> = crate::backend::all_keys(self.inner.config())
            .into_iter()
            .map(|(key, algs)| Entry {
                id: key.to_string(),
                algs: algs.into_iter().map(|a| a.as_jose()).collect(),
            })
            .collect();
        to_js(&entries)
    }

    /// For a log line: the configured client and trusted issuer a request
    /// names (`{grantType?, clientId?, issuer?}`, **unverified**, values
    /// the configuration does not know left out). `route`: `"token"`,
    /// `"revoke"` or `"introspect"`.
    #[wasm_bindgen(js_name = requestLabels, unchecked_return_type = "{ grant_type?: string; client_id?: string; issuer?: string }")]
    pub fn request_labels(
        &self,
        route: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
    ) -> JsValue {
        let route = match route {
            "revoke" => crate::LabelledRoute::Revocation,
            "introspect" => crate::LabelledRoute::Introspection,
            _ => crate::LabelledRoute::Token,
        };
        let labels = with_request("POST", headers, body, 0.0, |req, _| {
            Ok(self.inner.request_labels(req, route))
        })
        .unwrap_or_default();
        to_js(&labels)
    }

    /// Starts a token request: every check the core can run before a
    /// signature operation.
    pub fn begin(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> PendingExchange {
        self.begin_with(method, headers, body, now_secs, false)
    }

    /// Starts a revocation request (RFC 7009): answer it like a token
    /// request (`signatureCheck`, `keySetNeed`, `familyNeed`), then
    /// `finishExchange`: its `response` is the answer, sent after writing
    /// its `familyWrite` (retry from the start if that swap is lost).
    #[wasm_bindgen(js_name = beginRevocation)]
    pub fn begin_revocation(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> PendingExchange {
        self.begin_exchange(
            method,
            headers,
            body,
            now_secs,
            TokenEndpoint::begin_revocation,
        )
    }

    /// Starts an introspection request (RFC 7662): answer it like a
    /// revocation (`signatureCheck`, `keySetNeed`, `familyNeed`, and
    /// `revokedNeed` → `Core.resumeRevoked`), then `finishExchange`.
    #[wasm_bindgen(js_name = beginIntrospection)]
    pub fn begin_introspection(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> PendingExchange {
        self.begin_exchange(
            method,
            headers,
            body,
            now_secs,
            TokenEndpoint::begin_introspection,
        )
    }

    /// Starts an exchange of any kind (`begin` is the core's starter).
    fn begin_exchange(
        &self,
        method: &str,
        headers: JsValue,
        body: &[u8],
        now_secs: f64,
        begin: fn(&TokenEndpoint, &HttpRequest<'_>, i64) -> Exchange,
    ) -> PendingExchange {
        let state = with_request(method, headers, body, now_secs, |req, now| {
            Ok(begin(&self.inner, req, now))
        });
        PendingExchange {
            state: Some(state),
            sources: Some(std::rc::Rc::clone(&self.sources)),
        }
    }

    /// Continues an introspection with whether its `revokedNeed` key is
    /// held in the replay store.
    #[wasm_bindgen(js_name = resumeRevoked)]
    pub fn resume_revoked(&self, exchange: &mut PendingExchange, revoked: bool) {
        if let Some(Ok(ex)) = exchange.state.take() {
            exchange.state = Some(Ok(ex.resume_revoked(&self.inner, revoked)));
        }
    }

    /// The path of the introspection endpoint.
    #[wasm_bindgen(getter, js_name = introspectionPath)]
    pub fn introspection_path(&self) -> String {
        self.inner.introspection_path()
    }

    /// The path of the revocation endpoint (served by hosts that store
    /// refresh-token families).
    #[wasm_bindgen(getter, js_name = revocationPath)]
    pub fn revocation_path(&self) -> String {
        self.inner.revocation_path()
    }

    /// [`Core::begin`] for `explain`: every check is recorded.
    #[wasm_bindgen(js_name = beginExplain)]
    pub fn begin_explain(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> PendingExchange {
        self.begin_with(method, headers, body, now_secs, true)
    }

    fn begin_with(
        &self,
        method: &str,
        headers: JsValue,
        body: &[u8],
        now_secs: f64,
        explain: bool,
    ) -> PendingExchange {
        let state = with_request(method, headers, body, now_secs, |req, now| {
            Ok(if explain {
                self.inner.begin_explain(req, now)
            } else {
                self.inner.begin(req, now)
            })
        });
        PendingExchange {
            state: Some(state),
            sources: Some(std::rc::Rc::clone(&self.sources)),
        }
    }

    /// Continues `exchange` with the host's answer to its signature check;
    /// returns the next check (as `exchange.signatureCheck` would), or
    /// `undefined` once decided.
    #[wasm_bindgen(unchecked_return_type = "SignatureCheck | undefined")]
    pub fn resume(&self, exchange: &mut PendingExchange, verified: bool) -> JsValue {
        match exchange.state.take() {
            Some(Ok(ex)) => {
                let ex = ex.resume(&self.inner, verified);
                let next = check_to_js(&ex);
                exchange.state = Some(Ok(ex));
                next
            }
            other => {
                exchange.state = other;
                JsValue::UNDEFINED
            }
        }
    }

    /// Continues `exchange` with the family record the host read for its
    /// `familyNeed` (JSON text as last written), or `undefined` when there
    /// is none (then the refresh is refused as unknown).
    #[wasm_bindgen(js_name = resumeFamily)]
    pub fn resume_family(&self, exchange: &mut PendingExchange, stored: Option<String>) {
        if let Some(Ok(ex)) = exchange.state.take() {
            exchange.state = Some(Ok(ex.resume_family(&self.inner, stored.as_deref())));
        }
    }

    /// Records the host's answer to a `keySetNeed` for `source` at
    /// `nowSecs`: `{ok: true, body, cacheControl, fetchedAt}` or
    /// `{ok: false, error}`. Returns what the core made of it (for logs and
    /// a shared cache). The cache policy and the parsing are the core's.
    #[wasm_bindgen(js_name = keySetFetched, unchecked_return_type = "KeySetReport")]
    pub fn key_set_fetched(
        &self,
        source: usize,
        #[wasm_bindgen(unchecked_param_type = "KeySetFetchResult")] result: JsValue,
        now_secs: f64,
    ) -> Result<JsValue, JsError> {
        let spec = self
            .sources
            .get(source)
            .ok_or_else(|| JsError::new("keySetFetched: no such key source"))?;
        if !now_secs.is_finite() {
            return Err(JsError::new("keySetFetched: nowSecs must be finite"));
        }
        let now = now_secs.floor() as i64;
        let result: FetchResultJs = serde_wasm_bindgen::from_value(result).map_err(|_| {
            JsError::new(
                "keySetFetched: result must be {ok, body?, cacheControl?, fetchedAt?, error?}",
            )
        })?;
        let result = match (result.ok, result.body) {
            (true, Some(body)) => FetchResult::Document {
                body,
                cache_control: result.cache_control,
                fetched_at: result
                    .fetched_at
                    .filter(|t| t.is_finite())
                    .map_or(now, |t| t.floor() as i64),
            },
            (true, None) => FetchResult::Failed {
                error: "no body".into(),
            },
            (false, _) => FetchResult::Failed {
                error: result.error.unwrap_or_else(|| "fetch failed".into()),
            },
        };
        let report = self
            .inner
            .key_set_fetched(source, result, now)
            .ok_or_else(|| JsError::new("keySetFetched: no such key source"))?;
        Ok(to_js(&ReportJs {
            source,
            url: &spec.url,
            accepted: report.accepted,
            keys: report.keys,
            skipped: report
                .skipped
                .iter()
                .map(|k| match (k.index, &k.kid) {
                    (Some(i), Some(kid)) => {
                        format!("keys[{i}] (kid {kid:?}): {}: {}", k.why, k.detail)
                    }
                    (Some(i), None) => format!("keys[{i}]: {}: {}", k.why, k.detail),
                    _ => format!("{}: {}", k.why, k.detail),
                })
                .collect(),
            error: report.error,
            fetched_at: report.fetched_at,
            fresh_until: report.fresh_until,
            stale_until: report.stale_until,
            generation: report.generation,
        }))
    }

    /// Continues `exchange` after its `keySetNeed` was answered with
    /// `keySetFetched` (whatever the fetch gave). Look at both
    /// `exchange.keySetNeed` and `exchange.signatureCheck` afterwards.
    #[wasm_bindgen(js_name = resumeKeys)]
    pub fn resume_keys(&self, exchange: &mut PendingExchange) {
        if let Some(Ok(ex)) = exchange.state.take() {
            exchange.state = Some(Ok(ex.resume_keys(&self.inner)));
        }
    }

    /// Every remote key set the configuration names (for hosts that warm
    /// them at startup).
    #[wasm_bindgen(js_name = keySources, unchecked_return_type = "KeySource[]")]
    pub fn key_sources(&self) -> JsValue {
        let sources: Vec<SourceJs<'_>> = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| SourceJs {
                source: i,
                url: &s.url,
                kind: s.kind.as_str(),
                owner: s.owner_path(),
                timeout_ms: s.policy.fetch_timeout_ms,
                max_bytes: s.kind.max_bytes(),
            })
            .collect();
        to_js(&sources)
    }

    /// Answers every pending check of `exchange` in wasm (the pure-Rust
    /// backend), for hosts without WebCrypto; stops at a `keySetNeed`.
    #[wasm_bindgen(js_name = resumeInWasm)]
    #[cfg(feature = "rust-crypto")]
    pub fn resume_in_wasm(&self, exchange: &mut PendingExchange) {
        if let Some(Ok(ex)) = exchange.state.take() {
            let backend = crate::backend::RustBackend;
            exchange.state = Some(Ok(self.inner.run(ex, &backend)));
        }
    }

    /// The decision of an answered exchange: a finished (error) response,
    /// or replay keys to claim (see `Prepared`).
    #[wasm_bindgen(js_name = finishExchange)]
    pub fn finish_exchange(&self, mut exchange: PendingExchange) -> Prepared {
        let (result, refused_write) = match exchange.state.take() {
            Some(Ok(ex)) if ex.answer().is_some() => {
                // A revocation's answer: sent as `response`, after the write.
                let answer = ex
                    .answer()
                    .cloned()
                    .unwrap_or_else(|| OAuthError::server_error().to_http());
                let write = ex.family_write().cloned();
                let mark = ex.revocation_mark().cloned();
                return Prepared {
                    result: Err(answer),
                    refused_write: write,
                    mark,
                };
            }
            Some(Ok(ex)) => {
                let write = ex.family_write().cloned();
                let outcome = ex.outcome();
                let refused_write = if outcome.is_err() { write } else { None };
                (outcome, refused_write)
            }
            Some(Err(e)) => (Err(e), None),
            None => (Err(OAuthError::server_error()), None),
        };
        Prepared {
            result: result.map_err(|e| e.to_http()),
            refused_write,
            mark: None,
        }
    }

    /// Declares that this host stores refresh-token families (answers
    /// `familyNeed`, writes `familyWrite` with compare and swap): only then
    /// are refresh tokens issued.
    #[wasm_bindgen(js_name = enableRefreshTokens)]
    pub fn enable_refresh_tokens(&mut self) {
        self.inner.enable_refresh_tokens();
    }

    /// The explain report of an answered exchange begun with
    /// `beginExplain`; `usedKeys` are its replay keys already claimed.
    #[wasm_bindgen(js_name = finishExplain, unchecked_return_type = "Explanation")]
    pub fn finish_explain(&self, mut exchange: PendingExchange, used_keys: Vec<String>) -> JsValue {
        let explanation = match exchange.state.take() {
            Some(Ok(ex)) => ex.explain(&self.inner, &|k: &str| used_keys.iter().any(|u| u == k)),
            Some(Err(e)) => crate::explain::Explanation::refused((&e).into()),
            None => return JsValue::UNDEFINED,
        };
        to_js(&explanation)
    }

    /// The access token for a request whose replay keys were all claimed,
    /// for the host to sign (endpoints whose host signs).
    #[wasm_bindgen(js_name = tokenToSign)]
    pub fn token_to_sign(&self, prepared: Prepared, now_secs: f64) -> PendingSignature {
        let result = match (prepared.result, seconds(now_secs)) {
            (Err(response), _) => Err(response),
            (Ok(_), None) => Err(OAuthError::server_error().to_http()),
            (Ok(pending), Some(now)) => self
                .inner
                .token_to_sign(pending, now)
                .map_err(|e| e.to_http()),
        };
        PendingSignature { result }
    }

    /// The token response with the host's 64-byte ES256 signature.
    #[wasm_bindgen(js_name = finishToken, unchecked_return_type = "HttpResponse")]
    pub fn finish_token(&self, token: PendingSignature, signature: &[u8]) -> JsValue {
        let response = match token.result {
            Err(response) => response,
            Ok(unsigned) => match unsigned.finish(signature) {
                Ok(token) => token.to_http(),
                Err(e) => e.to_http(),
            },
        };
        to_js(&response)
    }

    /// Whether the signing key was generated for this instance only.
    #[wasm_bindgen(getter, js_name = ephemeralKey)]
    pub fn ephemeral_key(&self) -> bool {
        self.inner.ephemeral_key()
    }

    /// Path of the token endpoint.
    #[wasm_bindgen(getter, js_name = tokenPath)]
    pub fn token_path(&self) -> String {
        self.inner.token_path().to_owned()
    }

    /// Path of the RFC 8414 metadata document.
    #[wasm_bindgen(getter, js_name = metadataPath)]
    pub fn metadata_path(&self) -> String {
        self.inner.metadata_path().to_owned()
    }

    /// Path of the JWK Set.
    #[wasm_bindgen(getter, js_name = jwksPath)]
    pub fn jwks_path(&self) -> String {
        self.inner.jwks_path().to_owned()
    }

    /// Runs every check of a token request; see `Prepared`.
    #[cfg(feature = "rust-crypto")]
    pub fn prepare(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> Prepared {
        let result = with_request(method, headers, body, now_secs, |req, now| {
            self.inner.prepare(req, now)
        });
        Prepared {
            result: result.map_err(|e| e.to_http()),
            refused_write: None,
            mark: None,
        }
    }

    /// Issues the access token once every replay key has been claimed.
    #[wasm_bindgen(unchecked_return_type = "HttpResponse")]
    #[cfg(feature = "rust-crypto")]
    pub fn issue(&self, prepared: Prepared, now_secs: f64) -> JsValue {
        let response = match (prepared.result, seconds(now_secs)) {
            (Err(response), _) => response,
            (Ok(_), None) => OAuthError::server_error().to_http(),
            (Ok(pending), Some(now)) => match self.inner.issue(pending, now) {
                Ok(token) => token.to_http(),
                Err(e) => e.to_http(),
            },
        };
        to_js(&response)
    }

    /// The response when claiming a replay key failed; pass the key that
    /// failed so a reused client assertion answers `invalid_client`.
    #[wasm_bindgen(js_name = replayRejected, unchecked_return_type = "HttpResponse")]
    pub fn replay_rejected(&self, prepared: &Prepared, failed_key: Option<String>) -> JsValue {
        let grant = ReplayKey {
            key: String::new(),
            expires_at: 0,
            kind: ReplayKind::Grant,
            partition: String::new(),
        };
        let failed = match (&prepared.result, failed_key) {
            (Ok(p), Some(k)) => p
                .replay_keys()
                .iter()
                .find(|r| r.key == k)
                .unwrap_or(&grant),
            _ => &grant,
        };
        to_js(&TokenEndpoint::replay_rejected(failed).to_http())
    }

    /// Explains, check by check, what the endpoint would do with this
    /// request at `nowSecs`, without consuming replay entries or signing:
    /// `usedKeys` lists replay keys already claimed in the host's store.
    /// For operators only (it names values the token endpoint never reveals).
    #[wasm_bindgen(unchecked_return_type = "Explanation")]
    #[cfg(feature = "rust-crypto")]
    pub fn explain(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
        used_keys: Option<Vec<String>>,
    ) -> Result<JsValue, JsValue> {
        let headers: Vec<(String, String)> = serde_wasm_bindgen::from_value(headers)
            .map_err(|_| js_sys::Error::new("headers must be an array of [name, value] pairs"))?;
        let now = seconds(now_secs)
            .ok_or_else(|| js_sys::Error::new("nowSecs must be a finite number"))?;
        let used = used_keys.unwrap_or_default();
        let explanation = match HttpRequest::from_headers(
            method,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        ) {
            Ok(req) => self
                .inner
                .explain(&req, now, &|k: &str| used.iter().any(|u| u == k)),
            Err(e) => crate::explain::Explanation::refused((&OAuthError::from(e)).into()),
        };
        Ok(to_js(&explanation))
    }

    /// The replay keys a request would need claimed (for hosts that look
    /// them up before [`Core::explain`]); empty if the request fails.
    #[wasm_bindgen(js_name = replayKeysFor, unchecked_return_type = "string[]")]
    #[cfg(feature = "rust-crypto")]
    pub fn replay_keys_for(
        &self,
        method: &str,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] headers: JsValue,
        body: &[u8],
        now_secs: f64,
    ) -> JsValue {
        let prepared = self.prepare(method, headers, body, now_secs);
        let keys: Vec<String> = match &prepared.result {
            Ok(p) => p.replay_keys().iter().map(|k| k.key.clone()).collect(),
            Err(_) => Vec::new(),
        };
        to_js(&keys)
    }

    /// The RFC 8414 metadata document (JSON text).
    #[wasm_bindgen(js_name = metadataJson)]
    pub fn metadata_json(&self) -> String {
        self.inner.metadata_json().to_owned()
    }

    /// The public JWK Set (JSON text).
    #[wasm_bindgen(js_name = jwksJson)]
    pub fn jwks_json(&self) -> String {
        self.inner.jwks_json().to_owned()
    }
}

#[wasm_bindgen]
impl Prepared {
    /// For the log line of a request that will get a token: the verified
    /// trusted issuer and the authenticated client (`{issuer, client_id?}`),
    /// read without parsing the request again; `undefined` for a refusal.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{ issuer: string; client_id?: string } | undefined"
    )]
    pub fn labels(&self) -> JsValue {
        #[derive(Serialize)]
        struct Labels<'a> {
            issuer: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            client_id: Option<&'a str>,
        }
        match &self.result {
            Ok(p) => to_js(&Labels {
                issuer: p.idp(),
                client_id: p.client_id(),
            }),
            Err(_) => JsValue::UNDEFINED,
        }
    }

    /// The refresh-token family record to write, or `undefined`: for a
    /// token, after the replay keys were claimed and before issuing (a
    /// lost compare and swap answers `hostErrorResponse("refresh_conflict")`
    /// and issues nothing); for a refusal, before answering.
    #[wasm_bindgen(getter, js_name = familyWrite, unchecked_return_type = "{ family: string; expectedVersion: number; version: number; state: string; forgetAt: number } | undefined")]
    pub fn family_write(&self) -> JsValue {
        let write = match &self.result {
            Ok(p) => p.family_write(),
            Err(_) => self.refused_write.as_ref(),
        };
        match write {
            Some(w) => to_js(&FamilyWriteJs {
                family: &w.family,
                expected_version: w.expected_version,
                version: w.version,
                state: &w.state,
                forget_at: w.forget_at,
            }),
            None => JsValue::UNDEFINED,
        }
    }

    /// The revocation mark to claim (`{key, expiresAt, partition}`) before
    /// sending `response`, or `undefined`.
    #[wasm_bindgen(getter, js_name = revocationMark, unchecked_return_type = "{ key: string; expiresAt: number; partition: string } | undefined")]
    pub fn revocation_mark(&self) -> JsValue {
        match &self.mark {
            Some(k) => to_js(&KeyClaim {
                key: &k.key,
                expires_at: k.expires_at,
                kind: "revoked_access_token",
                partition: &k.partition,
            }),
            None => JsValue::UNDEFINED,
        }
    }

    /// The finished response when the request failed; `undefined` otherwise.
    #[wasm_bindgen(getter, unchecked_return_type = "HttpResponse | undefined")]
    pub fn response(&self) -> JsValue {
        match &self.result {
            Err(response) => to_js(response),
            Ok(_) => JsValue::UNDEFINED,
        }
    }

    /// The keys to claim, in order, before issuing.
    #[wasm_bindgen(getter, js_name = replayKeys, unchecked_return_type = "ReplayKeyClaim[]")]
    pub fn replay_keys(&self) -> JsValue {
        let keys: Vec<KeyClaim<'_>> = match &self.result {
            Ok(p) => p
                .replay_keys()
                .iter()
                .map(|k| KeyClaim {
                    key: &k.key,
                    expires_at: k.expires_at,
                    kind: match k.kind {
                        ReplayKind::Grant => "grant",
                        ReplayKind::ClientAssertion => "client_assertion",
                        ReplayKind::DpopProof => "dpop_proof",
                        ReplayKind::RevokedAccessToken => "revoked_access_token",
                    },
                    partition: &k.partition,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        to_js(&keys)
    }
}

/// An answer a host sends outside a token exchange (see
/// [`OAuthError::host`]): `server_error`, `not_found`,
/// `document_method_not_allowed`, `replay_store_unavailable`,
/// `body_too_large`, `explain_input`. Hosts read these once, at start, so that even a host
/// whose wasm instance just trapped answers with the core's bytes.
#[wasm_bindgen(js_name = hostErrorResponse, unchecked_return_type = "HttpResponse")]
pub fn host_error_response(kind: &str) -> JsValue {
    to_js(&OAuthError::host(kind).to_http())
}

/// `hostErrorResponse("replay_store_unavailable")`, kept for hosts of the
/// raw core written before it.
#[wasm_bindgen(js_name = replayStoreUnavailableResponse, unchecked_return_type = "HttpResponse")]
pub fn replay_store_unavailable_response() -> JsValue {
    host_error_response("replay_store_unavailable")
}

/// `hostErrorResponse("body_too_large")`, kept for hosts of the raw core
/// written before it.
#[wasm_bindgen(js_name = bodyTooLargeResponse, unchecked_return_type = "HttpResponse")]
pub fn body_too_large_response() -> JsValue {
    host_error_response("body_too_large")
}

/// Verifies one signature with the core's pure-Rust backend: `alg` a JOSE
/// name (or `RS1`), `jwk` a public JWK (JSON text) as configured keys are
/// parsed. For tests that hold the two backends to the same answers.
#[wasm_bindgen(js_name = verifySignatureInWasm)]
#[cfg(feature = "rust-crypto")]
pub fn verify_signature_in_wasm(alg: &str, jwk: &str, message: &[u8], signature: &[u8]) -> bool {
    let alg = match alg {
        "RS1" => Some(crate::crypto::Algorithm::RS1),
        name => crate::crypto::Algorithm::from_jose(name),
    };
    let key = serde_json::from_str(jwk)
        .ok()
        .and_then(|v| crate::jose::parse_public_jwk(&v).ok());
    match (alg, key) {
        (Some(alg), Some(key)) => crate::crypto::verify(alg, key.key(), message, signature).is_ok(),
        _ => false,
    }
}

/// A public JWK (JSON text) checked by the rules configured keys follow
/// (RSA 2048–8192 bits and a sane exponent, P-256 points on the curve) and
/// reduced to its key members; throws for anything else.
#[wasm_bindgen(js_name = publicKeyJwk)]
pub fn public_key_jwk(jwk: &str) -> Result<String, JsValue> {
    let value: serde_json::Value =
        serde_json::from_str(jwk).map_err(|e| js_sys::Error::new(&format!("JWK: {e}")))?;
    let key = crate::jose::parse_public_jwk(&value)
        .map_err(|e| js_sys::Error::new(&format!("JWK: {e}")))?;
    Ok(key.key().to_jwk().to_string())
}

/// Test hook: executes a WebAssembly `unreachable`, trapping the instance
/// exactly as a bug would (a `RuntimeError` in JS). The npm API's trap
/// recovery (poison the instance, re-instantiate) is tested with it. It
/// reads and changes nothing; only code running in the same JS realm can
/// call it.
#[doc(hidden)]
#[wasm_bindgen(js_name = __trapForTests)]
pub fn trap_for_tests() {
    core::arch::wasm32::unreachable()
}

/// Whether this build carries the pure-Rust signature backend (feature
/// `rust-crypto`): in-wasm verification and signing, the ephemeral key, the
/// test IdP. The build the Worker ships does not.
#[wasm_bindgen(js_name = hasRustCrypto)]
pub fn has_rust_crypto() -> bool {
    cfg!(feature = "rust-crypto")
}

/// The request-body limit the core enforces (bytes); hosts stop reading
/// past it.
#[wasm_bindgen(js_name = maxBodyBytes)]
pub fn max_body_bytes() -> usize {
    crate::limits::MAX_BODY_BYTES
}

/// A new private EC P-256 JWK (JSON) for `AG_SIGNING_KEY`.
#[wasm_bindgen(js_name = generateSigningKey)]
#[cfg(feature = "rust-crypto")]
pub fn generate_signing_key(kid: Option<String>) -> Result<String, JsValue> {
    crate::generate_signing_key_jwk(kid)
        .map_err(|_| js_sys::Error::new("no randomness available").into())
}

/// Lowercase hex SHA-256 of a client secret, for `client_secret_sha256`.
#[wasm_bindgen(js_name = hashClientSecret)]
pub fn hash_client_secret(secret: &str) -> String {
    crate::hash_client_secret(secret)
}

/// Validates a configuration document completely (`assertion-grant
/// check-config`): `{valid: true, effective}` — the document with every
/// default filled in — or `{valid: false, errors: [{path, reason}]}` with
/// every error found, in document order.
#[wasm_bindgen(js_name = checkConfig, unchecked_return_type = "{ valid: boolean; errors?: Array<{ path: string; reason: string }>; effective?: object }")]
#[cfg(feature = "operator-tools")]
pub fn check_config(text: &str) -> JsValue {
    #[derive(Serialize)]
    struct Report {
        valid: bool,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        errors: Vec<ErrorEntry>,
        #[serde(skip_serializing_if = "Option::is_none")]
        effective: Option<serde_json::Value>,
    }
    #[derive(Serialize)]
    struct ErrorEntry {
        path: String,
        reason: String,
    }
    let report = match crate::Config::check_json(text) {
        Ok(config) => Report {
            valid: true,
            errors: Vec::new(),
            effective: config.effective_json(text),
        },
        Err(errors) => Report {
            valid: false,
            errors: errors
                .into_iter()
                .map(|e| ErrorEntry {
                    path: e.path,
                    reason: e.reason,
                })
                .collect(),
            effective: None,
        },
    };
    to_js(&report)
}

/// The built-in demo configuration (JSON text).
#[wasm_bindgen(js_name = demoConfig)]
pub fn demo_config() -> String {
    crate::DEMO_CONFIG.to_owned()
}

/// Reads an IdP's SAML metadata (`EntityDescriptor` with an
/// `IDPSSODescriptor`) and returns the `trusted_issuers` entry (JSON text):
/// `{"issuer": entityID, "format": "saml2", "x509_certificates": [...]}`.
/// Throws an Error with `code = "invalid_metadata"`.
#[wasm_bindgen(js_name = importSamlMetadata)]
pub fn import_saml_metadata(xml: &str) -> Result<String, JsValue> {
    match crate::saml_metadata::parse_idp_metadata(xml) {
        Ok(m) => Ok(m.trusted_issuer_entry().to_string()),
        Err(e) => {
            let err = js_sys::Error::new(&e.to_string());
            let _ = js_sys::Reflect::set(&err, &"code".into(), &"invalid_metadata".into());
            Err(err.into())
        }
    }
}

/// Mints a signed test assertion (the debugger's built-in test IdP; never
/// for production): `spec` is JSON `{format: "jwt"|"saml2", issuer, subject,
/// audience, recipient?, now, lifetime_secs, attributes?}`, `privateJwk` an
/// EC P-256 private JWK (see `generateSigningKey`). Returns the `assertion`
/// parameter (a JWS, or base64url SAML XML).
#[wasm_bindgen(js_name = mintTestAssertion)]
#[cfg(all(feature = "rust-crypto", feature = "test-idp"))]
pub fn mint_test_assertion(spec: &str, private_jwk: &str) -> Result<String, JsValue> {
    let spec: crate::test_idp::TestAssertion = serde_json::from_str(spec)
        .map_err(|e| js_sys::Error::new(&format!("test assertion spec: {e}")))?;
    let key = test_idp_key(private_jwk)?;
    crate::test_idp::mint(&spec, &key).map_err(|e| js_sys::Error::new(&e).into())
}

/// The `trusted_issuers` entry (JSON text) that trusts the test IdP key
/// `publicJwk` (an EC P-256 JWK without `d`) as `issuer` for `format`.
#[wasm_bindgen(js_name = testIdpTrustEntry)]
#[cfg(feature = "test-idp")]
pub fn test_idp_trust_entry(
    format: &str,
    issuer: &str,
    public_jwk: &str,
) -> Result<String, JsValue> {
    let key = public_signing_keys_from_json(public_jwk)
        .map_err(config_error)?
        .into_iter()
        .next()
        .ok_or_else(|| JsValue::from(js_sys::Error::new("no key")))?;
    Ok(crate::test_idp::trust_entry(format, issuer, &key).to_string())
}

/// A test assertion waiting for the host's ES256 signature (the debugger's
/// test IdP signs with WebCrypto): sign `toSign`, then `finish`.
#[cfg(feature = "test-idp")]
#[wasm_bindgen]
pub struct UnsignedTestAssertion {
    inner: Option<crate::test_idp::UnsignedAssertion>,
}

#[cfg(feature = "test-idp")]
#[wasm_bindgen]
impl UnsignedTestAssertion {
    /// The bytes to sign (ECDSA P-256 with SHA-256).
    #[wasm_bindgen(getter, js_name = toSign)]
    pub fn to_sign(&self) -> Vec<u8> {
        self.inner
            .as_ref()
            .map(|u| u.to_sign().to_vec())
            .unwrap_or_default()
    }

    /// The `assertion` parameter with the 64-byte `r‖s` signature in it.
    pub fn finish(&mut self, signature: &[u8]) -> Result<String, JsValue> {
        let signature: &[u8; 64] = signature
            .try_into()
            .map_err(|_| js_sys::Error::new("the signature must be 64 bytes (r‖s)"))?;
        let unsigned = self
            .inner
            .take()
            .ok_or_else(|| js_sys::Error::new("already finished"))?;
        Ok(unsigned.finish(signature))
    }
}

/// Builds a test assertion (`spec` as for `mintTestAssertion`) for the key
/// `kid`, to be signed by the host.
#[wasm_bindgen(js_name = prepareTestAssertion)]
#[cfg(feature = "test-idp")]
pub fn prepare_test_assertion(spec: &str, kid: &str) -> Result<UnsignedTestAssertion, JsValue> {
    let spec: crate::test_idp::TestAssertion = serde_json::from_str(spec)
        .map_err(|e| js_sys::Error::new(&format!("test assertion spec: {e}")))?;
    let inner = crate::test_idp::prepare(&spec, kid).map_err(|e| js_sys::Error::new(&e))?;
    Ok(UnsignedTestAssertion { inner: Some(inner) })
}

#[cfg(all(feature = "rust-crypto", feature = "test-idp"))]
fn test_idp_key(private_jwk: &str) -> Result<crate::crypto::SigningKey, JsValue> {
    let keys = signing_keys_from_json(private_jwk).map_err(config_error)?;
    keys.into_iter()
        .next()
        .ok_or_else(|| js_sys::Error::new("no key").into())
}

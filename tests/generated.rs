//! Files generated from the one source of each fact, and the documents that
//! must agree with it. Each test renders the file from the Rust source and
//! compares; `UPDATE_GENERATED=1 cargo test --test generated` rewrites them.
//!
//! | file | source |
//! |---|---|
//! | `docs/reasons.md` | `src/reason.rs` (the `Reason` table) |
//! | `docs/configuration.md` | `src/config/schema.rs` (the fields' doc comments) |
//! | `js/constants.js`, `js/constants.d.ts` | `src/protocol.rs`, `src/limits.rs`, `Reason`, `CheckId` |
//!
//! Checked, not generated: `js/index.d.ts` has exactly the schema's config
//! fields; README and SECURITY.md name every `dangerous` option.
#![cfg(not(target_arch = "wasm32"))]

use assertion_grant::Reason;
use assertion_grant::explain::CheckId;
use assertion_grant::limits::MAX_BODY_BYTES;
use assertion_grant::protocol::*;
use std::path::Path;

const SCHEMA_RS: &str = include_str!("../src/config/schema.rs");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `path` with `want`, or rewrites it under `UPDATE_GENERATED=1`.
fn generated(path: &str, want: &str) {
    let file = root().join(path);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "{path} is out of date: run `UPDATE_GENERATED=1 cargo test --test generated` and commit it"
    );
}

#[test]
fn reasons_table() {
    generated(
        "docs/reasons.md",
        &assertion_grant::reason::markdown_table(),
    );
}

// ---- the configuration schema -------------------------------------------------

/// One documented field of a schema struct.
#[derive(Debug)]
struct Field {
    /// `trusted_issuers[].dangerous.allow_sha1`
    path: String,
    name: String,
    ty: String,
    doc: String,
}

/// The schema structs in document order, with the JSON path of each.
const STRUCTS: [(&str, &str); 6] = [
    ("ConfigDocument", ""),
    ("AccessTokenSettings", "access_token."),
    ("IssuerSettings", "trusted_issuers[]."),
    ("Dangerous", "trusted_issuers[].dangerous."),
    ("ClientSettings", "clients[]."),
    ("KeyCacheSettings", "key_cache."),
];

/// The schema structs the reference does not list, whose fields can carry a
/// `Risk:` all the same.
const MORE_RISK_STRUCTS: [(&str, &str); 2] = [
    ("DpopSettings", "dpop."),
    ("RefreshTokenSettings", "refresh_token."),
];

/// Reads `pub struct X { /// docs \n pub field: Type, … }` from schema.rs
/// (rustfmt's layout; a field without docs fails the test).
fn schema_fields() -> Vec<(String, String, Vec<Field>)> {
    fields_of(&STRUCTS)
}

fn fields_of(structs: &[(&str, &str)]) -> Vec<(String, String, Vec<Field>)> {
    let mut out = Vec::new();
    for &(name, prefix) in structs {
        let start = SCHEMA_RS
            .find(&format!("pub struct {name} {{"))
            .unwrap_or_else(|| panic!("schema.rs has no struct {name}"));
        // The struct's own doc comment: the lines just above its attributes.
        let above: Vec<&str> = SCHEMA_RS[..start].lines().rev().collect();
        let struct_doc: Vec<&str> = above
            .iter()
            .skip_while(|l| l.starts_with("#["))
            .take_while(|l| l.starts_with("///"))
            .map(|l| l.trim_start_matches("///").trim())
            .collect();
        let struct_doc = struct_doc.into_iter().rev().collect::<Vec<_>>().join(" ");
        let body = &SCHEMA_RS[start..];
        let body = &body[..body.find("\n}").unwrap()];
        let mut fields = Vec::new();
        let mut doc = Vec::new();
        for line in body.lines().skip(1).map(str::trim) {
            if let Some(d) = line.strip_prefix("///") {
                doc.push(d.trim().to_owned());
            } else if let Some(decl) = line.strip_prefix("pub ") {
                let (field, ty) = decl.trim_end_matches(',').split_once(": ").unwrap();
                assert!(!doc.is_empty(), "{name}.{field} has no doc comment");
                fields.push(Field {
                    path: format!("{prefix}{field}"),
                    name: field.to_owned(),
                    ty: ty.to_owned(),
                    doc: doc.join(" "),
                });
                doc.clear();
            }
        }
        out.push((
            format!("`{}`", prefix.trim_end_matches('.')),
            struct_doc,
            fields,
        ));
    }
    out
}

fn json_type(ty: &str) -> &'static str {
    let inner = ty
        .strip_prefix("Option<")
        .map_or(ty, |t| t.strip_suffix('>').unwrap());
    match inner {
        "String" => "string",
        "bool" => "boolean",
        "i64" | "u64" => "integer",
        "Value" => "JWK Set",
        "Vec<String>" => "array of strings",
        "BTreeMap<String, String>" => "object of strings",
        "ScopePolicy" | "AssertionFormat" | "AuthMethod" => "string (enum)",
        "AccessTokenSettings"
        | "Dangerous"
        | "KeyCacheSettings"
        | "DpopSettings"
        | "RefreshTokenSettings" => "object",
        "Vec<IssuerSettings>" | "Vec<ClientSettings>" => "array of objects",
        other => panic!("no JSON name for {other}"),
    }
}

fn configuration_md() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from the doc comments of src/config/schema.rs by \
         `UPDATE_GENERATED=1 cargo test --test generated`; do not edit. -->\n\n\
         One JSON document (`AG_CONFIG`), validated completely at load: unknown fields are \
         errors and every error names the field. Options that weaken a check live under \
         `trusted_issuers[].dangerous`; their older top-level spellings still load and are \
         deprecated.\n",
    );
    for (path, doc, fields) in schema_fields() {
        let title = if path == "``" { "The document" } else { &path };
        out.push_str(&format!(
            "\n## {title}\n\n{doc}\n\n| field | type | meaning |\n|---|---|---|\n"
        ));
        for f in fields {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                f.path,
                json_type(&f.ty),
                f.doc.replace('|', "\\|")
            ));
        }
    }
    out
}

#[test]
fn configuration_reference() {
    let fields: Vec<Field> = schema_fields().into_iter().flat_map(|s| s.2).collect();
    for f in &fields {
        // Every optional or defaulted field states its default.
        let required = f.doc.contains("Required");
        assert!(
            required || f.doc.contains("Default:"),
            "{}: the doc comment states no default (or `Required.`)",
            f.path
        );
    }
    for f in fields.iter().filter(|f| f.path.contains(".dangerous.")) {
        assert!(
            f.doc.contains("Risk:"),
            "{}: a dangerous option states its risk",
            f.path
        );
    }
    generated("docs/configuration.md", &configuration_md());
}

/// The field names of one `export interface X { … }` in index.d.ts.
fn ts_interface_fields(dts: &str, name: &str) -> Vec<String> {
    let start = dts
        .find(&format!("export interface {name} {{"))
        .unwrap_or_else(|| panic!("index.d.ts has no interface {name}"));
    let body = &dts[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.starts_with("/*") && !l.starts_with('*') && !l.starts_with("//"))
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, _)| n.trim_end_matches('?').to_owned())
        })
        .filter(|n| !n.is_empty() && !n.contains(' '))
        .collect()
}

#[test]
fn typescript_config_types_match_the_schema() {
    let dts = std::fs::read_to_string(root().join("js/index.d.ts")).unwrap();
    let pairs = [
        ("ConfigDocument", "Config"),
        ("AccessTokenSettings", "AccessTokenConfig"),
        ("IssuerSettings", "TrustedIssuerConfig"),
        ("Dangerous", "DangerousIssuerOptions"),
        ("ClientSettings", "ClientConfig"),
        ("KeyCacheSettings", "KeyCacheConfig"),
        ("DpopSettings", "DpopConfig"),
        ("RefreshTokenSettings", "RefreshTokenConfig"),
    ];
    let schema = schema_fields();
    for ((rust, ts), (_, _, fields)) in pairs.iter().zip(&schema) {
        let mut want: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        let mut have = ts_interface_fields(&dts, ts);
        want.sort();
        have.sort();
        assert_eq!(have, want, "index.d.ts {ts} vs schema.rs {rust}");
    }
}

#[test]
fn readme_and_security_name_every_dangerous_option() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let security = std::fs::read_to_string(root().join("SECURITY.md")).unwrap();
    let fields: Vec<Field> = schema_fields().into_iter().flat_map(|s| s.2).collect();
    for f in fields.iter().filter(|f| f.path.contains(".dangerous.")) {
        let name = format!("dangerous.{}", f.name);
        assert!(readme.contains(&name), "README.md does not mention {name}");
        assert!(
            security.contains(&name),
            "SECURITY.md does not mention {name}"
        );
    }
    assert!(readme.contains("docs/configuration.md"));
    assert!(readme.contains("docs/reasons.md"));
}

// ---- constants for JavaScript ---------------------------------------------------

fn js_string_list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.map(|s| format!("  {s:?},\n")).collect();
    format!("[\n{}]", items.concat())
}

/// `{ "path": "what setting it gives up", … }` for every schema field whose
/// doc comment has a `Risk:` (the CLI's check-config calls them out).
fn config_risks_js() -> String {
    let mut out = String::from("{");
    let structs = STRUCTS.iter().chain(&MORE_RISK_STRUCTS).copied();
    for f in fields_of(&structs.collect::<Vec<_>>())
        .into_iter()
        .flat_map(|s| s.2)
    {
        if let Some((_, risk)) = f.doc.split_once("Risk:") {
            // The risk is the text after "Risk:", up to the next "Default:".
            let risk = risk.split("Default:").next().unwrap_or(risk).trim();
            out.push_str(&format!("\n  {:?}: {:?},", f.path, risk));
        }
    }
    out.push_str("\n}");
    out
}

fn constants_js() -> String {
    let risks = config_risks_js();
    let reasons = js_string_list(Reason::ALL.iter().map(|r| r.code().to_owned()));
    let checks = js_string_list(CheckId::ALL.iter().map(|c| c.id().to_owned()));
    let reserved = js_string_list(RESERVED_CLAIMS.iter().map(|c| (*c).to_owned()));
    format!(
        "// Generated from src/protocol.rs, src/limits.rs and src/reason.rs by\n\
         // `UPDATE_GENERATED=1 cargo test --test generated`; do not edit.\n\n\
         /** Grant type URN for RFC 7523 JWT bearer assertions. */\n\
         export const JWT_BEARER = {GRANT_JWT_BEARER:?};\n\
         /** Grant type URN for RFC 7522 SAML 2.0 bearer assertions. */\n\
         export const SAML2_BEARER = {GRANT_SAML2_BEARER:?};\n\
         /** client_assertion_type URN for RFC 7523 §2.2 client authentication. */\n\
         export const CLIENT_ASSERTION_JWT_BEARER = {CLIENT_ASSERTION_JWT:?};\n\
         /** client_assertion_type URN for RFC 7522 §2.2 client authentication. */\n\
         export const CLIENT_ASSERTION_SAML2_BEARER = {CLIENT_ASSERTION_SAML2:?};\n\
         /** Largest request body the endpoint reads; larger bodies get 413 invalid_request. */\n\
         export const MAX_BODY_BYTES = {MAX_BODY_BYTES};\n\
         /** Access-token claims the server sets or vouches for: never mapped from an assertion. */\n\
         export const RESERVED_CLAIMS = Object.freeze({reserved});\n\
         /** Every stable reason code (docs/reasons.md). */\n\
         export const REASON_CODES = Object.freeze({reasons});\n\
         /** Every explain check id. */\n\
         export const CHECK_IDS = Object.freeze({checks});\n\
         /** Configuration fields that give something up when set (the schema's `Risk:`), by path. */\n\
         export const CONFIG_RISKS = Object.freeze({risks});\n"
    )
}

fn constants_dts() -> String {
    let union = |items: Vec<String>| {
        items
            .iter()
            .map(|s| format!("\n  | {s:?}"))
            .collect::<String>()
    };
    format!(
        "// Generated from src/protocol.rs, src/limits.rs and src/reason.rs by\n\
         // `UPDATE_GENERATED=1 cargo test --test generated`; do not edit.\n\n\
         export declare const JWT_BEARER: {GRANT_JWT_BEARER:?};\n\
         export declare const SAML2_BEARER: {GRANT_SAML2_BEARER:?};\n\
         export declare const CLIENT_ASSERTION_JWT_BEARER: {CLIENT_ASSERTION_JWT:?};\n\
         export declare const CLIENT_ASSERTION_SAML2_BEARER: {CLIENT_ASSERTION_SAML2:?};\n\
         export declare const MAX_BODY_BYTES: {MAX_BODY_BYTES};\n\
         export declare const RESERVED_CLAIMS: readonly string[];\n\
         /** A stable reason code (docs/reasons.md). */\n\
         export type ReasonCode ={};\n\
         /** An explain check id. */\n\
         export type CheckId ={};\n\
         export declare const REASON_CODES: readonly ReasonCode[];\n\
         export declare const CHECK_IDS: readonly CheckId[];\n\
         /** Configuration fields that give something up when set (the schema's `Risk:`), by path (`trusted_issuers[].max_lifetime_secs`). */\n\
         export declare const CONFIG_RISKS: Readonly<Record<string, string>>;\n",
        union(Reason::ALL.iter().map(|r| r.code().to_owned()).collect()),
        union(CheckId::ALL.iter().map(|c| c.id().to_owned()).collect()),
    )
}

#[test]
fn javascript_constants() {
    generated("js/constants.js", &constants_js());
    generated("js/constants.d.ts", &constants_dts());
}

// ---- explain reports ------------------------------------------------------------

#[test]
fn typescript_explain_types_match_the_report() {
    use assertion_grant::{Config, HttpRequest, TokenEndpoint};
    let endpoint =
        TokenEndpoint::with_ephemeral_key(Config::from_json(assertion_grant::DEMO_CONFIG).unwrap())
            .unwrap();
    let request = HttpRequest {
        method: "POST",
        content_type: Some("application/x-www-form-urlencoded"),
        authorization: None,
        dpop: None,
        body: b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z",
    };
    let report =
        serde_json::to_value(endpoint.explain(&request, 1_800_000_000, &|_| false)).unwrap();
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["outcome"] == "fail")
        .expect("a failed check");
    let mut have: Vec<String> = failed.as_object().unwrap().keys().cloned().collect();
    have.sort();
    let dts = std::fs::read_to_string(root().join("js/index.d.ts")).unwrap();
    let mut want = ts_interface_fields(&dts, "ExplainCheck");
    want.sort();
    assert_eq!(have, want, "index.d.ts ExplainCheck vs a failed check");
    // Every top-level member of a report (token_claims only when issuing).
    let mut have: Vec<String> = report.as_object().unwrap().keys().cloned().collect();
    have.push("token_claims".into());
    have.sort();
    let mut want = ts_interface_fields(&dts, "Explanation");
    want.sort();
    assert_eq!(have, want, "index.d.ts Explanation vs a report");
    let mut error: Vec<String> = report["error"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    error.sort();
    assert_eq!(error, ["error", "error_description", "reason", "status"]);
    assert!(
        dts.contains("error?: { error: string; reason: ReasonCode; error_description: string; status: number };"),
        "index.d.ts Explanation.error lists error, reason, error_description, status"
    );
}

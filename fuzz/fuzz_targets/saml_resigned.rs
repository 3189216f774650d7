//! SAML rules *behind* the signature: the input is an (unsigned) assertion;
//! the harness canonicalizes it, inserts an enveloped XML-DSig Signature
//! after the root's first child (the Issuer), signs it with the
//! saml-ec-idp test key (ES256, exclusive c14n, SHA-256 digest) and sends
//! it through `TokenEndpoint::prepare` on the SAML test configuration with
//! Basic basic-client. Plain fuzzing never gets past the signature; this
//! target exercises Audience, Recipient, SubjectConfirmation, times,
//! conditions, attribute mapping and the replay key on fuzzed content.
//!
//! Assertions whose Issuer is not `https://saml-ec-idp.example.com` stop
//! at the signature (wrong key), as they should.
#![no_main]

use assertion_grant::crypto::{DigestAlgorithm, digest};
use assertion_grant::xml::c14n::{Method, canonicalize};
use assertion_grant::xml::{Document, Limits};
use assertion_grant::xmldsig::DSIG_NS;
use assertion_grant::HttpRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fuzz_common::{FORM, GRANT_SAML2, b64url, basic, enc, exercise, saml_ec_signer, saml_endpoint};
use libfuzzer_sys::fuzz_target;

const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Where to insert the Signature in canonical XML: after the root's first
/// child element, or right after the root's start tag if it has none.
fn insertion_point(c: &[u8]) -> Option<usize> {
    // End of a start tag at `i` (canonical attribute values hold no `"`).
    fn tag_end(c: &[u8], mut i: usize) -> Option<usize> {
        let mut quoted = false;
        while i < c.len() {
            match c[i] {
                b'"' => quoted = !quoted,
                b'>' if !quoted => return Some(i + 1),
                _ => {}
            }
            i += 1;
        }
        None
    }
    let root_end = tag_end(c, 0)?;
    let mut i = root_end;
    let mut depth = 0usize;
    while i < c.len() {
        if c[i] != b'<' {
            i += 1;
            continue;
        }
        match c.get(i + 1) {
            Some(b'?') => {
                i += c[i..].windows(2).position(|w| w == b"?>")? + 2;
            }
            Some(b'/') => {
                if depth == 0 {
                    return Some(root_end);
                }
                i = tag_end(c, i)?;
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {
                i = tag_end(c, i)?;
                depth += 1;
            }
        }
    }
    None
}

fn attr_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn signature(id: &str, digest_b64: &str, sig_b64: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC}\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>\
         <ds:Reference URI=\"#{}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"{EXC}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>{digest_b64}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>{sig_b64}</ds:SignatureValue></ds:Signature>",
        attr_escape(id)
    )
}

fn splice(c: &[u8], at: usize, sig: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.len() + sig.len());
    out.extend_from_slice(&c[..at]);
    out.extend_from_slice(sig.as_bytes());
    out.extend_from_slice(&c[at..]);
    out
}

/// The `ds:Signature` child of the root and its `ds:SignedInfo`.
fn signature_nodes(doc: &Document) -> Option<(usize, usize)> {
    let (sig, _) = doc.child_elements(doc.root()).find(|(_, e)| e.is(DSIG_NS, "Signature"))?;
    let (si, _) = doc.child_elements(sig).find(|(_, e)| e.is(DSIG_NS, "SignedInfo"))?;
    Some((sig, si))
}

fn sign(xml: &[u8]) -> Option<Vec<u8>> {
    let limits = Limits::default();
    let doc = Document::parse(xml, &limits).ok()?;
    let exc = Method::Exclusive { inclusive_prefixes: Vec::new() };
    let c = canonicalize(&doc, doc.root(), None, &exc);
    let id = doc.root_element().attr("ID").unwrap_or("").to_owned();
    let at = insertion_point(&c)?;

    // Digest of the root minus the Signature, as the verifier computes it.
    let draft = splice(&c, at, &signature(&id, "", ""));
    let draft_doc = Document::parse(&draft, &limits).ok()?;
    let (sig, _) = signature_nodes(&draft_doc)?;
    let content = canonicalize(&draft_doc, draft_doc.root(), Some(sig), &exc);
    let digest_b64 = STANDARD.encode(digest(DigestAlgorithm::Sha256, &content));

    // Sign the canonical SignedInfo.
    let with_digest = splice(&c, at, &signature(&id, &digest_b64, ""));
    let with_digest_doc = Document::parse(&with_digest, &limits).ok()?;
    let (_, signed_info) = signature_nodes(&with_digest_doc)?;
    let si = canonicalize(&with_digest_doc, signed_info, None, &exc);
    let sig_b64 = STANDARD.encode(saml_ec_signer().sign_es256(&si));
    Some(splice(&c, at, &signature(&id, &digest_b64, &sig_b64)))
}

fuzz_target!(|data: &[u8]| {
    let Some(signed) = sign(data) else { return };
    let body = format!(
        "grant_type={}&assertion={}",
        enc(GRANT_SAML2.as_bytes()),
        b64url(&signed)
    );
    let auth = basic("basic-client", "basic-secret");
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(&auth),
        dpop: None,
        body: body.as_bytes(),
    };
    exercise(saml_endpoint(), &req);
});

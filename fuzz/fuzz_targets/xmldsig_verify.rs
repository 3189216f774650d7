//! `xmldsig::verify_enveloped` over any parsed document, under the policies
//! of the SAML test configuration's issuers (their certificates' keys as
//! JWKs, see `keys/gen_keys.py`) and one with every key and opt-in.
#![no_main]

use assertion_grant::xml::{Document, Limits};
use assertion_grant::xmldsig::{DSIG_NS, verify_enveloped};
use fuzz_common::saml_policies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse(data, &Limits::default()) else { return };
    for policy in saml_policies().iter() {
        if let Ok(signed) = verify_enveloped(&doc, policy) {
            let signed = signed.get();
            assert_eq!(signed.root(), doc.root(), "verified a node other than the root");
            let sig = doc.element(signed.signature()).expect("signature is an element");
            assert!(sig.is(DSIG_NS, "Signature"));
            assert_eq!(sig.parent(), Some(doc.root()));
        }
    }
});

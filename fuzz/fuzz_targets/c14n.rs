//! Canonicalization of the root and of every element (at most 49 per input): exclusive without
//! and with an InclusiveNamespaces PrefixList (picked by the first input
//! byte among the prefixes the document declares, `#default` and one
//! unbound name), inclusive, and the root minus one child (the enveloped
//! transform's shape). Every output must be well-formed XML that
//! canonicalizes to itself (c14n is idempotent).
//!
//! Input layout: `[prefix-list mask] [excluded child index] xml…`.
#![no_main]

use assertion_grant::xml::c14n::{Method, canonicalize};
use assertion_grant::xml::{Document, Limits, NodeId};
use libfuzzer_sys::fuzz_target;

/// Limits for re-parsing canonical output, which may legitimately be larger
/// than its input (escaping, re-rendered namespace declarations).
const WIDE: Limits = Limits {
    max_bytes: usize::MAX,
    max_depth: 64,
    max_elements: usize::MAX,
    max_attributes: usize::MAX,
    max_namespace_declarations: usize::MAX,
    max_text_bytes: usize::MAX,
};

fn check_idempotent(out: &[u8], method: &Method, what: &str, apex: NodeId) {
    let doc = match Document::parse(out, &WIDE) {
        Ok(d) => d,
        Err(e) => panic!(
            "{what} c14n of node {apex} is not well-formed XML ({e}): {}",
            String::from_utf8_lossy(out)
        ),
    };
    let again = canonicalize(&doc, doc.root(), None, method);
    if again != out {
        panic!(
            "{what} c14n of node {apex} is not idempotent:\n first: {}\nsecond: {}",
            String::from_utf8_lossy(out),
            String::from_utf8_lossy(&again)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [mask, exclude_pick, xml @ ..] = data else { return };
    let Ok(doc) = Document::parse(xml, &Limits::default()) else { return };

    // Candidate prefixes: every declared one (sorted, deduplicated), then
    // `#default`, then a prefix that is bound nowhere.
    let mut declared: Vec<Option<String>> = doc
        .elements()
        .flat_map(|(_, e)| e.namespace_declarations().iter().map(|d| d.prefix.clone()))
        .filter(Option::is_some)
        .collect();
    declared.sort();
    declared.dedup();
    declared.truncate(5);
    declared.push(None);
    declared.push(Some("unbound".to_owned()));
    let prefixes: Vec<Option<String>> = declared
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| p)
        .collect();

    let methods = [
        ("exclusive", Method::Exclusive { inclusive_prefixes: Vec::new() }),
        ("exclusive+PrefixList", Method::Exclusive { inclusive_prefixes: prefixes }),
        ("inclusive", Method::Inclusive),
    ];
    // Every element, or (to bound the work per input) the root and 48
    // elements spread over the document.
    let all: Vec<NodeId> = doc.elements().map(|(id, _)| id).collect();
    let ids: Vec<NodeId> = if all.len() <= 49 {
        all
    } else {
        let step = all.len().div_ceil(48);
        std::iter::once(all[0]).chain(all.iter().copied().skip(1).step_by(step)).collect()
    };
    for (what, method) in &methods {
        for &id in &ids {
            let out = canonicalize(&doc, id, None, method);
            check_idempotent(&out, method, what, id);
        }
    }

    // The root minus one child element (as the enveloped transform does).
    let children: Vec<NodeId> = doc.child_elements(doc.root()).map(|(id, _)| id).collect();
    if !children.is_empty() {
        let excluded = children[usize::from(*exclude_pick) % children.len()];
        for (what, method) in &methods {
            let out = canonicalize(&doc, doc.root(), Some(excluded), method);
            check_idempotent(&out, method, what, doc.root());
        }
    }
});

//! `xml::Document::parse` with the default limits, then every accessor over
//! the tree; a parsed tree must respect the limits it was parsed under.
#![no_main]

use assertion_grant::xml::{Document, Limits, Node};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(doc) = Document::parse(data, &limits) else { return };
    let root = doc.root();
    assert!(doc.element(root).is_some(), "root is not an element");
    assert!(doc.root_element().parent().is_none(), "root has a parent");
    let mut elements = 0usize;
    for (id, el) in doc.elements() {
        elements += 1;
        assert!(el.attributes().len() + el.namespace_declarations().len() <= limits.max_attributes);
        assert!(!el.local_name().is_empty());
        if el.prefix().is_some() {
            assert!(el.namespace().is_some(), "prefixed element without a namespace");
        }
        let mut depth = 0usize;
        let mut cur = el.parent();
        while let Some(p) = cur {
            depth += 1;
            assert!(depth < limits.max_depth, "nesting beyond the limit");
            cur = doc.element(p).expect("parent is an element").parent();
        }
        for &c in doc.children(id) {
            match doc.node(c) {
                Node::Element(child) => assert_eq!(child.parent(), Some(id)),
                Node::Text(t) => {
                    let t = doc.text_of(*t);
                    assert!(!t.is_empty(), "empty text node");
                    assert!(t.len() <= limits.max_text_bytes);
                }
                Node::Comment | Node::Pi { .. } => {}
            }
        }
        let _ = doc.text(id);
        let _ = doc.in_scope_namespaces(id);
        let _ = doc.child_elements(id).count();
        for a in el.attributes() {
            assert!(a.value.len() <= limits.max_text_bytes);
            if a.prefix.is_some() {
                assert!(a.ns.is_some(), "prefixed attribute without a namespace");
            }
            let _ = el.attr(&a.local);
        }
    }
    assert!(elements >= 1 && elements <= limits.max_elements);
});

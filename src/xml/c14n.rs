//! Canonicalization of an element subtree: Exclusive XML Canonicalization
//! 1.0 (with its InclusiveNamespaces PrefixList) and, as an opt-in for old
//! identity providers, Canonical XML 1.0 — both without comments.
//!
//! The input is always a whole subtree (the "document subset" an enveloped
//! signature's Reference or a SignedInfo selects), optionally minus one
//! excluded element (the Signature, for the enveloped-signature transform).
//!
//! Rules implemented (Exc-C14N §3, C14N 1.0 §2.3, §4):
//! - namespace declarations first, sorted by prefix (default first), then
//!   attributes sorted by namespace URI and local name;
//! - exclusive: a namespace is rendered where it is *visibly utilized*
//!   (element or attribute prefix) or listed in the PrefixList, unless an
//!   output ancestor already rendered the same binding; inclusive: every
//!   in-scope namespace not already in effect in the output;
//! - `xmlns=""` only to undo a non-empty default rendered above;
//! - inclusive only: `xml:*` attributes of ancestors are inherited by the
//!   apex (C14N 1.0 §2.4);
//! - text escapes `& < > CR`, attribute values escape `& < " TAB LF CR`;
//!   empty elements become start/end pairs; comments are dropped.

use super::{Document, Node, NodeId, XML_NS};

/// Which canonicalization to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Exclusive XML Canonicalization 1.0 without comments; the prefixes
    /// (`None` = `#default`) are handled as in inclusive canonicalization.
    Exclusive {
        /// The InclusiveNamespaces PrefixList.
        inclusive_prefixes: Vec<Option<String>>,
    },
    /// Canonical XML 1.0 without comments.
    Inclusive,
}

/// A binding in effect in the output, or in scope in the input.
type Binding = (Option<String>, String);

/// Largest canonical form [`canonicalize_bounded`] is normally asked for,
/// in bytes. Exclusive c14n re-renders a namespace declaration on every
/// element that uses it, so a small document can canonicalize to a very
/// large one (a 12 KB namespace URI on 2,000 siblings is 24 MB); a real
/// assertion's canonical form is about its own size.
pub const MAX_CANONICAL_BYTES: usize = 1024 * 1024;

/// Canonicalizes the subtree at `apex`, leaving out the element `exclude`
/// (and its descendants) if given. Unbounded: for input limited by other
/// means; signature verification uses [`canonicalize_bounded`].
pub fn canonicalize(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    method: &Method,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    write(doc, apex, exclude, method, &mut out, usize::MAX);
    out
}

/// Like [`canonicalize`], but gives up (`None`) as soon as the output
/// exceeds `max` bytes, so hostile namespace amplification costs little.
pub fn canonicalize_bounded(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    method: &Method,
    max: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    write(doc, apex, exclude, method, &mut out, max);
    (out.len() <= max).then_some(out)
}

fn write(
    doc: &Document,
    apex: NodeId,
    exclude: Option<NodeId>,
    method: &Method,
    out: &mut Vec<u8>,
    max: usize,
) {
    // In-scope namespaces of the apex's parent: the apex adds its own.
    let parent_scope: Vec<Binding> = doc
        .element(apex)
        .and_then(|e| e.parent)
        .map(|p| doc.in_scope_namespaces(p))
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.prefix, d.uri))
        .collect();
    let mut w = Writer {
        doc,
        exclude,
        method,
        out,
        max,
    };
    w.element(apex, &parent_scope, &[], true);
}

struct Writer<'a> {
    doc: &'a Document,
    exclude: Option<NodeId>,
    method: &'a Method,
    out: &'a mut Vec<u8>,
    /// Stop descending once the output is longer than this.
    max: usize,
}

fn lookup<'b>(bindings: &'b [Binding], prefix: Option<&str>) -> Option<&'b str> {
    bindings
        .iter()
        .find(|(p, _)| p.as_deref() == prefix)
        .map(|(_, u)| u.as_str())
}

impl Writer<'_> {
    fn element(&mut self, id: NodeId, parent_scope: &[Binding], rendered: &[Binding], apex: bool) {
        if self.out.len() > self.max {
            return;
        }
        let Some(el) = self.doc.element(id) else {
            return;
        };
        // In-scope namespaces: the parent's, overridden by this element's.
        let mut scope: Vec<Binding> = parent_scope.to_vec();
        for d in &el.ns_decls {
            scope.retain(|(p, _)| *p != d.prefix);
            scope.push((d.prefix.clone(), d.uri.clone()));
        }

        // Which bindings to render here.
        let mut candidates: Vec<Option<String>> = Vec::new();
        match self.method {
            Method::Inclusive => candidates.extend(scope.iter().map(|(p, _)| p.clone())),
            Method::Exclusive { inclusive_prefixes } => {
                candidates.push(el.prefix.clone());
                for a in &el.attrs {
                    if a.prefix.is_some() && a.ns.as_deref() != Some(XML_NS) {
                        candidates.push(a.prefix.clone());
                    }
                }
                for p in inclusive_prefixes {
                    if lookup(&scope, p.as_deref()).is_some() {
                        candidates.push(p.clone());
                    }
                }
            }
        }
        candidates.sort();
        candidates.dedup();
        let mut decls: Vec<Binding> = Vec::new();
        for prefix in candidates {
            if prefix.as_deref() == Some("xml") {
                continue;
            }
            let uri = lookup(&scope, prefix.as_deref()).unwrap_or("");
            // Already in effect in the output: the same binding rendered by
            // an output ancestor, or an empty default where none was.
            let already = match lookup(rendered, prefix.as_deref()) {
                Some(u) => u == uri,
                None => prefix.is_none() && uri.is_empty(),
            };
            if !already {
                decls.push((prefix, uri.to_owned()));
            }
        }
        let mut now_rendered: Vec<Binding> = rendered.to_vec();
        for (p, u) in &decls {
            now_rendered.retain(|(q, _)| q != p);
            now_rendered.push((p.clone(), u.clone()));
        }

        // Attributes, with inherited xml:* on the apex for inclusive c14n.
        let mut attrs: Vec<(&str, &str, Option<&str>, &str)> = el
            .attrs
            .iter()
            .map(|a| {
                (
                    a.ns.as_deref().unwrap_or(""),
                    a.local.as_str(),
                    a.prefix.as_deref(),
                    a.value.as_str(),
                )
            })
            .collect();
        if apex && *self.method == Method::Inclusive {
            let mut cur = el.parent;
            while let Some(pid) = cur {
                let Some(p) = self.doc.element(pid) else {
                    break;
                };
                for a in &p.attrs {
                    if a.ns.as_deref() == Some(XML_NS)
                        && !attrs
                            .iter()
                            .any(|(ns, l, _, _)| *ns == XML_NS && *l == a.local)
                    {
                        attrs.push((
                            XML_NS,
                            a.local.as_str(),
                            a.prefix.as_deref(),
                            a.value.as_str(),
                        ));
                    }
                }
                cur = p.parent;
            }
        }
        attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        self.out.push(b'<');
        self.qname(el.prefix.as_deref(), &el.local);
        for (prefix, uri) in &decls {
            match prefix {
                None => self.out.extend_from_slice(b" xmlns=\""),
                Some(p) => {
                    self.out.extend_from_slice(b" xmlns:");
                    self.out.extend_from_slice(p.as_bytes());
                    self.out.extend_from_slice(b"=\"");
                }
            }
            self.attr_value(uri);
            self.out.push(b'"');
        }
        for (_, local, prefix, value) in &attrs {
            self.out.push(b' ');
            self.qname(*prefix, local);
            self.out.extend_from_slice(b"=\"");
            self.attr_value(value);
            self.out.push(b'"');
        }
        self.out.push(b'>');

        for &child in &el.children {
            if Some(child) == self.exclude {
                continue;
            }
            match self.doc.node(child) {
                Node::Element(_) => self.element(child, &scope, &now_rendered, false),
                Node::Text(t) => self.text(t),
                Node::Comment => {}
                Node::Pi { target, data } => {
                    self.out.extend_from_slice(b"<?");
                    self.out.extend_from_slice(target.as_bytes());
                    if !data.is_empty() {
                        self.out.push(b' ');
                        self.out.extend_from_slice(data.as_bytes());
                    }
                    self.out.extend_from_slice(b"?>");
                }
            }
        }

        self.out.extend_from_slice(b"</");
        self.qname(el.prefix.as_deref(), &el.local);
        self.out.push(b'>');
    }

    fn qname(&mut self, prefix: Option<&str>, local: &str) {
        if let Some(p) = prefix {
            self.out.extend_from_slice(p.as_bytes());
            self.out.push(b':');
        }
        self.out.extend_from_slice(local.as_bytes());
    }

    fn text(&mut self, t: &str) {
        for b in t.bytes() {
            match b {
                b'&' => self.out.extend_from_slice(b"&amp;"),
                b'<' => self.out.extend_from_slice(b"&lt;"),
                b'>' => self.out.extend_from_slice(b"&gt;"),
                b'\r' => self.out.extend_from_slice(b"&#xD;"),
                _ => self.out.push(b),
            }
        }
    }

    fn attr_value(&mut self, v: &str) {
        for b in v.bytes() {
            match b {
                b'&' => self.out.extend_from_slice(b"&amp;"),
                b'<' => self.out.extend_from_slice(b"&lt;"),
                b'"' => self.out.extend_from_slice(b"&quot;"),
                b'\t' => self.out.extend_from_slice(b"&#x9;"),
                b'\n' => self.out.extend_from_slice(b"&#xA;"),
                b'\r' => self.out.extend_from_slice(b"&#xD;"),
                _ => self.out.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Limits;

    fn c14n(xml: &str, exclusive: bool, prefixes: &[Option<&str>]) -> String {
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let method = if exclusive {
            Method::Exclusive {
                inclusive_prefixes: prefixes.iter().map(|p| p.map(str::to_owned)).collect(),
            }
        } else {
            Method::Inclusive
        };
        String::from_utf8(canonicalize(&doc, doc.root(), None, &method)).unwrap()
    }

    #[test]
    fn exclusive_renders_only_utilized_namespaces() {
        let xml = r#"<n0:a xmlns:n0="urn:0" xmlns:n1="urn:1" xmlns="urn:d"><n1:b/><c n0:x="1" b="2" a="3"/></n0:a>"#;
        assert_eq!(
            c14n(xml, true, &[]),
            r#"<n0:a xmlns:n0="urn:0"><n1:b xmlns:n1="urn:1"></n1:b><c xmlns="urn:d" a="3" b="2" n0:x="1"></c></n0:a>"#
        );
        assert_eq!(
            c14n(xml, true, &[Some("n1"), None]),
            r#"<n0:a xmlns="urn:d" xmlns:n0="urn:0" xmlns:n1="urn:1"><n1:b></n1:b><c a="3" b="2" n0:x="1"></c></n0:a>"#
        );
        assert_eq!(
            c14n(xml, false, &[]),
            r#"<n0:a xmlns="urn:d" xmlns:n0="urn:0" xmlns:n1="urn:1"><n1:b></n1:b><c a="3" b="2" n0:x="1"></c></n0:a>"#
        );
    }

    #[test]
    fn namespace_amplification_is_bounded() {
        // One 2 KB namespace URI, used by 500 siblings whose parent does not
        // use it: exclusive c14n renders it 500 times (~1 MB).
        let uri = "u".repeat(2000);
        let xml = format!(
            "<r xmlns:p=\"urn:{uri}\">{}</r>",
            "<a p:x=\"1\"/>".repeat(500)
        );
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let method = Method::Exclusive {
            inclusive_prefixes: Vec::new(),
        };
        let full = canonicalize(&doc, doc.root(), None, &method);
        assert!(full.len() > 1_000_000);
        assert_eq!(
            canonicalize_bounded(&doc, doc.root(), None, &method, 100_000),
            None
        );
        assert_eq!(
            canonicalize_bounded(&doc, doc.root(), None, &method, full.len()),
            Some(full)
        );
    }

    #[test]
    fn default_namespace_undeclaration() {
        let xml = r#"<a xmlns="urn:d"><b xmlns=""><c/></b></a>"#;
        assert_eq!(
            c14n(xml, true, &[]),
            r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
        );
        assert_eq!(c14n(r#"<a xmlns=""><b/></a>"#, true, &[]), "<a><b></b></a>");
    }

    #[test]
    fn escaping_and_line_ends() {
        let xml = "<a b=\"&#x9;&#xA;&#xD;&quot;&lt;&gt;&amp;'\">x&#xD;\r\n&lt;&gt;&amp;\"<![CDATA[<&>]]><!--c--><?pi  data ?></a>";
        assert_eq!(
            c14n(xml, true, &[]),
            "<a b=\"&#x9;&#xA;&#xD;&quot;&lt;>&amp;'\">x&#xD;\n&lt;&gt;&amp;\"&lt;&amp;&gt;<?pi data ?></a>"
        );
    }
}

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
    let mut w = Writer {
        doc,
        exclude,
        method,
        out,
        max,
        scope: Vec::new(),
        rendered: Vec::new(),
        candidates: Vec::new(),
        attrs: Vec::new(),
    };
    // In-scope namespaces of the apex's parent, outermost first (so the
    // nearest declaration of a prefix is found first from the end): the
    // apex adds its own.
    let mut ancestors: Vec<NodeId> = Vec::new();
    let mut cur = doc.element(apex).and_then(|e| e.parent);
    while let Some(id) = cur {
        let Some(el) = doc.element(id) else { break };
        ancestors.push(id);
        cur = el.parent;
    }
    for &id in ancestors.iter().rev() {
        if let Some(el) = doc.element(id) {
            w.scope.extend(
                el.ns_decls
                    .iter()
                    .map(|d| (d.prefix.as_deref(), d.uri.as_str())),
            );
        }
    }
    w.element(apex, true);
}

/// A namespace binding: (prefix, `None` = default; URI).
type Binding<'a> = (Option<&'a str>, &'a str);

/// An attribute to render: (namespace URI or "", local name, prefix, value).
type OutAttr<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

struct Writer<'a> {
    doc: &'a Document,
    exclude: Option<NodeId>,
    method: &'a Method,
    out: &'a mut Vec<u8>,
    /// Stop descending once the output is longer than this.
    max: usize,
    /// Bindings in scope in the input, outermost first; each element pushes
    /// its declarations and removes them when it is done.
    scope: Vec<Binding<'a>>,
    /// Bindings in effect in the output, outermost first, kept the same way.
    rendered: Vec<Binding<'a>>,
    /// Scratch space for one start tag (never held across a child).
    /// Prefixes to consider rendering, `""` for the default namespace
    /// (plain `&str`, so this sort and the ID check in `xmldsig` share one
    /// instantiation of the sort: each costs ~10 kB of wasm).
    candidates: Vec<&'a str>,
    /// Scratch space for one start tag (never held across a child).
    attrs: Vec<OutAttr<'a>>,
}

/// The nearest binding of `prefix` (searched from the end).
fn lookup<'b>(bindings: &[Binding<'b>], prefix: Option<&str>) -> Option<&'b str> {
    bindings
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
}

impl<'a> Writer<'a> {
    fn element(&mut self, id: NodeId, apex: bool) {
        if self.out.len() > self.max {
            return;
        }
        let doc = self.doc;
        let Some(el) = doc.element(id) else {
            return;
        };
        let scope_mark = self.scope.len();
        let rendered_mark = self.rendered.len();
        // In-scope namespaces: the parent's, overridden by this element's.
        self.scope.extend(
            el.ns_decls
                .iter()
                .map(|d| (d.prefix.as_deref(), d.uri.as_str())),
        );

        // Which bindings to render here.
        self.candidates.clear();
        match self.method {
            Method::Inclusive => self
                .candidates
                .extend(self.scope.iter().map(|(p, _)| p.unwrap_or(""))),
            Method::Exclusive { inclusive_prefixes } => {
                self.candidates.push(el.prefix.as_deref().unwrap_or(""));
                for a in &el.attrs {
                    if a.prefix.is_some() && a.ns.as_deref() != Some(XML_NS) {
                        self.candidates.push(a.prefix.as_deref().unwrap_or(""));
                    }
                }
                for p in inclusive_prefixes {
                    if lookup(&self.scope, p.as_deref()).is_some() {
                        self.candidates.push(p.as_deref().unwrap_or(""));
                    }
                }
            }
        }
        self.candidates.sort_unstable();
        self.candidates.dedup();
        for &candidate in &self.candidates {
            let prefix = (!candidate.is_empty()).then_some(candidate);
            if prefix == Some("xml") {
                continue;
            }
            let uri = lookup(&self.scope, prefix).unwrap_or("");
            // Already in effect in the output: the same binding rendered by
            // an output ancestor, or an empty default where none was. (The
            // candidates are distinct, so the bindings pushed here for other
            // prefixes do not change this answer.)
            let already = match lookup(&self.rendered, prefix) {
                Some(u) => u == uri,
                None => prefix.is_none() && uri.is_empty(),
            };
            if !already {
                self.rendered.push((prefix, uri));
            }
        }

        // Attributes, with inherited xml:* on the apex for inclusive c14n.
        self.attrs.clear();
        self.attrs.extend(el.attrs.iter().map(|a| {
            (
                a.ns.as_deref().unwrap_or(""),
                &*a.local,
                a.prefix.as_deref(),
                a.value.as_str(),
            )
        }));
        if apex && *self.method == Method::Inclusive {
            let mut cur = el.parent;
            while let Some(pid) = cur {
                let Some(p) = doc.element(pid) else {
                    break;
                };
                for a in &p.attrs {
                    if a.ns.as_deref() == Some(XML_NS)
                        && !self
                            .attrs
                            .iter()
                            .any(|(ns, l, _, _)| *ns == XML_NS && *l == &*a.local)
                    {
                        self.attrs
                            .push((XML_NS, &*a.local, a.prefix.as_deref(), a.value.as_str()));
                    }
                }
                cur = p.parent;
            }
        }
        self.attrs
            .sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        let out = &mut *self.out;
        out.push(b'<');
        qname(out, el.prefix.as_deref(), &el.local);
        for &(prefix, uri) in self.rendered.get(rendered_mark..).unwrap_or_default() {
            match prefix {
                None => out.extend_from_slice(b" xmlns=\""),
                Some(p) => {
                    out.extend_from_slice(b" xmlns:");
                    out.extend_from_slice(p.as_bytes());
                    out.extend_from_slice(b"=\"");
                }
            }
            attr_value(out, uri);
            out.push(b'"');
        }
        for &(_, local, prefix, value) in &self.attrs {
            out.push(b' ');
            qname(out, prefix, local);
            out.extend_from_slice(b"=\"");
            attr_value(out, value);
            out.push(b'"');
        }
        out.push(b'>');

        for &child in doc.children(id) {
            if Some(child) == self.exclude {
                continue;
            }
            match doc.node(child) {
                Node::Element(_) => self.element(child, false),
                Node::Text(t) => text(self.out, doc.text_of(*t)),
                Node::Comment => {}
                Node::Pi { target, data } => {
                    let out = &mut *self.out;
                    out.extend_from_slice(b"<?");
                    out.extend_from_slice(target.as_bytes());
                    if !data.is_empty() {
                        out.push(b' ');
                        out.extend_from_slice(data.as_bytes());
                    }
                    out.extend_from_slice(b"?>");
                }
            }
        }

        let out = &mut *self.out;
        out.extend_from_slice(b"</");
        qname(out, el.prefix.as_deref(), &el.local);
        out.push(b'>');
        self.scope.truncate(scope_mark);
        self.rendered.truncate(rendered_mark);
    }
}

fn qname(out: &mut Vec<u8>, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

/// Appends `s`, replacing each byte that `escape` names; runs of other
/// bytes are copied at once.
fn escaped(out: &mut Vec<u8>, s: &str, escape: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(replacement) = escape(b) {
            out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
            out.extend_from_slice(replacement);
            start = i + 1;
        }
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// Text nodes (C14N 1.0 §2.3): `&`, `<`, `>` and CR are escaped.
fn text(out: &mut Vec<u8>, t: &str) {
    escaped(out, t, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Attribute values (C14N 1.0 §2.3): `&`, `<`, `"`, TAB, LF and CR are
/// escaped.
fn attr_value(out: &mut Vec<u8>, v: &str) {
    escaped(out, v, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
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

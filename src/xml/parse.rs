//! The parser: quick-xml events to a [`Document`], every well-formedness
//! rule and limit checked on the way (see the module docs of [`super`]).

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::sync::Arc;

use super::lex::*;
use super::tree::{Attr, Document, Element, Node, NodeId, NsDecl, TextSpan};
use super::{Limits, XML_NS, XMLNS_NS, XmlError};

/// An element whose end tag has not been read yet.
struct Open {
    id: NodeId,
    /// Where its own namespace bindings start in `Parser::scope`.
    scope_mark: usize,
    /// Where its children start in `Parser::open_children`.
    child_mark: usize,
}

pub(super) struct Parser<'l> {
    limits: &'l Limits,
    nodes: Vec<Node>,
    /// The open elements, innermost last.
    stack: Vec<Open>,
    root: Option<NodeId>,
    elements: usize,
    ns_decls: usize,
    /// Bytes of namespace URIs referenced by elements and attributes so far.
    ns_copied: usize,
    /// The document's text buffer; the text run being read starts at
    /// `pending_start`.
    text: String,
    pending_start: usize,
    /// The children of the open elements, innermost element's last.
    open_children: Vec<NodeId>,
    child_ids: Vec<NodeId>,
    /// Namespace bindings in scope, outermost first: the last binding of a
    /// prefix is the nearest one.
    scope: Vec<(Option<Arc<str>>, Arc<str>)>,
    /// The `xml` namespace, allocated once if the document uses it.
    xml_ns: Option<Arc<str>>,
    names: NameCache,
}

/// A direct-mapped cache of the names seen in one document, so that the
/// many repeats of `saml:AttributeValue`, `Name`, `xsi:type`, … share one
/// allocation. A miss or a collision only costs an allocation: there is no
/// probing, so no input can make a lookup slower than one comparison.
struct NameCache {
    slots: [Option<Arc<str>>; NAME_CACHE_SLOTS],
}

const NAME_CACHE_SLOTS: usize = 128;

impl NameCache {
    fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| None),
        }
    }

    fn intern(&mut self, name: &str) -> Arc<str> {
        let b = name.as_bytes();
        let first = b.first().map_or(0, |&c| usize::from(c));
        let last = b.last().map_or(0, |&c| usize::from(c));
        let mid = b.get(b.len() / 2).map_or(0, |&c| usize::from(c));
        let hash = b
            .len()
            .wrapping_mul(31)
            .wrapping_add(first.wrapping_mul(7))
            .wrapping_add(mid.wrapping_mul(3))
            .wrapping_add(last);
        let slot = &mut self.slots[hash % NAME_CACHE_SLOTS];
        if let Some(cached) = slot
            && **cached == *name
        {
            return Arc::clone(cached);
        }
        let fresh: Arc<str> = Arc::from(name);
        *slot = Some(Arc::clone(&fresh));
        fresh
    }
}

impl<'l> Parser<'l> {
    pub(super) fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            nodes: Vec::new(),
            stack: Vec::new(),
            root: None,
            elements: 0,
            ns_decls: 0,
            ns_copied: 0,
            text: String::new(),
            pending_start: 0,
            open_children: Vec::new(),
            child_ids: Vec::new(),
            scope: Vec::new(),
            xml_ns: None,
            names: NameCache::new(),
        }
    }

    /// The namespace URI bound to `prefix` at the element being opened
    /// (its own declarations already in `scope`).
    fn resolve(&mut self, prefix: Option<&str>) -> Option<Arc<str>> {
        if prefix == Some("xml") {
            return Some(Arc::clone(
                self.xml_ns.get_or_insert_with(|| Arc::from(XML_NS)),
            ));
        }
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| Arc::clone(uri))
    }

    pub(super) fn run(mut self, text: &str) -> Result<Document, XmlError> {
        // One node per tag, text run, comment or PI: a SAML assertion has
        // about one per 50 bytes. Sized once instead of grown by copying.
        self.nodes = Vec::with_capacity(text.len() / 40 + 16);
        self.child_ids = Vec::with_capacity(text.len() / 40 + 16);
        self.text = String::with_capacity(text.len() / 2);
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text_start = false;
        config.trim_text_end = false;
        let mut seen_decl = false;
        let mut first = true;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError::Malformed(classify(&e)))?;
            if !matches!(event, Event::Decl(_)) {
                first = false;
            }
            match event {
                Event::Decl(decl) => {
                    if !first || seen_decl {
                        return Err(XmlError::Malformed("misplaced XML declaration"));
                    }
                    seen_decl = true;
                    first = false;
                    let version = decl
                        .version()
                        .map_err(|_| XmlError::Malformed("XML declaration"))?;
                    if version.as_ref() != "1.0" {
                        return Err(XmlError::Malformed("only XML 1.0 is accepted"));
                    }
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|_| XmlError::Malformed("XML declaration"))?;
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::Encoding);
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Start(start) => self.open(&start, false)?,
                Event::Empty(start) => self.open(&start, true)?,
                Event::End(_) => {
                    self.flush_text()?;
                    self.close();
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    self.push_text(&content)?;
                }
                Event::CData(_) | Event::GeneralRef(_) if self.stack.is_empty() => {
                    return Err(XmlError::Malformed("content outside the root element"));
                }
                Event::CData(c) => {
                    let raw = c.into_inner();
                    let content = normalize_eol(&raw);
                    self.push_literal_text(&content)?;
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => predefined(&r).ok_or(XmlError::Entity)?,
                        Err(_) => return Err(XmlError::Malformed("character reference")),
                    };
                    if !is_xml_char(c) {
                        return Err(XmlError::Malformed(
                            "character reference to an illegal character",
                        ));
                    }
                    let mut buf = [0u8; 4];
                    self.push_literal_text(c.encode_utf8(&mut buf))?;
                }
                Event::Comment(_) => {
                    self.flush_text()?;
                    if !self.stack.is_empty() {
                        self.add_child(Node::Comment)?;
                    }
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    let target = pi.target().to_owned();
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(XmlError::Malformed("misplaced XML declaration"));
                    }
                    if !is_ncname(&target) {
                        return Err(XmlError::Namespace(
                            "processing instruction target is not an NCName",
                        ));
                    }
                    // XML 1.0 §2.11: line ends are normalized everywhere, PIs
                    // included; §2.6: only XML whitespace follows the target.
                    let data = normalize_eol(pi.content());
                    let data = data.trim_start_matches([' ', '\t', '\n']).to_owned();
                    if !all_xml_chars(&data) {
                        return Err(XmlError::Malformed("illegal character"));
                    }
                    if !self.stack.is_empty() {
                        self.add_child(Node::Pi { target, data })?;
                    }
                }
                Event::Eof => break,
            }
        }
        self.flush_text()?;
        if !self.stack.is_empty() {
            return Err(XmlError::Malformed("unclosed element"));
        }
        let root = self.root.ok_or(XmlError::Malformed("no root element"))?;
        Ok(Document {
            nodes: self.nodes,
            root,
            text: self.text,
            child_ids: self.child_ids,
        })
    }

    /// Text from the tokenizer: must not contain raw `&`/`<` (quick-xml
    /// splits references out) and must be legal characters.
    fn push_text(&mut self, text: &str) -> Result<(), XmlError> {
        if text.contains('&') || text.contains('<') {
            return Err(XmlError::Malformed("unescaped & or <"));
        }
        self.push_literal_text(text)
    }

    fn push_literal_text(&mut self, text: &str) -> Result<(), XmlError> {
        if !all_xml_chars(text) {
            return Err(XmlError::Malformed("illegal character"));
        }
        if self.stack.is_empty() {
            if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
                return Ok(());
            }
            return Err(XmlError::Malformed("text outside the root element"));
        }
        let pending = self.text.len() - self.pending_start;
        if pending + text.len() > self.limits.max_text_bytes {
            return Err(XmlError::Limit("text length"));
        }
        self.text.push_str(text);
        Ok(())
    }

    fn flush_text(&mut self) -> Result<(), XmlError> {
        let span = TextSpan {
            start: self.pending_start,
            end: self.text.len(),
        };
        if span.start == span.end {
            return Ok(());
        }
        self.pending_start = span.end;
        self.add_child(Node::Text(span)).map(|_| ())
    }

    fn add_child(&mut self, node: Node) -> Result<NodeId, XmlError> {
        let id = self.nodes.len();
        self.nodes.push(node);
        if !self.stack.is_empty() {
            self.open_children.push(id);
        }
        Ok(id)
    }

    /// The innermost open element ends: its children (the top of
    /// `open_children`, its descendants' having been moved already) move to
    /// `child_ids` as one contiguous run.
    fn close(&mut self) {
        let Some(open) = self.stack.pop() else { return };
        self.scope.truncate(open.scope_mark);
        let start = self.child_ids.len();
        let mark = open.child_mark.min(self.open_children.len());
        self.child_ids.extend(self.open_children.drain(mark..));
        let end = self.child_ids.len();
        if let Some(Node::Element(e)) = self.nodes.get_mut(open.id) {
            e.children = (start, end);
        }
    }

    fn open(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<(), XmlError> {
        self.flush_text()?;
        if self.stack.is_empty() && self.root.is_some() {
            return Err(XmlError::Malformed("more than one root element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::Limit("nesting depth"));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::Limit("element count"));
        }
        let (prefix, local) = split_qname(start.name().0)?;

        // First pass: namespace declarations, and attributes with their
        // namespaces still unresolved (declarations may follow them).
        let mut ns_decls: Vec<NsDecl> = Vec::new();
        let mut attrs: Vec<Attr> = Vec::new();
        let mut count = 0usize;
        // quick-xml's duplicate check is off (it allocates for every
        // element): the same name twice is refused below, for declarations
        // by prefix and for attributes by expanded name, which also covers
        // the same qualified name twice. At most `max_attributes` each, so
        // the pairwise comparison is bounded.
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|_| XmlError::Malformed("attribute syntax"))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(XmlError::Limit("attributes per element"));
            }
            let value = attribute_value(&attr.value, self.limits.max_text_bytes)?;
            let (a_prefix, a_local) = split_qname(attr.key.0)?;
            match (a_prefix, a_local) {
                (None, "xmlns") => {
                    if ns_decls.iter().any(|d| d.prefix.is_none()) {
                        return Err(XmlError::DuplicateAttribute);
                    }
                    ns_decls.push(NsDecl {
                        prefix: None,
                        uri: value,
                    })
                }
                (Some("xmlns"), p) => {
                    if value.is_empty() {
                        return Err(XmlError::Namespace(
                            "a prefix cannot be undeclared in XML 1.0",
                        ));
                    }
                    if p == "xmlns" || (p == "xml") != (value == XML_NS) || value == XMLNS_NS {
                        return Err(XmlError::Namespace("reserved prefix or namespace rebound"));
                    }
                    if ns_decls.iter().any(|d| d.prefix.as_deref() == Some(p)) {
                        return Err(XmlError::DuplicateAttribute);
                    }
                    ns_decls.push(NsDecl {
                        prefix: Some(p.to_owned()),
                        uri: value,
                    });
                }
                _ => attrs.push(Attr {
                    prefix: a_prefix.map(|p| self.names.intern(p)),
                    local: self.names.intern(a_local),
                    ns: None,
                    value,
                }),
            }
        }
        if ns_decls
            .iter()
            .any(|d| d.prefix.is_none() && (d.uri == XML_NS || d.uri == XMLNS_NS))
        {
            return Err(XmlError::Namespace("reserved namespace as default"));
        }
        self.ns_decls += ns_decls.len();
        if self.ns_decls > self.limits.max_namespace_declarations {
            return Err(XmlError::Limit("namespace declarations"));
        }

        // This element's declarations come into scope (nearest last); they
        // leave it when the element closes (at once if it is empty).
        let mark = self.scope.len();
        for d in &ns_decls {
            let p = d.prefix.as_deref().map(|p| self.names.intern(p));
            self.scope.push((p, Arc::from(d.uri.as_str())));
        }
        // Every element and prefixed attribute refers to its namespace URI.
        // The URI is shared, not copied, but the references stay bounded as
        // when they were copies (a fuzz finding: 48 KB of input held ~100 MB):
        // at most 16 × the input limit in total.
        let budget = self.limits.max_bytes.saturating_mul(16);
        let mut copied = self.ns_copied;
        let mut charge = |uri: &Option<Arc<str>>| -> Result<(), XmlError> {
            copied = copied.saturating_add(uri.as_ref().map_or(0, |u| u.len()));
            if copied > budget {
                return Err(XmlError::Limit("namespace URI copies"));
            }
            Ok(())
        };
        let ns = match prefix {
            Some(p) => Some(
                self.resolve(Some(p))
                    .ok_or(XmlError::Namespace("undeclared prefix"))?,
            ),
            None => self.resolve(None).filter(|u| !u.is_empty()),
        };
        charge(&ns)?;
        if prefix == Some("xmlns") {
            return Err(XmlError::Namespace("element with the xmlns prefix"));
        }
        for i in 0..attrs.len() {
            let (done, rest) = attrs.split_at_mut(i);
            let Some(attr) = rest.first_mut() else { break };
            let a_ns = match attr.prefix.as_deref() {
                None => None,
                Some(p) => Some(
                    self.resolve(Some(p))
                        .ok_or(XmlError::Namespace("undeclared prefix"))?,
                ),
            };
            charge(&a_ns)?;
            if done.iter().any(|a| a.ns == a_ns && a.local == attr.local) {
                return Err(XmlError::DuplicateAttribute);
            }
            attr.ns = a_ns;
        }

        self.ns_copied = copied;
        let parent = self.stack.last().map(|o| o.id);
        let prefix = prefix.map(|p| self.names.intern(p));
        let local = self.names.intern(local);
        let id = self.add_child(Node::Element(Element {
            prefix,
            local,
            ns,
            ns_decls,
            attrs,
            children: (0, 0),
            parent,
        }))?;
        if parent.is_none() {
            self.root = Some(id);
        }
        if empty {
            self.scope.truncate(mark);
        } else {
            self.stack.push(Open {
                id,
                scope_mark: mark,
                child_mark: self.open_children.len(),
            });
        }
        Ok(())
    }
}

fn classify(e: &quick_xml::Error) -> &'static str {
    match e {
        quick_xml::Error::Syntax(_) => "syntax error",
        quick_xml::Error::IllFormed(_) => "ill-formed markup",
        _ => "unreadable input",
    }
}

/// Splits a QName into (prefix, local), enforcing namespace
/// well-formedness: at most one colon, both parts non-empty NCNames.
fn split_qname(name: &str) -> Result<(Option<&str>, &str), XmlError> {
    let bad = XmlError::Namespace("name is not namespace-well-formed");
    let (prefix, local) = match name.bytes().position(|b| b == b':') {
        // `:` is ASCII, so both sides are on character boundaries.
        Some(i) => (
            Some(name.get(..i).ok_or(bad.clone())?),
            name.get(i + 1..).ok_or(bad.clone())?,
        ),
        None => (None, name),
    };
    // `is_ncname` refuses colons, so `a:b:c` fails on its local part.
    if !is_ncname(local) || prefix.is_some_and(|p| !is_ncname(p)) {
        return Err(bad);
    }
    Ok((prefix, local))
}

//! Hardened XML for signed assertions: a small read-only tree on quick-xml,
//! with namespace resolution, strict well-formedness, and limits.
//!
//! What is refused, and why:
//! - any DOCTYPE (no DTD, so no entity expansion, XXE or billion laughs);
//! - entity references other than the five predefined ones and numeric
//!   character references;
//! - encodings other than UTF-8 (a declaration saying otherwise, a UTF-16
//!   BOM, invalid UTF-8), XML 1.1;
//! - names that are not namespace-well-formed (`x::a`, `:a`, empty or
//!   undeclared prefixes, `xmlns:p=""`, rebinding `xml`/`xmlns`);
//! - the same attribute twice, by qualified *or* expanded name;
//! - more than one root, non-whitespace text outside the root;
//! - characters outside XML 1.0's `Char` production;
//! - anything beyond the limits in [`Limits`].
//!
//! Comments and processing instructions are kept in the tree (so
//! canonicalization sees the document exactly), but [`Document::text`]
//! refuses to read a value that a comment or PI splits — the NameID
//! comment attack (`alice@example.com<!---->.evil.com`) cannot shorten a
//! value.

pub mod c14n;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::fmt;
use std::sync::Arc;

/// The XML namespace (`xml:` prefix), bound by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Size and count limits for one document. The defaults fit real SAML
/// assertions (a 6–7 KB assertion with a dozen attributes uses a few percent
/// of each) and stop hostile documents early.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// Most namespace declarations in the document.
    pub max_namespace_declarations: usize,
    /// Longest text node or attribute value, in bytes.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_depth: 24,
            max_elements: 2048,
            max_attributes: 32,
            max_namespace_declarations: 128,
            max_text_bytes: 16 * 1024,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML (as reported by the tokenizer, or by our checks).
    Malformed(&'static str),
    /// A DOCTYPE declaration.
    Doctype,
    /// An entity reference other than the predefined five.
    Entity,
    /// Not UTF-8, or an encoding declaration other than UTF-8.
    Encoding,
    /// Namespace well-formedness violated.
    Namespace(&'static str),
    /// The same attribute twice.
    DuplicateAttribute,
    /// A limit in [`Limits`] was exceeded.
    Limit(&'static str),
}

impl XmlError {
    /// The stable reason code.
    pub fn reason(&self) -> crate::reason::Reason {
        use crate::reason::Reason;
        match self {
            Self::Malformed(_) => Reason::XmlMalformed,
            Self::Doctype => Reason::XmlDoctype,
            Self::Entity => Reason::XmlEntity,
            Self::Encoding => Reason::XmlEncoding,
            Self::Namespace(_) => Reason::XmlNamespace,
            Self::DuplicateAttribute => Reason::XmlDuplicateAttribute,
            Self::Limit(_) => Reason::XmlLimit,
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "XML is not well-formed: {what}"),
            Self::Doctype => f.write_str("XML with a DOCTYPE is not accepted"),
            Self::Entity => {
                f.write_str("XML entity references other than the predefined ones are not accepted")
            }
            Self::Encoding => f.write_str("XML must be UTF-8"),
            Self::Namespace(what) => write!(f, "XML namespaces: {what}"),
            Self::DuplicateAttribute => f.write_str("XML element has the same attribute twice"),
            Self::Limit(what) => write!(f, "XML exceeds the limit on {what}"),
        }
    }
}

/// Index of a node in its [`Document`].
pub type NodeId = usize;

/// A parsed document: an arena of nodes with one root element.
///
/// Text and child lists live in two document-wide buffers instead of one
/// allocation per text node and per element: a signed assertion has a few
/// hundred of each, and allocating and freeing them was a quarter of the
/// parse time.
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    root: NodeId,
    /// The character data of every text node, back to back.
    text: String,
    /// The children of every element, each element's run contiguous.
    child_ids: Vec<NodeId>,
}

/// Where a text node's characters are in its [`Document`]; read them with
/// [`Document::text_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSpan {
    start: usize,
    end: usize,
}

/// A node of the tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (references resolved, line ends normalized); see
    /// [`Document::text_of`].
    Text(TextSpan),
    /// A comment (kept so that reading around it can be refused).
    Comment,
    /// A processing instruction.
    Pi {
        /// The target.
        target: String,
        /// The content after the target, leading whitespace removed.
        data: String,
    },
}

/// An element with its namespace-resolved name.
///
/// Names and namespace URIs are shared (`Arc<str>`): a namespace URI is
/// stored once per declaration and every element and attribute in its scope
/// points at it, and repeated names (`saml:AttributeValue`, `Name`, …) share
/// one allocation per document.
#[derive(Debug, Clone)]
pub struct Element {
    prefix: Option<Arc<str>>,
    local: Arc<str>,
    ns: Option<Arc<str>>,
    ns_decls: Vec<NsDecl>,
    attrs: Vec<Attr>,
    /// Where this element's children are in [`Document::child_ids`].
    children: (usize, usize),
    parent: Option<NodeId>,
}

/// A namespace declaration as written on an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsDecl {
    /// The prefix, or `None` for the default namespace.
    pub prefix: Option<String>,
    /// The URI; empty for `xmlns=""`.
    pub uri: String,
}

/// An attribute (namespace declarations excluded), value normalized per
/// XML 1.0 §3.3.3.
#[derive(Debug, Clone)]
pub struct Attr {
    /// The prefix as written.
    pub prefix: Option<Arc<str>>,
    /// The local name.
    pub local: Arc<str>,
    /// The namespace URI (`None` for unprefixed attributes), shared with the
    /// declaration that bound it.
    pub ns: Option<Arc<str>>,
    /// The normalized value.
    pub value: String,
}

impl Element {
    /// The local name.
    pub fn local_name(&self) -> &str {
        &self.local
    }

    /// The prefix as written.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The namespace URI.
    pub fn namespace(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        *self.local == *local && self.ns.as_deref() == Some(ns)
    }

    /// The value of the unprefixed attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && *a.local == *local)
            .map(|a| a.value.as_str())
    }

    /// All attributes.
    pub fn attributes(&self) -> &[Attr] {
        &self.attrs
    }

    /// Namespace declarations written on this element.
    pub fn namespace_declarations(&self) -> &[NsDecl] {
        &self.ns_decls
    }

    /// The parent element.
    pub fn parent(&self) -> Option<NodeId> {
        self.parent
    }
}

impl Document {
    /// Parses `input` under `limits`.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_bytes {
            return Err(XmlError::Limit("document size"));
        }
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        if input.starts_with(b"\xFE\xFF") || input.starts_with(b"\xFF\xFE") {
            return Err(XmlError::Encoding);
        }
        let text = std::str::from_utf8(input).map_err(|_| XmlError::Encoding)?;
        Parser::new(limits).run(text)
    }

    /// The root element's id.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The element `id`; `None` if it is not an element.
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match &self.nodes[id] {
            Node::Element(e) => Some(e),
            _ => None,
        }
    }

    /// The root element.
    pub fn root_element(&self) -> &Element {
        match &self.nodes[self.root] {
            Node::Element(e) => e,
            // The parser only ever sets `root` to an element.
            _ => unreachable!("root is an element"),
        }
    }

    /// The child nodes of `id`, in order (none unless it is an element).
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        match &self.nodes[id] {
            Node::Element(e) => {
                // The parser only records runs it pushed.
                debug_assert!(self.child_ids.get(e.children.0..e.children.1).is_some());
                self.child_ids
                    .get(e.children.0..e.children.1)
                    .unwrap_or(&[])
            }
            _ => &[],
        }
    }

    /// The characters of a text node.
    pub fn text_of(&self, span: TextSpan) -> &str {
        // Spans come from this document's parser, at character boundaries.
        debug_assert!(self.text.get(span.start..span.end).is_some());
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// Child elements of `id`, in order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.children(id)
            .iter()
            .filter_map(|&c| self.element(c).map(|e| (c, e)))
    }

    /// Child elements of `id` named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = (NodeId, &'a Element)> + 'a {
        self.child_elements(id)
            .filter(move |(_, e)| e.is(ns, local))
    }

    /// Every element in document order.
    pub fn elements(&self) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.nodes.iter().enumerate().filter_map(|(i, n)| match n {
            Node::Element(e) => Some((i, e)),
            _ => None,
        })
    }

    /// The text content of an element that has only text children. Any
    /// child element, comment or processing instruction is an error, so a
    /// value can never be read differently from how it was signed.
    pub fn text(&self, id: NodeId) -> Result<String, TextError> {
        self.element(id).ok_or(TextError)?;
        let mut out = String::new();
        for &c in self.children(id) {
            match &self.nodes[c] {
                Node::Text(t) => out.push_str(self.text_of(*t)),
                _ => return Err(TextError),
            }
        }
        Ok(out)
    }

    /// The namespace bindings in scope at element `id` (nearest declaration
    /// per prefix wins; `xml` excluded; an empty URI is an undeclared
    /// default namespace).
    pub fn in_scope_namespaces(&self, id: NodeId) -> Vec<NsDecl> {
        let mut out: Vec<NsDecl> = Vec::new();
        let mut cur = Some(id);
        while let Some(node) = cur {
            let Some(el) = self.element(node) else { break };
            for d in &el.ns_decls {
                if !out.iter().any(|o| o.prefix == d.prefix) {
                    out.push(d.clone());
                }
            }
            cur = el.parent;
        }
        out
    }
}

/// An element's text could not be read as one value (it has child elements,
/// comments or processing instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextError;

/// An element whose end tag has not been read yet.
struct Open {
    id: NodeId,
    /// Where its own namespace bindings start in `Parser::scope`.
    scope_mark: usize,
    /// Where its children start in `Parser::open_children`.
    child_mark: usize,
}

struct Parser<'l> {
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
    fn new(limits: &'l Limits) -> Self {
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

    fn run(mut self, text: &str) -> Result<Document, XmlError> {
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

/// An NCName (Namespaces in XML §3): an XML 1.0 §2.3 Name without colons.
pub(crate) fn is_ncname(s: &str) -> bool {
    let Some((&first, rest)) = s.as_bytes().split_first() else {
        return false;
    };
    if ASCII_NAME[usize::from(first)] & NAME_START != 0
        && rest
            .iter()
            .all(|&c| ASCII_NAME[usize::from(c)] & NAME_CHAR != 0)
    {
        return true;
    }
    if s.is_ascii() {
        // The table covers every ASCII character exactly.
        return false;
    }
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c != ':' && is_name_start_char(c))
        && chars.all(|c| c != ':' && is_name_char(c))
}

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;

/// The ASCII part of XML 1.0 §2.3 without `:` (an NCName): `NameStartChar`
/// is `[A-Za-z_]`, `NameChar` adds `[0-9.-]`. Every other byte is 0, so a
/// non-ASCII name leaves the table's fast path for the full check.
const ASCII_NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = NAME_START | NAME_CHAR;
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            t[c] = NAME_CHAR;
        }
        c += 1;
    }
    t
};

/// XML 1.0 §2.3 `NameStartChar`.
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 §2.3 `NameChar`.
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML 1.0 §3.3.3 attribute-value normalization (for CDATA attributes):
/// literal tab, CR, LF and CRLF become one space each; references are
/// resolved afterwards, so `&#xA;` stays a line feed.
fn attribute_value(raw: &str, max: usize) -> Result<String, XmlError> {
    if raw.len() > max {
        return Err(XmlError::Limit("attribute value length"));
    }
    // Printable ASCII without references: nothing to normalize or refuse.
    if raw
        .bytes()
        .all(|b| (0x20..0x80).contains(&b) && b != b'&' && b != b'<')
    {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let end = rest
                    .find(';')
                    .ok_or(XmlError::Malformed("unterminated reference"))?;
                let name = &rest[1..end];
                let resolved = resolve_reference(name)?;
                out.push(resolved);
                rest = &rest[end + 1..];
                continue;
            }
            '<' => return Err(XmlError::Malformed("< in attribute value")),
            '\r' => {
                out.push(' ');
                if rest[1..].starts_with('\n') {
                    rest = &rest[1..];
                }
            }
            '\n' | '\t' => out.push(' '),
            c if is_xml_char(c) => out.push(c),
            _ => return Err(XmlError::Malformed("illegal character")),
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

fn resolve_reference(name: &str) -> Result<char, XmlError> {
    let c = if let Some(num) = name.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(XmlError::Malformed("character reference"));
        }
        // Any number of leading zeros (XML 1.0 §4.1); at most 7 significant
        // digits, which keeps the value within u32 before the range check.
        let significant = digits.trim_start_matches('0');
        if significant.len() > 7 {
            return Err(XmlError::Malformed("character reference"));
        }
        let code = if significant.is_empty() {
            0
        } else {
            u32::from_str_radix(significant, radix)
                .map_err(|_| XmlError::Malformed("character reference"))?
        };
        char::from_u32(code).ok_or(XmlError::Malformed("character reference"))?
    } else {
        match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => return Err(XmlError::Entity),
        }
    };
    if !is_xml_char(c) {
        return Err(XmlError::Malformed(
            "character reference to an illegal character",
        ));
    }
    Ok(c)
}

fn predefined(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    match r.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn normalize_eol(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Whether every character of `s` is an XML 1.0 `Char` ([`is_xml_char`]),
/// with a byte loop for ASCII (where only controls other than tab, LF and CR
/// are refused).
fn all_xml_chars(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes()
            .all(|b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
    } else {
        s.chars().all(is_xml_char)
    }
}

/// XML 1.0 `Char`: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_namespaces_by_uri_not_prefix() {
        let d = parse(
            r#"<a:x xmlns:a="urn:a" xmlns="urn:d"><y a:k="1" k="2"/><a:z xmlns:a="urn:b"/></a:x>"#,
        )
        .unwrap();
        let root = d.root_element();
        assert!(root.is("urn:a", "x"));
        let kids: Vec<_> = d.child_elements(d.root()).collect();
        assert!(kids[0].1.is("urn:d", "y"));
        assert_eq!(kids[0].1.attr("k"), Some("2"));
        assert!(kids[1].1.is("urn:b", "z"));
    }

    #[test]
    fn refuses_hostile_documents() {
        let cases = [
            (
                "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
                XmlError::Doctype,
            ),
            ("<a>&e;</a>", XmlError::Entity),
            ("<a b='&e;'/>", XmlError::Entity),
            (
                "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
                XmlError::Encoding,
            ),
            (
                "<x::a/>",
                XmlError::Namespace("name is not namespace-well-formed"),
            ),
            ("<p:a/>", XmlError::Namespace("undeclared prefix")),
            (
                "<a xmlns:p=''/>",
                XmlError::Namespace("a prefix cannot be undeclared in XML 1.0"),
            ),
            (
                "<a xmlns:p='urn:x' xmlns:q='urn:x' p:b='1' q:b='2'/>",
                XmlError::DuplicateAttribute,
            ),
            ("<a b='1' b='2'/>", XmlError::DuplicateAttribute),
            ("<a b='1' c='' b='1'/>", XmlError::DuplicateAttribute),
            (
                "<p:a xmlns:p='urn:x' p:b='1' p:b='1'/>",
                XmlError::DuplicateAttribute,
            ),
            (
                "<a xmlns='urn:x' xmlns='urn:x'/>",
                XmlError::DuplicateAttribute,
            ),
            ("<a xmlns='' xmlns='urn:x'/>", XmlError::DuplicateAttribute),
            (
                "<a xmlns:p='urn:x' xmlns:p='urn:y'/>",
                XmlError::DuplicateAttribute,
            ),
            (
                "<a xmlns:p='urn:x' xmlns:q='urn:y' xmlns:p='urn:x'/>",
                XmlError::DuplicateAttribute,
            ),
            (
                "<a/><b/>",
                XmlError::Malformed("more than one root element"),
            ),
            (
                "<a/>x",
                XmlError::Malformed("text outside the root element"),
            ),
            ("<a>\u{1}</a>", XmlError::Malformed("illegal character")),
            ("<a>&#0;</a>", XmlError::Malformed("character reference")),
        ];
        for (doc, expected) in cases {
            assert_eq!(parse(doc).unwrap_err(), expected, "{doc}");
        }
        assert_eq!(
            Document::parse(b"<a>\xff</a>", &Limits::default()).unwrap_err(),
            XmlError::Encoding
        );
    }

    #[test]
    fn children_and_text_runs_in_the_shared_buffers() {
        // One text node per run between markup, references and CDATA
        // merged into it; each element's children in order, nested ones
        // not mixed in.
        let d = parse("<r>a&amp;b<![CDATA[<c>]]>&#x41;<x>1</x>d<y/><z>2<w/>3</z> </r>").unwrap();
        let texts = |id: NodeId| -> Vec<String> {
            d.children(id)
                .iter()
                .map(|&c| match d.node(c) {
                    Node::Text(t) => d.text_of(*t).to_owned(),
                    Node::Element(e) => format!("<{}>", e.local_name()),
                    _ => "?".to_owned(),
                })
                .collect()
        };
        assert_eq!(texts(d.root()), ["a&b<c>A", "<x>", "d", "<y>", "<z>", " "]);
        let z = d.children(d.root())[4];
        assert_eq!(texts(z), ["2", "<w>", "3"]);
        let x = d.children(d.root())[1];
        assert_eq!(d.text(x), Ok("1".to_owned()));
        let y = d.children(d.root())[3];
        assert!(d.children(y).is_empty());
        assert_eq!(d.text(y), Ok(String::new()));
        assert_eq!(d.text(z), Err(TextError));
        // A text node is not a parent.
        assert!(d.children(d.children(z)[0]).is_empty());
    }

    #[test]
    fn limits() {
        let deep = "<a>".repeat(30) + &"</a>".repeat(30);
        assert_eq!(parse(&deep).unwrap_err(), XmlError::Limit("nesting depth"));
        let wide = format!("<a>{}</a>", "<b/>".repeat(3000));
        assert_eq!(parse(&wide).unwrap_err(), XmlError::Limit("element count"));
        let attrs: String = (0..40).map(|i| format!(" a{i}='1'")).collect();
        assert_eq!(
            parse(&format!("<a{attrs}/>")).unwrap_err(),
            XmlError::Limit("attributes per element")
        );
    }

    #[test]
    fn comments_cannot_split_a_value() {
        let d =
            parse("<a><n>alice@example.com<!---->.evil.com</n><m>x&amp;y<![CDATA[<z>]]></m></a>")
                .unwrap();
        let kids: Vec<_> = d.child_elements(d.root()).map(|(i, _)| i).collect();
        assert_eq!(d.text(kids[0]), Err(TextError));
        assert_eq!(d.text(kids[1]).unwrap(), "x&y<z>");
    }

    #[test]
    fn differential_findings_against_libxml2() {
        // PI data: line ends normalized (XML 1.0 §2.11), only XML
        // whitespace after the target trimmed (§2.6).
        let d = parse("<r><?t a\r\nb\rc?><?u \u{a0}x?></r>").unwrap();
        let pis: Vec<_> = d
            .children(d.root())
            .iter()
            .map(|&c| d.node(c).clone())
            .collect();
        assert!(matches!(&pis[0], Node::Pi { data, .. } if data == "a\nb\nc"));
        assert!(matches!(&pis[1], Node::Pi { data, .. } if data == "\u{a0}x"));
        // Names: XML 1.0 §2.3 ranges, not Unicode's alphabetic.
        assert!(parse("<a\u{300}\u{203F}/>").is_ok());
        assert!(parse("<\u{aa}/>").is_err());
        assert!(parse("<a\u{b2}/>").is_err());
        assert!(parse("<r><?t\u{3000}x?></r>").is_err());
        // Character references may have any number of leading zeros.
        assert_eq!(
            parse("<g k='&#00000041;&#x0000041;'/>")
                .unwrap()
                .root_element()
                .attr("k"),
            Some(")A")
        );
        assert!(parse("<g k='&#x0000110000;'/>").is_err());
    }

    #[test]
    fn namespace_uri_copies_are_bounded() {
        // Fuzz finding: one 16 KB namespace used by every element and
        // attribute of a 64 KB document held ~100 MB of copies.
        let uri = "u".repeat(16_000);
        let xml = format!(
            "<p:r xmlns:p=\"urn:{uri}\">{}</p:r>",
            "<p:a p:x=\"1\"/>".repeat(3000)
        );
        let limits = Limits {
            max_bytes: 100_000,
            max_elements: 5000,
            ..Limits::default()
        };
        assert_eq!(
            Document::parse(xml.as_bytes(), &limits).unwrap_err(),
            XmlError::Limit("namespace URI copies")
        );
        // A realistic document is far below the budget.
        let ok = format!(
            "<p:r xmlns:p=\"urn:oasis:names:tc:SAML:2.0:assertion\">{}</p:r>",
            "<p:a p:x=\"1\"/>".repeat(1000)
        );
        assert!(Document::parse(ok.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn fast_paths_agree_with_the_grammar() {
        // The byte-table and ASCII fast paths must give what the char-based
        // §2.3 / §2.2 productions give, for every ASCII character in every
        // position and for non-ASCII names and text.
        let slow_ncname = |s: &str| {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c != ':' && is_name_start_char(c))
                && chars.all(|c| c != ':' && is_name_char(c))
        };
        for c in (0u8..128).map(char::from) {
            for s in [
                c.to_string(),
                format!("a{c}"),
                format!("{c}a"),
                format!("_{c}\u{e9}"),
                format!("\u{e9}{c}"),
            ] {
                assert_eq!(is_ncname(&s), slow_ncname(&s), "{s:?}");
                assert_eq!(all_xml_chars(&s), s.chars().all(is_xml_char), "{s:?}");
                if s.is_ascii() {
                    // A trailing é forces the general path.
                    let general = attribute_value(&format!("{s}\u{e9}"), 100)
                        .ok()
                        .and_then(|v| v.strip_suffix('\u{e9}').map(str::to_owned));
                    assert_eq!(attribute_value(&s, 100).ok(), general, "{s:?}");
                }
            }
        }
        for s in [
            "",
            "a:b",
            "\u{b7}a",
            "a\u{b7}",
            "\u{37e}",
            "a\u{fffe}",
            "\u{10000}",
        ] {
            assert_eq!(is_ncname(s), slow_ncname(s), "{s:?}");
            assert_eq!(all_xml_chars(s), s.chars().all(is_xml_char), "{s:?}");
        }
    }

    #[test]
    fn attribute_value_normalization() {
        let d = parse("<a b='x\r\ny\tz&#xA;w'/>").unwrap();
        assert_eq!(d.root_element().attr("b"), Some("x y z\nw"));
    }
}

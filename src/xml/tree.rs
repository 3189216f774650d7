//! The read-only tree: a [`Document`] arena of [`Node`]s with
//! namespace-resolved [`Element`]s, and the ways rules read it.

use std::sync::Arc;

use super::parse::Parser;
use super::{Limits, XmlError};

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
    pub(super) nodes: Vec<Node>,
    pub(super) root: NodeId,
    /// The character data of every text node, back to back.
    pub(super) text: String,
    /// The children of every element, each element's run contiguous.
    pub(super) child_ids: Vec<NodeId>,
}

/// Where a text node's characters are in its [`Document`]; read them with
/// [`Document::text_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSpan {
    pub(super) start: usize,
    pub(super) end: usize,
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
    pub(super) prefix: Option<Arc<str>>,
    pub(super) local: Arc<str>,
    pub(super) ns: Option<Arc<str>>,
    pub(super) ns_decls: Vec<NsDecl>,
    pub(super) attrs: Vec<Attr>,
    /// Where this element's children are in [`Document::child_ids`].
    pub(super) children: (usize, usize),
    pub(super) parent: Option<NodeId>,
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

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
mod lex;
mod parse;
mod tree;

pub(crate) use lex::is_ncname;
pub use tree::{Attr, Document, Element, Node, NodeId, NsDecl, TextError, TextSpan};

use std::fmt;

/// The XML namespace (`xml:` prefix), bound by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
pub(crate) const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

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

#[cfg(test)]
mod tests {
    use super::lex::*;
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

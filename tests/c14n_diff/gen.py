#!/usr/bin/env python3
"""Differential canonicalization cases for assertion-grant (issue #4): random namespace-heavy XML
documents canonicalized by libxml2, to be compared byte for byte with src/xml/c14n.rs by
`cargo run --release --example c14n_diff -- CASES.jsonl`.

    python3 tests/c14n_diff/gen.py --count 300 --seed 0 --out target/c14n-diff/cases.jsonl

Each document gets a whole-document case set (apex = root element) and the same for a few random
inner elements (a document subset: the element and its descendants, with the ancestors' namespace
context): exclusive C14N 1.0 without and with an InclusiveNamespaces PrefixList, and inclusive
C14N 1.0, all without comments.  One JSON object per line:

    {"input", "apex_index" (null = root, else the element's index in document order),
     "exclusive", "inclusive_prefixes" ([..] or null; "#default" = default namespace),
     "expected", "doc", "name", "oracle"}

Oracles (see README.md):
  lxml      etree.tostring(element, method="c14n", ...) -- libxml2 through lxml (the reference);
  nodeset   libxml2's xmlC14NDocDumpMemory with a real XPath node-set for the subset (the system
            libxml2.so.2 through ctypes; what xmlsec1 does for a same-document Reference).
lxml deviates from the specs in known ways; those cases take the `nodeset` answer instead:
  * it drops the PrefixList token "#default" (it only passes prefixes that occur in the document's
    name dictionary to libxml2) -> every exclusive case whose PrefixList has "#default";
  * it canonicalizes an inner element as the root of a fake document whose descendants still point
    to their real parents; in inclusive mode that loses C14N 1.0 §2.4's inheritance of the
    ancestors' xml:* attributes AND renders spurious declarations (xmlns="" or an ancestor's
    binding) on the apex's grandchildren -> every inclusive case with an inner apex.
    (The root element is canonicalized the same way when it has sibling comments or PIs, so for
    the root lxml gets a sibling-free deep copy.)
Both libxml2 versions also render a namespace URI containing '&' unescaped (2.14: a raw '&', 2.9:
'&#38;') where C14N 1.0 §2.3 processes a namespace node like an attribute ('&amp;'); in documents
with such a URI both outputs are corrected (escape_ns_amp) and the oracle name gets "+ns-amp".
Without a usable system libxml2 the `nodeset` cases are skipped (counted in the summary).  Every
other case is canonicalized by both oracles when `nodeset` is available; a disagreement between them
is reported on stderr (and the case keeps lxml's answer).

Every document is parsed by lxml before use (a generator bug otherwise) and stays within
assertion-grant's xml::Limits (depth 24, 2048 elements, 32 attributes incl. namespace declarations
per element, 128 namespace declarations, 16 KiB per text node or attribute value, 64 KiB).

--avoid FEATURE[,FEATURE]  leaves out a construct (to keep looking for other bugs while a known
one is open): pi-eol (CR / CRLF inside PI data), pi-space (non-ASCII whitespace starting PI data),
name-chars (XML NameChars that are not Unicode letters/digits: combining marks U+0300.., U+3099,
U+203F/U+2040, U+02FF, U+0387, a name starting with U+0660), charref-zeros (character references
with leading zeros: more than 6 hex / 7 decimal digits), xml-prefix-list ("xml" in PrefixLists).
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import json
import random
import sys
import time

try:
    from lxml import etree
except ImportError:  # pragma: no cover
    sys.exit("lxml is required: python3 -m pip install lxml")

XML_NS = "http://www.w3.org/XML/1998/namespace"
FEATURES = ("pi-eol", "pi-space", "name-chars", "charref-zeros", "xml-prefix-list")

# assertion-grant's xml::Limits::default()
MAX_BYTES = 64 * 1024
MAX_DEPTH = 24
MAX_ELEMENTS = 2048
MAX_ATTRS = 32
MAX_NS_DECLS = 128
MAX_TEXT = 16 * 1024

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                         remove_blank_text=False, strip_cdata=False)

# ---------------------------------------------------------------------------------------------
# vocabulary
# ---------------------------------------------------------------------------------------------

PREFIXES = ["a", "b", "c", "p", "q", "n0", "n1", "n2", "saml", "ds", "xs", "xsi", "ec", "x-y", "p.q",
            "_u", "π", "名", "ns1", "ns10", "A", "B", "xmlfoo", "é"]
# Valid absolute URIs (libxml2 refuses invalid ones as namespace names and C14N needs absolute).
URIS = ["urn:a", "urn:b", "urn:c", "urn:x:1", "urn:x:2", "http://example.com/ns", "http://example.com/ns/",
        "urn:a#frag", "urn:oasis:names:tc:SAML:2.0:assertion",
        "http://www.w3.org/2000/09/xmldsig#", "http://www.w3.org/2001/XMLSchema",
        "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/2001/10/xml-exc-c14n#",
        "urn:%C3%A9t%C3%A9", "mailto:a@b.example", "urn:a'b", "a:b", "urn:A", "urn:" + "z" * 120]
AMP_URI = "https://example.org/a?b=c&d"  # rare: libxml2 renders it unescaped (see escape_ns_amp)


def uri_spelling(rng, uri, quote):
    """The URI as an attribute value, some characters written as references (the same namespace
    name spelled differently, so redundant redeclarations are only equal after resolution)."""
    out = []
    for ch in uri:
        r = rng.random()
        if ch == "&":
            out.append("&amp;" if r < 0.7 else "&#38;")
        elif ch == quote:
            out.append("&quot;" if quote == '"' else "&apos;")
        elif r < 0.03:
            out.append(f"&#{ord(ch)};")
        elif r < 0.06:
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out)


LOCALS = ["a", "b", "r", "item", "Assertion", "Signature", "x-y", "x.y", "_z", "a1", "ñ", "名前", "Ωmega",
          "été", "x·y", "Data", "e", "f", "g", "ID", "k"]
# XML 1.0 (5th ed.) NameStartChar/NameChar that Rust does not count as alphabetic/alphanumeric
LOCALS_MARKS = ["a\u0300", "x\u203fy", "e\u0301t\u0301", "u\u2040v", "k\u3099", "m\u02ff", "n\u0387", "\u0660x", "z\u036f"]
ATTR_LOCALS = ["k", "id", "ID", "type", "a", "b", "z", "Name", "é", "名", "x-y", "v.1", "_k", "lang", "space"]
XML_ATTRS = ["lang", "space", "base", "id", "foo"]
XML_VALUES = {"lang": ["en", "fr", "de-CH", "", "ja"], "space": ["preserve", "default"],
              "base": ["http://b.example/", "sub/", "../x"], "foo": ["bar", ""]}
PI_TARGETS = ["pi", "p-1", "t.x", "目標", "_p", "xml-stylesheet", "X", "abc"]

LETTERS = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789"
UNICODE_BITS = ["é", "Å", "山田", "🌍", "\U00010000", "\u0085", "\u2028", "\u00a0", "\u200b", "\ufeff", "e\u0301",
                "שלום", "\ufffd", "\u3000", "\u0080", "\u009f", "\U0010fffd", "ß", "Ǆ", "\ufdd0", "\U0001f600"]
# references in text and attribute values
TEXT_REFS = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#9;", "&#x9;", "&#10;", "&#xA;", "&#13;", "&#xD;",
             "&#x0D;", "&#x20;", "&#38;", "&#60;", "&#x3E;", "&#xE9;", "&#x1F30D;", "&#169;", "&#x85;",
             "&#x2028;", "&#xFFFD;", "&#x10FFFF;", "&#34;", "&#39;", "&#x3c;&#x2F;r&#x3e;"]
# leading zeros: the first two are longer than our parser's 6 hex / 7 decimal digits, the others just fit
ZERO_REFS = ["&#x0000000041;", "&#00000065;", "&#x0000e9;", "&#0000013;"]
EOLS = ["\n", "\r\n", "\r", "\t", " ", "  "]


class Gen:
    def __init__(self, rng: random.Random, avoid: set):
        self.rng = rng
        self.avoid = avoid
        self.elements = 0
        self.ns_decls = 0
        self.max_elements = 60
        self.max_depth = 6
        self.xml_ids = 0
        # constructs our parser is known to refuse: in a few documents only, so that the others
        # keep testing canonicalization while such a refusal is open
        self.name_chars = "name-chars" not in avoid and self.chance(0.05)
        self.charref_zeros = "charref-zeros" not in avoid and self.chance(0.05)

    # ---- small random helpers ----
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    def ws(self, nl=True):
        """Whitespace inside a tag (at least one character)."""
        r = self.rng.random()
        if r < 0.75 or not nl:
            return " "
        return self.pick(["  ", "\n", "\t", "\r\n", "\n\t ", "\r"])

    def uri(self):
        return AMP_URI if self.chance(0.004) else self.pick(URIS)

    def local(self):
        if self.name_chars and self.chance(0.1):
            return self.pick(LOCALS_MARKS)
        return self.pick(LOCALS)

    def refs(self):
        if self.charref_zeros and self.chance(0.1):
            return self.pick(ZERO_REFS)
        return self.pick(TEXT_REFS)

    # ---- character data ----
    def text(self, max_atoms=12):
        atoms = []
        for _ in range(self.rng.randint(1, max_atoms)):
            r = self.rng.random()
            if r < 0.35:
                atoms.append("".join(self.pick(LETTERS) for _ in range(self.rng.randint(1, 8))))
            elif r < 0.5:
                atoms.append(self.pick(EOLS))
            elif r < 0.68:
                atoms.append(self.refs())
            elif r < 0.82:
                atoms.append(self.pick(UNICODE_BITS))
            elif r < 0.9:
                atoms.append(self.pick([">", '"', "'", "]", "]]", "?", "-", "--", "=", "/"]))
            else:
                atoms.append(" " * self.rng.randint(1, 4))
        s = "".join(atoms)
        while "]]>" in s:
            s = s.replace("]]>", "]]&gt;")
        # text nodes can be adjacent: "…]]" + ">…" would make "]]>"
        if s[:1] == ">":
            s = "&gt;" + s[1:]
        elif s[:1] == "]":
            s = "&#x5D;" + s[1:]
        return s

    def indent(self, depth):
        eol = self.pick(["\n", "\n", "\r\n", "\r"])
        return eol + self.pick(["  ", "\t", " "]) * min(depth, 8)

    def cdata(self):
        atoms = []
        for _ in range(self.rng.randint(0, 8)):
            atoms.append(self.pick(["<", "&", ">", "&amp;", "]", "]]", "\r\n", "\r", "\n", "\t", "x", "abc",
                                    " ", '"', "'", "<![CDATA[", "é", "🌍", "\u0085", "\u2028"]))
        s = "".join(atoms)
        while "]]>" in s:
            s = s.replace("]]>", "]] >")
        return "<![CDATA[" + s + "]]>"

    def comment(self):
        atoms = []
        for _ in range(self.rng.randint(0, 6)):
            atoms.append(self.pick(["x", " ", "-", "\r\n", "\r", "\n", "<", "&", ">", "é", "abc", "\t"]))
        s = "".join(atoms)
        while "--" in s:
            s = s.replace("--", "-")
        if s.endswith("-"):
            s += " "
        return "<!--" + s + "-->"

    def pi(self):
        target = self.pick(PI_TARGETS)
        r = self.rng.random()
        if r < 0.2:
            return f"<?{target}?>"
        if r < 0.3:
            return f"<?{target}{self.pick([' ', '  ', chr(9), chr(10)])}?>"
        eol = "pi-eol" not in self.avoid and self.chance(0.1)  # CR or CRLF in this PI
        lead = self.pick([" ", " ", "  ", "\t", "\n", " \t "] + (["\r\n", "\r"] if eol else []))
        atoms = []
        for _ in range(self.rng.randint(1, 6)):
            choices = ["data", "x", " ", "  ", "a=\"1\"", "?", ">", "&amp;", "<raw>", "é", "\t", "\n", "🌍"]
            if eol:
                choices += ["\r\n", "\r"]
            atoms.append(self.pick(choices))
        data = "".join(atoms)
        while "?>" in data:
            data = data.replace("?>", "? >")
        if "pi-space" not in self.avoid and self.chance(0.03):
            data = self.pick(["\u3000", "\u00a0", "\u2028", "\u0085"]) + data
        return f"<?{target}{lead}{data}?>"

    # ---- attribute values ----
    def attr_value(self, quote, max_atoms=8):
        atoms = []
        for _ in range(self.rng.randint(0, max_atoms)):
            r = self.rng.random()
            if r < 0.4:
                atoms.append("".join(self.pick(LETTERS) for _ in range(self.rng.randint(1, 6))))
            elif r < 0.55:
                atoms.append(self.pick(["\t", "\n", "\r", "\r\n", " ", "  "]))
            elif r < 0.72:
                atoms.append(self.refs())
            elif r < 0.85:
                atoms.append(self.pick(UNICODE_BITS))
            else:
                atoms.append(self.pick([">", "'" if quote == '"' else '"', "&quot;", "&apos;", "=", "]]>"]))
        return "".join(atoms)

    # ---- elements ----
    def element(self, scope, depth, shape):
        """Serialized element; `scope` maps prefix (None = default) -> URI ('' = no default)."""
        rng = self.rng
        self.elements += 1
        decls = []  # (prefix|None, uri)
        room = MAX_ATTRS

        # namespace declarations
        r = rng.random()
        n_decls = 0 if r < 0.5 else 1 if r < 0.75 else 2 if r < 0.88 else rng.randint(3, 6)
        if shape == "storm":
            n_decls = rng.randint(0, 10)
        elif shape == "light":
            n_decls = 1 if r < 0.02 else 0
        n_decls = min(n_decls, MAX_NS_DECLS - self.ns_decls, room - 2)
        used = set()
        for _ in range(n_decls):
            if self.chance(0.3):
                prefix = None
                uri = "" if self.chance(0.3) else self.uri()
            else:
                prefix = self.pick(PREFIXES)
                uri = self.uri()
                if self.chance(0.2) and scope.get(prefix):  # redundant redeclaration
                    uri = scope[prefix]
            if prefix in used:
                continue
            used.add(prefix)
            decls.append((prefix, uri))
        if "xml" not in used and self.chance(0.01):
            decls.append(("xml", XML_NS))
        self.ns_decls += sum(1 for _ in decls)
        inner = dict(scope)
        for p, u in decls:
            if p != "xml":
                inner[p] = u
        prefixed = [p for p, u in inner.items() if p is not None and u]

        # element name
        if prefixed and self.chance(0.6):
            prefix = self.pick(prefixed)
        elif self.chance(0.01):
            prefix = "xml"
        else:
            prefix = None
        local = self.local()
        qname = f"{prefix}:{local}" if prefix else local

        # attributes
        attrs = []  # (qname, value)
        seen = set()  # expanded names
        r = rng.random()
        n_attrs = 0 if r < 0.35 else rng.randint(1, 3) if r < 0.85 else rng.randint(4, 8)
        if shape == "light":
            n_attrs = 1 if r < 0.25 else 0
        elif self.chance(0.01):
            n_attrs = MAX_ATTRS  # the per-element limit, exactly
        n_attrs = min(n_attrs, room - len(decls))
        tries = 0
        while len(attrs) < n_attrs and tries < 4 * n_attrs + 4:
            tries += 1
            r = rng.random()
            if r < 0.4:
                a_prefix, a_local, a_uri = None, self.pick(ATTR_LOCALS), None
            elif r < 0.8 and prefixed:
                a_prefix = self.pick(prefixed)
                a_local, a_uri = self.pick(ATTR_LOCALS), inner[a_prefix]
            elif r < 0.95:
                a_prefix = "xml"
                a_local, a_uri = self.pick(XML_ATTRS), XML_NS
            else:
                a_prefix, a_local, a_uri = None, "a" + str(len(attrs)), None
            if (a_uri, a_local) in seen:
                continue
            seen.add((a_uri, a_local))
            quote = self.pick(['"', "'"])
            if shape == "light" and a_prefix != "xml":
                value = self.pick(["", "1", "x y", "&amp;", "\t", "&#10;"])
            elif a_prefix == "xml" and a_local == "id":  # libxml2 insists on unique xml:id values
                self.xml_ids += 1
                value = f"i{self.xml_ids}"
            elif a_prefix == "xml":
                value = self.pick(XML_VALUES[a_local])
            elif self.chance(0.005):  # a long value (the limit is 16 KiB of raw text)
                value = "v" * rng.randint(1000, MAX_TEXT - 64) + self.attr_value(quote)
            else:
                value = self.attr_value(quote)
            value = value.replace(quote, "&quot;" if quote == '"' else "&apos;")
            attrs.append((f"{a_prefix}:{a_local}" if a_prefix else a_local, value, quote))

        items = []
        for p, u in decls:
            quote = self.pick(['"', "'"])
            name = "xmlns" if p is None else f"xmlns:{p}"
            items.append((name, uri_spelling(rng, u, quote), quote))
        items += attrs
        rng.shuffle(items)
        tag = "<" + qname
        for name, value, quote in items:
            eq = "=" if self.chance(0.9) else self.pick([" =", "= ", " = ", "\n=\t"])
            tag += self.ws() + name + eq + quote + value + quote
        if self.chance(0.1):
            tag += self.ws()

        # children
        kids = self.children(inner, depth, shape)
        if not kids and self.chance(0.6):
            return tag + "/>"
        end = "</" + qname + (self.ws() if self.chance(0.05) else "") + ">"
        return tag + ">" + "".join(kids) + end

    def children(self, scope, depth, shape):
        rng = self.rng
        if shape == "light":  # the many small children of a wide root
            r = rng.random()
            if r < 0.6 or self.elements >= self.max_elements:
                return [] if r < 0.6 else [self.pick(["x", "&amp;", " ", "é"])]
            if r < 0.85:
                return [self.text(max_atoms=2)]
            return [self.element(scope, depth + 1, "light")]
        if shape == "wide" and depth == 1:
            kids = []
            sep = self.pick(["", "\n", "\r\n", " "])
            while self.elements < self.max_elements:
                kids.append(sep)
                r = rng.random()
                if r < 0.9:
                    kids.append(self.element(scope, depth + 1, "light" if r < 0.88 else "normal"))
                elif r < 0.95:
                    kids.append(self.text(max_atoms=3))
                else:
                    kids.append(self.pick([self.comment(), self.pi(), self.cdata()]))
            return kids
        if shape == "deep" and depth < self.max_depth:
            n = rng.randint(1, 3)
        elif depth >= self.max_depth:
            n = rng.randint(0, 2)
        else:
            n = rng.choice([0, 0, 1, 2, 3, 4, 5]) if depth > 1 else rng.randint(1, 6)
        kids = []
        pretty = self.chance(0.4)
        elem_made = False
        for i in range(n):
            r = rng.random()
            if pretty:
                kids.append(self.indent(depth))
            can_elem = depth < self.max_depth and depth < MAX_DEPTH and self.elements < self.max_elements
            if shape == "deep" and can_elem and not elem_made and i == n - 1:
                r = 0.0  # the chain goes on
            if r < 0.55 and can_elem:
                kids.append(self.element(scope, depth + 1, shape))
                elem_made = True
            elif r < 0.75:
                kids.append(self.text())
            elif r < 0.83:
                kids.append(self.cdata())
            elif r < 0.91:
                kids.append(self.comment())
            else:
                kids.append(self.pi())
        if pretty and kids:
            kids.append(self.indent(depth - 1))
        if self.chance(0.01):
            kids.append("x" * rng.randint(4000, MAX_TEXT - 16))  # a big text node near the limit
        return kids

    def saml(self):
        """A SAML-assertion-like document (the real use): the usual prefixes, or default namespaces,
        declared in the usual and unusual places, with an enveloped ds:Signature."""
        rng, pick, chance = self.rng, self.pick, self.chance
        nl = pick(["", "\n", "\r\n"])
        ind = (lambda d: nl + "  " * d) if nl else (lambda d: "")
        sp, dp = pick(["saml", "saml2", "a", ""]), pick(["ds", "dsig", ""])
        S = lambda l: f"{sp}:{l}" if sp else l  # noqa: E731
        decls = 0

        def ns(prefix, uri):
            nonlocal decls
            decls += 1
            return f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'

        saml_ns, ds_ns = "urn:oasis:names:tc:SAML:2.0:assertion", "http://www.w3.org/2000/09/xmldsig#"
        xs, xsi = "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/2001/XMLSchema-instance"
        xs_root = chance(0.5)
        out = [f'<{S("Assertion")}{ns(sp, saml_ns)}']
        if xs_root:
            out.append(ns("xs", xs) + ns("xsi", xsi))
        if chance(0.2):
            out.append(ns(dp, ds_ns) if dp else "")
        out.append(f' ID="_a{rng.randint(0, 10**9)}" IssueInstant="2027-01-15T08:00:00Z" Version="2.0">')
        out.append(f'{ind(1)}<{S("Issuer")}>https://idp.example.com/{self.text(3)}</{S("Issuer")}>')
        D = lambda l: f"{dp}:{l}" if dp else l  # noqa: E731
        el_ns = "" if "xmlns:" + dp in "".join(out) and dp else ns(dp, ds_ns)
        if chance(0.2) and not sp and not dp:  # both in the default namespace: Signature undeclares it
            el_ns = ns("", ds_ns)
        b64 = lambda n: "".join(pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")  # noqa: E731
                                for _ in range(n))
        wrap = lambda n: pick(["\n", "\r\n", "&#13;\n", ""]).join(b64(64) for _ in range(n))  # noqa: E731
        plist = " ".join(x for x in ["xs", "#default", "saml", "ds"] if chance(0.4)) or "xs"
        ec = f'<ec:InclusiveNamespaces{ns("ec", "http://www.w3.org/2001/10/xml-exc-c14n#")} PrefixList="{plist}"/>' if chance(0.5) else ""
        exc = "http://www.w3.org/2001/10/xml-exc-c14n#"
        out.append(f'{ind(1)}<{D("Signature")}{el_ns}>{ind(2)}<{D("SignedInfo")}>'
                   f'{ind(3)}<{D("CanonicalizationMethod")} Algorithm="{exc}">{ec}</{D("CanonicalizationMethod")}>'
                   f'{ind(3)}<{D("SignatureMethod")} Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
                   f'{ind(3)}<{D("Reference")} URI="#_a"><{D("Transforms")}>'
                   f'<{D("Transform")} Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
                   f'<{D("Transform")} Algorithm="{exc}">{ec}</{D("Transform")}></{D("Transforms")}>'
                   f'<{D("DigestMethod")} Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
                   f'<{D("DigestValue")}>{b64(43)}=</{D("DigestValue")}></{D("Reference")}>{ind(2)}</{D("SignedInfo")}>'
                   f'{ind(2)}<{D("SignatureValue")}>{wrap(rng.randint(1, 4))}</{D("SignatureValue")}>'
                   f'{ind(2)}<{D("KeyInfo")}><{D("X509Data")}><{D("X509Certificate")}>{wrap(rng.randint(1, 12))}'
                   f'</{D("X509Certificate")}></{D("X509Data")}></{D("KeyInfo")}>{ind(1)}</{D("Signature")}>')
        out.append(f'{ind(1)}<{S("Subject")}><{S("NameID")} Format="urn:oasis:names:tc:SAML:1.1:nameid-format:'
                   f'emailAddress">{self.text(4)}</{S("NameID")}><{S("SubjectConfirmation")} '
                   f'Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><{S("SubjectConfirmationData")} '
                   f'NotOnOrAfter="2027-01-15T08:05:00Z" Recipient="https://as.example.com/token"/>'
                   f'</{S("SubjectConfirmation")}></{S("Subject")}>')
        out.append(f'{ind(1)}<{S("Conditions")} NotBefore="2027-01-15T07:59:00Z"><{S("AudienceRestriction")}>'
                   f'<{S("Audience")}>https://as.example.com</{S("Audience")}></{S("AudienceRestriction")}>'
                   f'</{S("Conditions")}>')
        out.append(f'{ind(1)}<{S("AttributeStatement")}>')
        for k in range(rng.randint(1, 8)):
            out.append(f'{ind(2)}<{S("Attribute")} Name="{self.attr_value(chr(34), 3)}" '
                       f'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">')
            for _ in range(rng.randint(1, 3)):
                inner = "" if xs_root else ns("xs", xs) + ns("xsi", xsi)
                typ = ' xsi:type="xs:string"' if chance(0.8) else ""
                lang = f' xml:lang="{pick(XML_VALUES["lang"])}"' if chance(0.2) else ""
                out.append(f'{ind(3)}<{S("AttributeValue")}{inner}{typ}{lang}>{self.text(5)}</{S("AttributeValue")}>')
            out.append(f'{ind(2)}</{S("Attribute")}>')
        out.append(f'{ind(1)}</{S("AttributeStatement")}>{nl}</{S("Assertion")}>')
        self.ns_decls = decls
        return "".join(out)

    def document(self):
        rng = self.rng
        shape = rng.choices(["tiny", "normal", "deep", "wide", "storm", "saml"], [3, 5, 2, 1, 2, 1])[0]
        if shape == "tiny":
            self.max_elements, self.max_depth = rng.randint(1, 5), 3
        elif shape == "normal":
            self.max_elements, self.max_depth = rng.randint(5, 80), rng.randint(3, 8)
        elif shape == "deep":
            self.max_elements, self.max_depth = rng.randint(30, 200), rng.randint(12, MAX_DEPTH)
        elif shape == "wide":
            self.max_elements = rng.choice([rng.randint(100, 1000), rng.randint(1000, MAX_ELEMENTS),
                                            MAX_ELEMENTS])
            self.max_depth = 4
        else:
            self.max_elements, self.max_depth = rng.randint(5, 40), rng.randint(3, 7)
        scope = {}
        body = self.saml() if shape == "saml" else self.element(scope, 1, shape)
        prolog = ""
        if self.chance(0.3):
            prolog = self.pick(['<?xml version="1.0"?>', "<?xml version='1.0' encoding='UTF-8'?>",
                                '<?xml version="1.0" encoding="utf-8" standalone="yes"?>',
                                '<?xml  version = "1.0"  standalone=\'no\' ?>'])
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            prolog += self.pick(["\n", "\r\n", " ", ""]) + self.pick([self.comment(), self.pi(), "\n"])
        epilog = ""
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            epilog += self.pick(["\n", "\r\n", " "]) + self.pick([self.comment(), self.pi()])
        doc = prolog + self.pick(["", "\n", "\r\n"]) + body + epilog + self.pick(["", "\n"])
        if self.chance(0.03):
            doc = "\ufeff" + doc
        return doc, shape


# ---------------------------------------------------------------------------------------------
# oracles
# ---------------------------------------------------------------------------------------------


class NodeSetC14N:
    """libxml2's C14N over an XPath node-set (the system libxml2.so.2, via ctypes)."""

    class XPathObject(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("nodesetval", ctypes.c_void_p)]

    def __init__(self):
        name = ctypes.util.find_library("xml2")
        if not name:
            raise OSError("libxml2 not found")
        lib = ctypes.CDLL(name)
        lib.xmlReadMemory.restype = ctypes.c_void_p
        lib.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        lib.xmlFreeDoc.argtypes = [ctypes.c_void_p]
        lib.xmlXPathNewContext.restype = ctypes.c_void_p
        lib.xmlXPathNewContext.argtypes = [ctypes.c_void_p]
        lib.xmlXPathFreeContext.argtypes = [ctypes.c_void_p]
        lib.xmlXPathEvalExpression.restype = ctypes.POINTER(self.XPathObject)
        lib.xmlXPathEvalExpression.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.xmlXPathFreeObject.argtypes = [ctypes.POINTER(self.XPathObject)]
        lib.xmlC14NDocDumpMemory.restype = ctypes.c_int
        lib.xmlC14NDocDumpMemory.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                             ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                             ctypes.POINTER(ctypes.c_void_p)]
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"))
        self.libc.free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        try:
            self.version = ctypes.c_char_p.in_dll(lib, "xmlParserVersion").value.decode()
        except (ValueError, AttributeError):
            self.version = "?"

    def open(self, data: bytes):
        # XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
        doc = self.lib.xmlReadMemory(data, len(data), b"doc.xml", None, (1 << 11) | (1 << 5) | (1 << 6))
        if not doc:
            raise ValueError("system libxml2 refused the document")
        return doc

    def close(self, doc):
        self.lib.xmlFreeDoc(doc)

    def c14n(self, doc, apex_index, exclusive, prefixes):
        k = apex_index + 1
        expr = (f"(//*)[{k}]/descendant-or-self::node() | (//*)[{k}]/descendant-or-self::*/@* | "
                f"(//*)[{k}]/descendant-or-self::*/namespace::*").encode()
        ctx = self.lib.xmlXPathNewContext(doc)
        obj = self.lib.xmlXPathEvalExpression(expr, ctx)
        try:
            if not obj or not obj.contents.nodesetval:
                raise ValueError("XPath failed")
            arr = None
            if prefixes:
                arr = (ctypes.c_char_p * (len(prefixes) + 1))(*[p.encode() for p in prefixes], None)
            out = ctypes.c_void_p()
            n = self.lib.xmlC14NDocDumpMemory(doc, obj.contents.nodesetval, 1 if exclusive else 0, arr, 0,
                                              ctypes.byref(out))
            if n < 0:
                raise ValueError("xmlC14NDocDumpMemory failed")
            try:
                return ctypes.string_at(out, n).decode("utf-8")
            finally:
                self.libc.free(out)
        finally:
            if obj:
                self.lib.xmlXPathFreeObject(obj)
            self.lib.xmlXPathFreeContext(ctx)


def escape_ns_amp(c14n: str) -> str:
    """Rewrites the namespace declarations of a libxml2 canonical form the way C14N 1.0 §2.3 renders
    them ("process the namespace node N in the same way as an attribute node": & becomes &amp;).
    libxml2 writes the URI unescaped (2.14: a raw '&', so the output is not even well-formed; 2.9:
    '&#38;').  Namespace URIs cannot contain '<', '"' or whitespace (libxml2 refuses them as invalid
    URIs), and the generator never puts a literal "&#38;" in one, so '&' is the only character to fix.
    Only start tags are touched (text and PI data are left alone)."""
    out, i, n = [], 0, len(c14n)
    while i < n:
        j = c14n.find("<", i)
        if j < 0:
            out.append(c14n[i:])
            break
        out.append(c14n[i:j])
        if c14n.startswith("<?", j):
            k = c14n.index("?>", j) + 2
            out.append(c14n[j:k])
            i = k
            continue
        if c14n.startswith("</", j):
            k = c14n.index(">", j) + 1
            out.append(c14n[j:k])
            i = k
            continue
        # start tag: <name( name="value")*>   (values have no raw '"')
        k = j + 1
        while c14n[k] not in " >":
            k += 1
        out.append(c14n[j:k])
        while c14n[k] == " ":
            eq = c14n.index('="', k)
            end = c14n.index('"', eq + 2)
            name, value = c14n[k + 1:eq], c14n[eq + 2:end]
            if name == "xmlns" or name.startswith("xmlns:"):
                value = value.replace("&#38;", "&").replace("&", "&amp;")
            out.append(f' {name}="{value}"')
            k = end + 1
        out.append(">")
        i = k + 1
    return "".join(out)


def lxml_c14n(el, exclusive, prefixes):
    plist = [p for p in prefixes or [] if p != "#default"] or None
    return etree.tostring(el, method="c14n", exclusive=exclusive, inclusive_ns_prefixes=plist,
                          with_comments=False).decode("utf-8")


# ---------------------------------------------------------------------------------------------
# documents -> cases
# ---------------------------------------------------------------------------------------------


def within_limits(data: bytes, root) -> str | None:
    """Why the document would be over assertion-grant's limits (None = within them)."""
    if len(data) > MAX_BYTES:
        return "size"
    n = 0
    total_decls = 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            for s in (el.tail,):
                if s and len(s.encode()) > MAX_TEXT:
                    return "text"
            continue
        n += 1
        depth = sum(1 for _ in el.iterancestors()) + 1
        if depth > MAX_DEPTH:
            return "depth"
        parent_ns = el.getparent().nsmap if el.getparent() is not None else {}
        # lxml has no public nsDef accessor; declarations = new or changed nsmap entries (a redundant
        # redeclaration is invisible here, so the generator counts those itself).
        own = sum(1 for p, u in el.nsmap.items() if parent_ns.get(p) != u)
        total_decls += own
        if len(el.attrib) + own > MAX_ATTRS:
            return "attributes"
        for s in (el.text, el.tail):
            if s and len(s.encode()) > MAX_TEXT:
                return "text"
    if n > MAX_ELEMENTS:
        return "elements"
    return None


def prefix_list(rng, el, avoid):
    in_scope = ["#default" if p is None else p for p, u in el.nsmap.items() if u]
    chosen = [p for p in in_scope if rng.random() < 0.5]
    if rng.random() < 0.25 and "#default" not in chosen:
        chosen.append("#default")
    if rng.random() < 0.15:
        chosen.append(rng.choice(["nope", "zz", "ds"]))
    if "xml-prefix-list" not in avoid and rng.random() < 0.03:
        chosen.append("xml")
    rng.shuffle(chosen)
    return chosen or ["#default"]


class Stats:
    def __init__(self):
        self.docs = 0
        self.cases = 0
        self.by_oracle = {}
        self.skipped = 0
        self.regenerated = {}
        self.disagreements = []
        self.shapes = {}
        self.lxml_deviations = 0  # quirk cases where lxml's answer did differ from the node-set one
        self.max = {"depth": 0, "elements": 0, "attributes": 0, "namespace declarations": 0, "bytes": 0}

    def measure(self, data, root, ns_decls):
        els = [e for e in root.iter() if isinstance(e.tag, str)]
        seen = {"depth": max(sum(1 for _ in e.iterancestors()) + 1 for e in els), "elements": len(els),
                "attributes": max(len(e.attrib) for e in els), "namespace declarations": ns_decls,
                "bytes": len(data)}
        for k, v in seen.items():
            self.max[k] = max(self.max[k], v)


class Oracle:
    """The expected canonical forms of one document (see the module docstring for the policy)."""

    def __init__(self, text, nodeset):
        self.text = text
        self.data = text.encode("utf-8")
        self.root = etree.fromstring(self.data, PARSER)
        self.elements = [e for e in self.root.iter() if isinstance(e.tag, str)]
        # a namespace URI with '&' anywhere: both libxml2s render it unescaped (see escape_ns_amp)
        self.amp_uri = any("&" in (u or "") for e in self.elements for u in e.nsmap.values())
        self.nodeset = nodeset
        self.ns_doc = nodeset.open(self.data) if nodeset is not None else None

    def close(self):
        if self.ns_doc is not None:
            self.nodeset.close(self.ns_doc)
            self.ns_doc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def both(self, apex, exclusive, plist):
        """(lxml's output, the node-set output or None), namespace '&' fixed up in both."""
        el = self.root if apex is None else self.elements[apex]
        if apex is None and (el.getprevious() is not None or el.getnext() is not None):
            el = copy.deepcopy(el)  # not through lxml's fake root document (see the module docstring)
        lx = lxml_c14n(el, exclusive, plist)
        ns_out = None
        if self.ns_doc is not None:
            ns_out = self.nodeset.c14n(self.ns_doc, apex or 0, exclusive, plist)
        if self.amp_uri:
            lx = escape_ns_amp(lx)
            ns_out = ns_out and escape_ns_amp(ns_out)
        return lx, ns_out

    def quirk(self, apex, exclusive, plist):
        """Whether lxml's answer is known to deviate from the spec for this case."""
        if exclusive:
            return bool(plist and "#default" in plist)
        return apex is not None

    def expected(self, apex, exclusive, plist):
        """(expected, oracle name, lxml output, node-set output); expected None = skipped."""
        lx, ns_out = self.both(apex, exclusive, plist)
        if self.quirk(apex, exclusive, plist):
            expected, oracle = ns_out, "nodeset"
        else:
            expected, oracle = lx, "lxml"
        if self.amp_uri:
            oracle += "+ns-amp"
        return expected, oracle, lx, ns_out


def case_json(i, text, apex, exclusive, plist, expected, oracle):
    kind = ("exc" if exclusive else "inc") + ("-list" if plist else "")
    return {"input": text, "apex_index": apex, "exclusive": exclusive, "inclusive_prefixes": plist,
            "expected": expected, "doc": i, "name": f"d{i}-{'root' if apex is None else 'e%d' % apex}-{kind}",
            "oracle": oracle}


def cases_for(i, text, rng, avoid, nodeset, stats):
    out = []
    with Oracle(text, nodeset) as orc:
        elements = orc.elements
        apexes = [None]
        if len(elements) > 1:
            k = min(len(elements) - 1, rng.choice([1, 2, 2, 3, 4]) if len(orc.data) < 8192 else 1)
            # uniformly, plus (half of the time) the element with the most namespaces in scope
            inner = list(range(1, len(elements)))
            picks = set(rng.sample(inner, k))
            if rng.random() < 0.5:
                picks.add(max(inner, key=lambda j: (len(elements[j].nsmap), rng.random())))
            # what a signature verifier canonicalizes: SignedInfo
            picks.update(j for j in inner if etree.QName(elements[j]).localname == "SignedInfo")
            apexes += sorted(picks)
        for apex in apexes:
            el = orc.root if apex is None else elements[apex]
            variants = [(True, None), (False, None)]
            if rng.random() < 0.7:
                variants.append((True, prefix_list(rng, el, avoid)))
            for exclusive, plist in variants:
                expected, oracle, lx, ns_out = orc.expected(apex, exclusive, plist)
                if expected is None:
                    stats.skipped += 1
                    continue
                if oracle.startswith("nodeset") and lx != ns_out:
                    stats.lxml_deviations += 1
                if oracle.startswith("lxml") and ns_out is not None and ns_out != lx:
                    stats.disagreements.append({"doc": i, "input": text, "apex_index": apex,
                                                "exclusive": exclusive, "inclusive_prefixes": plist,
                                                "lxml": lx, "nodeset": ns_out})
                out.append(case_json(i, text, apex, exclusive, plist, expected, oracle))
                stats.by_oracle[oracle] = stats.by_oracle.get(oracle, 0) + 1
    return out


def generate(seed, i, avoid, stats):
    """Document i of `seed` (independent of the other documents)."""
    for attempt in range(50):
        rng = random.Random(f"{seed}:{i}:{attempt}")
        g = Gen(rng, avoid)
        text, shape = g.document()
        data = text.encode("utf-8")
        try:
            root = etree.fromstring(data, PARSER)
        except etree.XMLSyntaxError as e:
            raise SystemExit(f"generator bug: lxml refuses document {i} (seed {seed}): {e}\n{text[:3000]!r}")
        why = within_limits(data, root) or ("namespace declarations" if g.ns_decls > MAX_NS_DECLS else None)
        if why is None:
            stats.shapes[shape] = stats.shapes.get(shape, 0) + 1
            stats.measure(data, root, g.ns_decls)
            return text, rng
        stats.regenerated[why] = stats.regenerated.get(why, 0) + 1
    raise SystemExit(f"document {i} (seed {seed}): no document within the limits after 50 attempts")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=300, help="documents (default 300)")
    ap.add_argument("--seed", default="0", help="seed (any string; default 0)")
    ap.add_argument("--out", default="-", help="JSONL output (default stdout)")
    ap.add_argument("--only", type=int, help="generate only document ONLY (to reproduce one)")
    ap.add_argument("--avoid", default="", help="comma-separated features to leave out: " + ", ".join(FEATURES))
    ap.add_argument("--no-nodeset", action="store_true", help="do not use the system libxml2 (skip quirk cases)")
    ap.add_argument("--disagreements", help="write lxml/nodeset disagreements to this JSONL file")
    args = ap.parse_args()
    avoid = {f for f in args.avoid.split(",") if f}
    if avoid - set(FEATURES):
        ap.error(f"unknown feature(s): {', '.join(sorted(avoid - set(FEATURES)))}")

    nodeset = None
    if not args.no_nodeset:
        try:
            nodeset = NodeSetC14N()
        except OSError as e:
            print(f"gen.py: no system libxml2 ({e}); cases needing it are skipped", file=sys.stderr)
    stats = Stats()
    t0 = time.time()
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    with out:
        for i in ([args.only] if args.only is not None else range(args.count)):
            text, rng = generate(args.seed, i, avoid, stats)
            for case in cases_for(i, text, rng, avoid, nodeset, stats):
                out.write(json.dumps(case, ensure_ascii=False) + "\n")
                stats.cases += 1
            stats.docs += 1
    if args.disagreements:
        with open(args.disagreements, "w", encoding="utf-8") as f:
            for d in stats.disagreements:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"gen.py: seed {args.seed}: {stats.docs} documents ({', '.join(f'{k} {v}' for k, v in sorted(stats.shapes.items()))}), "
          f"{stats.cases} cases ({', '.join(f'{k} {v}' for k, v in sorted(stats.by_oracle.items()))}), "
          f"{stats.skipped} skipped, {len(stats.disagreements)} lxml/nodeset disagreements "
          f"(+{stats.lxml_deviations} known lxml deviations replaced); "
          f"largest: {', '.join(f'{k} {v}' for k, v in stats.max.items())}; "
          f"libxml2 {etree.LIBXML_VERSION} (lxml {etree.__version__})"
          + (f" and system libxml2 {nodeset.version}" if nodeset else "")
          + (f"; regenerated over limits: {stats.regenerated}" if stats.regenerated else "")
          + (f"; avoiding {','.join(sorted(avoid))}" if avoid else "")
          + f"; {time.time() - t0:.1f}s", file=sys.stderr)
    for d in stats.disagreements[:5]:
        print(f"gen.py: lxml and nodeset disagree (doc {d['doc']}, apex {d['apex_index']}, "
              f"{'exc' if d['exclusive'] else 'inc'} {d['inclusive_prefixes']}):\n  lxml:    {d['lxml']!r}\n"
              f"  nodeset: {d['nodeset']!r}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent SAML 2.0 bearer-assertion (RFC 7522) test-vector generator for assertion-grant.

Run from the repository root (Python 3.9+, Debian's `xmlsec1` 1.2.x on PATH):

    pip install signxml lxml          # cryptography >= 44 is usually already installed
    python3 tests/vectors/saml/gen_saml.py             # reuse keys/*.pem
    python3 tests/vectors/saml/gen_saml.py --new-keys  # make fresh keys and certificates first

What it writes (all under tests/vectors/saml/):
  keys/*.key.pem, keys/*.crt.pem   private keys + self-signed certificates, TEST ONLY
  config.json                      the test AS configuration (contract schema, saml2 issuers)
  vectors.json                     array of token-request cases with expected outcomes
  replay.json                      replay scenarios (same assertion / client assertion used twice)
  c14n/cases.json                  canonicalization vectors (lxml/libxml2, cross-checked with xmlsec1)

Signatures are made by two independent tools: the xmlsec1 command-line program (from a
signature template that fixes every algorithm and the exact layout) and Python signxml; nothing
here depends on the Rust code under test.  Attacks are then built from the signed text (moving,
copying, editing) with lxml or plain string operations.

Self-check (the script writes nothing if any check fails):
  * every case is run through a strict reference validator written from shared/SPEC.md §4-6 and
    the configuration contract; its verdict and reason must equal the case's expectation/flags[0];
  * every positive case must also verify with `xmlsec1 --verify` (configured certificate only,
    KeyInfo ignored) AND with signxml's XMLVerifier (configured certificate, signature required
    as a direct child of the root, the signed element must be the root itself);
  * negatives that are rejected for a *semantic* reason (audience, times, subject ...) must carry
    a signature that both tools accept, so the semantic check is the only thing that fails;
  * negatives rejected for a cryptographic reason must fail `xmlsec1 --verify`;
  * signature-wrapping / ID-decoy cases must be ACCEPTED by a deliberately naive verifier
    (first ds:Signature anywhere, reference resolved by any ID-like attribute) -- i.e. the
    attack is real -- while the strict validator rejects them.

Determinism: RSA PKCS#1 v1.5 is deterministic and the templates are fixed, so xmlsec1 and
signxml RSA output is byte-identical across runs.  signxml ECDSA is made deterministic (RFC 6979)
by patching its call into `cryptography`.  xmlsec1's ECDSA uses random nonces: for those cases the
previous run's XML is kept when everything but the SignatureValue is unchanged (and it still
verifies), so re-runs are byte-identical too.  Clock: NOW = 1800000000 = 2027-01-15T08:00:00Z.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

try:
    from lxml import etree
    import signxml
    import signxml.signer as _signxml_signer
    from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
except ImportError:  # pragma: no cover
    sys.exit("lxml and signxml are required: pip install signxml lxml")

NOW = 1800000000
HERE = Path(__file__).resolve().parent
KEYS_DIR = HERE / "keys"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"

MAX_VECTOR_BYTES = 60 * 1024          # brief: no single vector above 60 KB
MAX_BODY_BYTES = 64 * 1024            # src/limits.rs MAX_BODY_BYTES
MAX_SAML_XML_BYTES = 64 * 1024        # the core's limit on the decoded assertion (xml::Limits)
MAX_XML_DEPTH = 24                    # the core's element-nesting limit (xml::Limits)

AS_ISSUER = "https://as.example.com"
TOKEN_ENDPOINT = "https://as.example.com/token"
AS_ALIAS = "https://as.example.com/oauth2/token"
SAML_IDP = "https://saml-idp.example.com"
EC_IDP = "https://saml-ec-idp.example.com"
OTHER_IDP = "https://other-saml-idp.example.com"
LEGACY_IDP = "https://legacy-idp.example.com"
EVIL_IDP = "https://evil-idp.example.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XML = "http://www.w3.org/XML/1998/namespace"

EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_WC = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
INC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
ENV = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
SIG_URI = {
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "ecdsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "ecdsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "ecdsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    "hmac-sha256": "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
}
DIGEST_URI = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}

NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
CM_HOK = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
ATTR_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTR_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
AC_PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Fail(Exception):
    pass


def die(msg):
    raise Fail(msg)


# ---------------------------------------------------------------------------
# encoding helpers
# ---------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64s(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def iso(t: int, frac: str = "") -> str:
    """xs:dateTime in UTC with Z, e.g. 2027-01-15T08:00:00Z."""
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def encode_param(xml_bytes: bytes, encoding: str) -> str:
    """The exact `assertion` form value for a vector's `encoding` (documented in README.md)."""
    if encoding == "base64url":
        return b64u(xml_bytes)
    if encoding == "base64url-padded":
        return base64.urlsafe_b64encode(xml_bytes).decode("ascii")
    if encoding == "base64":
        return b64s(xml_bytes)
    if encoding == "base64-unpadded":
        return b64s(xml_bytes).rstrip("=")
    if encoding == "base64-with-newlines":  # MIME style: CRLF after every 76 characters
        s = b64s(xml_bytes)
        return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))
    if encoding == "mixed-alphabet":  # standard base64 (padded) with only the FIRST '+' replaced by '-'
        s = b64s(xml_bytes)
        assert s.count("+") >= 2, "mixed-alphabet needs two '+' in the encoding"
        return s.replace("+", "-", 1)
    if encoding == "base64-with-spaces":  # standard base64 (padded), one space after every 64 chars
        s = b64s(xml_bytes)
        return " ".join(s[i:i + 64] for i in range(0, len(s), 64))
    if encoding == "base64url-invalid-char":  # base64url, '*' inserted at index len//2
        s = b64u(xml_bytes)
        return s[: len(s) // 2] + "*" + s[len(s) // 2:]
    if encoding == "base64url-truncated":  # base64url with characters dropped so len % 4 == 1
        s = b64u(xml_bytes)
        while len(s) % 4 != 1:
            s = s[:-1]
        return s
    raise ValueError(encoding)


# ---------------------------------------------------------------------------
# keys and self-signed certificates (PEM on disk; TEST ONLY)
# ---------------------------------------------------------------------------

KEY_SPECS = {
    "saml-idp": "RSA2048",
    "saml-ec-idp": "P256",
    "other-saml-idp": "RSA2048",
    "legacy-idp": "RSA2048",
    "attacker-rsa": "RSA2048",
    "attacker-ec": "P256",
}


def make_cert(stem, key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{stem} (assertion-grant TEST ONLY)")])
    serial = int.from_bytes(hashlib.sha256(stem.encode()).digest()[:16], "big") >> 1
    b = (x509.CertificateBuilder()
         .subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(serial)
         .not_valid_before(_dt.datetime(2025, 1, 1, tzinfo=_dt.timezone.utc))
         .not_valid_after(_dt.datetime(2035, 1, 1, tzinfo=_dt.timezone.utc))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    return b.sign(key, hashes.SHA256())


def load_keys(new_keys: bool):
    KEYS_DIR.mkdir(exist_ok=True)
    out = {}
    for stem, kind in KEY_SPECS.items():
        kp, cp = KEYS_DIR / f"{stem}.key.pem", KEYS_DIR / f"{stem}.crt.pem"
        if new_keys or not kp.exists() or not cp.exists():
            key = rsa.generate_private_key(65537, 2048) if kind == "RSA2048" else ec.generate_private_key(ec.SECP256R1())
            kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
            cp.write_bytes(make_cert(stem, key).public_bytes(serialization.Encoding.PEM))
        key = serialization.load_pem_private_key(kp.read_bytes(), None)
        cert = x509.load_pem_x509_certificate(cp.read_bytes())
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            die(f"keys/{stem}: certificate does not match the private key")
        der = cert.public_bytes(serialization.Encoding.DER)
        out[stem] = {"key": key, "cert": cert, "key_path": str(kp), "cert_path": str(cp),
                     "cert_pem": cp.read_text(), "cert_b64": b64s(der), "kind": kind}
    return out


# ---------------------------------------------------------------------------
# a tiny XML text builder (exact lexical control; nothing is re-serialized)
# ---------------------------------------------------------------------------


class Raw(str):
    """Inserted verbatim (an element-like chunk, e.g. an already signed assertion)."""


class E:
    __slots__ = ("tag", "attrs", "kids")

    def __init__(self, tag, attrs=None, *kids):
        self.tag = tag
        self.attrs = list((attrs or {}).items()) if isinstance(attrs, dict) else list(attrs or [])
        self.kids = [k for k in kids if k is not None]


def esc_t(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_a(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))


def ser(n, pretty=False, lvl=0):
    if isinstance(n, Raw):
        return str(n)
    if isinstance(n, str):
        return esc_t(n)
    a = "".join(f' {k}="{esc_a(v)}"' for k, v in n.attrs)
    if not n.kids:
        return f"<{n.tag}{a}/>"
    text_only = all(isinstance(k, str) and not isinstance(k, Raw) for k in n.kids)
    if pretty and not text_only:
        ind = "\n" + "  " * (lvl + 1)
        inner = "".join(ind + ser(k, True, lvl + 1) for k in n.kids) + "\n" + "  " * lvl
    else:
        inner = "".join(ser(k, False, lvl + 1) for k in n.kids)
    return f"<{n.tag}{a}>{inner}</{n.tag}>"


# ---------------------------------------------------------------------------
# assertion model
# ---------------------------------------------------------------------------

# (Name, NameFormat, FriendlyName, values)
BASE_ATTRS = [
    ("email", ATTR_BASIC, None, ["alice@example.com"]),
    ("groups", ATTR_BASIC, None, ["engineering", "staff"]),
    ("urn:oid:2.16.840.1.113730.3.1.241", ATTR_URI, "displayName", ["Alice Example"]),
    ("urn:oid:2.5.4.42", ATTR_URI, "givenName", ["Alice"]),
    ("urn:oid:2.5.4.4", ATTR_URI, "sn", ["Example"]),
    ("urn:oid:0.9.2342.19200300.100.1.3", ATTR_URI, "mail", ["alice@example.com"]),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", ATTR_URI, "eduPersonPrincipalName", ["alice@example.com"]),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.9", ATTR_URI, "eduPersonScopedAffiliation",
     ["member@example.com", "staff@example.com", "employee@example.com"]),
    ("urn:oid:2.5.4.11", ATTR_URI, "ou", ["Platform Engineering"]),
    ("urn:oid:2.16.840.1.113730.3.1.3", ATTR_URI, "employeeNumber", ["100042"]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/role", ATTR_URI, None, ["Reader", "Contributor"]),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", ATTR_URI, None, ["alice@corp.example.com"]),
    ("locale", ATTR_BASIC, None, ["en-US"]),
]
IDP_CLAIMS = {"email": "alice@example.com", "groups": ["engineering", "staff"], "display_name": "Alice Example"}


def default_opts(aid):
    return {
        "p": "saml",                # prefix of the SAML namespace ("" = default namespace)
        "id": aid, "version": "2.0", "issue_instant": iso(NOW - 10),
        "root_attrs": [],           # extra (name, value) on the root after the standard ones
        "root_ns": None,            # namespace declarations on the root (None = default set)
        "inner_ns": False,          # True: xs/xsi declared on each AttributeValue, not on the root
        "issuer": SAML_IDP, "issuer_attrs": [],
        "nameid": "alice@example.com", "nameid_raw": None, "nameid_format": NAMEID_EMAIL,
        "subject": True,
        "confirmations": [("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)})],
        "conditions": True, "nb": iso(NOW - 60), "noa": iso(NOW + 300),
        "audiences": [[AS_ISSUER]],  # one list per AudienceRestriction
        "cond_extra": [],            # extra children of Conditions (E or Raw)
        "advice": None,
        "authn": True,
        "attrs": BASE_ATTRS, "attr_split": None,
        "extra_children": [],        # appended at the end of the root
    }


def build_assertion(o, sig):
    """Assertion tree from options; `sig` (E/Raw or None) is placed right after Issuer."""
    p = o["p"]

    def q(local):
        return f"{p}:{local}" if p else local

    xmlns = f"xmlns:{p}" if p else "xmlns"
    if o["root_ns"] is not None:
        ns = list(o["root_ns"])
    elif o["inner_ns"]:
        ns = [(xmlns, NS_SAML)]
    else:
        ns = [(xmlns, NS_SAML), ("xmlns:xs", NS_XS), ("xmlns:xsi", NS_XSI)]
    attrs = ns + [("ID", o["id"]), ("Version", o["version"]), ("IssueInstant", o["issue_instant"])]
    attrs = [(k, v) for k, v in attrs if v is not None] + list(o["root_attrs"])
    kids = []
    if o["issuer"] is not None:
        kids.append(E(q("Issuer"), o["issuer_attrs"], o["issuer"]))
    if sig is not None:
        kids.append(sig)
    if o["subject"]:
        skids = []
        if o["nameid_raw"] is not None:
            skids.append(Raw(o["nameid_raw"]))
        elif o["nameid"] is not None:
            na = {"Format": o["nameid_format"]} if o["nameid_format"] else {}
            skids.append(E(q("NameID"), na, o["nameid"]) if o["nameid"] != "" else E(q("NameID"), na))
        for method, scd in o["confirmations"]:
            m = {"bearer": CM_BEARER, "hok": CM_HOK}.get(method, method)
            skids.append(E(q("SubjectConfirmation"), {"Method": m},
                           E(q("SubjectConfirmationData"), scd) if scd is not None else None))
        kids.append(E(q("Subject"), {}, *skids))
    if o["conditions"]:
        ca = {}
        if o["nb"] is not None:
            ca["NotBefore"] = o["nb"]
        if o["noa"] is not None:
            ca["NotOnOrAfter"] = o["noa"]
        ck = [E(q("AudienceRestriction"), {}, *[E(q("Audience"), {}, a) for a in auds]) for auds in o["audiences"]]
        kids.append(E(q("Conditions"), ca, *(ck + list(o["cond_extra"]))))
    if o["advice"] is not None:
        kids.append(o["advice"])
    if o["authn"]:
        kids.append(E(q("AuthnStatement"), {"AuthnInstant": iso(NOW - 120), "SessionIndex": f"_session{o['id']}",
                                             "SessionNotOnOrAfter": iso(NOW + 28800)},
                      E(q("AuthnContext"), {}, E(q("AuthnContextClassRef"), {}, AC_PPT))))
    if o["attrs"]:
        groups = [o["attrs"]] if not o["attr_split"] else [o["attrs"][:o["attr_split"]], o["attrs"][o["attr_split"]:]]
        for g in groups:
            alist = []
            for name, fmt, friendly, values in g:
                aa = {"Name": name, "NameFormat": fmt}
                if friendly:
                    aa["FriendlyName"] = friendly
                vals = []
                for v in values:
                    va = ({"xmlns:xs": NS_XS, "xmlns:xsi": NS_XSI} if o["inner_ns"] else {})
                    va = dict(va, **{"xsi:type": "xs:string"})
                    vals.append(E(q("AttributeValue"), va, Raw(v.raw) if isinstance(v, RawVal) else v))
                alist.append(E(q("Attribute"), aa, *vals))
            kids.append(E(q("AttributeStatement"), {}, *alist))
    kids.extend(o["extra_children"])
    return E(q("Assertion"), attrs, *kids)


class RawVal(str):
    """An attribute value given as raw XML text (e.g. with entity references)."""

    def __new__(cls, raw, value):
        s = str.__new__(cls, value)
        s.raw = raw
        return s


def attrs_with(**repl):
    """BASE_ATTRS with some values replaced: attrs_with(email=[...])."""
    out = []
    for name, fmt, fr, vals in BASE_ATTRS:
        key = {"urn:oid:2.16.840.1.113730.3.1.241": "display_name"}.get(name, name)
        out.append((name, fmt, fr, repl.get(key, vals)))
    return out


# ---------------------------------------------------------------------------
# signature templates and the two signing tools
# ---------------------------------------------------------------------------


def sig_template(ds="ds", declare=True, c14n=EXC, si_prefixes=None, method="rsa-sha256", refs=None,
                 keyinfo="x509", extra=(), signedinfo_copies=1, digest="sha256"):
    def d(local):
        return f"{ds}:{local}" if ds else local

    def c14n_el(tag, alg, prefixes):
        kids = []
        if prefixes is not None:
            kids.append(E("ec:InclusiveNamespaces", {"xmlns:ec": NS_EC, "PrefixList": prefixes}))
        return E(d(tag), {"Algorithm": alg}, *kids)

    if refs is None:
        refs = [{}]
    rlist = []
    for r in refs:
        tr = r.get("transforms", [(ENV, None), (EXC, r.get("prefixes"))])
        tkids = []
        for alg, arg in tr:
            if alg == XPATH:
                tkids.append(E(d("Transform"), {"Algorithm": alg}, E(d("XPath"), {}, arg)))
            else:
                tkids.append(c14n_el("Transform", alg, arg))
        ra = {"URI": r["uri"]} if r.get("uri") is not None else {}
        rlist.append(E(d("Reference"), ra, E(d("Transforms"), {}, *tkids) if tkids else None,
                       E(d("DigestMethod"), {"Algorithm": DIGEST_URI[r.get("digest", digest)]}),
                       E(d("DigestValue"))))
    si = E(d("SignedInfo"), {}, c14n_el("CanonicalizationMethod", c14n, si_prefixes),
           E(d("SignatureMethod"), {"Algorithm": SIG_URI[method]}), *rlist)
    kids = [si] * signedinfo_copies + [E(d("SignatureValue"))]
    if keyinfo == "x509":
        kids.append(E(d("KeyInfo"), {}, E(d("X509Data"), {}, E(d("X509Certificate")))))
    elif keyinfo == "keyname":
        kids.append(E(d("KeyInfo"), {}, E(d("KeyName"), {}, "saml-idp-signing-2027")))
    elif keyinfo == "keyvalue":
        kids.append(E(d("KeyInfo"), {}, E(d("KeyValue"))))
    kids.extend(extra)
    attrs = {}
    if declare:
        attrs = {f"xmlns:{ds}" if ds else "xmlns": NS_DS}
    return E(d("Signature"), attrs, *kids)


_DECL_RE = re.compile(r'^<\?xml version="1\.0"( encoding="UTF-8")?\?>\n')


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def xmlsec_sign(text, keys, stem="saml-idp", id_attrs=(("ID", NS_SAML + ":Assertion"),), extra_args=(),
                hmac_key=None, files=None, dtd=None):
    """Signs the first Signature template of `text` with xmlsec1; returns the exact output text."""
    with tempfile.TemporaryDirectory() as td:
        inp, out = os.path.join(td, "in.xml"), os.path.join(td, "out.xml")
        Path(inp).write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text, encoding="utf-8")
        cmd = [XMLSEC1, "--sign"]
        if hmac_key is not None:
            hk = os.path.join(td, "hmac.key")
            Path(hk).write_bytes(hmac_key)
            cmd += ["--hmackey", hk]
        else:
            k = keys[stem]
            cmd += ["--privkey-pem", f"{k['key_path']},{k['cert_path']}"]
        for a, n in id_attrs:
            cmd += [f"--id-attr:{a}", n]
        if dtd is not None:
            dp = os.path.join(td, "ids.dtd")
            Path(dp).write_text(dtd)
            cmd += ["--dtd-file", dp]
        for fname, content in (files or {}).items():
            Path(td, fname).write_text(content)
        cmd += [a.replace("@TMP@", td) for a in extra_args]
        cmd += ["--output", out, inp]
        r = run(cmd)
        if r.returncode != 0:
            die(f"xmlsec1 --sign failed: {r.stderr[-2000:]}")
        res = Path(out).read_text(encoding="utf-8")
    m = _DECL_RE.match(res)
    if not m:
        die("unexpected xmlsec1 output prolog: " + res[:80])
    res = res[m.end():]
    if res.endswith("\n"):
        res = res[:-1]
    return res


class _ECShim:
    """signxml calls ec.ECDSA(algorithm=...): make its nonce deterministic (RFC 6979)."""

    @staticmethod
    def ECDSA(algorithm):  # noqa: N802 - mirrors cryptography's name
        return ec.ECDSA(algorithm, deterministic_signing=True)

    def __getattr__(self, k):
        return getattr(ec, k)


_signxml_signer.ec = _ECShim()


def signxml_sign(text, keys, stem="saml-idp", method="rsa-sha256", digest="sha256", c14n=EXC, ref_uri=None):
    """Signs with signxml: `text` contains <ds:Signature Id="placeholder"/> where the signature goes."""
    root = etree.fromstring(text.encode("utf-8"))
    signer = XMLSigner(method=signxml.methods.enveloped, signature_algorithm=SIG_URI[method],
                       digest_algorithm=DIGEST_URI[digest], c14n_algorithm=c14n)
    k = keys[stem]
    signed = signer.sign(root, key=k["key"], cert=[k["cert_pem"]], reference_uri=ref_uri, id_attribute="ID")
    return etree.tostring(signed, encoding="unicode")


def placeholder(ds="ds"):
    return E(f"{ds}:Signature", {f"xmlns:{ds}": NS_DS, "Id": "placeholder"})


# ---------------------------------------------------------------------------
# verification helpers: xmlsec1, signxml, lxml parsing
# ---------------------------------------------------------------------------

SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                              remove_comments=False, remove_pis=False, remove_blank_text=False)


def xmlsec_verify(xml_bytes: bytes, cert_path, id_attrs=(("ID", NS_SAML + ":Assertion"),), extra_args=()):
    """True iff xmlsec1 verifies the first ds:Signature with ONLY the given certificate's key."""
    with tempfile.TemporaryDirectory() as td:
        inp = os.path.join(td, "in.xml")
        Path(inp).write_bytes(xml_bytes)
        cmd = [XMLSEC1, "--verify", "--pubkey-cert-pem", cert_path, "--enabled-key-data", "key-name"]
        for a, n in id_attrs:
            cmd += [f"--id-attr:{a}", n]
        cmd += list(extra_args) + [inp]
        r = run(cmd)
        return r.returncode == 0 and r.stderr.startswith("OK")


def remove_keep_tail(el):
    """Remove an element but keep the text that followed it (as the enveloped transform does)."""
    parent, prev = el.getparent(), el.getprevious()
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


ENTITY_PARSER = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True, huge_tree=False)


def signxml_verify(xml_bytes: bytes, cert_pem: str, legacy=False, validate_schema=True, parser=SAFE_PARSER):
    """signxml with the configured certificate; the signature must be a direct child of the root and
    the signed element must be the root itself.  Returns (ok, message)."""
    methods = {SignatureMethod(SIG_URI[m]) for m in ("rsa-sha256", "rsa-sha384", "rsa-sha512",
                                                       "ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512")}
    digests = {DigestAlgorithm(DIGEST_URI[d]) for d in ("sha256", "sha384", "sha512")}
    if legacy:
        methods.add(SignatureMethod(SIG_URI["rsa-sha1"]))
        digests.add(DigestAlgorithm(DIGEST_URI["sha1"]))
    cfg = SignatureConfiguration(location="./", signature_methods=frozenset(methods),
                                 digest_algorithms=frozenset(digests), expect_references=1,
                                 verification_time=_dt.datetime.fromtimestamp(NOW, _dt.timezone.utc))
    try:
        root = etree.fromstring(xml_bytes, parser)
        res = XMLVerifier().verify(root, x509_cert=cert_pem, id_attribute="ID", expect_config=cfg,
                                   validate_schema=validate_schema)
    except Exception as e:  # noqa: BLE001 - any failure counts
        return False, f"{type(e).__name__}: {e}"
    exc = lambda el: etree.tostring(el, method="c14n", exclusive=True, with_comments=False)  # noqa: E731
    root_copy = copy.deepcopy(root)
    for s in root_copy.findall(f"{{{NS_DS}}}Signature"):
        remove_keep_tail(s)
    if exc(res.signed_xml) != exc(root_copy):
        return False, "signed element is not the root"
    return True, "ok"


# ---------------------------------------------------------------------------
# naive verifier (models a vulnerable implementation; used to prove the attacks are real)
# ---------------------------------------------------------------------------

ID_LIKE = ("ID", "Id", "AssertionID", f"{{{NS_XML}}}id")


def _id_values(el):
    vals = [el.get(a) for a in ID_LIKE if el.get(a) is not None]
    vals += [v for k, v in el.attrib.items() if k.startswith("{") and k.endswith("}ID")]
    return vals


def naive_verify(xml_bytes: bytes, pub, pick="first") -> bool:
    """First ds:Signature anywhere; first Reference; ID looked up by any ID-like attribute on any
    element (first or last match); algorithms taken from the document; KeyInfo ignored."""
    try:
        doc = etree.fromstring(xml_bytes, SAFE_PARSER)
        sig = next(doc.iter(f"{{{NS_DS}}}Signature"))
        si = sig.find(f"{{{NS_DS}}}SignedInfo")
        ref = si.find(f"{{{NS_DS}}}Reference")
        uri = ref.get("URI")
        if uri in ("", "#xpointer(/)"):
            target = doc
        elif uri.startswith("#"):
            want = uri[1:]
            m = re.fullmatch(r"xpointer\(id\('([^']*)'\)\)", want)
            if m:
                want = m.group(1)
            cands = [el for el in doc.iter() if isinstance(el.tag, str) and want in _id_values(el)]
            target = cands[0] if pick == "first" else cands[-1]
        else:
            return False
        tcopy = copy.deepcopy(target)
        path = [s for s in tcopy.iter(f"{{{NS_DS}}}Signature")]
        # enveloped: drop the signature element being verified if it is inside the target
        orig_sigs = list(target.iter(f"{{{NS_DS}}}Signature"))
        for o_s, c_s in zip(orig_sigs, path):
            if o_s is sig:
                c_s.getparent().remove(c_s)
        tr = ref.find(f"{{{NS_DS}}}Transforms")
        exclusive, prefixes = True, None
        for t in (tr if tr is not None else []):
            alg = t.get("Algorithm")
            if alg in (INC,):
                exclusive = False
            inc = t.find(f"{{{NS_EC}}}InclusiveNamespaces")
            if inc is not None:
                prefixes = inc.get("PrefixList").split()
        data = etree.tostring(tcopy, method="c14n", exclusive=exclusive, inclusive_ns_prefixes=prefixes,
                              with_comments=False)
        dm = ref.find(f"{{{NS_DS}}}DigestMethod").get("Algorithm")
        dname = {v: k for k, v in DIGEST_URI.items()}[dm]
        h = hashes.Hash(HASHES[dname]())
        h.update(data)
        if base64.b64decode("".join(ref.find(f"{{{NS_DS}}}DigestValue").itertext())) != h.finalize():
            return False
        cm = si.find(f"{{{NS_DS}}}CanonicalizationMethod")
        inc = cm.find(f"{{{NS_EC}}}InclusiveNamespaces")
        si_data = etree.tostring(si, method="c14n", exclusive=cm.get("Algorithm") != INC,
                                 inclusive_ns_prefixes=inc.get("PrefixList").split() if inc is not None else None,
                                 with_comments=False)
        sm = si.find(f"{{{NS_DS}}}SignatureMethod").get("Algorithm")
        mname = {v: k for k, v in SIG_URI.items()}[sm]
        sv = base64.b64decode("".join(sig.find(f"{{{NS_DS}}}SignatureValue").itertext()))
        hname = mname.split("-")[1]
        if mname.startswith("rsa"):
            pub.verify(sv, si_data, padding.PKCS1v15(), HASHES[hname]())
        else:
            n = len(sv) // 2
            pub.verify(encode_dss_signature(int.from_bytes(sv[:n], "big"), int.from_bytes(sv[n:], "big")),
                       si_data, ec.ECDSA(HASHES[hname]()))
        return True
    except Exception:  # noqa: BLE001
        return False


# ---------------------------------------------------------------------------
# strict reference validator (written from shared/SPEC.md §1, §4-6 and the config contract)
# ---------------------------------------------------------------------------


class Reject(Exception):
    def __init__(self, status, error, why, description=None):
        super().__init__(why)
        self.status, self.error, self.why, self.description = status, error, why, description


# The one opaque answer to every failed client authentication (unknown client, wrong secret, any refused
# SAML client assertion, a body client_id naming another client than the assertion's Subject).
CLIENT_AUTH_FAILED = "client authentication failed"
# The Attribute Name under which a vulnerable core offered the NameID Format to its claims map: an
# AttributeStatement could supply it when the NameID itself had no Format (review finding).
NAME_ID_FORMAT_SOURCE = "saml:NameID/@Format"


class Bad(Exception):
    """A problem with an assertion; .why is the reason tag."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


def S(local):
    return f"{{{NS_SAML}}}{local}"


def D(local):
    return f"{{{NS_DS}}}{local}"


def strict_b64(s: str) -> bytes:
    """base64url or standard base64, padded or not; never mixed, never whitespace or other chars."""
    if re.search(r"\s", s):
        raise Bad("b64")
    url, std = bool(re.search(r"[-_]", s)), bool(re.search(r"[+/]", s))
    if url and std:
        raise Bad("b64")
    body = s.rstrip("=")
    pad = len(s) - len(body)
    if pad and (pad > 2 or len(s) % 4):
        raise Bad("b64")
    if len(body) % 4 == 1:
        raise Bad("b64")
    if not re.fullmatch(r"[A-Za-z0-9" + (r"\-_" if url else r"+/") + "]*", body):
        raise Bad("b64")
    std_body = body.replace("-", "+").replace("_", "/")
    return base64.b64decode(std_body + "=" * (-len(std_body) % 4), validate=True)


_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z")


def parse_time(v):
    """xs:dateTime in UTC ('Z') only; fractional seconds allowed.  Returns float seconds."""
    if v is None:
        return None
    m = _TIME_RE.fullmatch(v)
    if not m:
        raise Bad("time-format")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    try:
        t = _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        raise Bad("time-format")
    return t + (float(m.group(7)) if m.group(7) else 0.0)


def parse_assertion_xml(data: bytes):
    if len(data) > MAX_SAML_XML_BYTES:
        raise Bad("size")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("encoding")
    m = re.match(r"<\?xml\s+version\s*=\s*(['\"])1\.0\1(?:\s+encoding\s*=\s*(['\"])([A-Za-z][A-Za-z0-9._-]*)\2)?"
                 r"(?:\s+standalone\s*=\s*(['\"])(?:yes|no)\4)?\s*\?>", text)
    if m and m.group(3) and m.group(3).lower() != "utf-8":
        raise Bad("encoding")
    if "<!DOCTYPE" in text:
        raise Bad("dtd")
    try:
        root = etree.fromstring(data, SAFE_PARSER)
    except etree.XMLSyntaxError:
        raise Bad("xml")
    for n in list(root.itersiblings(preceding=True)) + list(root.itersiblings()) + list(root.iter()):
        if isinstance(n, etree._ProcessingInstruction):
            raise Bad("pi")

    def depth(el, d=1):
        return max([d] + [depth(c, d + 1) for c in el if isinstance(c.tag, str)])

    if depth(root) > MAX_XML_DEPTH:
        raise Bad("size")
    return root


def _text_only(el):
    """Text content of an element that must hold only text (no comments, PIs or elements)."""
    if len(el):
        raise Bad("sig-structure")
    return el.text or ""


def _elements(el):
    """Element children; comments, PIs or non-whitespace text inside ds: structure are refused."""
    out = []
    if el.text and el.text.strip():
        raise Bad("sig-structure")
    for c in el:
        if not isinstance(c.tag, str):
            raise Bad("sig-structure")
        if c.tail and c.tail.strip():
            raise Bad("sig-structure")
        out.append(c)
    return out


def c14n_bytes(el, alg, prefixes):
    return etree.tostring(el, method="c14n", exclusive=(alg != INC), inclusive_ns_prefixes=prefixes,
                          with_comments=False)


def _prefix_list(el, alg):
    kids = _elements(el)
    if not kids:
        return None
    if alg != EXC or len(kids) != 1 or kids[0].tag != f"{{{NS_EC}}}InclusiveNamespaces":
        raise Bad("sig-structure")
    return (kids[0].get("PrefixList") or "").split()


def verify_strict_signature(root, ti, keys_by_b64):
    sigs = [c for c in root if c.tag == D("Signature")]
    if not sigs:
        raise Bad("sig-missing")
    if len(sigs) > 1:
        raise Bad("sig-structure")
    sig = sigs[0]
    elems = [c for c in root if isinstance(c.tag, str)]
    if len(elems) < 2 or elems[0].tag != S("Issuer") or elems[1] is not sig:
        raise Bad("sig-structure")
    kids = _elements(sig)
    if len(kids) < 2 or kids[0].tag != D("SignedInfo") or kids[1].tag != D("SignatureValue"):
        raise Bad("sig-structure")
    for i, k in enumerate(kids[2:], 2):
        if not (k.tag == D("Object") or (k.tag == D("KeyInfo") and i == 2)):
            raise Bad("sig-structure")
    si = kids[0]
    sik = _elements(si)
    if len(sik) < 3 or sik[0].tag != D("CanonicalizationMethod") or sik[1].tag != D("SignatureMethod"):
        raise Bad("sig-structure")
    refs = sik[2:]
    if any(r.tag != D("Reference") for r in refs):
        raise Bad("sig-structure")
    if len(refs) != 1:
        raise Bad("sig-structure")
    allow_inc, allow_sha1 = ti.get("allow_inclusive_c14n", False), ti.get("allow_sha1", False)
    c14n_alg = sik[0].get("Algorithm")
    if c14n_alg not in ((EXC, INC) if allow_inc else (EXC,)):
        raise Bad("sig-c14n")
    si_prefixes = _prefix_list(sik[0], c14n_alg)
    methods = {SIG_URI[m]: m for m in ("rsa-sha256", "rsa-sha384", "rsa-sha512",
                                       "ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512")}
    if allow_sha1:
        methods[SIG_URI["rsa-sha1"]] = "rsa-sha1"
    _elements(sik[1])
    method = methods.get(sik[1].get("Algorithm"))
    if method is None:
        raise Bad("sig-alg")
    ref = refs[0]
    if ref.get("URI") != "#" + root.get("ID", "\0"):
        raise Bad("sig-reference")
    rk = _elements(ref)
    if rk and rk[0].tag == D("Transforms"):
        transforms, rk = _elements(rk[0]), rk[1:]
    else:
        transforms = []
    if len(rk) != 2 or rk[0].tag != D("DigestMethod") or rk[1].tag != D("DigestValue"):
        raise Bad("sig-structure")
    chain = []
    for t in transforms:
        if t.tag != D("Transform"):
            raise Bad("sig-structure")
        alg = t.get("Algorithm")
        if alg == ENV:
            if _elements(t):
                raise Bad("sig-structure")
            chain.append((ENV, None))
        elif alg == EXC or (alg == INC and allow_inc):
            chain.append((alg, _prefix_list(t, alg)))
        elif alg == INC:
            raise Bad("sig-c14n")
        else:
            raise Bad("sig-transform")
    digests = {DIGEST_URI[d]: d for d in ("sha256", "sha384", "sha512")}
    if allow_sha1:
        digests[DIGEST_URI["sha1"]] = "sha1"
    _elements(rk[0])
    dname = digests.get(rk[0].get("Algorithm"))
    if dname is None:
        raise Bad("sig-alg")
    try:
        digest_value = base64.b64decode(re.sub(r"\s", "", _text_only(rk[1])), validate=True)
        sig_value = base64.b64decode(re.sub(r"\s", "", _text_only(kids[1])), validate=True)
    except ValueError:
        raise Bad("sig-structure")

    # 1. SignatureValue over the canonical SignedInfo, with the issuer's configured key(s) only
    si_c14n = c14n_bytes(si, c14n_alg, si_prefixes)
    hname = method.split("-")[1]
    ok = False
    for cert_b64 in ti["x509_certificates"]:
        pub = keys_by_b64[cert_b64]
        try:
            if method.startswith("rsa"):
                if not isinstance(pub, rsa.RSAPublicKey):
                    continue
                pub.verify(sig_value, si_c14n, padding.PKCS1v15(), HASHES[hname]())
            else:
                if not isinstance(pub, ec.EllipticCurvePublicKey) or len(sig_value) != 64:
                    continue
                r, s = int.from_bytes(sig_value[:32], "big"), int.from_bytes(sig_value[32:], "big")
                if not (0 < r < P256_N and 0 < s < P256_N):
                    continue
                pub.verify(encode_dss_signature(r, s), si_c14n, ec.ECDSA(HASHES[hname]()))
            ok = True
            break
        except InvalidSignature:
            continue
    if not ok:
        raise Bad("sig-value")

    # 2. digest of the root element minus this Signature (enveloped), canonicalized
    target = copy.deepcopy(root)
    tsig = [c for c in target if c.tag == D("Signature")][0]
    if any(a == ENV for a, _ in chain):
        remove_keep_tail(tsig)
    c14ns = [(a, p) for a, p in chain if a != ENV]
    if len(c14ns) > 1:
        raise Bad("sig-transform")
    alg, prefixes = c14ns[0] if c14ns else (INC, None)
    if alg == INC and not allow_inc:
        raise Bad("sig-c14n")
    h = hashes.Hash(HASHES[dname]())
    h.update(c14n_bytes(target, alg, prefixes))
    if not hmac.compare_digest(h.finalize(), digest_value):
        raise Bad("sig-digest")


def validate_assertion(data: bytes, cfg, keys_by_b64, now, audiences, recipients):
    """Returns (issuer_cfg, sub, root) or raises Bad."""
    root = parse_assertion_xml(data)
    if root.tag != S("Assertion"):
        raise Bad("root")
    if root.get("Version") != "2.0":
        raise Bad("version")
    aid = root.get("ID")
    if not aid or not re.fullmatch(r"[A-Za-z_][\w.\-]*", aid):
        raise Bad("root")
    seen = set()
    for el in root.iter():
        if isinstance(el.tag, str):
            for v in _id_values(el):
                if v in seen:
                    raise Bad("dup-id")
                seen.add(v)
    issuers = [c for c in root if c.tag == S("Issuer")]
    first = next((c for c in root if isinstance(c.tag, str)), None)
    if len(issuers) != 1 or first is not issuers[0] or len(issuers[0]):
        raise Bad("issuer")
    iss = issuers[0].xpath("string()")
    tis = [t for t in cfg["trusted_issuers"] if t["issuer"] == iss and t.get("format") == "saml2"]
    if not tis:
        raise Bad("issuer")
    ti = tis[0]
    skew = ti.get("clock_skew_secs", cfg.get("clock_skew_secs", 60))
    maxlife = ti.get("max_lifetime_secs", 3600)
    issue_instant = parse_time(root.get("IssueInstant"))
    if issue_instant is None:
        raise Bad("root")

    verify_strict_signature(root, ti, keys_by_b64)

    # ---- everything below reads the verified root element only ----
    subs = [c for c in root if c.tag == S("Subject")]
    if len(subs) != 1:
        raise Bad("subject")
    subj = subs[0]
    ids = [c for c in subj if c.tag in (S("NameID"), S("BaseID"), S("EncryptedID"))]
    if len(ids) != 1 or ids[0].tag != S("NameID") or any(isinstance(c.tag, str) for c in ids[0]):
        raise Bad("subject")
    # The core refuses to read a value that a comment or PI splits (issue #3).
    sub = _text_only(ids[0])
    if not sub:
        raise Bad("subject")

    conds = [c for c in root if c.tag == S("Conditions")]
    if len(conds) > 1:
        raise Bad("condition")
    c_noa, n_ar = None, 0
    if conds:
        cond = conds[0]
        nb = parse_time(cond.get("NotBefore"))
        c_noa = parse_time(cond.get("NotOnOrAfter"))
        n_otu = 0
        for ch in cond:
            if not isinstance(ch.tag, str):
                continue
            if ch.tag == S("AudienceRestriction"):
                n_ar += 1
                auds = [a.xpath("string()") for a in ch if a.tag == S("Audience")]
                if not any(a in audiences for a in auds):
                    raise Bad("audience")
            elif ch.tag == S("OneTimeUse"):
                n_otu += 1
                if n_otu > 1:
                    raise Bad("condition")
            elif ch.tag == S("ProxyRestriction"):
                if ch.get("Count") == "0":  # judgment: an access token counts as a subsequent assertion
                    raise Bad("condition")
            else:
                raise Bad("condition")
        if nb is not None and nb > now + skew:
            raise Bad("nbf")
        if c_noa is not None and now >= c_noa + skew:
            raise Bad("expiry")
    if n_ar == 0:
        raise Bad("audience")

    bearers = [c for c in subj if c.tag == S("SubjectConfirmation") and c.get("Method") == CM_BEARER]
    if not bearers:
        raise Bad("confirmation")
    usable, first_err = None, None
    for sc in bearers:
        try:
            scds = [c for c in sc if c.tag == S("SubjectConfirmationData")]
            if not scds:
                if c_noa is None:
                    raise Bad("expiry")
                usable = (None,)
                break
            scd = scds[0]
            if scd.get("Recipient") not in recipients:
                raise Bad("recipient")
            s_noa = parse_time(scd.get("NotOnOrAfter"))
            if s_noa is None:
                raise Bad("expiry")
            if now >= s_noa + skew:
                raise Bad("expiry")
            s_nb = parse_time(scd.get("NotBefore"))
            if s_nb is not None and s_nb > now + skew:
                raise Bad("nbf")
            usable = (s_noa,)
            break
        except Bad as e:
            first_err = first_err or e
    if usable is None:
        raise first_err
    if c_noa is None and usable[0] is None:
        raise Bad("expiry")
    for t in (c_noa, usable[0]):
        if t is not None and t > now + maxlife + skew:
            raise Bad("lifetime")
    if issue_instant > now + skew or issue_instant < now - maxlife - skew:
        raise Bad("issue-instant")
    return ti, sub, root


def mapped_claims(root, ti):
    out = {}
    for claim, attr in ti.get("claims", {}).items():
        vals = []
        for st in root:
            if st.tag != S("AttributeStatement"):
                continue
            for a in st:
                if a.tag == S("Attribute") and a.get("Name") == attr:
                    vals += [v.xpath("string()") for v in a if v.tag == S("AttributeValue")]
        if len(vals) == 1:
            out[claim] = vals[0]
        elif vals:
            out[claim] = vals
    return out


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def case_bytes(case):
    return case["xml"].encode(case.get("xml_charset", "utf-8"))


def case_param(case):
    return encode_param(case_bytes(case), case.get("encoding", "base64url"))


def reference(case, cfg, keys_by_b64, replay_seen=None, naive_format=False):
    """Returns (expect-like dict, why).  naive_format=True models the vulnerable core (a client assertion's
    NameID Format may come from an Attribute named saml:NameID/@Format); used only to prove an attack is real."""
    now = case.get("now", NOW)
    seen = replay_seen if replay_seen is not None else set()
    clients = {c["client_id"]: c for c in cfg["clients"]}
    audiences = {cfg["issuer"], cfg["token_endpoint"], *cfg.get("audiences", [])}
    recipients = {cfg["token_endpoint"], *cfg.get("audiences", [])}
    cl = case["client"]
    client = None
    try:
        if "basic" in cl:
            cid, secret = cl["basic"]
            c = clients.get(cid)
            if (not c or c["token_endpoint_auth_method"] != "client_secret_basic"
                    or not hmac.compare_digest(sha256_hex(secret), c["client_secret_sha256"])):
                raise Reject(401, "invalid_client", "client_auth", CLIENT_AUTH_FAILED)
            client = c
        elif "saml_client_assertion" in cl:
            try:
                ti, cid, root = validate_assertion(cl["saml_client_assertion"].encode(), cfg, keys_by_b64, now,
                                                   audiences, recipients)
                # An optional body client_id (RFC 7521 §4.2) must name the client the Subject names.
                if "client_id" in cl and cl["client_id"] != cid:
                    raise Bad("client")
                c = clients.get(cid)
                if not c or c["token_endpoint_auth_method"] != "saml2_bearer":
                    raise Bad("client")
                # A client assertion names a client, not a user: NameID Format
                # must be entity (or the client's configured format), read from
                # the NameID element's own Format attribute and from nothing else
                # (never from an Attribute named saml:NameID/@Format).
                nid = root.find(f"{{{NS_SAML}}}Subject/{{{NS_SAML}}}NameID")
                fmt = nid.get("Format") if nid is not None else None
                if naive_format and fmt is None:
                    fmt = mapped_claims(root, {"claims": {"f": NAME_ID_FORMAT_SOURCE}}).get("f")
                if nid is None or fmt != c.get("saml_name_id_format", NAMEID_ENTITY):
                    raise Bad("client")
                if "trusted_issuers" in c and ti["issuer"] not in c["trusted_issuers"]:
                    raise Bad("client")
                rk = ("assertion", ti["issuer"], root.get("ID"))  # one key per assertion, whatever its role
                if rk in seen:
                    raise Bad("replay")
                seen.add(rk)
            except Bad:
                raise Reject(401, "invalid_client", "client_auth", CLIENT_AUTH_FAILED)
            client = c
        else:
            assert cl == {"anonymous": True}, cl
        if client is not None and SAML2_BEARER not in client.get("grant_types", [JWT_BEARER, SAML2_BEARER]):
            raise Reject(400, "unauthorized_client", "grant_type")

        param = case_param(case)
        if len(param.encode()) + 200 > MAX_BODY_BYTES:
            raise Reject(400, "invalid_request", "body-size")
        try:
            data = strict_b64(param)
            ti, sub, root = validate_assertion(data, cfg, keys_by_b64, now, audiences, recipients)
            if client is not None and "trusted_issuers" in client and ti["issuer"] not in client["trusted_issuers"]:
                raise Bad("issuer-not-for-client")
        except Bad as e:
            raise Reject(400, "invalid_grant", e.why)
        if client is None and ti.get("require_client", True):
            raise Reject(401, "invalid_client", "client_required")
        rk = ("assertion", ti["issuer"], root.get("ID"))
        if rk in seen:
            raise Reject(400, "invalid_grant", "replay")
        seen.add(rk)

        ceiling = set(ti["scope"].split()) if "scope" in ti else None
        allowance = set(client["scope"].split()) if client and "scope" in client else (set() if client else None)
        if case.get("scope") is not None:
            req = case["scope"].split()
            if (allowance is not None and not set(req) <= allowance) or (ceiling is not None and not set(req) <= ceiling):
                raise Reject(400, "invalid_scope", "scope")
            granted = req
        else:
            if client is None:
                granted = sorted(ceiling) if ceiling is not None else []
            else:
                granted = client["scope"].split() if "scope" in client else []
            if client is not None and ceiling is not None:
                granted = [s for s in granted if s in ceiling]
        out = {"status": 200, "sub": sub, "scope": " ".join(granted) or None}
        if client is not None:
            out["client_id"] = client["client_id"]
        if ti.get("claims"):
            out["claims"] = mapped_claims(root, ti)
        return out, "valid"
    except Reject as r:
        out = {"status": r.status, "error": r.error}
        if r.description is not None:
            out["error_description"] = r.description
        return out, r.why


def expect_matches(got, exp):
    """Runners compare error_description only when the vector's expect carries one. expect.reason (our code)
    is checked separately (check_reason): the reference validator has its own vocabulary (flags[0])."""
    exp = {k: v for k, v in exp.items() if k not in ("reason", "intended_reason")}
    if "error_description" not in exp:
        got = {k: v for k, v in got.items() if k != "error_description"}
    return got == exp


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def build_config(keys):
    return {
        "issuer": AS_ISSUER,
        "token_endpoint": TOKEN_ENDPOINT,
        "audiences": [AS_ALIAS],
        "clock_skew_secs": 60,
        "scope_policy": "reject",
        "access_token": {"audience": "https://api.example.com", "lifetime_secs": 3600},
        "trusted_issuers": [
            {"issuer": SAML_IDP, "format": "saml2", "x509_certificates": [keys["saml-idp"]["cert_b64"]],
             "max_lifetime_secs": 3600, "scope": "read write admin",
             "claims": {"email": "email", "groups": "groups", "display_name": "urn:oid:2.16.840.1.113730.3.1.241"}},
            {"issuer": EC_IDP, "format": "saml2", "x509_certificates": [keys["saml-ec-idp"]["cert_pem"]],
             "scope": "read"},
            {"issuer": OTHER_IDP, "format": "saml2", "x509_certificates": [keys["other-saml-idp"]["cert_b64"]],
             "scope": "read"},
            {"issuer": LEGACY_IDP, "format": "saml2", "x509_certificates": [keys["legacy-idp"]["cert_b64"]],
             "allow_sha1": True, "allow_inclusive_c14n": True, "scope": "read"},
        ],
        "clients": [
            {"client_id": "basic-client", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": sha256_hex("basic-secret"), "scope": "read write"},
            {"client_id": "saml-client", "token_endpoint_auth_method": "saml2_bearer",
             "trusted_issuers": [SAML_IDP], "scope": "read"},
            {"client_id": "jwt-only-client", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": sha256_hex("jwt-only-secret"), "grant_types": [JWT_BEARER]},
        ],
    }


def keys_by_cert_entry(cfg):
    out = {}
    for ti in cfg["trusted_issuers"]:
        for entry in ti.get("x509_certificates", []):
            if entry.startswith("-----BEGIN"):
                cert = x509.load_pem_x509_certificate(entry.encode())
            else:
                cert = x509.load_der_x509_certificate(base64.b64decode(entry))
            out[entry] = cert.public_key()
    return out


# ---------------------------------------------------------------------------
# case construction
# ---------------------------------------------------------------------------

BASIC = {"basic": ["basic-client", "basic-secret"]}
ID_ATTR_DEFAULT = (("ID", NS_SAML + ":Assertion"),)
SEMANTIC = {"version", "subject", "audience", "confirmation", "recipient", "expiry", "lifetime", "nbf",
            "issue-instant", "time-format", "condition", "scope", "client_required", "grant_type", "client_auth",
            "issuer-not-for-client", "b64", "size", "encoding", "issuer", "pi", "valid"}
_SIGVAL_RE = re.compile(r"(<(?:\w+:)?SignatureValue>)[^<]*(</(?:\w+:)?SignatureValue>)")


def aid_for(name):
    return "_" + hashlib.sha256(("assertion-grant/saml/" + name).encode()).hexdigest()[:40]


def ok(sub="alice@example.com", scope="read write", claims=None, client_id="basic-client"):
    e = {"status": 200, "sub": sub, "scope": scope}
    if client_id:
        e["client_id"] = client_id
    if claims is not None:
        e["claims"] = claims
    return e


def err(error, status=None, description=None, reason=None):
    e = {"status": status or (401 if error == "invalid_client" else 400), "error": error}
    if description is not None:
        e["error_description"] = description  # runners compare it exactly when present
    if reason is not None:
        e["reason"] = reason  # our reason code (src/reason.rs); set here only for replay steps
    return e


# ---------------------------------------------------------------------------
# expect.reason: the reason code (src/reason.rs) of the rule a negative case was built to test
# ---------------------------------------------------------------------------

# The reference validator's reason tags (flags[0]) -> our reason code. None = the tag is too coarse (it
# covers several of our rules): each such case names its code itself (`reason=` at its g.add), from what
# it was built to test. A case may also name a narrower code than its tag's default (e.g. `no-issuer` is
# tagged "issuer" but tests a missing element, not an untrusted issuer).
REASON_BY_FLAG = {
    "b64": "saml.encoding",
    "body-size": "request.body_too_large",
    "xml": "xml.malformed",
    "encoding": "xml.encoding",
    "dtd": "xml.doctype",
    "pi": None,                                   # a PI anywhere; inside a value it splits the value
    "size": None,                                 # document size / nesting depth
    "root": None,                                 # not an Assertion / encrypted / no ID
    "version": "saml.version",
    "dup-id": "dsig.reference",                   # the Reference must name the root's own, UNIQUE ID
    "issuer": "assertion.untrusted_issuer",
    "sig-missing": "dsig.not_signed",
    "sig-structure": None,                        # position / duplicates / shape / markup in values
    "sig-reference": "dsig.reference",
    "sig-alg": None,                              # SignatureMethod / DigestMethod
    "sig-c14n": "dsig.c14n",
    "sig-transform": "dsig.transform",
    "sig-value": "dsig.invalid",
    "sig-digest": "dsig.invalid",
    "subject": "saml.element_missing",
    "audience": "assertion.audience_mismatch",   # (no AudienceRestriction / Conditions at all: element_missing)
    "confirmation": "saml.no_bearer_confirmation",
    "recipient": "saml.recipient_mismatch",      # (no Recipient at all: element_missing)
    "expiry": "assertion.expired",
    "nbf": "assertion.not_yet_valid",
    "lifetime": "assertion.expiry_too_far",
    "issue-instant": None,                        # issued in the future / too long ago
    "time-format": "saml.date_time",
    "condition": "saml.conditions",
    "client_auth": None,                          # every client-authentication rule
    "client_required": "client.required",
    "grant_type": "client.grant_type_not_allowed",
    "scope": "scope.not_allowed",                 # scope_policy "reject": a requested scope is not allowed
    "issuer-not-for-client": "client.issuer_not_allowed",
    "replay": "assertion.replayed",
}

REASON_RS = HERE.parents[2] / "src" / "reason.rs"


def reason_codes() -> set:
    """The codes of the `reasons!` table in src/reason.rs (the string literals)."""
    text = REASON_RS.read_text(encoding="utf-8")
    start = text.index("\nreasons! {")
    table = text[start:text.index("\n}\n", start)]
    entries = re.findall(r'^\s*([A-Z][A-Za-z0-9]*)\s*=\s*"([^"]*)",', table, re.M)
    codes = {code for _, code in entries}
    assert len(entries) > 50 and len(codes) == len(entries), f"could not read the reason table from {REASON_RS}"
    assert all(re.fullmatch(r"[a-z]+\.[a-z0-9_]+", c) for c in codes), f"unexpected code in {REASON_RS}"
    return codes


# Cases the endpoint refuses by a stricter rule that runs before the one the
# case targets (still the intended RFC error; only the reason differs). Each
# is a known divergence, listed so that it is visible rather than hidden:
# expect.reason states what the endpoint answers, `intended` what the case
# was built to reach.
REFUSED_EARLIER = {
    # The only Signature is the nested original's: the endpoint takes the
    # first Signature in the document and refuses it for its position.
    "xsw3-wrapping": ("dsig.not_signed", "dsig.position"),
    "xsw4-wrapping": ("dsig.not_signed", "dsig.position"),
    # ds:Object is refused by design (src/xmldsig.rs) before any Reference
    # is resolved.
    "xsw8-wrapping": ("dsig.reference", "dsig.shape"),
}

def with_reason(expect, why, reason, name):
    """expect plus `reason` for a negative case (a copy: expect dicts such as GRANT are shared)."""
    if expect["status"] == 200:
        assert reason is None and why == "valid", f"{name}: a positive case has no reason"
        return expect
    if reason is None:
        reason = REASON_BY_FLAG[why]
        assert reason is not None, f"{name}: flag {why!r} is too coarse, the case must name its reason"
    if name in REFUSED_EARLIER:
        intended, earlier = REFUSED_EARLIER[name]
        assert reason == intended, f"{name}: REFUSED_EARLIER names {intended!r}, the case intends {reason!r}"
        return dict(expect, reason=earlier, intended_reason=intended)
    return dict(expect, reason=reason)


def check_reason(where, expect, codes, client_assertion=False):
    """Every refusal carries a code of src/reason.rs that fits its RFC 6749 error (src/error.rs)."""
    if expect["status"] == 200:
        return ["%s: a positive expectation carries a reason" % where] if "reason" in expect else []
    r = expect.get("reason")
    if r is None:
        return [f"{where}: negative case without expect.reason"]
    if r not in codes:
        return [f"{where}: reason {r!r} is not in {REASON_RS.name}"]
    ns, e = r.split(".")[0], expect["error"]
    assertion_ns = ("assertion", "saml", "xml", "dsig")
    fits = {
        "invalid_request": ns == "request",
        "invalid_scope": ns == "scope",
        "unauthorized_client": r == "client.grant_type_not_allowed",
        "invalid_client": (ns == "client" and r not in ("client.issuer_not_allowed", "client.grant_type_not_allowed"))
                          or (client_assertion and ns in assertion_ns),
        "invalid_grant": ns in assertion_ns or r == "client.issuer_not_allowed",
    }.get(e, False)
    return [] if fits else [f"{where}: reason {r!r} does not fit error {e!r}"]


GRANT = err("invalid_grant")


class Gen:
    def __init__(self, keys, prev):
        self.keys, self.prev = keys, prev
        self.cases, self.meta, self.names, self.ids = [], {}, set(), set()

    # -- building ---------------------------------------------------------
    def opts(self, name, aid=None, **over):
        o = default_opts(aid or aid_for(name))
        for k, v in over.items():
            if k not in o:
                raise KeyError(k)
            o[k] = v
        return o

    def unsigned(self, name, pretty=False, aid=None, sig=None, **over):
        return ser(build_assertion(self.opts(name, aid, **over), sig), pretty)

    def mk(self, name, signer="xmlsec1", stem="saml-idp", method=None, digest="sha256", c14n=EXC,
           si_prefixes=None, ref_prefixes=None, ds="ds", declare_ds=True, keyinfo="x509", pretty=False,
           transforms=None, ref_uri=None, refs=None, sig_extra=(), signedinfo_copies=1, id_attrs=ID_ATTR_DEFAULT,
           dtd=None, extra_args=(), files=None, hmac_key=None, pre=None, aid=None, **over):
        o = self.opts(name, aid, **over)
        if method is None:
            method = "ecdsa-sha256" if self.keys[stem]["kind"] == "P256" else "rsa-sha256"
        if ref_uri is None:
            ref_uri = "#" + o["id"]
        if signer == "signxml":
            text = ser(build_assertion(o, placeholder(ds)), pretty)
            if pre:
                text = pre(text)
            return signxml_sign(text, self.keys, stem, method, digest, c14n, ref_uri)
        if refs is None:
            r = {"uri": ref_uri, "prefixes": ref_prefixes}
            if transforms is not None:
                r["transforms"] = transforms
            refs = [r]
        st = sig_template(ds, declare_ds, c14n, si_prefixes, method, refs, keyinfo, sig_extra, signedinfo_copies,
                          digest)
        text = ser(build_assertion(o, st), pretty)
        if pre:
            text = pre(text)
        return xmlsec_sign(text, self.keys, stem, id_attrs, extra_args, hmac_key, files, dtd)

    # -- recording --------------------------------------------------------
    def add(self, name, description, xml, expect, why="valid", client=None, scope=None, encoding="base64url",
            signer="xmlsec1", stem="saml-idp", check=None, flags=(), charset=None, nondet=False,
            xmlsec_args=None, reason=None):
        """`reason` = our reason code (src/reason.rs) for a negative case whose flag alone does not say which
        rule the case tests; otherwise expect.reason follows from the flag (REASON_BY_FLAG)."""
        assert name not in self.names, name
        self.names.add(name)
        if nondet and name in self.prev:
            old = self.prev[name]["xml"]
            if _SIGVAL_RE.sub(r"\1\2", old) == _SIGVAL_RE.sub(r"\1\2", xml):
                xml = old  # same content: keep the earlier (equally valid) random ECDSA signature
        case = {"name": name, "description": description, "now": NOW, "xml": xml}
        if charset:
            case["xml_charset"] = charset
        case["encoding"] = encoding
        case["assertion_sha256"] = sha256_hex(encode_param(xml.encode(charset or "utf-8"), encoding))
        case["client"] = client if client is not None else BASIC
        if scope is not None:
            case["scope"] = scope
        case["expect"] = with_reason(expect, why, reason, name)
        case["flags"] = [why, f"signer:{signer}", *flags]
        if check is None:
            check = {"tools-ok"} if why in SEMANTIC else set()
        self.meta[name] = {"stem": stem, "check": set(check), "xmlsec_args": xmlsec_args}
        self.cases.append(case)
        return case


def flip_b64_char(s, idx):
    """Change one base64 character (stays valid base64)."""
    c = s[idx]
    return s[:idx] + ("A" if c != "A" else "B") + s[idx + 1:]


def replace_sigvalue(xml, new_b64):
    return _SIGVAL_RE.sub(lambda m: m.group(1) + new_b64 + m.group(2), xml, count=1)


def get_sigvalue(xml):
    return base64.b64decode(re.sub(r"\s", "", _SIGVAL_RE.search(xml).group(0).split(">", 1)[1].split("<", 1)[0]))


def lx(xml):
    return etree.fromstring(xml.encode("utf-8"), SAFE_PARSER)


def lxs(el):
    return etree.tostring(el, encoding="unicode")


def detach_signature(el):
    s = el.find(D("Signature"))
    el.remove(s)
    return s


EVIL = dict(nameid="admin@example.com", attrs=attrs_with(email=["admin@example.com"],
                                                         groups=["admins", "engineering", "staff"]))


def attrs_to_size(g, name, target):
    """BASE_ATTRS plus filler attributes so that the signed document is about `target` bytes."""
    many = list(BASE_ATTRS)
    i = 0
    while len(g.unsigned(name, attrs=many).encode()) + 2600 < target:
        many.append((f"urn:example:attr:{i:03d}", ATTR_URI, None, [f"value-{i:03d}-" + "x" * 100]))
        i += 1
    return many


def build_cases(keys, prev):
    g = Gen(keys, prev)
    C = IDP_CLAIMS
    X, SX = "xmlsec1", "signxml"

    # =====================================================================
    # positive
    # =====================================================================
    n = "valid-rsa-sha256-xmlsec1"
    g.add(n, "baseline: saml-idp, enveloped signature after Issuer, exc-c14n, rsa-sha256, sha256 digest, "
             "Reference URI=#ID, KeyInfo/X509Certificate; signed by xmlsec1 (SignatureValue and certificate "
             "are line-wrapped at 64 characters, as xmlsec1 does)", g.mk(n), ok(claims=C))
    n = "valid-rsa-sha256-signxml"
    g.add(n, "same assertion shape signed by signxml (exc-c14n, rsa-sha256, sha256; unwrapped base64)",
          g.mk(n, signer=SX), ok(claims=C), signer=SX)
    n = "valid-rsa-sha384-xmlsec1"
    g.add(n, "rsa-sha384 signature, sha384 digest; signed by xmlsec1",
          g.mk(n, method="rsa-sha384", digest="sha384"), ok(claims=C))
    n = "valid-rsa-sha512-signxml"
    g.add(n, "rsa-sha512 signature, sha512 digest; signed by signxml",
          g.mk(n, signer=SX, method="rsa-sha512", digest="sha512"), ok(claims=C), signer=SX)
    n = "valid-rsa-sha256-digest-sha512"
    g.add(n, "rsa-sha256 signature with a sha512 digest (the two are independent); signed by xmlsec1",
          g.mk(n, digest="sha512"), ok(claims=C))
    n = "valid-ecdsa-sha256-signxml"
    g.add(n, "saml-ec-idp (P-256 certificate configured as PEM text): ecdsa-sha256, SignatureValue = 64-byte r||s "
             "(XML-DSig 1.1); signed by signxml with RFC 6979 nonces; scope = issuer ceiling 'read'",
          g.mk(n, signer=SX, stem="saml-ec-idp", issuer=EC_IDP), ok(scope="read"), signer=SX, stem="saml-ec-idp")
    n = "valid-ecdsa-sha256-xmlsec1"
    g.add(n, "saml-ec-idp, ecdsa-sha256 (raw r||s) signed by xmlsec1 (random nonce: the generator keeps the "
             "previous signature while the content is unchanged)",
          g.mk(n, stem="saml-ec-idp", issuer=EC_IDP), ok(scope="read"), stem="saml-ec-idp", nondet=True)
    n = "valid-ecdsa-high-s"
    x = g.mk(n, signer=SX, stem="saml-ec-idp", issuer=EC_IDP)
    sv = get_sigvalue(x)
    r, s = int.from_bytes(sv[:32], "big"), int.from_bytes(sv[32:], "big")
    s2 = P256_N - s
    x = replace_sigvalue(x, b64s(r.to_bytes(32, "big") + s2.to_bytes(32, "big")))
    g.add(n, f"ECDSA signature with the {'high' if s2 > P256_N // 2 else 'low'} form of s (n - s of signxml's "
             "signature): ECDSA does not require low-s, both forms verify (OpenSSL/xmlsec1 IdPs emit either)",
          x, ok(scope="read"), signer=SX, stem="saml-ec-idp")
    n = "valid-exc-c14n-prefixlist"
    g.add(n, "exc-c14n with <ec:InclusiveNamespaces PrefixList=\"xs xsi\"/> on the reference transform and "
             "PrefixList=\"ds saml xs xsi\" on SignedInfo's CanonicalizationMethod (xs is used only inside xsi:type "
             "values, the usual reason for PrefixList); signed by xmlsec1",
          g.mk(n, ref_prefixes="xs xsi", si_prefixes="ds saml xs xsi"), ok(claims=C), check={"tools-ok-noschema"})
    n = "valid-prefix-saml2"
    g.add(n, "SAML namespace bound to prefix 'saml2' (Shibboleth/Okta style); signed by signxml",
          g.mk(n, signer=SX, p="saml2"), ok(claims=C), signer=SX)
    n = "valid-default-namespace"
    g.add(n, "SAML elements in the default namespace (no prefix, xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"), "
             "ds: prefix for the signature, reference PrefixList=\"#default xs\"; signed by xmlsec1",
          g.mk(n, p="", ref_prefixes="#default xs"), ok(claims=C))
    n = "valid-namespaces-on-inner-elements"
    g.add(n, "xs/xsi declared on every AttributeValue instead of the root (Okta/ADFS style) and ds declared on "
             "Signature; signed by xmlsec1", g.mk(n, inner_ns=True), ok(claims=C))
    n = "valid-namespaces-on-root-only"
    g.add(n, "every namespace (saml, ds, xs, xsi) declared once on the root; the Signature carries no xmlns "
             "declaration of its own; signed by xmlsec1",
          g.mk(n, declare_ds=False, root_ns=[("xmlns:saml", NS_SAML), ("xmlns:ds", NS_DS), ("xmlns:xs", NS_XS),
                                             ("xmlns:xsi", NS_XSI)]), ok(claims=C))
    n = "valid-pretty-printed-xmlsec1"
    g.add(n, "pretty-printed (newline + two-space indentation between all elements, including inside the "
             "Signature), signed after formatting; signed by xmlsec1", g.mk(n, pretty=True), ok(claims=C))
    n = "valid-pretty-printed-signxml"
    g.add(n, "pretty-printed assertion (compact signature inserted by signxml), signed after formatting",
          g.mk(n, signer=SX, pretty=True), ok(claims=C), signer=SX)
    n = "valid-ds-default-namespace"
    g.add(n, "Signature elements in the default namespace (<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">, "
             "no ds: prefix); signed by xmlsec1", g.mk(n, ds=""), ok(claims=C))
    n = "valid-ds-prefix-dsig"
    g.add(n, "XML-DSig namespace bound to prefix 'dsig'; signed by xmlsec1", g.mk(n, ds="dsig"), ok(claims=C))
    n = "valid-no-keyinfo"
    g.add(n, "Signature without KeyInfo (the key comes from configuration anyway); signed by xmlsec1",
          g.mk(n, keyinfo=None), ok(claims=C))
    n = "valid-keyinfo-keyname"
    g.add(n, "KeyInfo holds only a KeyName (no certificate); signed by xmlsec1",
          g.mk(n, keyinfo="keyname"), ok(claims=C))
    n = "valid-expiry-on-confirmation-only"
    g.add(n, "Conditions has NotBefore but no NotOnOrAfter; the expiry is SubjectConfirmationData/@NotOnOrAfter "
             "(RFC 7522 §3 item 4); signed by xmlsec1", g.mk(n, noa=None), ok(claims=C))
    n = "valid-confirmation-without-data"
    g.add(n, "bearer SubjectConfirmation without SubjectConfirmationData: allowed because Conditions/@NotOnOrAfter "
             "is present (RFC 7522 §3 item 5: SubjectConfirmationData is required only otherwise); xmlsec1",
          g.mk(n, confirmations=[("bearer", None)]), ok(claims=C))
    n = "valid-audience-token-endpoint"
    g.add(n, "Audience = token endpoint URL https://as.example.com/token; xmlsec1",
          g.mk(n, audiences=[[TOKEN_ENDPOINT]]), ok(claims=C))
    n = "valid-audience-alias"
    g.add(n, "Audience = configured alias https://as.example.com/oauth2/token; xmlsec1",
          g.mk(n, audiences=[[AS_ALIAS]]), ok(claims=C))
    n = "valid-audience-among-others"
    g.add(n, "one AudienceRestriction with three Audiences, one of them ours (any one satisfies a restriction)",
          g.mk(n, audiences=[["https://rp.example.org", AS_ISSUER, "https://other.example.net"]]), ok(claims=C))
    n = "valid-multiple-audience-restrictions"
    g.add(n, "two AudienceRestriction elements, each naming this AS (issuer / alias): every restriction is met",
          g.mk(n, audiences=[[AS_ISSUER], ["https://rp.example.org", AS_ALIAS]]), ok(claims=C))
    n = "valid-onetimeuse"
    g.add(n, "Conditions contains <saml:OneTimeUse/> (understood: enforced through the replay store)",
          g.mk(n, cond_extra=[E("saml:OneTimeUse")]), ok(claims=C))
    n = "valid-proxyrestriction-count-1"
    g.add(n, "Conditions contains <saml:ProxyRestriction Count=\"1\"/> (JUDGMENT: understood; issuing one access "
             "token is within Count=1, no Audience list given)",
          g.mk(n, cond_extra=[E("saml:ProxyRestriction", {"Count": "1"})]), ok(claims=C), flags=["judgment"])
    for enc in ("base64url-padded", "base64", "base64-unpadded"):
        n = f"valid-encoding-{enc}"
        g.add(n, f"the assertion parameter encoded as {enc} (accepted: both alphabets, padded or not); xmlsec1",
              g.mk(n), ok(claims=C), encoding=enc)
    n = "valid-legacy-rsa-sha1"
    g.add(n, "legacy-idp (allow_sha1: true): rsa-sha1 signature with sha1 digest; signed by xmlsec1",
          g.mk(n, stem="legacy-idp", issuer=LEGACY_IDP, method="rsa-sha1", digest="sha1"), ok(scope="read"),
          stem="legacy-idp")
    n = "valid-legacy-inclusive-c14n"
    g.add(n, "legacy-idp (allow_inclusive_c14n: true): inclusive C14N 1.0 for SignedInfo and the reference "
             "(ancestor namespaces saml/xs/xsi appear in SignedInfo's canonical form); rsa-sha256; xmlsec1",
          g.mk(n, stem="legacy-idp", issuer=LEGACY_IDP, c14n=INC, transforms=[(ENV, None), (INC, None)]),
          ok(scope="read"), stem="legacy-idp")
    n = "valid-legacy-sha1-inclusive"
    g.add(n, "legacy-idp: rsa-sha1 + sha1 digest + inclusive C14N together (a 2010-era IdP); xmlsec1",
          g.mk(n, stem="legacy-idp", issuer=LEGACY_IDP, c14n=INC, transforms=[(ENV, None), (INC, None)],
               method="rsa-sha1", digest="sha1"), ok(scope="read"), stem="legacy-idp")
    n = "valid-other-idp"
    g.add(n, "other-saml-idp with its own RSA certificate; scope = ceiling 'read'; signxml",
          g.mk(n, signer=SX, stem="other-saml-idp", issuer=OTHER_IDP), ok(scope="read"), signer=SX,
          stem="other-saml-idp")
    n = "valid-recipient-alias"
    g.add(n, "SubjectConfirmationData/@Recipient = configured alias https://as.example.com/oauth2/token",
          g.mk(n, confirmations=[("bearer", {"Recipient": AS_ALIAS, "NotOnOrAfter": iso(NOW + 300)})]), ok(claims=C))
    n = "valid-second-bearer-confirmation"
    g.add(n, "two bearer SubjectConfirmations: the first has a wrong Recipient, the second is valid (at least one "
             "must be satisfied, SAML core §2.4.1.1)",
          g.mk(n, confirmations=[("bearer", {"Recipient": "https://rp.example.org/acs", "NotOnOrAfter": iso(NOW + 300)}),
                                 ("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)})]),
          ok(claims=C))
    n = "valid-holder-of-key-and-bearer"
    g.add(n, "a holder-of-key confirmation followed by a valid bearer confirmation",
          g.mk(n, confirmations=[("hok", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)}),
                                 ("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)})]),
          ok(claims=C))
    n = "valid-nameid-comment"
    x = g.mk(n, nameid="alice@example.com.evil.com", attrs=attrs_with(email=["alice@example.com.evil.com"]))
    x = x.replace(">alice@example.com.evil.com<", ">alice@example.com<!---->.evil.com<", 2)
    g.add(n, "the NameID comment attack: the IdP signed NameID and email 'alice@example.com.evil.com'; a comment "
             "was inserted after signing ('alice@example.com<!---->.evil.com'). C14N drops comments, so the "
             "signature is still valid (xmlsec1 and signxml agree). The core refuses to read any value that a "
             "comment or PI splits (decided in issue #3: reject rather than re-join), so never 'alice@example.com'", x,
          GRANT, reason="saml.split_value", why="sig-structure", flags=["judgment", "comment-attack"])
    n = "valid-nameid-cdata"
    x = g.mk(n)
    x = x.replace(">alice@example.com</saml:NameID>", "><![CDATA[alice@]]>example.com</saml:NameID>", 1)
    g.add(n, "NameID text partly in a CDATA section (inserted after signing; C14N replaces CDATA by its text, "
             "so the signature is unchanged): sub = 'alice@example.com'", x, ok(claims=C))
    n = "valid-nameid-char-reference"
    x = g.mk(n)
    x = x.replace(">alice@example.com</saml:NameID>", ">alice&#64;example&#x2E;com</saml:NameID>", 1)
    g.add(n, "NameID written with numeric character references (alice&#64;example&#x2E;com), equivalent after "
             "parsing, so the signature is unchanged", x, ok(claims=C))
    n = "valid-entity-references-in-values"
    val = RawVal("R&amp;D &lt;core&gt; &quot;team&quot; &#233;quipe", 'R&D <core> "team" équipe')
    g.add(n, "display_name attribute value with predefined entities and a numeric reference: "
             "'R&amp;D &lt;core&gt; &quot;team&quot; &#233;quipe' -> claim 'R&D <core> \"team\" équipe'",
          g.mk(n, attrs=attrs_with(display_name=[val])), ok(claims=dict(C, display_name='R&D <core> "team" équipe')))
    n = "valid-non-ascii-utf8"
    dn = "Åsa Ñúñez-山田 🌍"
    g.add(n, "raw UTF-8 (non-ASCII, incl. a 4-byte character) in the display_name attribute; signxml",
          g.mk(n, signer=SX, attrs=attrs_with(display_name=[dn])), ok(claims=dict(C, display_name=dn)), signer=SX)
    n = "valid-xml-declaration"
    x = '<?xml version="1.0" encoding="UTF-8"?>\n' + g.mk(n)
    g.add(n, "document starts with <?xml version=\"1.0\" encoding=\"UTF-8\"?> and a newline", x, ok(claims=C))
    n = "valid-fractional-seconds"
    g.add(n, "all times with milliseconds (2027-01-15T08:05:00.123Z); valid xs:dateTime in UTC",
          g.mk(n, issue_instant=iso(NOW - 10, ".123"), nb=iso(NOW - 60, ".000"), noa=iso(NOW + 300, ".123"),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300, ".5")})]),
          ok(claims=C))
    n = "valid-fractional-seconds-7-digits"
    g.add(n, "times with 7 fractional digits (ADFS style: 2027-01-15T07:59:50.1234567Z)",
          g.mk(n, issue_instant=iso(NOW - 10, ".1234567"), noa=iso(NOW + 300, ".1234567"),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300, ".1234567")})]),
          ok(claims=C))
    n = "valid-expiry-within-skew"
    g.add(n, "Conditions and SubjectConfirmationData NotOnOrAfter = NOW-59 s: still inside the 60 s skew "
             "(rejected only when now >= NotOnOrAfter + skew)",
          g.mk(n, issue_instant=iso(NOW - 200), nb=iso(NOW - 300), noa=iso(NOW - 59),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW - 59)})]),
          ok(claims=C))
    n = "valid-notbefore-within-skew"
    g.add(n, "Conditions NotBefore = NOW+60 s: accepted (rejected only when NotBefore > now + skew)",
          g.mk(n, nb=iso(NOW + 60)), ok(claims=C))
    n = "valid-lifetime-at-limit"
    g.add(n, "NotOnOrAfter = NOW+3660 s = max_lifetime_secs 3600 + skew 60: accepted (rejected when beyond)",
          g.mk(n, noa=iso(NOW + 3660),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 3660)})]),
          ok(claims=C))
    n = "valid-issue-instant-old"
    g.add(n, "IssueInstant = NOW-3600 s (exactly max_lifetime; rejected only when older than max_lifetime + skew)",
          g.mk(n, issue_instant=iso(NOW - 3600)), ok(claims=C))
    n = "valid-requested-scope"
    g.add(n, "basic-client requests scope 'read' (within client allowance and issuer ceiling)",
          g.mk(n), ok(scope="read", claims=C), scope="read")
    n = "valid-two-attribute-statements"
    g.add(n, "attributes split across two AttributeStatements (email+groups in the first, display name in the "
             "second); claims are collected from all statements",
          g.mk(n, attr_split=2), ok(claims=C))
    n = "valid-single-group"
    g.add(n, "'groups' with ONE AttributeValue -> the claim is a JSON string, not an array (rule: single-valued "
             "attribute -> string, multi-valued -> array)",
          g.mk(n, attrs=attrs_with(groups=["engineering"])), ok(claims=dict(C, groups="engineering")))
    n = "valid-missing-mapped-attribute"
    g.add(n, "no 'groups' attribute at all: the groups claim is simply absent",
          g.mk(n, attrs=[a for a in BASE_ATTRS if a[0] != "groups"]),
          ok(claims={"email": "alice@example.com", "display_name": "Alice Example"}))
    n = "valid-no-authnstatement"
    g.add(n, "no AuthnStatement (RFC 7522 §3 item 7: SHOULD only when the IdP authenticated a user)",
          g.mk(n, authn=False), ok(claims=C))
    n = "valid-issuer-format-entity"
    g.add(n, "Issuer with Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\"",
          g.mk(n, issuer_attrs=[("Format", NAMEID_ENTITY)]), ok(claims=C))
    n = "valid-persistent-nameid"
    pid = "AAdzZWNyZXQxRTiRkq8LOq1lYvWJt3sXl4Xo7Ps="
    g.add(n, "persistent, opaque NameID (with NameQualifier/SPNameQualifier); sub = the NameID value",
          g.mk(n, nameid_raw=f'<saml:NameID Format="{NAMEID_PERSISTENT}" NameQualifier="{SAML_IDP}" '
                             f'SPNameQualifier="{AS_ISSUER}">{pid}</saml:NameID>'), ok(sub=pid, claims=C))
    n = "valid-large-assertion"
    x = g.mk(n, attrs=attrs_to_size(g, n, 20 * 1024))
    g.add(n, f"a large but reasonable assertion ({len(x.encode())} bytes, extra attributes): must fit the XML "
             f"size limit (ASSUMED {MAX_SAML_XML_BYTES} bytes)", x, ok(claims=C))

    # SAML client authentication (RFC 7522 §2.2)
    def client_assertion(name, stem="saml-idp", issuer=SAML_IDP, nameid="saml-client", **over):
        kw = dict(nameid=nameid, nameid_format=NAMEID_ENTITY, authn=False, attrs=[], issuer=issuer)
        kw.update(over)
        return g.mk("client/" + name, signer=SX, stem=stem, **kw)

    n = "valid-saml-client-authentication"
    g.add(n, "client authentication with a SAML assertion (client_assertion_type=urn:ietf:params:oauth:"
             "client-assertion-type:saml2-bearer, no client_id): the client assertion from saml-idp has "
             "NameID 'saml-client', signed by signxml; the grant (alice, also saml-idp) is signed by xmlsec1. "
             "scope = client allowance 'read'", g.mk(n),
          ok(scope="read", claims=C, client_id="saml-client"),
          client={"saml_client_assertion": client_assertion(n)})
    n = "valid-saml-client-assertion-body-client-id"
    g.add(n, "as valid-saml-client-authentication, and the body also carries client_id=saml-client (optional, "
             "RFC 7521 §4.2), which names the same client as the client assertion's Subject",
          g.mk(n), ok(scope="read", claims=C, client_id="saml-client"),
          client={"saml_client_assertion": client_assertion(n), "client_id": "saml-client"})

    # =====================================================================
    # negative: client / policy
    # =====================================================================
    n = "anonymous-client-refused"
    g.add(n, "a valid assertion sent without any client authentication: require_client defaults to true",
          g.mk(n), err("invalid_client"), why="client_required", client={"anonymous": True})
    n = "basic-client-wrong-secret"
    g.add(n, "valid assertion, wrong client secret", g.mk(n), err("invalid_client"),
          reason="client.secret_mismatch", why="client_auth",
          client={"basic": ["basic-client", "wrong-secret"]})
    n = "client-not-allowed-saml-grant"
    g.add(n, "jwt-only-client may only use the jwt-bearer grant type", g.mk(n), err("unauthorized_client"),
          why="grant_type", client={"basic": ["jwt-only-client", "jwt-only-secret"]})
    n = "saml-client-assertion-wrong-subject"
    g.add(n, "client assertion NameID 'basic-client' (a client that does not use saml2_bearer)", g.mk(n),
          err("invalid_client"), reason="client.assertion_subject", why="client_auth",
          client={"saml_client_assertion": client_assertion(n, nameid="basic-client")})
    n = "saml-client-assertion-user-nameid-format"
    g.add(n, "a user's assertion whose NameID happens to be 'saml-client' (Format emailAddress) offered as the "
             "client assertion: client assertions must name an entity (review finding), so invalid_client",
          g.mk(n), err("invalid_client"), reason="client.assertion_name_id_format", why="client_auth",
          client={"saml_client_assertion": client_assertion(n, nameid_format=NAMEID_EMAIL)})
    n = "saml-client-assertion-format-from-attribute"
    g.add(n, "the confirmed attack: a client assertion validly signed by saml-idp whose NameID 'saml-client' has NO "
             "Format attribute, plus <saml:Attribute Name=\"saml:NameID/@Format\"> with the value "
             f"{NAMEID_ENTITY}. The NameID Format is read from the NameID element only, never from an Attribute, "
             "so this (e.g. a user whose NameID equals a client_id) is not that client: invalid_client. A core "
             "that let the attribute supply the Format would issue a token (self-checked)",
          g.mk(n), err("invalid_client"), reason="client.assertion_name_id_format", why="client_auth",
          client={"saml_client_assertion": client_assertion(
              n, nameid_format=None,
              extra_children=[E("saml:AttributeStatement", {},
                                E("saml:Attribute", {"Name": NAME_ID_FORMAT_SOURCE},
                                  E("saml:AttributeValue", {}, NAMEID_ENTITY)))])},
          check={"tools-ok", "client-tools-ok", "naive-format-ok"})
    n = "saml-client-assertion-body-client-id-mismatch"
    g.add(n, "a valid client assertion for saml-client sent with body client_id=basic-client: the opaque "
             "invalid_client answer of any failed client authentication (error_description "
             f"'{CLIENT_AUTH_FAILED}', nothing about the mismatch)",
          g.mk(n), err("invalid_client", description=CLIENT_AUTH_FAILED),
          reason="client.client_id_mismatch", why="client_auth",
          client={"saml_client_assertion": client_assertion(n), "client_id": "basic-client"},
          check={"tools-ok", "client-tools-ok"})
    n = "saml-client-assertion-unknown-subject"
    g.add(n, "client assertion NameID 'saml-client-2' (no such client)", g.mk(n), err("invalid_client"),
          reason="client.assertion_subject", why="client_auth",  # the Subject names no saml2_bearer client
          client={"saml_client_assertion": client_assertion(n, nameid="saml-client-2")})
    n = "saml-client-assertion-expired"
    g.add(n, "client assertion expired (Conditions and SubjectConfirmationData NotOnOrAfter = NOW-120 s)", g.mk(n),
          err("invalid_client"), reason="assertion.expired", why="client_auth",
          client={"saml_client_assertion": client_assertion(
              n, issue_instant=iso(NOW - 400), nb=iso(NOW - 400), noa=iso(NOW - 120),
              confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW - 120)})])})
    n = "saml-client-assertion-issuer-not-trusted-for-client"
    g.add(n, "client assertion for 'saml-client' issued and validly signed by saml-ec-idp, which is trusted "
             "globally but not in saml-client's trusted_issuers", g.mk(n), err("invalid_client"),
          reason="client.assertion_issuer", why="client_auth",
          client={"saml_client_assertion": client_assertion(n, stem="saml-ec-idp", issuer=EC_IDP)})
    n = "saml-client-assertion-tampered"
    ca = client_assertion(n).replace(">saml-client<", ">saml-client <", 1)
    g.add(n, "client assertion modified after signing (a space appended to the NameID)", g.mk(n),
          err("invalid_client"), reason="dsig.invalid", why="client_auth", client={"saml_client_assertion": ca})
    n = "saml-client-assertion-wrong-audience"
    g.add(n, "client assertion whose Audience is another party", g.mk(n), err("invalid_client"),
          reason="assertion.audience_mismatch", why="client_auth",
          client={"saml_client_assertion": client_assertion(n, audiences=[["https://rp.example.org"]])})
    n = "saml-client-grant-from-untrusted-issuer"
    g.add(n, "saml-client authenticates correctly but presents a grant from other-saml-idp, which is not in its "
             "trusted_issuers (JUDGMENT: invalid_grant)",
          g.mk(n, signer=SX, stem="other-saml-idp", issuer=OTHER_IDP), GRANT, why="issuer-not-for-client",
          client={"saml_client_assertion": client_assertion(n)}, signer=SX, stem="other-saml-idp",
          flags=["judgment"])
    n = "scope-beyond-client-allowance"
    g.add(n, "basic-client requests 'admin' (issuer ceiling allows it, the client does not)", g.mk(n),
          err("invalid_scope"), why="scope", scope="admin")
    n = "scope-beyond-issuer-ceiling"
    g.add(n, "basic-client requests 'write' with a grant from saml-ec-idp (ceiling 'read')",
          g.mk(n, stem="saml-ec-idp", issuer=EC_IDP, signer=SX), err("invalid_scope"), why="scope", scope="write",
          signer=SX, stem="saml-ec-idp")

    # =====================================================================
    # negative: parameter encoding and document level
    # =====================================================================
    for enc, what in (("base64-with-newlines", "standard base64 wrapped with CRLF every 76 characters"),
                      ("mixed-alphabet", "standard base64 whose first '+' is replaced by '-' (both alphabets mixed)"),
                      ("base64-with-spaces", "standard base64 with a space every 64 characters"),
                      ("base64url-invalid-char", "base64url with a '*' inserted in the middle"),
                      ("base64url-truncated", "base64url cut so that its length is 1 mod 4 (impossible)")):
        n = f"encoding-{enc}"
        g.add(n, f"assertion parameter: {what}; the XML itself is valid", g.mk(n), GRANT, why="b64", encoding=enc)
    n = "not-xml"
    g.add(n, "decodes to text that is not XML", "This is not a SAML assertion.", GRANT, why="xml", signer="none")
    n = "truncated-xml"
    g.add(n, "a valid signed assertion cut 20 characters short (not well-formed)", g.mk(n)[:-20], GRANT,
          why="xml")
    n = "non-utf8-encoding-declaration"
    dn = "Zoë Ærøskøbing"
    x = g.mk(n, attrs=attrs_with(display_name=[dn]))
    x = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + x
    g.add(n, "document declared and encoded as ISO-8859-1 (display name 'Zoë Ærøskøbing' as single Latin-1 bytes; "
             "xml_charset says how to encode `xml` to bytes). The signature is valid (xmlsec1 transcodes); "
             "refused because only UTF-8 is accepted", x, GRANT, why="encoding", charset="ISO-8859-1",
          check={"xmlsec-ok"})
    n = "oversized-40k"
    many = attrs_to_size(g, n, 40 * 1024)
    x = g.mk(n, attrs=many)
    g.add(n, f"validly signed assertion of {len(x.encode())} bytes (~200 attributes): the form body still fits "
             "64 KiB and the decoded XML is under the core's 64 KiB limit, so it is accepted (large group lists "
             "are real; the body limit is what bounds the work)",
          x, ok(claims=C), flags=["judgment"])
    n = "deep-nesting"
    depth = 100
    deep = RawVal("<ex:n>" * depth + "deep" + "</ex:n>" * depth, "deep")
    x = g.mk(n, attrs=BASE_ATTRS + [("urn:example:deep", ATTR_URI, None, [deep])],
             root_ns=[("xmlns:saml", NS_SAML), ("xmlns:xs", NS_XS), ("xmlns:xsi", NS_XSI),
                      ("xmlns:ex", "urn:example:nest")])
    g.add(n, f"validly signed assertion with {depth} nested elements inside one AttributeValue (ASSUMED "
             f"nesting limit {MAX_XML_DEPTH}; JUDGMENT)", x, GRANT, reason="xml.limit", why="size", flags=["judgment"])
    n = "doctype-internal-entity"
    x = g.mk(n).replace(">alice@example.com</saml:NameID>", ">&who;</saml:NameID>", 1)
    x = '<!DOCTYPE saml:Assertion [<!ENTITY who "alice@example.com">]>' + x
    g.add(n, "DOCTYPE with an internal entity used as the NameID; after expansion the signature is valid "
             "(signxml on an entity-expanding lxml parse accepts; xmlsec1 1.2.37 does not expand entities) but "
             "DTDs are refused", x, GRANT, why="dtd", check={"signxml-expanded-ok"})
    n = "doctype-external-entity-xxe"
    x = g.mk(n).replace(">alice@example.com</saml:NameID>", ">&xxe;</saml:NameID>", 1)
    x = '<!DOCTYPE saml:Assertion [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + x
    g.add(n, "XXE: external entity file:///etc/passwd as the NameID", x, GRANT, why="dtd")
    n = "doctype-billion-laughs"
    ents = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    x = g.mk(n).replace(">alice@example.com</saml:NameID>", ">&l9;</saml:NameID>", 1)
    x = f"<!DOCTYPE saml:Assertion [{ents}]>" + x
    g.add(n, "billion laughs: 10 levels of 10x entity expansion in the NameID", x, GRANT, why="dtd")
    n = "processing-instruction-in-nameid"
    g.add(n, "NameID 'alice@example.com<?evil data?>' signed WITH the PI (C14N keeps PIs, so the signature is "
             "valid for both tools); refused because PIs are not allowed (JUDGMENT: reject rather than ignore)",
          g.mk(n, nameid_raw=f'<saml:NameID Format="{NAMEID_EMAIL}">alice@example.com<?evil data?></saml:NameID>'),
          GRANT, reason="saml.split_value", why="pi", flags=["judgment"])

    # =====================================================================
    # negative: signature structure, references, IDs, wrapping
    # =====================================================================
    n = "unsigned"
    g.add(n, "no Signature at all", g.unsigned(n), GRANT, why="sig-missing", signer="none")
    n = "signature-duplicated"
    x = g.mk(n)
    sig = re.search(r"<ds:Signature .*?</ds:Signature>", x, re.S).group(0)
    x = x.replace(sig, sig + sig, 1)
    g.add(n, "the (valid) Signature element appears twice as consecutive children of the root (each copy is "
             "inside the other's enveloped subtree, so the digest no longer matches either way)", x, GRANT,
          reason="dsig.multiple_signatures", why="sig-structure", check=set())
    n = "signature-not-direct-child"
    x = g.mk(n)
    sig = re.search(r"<ds:Signature .*?</ds:Signature>", x, re.S).group(0)
    x = x.replace(sig, "", 1).replace("</saml:Subject>", sig + "</saml:Subject>", 1)
    g.add(n, "the valid Signature moved inside saml:Subject (the enveloped transform still removes it, so "
             "xmlsec1 verifies); it must be a direct child of the Assertion", x, GRANT,
          reason="dsig.position", why="sig-missing",
          check={"xmlsec-ok"})
    n = "signature-not-after-issuer"
    x = g.mk(n)
    sig = re.search(r"<ds:Signature .*?</ds:Signature>", x, re.S).group(0)
    x = x.replace(sig, "", 1).replace("</saml:Assertion>", sig + "</saml:Assertion>")
    g.add(n, "the valid Signature moved to the end of the Assertion (still a direct child; schema order is "
             "Issuer, Signature, Subject ...). JUDGMENT: refused (SPEC §6 'after <Issuer>')", x, GRANT,
          reason="dsig.position", why="sig-structure", check={"xmlsec-ok"}, flags=["judgment"])
    n = "signedinfo-duplicated"
    x = g.mk(n)
    si = re.search(r"<ds:SignedInfo>.*?</ds:SignedInfo>", x, re.S).group(0)
    x = x.replace(si, si + si, 1)
    g.add(n, "the valid SignedInfo duplicated after signing (two SignedInfo children; a verifier might check one "
             "and read the other)", x, GRANT, reason="dsig.shape", why="sig-structure", check=set())
    n = "two-references"
    g.add(n, "SignedInfo with two References (both URI=#ID, both digests valid); exactly one is required",
          g.mk(n, refs=[{"uri": "#" + aid_for(n)}, {"uri": "#" + aid_for(n)}]), GRANT,
          reason="dsig.shape", why="sig-structure",
          check={"xmlsec-ok"})
    n = "reference-empty-uri"
    g.add(n, "Reference URI=\"\" (whole document; validly signed, xmlsec1 accepts) instead of #ID", g.mk(n, ref_uri=""),
          GRANT, why="sig-reference", check={"xmlsec-ok", "naive-ok"})
    n = "reference-xpointer-root"
    g.add(n, "Reference URI=\"#xpointer(/)\" (whole document incl. comments; validly signed)",
          g.mk(n, ref_uri="#xpointer(/)"), GRANT, why="sig-reference", check={"xmlsec-ok", "naive-ok"})
    n = "reference-xpointer-id"
    g.add(n, "Reference URI=\"#xpointer(id('<ID>'))\" naming the root ID (validly signed); SAML core §5.4.2 "
             "requires the bare-name form #ID", g.mk(n, ref_uri=f"#xpointer(id('{aid_for(n)}'))"), GRANT,
          why="sig-reference", check={"xmlsec-ok", "naive-ok"})
    n = "reference-external-uri"
    ext = g.unsigned(n + "/external", **EVIL)
    g.add(n, "Reference URI=\"https://saml-idp.example.com/assertions/current.xml\" (external; signed by xmlsec1 "
             "with --url-map to a local copy of an assertion, transforms exc-c14n only)",
          g.mk(n, ref_uri="https://saml-idp.example.com/assertions/current.xml", transforms=[(EXC, None)],
               files={"ext.xml": ext},
               extra_args=["--url-map:https://saml-idp.example.com/assertions/current.xml", "@TMP@/ext.xml"]),
          GRANT, why="sig-reference", check=set())
    decoy_ns = [("xmlns:saml", NS_SAML), ("xmlns:xs", NS_XS), ("xmlns:xsi", NS_XSI)]
    for attr, how, ids in (("Id", "Id=\"_decoy…\" (the attribute name other specs use)", (("Id", NS_SAML + ":Assertion"),)),
                           ("AssertionID", "AssertionID=\"_decoy…\" (the SAML 1.1 ID attribute)",
                            (("AssertionID", NS_SAML + ":Assertion"),)),
                           ("xml:id", "xml:id=\"_decoy…\" (an ID by definition in libxml2)", ())):
        n = f"id-decoy-{attr.replace(':', '-').lower()}"
        decoy = "_decoy" + aid_for(n)[1:20]
        g.add(n, f"the root has ID=\"{aid_for(n)}\" and {how}; the Reference points at the decoy value. The digest "
                 "covers the whole root, so a verifier that resolves URIs through any ID-like attribute accepts; "
                 "the Reference must equal the root's own ID attribute",
              g.mk(n, ref_uri="#" + decoy, root_attrs=[(attr, decoy)], id_attrs=ids), GRANT, why="sig-reference",
              check={"xmlsec-ok", "naive-ok"}, xmlsec_args=ids)
    n = "id-decoy-namespaced-id"
    decoy = "_decoy" + aid_for(n)[1:20]
    x = g.mk(n, ref_uri="#" + decoy,
             pre=lambda t: t.replace(f' ID="{aid_for(n)}"', f' xmlns:ex="urn:example:ids" ex:ID="{decoy}" '
                                                            f'ID="{aid_for(n)}"', 1))
    g.add(n, "a namespaced ex:ID attribute (placed before the real ID) carries the referenced value; xmlsec1's "
             "--id-attr matches attributes by local name only and takes the first, so it signs/verifies",
          x, GRANT, why="sig-reference", check={"xmlsec-ok", "naive-ok"})
    n = "duplicate-id"
    inner = g.unsigned(n + "/inner", aid=aid_for(n), **EVIL).replace(
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"', "", 1)
    x = g.mk(n, advice=E("saml:Advice", {}, Raw(inner)),
             dtd="<!ATTLIST saml:Assertion ID ID #IMPLIED>", id_attrs=())
    g.add(n, "the signed root and an (evil, unsigned) Assertion inside saml:Advice share the same ID value; the "
             "root's signature is valid (signed by xmlsec1 with a DTD declaring ID, first definition wins)",
          x, GRANT, why="dup-id", check={"naive-ok"})

    # XML Signature Wrapping, adapted to a bare Assertion root ---------------
    def orig_signed(tag):
        return g.mk(f"xsw/{tag}/orig")

    def evil_unsigned(tag, aid=None, **over):
        return g.unsigned(f"xsw/{tag}/evil", aid=aid, **dict(EVIL, **over))

    xsw = []
    o = lx(orig_signed("1"))
    s = detach_signature(o)
    e = lx(evil_unsigned("1"))
    e.insert(1, s)
    s.append(o)
    xsw.append(("xsw1", "sig-structure",
                "(SAML Raider XSW1) evil root Assertion (new ID, admin) whose direct-child Signature references the "
                "ORIGINAL ID; the original (signature removed) sits inside that Signature after KeyInfo. A verifier "
                "resolving #ID anywhere checks the original, then reads the root", lxs(e)))
    o = lx(orig_signed("2"))
    s = detach_signature(o)
    e = lx(evil_unsigned("2"))
    e.insert(1, o)
    e.insert(2, s)
    xsw.append(("xsw2", "sig-structure",
                "(XSW2) evil root; the original Assertion (signature removed) is placed right after Issuer as a "
                "detached sibling of the Signature that references it", lxs(e)))
    oa = orig_signed("3")
    e = evil_unsigned("3", advice=E("saml:Advice", {}, Raw(oa)))
    xsw.append(("xsw3", "sig-missing",
                "(XSW3) evil unsigned root with the intact signed original inside saml:Advice; the only Signature is "
                "the nested one (a verifier that takes the first Signature anywhere accepts)", e))
    o = lx(orig_signed("4"))
    e = lx(evil_unsigned("4"))
    e.insert(1, o)
    xsw.append(("xsw4", "sig-missing",
                "(XSW4) evil unsigned root wrapping the intact signed original as its second child (schema-invalid "
                "nesting)", lxs(e)))
    o = lx(orig_signed("5"))
    oid = o.get("ID")
    s = detach_signature(o)
    e = lx(evil_unsigned("5", aid=oid))
    e.insert(1, s)
    e.append(o)
    xsw.append(("xsw5", "dup-id",
                "(XSW5) the signed Assertion's content changed (admin) while keeping its ID and Signature; an "
                "unsigned copy of the original (same ID) is appended as the last child. A verifier whose ID lookup "
                "returns the last match verifies the copy", lxs(e)))
    o = lx(orig_signed("6"))
    oid = o.get("ID")
    s = detach_signature(o)
    e = lx(evil_unsigned("6", aid=oid))
    e.insert(1, s)
    s.append(o)
    xsw.append(("xsw6", "dup-id",
                "(XSW6) like XSW5 but the unsigned copy of the original (same ID) is placed inside the Signature "
                "after KeyInfo", lxs(e)))
    o = lx(orig_signed("7"))
    s = detach_signature(o)
    e = lx(evil_unsigned("7"))
    e.insert(1, s)
    ext_el = etree.SubElement(e, f"{{{NS_SAMLP}}}Extensions", nsmap={"samlp": NS_SAMLP})
    ext_el.append(o)
    xsw.append(("xsw7", "sig-reference",
                "(XSW7) evil root (new ID) with the original Signature as direct child; the unsigned original sits "
                "in a samlp:Extensions element at the end of the root", lxs(e)))
    o = lx(orig_signed("8"))
    s = detach_signature(o)
    e = lx(evil_unsigned("8"))
    e.insert(1, s)
    obj = etree.SubElement(s, D("Object"))
    obj.append(o)
    xsw.append(("xsw8", "sig-reference",
                "(XSW8) evil root (new ID); the unsigned original is wrapped in a ds:Object inside the Signature "
                "(schema-valid)", lxs(e)))
    # sig-structure is too coarse: XSW1 hides the original inside the Signature (a foreign child: shape), XSW2
    # puts it between Issuer and Signature (position); the others follow from their tags
    xsw_reason = {"xsw1": "dsig.shape", "xsw2": "dsig.position"}
    for tag, why, desc, x in xsw:
        g.add(f"{tag}-wrapping", desc + ". Strict rule: one Signature, direct child after Issuer, Reference = "
                                        "#<root ID>, no duplicate IDs", x, GRANT, why=why,
              check={"naive-ok"}, flags=["xsw"], reason=xsw_reason.get(tag))
    n = "reference-to-advice-assertion"
    o = lx(g.mk(n + "/inner"))
    s = detach_signature(o)
    e = lx(g.unsigned(n, advice=E("saml:Advice"), **EVIL))
    e.insert(1, s)
    e.find(S("Advice")).append(o)
    g.add(n, "the root's direct-child Signature references a different ID: a validly signed (alice) Assertion "
             "inside saml:Advice; the root itself (admin) is not covered", lxs(e), GRANT, why="sig-reference",
          check={"naive-ok", "xmlsec-ok"}, flags=["xsw"])

    n = "comment-in-digestvalue"
    x = g.mk(n)
    x = re.sub(r"(<ds:DigestValue>)(.{10})", r"\1\2<!---->", x, count=1)
    g.add(n, "a comment inside ds:DigestValue (signature otherwise valid: xmlsec1 reads the concatenated text and "
             "accepts, signxml reads the text before the comment and rejects). JUDGMENT: refused — ds:Signature "
             "internals must be plain text/elements", x, GRANT,
          reason="dsig.base64", why="sig-structure", check={"xmlsec-ok"},
          flags=["judgment"])
    n = "prefix-rebinding-root"
    evil_ns = "urn:example:not-saml"
    x = g.mk(n, root_ns=[("xmlns:saml", evil_ns), ("xmlns:xs", NS_XS), ("xmlns:xsi", NS_XSI)],
             id_attrs=(("ID", evil_ns + ":Assertion"),))
    g.add(n, "every 'saml:' element is bound to urn:example:not-saml (validly signed by xmlsec1): the root is not "
             "a SAML Assertion", x, GRANT,
          reason="saml.not_an_assertion", why="root", check={"xmlsec-ok"},
          xmlsec_args=(("ID", evil_ns + ":Assertion"),))
    n = "prefix-rebinding-ds"
    x = g.mk(n).replace(f'<ds:Signature xmlns:ds="{NS_DS}">', '<ds:Signature xmlns:ds="urn:example:not-xmldsig">', 1)
    g.add(n, "the 'ds:' prefix of the Signature is rebound to urn:example:not-xmldsig after signing: there is no "
             "XML-DSig Signature", x, GRANT, why="sig-missing")
    n = "prefix-rebinding-nameid"
    g.add(n, "the only NameID is <saml:NameID xmlns:saml=\"urn:example:not-saml\">admin@example.com</saml:NameID> "
             "(validly signed): a prefix-matching reader would take it, a namespace-aware one finds no NameID",
          g.mk(n, nameid_raw=f'<saml:NameID xmlns:saml="{evil_ns}" Format="{NAMEID_EMAIL}">admin@example.com'
                             '</saml:NameID>'), GRANT, why="subject")
    n = "prefix-rebinding-issuer"
    x = g.mk(n, issuer=None, pre=lambda t: t.replace(
        "<ds:Signature", f'<saml:Issuer xmlns:saml="{evil_ns}">{SAML_IDP}</saml:Issuer><ds:Signature', 1))
    g.add(n, "the Issuer element is in urn:example:not-saml (validly signed by saml-idp): there is no SAML Issuer",
          x, GRANT, reason="saml.element_missing", why="issuer")

    # =====================================================================
    # negative: keys and algorithms
    # =====================================================================
    n = "signed-by-other-trusted-idp-key"
    g.add(n, "Issuer saml-idp, but signed with other-saml-idp's key (KeyInfo carries other-saml-idp's "
             "certificate, itself trusted for ITS issuer); xmlsec1", g.mk(n, stem="other-saml-idp"), GRANT,
          why="sig-value", check={"xmlsec-fail"})
    n = "attacker-key-in-keyinfo"
    g.add(n, "signed by an attacker key whose self-signed certificate is embedded in KeyInfo; KeyInfo is never a "
             "key source", g.mk(n, stem="attacker-rsa"), GRANT, why="sig-value", check={"xmlsec-fail"})
    n = "attacker-key-signxml"
    g.add(n, "as above, made with signxml", g.mk(n, signer=SX, stem="attacker-rsa"), GRANT, why="sig-value",
          signer=SX, check={"xmlsec-fail"})
    n = "attacker-ec-key-on-ec-issuer"
    g.add(n, "Issuer saml-ec-idp, ecdsa-sha256 signature by an attacker P-256 key whose certificate is in KeyInfo; "
             "xmlsec1 (random nonce, kept across runs like the positive xmlsec1 ECDSA case)",
          g.mk(n, stem="attacker-ec", issuer=EC_IDP), GRANT, why="sig-value", check={"xmlsec-fail"}, nondet=True,
          stem="saml-ec-idp")
    n = "hmac-sha256-with-certificate-as-key"
    g.add(n, "SignatureMethod hmac-sha256 keyed with the PEM text of saml-idp's public certificate (key-confusion "
             "attack); no KeyInfo; signed by xmlsec1 --hmackey",
          g.mk(n, method="hmac-sha256", keyinfo=None, hmac_key=keys["saml-idp"]["cert_pem"].encode()), GRANT,
          reason="dsig.signature_method", why="sig-alg")
    n = "rsa-sha1-without-opt-in"
    g.add(n, "saml-idp (no allow_sha1): rsa-sha1 + sha1 digest, otherwise valid; xmlsec1",
          g.mk(n, method="rsa-sha1", digest="sha1"), GRANT,
          reason="dsig.signature_method", why="sig-alg", check={"xmlsec-ok"})
    n = "sha1-digest-without-opt-in"
    g.add(n, "saml-idp (no allow_sha1): rsa-sha256 signature but sha1 DigestMethod; xmlsec1",
          g.mk(n, digest="sha1"), GRANT, reason="dsig.digest_method", why="sig-alg", check={"xmlsec-ok"})
    n = "inclusive-c14n-without-opt-in"
    g.add(n, "saml-idp (no allow_inclusive_c14n): inclusive C14N 1.0 for SignedInfo and the reference; xmlsec1",
          g.mk(n, c14n=INC, transforms=[(ENV, None), (INC, None)]), GRANT, why="sig-c14n", check={"xmlsec-ok"})
    n = "exc-c14n-with-comments"
    g.add(n, "CanonicalizationMethod and reference transform exc-c14n#WithComments (not in the allowed list); "
             "xmlsec1", g.mk(n, c14n=EXC_WC, transforms=[(ENV, None), (EXC_WC, None)]), GRANT, why="sig-c14n",
          check={"xmlsec-ok"})
    n = "c14n11"
    g.add(n, "Canonical XML 1.1 (not in the allowed list); xmlsec1",
          g.mk(n, c14n=C14N11, transforms=[(ENV, None), (C14N11, None)]), GRANT, why="sig-c14n", check={"xmlsec-ok"})
    n = "xpath-transform"
    g.add(n, "an XPath filter transform (not(ancestor-or-self::ds:Signature)) instead of enveloped-signature, then "
             "exc-c14n; validly signed by xmlsec1; XPath is never allowed",
          g.mk(n, transforms=[(XPATH, "not(ancestor-or-self::ds:Signature)"), (EXC, None)]), GRANT,
          why="sig-transform", check={"xmlsec-ok"})
    n = "sigmethod-rsa-on-ec-issuer"
    g.add(n, "Issuer saml-ec-idp (EC key configured) but SignatureMethod rsa-sha256 signed by an attacker RSA key",
          g.mk(n, stem="attacker-rsa", issuer=EC_IDP), GRANT, why="sig-value", check=set(),
          reason="dsig.signature_method")  # an RSA method for an issuer whose only key is EC
    ec_variants = [
        ("ecdsa-der-signature", "SignatureValue in ASN.1 DER form (the signature is otherwise valid); XML-DSig 1.1 "
                                "requires raw r||s",
         lambda r, s, raw: encode_dss_signature(r, s)),
        ("ecdsa-r-zero", "r = 0 in a 64-byte r||s", lambda r, s, raw: bytes(32) + s.to_bytes(32, "big")),
        ("ecdsa-s-zero", "s = 0 in a 64-byte r||s", lambda r, s, raw: r.to_bytes(32, "big") + bytes(32)),
        ("ecdsa-r-equals-n", "r = n (the P-256 group order) with the valid s",
         lambda r, s, raw: P256_N.to_bytes(32, "big") + s.to_bytes(32, "big")),
        ("ecdsa-65-bytes", "the valid r||s with a leading zero byte (65 bytes; fixed width is 64)",
         lambda r, s, raw: b"\x00" + raw),
    ]
    for n, desc, fn in ec_variants:
        x = g.mk(n, signer=SX, stem="saml-ec-idp", issuer=EC_IDP)
        raw = get_sigvalue(x)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        g.add(n, desc + " (saml-ec-idp; signed by signxml, SignatureValue then replaced)",
              replace_sigvalue(x, b64s(fn(r, s, raw))), GRANT, why="sig-value", signer=SX, stem="saml-ec-idp",
              check={"xmlsec-fail"})
    n = "digestvalue-altered"
    x = g.mk(n)
    dv = re.search(r"<ds:DigestValue>([^<]*)</ds:DigestValue>", x).group(1)
    x = x.replace(dv, flip_b64_char(dv, 5), 1)
    g.add(n, "one character of DigestValue changed (SignedInfo changed, so SignatureValue fails first)", x, GRANT,
          why="sig-value", check={"xmlsec-fail"})
    n = "signaturevalue-altered"
    x = g.mk(n)
    sv = get_sigvalue(x)
    x = replace_sigvalue(x, b64s(sv[:100] + bytes([sv[100] ^ 1]) + sv[101:]))
    g.add(n, "one bit of SignatureValue flipped", x, GRANT, why="sig-value", check={"xmlsec-fail"})
    n = "nameid-modified-after-signing"
    x = g.mk(n).replace(">alice@example.com</saml:NameID>", ">admin@example.com</saml:NameID>", 1)
    g.add(n, "NameID changed from alice to admin after signing (SignedInfo intact: the digest check fails)", x,
          GRANT, why="sig-digest", check={"xmlsec-fail"})
    n = "attribute-modified-after-signing"
    x = g.mk(n).replace('xsi:type="xs:string">staff</saml:AttributeValue>',
                        'xsi:type="xs:string">staff</saml:AttributeValue><saml:AttributeValue xsi:type="xs:string">'
                        'admins</saml:AttributeValue>', 1)
    g.add(n, "a group 'admins' added to the groups attribute after signing", x, GRANT, why="sig-digest",
          check={"xmlsec-fail"})

    # =====================================================================
    # negative: assertion content
    # =====================================================================
    n = "version-1-1"
    g.add(n, "Version=\"1.1\" (validly signed)", g.mk(n, version="1.1"), GRANT, why="version")
    n = "root-is-response"
    inner = g.mk(n + "/assertion")
    x = (f'<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{aid_for(n)}" Version="2.0" '
         f'IssueInstant="{iso(NOW - 10)}" Destination="{TOKEN_ENDPOINT}"><saml:Issuer>{SAML_IDP}</saml:Issuer>'
         f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
         f'{inner}</samlp:Response>')
    g.add(n, "a samlp:Response wrapping a validly signed Assertion: the grant takes a bare Assertion only", x,
          GRANT, reason="saml.not_an_assertion", why="root")
    n = "root-is-encrypted-assertion"
    cipher = b64s(hashlib.sha512(b"not really encrypted").digest() * 4)
    x = (f'<saml:EncryptedAssertion xmlns:saml="{NS_SAML}"><xenc:EncryptedData xmlns:xenc="{NS_XENC}" '
         f'Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod '
         f'Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><xenc:CipherData><xenc:CipherValue>{cipher}'
         f'</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>')
    g.add(n, "an EncryptedAssertion as the root (no decryption keys are configured; JUDGMENT: invalid_grant)", x,
          GRANT, reason="saml.encrypted", why="root", signer="none", flags=["judgment"])
    n = "no-issuer"
    g.add(n, "no Issuer element (validly signed; the Signature is the first child)", g.mk(n, issuer=None), GRANT,
          reason="saml.element_missing", why="issuer")
    n = "untrusted-issuer"
    g.add(n, "Issuer https://evil-idp.example.com (not configured), validly signed by that party's key",
          g.mk(n, stem="attacker-rsa", issuer=EVIL_IDP), GRANT, why="issuer", stem="attacker-rsa")
    n = "issuer-with-trailing-slash"
    g.add(n, "Issuer 'https://saml-idp.example.com/' (exact comparison), signed by saml-idp's key",
          g.mk(n, issuer=SAML_IDP + "/"), GRANT, why="issuer")
    n = "no-subject"
    g.add(n, "no Subject element", g.mk(n, subject=False), GRANT, why="subject")
    n = "subject-without-nameid"
    g.add(n, "Subject with a bearer SubjectConfirmation but no NameID", g.mk(n, nameid=None), GRANT, why="subject")
    n = "nameid-empty"
    g.add(n, "empty NameID element", g.mk(n, nameid=""), GRANT, why="subject")
    n = "encrypted-nameid"
    g.add(n, "Subject carries an EncryptedID instead of a NameID (not decryptable here; JUDGMENT)",
          g.mk(n, nameid_raw=f'<saml:EncryptedID><xenc:EncryptedData xmlns:xenc="{NS_XENC}" '
                             'Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod '
                             'Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><xenc:CipherData>'
                             f'<xenc:CipherValue>{cipher[:88]}</xenc:CipherValue></xenc:CipherData>'
                             '</xenc:EncryptedData></saml:EncryptedID>'),
          GRANT, reason="saml.encrypted", why="subject", flags=["judgment"])
    for n, auds, desc in (
            ("audience-wrong", [["https://rp.example.org"]], "Audience of another relying party"),
            ("audience-missing", [], "Conditions without any AudienceRestriction (RFC 7522 §3 item 2: MUST)"),
            ("audience-prefix-of-ours", [["https://as.example.co"]], "Audience 'https://as.example.co' (a prefix)"),
            ("audience-extends-ours", [["https://as.example.com.evil.com"]],
             "Audience 'https://as.example.com.evil.com' (ours is a prefix of it)"),
            ("audience-trailing-slash", [["https://as.example.com/"]], "Audience 'https://as.example.com/'"),
            ("audience-different-case", [["https://AS.example.com"]], "Audience 'https://AS.example.com' (no "
                                                                        "normalisation)"),
            ("audience-empty-restriction", [[]], "an empty AudienceRestriction element"),
            ("audience-one-of-two-restrictions", [[AS_ISSUER], ["https://rp.example.org"]],
             "two AudienceRestrictions, the second names only another party (every restriction must hold)")):
        g.add(n, desc, g.mk(n, audiences=auds), GRANT, why="audience",
              reason="saml.element_missing" if n == "audience-missing" else None)
    n = "no-conditions"
    g.add(n, "no Conditions element at all (expiry on SubjectConfirmationData only): no audience", 
          g.mk(n, conditions=False), GRANT, why="audience", reason="saml.element_missing")
    n = "holder-of-key-only"
    g.add(n, "the only SubjectConfirmation is holder-of-key (no bearer confirmation)",
          g.mk(n, confirmations=[("hok", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)})]), GRANT,
          why="confirmation")
    n = "sender-vouches-only"
    g.add(n, "the only SubjectConfirmation is sender-vouches",
          g.mk(n, confirmations=[("urn:oasis:names:tc:SAML:2.0:cm:sender-vouches",
                                  {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 300)})]), GRANT,
          why="confirmation")
    n = "no-subject-confirmation"
    g.add(n, "Subject with a NameID and no SubjectConfirmation", g.mk(n, confirmations=[]), GRANT,
          why="confirmation")
    for n, scd, desc, why in (
            ("recipient-wrong", {"Recipient": "https://rp.example.org/acs", "NotOnOrAfter": iso(NOW + 300)},
             "Recipient of another party", "recipient"),
            ("recipient-missing", {"NotOnOrAfter": iso(NOW + 300)}, "SubjectConfirmationData without Recipient",
             "recipient"),
            ("recipient-is-issuer", {"Recipient": AS_ISSUER, "NotOnOrAfter": iso(NOW + 300)},
             "Recipient = the AS issuer identifier, which is not the token endpoint URL nor a configured alias "
             "(RFC 7522 §3 item 5; contract: audiences are the extra accepted Recipient values). JUDGMENT",
             "recipient"),
            ("recipient-with-query", {"Recipient": TOKEN_ENDPOINT + "?x=1", "NotOnOrAfter": iso(NOW + 300)},
             "Recipient 'https://as.example.com/token?x=1'", "recipient"),
            ("confirmation-data-without-notonorafter", {"Recipient": TOKEN_ENDPOINT},
             "SubjectConfirmationData with Recipient but no NotOnOrAfter while Conditions has one: RFC 7522 §3 "
             "item 5 says the element MUST have NotOnOrAfter (JUDGMENT: strict)", "expiry"),
            ("confirmation-expired", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW - 61)},
             "SubjectConfirmationData NotOnOrAfter = NOW-61 s (past the 60 s skew) while Conditions is fine",
             "expiry")):
        g.add(n, desc, g.mk(n, confirmations=[("bearer", scd)]), GRANT, why=why,
              flags=["judgment"] if "JUDGMENT" in desc else (),
              reason="saml.element_missing" if n in ("recipient-missing", "confirmation-data-without-notonorafter")
              else None)
    n = "conditions-expired"
    g.add(n, "Conditions NotOnOrAfter = NOW-61 s (SubjectConfirmationData still valid)",
          g.mk(n, issue_instant=iso(NOW - 300), nb=iso(NOW - 360), noa=iso(NOW - 61)), GRANT, why="expiry")
    n = "conditions-expired-at-skew-boundary"
    g.add(n, "Conditions NotOnOrAfter = NOW-60 s: now >= NotOnOrAfter + skew, rejected",
          g.mk(n, issue_instant=iso(NOW - 300), nb=iso(NOW - 360), noa=iso(NOW - 60)), GRANT, why="expiry")
    n = "notbefore-in-future"
    g.add(n, "Conditions NotBefore = NOW+120 s", g.mk(n, nb=iso(NOW + 120)), GRANT, why="nbf")
    n = "notbefore-just-beyond-skew"
    g.add(n, "Conditions NotBefore = NOW+61 s", g.mk(n, nb=iso(NOW + 61)), GRANT, why="nbf")
    n = "issue-instant-in-future"
    g.add(n, "IssueInstant = NOW+120 s", g.mk(n, issue_instant=iso(NOW + 120)), GRANT,
          reason="assertion.issued_in_future", why="issue-instant")
    n = "issue-instant-too-old"
    g.add(n, "IssueInstant = NOW-7200 s (older than max_lifetime 3600 + skew)", g.mk(n, issue_instant=iso(NOW - 7200)),
          GRANT, reason="assertion.issued_too_long_ago", why="issue-instant")
    n = "expiry-too-far"
    g.add(n, "Conditions and SubjectConfirmationData NotOnOrAfter = NOW+7200 s (> max_lifetime 3600 + skew)",
          g.mk(n, noa=iso(NOW + 7200),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 7200)})]),
          GRANT, why="lifetime")
    n = "expiry-just-beyond-limit"
    g.add(n, "NotOnOrAfter = NOW+3661 s (one second beyond max_lifetime + skew)",
          g.mk(n, noa=iso(NOW + 3661),
               confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT, "NotOnOrAfter": iso(NOW + 3661)})]),
          GRANT, why="lifetime")
    n = "no-expiry-anywhere"
    g.add(n, "neither Conditions/@NotOnOrAfter nor SubjectConfirmationData/@NotOnOrAfter",
          g.mk(n, noa=None, confirmations=[("bearer", {"Recipient": TOKEN_ENDPOINT})]), GRANT,
          reason="saml.element_missing", why="expiry")
    n = "no-expiry-confirmation-without-data"
    g.add(n, "no Conditions/@NotOnOrAfter and the bearer SubjectConfirmation has no SubjectConfirmationData",
          g.mk(n, noa=None, confirmations=[("bearer", None)]), GRANT, reason="saml.element_missing", why="expiry")
    for n, v, desc in (("time-without-z", "2027-01-15T08:05:00", "Conditions NotOnOrAfter without time zone"),
                       ("time-with-offset", "2027-01-15T09:05:00+01:00",
                        "Conditions NotOnOrAfter with +01:00 offset (same instant; SAML core §1.3.3: UTC, no zone)"),
                       ("time-plus-zero-offset", "2027-01-15T08:05:00+00:00",
                        "Conditions NotOnOrAfter with +00:00 instead of Z"),
                       ("time-not-xs-datetime", "1800000300", "Conditions NotOnOrAfter as epoch seconds"),
                       ("time-date-only", "2027-01-15", "Conditions NotOnOrAfter as a date only"),
                       ("time-lowercase-z", "2027-01-15T08:05:00z", "Conditions NotOnOrAfter with lowercase 'z'")):
        g.add(n, desc + " (JUDGMENT for the equivalent-instant forms: refused)", g.mk(n, noa=v), GRANT,
              why="time-format", flags=["judgment"] if "offset" in n else ())
    n = "unknown-condition-type"
    g.add(n, "Conditions contains <saml:Condition xsi:type=\"ex:DeviceCompliance\"> (an extension condition we do "
             "not understand: SAML core §2.5.1.5 makes the assertion Indeterminate)",
          g.mk(n, cond_extra=[E("saml:Condition", {"xmlns:ex": "urn:example:conditions",
                                                    "xsi:type": "ex:DeviceCompliance"})]), GRANT, why="condition")
    n = "unknown-element-in-conditions"
    g.add(n, "Conditions contains a foreign element <ex:Geofence xmlns:ex=\"urn:example:conditions\"/>",
          g.mk(n, cond_extra=[E("ex:Geofence", {"xmlns:ex": "urn:example:conditions", "Region": "eu"})]), GRANT,
          why="condition")
    n = "proxyrestriction-count-0"
    g.add(n, "<saml:ProxyRestriction Count=\"0\"/>: the relying party must not issue anything on the basis of "
             "this assertion. JUDGMENT: an access token counts, so invalid_grant",
          g.mk(n, cond_extra=[E("saml:ProxyRestriction", {"Count": "0"})]), GRANT,
          reason="saml.proxy_restriction", why="condition",
          flags=["judgment"])
    n = "onetimeuse-twice"
    g.add(n, "two OneTimeUse elements (SAML core §2.5.1.5: at most one)",
          g.mk(n, cond_extra=[E("saml:OneTimeUse"), E("saml:OneTimeUse")]), GRANT, why="condition")
    n = "two-conditions-elements"
    g.add(n, "two Conditions elements (the second with a wrong audience)",
          g.mk(n, extra_children=[E("saml:Conditions", {}, E("saml:AudienceRestriction", {},
                                                             E("saml:Audience", {}, "https://rp.example.org")))]),
          GRANT, why="condition")
    return g


def build_replay(keys):
    g = Gen(keys, {})
    out = []
    REPLAYED = err("invalid_grant", reason=REASON_BY_FLAG["replay"])  # the second use of a grant assertion
    n = "replay/assertion"
    x = g.mk(n)
    out.append({"name": "assertion-replay", "description": "the same valid assertion (ID one-time use) presented "
                "twice by basic-client; the second use must fail. Use one replay store for both requests.",
                "now": NOW, "requests": [
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": ok(claims=IDP_CLAIMS)},
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": REPLAYED}]})
    n = "replay/assertion-other-encoding"
    x = g.mk(n)
    out.append({"name": "assertion-replay-different-encoding", "description": "the same assertion first as "
                "base64url, then as padded standard base64: the replay key comes from the assertion (issuer + ID), "
                "not from the parameter bytes", "now": NOW, "requests": [
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": ok(claims=IDP_CLAIMS)},
                    {"xml": x, "encoding": "base64", "client": BASIC, "expect": REPLAYED}]})
    n = "replay/onetimeuse"
    x = g.mk(n, cond_extra=[E("saml:OneTimeUse")])
    out.append({"name": "onetimeuse-replay", "description": "an assertion with <saml:OneTimeUse/> used twice",
                "now": NOW, "requests": [
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": ok(claims=IDP_CLAIMS)},
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": REPLAYED}]})
    n = "replay/cross-client"
    x = g.mk(n)
    ca = g.mk("replay/cross-client/client", signer="signxml", nameid="saml-client", nameid_format=NAMEID_ENTITY, authn=False,
              attrs=[])
    out.append({"name": "assertion-replay-across-clients", "description": "the same grant assertion first by "
                "basic-client, then by saml-client: one-time use is per assertion, not per client",
                "now": NOW, "requests": [
                    {"xml": x, "encoding": "base64url", "client": BASIC, "expect": ok(claims=IDP_CLAIMS)},
                    {"xml": x, "encoding": "base64url", "client": {"saml_client_assertion": ca},
                     "expect": REPLAYED}]})
    n = "replay/client-assertion"
    ca = g.mk(n + "/client", signer="signxml", nameid="saml-client", nameid_format=NAMEID_ENTITY, authn=False, attrs=[])
    out.append({"name": "client-assertion-replay", "description": "the same SAML client assertion with two different "
                "valid grant assertions; the second use of the client assertion must fail (invalid_client)",
                "now": NOW, "requests": [
                    {"xml": g.mk(n + "/grant-1"), "encoding": "base64url", "client": {"saml_client_assertion": ca},
                     "expect": ok(scope="read", claims=IDP_CLAIMS, client_id="saml-client")},
                    {"xml": g.mk(n + "/grant-2"), "encoding": "base64url", "client": {"saml_client_assertion": ca},
                     "expect": err("invalid_client", reason="client.assertion_replayed")}]})
    n = "replay/cross-role"
    ca = g.mk(n + "/client", signer="signxml", nameid="saml-client", nameid_format=NAMEID_ENTITY, authn=False, attrs=[])
    out.append({"name": "assertion-replay-across-roles", "description": "a SAML client assertion used for client "
                "authentication, then presented again as the grant: one-time use is per assertion, whatever its "
                "role (review finding), so the second use is invalid_grant",
                "now": NOW, "requests": [
                    {"xml": g.mk(n + "/grant"), "encoding": "base64url", "client": {"saml_client_assertion": ca},
                     "expect": ok(scope="read", claims=IDP_CLAIMS, client_id="saml-client")},
                    {"xml": ca, "encoding": "base64url", "client": BASIC, "expect": REPLAYED}]})
    for sc in out:
        for rq in sc["requests"]:
            rq["assertion_sha256"] = sha256_hex(encode_param(rq["xml"].encode(), rq["encoding"]))
            # key order: xml, encoding, assertion_sha256, client, expect
            for k in ("client", "expect"):
                rq[k] = rq.pop(k)
    return out


# ---------------------------------------------------------------------------
# self-check
# ---------------------------------------------------------------------------


def check_cases(g, cfg, keys, kb):
    problems = []
    seen = set()
    codes = reason_codes()
    for case in g.cases:
        name = case["name"]
        problems += check_reason(name, case["expect"], codes, "saml_client_assertion" in case["client"])
        got, why = reference(case, cfg, kb, seen)
        if not expect_matches(got, case["expect"]):
            problems.append(f"{name}: expected {case['expect']}, reference gives {got} ({why})")
        if why != case["flags"][0]:
            problems.append(f"{name}: intended reason {case['flags'][0]!r}, reference reason {why!r}")
        m = g.meta[name]
        k = keys[m["stem"]]
        xb = case_bytes(case)
        for chk in sorted(m["check"]):
            xargs = m["xmlsec_args"] if m["xmlsec_args"] is not None else ID_ATTR_DEFAULT
            if chk == "tools-ok":
                if not xmlsec_verify(xb, k["cert_path"], xargs):
                    problems.append(f"{name}: xmlsec1 --verify rejects a signature that must be valid")
                okv, msg = signxml_verify(xb, k["cert_pem"], legacy=m["stem"] == "legacy-idp")
                if not okv:
                    problems.append(f"{name}: signxml rejects a signature that must be valid: {msg}")
            elif chk == "tools-ok-noschema":  # signxml's bundled XSD refuses ec:InclusiveNamespaces
                if not xmlsec_verify(xb, k["cert_path"], xargs):
                    problems.append(f"{name}: xmlsec1 --verify rejects a signature that must be valid")
                okv, msg = signxml_verify(xb, k["cert_pem"], legacy=m["stem"] == "legacy-idp", validate_schema=False)
                if not okv:
                    problems.append(f"{name}: signxml (schema check off) rejects: {msg}")
            elif chk == "signxml-expanded-ok":  # entities expanded by lxml first (xmlsec1 1.2.37 will not)
                okv, msg = signxml_verify(xb, k["cert_pem"], parser=ENTITY_PARSER)
                if not okv:
                    problems.append(f"{name}: signxml rejects after entity expansion: {msg}")
            elif chk == "xmlsec-ok":
                if not xmlsec_verify(xb, k["cert_path"], xargs):
                    problems.append(f"{name}: xmlsec1 --verify rejects (expected it to accept)")
            elif chk == "xmlsec-fail":
                if xmlsec_verify(xb, keys["saml-ec-idp" if m["stem"] == "saml-ec-idp" else "saml-idp"]["cert_path"],
                                 xargs):
                    problems.append(f"{name}: xmlsec1 --verify accepts with the configured key (expected failure)")
            elif chk == "naive-ok":
                pub = k["cert"].public_key()
                if not (naive_verify(xb, pub, "first") or naive_verify(xb, pub, "last")):
                    problems.append(f"{name}: the naive verifier rejects, so the attack is not demonstrated")
            elif chk == "client-tools-ok":  # a refused client assertion whose signature is nevertheless valid
                cab = case["client"]["saml_client_assertion"].encode()
                if not xmlsec_verify(cab, keys["saml-idp"]["cert_path"]):
                    problems.append(f"{name}: xmlsec1 --verify rejects the client assertion (must be valid)")
                okv, msg = signxml_verify(cab, keys["saml-idp"]["cert_pem"])
                if not okv:
                    problems.append(f"{name}: signxml rejects the client assertion (must be valid): {msg}")
            elif chk == "naive-format-ok":  # the vulnerable core (Format from an Attribute) accepts: attack is real
                ngot, nwhy = reference(case, cfg, kb, set(), naive_format=True)
                if ngot.get("status") != 200:
                    problems.append(f"{name}: the naive-Format reference refuses ({nwhy}), so the attack is not "
                                    "demonstrated")
            else:
                problems.append(f"{name}: unknown check {chk}")
        ca = case["client"].get("saml_client_assertion")
        if ca and case["expect"]["status"] == 200:
            cab = ca.encode()
            if not xmlsec_verify(cab, keys["saml-idp"]["cert_path"]) or not signxml_verify(cab, keys["saml-idp"]["cert_pem"])[0]:
                problems.append(f"{name}: client assertion does not verify with the tools")
        if case["expect"]["status"] == 200:
            # the document must round-trip exactly through the encoding
            if strict_b64(case_param(case)) != xb:
                problems.append(f"{name}: encoding round-trip failed")
        size = len(json.dumps(case, ensure_ascii=False).encode())
        if size > MAX_VECTOR_BYTES:
            problems.append(f"{name}: vector is {size} bytes > {MAX_VECTOR_BYTES}")
    return problems


def check_replay(replay, cfg, kb):
    problems = []
    codes = reason_codes()
    for sc in replay:
        seen = set()
        for i, rq in enumerate(sc["requests"]):
            got, why = reference(dict(rq, now=sc["now"]), cfg, kb, seen)
            if not expect_matches(got, rq["expect"]):
                problems.append(f"replay {sc['name']}[{i}]: expected {rq['expect']}, reference gives {got} ({why})")
            problems += check_reason(f"replay {sc['name']}[{i}]", rq["expect"], codes,
                                     "saml_client_assertion" in rq["client"])
            if why == "replay" and rq["expect"].get("reason") != REASON_BY_FLAG["replay"]:
                problems.append(f"replay {sc['name']}[{i}]: the reference refuses a replayed grant, the reason "
                                f"must be {REASON_BY_FLAG['replay']!r}")
    return problems


def load_prev(path):
    try:
        return {c["name"]: c for c in json.loads(path.read_text())}
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------
# canonicalization vectors (c14n/cases.json)
# ---------------------------------------------------------------------------

SPEC_3_1 = ('<?xml version="1.0"?>\n\n<?xml-stylesheet   href="doc.xsl"\n   type="text/xsl"   ?>\n\n'
            '<doc>Hello, world!<!-- Comment 1 --></doc>\n\n<?pi-without-data     ?>\n\n<!-- Comment 2 -->\n\n'
            '<!-- Comment 3 -->\n')
SPEC_3_2 = ('<doc>\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n'
            '      <clean>   </clean>\n      B\n      <dirty>   A   B   </dirty>\n      C\n   </mixed>\n</doc>\n')
SPEC_3_3 = ('<doc>\n   <e1   />\n   <e2   ></e2>\n   <e3   name = "elem3"   id="elem3"   />\n'
            '   <e4   name="elem4"   id="elem4"   ></e4>\n'
            '   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I\'m"\n      xmlns:b="http://www.ietf.org"\n'
            '      xmlns:a="http://www.w3.org"\n      xmlns="http://example.org"/>\n'
            '   <e6 xmlns="" xmlns:a="http://www.w3.org">\n      <e7 xmlns="http://www.ietf.org">\n'
            '         <e8 xmlns="" xmlns:a="http://www.w3.org">\n'
            '            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>\n'
            '         </e8>\n      </e7>\n   </e6>\n</doc>\n')
SPEC_3_4 = ('<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n'
            '   <compute><![CDATA[value>"0" && value<"10" ?"valid":"error"]]></compute>\n'
            '   <compute expr=\'value>"0" &amp;&amp; value&lt;"10" ?"valid":"error"\'>valid</compute>\n'
            '   <norm attr=\' &apos;   &#x20;&#13;&#xa;&#9;   &apos; \'/>\n'
            '   <normNames attr=\'   A   &#x20;&#13;&#xa;&#9;   B   \'/>\n'
            '   <normId id=\' &apos;   &#x20;&#13;&#xa;&#9;   &apos; \'/>\n</doc>\n')
EXC_2_2_A = ('<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org">\n'
             '   <n1:elem2 xmlns:n1="http://example.net" xml:lang="en" ID="elem2">\n'
             '      <n3:stuff xmlns:n3="ftp://example.org"/>\n   </n1:elem2>\n</n0:local>')
EXC_2_2_B = ('<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain">\n'
             '   <n1:elem2 xmlns:n1="http://example.net" xml:lang="en" ID="elem2">\n'
             '      <n3:stuff xmlns:n3="ftp://example.org"/>\n   </n1:elem2>\n</n2:pdu>')
SAML_LIKE = ('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
             'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'ID="a1" Version="2.0"><saml:Issuer>https://idp</saml:Issuer>'
             '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo ID="si">'
             '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
             '<ds:Reference URI="#a1"/></ds:SignedInfo></ds:Signature>'
             '<saml:AttributeStatement><saml:Attribute Name="n"><saml:AttributeValue xsi:type="xs:string" ID="av">'
             'v</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>')

# name, input, subset ID (or None), variants [(exclusive, prefixes)], why the case exists
INC_ONLY, EXC_ONLY, BOTH = [(False, None)], [(True, None)], [(False, None), (True, None)]
C14N_INPUTS = [
    ("c14n-spec-3.1-pis-comments-outside-root", SPEC_3_1, None, BOTH,
     "C14N 1.0 §3.1 (DOCTYPE line removed): PIs outside the root kept, comments dropped, XML declaration dropped, "
     "whitespace outside the root dropped, #xA between document-level nodes, PI data trailing spaces kept"),
    ("c14n-spec-3.2-whitespace-in-content", SPEC_3_2, None, BOTH,
     "C14N 1.0 §3.2: all whitespace inside the root element is kept"),
    ("c14n-spec-3.3-start-end-tags", SPEC_3_3, None, BOTH,
     "C14N 1.0 §3.3 (DTD and e9's defaulted attribute removed): empty elements expanded, attribute and "
     "namespace ordering, superfluous namespace declarations and xmlns=\"\" handling"),
    ("c14n-spec-3.4-character-modifications", SPEC_3_4, None, BOTH,
     "C14N 1.0 §3.4 (DTD removed, so normNames/normId stay CDATA): character references, CDATA replaced, "
     "special characters escaped in text and attributes, attribute whitespace as &#x9; &#xA; &#xD;"),
    ("c14n-spec-3.6-character-reference", "<doc>&#169;</doc>", None, INC_ONLY,
     "C14N 1.0 §3.6 (encoding declaration removed): a character reference becomes a UTF-8 character"),
    ("exc-c14n-spec-2.2-first", EXC_2_2_A, "elem2", BOTH,
     "Exclusive C14N §2.2, first document, subset = n1:elem2 (an ID attribute was added to select it): "
     "inclusive C14N pulls the ancestor's n0 and n3 declarations onto the apex, exclusive does not"),
    ("exc-c14n-spec-2.2-second", EXC_2_2_B, "elem2", BOTH,
     "Exclusive C14N §2.2, second document, subset = n1:elem2: inclusive C14N inherits n2 and xml:space=\"retain\" "
     "from the ancestor (xml:lang is overridden); exclusive C14N does neither"),
    ("ns-redundant-redeclaration", '<a:r xmlns:a="urn:a"><a:c xmlns:a="urn:a"><a:d/></a:c></a:r>', None, BOTH,
     "a prefix redeclared to the same URI on a child: the redundant declaration is dropped"),
    ("ns-prefix-rebound", '<a:r xmlns:a="urn:a"><a:c xmlns:a="urn:b"><a:d xmlns:a="urn:a"/></a:c></a:r>', None, BOTH,
     "a prefix rebound to another URI and back: every change is rendered"),
    ("ns-default-changes", '<r xmlns="urn:1"><c xmlns="urn:2"><d xmlns="urn:1"><e/></d></c></r>', None, BOTH,
     "default namespace changed twice"),
    ("ns-default-undeclared", '<r xmlns="urn:1"><c xmlns=""><d/></c></r>', None, BOTH,
     "xmlns=\"\" undeclaring a default namespace is rendered"),
    ("ns-empty-default-superfluous", '<r><c xmlns=""><d xmlns=""/></c></r>', None, BOTH,
     "xmlns=\"\" where no default namespace is in scope is not rendered"),
    ("ns-unused-declarations", '<r xmlns:u="urn:unused" xmlns:v="urn:v"><v:c/></r>', None, BOTH,
     "an unused declaration on the root: kept by inclusive, dropped by exclusive; v moves to where it is used "
     "in exclusive"),
    ("ns-declaration-order", '<r xmlns:b="urn:b" xmlns="urn:d" xmlns:a="urn:a" a:x="1" b:y="2"/>', None, BOTH,
     "namespace declarations sorted by prefix, default first, before the attributes"),
    ("ns-attribute-sorting-by-uri",
     '<r xmlns:b="urn:a" xmlns:a="urn:b" b:z="1" a:y="2" x="3" a:a="4" b:b="5" c="6"/>', None, BOTH,
     "attributes sorted: unqualified first (by local name), then by namespace URI (NOT prefix) then local name; "
     "prefix b is bound to urn:a and a to urn:b"),
    ("ns-attribute-sorting-xml-namespace",
     '<r xmlns:z="http://a.example/" xmlns:u="urn:x" u:k="1" xml:lang="en" z:k="2" xml:space="preserve" k="0"/>',
     None, BOTH, "xml:* attributes sort by their namespace URI http://www.w3.org/XML/1998/namespace among the "
                 "others"),
    ("ns-attribute-prefix-only-on-attribute", '<r xmlns:a="urn:a"><c a:k="v"/></r>', None, BOTH,
     "a prefix used only by an attribute of a child: exclusive renders the declaration on that child"),
    ("ns-sibling-reuse", '<r xmlns:a="urn:a"><a:c/><a:c/><b><a:c/></b></r>', None, EXC_ONLY,
     "exclusive: the declaration is repeated on every element that uses it without an output ancestor doing so"),
    ("ns-qname-in-attribute-value",
     '<r xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
     '<v xsi:type="xs:string">s</v></r>', None, [(False, None), (True, None), (True, ["xs"])],
     "xs appears only inside an attribute value: exclusive drops it unless PrefixList names it"),
    ("ns-explicit-xml-prefix", '<r xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"><c/></r>', None,
     BOTH, "an explicit declaration of the xml prefix is never rendered"),
    ("ns-many-prefixes-saml", SAML_LIKE, None, [(False, None), (True, None), (True, ["xs", "xsi"])],
     "a small signed-assertion-like document"),
    ("subset-signedinfo", SAML_LIKE, "si", [(False, None), (True, None), (True, ["saml", "xs"])],
     "subset = ds:SignedInfo inside the assertion: inclusive inherits saml/xs/xsi/ds, exclusive renders only ds "
     "(plus PrefixList entries that are in scope)"),
    ("subset-attribute-value", SAML_LIKE, "av", [(False, None), (True, None), (True, ["xs"])],
     "subset = an AttributeValue using xsi:type=\"xs:string\""),
    ("subset-inherits-xml-attributes",
     '<r xml:lang="de" xml:space="preserve" xml:base="http://b.example/" xmlns:a="urn:a"><m xml:lang="fr">'
     '<c ID="c" a:k="v">t</c></m></r>', "c", BOTH,
     "subset apex without xml:* attributes of its own: inclusive C14N 1.0 copies the nearest ancestors' "
     "xml:lang, xml:space and xml:base onto the apex; exclusive C14N does not"),
    ("subset-own-xml-lang-wins",
     '<r xml:lang="de"><c ID="c" xml:lang="en"><d/></c></r>', "c", BOTH,
     "the apex's own xml:lang wins over the ancestor's"),
    ("subset-default-ns-from-ancestor", '<r xmlns="urn:d" xmlns:p="urn:p"><c ID="c"><d/></c></r>', "c",
     [(False, None), (True, None), (True, ["#default"]), (True, ["p"])],
     "apex in a default namespace declared on an ancestor: both render xmlns on the apex; exclusive drops p "
     "unless listed"),
    ("subset-undeclared-default", '<r xmlns="urn:d"><x:c xmlns:x="urn:x" xmlns="" ID="c"><d/></x:c></r>', "c",
     [(False, None), (True, None), (True, ["#default"])],
     "apex with xmlns=\"\" under a defaulted ancestor: nothing to undeclare in the output (no output ancestor)"),
    ("subset-prefixlist-default-not-used-at-apex",
     '<r xmlns="urn:d"><x:c xmlns:x="urn:x" ID="c"><d/></x:c></r>', "c",
     [(True, None), (True, ["#default"])],
     "exclusive with PrefixList \"#default\": the in-scope default namespace is rendered on the apex even though "
     "the apex does not use it (then not again on d)"),
    ("subset-prefixlist-unused-prefix",
     '<r xmlns:p="urn:p" xmlns:q="urn:q"><c ID="c"/></r>', "c", [(True, ["p"]), (True, ["p", "q", "nope"])],
     "exclusive PrefixList naming in-scope but unused prefixes (and one not in scope)"),
    ("subset-prefix-used-deeper", '<r xmlns:p="urn:p"><c ID="c"><p:d><p:e/></p:d></c></r>', "c",
     [(False, None), (True, None), (True, ["p"])],
     "exclusive renders p on d where it is first used, or on the apex when listed (then not again)"),
    ("subset-apex-attr-ns-from-ancestor", '<r xmlns:p="urn:p"><c ID="c" p:k="v"/></r>', "c", BOTH,
     "the apex's attribute uses a prefix declared on an ancestor"),
    ("subset-redeclared-below-apex", '<r xmlns:p="urn:p"><p:c ID="c"><p:d xmlns:p="urn:p"/></p:c></r>', "c", BOTH,
     "a redundant redeclaration below the apex is dropped"),
    ("text-special-characters", '<r>&lt;tag&gt; &amp; "quotes" \'apos\' &#62; ]]&gt; &#x9;tab</r>', None, INC_ONLY,
     "text: & < > escaped as &amp; &lt; &gt;, quotes literal, a literal tab kept"),
    ("attr-special-characters", '<r a="&lt;&gt;&amp;&quot;\'" b=\'say "hi"\' c="x&#9;y&#10;z&#13;w"/>', None,
     INC_ONLY, "attributes: < & \" escaped, > and ' literal; tab/LF/CR references become &#x9; &#xA; &#xD;"),
    ("attr-literal-whitespace-normalised", '<r a="x\ty\nz\r\nw"/>', None, INC_ONLY,
     "literal tab/LF/CRLF inside an attribute value are normalised to spaces by the parser"),
    ("text-crlf-normalised", "<r>line1\r\nline2\rline3\nline4</r>", None, INC_ONLY,
     "CRLF and lone CR in text become LF (parser end-of-line handling)"),
    ("text-cr-reference-kept", "<r>a&#13;b&#xD;&#10;c</r>", None, INC_ONLY,
     "a CR given as a character reference survives as &#xD;"),
    ("cdata-sections", "<r><![CDATA[<x> & ]]]]><![CDATA[> \"q\"]]><c/><![CDATA[]]></r>", None, INC_ONLY,
     "CDATA sections replaced by (escaped) text; an empty CDATA disappears"),
    ("empty-elements", '<r><a/><b></b><c x="1"/><d>  </d></r>', None, INC_ONLY,
     "empty-element tags become start/end pairs; whitespace-only content kept"),
    ("whitespace-outside-root", "\n\n  <r>  <c/>  </r>  \n\n", None, INC_ONLY,
     "whitespace before and after the root element is dropped"),
    ("comments-dropped", "<!--a--><r><!--b-->x<!--c--><c><!--d--></c>y</r><!--e-->", None, BOTH,
     "comments dropped everywhere (inside: text around them is joined)"),
    ("pis-kept", '<?p1 a?><r><?p2?>x<?p3   spaced   data  ?><c/></r><?p4 z?>', None, BOTH,
     "PIs kept inside and outside the root; whitespace between target and data collapses to one space"),
    ("non-ascii-text-and-attributes", '<r a="&#xE9;t&#xE9; 山 &#x1F30D;">Åsa 山田 &#x1F30D;</r>', None, INC_ONLY,
     "non-ASCII characters and references output as UTF-8"),
    ("attribute-whitespace-and-quotes", "<r   b = 'x'\n   a\t=\"y\"   ></r   >", None, INC_ONLY,
     "superfluous whitespace in tags removed, single quotes become double quotes, attributes sorted"),
    ("xml-space-not-affecting-content", '<r xml:space="default">  a  <c>  </c></r>', None, INC_ONLY,
     "xml:space does not change whitespace handling in canonicalization"),
    ("deep-default-and-prefixed-mix",
     '<r xmlns="urn:a" xmlns:b="urn:b"><b:c xmlns="urn:c"><d xmlns:b="urn:b2"><b:e b:at="1"/></d></b:c></r>',
     None, BOTH, "default and prefixed namespaces changing at several depths"),
    ("subset-deep-exclusive-prefixes",
     '<r xmlns="urn:a" xmlns:b="urn:b"><b:c xmlns="urn:c"><d xmlns:b="urn:b2" ID="d"><b:e b:at="1"/><f/></d></b:c></r>',
     "d", [(False, None), (True, None), (True, ["#default", "b"])],
     "subset deep inside changing namespaces"),
]


def c14n_lxml(text, exclusive, prefixes, subset):
    root = etree.fromstring(text.encode("utf-8"), SAFE_PARSER)
    if subset is None:
        node = root.getroottree()
    else:
        node = [e for e in root.iter() if isinstance(e.tag, str) and e.get("ID") == subset]
        assert len(node) == 1, subset
        node = node[0]
    return etree.tostring(node, method="c14n", exclusive=exclusive, inclusive_ns_prefixes=prefixes,
                          with_comments=False).decode("utf-8")


def c14n_xmlsec(text, exclusive, prefixes, subset):
    """Canonical form as computed by xmlsec1 (libxml2 with a real XPath node-set): the input gets an HMAC
    signature whose Reference (URI="" or "#ID") uses enveloped-signature + the c14n transform; the
    pre-digest buffer printed by --store-references is the canonical form."""
    root = etree.fromstring(text.encode("utf-8"), SAFE_PARSER)
    alg = EXC if exclusive else INC
    tr = E("ds:Transform", {"Algorithm": alg},
           E("ec:InclusiveNamespaces", {"xmlns:ec": NS_EC, "PrefixList": " ".join(prefixes)}) if prefixes else None)
    sig = E("ds:Signature", {"xmlns:ds": NS_DS}, E("ds:SignedInfo", {},
            E("ds:CanonicalizationMethod", {"Algorithm": EXC}),
            E("ds:SignatureMethod", {"Algorithm": SIG_URI["hmac-sha256"]}),
            E("ds:Reference", {"URI": "" if subset is None else "#" + subset},
              E("ds:Transforms", {}, E("ds:Transform", {"Algorithm": ENV}), tr),
              E("ds:DigestMethod", {"Algorithm": DIGEST_URI["sha256"]}), E("ds:DigestValue"))),
            E("ds:SignatureValue"))
    root.append(etree.fromstring(ser(sig)))
    args = []
    if subset is not None:
        el = [e for e in root.iter() if isinstance(e.tag, str) and e.get("ID") == subset][0]
        q = etree.QName(el)
        args = ["--id-attr:ID", f"{q.namespace}:{q.localname}" if q.namespace else q.localname]
    with tempfile.TemporaryDirectory() as td:
        inp, hk = os.path.join(td, "in.xml"), os.path.join(td, "k")
        Path(hk).write_bytes(b"c14n-test-key")
        Path(inp).write_bytes(etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True))
        r = subprocess.run([XMLSEC1, "--sign", "--hmackey", hk, "--store-references", "--node-xpath",
                            "/*/*[last()]", *args, "--output",
                            os.path.join(td, "out.xml"), inp], capture_output=True)
        blob = r.stdout + r.stderr
        a = blob.index(b"== PreDigest data - start buffer:\n") + len(b"== PreDigest data - start buffer:\n")
        b = blob.index(b"\n== PreDigest data - end buffer", a)
        return blob[a:b].decode("utf-8")


# Where lxml and xmlsec1 disagree, the spec decides; each such case must be listed here with the reason.
LXML_DEVIATIONS = {
    "exc-c14n-spec-2.2-second-inc": "lxml canonicalizes an element without inheriting the ancestors' xml:* "
                                    "attributes (C14N 1.0 §2.4 requires xml:space=\"retain\" on the apex)",
    "subset-inherits-xml-attributes-inc": "lxml does not copy the ancestors' xml:lang/xml:space/xml:base onto "
                                          "the apex (C14N 1.0 §2.4 does)",
    "subset-prefixlist-default-not-used-at-apex-exc-#default": "lxml silently ignores the PrefixList token "
                                                               "\"#default\" (it only passes prefixes known to the "
                                                               "document's dictionary to libxml2)",
}


def build_c14n():
    cases, problems = [], []
    for name, text, subset, variants, why in C14N_INPUTS:
        for exclusive, prefixes in variants:
            cname = name + ("-exc" if exclusive else "-inc") + ("-" + "-".join(prefixes) if prefixes else "")
            lx_out = c14n_lxml(text, exclusive, prefixes, subset)
            xs_out = c14n_xmlsec(text, exclusive, prefixes, subset)
            case = {"name": cname, "description": why, "input": text, "exclusive": exclusive,
                    "inclusive_prefixes": prefixes, "with_comments": False, "subtree_xpath": subset}
            if lx_out == xs_out:
                case["output"] = lx_out
                if LXML_DEVIATIONS.get(cname):
                    problems.append(f"c14n {cname}: listed as an lxml deviation but both tools agree")
            else:
                reason = LXML_DEVIATIONS.get(cname)
                if not reason:
                    problems.append(f"c14n {cname}: lxml and xmlsec1 disagree and no reason is recorded:\n"
                                    f"  lxml:    {lx_out!r}\n  xmlsec1: {xs_out!r}")
                    continue
                case["output"] = xs_out
                case["note"] = f"output from xmlsec1 (spec-conformant); {reason}; lxml gives: {lx_out}"
            cases.append(case)
    return cases, problems


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--new-keys", action="store_true", help="generate fresh keys and certificates (overwrites keys/)")
    args = ap.parse_args()
    if not Path(XMLSEC1).exists():
        sys.exit("xmlsec1 is required (Debian: apt-get install xmlsec1)")

    keys = load_keys(args.new_keys)
    cfg = build_config(keys)
    kb = keys_by_cert_entry(cfg)
    prev = {} if args.new_keys else load_prev(HERE / "vectors.json")
    try:
        g = build_cases(keys, prev)
        replay = build_replay(keys)
        c14n_cases, problems = build_c14n()
    except Fail as e:
        sys.exit(f"generation failed: {e}")

    # ---- self-check ----
    problems += check_cases(g, cfg, keys, kb)
    problems += check_replay(replay, cfg, kb)
    names = [c["name"] for c in g.cases]
    if len(names) != len(set(names)):
        problems.append("duplicate case names")
    ids = []
    for c in g.cases:
        try:
            ids.append(etree.fromstring(case_bytes(c), SAFE_PARSER).get("ID"))
        except etree.XMLSyntaxError:
            pass
        ca = c["client"].get("saml_client_assertion")
        if ca:
            ids.append(lx(ca).get("ID"))
    rids = {lx(rq["xml"]).get("ID") for sc in replay for rq in sc["requests"]}
    dup = {i for i in ids if i and ids.count(i) > 1} | (rids & set(ids))
    if dup:
        problems.append(f"assertion IDs used by more than one vector: {sorted(dup)}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)

    # ---- write ----
    def dump(path: Path, obj):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # Several issuers in one test configuration: their subjects share one
    # namespace on purpose (the vectors' expected `sub`s are unprefixed).
    for ti in cfg["trusted_issuers"]:
        ti.setdefault("dangerous", {})["shared_subject_namespace"] = True
    dump(HERE / "config.json", cfg)
    dump(HERE / "vectors.json", g.cases)
    dump(HERE / "replay.json", replay)
    dump(HERE / "c14n" / "cases.json", c14n_cases)
    pos = sum(1 for c in g.cases if c["expect"]["status"] == 200)
    signers = {}
    for c in g.cases:
        signers[c["flags"][1]] = signers.get(c["flags"][1], 0) + 1
    print(f"wrote {len(g.cases)} cases ({pos} positive, {len(g.cases) - pos} negative; "
          + ", ".join(f"{k[7:]} {v}" for k, v in sorted(signers.items()))
          + f"), {len(replay)} replay scenarios, {len(c14n_cases)} c14n cases; all self-checks passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes fixtures of published key sets (JWKS) and SAML IdP metadata, shaped like what real
identity providers serve from `jwks_uri` and `saml_metadata_url`, plus `expected.json`.

Run from the repository root (Python 3.11, `cryptography` >= 44, nothing else):

    python3 tests/vectors/keysets/generate.py

Every fixture and expected.json are rewritten. The output is byte-for-byte reproducible: every
key is derived from a fixed label by a SHA-256 counter-mode generator (RSA primes by
Miller-Rabin, EC/Ed25519 scalars directly), dates and serial numbers are fixed, RSA signatures
are PKCS#1 v1.5 and ECDSA signatures use RFC 6979 deterministic nonces. The keys are therefore
public knowledge: TEST ONLY. No private key is written anywhere (except the one JWK that
deliberately publishes its private members in mixed-unusable.json).

expected.json is not hand-written: it is computed from the written files by the small reference
classifiers below (`classify_jwks`, `classify_saml`), which follow the rules in README.md; the
script then checks that the result equals what each fixture was built to exercise and aborts
(writing nothing) if not.

The two signed metadata documents (adfs.xml, aggregate.xml) carry a real enveloped XML-DSig
signature (exclusive C14N, RSA-SHA256), computed with the standard library's C14N 2.0
canonicalizer, which gives the same bytes as exclusive C14N 1.0 for these documents. Check with
    xmlsec1 --verify --id-attr:ID urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor \
        --pubkey-cert-pem <signing cert as PEM> tests/vectors/keysets/adfs.xml
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import pathlib
import sys
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

HERE = pathlib.Path(__file__).resolve().parent
MAX_FETCHED_JWKS_BYTES = 64 * 1024  # src/limits.rs
MAX_METADATA_BYTES = 1024 * 1024  # src/limits.rs

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"

# --------------------------------------------------------------------------------------------
# Deterministic key material
# --------------------------------------------------------------------------------------------


class Drbg:
    """SHA-256 in counter mode over a label. Not a secure generator; reproducible."""

    def __init__(self, label: str):
        self.seed = hashlib.sha256(b"assertion-grant tests/vectors/keysets v1|" + label.encode()).digest()
        self.counter = 0

    def bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:n]

    def bits(self, k: int) -> int:
        return int.from_bytes(self.bytes((k + 7) // 8), "big") >> (-k % 8)


def _primorial(limit: int) -> int:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\0\0"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return math.prod(i for i in range(limit) if sieve[i])


PRIMORIAL = _primorial(1 << 16)  # trial division by every prime below 65536 in one gcd


def is_probable_prime(n: int, rng: Drbg, rounds: int = 5) -> bool:
    """Miller-Rabin with random bases (5 rounds: FIPS 186-5 B.3 for 1024-bit RSA primes; and
    OpenSSL checks p and q again when cryptography loads the key)."""
    if math.gcd(n, PRIMORIAL) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + rng.bits(n.bit_length()) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def gen_prime(bits: int, rng: Drbg, e: int) -> int:
    while True:
        c = rng.bits(bits) | (3 << (bits - 2)) | 1  # top two bits set: |p*q| is exactly 2*bits
        if (c - 1) % e and is_probable_prime(c, rng):
            return c


_KEYS: dict[str, object] = {}


def rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    name = f"rsa{bits}|{label}"
    if name not in _KEYS:
        rng, e = Drbg(name), 65537
        p = gen_prime(bits // 2, rng, e)
        q = gen_prime(bits // 2, rng, e)
        assert p != q
        n = p * q
        assert n.bit_length() == bits
        d = pow(e, -1, (p - 1) * (q - 1))
        _KEYS[name] = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            rsa.RSAPublicNumbers(e, n),
        ).private_key()
    return _KEYS[name]


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)


def ec_key(label: str, curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    name = f"ec{curve}|{label}"
    if name not in _KEYS:
        order, crv = {"P-256": (P256_ORDER, ec.SECP256R1()), "P-384": (P384_ORDER, ec.SECP384R1())}[curve]
        scalar = int.from_bytes(Drbg(name).bytes(64), "big") % (order - 1) + 1
        _KEYS[name] = ec.derive_private_key(scalar, crv)
    return _KEYS[name]


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(Drbg(f"ed25519|{label}").bytes(32))


def token(label: str, n: int) -> bytes:
    """Fixed 'random' bytes for key ids, serial numbers and document IDs."""
    return Drbg(f"token|{label}").bytes(n)


# --------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint_b64u(i: int, length: int | None = None) -> str:
    return b64u(i.to_bytes(length or (i.bit_length() + 7) // 8, "big"))


def rsa_members(key) -> dict:
    pub = key.public_key() if hasattr(key, "public_key") else key
    nums = pub.public_numbers()
    return {"n": uint_b64u(nums.n), "e": uint_b64u(nums.e)}


def rsa_private_members(key: rsa.RSAPrivateKey) -> dict:
    nums = key.private_numbers()
    return {"d": uint_b64u(nums.d), "p": uint_b64u(nums.p), "q": uint_b64u(nums.q),
            "dp": uint_b64u(nums.dmp1), "dq": uint_b64u(nums.dmq1), "qi": uint_b64u(nums.iqmp)}


def ec_xy(key) -> dict:
    nums = key.public_key().public_numbers()
    size = (nums.curve.key_size + 7) // 8
    return {"x": uint_b64u(nums.x, size), "y": uint_b64u(nums.y, size)}


def spki_der(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def x5c(cert: x509.Certificate) -> str:
    return base64.b64encode(der(cert)).decode()


def x5t(cert: x509.Certificate) -> str:
    return b64u(hashlib.sha1(der(cert)).digest())


def x5t256(cert: x509.Certificate) -> str:
    return b64u(hashlib.sha256(der(cert)).digest())


def wrap(s: str, width: int) -> list[str]:
    return [s[i : i + width] for i in range(0, len(s), width)]


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------


def utc(y, m, d, hh=0, mm=0, ss=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=dt.timezone.utc)


def name(*parts: tuple) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def cn(value: str) -> x509.Name:
    return name((NameOID.COMMON_NAME, value))


def make_cert(key, subject: x509.Name, *, serial: int, not_before: dt.datetime, not_after: dt.datetime,
              issuer: tuple[x509.Name, object] | None = None, extensions=()) -> x509.Certificate:
    """Self-signed unless issuer=(issuer_name, issuer_private_key). extensions: (ext, critical)."""
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        return b.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    return b.sign(issuer_key, hashes.SHA256())


def openssl_req_x509_extensions(key) -> list:
    """What `openssl req -x509` (OpenSSL 3 default config) puts in a self-signed certificate."""
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return [
        (ski, False),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False),
        (x509.BasicConstraints(ca=True, path_length=None), True),
    ]


# --------------------------------------------------------------------------------------------
# JWKS fixtures
# --------------------------------------------------------------------------------------------


def jwks_google() -> tuple[dict, dict]:
    """https://www.googleapis.com/oauth2/v3/certs during a rotation: three RSA keys."""
    keys = []
    for i in range(3):
        k = rsa_key(f"google-{i}")
        kid = token(f"google-kid-{i}", 20).hex()
        m = rsa_members(k)
        keys.append({"e": m["e"], "kty": "RSA", "n": m["n"], "use": "sig", "kid": kid, "alg": "RS256"})
    return {"keys": keys}, {"indent": 2}


def jwks_entra() -> tuple[dict, dict]:
    """https://login.microsoftonline.com/common/discovery/v2.0/keys: kid == x5t, x5c, issuer
    template, no alg."""
    keys = []
    starts = [utc(2024, 3, 11, 17, 50, 6), utc(2024, 5, 2, 20, 11, 52), utc(2024, 7, 18, 23, 4, 31),
              utc(2024, 9, 30, 18, 24, 2)]
    for i, start in enumerate(starts):
        k = rsa_key(f"entra-{i}")
        cert = make_cert(k, cn("accounts.accesscontrol.windows.net"),
                         serial=int.from_bytes(token(f"entra-serial-{i}", 8), "big") >> 1,
                         not_before=start, not_after=start.replace(year=start.year + 5))
        m = rsa_members(k)
        keys.append({"kty": "RSA", "use": "sig", "kid": x5t(cert), "x5t": x5t(cert), "n": m["n"],
                     "e": m["e"], "x5c": [x5c(cert)],
                     "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"})
    return {"keys": keys}, {"compact": True}


def jwks_okta() -> tuple[dict, dict]:
    """https://{org}.okta.com/oauth2/default/v1/keys: two RS256 keys (current, next)."""
    keys = []
    for i in range(2):
        m = rsa_members(rsa_key(f"okta-{i}"))
        keys.append({"kty": "RSA", "alg": "RS256", "kid": b64u(token(f"okta-kid-{i}", 32)), "use": "sig",
                     "e": m["e"], "n": m["n"]})
    return {"keys": keys}, {"compact": True}


def jwks_auth0() -> tuple[dict, dict]:
    """https://{tenant}.auth0.com/.well-known/jwks.json: current + next key. The first is an
    old-tenant key whose kid and x5t are base64url of the *hex text* of the SHA-1 thumbprint (54
    characters, not a 20-byte value); the second a newer-tenant key (short random kid, x5t =
    base64url SHA-1)."""
    keys = []
    for i, (start, end) in enumerate([(utc(2021, 2, 8, 10, 31, 42), utc(2034, 10, 18, 10, 31, 42)),
                                      (utc(2024, 6, 4, 14, 2, 9), utc(2038, 2, 11, 14, 2, 9))]):
        k = rsa_key(f"auth0-{i}")
        ski = x509.SubjectKeyIdentifier.from_public_key(k.public_key())
        cert = make_cert(k, cn("dev-q8t2k4xw.us.auth0.com"),
                         serial=int.from_bytes(token(f"auth0-serial-{i}", 9), "big") >> 1,
                         not_before=start, not_after=end,
                         extensions=[(x509.BasicConstraints(ca=True, path_length=None), True), (ski, False),
                                     (x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                    key_encipherment=False, data_encipherment=False,
                                                    key_agreement=False, key_cert_sign=True, crl_sign=False,
                                                    encipher_only=False, decipher_only=False), True)])
        if i == 0:
            thumb = b64u(hashlib.sha1(der(cert)).hexdigest().upper().encode())
            kid, t = thumb, thumb
        else:
            kid, t = b64u(token("auth0-kid-1", 16)), x5t(cert)
        m = rsa_members(k)
        keys.append({"alg": "RS256", "kty": "RSA", "use": "sig", "n": m["n"], "e": m["e"], "kid": kid,
                     "x5t": t, "x5c": [x5c(cert)]})
    return {"keys": keys}, {"compact": True}


def keycloak_cert(key, realm: str, created_ms: int) -> x509.Certificate:
    start = dt.datetime.fromtimestamp(created_ms // 1000, dt.timezone.utc)
    return make_cert(key, cn(realm), serial=created_ms, not_before=start,
                     not_after=start.replace(year=start.year + 10))


def jwks_keycloak() -> tuple[dict, dict]:
    """https://{host}/realms/{realm}/protocol/openid-connect/certs: the realm's default
    rsa-enc-generated (RSA-OAEP, use enc) key first, rsa-generated RS256 and ecdsa-generated
    ES256 keys, each with a self-signed CN=<realm> certificate (serial = creation time in ms);
    kid = base64url(SHA-256(SubjectPublicKeyInfo))."""
    realm = "acme"
    enc, sig, ecs = rsa_key("keycloak-enc"), rsa_key("keycloak-sig"), ec_key("keycloak-es256")
    c_enc = keycloak_cert(enc, realm, 1718013305113)
    c_sig = keycloak_cert(sig, realm, 1718013304871)
    c_ec = keycloak_cert(ecs, realm, 1718013305402)
    keys = []
    for k, c, alg, use in [(enc, c_enc, "RSA-OAEP", "enc"), (sig, c_sig, "RS256", "sig")]:
        m = rsa_members(k)
        keys.append({"kid": b64u(hashlib.sha256(spki_der(k)).digest()), "kty": "RSA", "alg": alg, "use": use,
                     "n": m["n"], "e": m["e"], "x5c": [x5c(c)], "x5t": x5t(c), "x5t#S256": x5t256(c)})
    keys.append({"kid": b64u(hashlib.sha256(spki_der(ecs)).digest()), "kty": "EC", "alg": "ES256", "use": "sig",
                 "crv": "P-256", **ec_xy(ecs), "x5c": [x5c(c_ec)], "x5t": x5t(c_ec),
                 "x5t#S256": x5t256(c_ec)})
    return {"keys": keys}, {"compact": True}


def off_curve_p256(key) -> dict:
    """x of a real P-256 point with y+1: a point that is not on the curve."""
    nums = key.public_key().public_numbers()
    p = 2**256 - 2**224 + 2**192 + 2**96 - 1
    y = (nums.y + 1) % p
    try:
        ec.EllipticCurvePublicNumbers(nums.x, y, ec.SECP256R1()).public_key()
        raise SystemExit("off-curve point unexpectedly on the curve")
    except ValueError:
        pass
    return {"x": uint_b64u(nums.x, 32), "y": uint_b64u(y, 32)}


# index -> the `why` each unusable key of mixed-unusable.json is meant to exercise
MIXED_INTENT = ["private", None, "kty", "crv", "key", "key_ops", "private", "duplicate", "duplicate", "alg",
                "use", "alg", "key"]


def jwks_mixed() -> tuple[dict, dict]:
    good = rsa_key("mixed-good")
    gm = rsa_members(good)
    keys = [
        # 0: a shared HMAC secret published by mistake (the `k` member is private)
        {"kty": "oct", "kid": "hmac-2023", "use": "sig", "alg": "HS256", "k": b64u(token("mixed-hmac", 32))},
        # 1: the one usable key
        {"kty": "RSA", "kid": "rsa-2048-sig", "use": "sig", "alg": "RS256", "n": gm["n"], "e": gm["e"]},
        # 2: Ed25519 (RFC 8037): kty OKP is not supported
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed25519-sig", "use": "sig", "alg": "EdDSA",
         "x": b64u(ed25519_key("mixed-ed25519").public_key().public_bytes(
             serialization.Encoding.Raw, serialization.PublicFormat.Raw))},
        # 3: EC P-384 / ES384: curve not supported
        {"kty": "EC", "crv": "P-384", "kid": "ec-p384-sig", "use": "sig", "alg": "ES384",
         **ec_xy(ec_key("mixed-p384", "P-384"))},
        # 4: RSA 1024-bit modulus
        {"kty": "RSA", "kid": "rsa-1024-legacy", "use": "sig", "alg": "RS256",
         **rsa_members(rsa_key("mixed-1024", 1024))},
        # 5: key_ops without "verify" (and an encryption alg: key_ops decides first)
        {"kty": "RSA", "kid": "rsa-key-ops-encrypt", "key_ops": ["encrypt"], "alg": "RSA-OAEP-256",
         **rsa_members(rsa_key("mixed-keyops"))},
        # 6: a whole private RSA JWK published by mistake
        {"kty": "RSA", "kid": "rsa-private-leak", "use": "sig", "alg": "RS256",
         **rsa_members(rsa_key("mixed-private")), **rsa_private_members(rsa_key("mixed-private"))},
        # 7: same kid as key 1, different key material
        {"kty": "RSA", "kid": "rsa-2048-sig", "use": "sig", "alg": "RS256", **rsa_members(rsa_key("mixed-dupkid"))},
        # 8: exact copy of key 1 under another kid
        {"kty": "RSA", "kid": "rsa-2048-sig-copy", "use": "sig", "alg": "RS256", "n": gm["n"], "e": gm["e"]},
        # 9: an HMAC alg on an RSA key
        {"kty": "RSA", "kid": "rsa-alg-hs256", "use": "sig", "alg": "HS256", **rsa_members(rsa_key("mixed-hs256"))},
        # 10: an encryption key
        {"kty": "RSA", "kid": "rsa-enc", "use": "enc", "alg": "RSA-OAEP", **rsa_members(rsa_key("mixed-enc"))},
        # 11: an RSA alg on an EC P-256 key
        {"kty": "EC", "crv": "P-256", "kid": "ec-p256-alg-rs256", "use": "sig", "alg": "RS256",
         **ec_xy(ec_key("mixed-p256-rs256"))},
        # 12: an EC P-256 point that is not on the curve, no kid
        {"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", **off_curve_p256(ec_key("mixed-offcurve"))},
    ]
    assert len(keys) == len(MIXED_INTENT)
    return {"keys": keys}, {"indent": 2}


JWKS = {
    "google.json": (jwks_google, ["kid0", "kid1", "kid2"]),
    "entra.json": (jwks_entra, None),
    "okta.json": (jwks_okta, None),
    "auth0.json": (jwks_auth0, None),
    "keycloak.json": (jwks_keycloak, None),
    "mixed-unusable.json": (jwks_mixed, None),
}


def dump_json(obj, fmt: dict) -> str:
    if fmt.get("compact"):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(obj, indent=fmt["indent"], ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# SAML metadata fixtures
# --------------------------------------------------------------------------------------------

C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


def c14n(xml_text: str) -> bytes:
    if xml_text.startswith("<?xml"):
        xml_text = xml_text[xml_text.index("?>") + 2 :]
    return ET.canonicalize(xml_data=xml_text, with_comments=False).encode()


def enveloped_signature(doc_without_sig: str, ref_id: str, key: rsa.RSAPrivateKey, template: str) -> str:
    """template has {digest} {signature}; its SignedInfo must start with '<ds:SignedInfo>' and
    the document must bind the ds prefix to DS where the template is placed (or the template
    declares it on ds:Signature)."""
    digest = base64.b64encode(hashlib.sha256(c14n(doc_without_sig)).digest()).decode()
    start = template.index("<ds:SignedInfo>")
    end = template.index("</ds:SignedInfo>") + len("</ds:SignedInfo>")
    signed_info = template[start:end].replace("{digest}", digest).replace("{ref}", ref_id)
    standalone = signed_info.replace("<ds:SignedInfo>", f'<ds:SignedInfo xmlns:ds="{DS}">', 1)
    sig = key.sign(c14n(standalone), padding.PKCS1v15(), hashes.SHA256())
    return template.replace("{digest}", digest).replace("{ref}", ref_id).replace(
        "{signature}", base64.b64encode(sig).decode())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_text(cert: x509.Certificate, style: str, indent: str = "") -> str:
    """The text content of ds:X509Certificate as different producers write it."""
    b = x5c(cert)
    if style == "line":  # one line (ADFS, SimpleSAMLphp, Entra)
        return b
    if style == "col0-64":  # Shibboleth / InCommon: PEM body pasted at column 0
        return "\n" + "\n".join(wrap(b, 64)) + "\n" + indent
    if style == "indent-64":
        return "\n" + "\n".join(indent + "  " + l for l in wrap(b, 64)) + "\n" + indent
    if style == "mime-76":  # Java MIME encoder: 76 columns, LF, no leading/trailing break (Okta)
        return "\n".join(wrap(b, 76))
    if style == "mime-76-crlf":  # same with CRLF, the CR serialized as a character reference
        return "&#13;\n".join(wrap(b, 76))
    raise ValueError(style)


def shibboleth_idp() -> tuple[str, dict]:
    host, entity = "idp.example.org", "https://idp.example.org/idp/shibboleth"
    sk, ek = rsa_key("shib-signing"), rsa_key("shib-encryption")
    sans = x509.SubjectAlternativeName([x509.DNSName(host), x509.UniformResourceIdentifier(entity)])
    sign = make_cert(sk, cn(host), serial=int.from_bytes(token("shib-serial-s", 20), "big") >> 1,
                     not_before=utc(2021, 9, 14, 12, 3, 41), not_after=utc(2041, 9, 14, 12, 3, 41),
                     extensions=openssl_req_x509_extensions(sk) + [(sans, False)])
    enc = make_cert(ek, cn(host), serial=int.from_bytes(token("shib-serial-e", 20), "big") >> 1,
                    not_before=utc(2021, 9, 14, 12, 3, 44), not_after=utc(2041, 9, 14, 12, 3, 44),
                    extensions=openssl_req_x509_extensions(ek) + [(sans, False)])
    s_txt = cert_text(sign, "col0-64", " " * 24)
    e_txt = cert_text(enc, "col0-64", " " * 24)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<!--
     This is example metadata only. Do *NOT* supply it as is without review,
     and do *NOT* provide it in real time to your partners.

     This metadata is not dynamic - it will not change as your configuration changes.
-->
<EntityDescriptor  xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" entityID="{entity}">

    <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol urn:mace:shibboleth:1.0">

        <Extensions>
            <shibmd:Scope regexp="false">example.org</shibmd:Scope>
<!--
    Fill in the details for your IdP here

            <mdui:UIInfo>
                <mdui:DisplayName xml:lang="en">A Name for the IdP at {host}</mdui:DisplayName>
                <mdui:Description xml:lang="en">Enter a description of your IdP at {host}</mdui:Description>
                <mdui:Logo height="80" width="80">https://{host}/Path/To/Logo.png</mdui:Logo>
            </mdui:UIInfo>
-->
        </Extensions>

        <KeyDescriptor>
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>{s_txt}</ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>

        </KeyDescriptor>
        <KeyDescriptor use="encryption">
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>{e_txt}</ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>

        </KeyDescriptor>

        <ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://{host}:8443/idp/profile/SAML1/SOAP/ArtifactResolution" index="1"/>
        <ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{host}:8443/idp/profile/SAML2/SOAP/ArtifactResolution" index="2"/>

        <!--
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/idp/profile/SAML2/Redirect/SLO"/>
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/profile/SAML2/POST/SLO"/>
        -->

        <SingleSignOnService Binding="urn:mace:shibboleth:1.0:profiles:AuthnRequest" Location="https://{host}/idp/profile/Shibboleth/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/profile/SAML2/POST/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" Location="https://{host}/idp/profile/SAML2/POST-SimpleSign/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/idp/profile/SAML2/Redirect/SSO"/>

    </IDPSSODescriptor>


    <AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol">

        <Extensions>
            <shibmd:Scope regexp="false">example.org</shibmd:Scope>
        </Extensions>

        <KeyDescriptor>
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>{s_txt}</ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>

        </KeyDescriptor>

        <AttributeService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://{host}:8443/idp/profile/SAML1/SOAP/AttributeQuery"/>
        <!-- <AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{host}:8443/idp/profile/SAML2/SOAP/AttributeQuery"/> -->
        <!-- If you uncomment the above you should add urn:oasis:names:tc:SAML:2.0:protocol to the protocolSupportEnumeration above -->

    </AttributeAuthorityDescriptor>

</EntityDescriptor>
"""
    intent = {"shibboleth-idp.xml": {"entity_id": entity, "usable": [sign], "skipped": []}}
    return xml, intent


ADFS_CLAIMS = [
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "E-Mail Address",
     "The e-mail address of the user"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "Given Name", "The given name of the user"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "Name", "The unique name of the user"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "UPN", "The user principal name (UPN) of the user"),
    ("http://schemas.xmlsoap.org/claims/CommonName", "Common Name",
     "The common name of the user"),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "Role", "A role that the user has"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "Surname", "The surname of the user"),
]


def adfs() -> tuple[str, dict]:
    host = "sts.example.com"
    entity = f"http://{host}/adfs/services/trust"
    primary_k, secondary_k, enc_k = rsa_key("adfs-signing-1"), rsa_key("adfs-signing-2"), rsa_key("adfs-encryption")
    primary = make_cert(primary_k, cn(f"ADFS Signing - {host}"),
                        serial=int.from_bytes(token("adfs-serial-1", 16), "big") >> 1,
                        not_before=utc(2025, 3, 2, 7, 14, 9), not_after=utc(2036, 3, 2, 7, 14, 9))
    secondary = make_cert(secondary_k, cn(f"ADFS Signing - {host}"),
                          serial=int.from_bytes(token("adfs-serial-2", 16), "big") >> 1,
                          not_before=utc(2026, 1, 16, 7, 14, 12), not_after=utc(2037, 1, 16, 7, 14, 12))
    enc = make_cert(enc_k, cn(f"ADFS Encryption - {host}"),
                    serial=int.from_bytes(token("adfs-serial-e", 16), "big") >> 1,
                    not_before=utc(2025, 3, 2, 7, 14, 10), not_after=utc(2036, 3, 2, 7, 14, 10))

    def kd(use: str, cert) -> str:
        return (f'<KeyDescriptor use="{use}"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>'
                f"<X509Certificate>{x5c(cert)}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>")

    def claims() -> str:
        return "".join(
            f'<auth:ClaimType Uri="{u}" Optional="true" xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706">'
            f"<auth:DisplayName>{escape(n)}</auth:DisplayName><auth:Description>{escape(d)}</auth:Description>"
            f"</auth:ClaimType>" for u, n, d in ADFS_CLAIMS)

    def epr(path: str) -> str:
        return (f'<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>'
                f"https://{host}{path}</wsa:Address></wsa:EndpointReference>")

    fed = ('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706"')
    pse = ("http://docs.oasis-open.org/ws-sx/ws-trust/200512 http://schemas.xmlsoap.org/ws/2005/02/trust "
           "http://docs.oasis-open.org/wsfed/federation/200706")
    doc_id = "_" + str(uuid.UUID(bytes=token("adfs-id", 16), version=4))
    body = (
        f'<RoleDescriptor xsi:type="fed:ApplicationServiceType" protocolSupportEnumeration="{pse}" '
        f'ServiceDisplayName="Example Corp STS" {fed}>'
        + kd("encryption", enc) + kd("signing", primary) + kd("signing", secondary)
        + f'<fed:TargetScopes>{epr("/adfs/services/trust/2005/issuedtokenmixedasymmetricbasic256")}'
        f'{epr("/adfs/services/trust/2005/issuedtokenmixedsymmetricbasic256")}'
        f'{epr("/adfs/services/trust/13/issuedtokenmixedasymmetricbasic256")}'
        f'{epr("/adfs/services/trust/13/issuedtokenmixedsymmetricbasic256")}'
        f'{epr("/adfs/ls/")}<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing">'
        f"<wsa:Address>{entity}</wsa:Address></wsa:EndpointReference></fed:TargetScopes>"
        f"<fed:ApplicationServiceEndpoint>{epr('/adfs/services/trust/2005/issuedtokenmixedasymmetricbasic256')}"
        f"</fed:ApplicationServiceEndpoint><fed:PassiveRequestorEndpoint>{epr('/adfs/ls/')}"
        "</fed:PassiveRequestorEndpoint></RoleDescriptor>"
        f'<RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="{pse}" '
        f'ServiceDisplayName="Example Corp STS" {fed}>'
        + kd("signing", primary) + kd("signing", secondary)
        + "<fed:TokenTypesOffered><fed:TokenType Uri=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>"
        "<fed:TokenType Uri=\"urn:oasis:names:tc:SAML:1.0:assertion\"/></fed:TokenTypesOffered>"
        f"<fed:ClaimTypesOffered>{claims()}</fed:ClaimTypesOffered>"
        f"<fed:SecurityTokenServiceEndpoint>{epr('/adfs/services/trust/2005/certificatemixed')}"
        f"</fed:SecurityTokenServiceEndpoint><fed:PassiveRequestorEndpoint>{epr('/adfs/ls/')}"
        "</fed:PassiveRequestorEndpoint></RoleDescriptor>"
        '<SPSSODescriptor WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        + kd("encryption", enc) + kd("signing", primary) + kd("signing", secondary)
        + f'<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/adfs/ls/"/>'
        f'<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/adfs/ls/"/>'
        "<NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat>"
        "<NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>"
        "<NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>"
        f'<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/adfs/ls/" index="0" isDefault="true"/>'
        f'<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://{host}/adfs/ls/" index="1"/>'
        f'<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/adfs/ls/" index="2"/>'
        "</SPSSODescriptor>"
        '<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        + kd("encryption", enc) + kd("signing", primary) + kd("signing", secondary)
        + f'<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/adfs/ls/"/>'
        f'<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/adfs/ls/"/>'
        "<NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat>"
        "<NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>"
        "<NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>"
        f'<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/adfs/ls/"/>'
        f'<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/adfs/ls/"/>'
        + "".join(
            f'<Attribute Name="{u}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" '
            f'FriendlyName="{escape(n)}" xmlns="urn:oasis:names:tc:SAML:2.0:assertion"/>' for u, n, _ in ADFS_CLAIMS)
        + "</IDPSSODescriptor>"
        '<ContactPerson contactType="support"/>'
    )
    head = f'<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="{doc_id}" entityID="{entity}" xmlns="{MD}">'
    tail = "</EntityDescriptor>"
    template = (
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{C14N_EXC}" />'
        f'<ds:SignatureMethod Algorithm="{RSA_SHA256}" /><ds:Reference URI="#{{ref}}"><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED}" /><ds:Transform Algorithm="{C14N_EXC}" /></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{SHA256_URI}" /><ds:DigestValue>{{digest}}</ds:DigestValue></ds:Reference>'
        f"</ds:SignedInfo><ds:SignatureValue>{{signature}}</ds:SignatureValue>"
        f'<KeyInfo xmlns="{DS}"><X509Data><X509Certificate>{x5c(primary)}</X509Certificate></X509Data></KeyInfo>'
        "</ds:Signature>")
    sig = enveloped_signature(head + body + tail, doc_id, primary_k, template)
    xml = head + sig + body + tail
    intent = {"adfs.xml": {"entity_id": entity, "usable": [primary, secondary], "skipped": []}}
    return xml, intent


def aggregate() -> tuple[str, dict]:
    fed_k = rsa_key("federation-signer")
    fed_cert = make_cert(fed_k, name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Example Federation"),
                                     (NameOID.COMMON_NAME, "Example Federation Metadata Signer")),
                         serial=int.from_bytes(token("fed-serial", 9), "big") >> 1,
                         not_before=utc(2023, 12, 1), not_after=utc(2043, 12, 1),
                         extensions=openssl_req_x509_extensions(fed_k))
    # IdP A: Shibboleth IdP upgraded from v2, one self-signed (cA=TRUE) certificate listed three times
    a_host, a_entity = "idp-a.example.org", "https://idp-a.example.org/idp/shibboleth"
    a_k = rsa_key("agg-idp-a")
    a_cert = make_cert(a_k, cn(a_host), serial=int.from_bytes(token("agg-a-serial", 20), "big") >> 1,
                       not_before=utc(2019, 5, 20, 15, 2, 11), not_after=utc(2039, 5, 20, 15, 2, 11),
                       extensions=openssl_req_x509_extensions(a_k) + [
                           (x509.SubjectAlternativeName([x509.DNSName(a_host),
                                                         x509.UniformResourceIdentifier(a_entity)]), False)])
    # IdP B: SimpleSAMLphp during a key rollover: old RSA-1024 certificate + new EC P-256 certificate
    b_host = "idp-b.example.edu"
    b_entity = f"https://{b_host}/simplesaml/saml2/idp/metadata.php"
    b_old_k, b_new_k = rsa_key("agg-idp-b-old", 1024), ec_key("agg-idp-b-new")
    b_subject = name((NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "Ohio"),
                     (NameOID.LOCALITY_NAME, "Columbus"), (NameOID.ORGANIZATION_NAME, "Example University"),
                     (NameOID.COMMON_NAME, b_host))
    b_old = make_cert(b_old_k, b_subject, serial=0x00C3A96E0F42D5B8A1, not_before=utc(2012, 8, 27, 19, 40, 3),
                      not_after=utc(2032, 8, 22, 19, 40, 3), extensions=openssl_req_x509_extensions(b_old_k))
    b_new = make_cert(b_new_k, b_subject, serial=int.from_bytes(token("agg-b-serial", 20), "big") >> 1,
                      not_before=utc(2025, 2, 3, 10, 0, 0), not_after=utc(2035, 2, 1, 10, 0, 0),
                      extensions=openssl_req_x509_extensions(b_new_k))
    # SP
    sp_host, sp_entity = "sp.example.com", "https://sp.example.com/shibboleth"
    sp_k = rsa_key("agg-sp")
    sp_cert = make_cert(sp_k, cn(sp_host), serial=int.from_bytes(token("agg-sp-serial", 9), "big") >> 1,
                        not_before=utc(2022, 1, 10), not_after=utc(2032, 1, 8),
                        extensions=openssl_req_x509_extensions(sp_k))

    def a_kd(use: str | None, key_name: bool) -> str:
        use_attr = f' use="{use}"' if use else ""
        kn = f"\n          <ds:KeyName>{a_host}</ds:KeyName>" if key_name else ""
        return f"""
      <md:KeyDescriptor{use_attr}>
        <ds:KeyInfo>{kn}
          <ds:X509Data>
            <ds:X509Certificate>{cert_text(a_cert, "col0-64", "            ")}</ds:X509Certificate>
          </ds:X509Data>
        </ds:KeyInfo>
      </md:KeyDescriptor>"""

    def b_kd(use: str, cert) -> str:
        return f"""
      <md:KeyDescriptor use="{use}">
        <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
          <ds:X509Data>
            <ds:X509Certificate>{cert_text(cert, "line")}</ds:X509Certificate>
          </ds:X509Data>
        </ds:KeyInfo>
      </md:KeyDescriptor>"""

    def reg(instant: str) -> str:
        return f"""
      <mdrpi:RegistrationInfo registrationAuthority="https://federation.example.org" registrationInstant="{instant}">
        <mdrpi:RegistrationPolicy xml:lang="en">https://federation.example.org/policy/registration</mdrpi:RegistrationPolicy>
      </mdrpi:RegistrationInfo>"""

    doc_id = "FED" + "20260601T000000"
    body = f"""
  <md:Extensions>
    <mdrpi:PublicationInfo creationInstant="2026-06-01T00:00:00Z" publisher="https://federation.example.org"/>
    <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/>
    <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
    <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
  </md:Extensions>
  <md:EntityDescriptor entityID="{a_entity}">
    <md:Extensions>{reg("2019-06-03T14:22:51Z")}
      <mdattr:EntityAttributes>
        <saml:Attribute Name="http://macedir.org/entity-category-support" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
          <saml:AttributeValue>http://refeds.org/category/research-and-scholarship</saml:AttributeValue>
        </saml:Attribute>
        <saml:Attribute Name="urn:oasis:names:tc:SAML:attribute:assurance-certification" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
          <saml:AttributeValue>https://refeds.org/sirtfi</saml:AttributeValue>
        </saml:Attribute>
      </mdattr:EntityAttributes>
    </md:Extensions>
    <md:IDPSSODescriptor errorURL="https://{a_host}/error?ts=TIMESTAMP&amp;rp=RPID" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol urn:mace:shibboleth:1.0">
      <md:Extensions>
        <shibmd:Scope regexp="false">example.org</shibmd:Scope>
        <mdui:UIInfo>
          <mdui:DisplayName xml:lang="en">Example Organization A</mdui:DisplayName>
          <mdui:Logo height="60" width="80">https://{a_host}/logo.png</mdui:Logo>
        </mdui:UIInfo>
      </md:Extensions>{a_kd("signing", True)}{a_kd("signing", False)}{a_kd("encryption", False)}
      <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{a_host}:8443/idp/profile/SAML2/SOAP/ArtifactResolution" index="2"/>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
      <md:SingleSignOnService Binding="urn:mace:shibboleth:1.0:profiles:AuthnRequest" Location="https://{a_host}/idp/profile/Shibboleth/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{a_host}/idp/profile/SAML2/POST/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{a_host}/idp/profile/SAML2/Redirect/SSO"/>
    </md:IDPSSODescriptor>
    <md:AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol">
      <md:Extensions>
        <shibmd:Scope regexp="false">example.org</shibmd:Scope>
      </md:Extensions>{a_kd(None, False)}
      <md:AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{a_host}:8443/idp/profile/SAML2/SOAP/AttributeQuery"/>
    </md:AttributeAuthorityDescriptor>
    <md:Organization>
      <md:OrganizationName xml:lang="en">Example Organization A</md:OrganizationName>
      <md:OrganizationDisplayName xml:lang="en">Example Organization A</md:OrganizationDisplayName>
      <md:OrganizationURL xml:lang="en">https://www.example.org/</md:OrganizationURL>
    </md:Organization>
    <md:ContactPerson contactType="technical">
      <md:GivenName>Identity</md:GivenName>
      <md:SurName>Team</md:SurName>
      <md:EmailAddress>mailto:identity@example.org</md:EmailAddress>
    </md:ContactPerson>
    <md:ContactPerson xmlns:remd="http://refeds.org/metadata" contactType="other" remd:contactType="http://refeds.org/metadata/contactType/security">
      <md:GivenName>Security</md:GivenName>
      <md:EmailAddress>mailto:security@example.org</md:EmailAddress>
    </md:ContactPerson>
  </md:EntityDescriptor>
  <md:EntityDescriptor entityID="{sp_entity}">
    <md:Extensions>{reg("2022-01-12T09:00:00Z")}
    </md:Extensions>
    <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <md:KeyDescriptor>
        <ds:KeyInfo>
          <ds:X509Data>
            <ds:X509Certificate>{cert_text(sp_cert, "indent-64", "            ")}</ds:X509Certificate>
          </ds:X509Data>
        </ds:KeyInfo>
      </md:KeyDescriptor>
      <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{sp_host}/Shibboleth.sso/SAML2/POST" index="1"/>
    </md:SPSSODescriptor>
    <md:Organization>
      <md:OrganizationName xml:lang="en">Example Service</md:OrganizationName>
      <md:OrganizationDisplayName xml:lang="en">Example Service</md:OrganizationDisplayName>
      <md:OrganizationURL xml:lang="en">https://{sp_host}/</md:OrganizationURL>
    </md:Organization>
  </md:EntityDescriptor>
  <md:EntityDescriptor entityID="{b_entity}">
    <md:Extensions>{reg("2012-09-04T16:30:00Z")}
    </md:Extensions>
    <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{b_kd("signing", b_old)}{b_kd("encryption", b_old)}{b_kd("signing", b_new)}
      <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{b_host}/simplesaml/saml2/idp/SingleLogoutService.php"/>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{b_host}/simplesaml/saml2/idp/SSOService.php"/>
    </md:IDPSSODescriptor>
    <md:ContactPerson contactType="technical">
      <md:GivenName>Web</md:GivenName>
      <md:SurName>Services</md:SurName>
      <md:EmailAddress>mailto:webservices@example.edu</md:EmailAddress>
    </md:ContactPerson>
  </md:EntityDescriptor>
"""
    ns = ('xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" '
          'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" '
          'xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" '
          'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<md:EntitiesDescriptor {ns} ID="{doc_id}" '
            f'Name="https://federation.example.org/metadata" validUntil="2026-06-15T00:00:00Z">\n  ')
    tail = "</md:EntitiesDescriptor>\n"
    sigvalue_indent = "    "
    template = f"""<ds:Signature>
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="{C14N_EXC}"/>
      <ds:SignatureMethod Algorithm="{RSA_SHA256}"/>
      <ds:Reference URI="#{{ref}}">
        <ds:Transforms>
          <ds:Transform Algorithm="{ENVELOPED}"/>
          <ds:Transform Algorithm="{C14N_EXC}"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="{SHA256_URI}"/>
        <ds:DigestValue>{{digest}}</ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue>
{{signature}}
{sigvalue_indent}</ds:SignatureValue>
    <ds:KeyInfo>
      <ds:X509Data>
        <ds:X509Certificate>{cert_text(fed_cert, "col0-64", "        ")}</ds:X509Certificate>
      </ds:X509Data>
    </ds:KeyInfo>
  </ds:Signature>"""
    sig = enveloped_signature(head + body + tail, doc_id, fed_k, template)
    # wrap the signature value at 76 columns, as the federation's aggregator does
    start = sig.index("<ds:SignatureValue>\n") + len("<ds:SignatureValue>\n")
    end = sig.index("\n" + sigvalue_indent + "</ds:SignatureValue>")
    sig = sig[:start] + "\n".join(wrap(sig[start:end], 76)) + sig[end:]
    xml = head + sig + body + tail
    intent = {
        f"aggregate.xml#{a_entity}": {"entity_id": a_entity, "usable": [a_cert], "skipped": []},
        f"aggregate.xml#{b_entity}": {"entity_id": b_entity, "usable": [b_new], "skipped": ["key"]},
    }
    return xml, intent


def chain() -> tuple[str, dict]:
    host, entity = "sso.example.net", "https://sso.example.net/idp"
    root_k, int_k, leaf_k, enc_k = (rsa_key("chain-root"), rsa_key("chain-intermediate"), rsa_key("chain-leaf"),
                                     rsa_key("chain-encryption"))
    org = (NameOID.ORGANIZATION_NAME, "Example Networks Ltd")
    root_name = name((NameOID.COUNTRY_NAME, "GB"), org, (NameOID.COMMON_NAME, "Example Networks Root CA"))
    int_name = name((NameOID.COUNTRY_NAME, "GB"), org, (NameOID.COMMON_NAME, "Example Networks Issuing CA 1"))
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_k.public_key())
    int_ski = x509.SubjectKeyIdentifier.from_public_key(int_k.public_key())
    ca_usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                             encipher_only=False, decipher_only=False)
    leaf_usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                               data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                               encipher_only=False, decipher_only=False)
    enc_usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
    root = make_cert(root_k, root_name, serial=int.from_bytes(token("chain-root-serial", 16), "big") >> 1,
                     not_before=utc(2020, 1, 1), not_after=utc(2045, 1, 1),
                     extensions=[(x509.BasicConstraints(ca=True, path_length=None), True), (ca_usage, True),
                                 (root_ski, False)])
    inter = make_cert(int_k, int_name, serial=int.from_bytes(token("chain-int-serial", 16), "big") >> 1,
                      not_before=utc(2022, 3, 1), not_after=utc(2037, 3, 1), issuer=(root_name, root_k),
                      extensions=[(x509.BasicConstraints(ca=True, path_length=0), True), (ca_usage, True),
                                  (int_ski, False),
                                  (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), False)])

    def leaf_cert(k, cn_value, usage, serial_label):
        return make_cert(k, name((NameOID.COUNTRY_NAME, "GB"), org, (NameOID.COMMON_NAME, cn_value)),
                         serial=int.from_bytes(token(serial_label, 16), "big") >> 1,
                         not_before=utc(2025, 6, 1), not_after=utc(2028, 6, 1), issuer=(int_name, int_k),
                         extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), (usage, True),
                                     (x509.SubjectKeyIdentifier.from_public_key(k.public_key()), False),
                                     (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(int_ski), False),
                                     (x509.SubjectAlternativeName([x509.DNSName(host)]), False)])

    leaf = leaf_cert(leaf_k, f"{host} SAML signing", leaf_usage, "chain-leaf-serial")
    enc = leaf_cert(enc_k, f"{host} SAML encryption", enc_usage, "chain-enc-serial")
    doc_id = "_" + token("chain-id", 20).hex()
    t = lambda c: cert_text(c, "mime-76-crlf")  # noqa: E731
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{doc_id}" cacheDuration="PT1440M" entityID="{entity}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data>
          <ds:X509Certificate>{t(leaf)}</ds:X509Certificate>
          <ds:X509Certificate>{t(inter)}</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data>
          <ds:X509Certificate>{t(enc)}</ds:X509Certificate>
          <ds:X509Certificate>{t(inter)}</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/SLO.saml2"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/SSO.saml2"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/idp/SSO.saml2"/>
    <saml:Attribute xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Name="mail" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"/>
  </md:IDPSSODescriptor>
  <md:ContactPerson contactType="administrative">
    <md:Company>Example Networks Ltd</md:Company>
  </md:ContactPerson>
</md:EntityDescriptor>
"""
    # the chain really chains: leaf <- intermediate <- root
    leaf.verify_directly_issued_by(inter)
    enc.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(root)
    intent = {"chain.xml": {"entity_id": entity, "usable": [leaf], "skipped": ["ca"]}}
    return xml, intent


def okta_idp() -> tuple[str, dict]:
    org, app = "dev-48213377", "exk9q3v7l2ZfXbC1R5d7"
    entity = f"http://www.okta.com/{app}"
    k = rsa_key("okta-saml")
    created_ms = 1731401877461
    start = dt.datetime.fromtimestamp(created_ms // 1000, dt.timezone.utc).replace(second=0)
    cert = make_cert(k, name((NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "California"),
                             (NameOID.LOCALITY_NAME, "San Francisco"), (NameOID.ORGANIZATION_NAME, "Okta"),
                             (NameOID.ORGANIZATIONAL_UNIT_NAME, "SSOProvider"), (NameOID.COMMON_NAME, org),
                             (NameOID.EMAIL_ADDRESS, "info@okta.com")),
                     serial=created_ms, not_before=start, not_after=start.replace(year=start.year + 10))
    sso = f"https://{org}.okta.com/app/{org}_assertiongrant_1/{app}/sso/saml"
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{entity}"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing">'
        '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>'
        f"{cert_text(cert, 'mime-76')}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/>'
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>\n")
    intent = {"okta-idp.xml": {"entity_id": entity, "usable": [cert], "skipped": []}}
    return xml, intent


SAML = {
    "shibboleth-idp.xml": shibboleth_idp,
    "adfs.xml": adfs,
    "aggregate.xml": aggregate,
    "chain.xml": chain,
    "okta-idp.xml": okta_idp,
}


# --------------------------------------------------------------------------------------------
# Reference classifiers (the rules of README.md)
# --------------------------------------------------------------------------------------------

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
ALGS = {"RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, "EC": {"ES256"}}


def _b64u_decode(s) -> bytes | None:
    if not isinstance(s, str) or "=" in s or not s:
        return None
    try:
        b = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except ValueError:
        return None
    return b if b64u(b) == s else None


def key_material(k: dict):
    """None when the key material is bad; else a comparable value."""
    if k["kty"] == "RSA":
        n, e = _b64u_decode(k.get("n")), _b64u_decode(k.get("e"))
        if n is None or e is None or n[0] == 0 or e[0] == 0:
            return None
        n, e = int.from_bytes(n, "big"), int.from_bytes(e, "big")
        if not 2048 <= n.bit_length() <= 8192 or e < 3 or e % 2 == 0:
            return None
        try:
            rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            return None
        return ("RSA", n, e)
    x, y = _b64u_decode(k.get("x")), _b64u_decode(k.get("y"))
    if x is None or y is None or len(x) != 32 or len(y) != 32:
        return None
    try:
        ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()).public_key()
    except ValueError:
        return None
    return ("EC", x, y)


def classify_jwks(doc: dict) -> dict:
    usable, skipped, kids, materials = [], [], set(), set()
    for i, k in enumerate(doc["keys"]):
        why, material = None, None
        if any(m in k for m in PRIVATE_MEMBERS):
            why = "private"
        elif "use" in k and k["use"] != "sig":
            why = "use"
        elif "key_ops" in k and "verify" not in k["key_ops"]:
            why = "key_ops"
        elif k.get("kty") not in ("RSA", "EC"):
            why = "kty"
        elif k["kty"] == "EC" and k.get("crv") != "P-256":
            why = "crv"
        elif "alg" in k and k["alg"] not in ALGS[k["kty"]]:
            why = "alg"
        else:
            material = key_material(k)
            if material is None:
                why = "key"
            elif (k.get("kid") is not None and k["kid"] in kids) or material in materials:
                why = "duplicate"
        if why:
            skipped.append({"index": i, "kid": k.get("kid"), "why": why})
        else:
            usable.append(k.get("kid"))
            if k.get("kid") is not None:
                kids.add(k["kid"])
            materials.add(material)
    return {"usable": usable, "skipped": skipped}


def self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def cert_key_usable(cert: x509.Certificate) -> bool:
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        return 2048 <= pub.key_size <= 8192
    return isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1)


def classify_idp(entity: ET.Element) -> dict | None:
    idp = entity.find(f"{{{MD}}}IDPSSODescriptor")
    if idp is None:
        return None
    usable, skipped, seen = [], [], set()
    for kd in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if kd.get("use") not in (None, "signing"):
            continue
        for el in kd.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
            raw = base64.b64decode("".join(el.text.split()), validate=True)
            cert = x509.load_der_x509_certificate(raw)
            try:
                bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
                is_ca = bc.ca
            except x509.ExtensionNotFound:
                is_ca = False
            if is_ca and not self_signed(cert):
                skipped.append({"why": "ca"})
            elif not cert_key_usable(cert):
                skipped.append({"why": "key"})
            elif raw not in seen:
                seen.add(raw)
                usable.append(hashlib.sha256(raw).hexdigest())
    return {"entity_id": entity.get("entityID"), "usable_certificates": len(usable), "skipped": skipped,
            "_sha256": usable}


def classify_saml(file_name: str, text: str) -> dict:
    root = ET.fromstring(text.encode())
    out = {}
    if root.tag == f"{{{MD}}}EntityDescriptor":
        r = classify_idp(root)
        if r:
            out[file_name] = r
    elif root.tag == f"{{{MD}}}EntitiesDescriptor":
        for ent in root.iter(f"{{{MD}}}EntityDescriptor"):
            r = classify_idp(ent)
            if r:
                out[f"{file_name}#{ent.get('entityID')}"] = r
    return out


# --------------------------------------------------------------------------------------------


def main() -> int:
    outputs: dict[str, str] = {}
    expected = {"jwks": {}, "saml": {}, "saml_usable_sha256": {}}
    failures = []

    for fname, (fn, _) in JWKS.items():
        doc, fmt = fn()
        text = dump_json(doc, fmt)
        if len(text.encode()) > MAX_FETCHED_JWKS_BYTES:
            failures.append(f"{fname}: larger than MAX_FETCHED_JWKS_BYTES")
        outputs[fname] = text
        got = classify_jwks(json.loads(text))
        expected["jwks"][fname] = got
        # what each fixture was built to exercise
        if fname == "mixed-unusable.json":
            want_skipped = [(i, w) for i, w in enumerate(MIXED_INTENT) if w]
            want_usable = ["rsa-2048-sig"]
        elif fname == "keycloak.json":
            want_skipped = [(0, "use")]
            want_usable = [k["kid"] for k in doc["keys"][1:]]
        else:
            want_skipped, want_usable = [], [k["kid"] for k in doc["keys"]]
        if [(s["index"], s["why"]) for s in got["skipped"]] != want_skipped or got["usable"] != want_usable:
            failures.append(f"{fname}: classifier {got} != intent usable={want_usable} skipped={want_skipped}")
        # every x5c certificate holds the JWK's own key; x5t / x5t#S256 are its thumbprints
        for k in doc["keys"]:
            for c_b64 in k.get("x5c", [])[:1]:
                c = x509.load_der_x509_certificate(base64.b64decode(c_b64))
                same = (c.public_key().public_numbers() == key_material_obj(k))
                if not same:
                    failures.append(f"{fname}: x5c of {k.get('kid')} does not hold its key")
                if "x5t#S256" in k and k["x5t#S256"] != x5t256(c):
                    failures.append(f"{fname}: x5t#S256 of {k.get('kid')}")

    for fname, fn in SAML.items():
        xml, intent = fn()
        if len(xml.encode()) > MAX_METADATA_BYTES:
            failures.append(f"{fname}: larger than MAX_METADATA_BYTES")
        outputs[fname] = xml
        got = classify_saml(fname, xml)
        if set(got) != set(intent):
            failures.append(f"{fname}: entities {sorted(got)} != {sorted(intent)}")
        for key, want in intent.items():
            g = got.get(key)
            if g is None:
                continue
            want_sha = [hashlib.sha256(der(c)).hexdigest() for c in want["usable"]]
            if (g["entity_id"] != want["entity_id"] or g["_sha256"] != want_sha
                    or [s["why"] for s in g["skipped"]] != want["skipped"]):
                failures.append(f"{key}: classifier {g} != intent {want}")
            expected["saml"][key] = {k: v for k, v in g.items() if not k.startswith("_")}
            expected["saml_usable_sha256"][key] = g["_sha256"]

    if failures:
        print("NOT WRITTEN — self-check failed:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    outputs["expected.json"] = json.dumps(expected, indent=2) + "\n"
    for fname, text in outputs.items():
        (HERE / fname).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {len(outputs)} files to {HERE}")
    return 0


def key_material_obj(k: dict):
    """The JWK's public key as cryptography public numbers (for the x5c consistency check)."""
    if k["kty"] == "RSA":
        return rsa.RSAPublicNumbers(int.from_bytes(_b64u_decode(k["e"]), "big"),
                                    int.from_bytes(_b64u_decode(k["n"]), "big"))
    return ec.EllipticCurvePublicNumbers(int.from_bytes(_b64u_decode(k["x"]), "big"),
                                         int.from_bytes(_b64u_decode(k["y"]), "big"), ec.SECP256R1())


if __name__ == "__main__":
    sys.exit(main())

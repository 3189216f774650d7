#!/usr/bin/env python3
"""Regenerates fuzz/keys/saml-keys.json from tests/vectors/saml/keys/.

The SAML test configuration trusts X.509 certificates; `xmldsig::Policy`
needs `Jwk`s, and the public API builds a `Jwk` only from JWK JSON
(`jose::parse_public_jwk`), so the certificates' public keys are written
here as JWKs. The EC IdP's private scalar is included so that the
`saml_resigned` target can sign fuzzed assertions (TEST-ONLY keys).
"""
import base64, json, pathlib
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEYS = ROOT / "tests/vectors/saml/keys"


def b64u(n: int, size: int | None = None) -> str:
    size = size or (n.bit_length() + 7) // 8
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def jwk(pub) -> dict:
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        return {"kty": "RSA", "n": b64u(nums.n), "e": b64u(nums.e)}
    nums = pub.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64u(nums.x, 32), "y": b64u(nums.y, 32)}


out = {}
for name in ["saml-idp", "saml-ec-idp", "other-saml-idp", "legacy-idp", "attacker-rsa", "attacker-ec"]:
    cert = x509.load_pem_x509_certificate((KEYS / f"{name}.crt.pem").read_bytes())
    entry = {"public": jwk(cert.public_key())}
    key = serialization.load_pem_private_key((KEYS / f"{name}.key.pem").read_bytes(), None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        entry["d"] = b64u(key.private_numbers().private_value, 32)
    out[name] = entry
(pathlib.Path(__file__).parent / "saml-keys.json").write_text(json.dumps(out, indent=2) + "\n")

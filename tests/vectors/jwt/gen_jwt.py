#!/usr/bin/env python3
"""Independent JWT-bearer (RFC 7523) test-vector generator for assertion-grant.

Run from the repository root (Python 3.9+, `cryptography` >= 44, `pyjwt` >= 2.8):

    pip install pyjwt            # cryptography is usually already installed
    python3 tests/vectors/jwt/gen_jwt.py             # reuse keys/*.json
    python3 tests/vectors/jwt/gen_jwt.py --new-keys  # make fresh keys first

What it writes (all under tests/vectors/jwt/):
  keys/*.json               private JWKs, TEST ONLY (generated once, then reused)
  config.json               the test AS configuration (contract schema)
  config_invalid/*.json     invalid configurations + manifest.json [{file, path_prefix, description}]
  vectors.json              array of token-request cases with expected outcomes
  replay.json               replay scenarios (same assertion / client assertion used twice)

Everything is built with Python's `cryptography` (signing) and verified with PyJWT, so the
vectors do not depend on the Rust code under test.  The clock is fixed: NOW = 1800000000.
Output is deterministic for a given key set: RSASSA-PKCS1-v1_5 is deterministic, ECDSA uses
RFC 6979 deterministic nonces, and RSASSA-PSS uses a salt derived from the message (the PSS
encoding is done here and each signature is checked by cryptography's and PyJWT's verifiers).

After generating, every case is run through a small strict reference validator written from
the lead's shared contract (configuration schema + validation rules) whose signature checks
go through PyJWT; the script aborts if any expectation disagrees, if a case
was rejected for a different reason than intended, or if a positive case fails PyJWT's own
jwt.decode() with the configured key, audience, issuer and 60 s leeway.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import hashlib
import hmac
import json
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

try:
    import jwt as pyjwt  # PyJWT
    from jwt import api_jwt as _pyjwt_api_jwt
except ImportError:  # pragma: no cover
    sys.exit("PyJWT is required: pip install pyjwt")

NOW = 1800000000
HERE = Path(__file__).resolve().parent
KEYS_DIR = HERE / "keys"
MAX_VECTOR_BYTES = 25 * 1024
MAX_ASSERTION_BYTES = 16 * 1024  # size limit assumed for the "huge JWT" case

AS_ISSUER = "https://as.example.com"
TOKEN_ENDPOINT = "https://as.example.com/token"
AS_ALIAS = "https://as.example.com/oauth2/token"
IDP = "https://idp.example.com"
OTHER_IDP = "https://other-idp.example.com"
SVC_IDP = "https://service-idp.example.com"
NOJTI_IDP = "https://nojti-idp.example.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# ---------------------------------------------------------------------------
# encoding helpers
# ---------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_dec(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def int_to_b64u(i: int, length: int | None = None) -> str:
    if length is None:
        length = max(1, (i.bit_length() + 7) // 8)
    return b64u(i.to_bytes(length, "big"))


def b64u_to_int(s: str) -> int:
    return int.from_bytes(b64u_dec(s), "big")


def cjson(obj) -> bytes:
    """Compact JSON, key order as inserted."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------
# keys (private JWKs on disk; TEST ONLY)
# ---------------------------------------------------------------------------

# file stem -> (type, kid, alg or None)
KEY_SPECS = {
    "idp-rsa-1": ("RSA2048", "idp-rsa-1", None),
    "idp-ec-1": ("P256", "idp-ec-1", "ES256"),
    "other-ec-1": ("P256", "other-ec-1", "ES256"),
    "svc-ec-1": ("P256", "svc-ec-1", "ES256"),
    "nojti-ec-1": ("P256", "nojti-ec-1", "ES256"),
    "client-ec-1": ("P256", "client-ec-1", "ES256"),
    "legacy-client-ec-1": ("P256", "legacy-client-ec-1", "ES256"),
    "attacker-ec-1": ("P256", "attacker-ec-1", "ES256"),
    "attacker-rsa-1": ("RSA2048", "attacker-rsa-1", None),
    "weak-rsa-1024": ("RSA1024", "weak-rsa-1024", None),
}


def private_jwk(key, kid, alg):
    if isinstance(key, rsa.RSAPrivateKey):
        pn = key.private_numbers()
        pub = pn.public_numbers
        jwk = {"kty": "RSA", "kid": kid}
        if alg:
            jwk["alg"] = alg
        jwk.update(
            n=int_to_b64u(pub.n), e=int_to_b64u(pub.e), d=int_to_b64u(pn.d),
            p=int_to_b64u(pn.p), q=int_to_b64u(pn.q), dp=int_to_b64u(pn.dmp1),
            dq=int_to_b64u(pn.dmq1), qi=int_to_b64u(pn.iqmp),
        )
        return jwk
    pn = key.private_numbers()
    pub = pn.public_numbers
    jwk = {"kty": "EC", "crv": "P-256", "kid": kid}
    if alg:
        jwk["alg"] = alg
    jwk.update(x=int_to_b64u(pub.x, 32), y=int_to_b64u(pub.y, 32), d=int_to_b64u(pn.private_value, 32))
    return jwk


def public_jwk(jwk, with_alg=True):
    if jwk["kty"] == "RSA":
        out = {"kty": "RSA", "kid": jwk["kid"]}
        if with_alg and jwk.get("alg"):
            out["alg"] = jwk["alg"]
        out.update(n=jwk["n"], e=jwk["e"])
        return out
    out = {"kty": "EC", "crv": jwk["crv"], "kid": jwk["kid"]}
    if with_alg and jwk.get("alg"):
        out["alg"] = jwk["alg"]
    out.update(x=jwk["x"], y=jwk["y"])
    return out


def key_from_jwk(jwk):
    if jwk["kty"] == "RSA":
        pub = rsa.RSAPublicNumbers(b64u_to_int(jwk["e"]), b64u_to_int(jwk["n"]))
        if "d" not in jwk:
            return pub.public_key()
        priv = rsa.RSAPrivateNumbers(
            b64u_to_int(jwk["p"]), b64u_to_int(jwk["q"]), b64u_to_int(jwk["d"]),
            b64u_to_int(jwk["dp"]), b64u_to_int(jwk["dq"]), b64u_to_int(jwk["qi"]), pub,
        )
        return priv.private_key()
    pub = ec.EllipticCurvePublicNumbers(b64u_to_int(jwk["x"]), b64u_to_int(jwk["y"]), ec.SECP256R1())
    if "d" not in jwk:
        return pub.public_key()
    return ec.EllipticCurvePrivateNumbers(b64u_to_int(jwk["d"]), pub).private_key()


def load_keys(new_keys: bool):
    KEYS_DIR.mkdir(parents=True, exist_ok=True)
    keys = {}
    for stem, (kind, kid, alg) in KEY_SPECS.items():
        path = KEYS_DIR / f"{stem}.json"
        if path.exists() and not new_keys:
            jwk = json.loads(path.read_text())
        else:
            if kind == "P256":
                k = ec.generate_private_key(ec.SECP256R1())
            else:
                k = rsa.generate_private_key(public_exponent=65537, key_size=2048 if kind == "RSA2048" else 1024)
            jwk = private_jwk(k, kid, alg)
            path.write_text(json.dumps(jwk, indent=2) + "\n")
        keys[stem] = {"jwk": jwk, "key": key_from_jwk(jwk)}
    return keys


# ---------------------------------------------------------------------------
# signing (cryptography), independent of the Rust code and of PyJWT's encoder
# ---------------------------------------------------------------------------

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
HASHLIB = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def _mgf1(seed: bytes, length: int, hfn) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hfn(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def pss_sign_deterministic(key: rsa.RSAPrivateKey, data: bytes, bits: str) -> bytes:
    """RSASSA-PSS (RFC 8017 8.1.1) with MGF1(same hash), salt length = hash length,
    salt derived from the message so the output is reproducible."""
    hfn = HASHLIB[bits]
    hlen = hfn().digest_size
    pn = key.private_numbers()
    n, d = pn.public_numbers.n, pn.d
    mod_bits = n.bit_length()
    em_bits = mod_bits - 1
    em_len = (em_bits + 7) // 8
    m_hash = hfn(data).digest()
    salt = hfn(b"assertion-grant-test-pss-salt" + data).digest()[:hlen]
    h = hfn(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - hlen - hlen - 2) + b"\x01" + salt
    mask = _mgf1(h, em_len - hlen - 1, hfn)
    masked = bytearray(x ^ y for x, y in zip(db, mask))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    em = bytes(masked) + h + b"\xbc"
    k = (mod_bits + 7) // 8
    sig = pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")
    # must verify with the library's PSS verifier (salt length = hash length)
    key.public_key().verify(
        sig, data, padding.PSS(mgf=padding.MGF1(HASHES[bits]()), salt_length=hlen), HASHES[bits]()
    )
    return sig


def es256_rs(key: ec.EllipticCurvePrivateKey, data: bytes) -> tuple[int, int]:
    der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return decode_dss_signature(der)


def sign(alg: str, key, data: bytes) -> bytes:
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), HASHES[alg[2:]]())
    if alg.startswith("PS"):
        return pss_sign_deterministic(key, data, alg[2:])
    if alg == "ES256":
        r, s = es256_rs(key, data)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg.startswith("HS"):  # key = bytes secret
        return hmac.new(key, data, HASHLIB[alg[2:]]).digest()
    raise ValueError(alg)


def seg(part) -> str:
    """header/payload segment from a dict/list (compact JSON) or raw bytes/str."""
    if isinstance(part, (dict, list)):
        return b64u(cjson(part))
    if isinstance(part, str):
        part = part.encode("utf-8")
    return b64u(part)


def jws(header, payload, key, alg=None) -> str:
    """Compact JWS. alg defaults to header['alg']. key is a cryptography key or HMAC bytes."""
    if alg is None:
        alg = header["alg"]
    h, p = seg(header), seg(payload)
    signing_input = f"{h}.{p}".encode("ascii")
    return f"{h}.{p}.{b64u(sign(alg, key, signing_input))}"


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def build_config(keys):
    pub = lambda stem, **kw: public_jwk(keys[stem]["jwk"], **kw)  # noqa: E731
    return {
        "issuer": AS_ISSUER,
        "token_endpoint": TOKEN_ENDPOINT,
        "audiences": [AS_ALIAS],
        "clock_skew_secs": 60,
        "scope_policy": "reject",
        "access_token": {"audience": "https://api.example.com", "lifetime_secs": 3600},
        "trusted_issuers": [
            {
                "issuer": IDP,
                "format": "jwt",
                "jwks": {"keys": [pub("idp-rsa-1"), pub("idp-ec-1")]},
                "max_lifetime_secs": 3600,
                "scope": "read write admin",
                "claims": {"email": "email", "groups": "groups"},
            },
            {
                "issuer": OTHER_IDP,
                "format": "jwt",
                "jwks": {"keys": [pub("other-ec-1")]},
                "scope": "read",
            },
            {
                "issuer": SVC_IDP,
                "format": "jwt",
                "jwks": {"keys": [pub("svc-ec-1")]},
                "require_client": False,
                "scope": "read",
                "subjects": ["svc-batch"],
            },
            {
                "issuer": NOJTI_IDP,
                "format": "jwt",
                "jwks": {"keys": [pub("nojti-ec-1")]},
                "require_jti": False,
                "scope": "read",
            },
            {
                # A trusted JWT issuer that is also the private_key_jwt client jwt-client (issuer = client_id,
                # same key): a self-issued issuer (RFC 7523 2.1), so its grants must name the AS issuer alone.
                "issuer": "jwt-client",
                "format": "jwt",
                "jwks": {"keys": [pub("client-ec-1")]},
                "scope": "read",
            },
        ],
        "clients": [
            {
                "client_id": "basic-client",
                "token_endpoint_auth_method": "client_secret_basic",
                "client_secret_sha256": sha256_hex("basic-secret"),
                "scope": "read write",
            },
            {
                "client_id": "post-client",
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret_sha256": sha256_hex("post-secret"),
                "scope": "read",
            },
            {
                "client_id": "jwt-client",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [pub("client-ec-1")]},
                "scope": "read write",
            },
            {
                "client_id": "public-client",
                "token_endpoint_auth_method": "none",
                "scope": "read",
                # Public clients must be bound to their issuers (review finding).
                "trusted_issuers": [IDP],
            },
            {
                "client_id": "limited-client",
                "token_endpoint_auth_method": "client_secret_basic",
                "client_secret_sha256": sha256_hex("limited-secret"),
                "grant_types": [SAML2_BEARER],
                "scope": "read",
            },
            {
                # RFC 7523 sec. 2.2 / rfc7523bis: client assertion aud must be the issuer identifier alone;
                # this client opts back into the older audiences (issuer, token endpoint, alias).
                "client_id": "legacy-jwt-client",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [pub("legacy-client-ec-1")]},
                "scope": "read",
                "legacy_client_assertion_audience": True,
            },
        ],
    }


def off_curve_x(x_b64: str, y_b64: str) -> str:
    """Change x (keeping y) until (x, y) is not on P-256."""
    y = b64u_to_int(y_b64)
    x = b64u_to_int(x_b64)
    p = 2**256 - 2**224 + 2**192 + 2**96 - 1
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    for delta in range(1, 100):
        nx = (x + delta) % p
        if (y * y - (nx**3 - 3 * nx + b)) % p != 0:
            return int_to_b64u(nx, 32)
    raise RuntimeError("unreachable")


def build_invalid_configs(cfg, keys):
    import copy

    out = []

    def add(fname, path_prefix, description, mutate):
        c = copy.deepcopy(cfg)
        mutate(c)
        out.append((fname, path_prefix, description, c))

    def missing_issuer(c):
        del c["issuer"]

    def http_issuer(c):
        c["issuer"] = "http://as.example.com"

    def unknown_format(c):
        c["trusted_issuers"][0]["format"] = "jws"

    def off_curve(c):
        # the EC key is moved to keys[0] (RSA key second) so the path is trusted_issuers[0].jwks.keys[0].x
        rsa_k, ec_k = c["trusted_issuers"][0]["jwks"]["keys"]
        ec_k = dict(ec_k, x=off_curve_x(ec_k["x"], ec_k["y"]))
        c["trusted_issuers"][0]["jwks"]["keys"] = [ec_k, rsa_k]

    def weak_rsa(c):
        c["trusted_issuers"][0]["jwks"]["keys"][0] = public_jwk(keys["weak-rsa-1024"]["jwk"])

    def not_hex(c):
        c["clients"][0]["client_secret_sha256"] = "zz" + sha256_hex("basic-secret")[2:]

    def bad_method(c):
        c["clients"][0]["token_endpoint_auth_method"] = "client_secret_jwt"

    def pkjwt_no_jwks(c):
        del c["clients"][2]["jwks"]

    add("missing_issuer.json", "issuer", "top-level issuer missing", missing_issuer)
    add("http_issuer.json", "issuer", "issuer is http:// on a non-loopback host", http_issuer)
    add("unknown_format.json", "trusted_issuers[0].format", "format 'jws' is neither jwt nor saml2", unknown_format)
    add("ec_off_curve.json", "trusted_issuers[0].jwks.keys[0].x",
        "EC P-256 key at keys[0] whose x was changed so (x, y) is not on the curve", off_curve)
    add("config_weak_rsa.json", "trusted_issuers[0].jwks.keys[0]", "RSA-1024 key (minimum is 2048 bits)", weak_rsa)
    add("secret_hash_not_hex.json", "clients[0].client_secret_sha256",
        "client_secret_sha256 contains non-hex characters", not_hex)
    add("unknown_auth_method.json", "clients[0].token_endpoint_auth_method",
        "client_secret_jwt is not a supported token_endpoint_auth_method", bad_method)
    add("private_key_jwt_without_jwks.json", "clients[2]",
        "private_key_jwt client without jwks (message may name clients[2] or clients[2].jwks)", pkjwt_no_jwks)
    return out


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

DEL = object()  # marker: remove this claim/header member

BASIC = {"basic": ["basic-client", "basic-secret"]}


def claims(name, **over):
    c = {
        "iss": IDP,
        "sub": "alice@example.com",
        "aud": TOKEN_ENDPOINT,
        "iat": NOW - 10,
        "exp": NOW + 300,
        "jti": f"jti-{name}",
        "email": "alice@example.com",
        "groups": ["engineering", "staff"],
    }
    for k, v in over.items():
        if v is DEL:
            c.pop(k, None)
        else:
            c[k] = v
    return c


IDP_CLAIMS = {"email": "alice@example.com", "groups": ["engineering", "staff"]}


class Gen:
    def __init__(self, keys):
        self.keys = keys
        self.cases = []
        self.names = set()

    def k(self, stem):
        return self.keys[stem]["key"]

    def ok_ec(self, name, **over):
        """ES256 by idp-ec-1 with kid."""
        return jws({"alg": "ES256", "kid": "idp-ec-1"}, claims(name, **over), self.k("idp-ec-1"))

    def client_assertion(self, name, client_id="jwt-client", **over):
        # aud = the AS issuer identifier: the only audience a client assertion may name (rfc7523bis)
        c = {
            "iss": client_id,
            "sub": client_id,
            "aud": AS_ISSUER,
            "exp": NOW + 60,
            "iat": NOW - 5,
            "jti": f"client-jti-{name}",
        }
        for kk, v in over.items():
            if v is DEL:
                c.pop(kk, None)
            else:
                c[kk] = v
        return c

    def add(self, name, description, assertion, expect, client=None, scope=None, why=None, reason=None):
        """`reason` = our reason code (src/reason.rs) for a negative case whose flag alone does not say which
        rule the case tests; otherwise expect.reason follows from the flag (REASON_BY_FLAG)."""
        assert name not in self.names, name
        self.names.add(name)
        case = {"name": name, "description": description, "now": NOW, "assertion": assertion,
                "client": client if client is not None else BASIC}
        if scope is not None:
            case["scope"] = scope
        case["expect"] = with_reason(expect, why or "valid", reason, name)
        case["flags"] = [why or "valid"]
        self.cases.append(case)


def ok(sub="alice@example.com", scope="read write", claims_=None):
    e = {"status": 200, "sub": sub, "scope": scope}
    if claims_ is not None:
        e["claims"] = claims_
    return e


def err(error, status=None, description=None, reason=None):
    if status is None:
        status = 401 if error == "invalid_client" else 400
    e = {"status": status, "error": error}
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
# it was built to test. A case may also name a narrower code than its tag's default (e.g. `exp-missing`
# is tagged "exp" but tests a missing claim).
REASON_BY_FLAG = {
    "alg": None,                                  # alg none / HMAC or unknown / alg that fits no kid-pinned key
    "typ": None,                                  # at+jwt / client-authentication+jwt
    "crit": "jwt.crit",
    "kid": "jwt.signature_invalid",               # a kid naming no key of the issuer: no configured key verifies
    "sig": "jwt.signature_invalid",
    "b64": "jwt.malformed",
    "segments": "jwt.malformed",
    "json": "jwt.json",
    "dup": "jwt.json",                            # duplicate members: not a strict JSON object
    "missing": "request.missing_parameter",
    "size": "jwt.too_large",
    "iss": "assertion.untrusted_issuer",
    "sub": "jwt.claim_missing",
    "aud": "assertion.audience_mismatch",         # (an absent or empty aud: jwt.claim_missing)
    "exp": "assertion.expired",
    "nbf": "assertion.not_yet_valid",
    "iat": None,                                  # issued in the future / too long ago
    "lifetime": "assertion.expiry_too_far",
    "jti": "jwt.claim_missing",
    "subjects": "assertion.subject_not_allowed",
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
    # An empty signature segment is refused as malformed compact JWS before
    # alg is read, so the alg-none rule is reached only by
    # alg-none-garbage-signature.
    "alg-none-empty-signature": ("jwt.alg_none", "jwt.malformed"),
    "alg-None-capitalised": ("jwt.alg_none", "jwt.malformed"),
    "alg-NONE-uppercase": ("jwt.alg_none", "jwt.malformed"),
    "client-assertion-alg-none": ("jwt.alg_none", "jwt.malformed"),
    "signature-empty": ("jwt.signature_invalid", "jwt.malformed"),
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
    fits = {
        "invalid_request": ns == "request",
        "invalid_scope": ns == "scope",
        "unauthorized_client": r == "client.grant_type_not_allowed",
        "invalid_client": (ns == "client" and r not in ("client.issuer_not_allowed", "client.grant_type_not_allowed"))
                          or (client_assertion and ns in ("assertion", "jwt")),
        "invalid_grant": ns in ("assertion", "jwt") or r == "client.issuer_not_allowed",
    }.get(e, False)
    return [] if fits else [f"{where}: reason {r!r} does not fit error {e!r}"]


ISSUER_NOT_FOR_CLIENT = "this client may not present assertions from this issuer"
CLIENT_AUD_REJECTED = "client assertion rejected: aud must be exactly this authorization server's issuer identifier"
TYP_CLIENT_AUTH_AS_GRANT = "client assertions (typ client-authentication+jwt) are not accepted as grants"
TYP_AT_JWT = "access tokens (typ at+jwt) are not accepted as assertions"
SELF_ISSUED_AUD = "the assertion audience does not name this authorization server"
# Descriptions the reference validator produces that every vector hitting them must pin (self-checked).
# TYP_AT_JWT is produced for every at+jwt grant but pinned only where the vector asks for it.
MUST_PIN = (ISSUER_NOT_FOR_CLIENT, CLIENT_AUD_REJECTED, TYP_CLIENT_AUTH_AS_GRANT, SELF_ISSUED_AUD)


GRANT = err("invalid_grant")


def build_cases(keys):
    g = Gen(keys)
    K = g.k
    rsa_key, ec_key = K("idp-rsa-1"), K("idp-ec-1")

    # ---------------- positive ----------------
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        n = f"valid-{alg.lower()}"
        g.add(n, f"{alg} signed by idp-rsa-1 (kid given)" + (", PSS salt length = hash length" if alg[0] == "P" else ""),
              jws({"alg": alg, "kid": "idp-rsa-1"}, claims(n), rsa_key), ok(claims_=IDP_CLAIMS))
    n = "valid-es256"
    g.add(n, "ES256 signed by idp-ec-1 (kid given)", g.ok_ec(n), ok(claims_=IDP_CLAIMS))
    n = "valid-aud-array"
    g.add(n, "aud is an array containing the token endpoint among other values",
          g.ok_ec(n, aud=["https://other-as.example.net", TOKEN_ENDPOINT, "https://third.example.org"]),
          ok(claims_=IDP_CLAIMS))
    n = "valid-aud-issuer"
    g.add(n, "aud is the AS issuer identifier", g.ok_ec(n, aud=AS_ISSUER), ok(claims_=IDP_CLAIMS))
    n = "valid-aud-alias"
    g.add(n, "aud is the configured extra audience (alias)", g.ok_ec(n, aud=AS_ALIAS), ok(claims_=IDP_CLAIMS))
    n = "valid-no-kid-es256"
    g.add(n, "ES256 without kid; the key is found by trying the issuer's keys",
          jws({"alg": "ES256"}, claims(n), ec_key), ok(claims_=IDP_CLAIMS))
    n = "valid-no-kid-rs256"
    g.add(n, "RS256 without kid; the key is found by trying the issuer's keys",
          jws({"alg": "RS256"}, claims(n), rsa_key), ok(claims_=IDP_CLAIMS))
    n = "valid-typ-jwt"
    g.add(n, 'header typ "JWT"', jws({"alg": "ES256", "kid": "idp-ec-1", "typ": "JWT"}, claims(n), ec_key),
          ok(claims_=IDP_CLAIMS))
    n = "valid-exp-within-skew"
    g.add(n, "exp = NOW-30, accepted thanks to 60 s clock skew",
          g.ok_ec(n, iat=NOW - 100, exp=NOW - 30), ok(claims_=IDP_CLAIMS))
    n = "valid-exp-skew-edge-59"
    g.add(n, "exp = NOW-59: now < exp + skew, accepted",
          g.ok_ec(n, iat=NOW - 100, exp=NOW - 59), ok(claims_=IDP_CLAIMS))
    n = "valid-nbf-iat-within-skew"
    g.add(n, "nbf = iat = NOW+60 (exactly now + skew): not rejected (rule is > now + skew)",
          g.ok_ec(n, iat=NOW + 60, nbf=NOW + 60, exp=NOW + 600), ok(claims_=IDP_CLAIMS))
    n = "valid-scope-subset"
    g.add(n, "client requests scope 'read', a subset of its allowance", g.ok_ec(n), ok(scope="read", claims_=IDP_CLAIMS),
          scope="read")
    n = "valid-anonymous-service-idp"
    g.add(n, "no client authentication; service-idp has require_client false; sub svc-batch is allowed; "
             "no scope requested and no client => the issuer's scope ceiling ('read') is the default (issue #2)",
          jws({"alg": "ES256", "kid": "svc-ec-1"}, claims(n, iss=SVC_IDP, sub="svc-batch", email=DEL, groups=DEL),
              K("svc-ec-1")),
          ok(sub="svc-batch", scope="read"), client={"anonymous": True})
    n = "valid-anonymous-service-idp-scope"
    g.add(n, "as valid-anonymous-service-idp, requesting scope 'read' (within the issuer ceiling)",
          jws({"alg": "ES256", "kid": "svc-ec-1"}, claims(n, iss=SVC_IDP, sub="svc-batch", email=DEL, groups=DEL),
              K("svc-ec-1")),
          ok(sub="svc-batch", scope="read"), client={"anonymous": True}, scope="read")
    n = "valid-nojti-idp-without-jti"
    g.add(n, "nojti-idp has require_jti false; assertion has no jti (scope 'read' requested = issuer ceiling)",
          jws({"alg": "ES256", "kid": "nojti-ec-1"}, claims(n, iss=NOJTI_IDP, jti=DEL), K("nojti-ec-1")),
          ok(scope="read"), scope="read")
    n = "valid-private-key-jwt-client"
    g.add(n, "client authenticates with private_key_jwt (ES256, kid client-ec-1)", g.ok_ec(n),
          ok(claims_=IDP_CLAIMS),
          client={"private_key_jwt": jws({"alg": "ES256", "kid": "client-ec-1"}, g.client_assertion(n), K("client-ec-1"))})
    n = "valid-private-key-jwt-client-aud-issuer"
    g.add(n, "private_key_jwt client assertion with aud = the AS issuer identifier as a JSON string (stated "
             "explicitly: the only audience a client assertion may name, RFC 7523 2.2 / rfc7523bis)",
          g.ok_ec(n), ok(claims_=IDP_CLAIMS),
          client={"private_key_jwt": jws({"alg": "ES256", "kid": "client-ec-1"},
                                         g.client_assertion(n, aud=AS_ISSUER), K("client-ec-1"))})
    n = "valid-client-assertion-aud-array-issuer"
    g.add(n, "private_key_jwt client assertion with aud = [AS issuer] (an array of exactly one element, the issuer)",
          g.ok_ec(n), ok(claims_=IDP_CLAIMS),
          client={"private_key_jwt": jws({"alg": "ES256", "kid": "client-ec-1"},
                                         g.client_assertion(n, aud=[AS_ISSUER]), K("client-ec-1"))})
    n = "valid-client-assertion-typ-client-authentication"
    g.add(n, 'private_key_jwt client assertion with header typ "client-authentication+jwt" (rfc7523bis explicit '
             "typing of client assertions)", g.ok_ec(n), ok(claims_=IDP_CLAIMS),
          client={"private_key_jwt": jws({"alg": "ES256", "kid": "client-ec-1", "typ": "client-authentication+jwt"},
                                         g.client_assertion(n), K("client-ec-1"))})
    for aud_name, aud in (("token-endpoint", TOKEN_ENDPOINT), ("alias", AS_ALIAS), ("issuer", AS_ISSUER)):
        n = f"valid-legacy-client-aud-{aud_name}"
        g.add(n, f"legacy-jwt-client (legacy_client_assertion_audience: true) authenticates with private_key_jwt "
                 f"(kid legacy-client-ec-1) whose aud is the {aud_name.replace('-', ' ')} {aud}; default scope = "
                 "client scope 'read'",
              g.ok_ec(n), ok(scope="read", claims_=IDP_CLAIMS),
              client={"private_key_jwt": jws({"alg": "ES256", "kid": "legacy-client-ec-1"},
                                             g.client_assertion(n, client_id="legacy-jwt-client", aud=aud),
                                             K("legacy-client-ec-1"))})
    n = "valid-post-client"
    g.add(n, "client_secret_post client; default scope = client scope 'read'", g.ok_ec(n),
          ok(scope="read", claims_=IDP_CLAIMS), client={"post": ["post-client", "post-secret"]})
    n = "valid-public-client"
    g.add(n, "public client (token_endpoint_auth_method none) identified by client_id; default scope 'read'",
          g.ok_ec(n), ok(scope="read", claims_=IDP_CLAIMS), client={"none": "public-client"})

    # ---------------- negative: algorithm / header / key selection ----------------
    def raw(header, payload, sig: bytes | str):
        s = sig if isinstance(sig, str) else b64u(sig)
        return f"{seg(header)}.{seg(payload)}.{s}"

    n = "alg-none-empty-signature"
    g.add(n, 'alg "none" with an empty signature', raw({"alg": "none"}, claims(n), b""), GRANT, why="alg",
          reason="jwt.alg_none")
    n = "alg-none-garbage-signature"
    g.add(n, 'alg "none" with a garbage signature', raw({"alg": "none"}, claims(n), b"garbage-signature"), GRANT, why="alg",
          reason="jwt.alg_none")
    n = "alg-None-capitalised"
    g.add(n, 'alg "None"', raw({"alg": "None"}, claims(n), b""), GRANT, why="alg", reason="jwt.alg_none")
    n = "alg-NONE-uppercase"
    g.add(n, 'alg "NONE"', raw({"alg": "NONE"}, claims(n), b""), GRANT, why="alg", reason="jwt.alg_none")
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    n = "key-confusion-hs256-rsa-public-pem"
    g.add(n, "HS256 keyed with the RSA public key PEM (SPKI) as HMAC secret, kid idp-rsa-1",
          jws({"alg": "HS256", "kid": "idp-rsa-1"}, claims(n), pem), GRANT, why="alg", reason="jwt.alg_unsupported")
    n = "key-confusion-hs256-rsa-public-pem-no-kid"
    g.add(n, "HS256 keyed with the RSA public key PEM (SPKI) as HMAC secret, no kid",
          jws({"alg": "HS256"}, claims(n), pem), GRANT, why="alg", reason="jwt.alg_unsupported")
    n = "key-confusion-hs256-ec-x"
    g.add(n, "HS256 keyed with the idp EC key's x coordinate (raw 32 bytes), kid idp-ec-1",
          jws({"alg": "HS256", "kid": "idp-ec-1"}, claims(n), b64u_dec(keys["idp-ec-1"]["jwk"]["x"])), GRANT, why="alg",
          reason="jwt.alg_unsupported")
    att_ec_pub = public_jwk(keys["attacker-ec-1"]["jwk"])
    n = "header-jwk-attacker-key"
    g.add(n, "header jwk embeds the attacker's EC key; signed by the attacker (jwk must be ignored)",
          jws({"alg": "ES256", "jwk": att_ec_pub}, claims(n), K("attacker-ec-1")), GRANT, why="sig")
    n = "header-jwk-attacker-key-with-kid"
    g.add(n, "header jwk embeds the attacker's EC key with kid idp-ec-1; signed by the attacker",
          jws({"alg": "ES256", "kid": "idp-ec-1", "jwk": dict(att_ec_pub, kid="idp-ec-1")}, claims(n), K("attacker-ec-1")),
          GRANT, why="sig")
    n = "header-jku-attacker"
    g.add(n, "header jku points to an attacker JWKS; kid attacker-ec-1; signed by the attacker",
          jws({"alg": "ES256", "kid": "attacker-ec-1", "jku": "https://attacker.example/jwks.json"}, claims(n),
              K("attacker-ec-1")), GRANT, why="kid")
    n = "header-jku-attacker-no-kid"
    g.add(n, "header jku points to an attacker JWKS; no kid; signed by the attacker",
          jws({"alg": "ES256", "jku": "https://attacker.example/jwks.json"}, claims(n), K("attacker-ec-1")),
          GRANT, why="sig")
    n = "header-x5u-attacker"
    g.add(n, "header x5u points to an attacker certificate; RS256 signed by the attacker RSA key, no kid",
          jws({"alg": "RS256", "x5u": "https://attacker.example/cert.pem"}, claims(n), K("attacker-rsa-1")),
          GRANT, why="sig")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")]))
        .public_key(K("attacker-rsa-1").public_key())
        .serial_number(0x1234567)
        .not_valid_before(_dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc))
        .not_valid_after(_dt.datetime(2030, 1, 1, tzinfo=_dt.timezone.utc))
        .sign(K("attacker-rsa-1"), hashes.SHA256())  # PKCS#1 v1.5: deterministic
    )
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
    n = "header-x5c-attacker-self-signed"
    g.add(n, "header x5c carries a self-signed attacker certificate (CN idp.example.com); RS256 signed by its key",
          jws({"alg": "RS256", "x5c": [x5c]}, claims(n), K("attacker-rsa-1")), GRANT, why="sig")
    n = "forged-attacker-ec-kid-idp-ec-1"
    g.add(n, "ES256 signed by the attacker's key but claiming kid idp-ec-1",
          jws({"alg": "ES256", "kid": "idp-ec-1"}, claims(n), K("attacker-ec-1")), GRANT, why="sig")
    n = "forged-attacker-rsa-kid-idp-rsa-1"
    g.add(n, "RS256 signed by the attacker's RSA key but claiming kid idp-rsa-1",
          jws({"alg": "RS256", "kid": "idp-rsa-1"}, claims(n), K("attacker-rsa-1")), GRANT, why="sig")
    n = "alg-key-mismatch-kid-rsa-alg-es256"
    g.add(n, "kid names the RSA key but alg ES256, signed by the idp EC key (kid must pin the key)",
          jws({"alg": "ES256", "kid": "idp-rsa-1"}, claims(n), ec_key), GRANT, why="alg",
          reason="jwt.signature_invalid")
    n = "alg-key-mismatch-kid-ec-alg-rs256"
    g.add(n, "kid names the EC key but alg RS256, signed by the idp RSA key",
          jws({"alg": "RS256", "kid": "idp-ec-1"}, claims(n), rsa_key), GRANT, why="alg",
          reason="jwt.signature_invalid")
    n = "alg-es384-on-p256-key"
    # ES384 is no algorithm of the contract (RS*/PS*/ES256): the reference refuses it as unknown before any key
    g.add(n, "alg ES384 with kid idp-ec-1 (P-256 key only fits ES256); signature is a valid ES256 one",
          jws({"alg": "ES384", "kid": "idp-ec-1"}, claims(n), ec_key, alg="ES256"), GRANT, why="alg",
          reason="jwt.alg_unsupported")
    n = "kid-of-other-issuer"
    g.add(n, "iss idp.example.com, kid other-ec-1 (a key of other-idp), signed by that key",
          jws({"alg": "ES256", "kid": "other-ec-1"}, claims(n), K("other-ec-1")), GRANT, why="kid")
    n = "signed-by-other-issuer-key-no-kid"
    g.add(n, "iss idp.example.com, no kid, signed by other-idp's key (keys are per issuer)",
          jws({"alg": "ES256"}, claims(n), K("other-ec-1")), GRANT, why="sig")
    n = "unknown-kid"
    g.add(n, "kid 'idp-ec-unknown' is not configured, although the signature is by idp-ec-1",
          jws({"alg": "ES256", "kid": "idp-ec-unknown"}, claims(n), ec_key), GRANT, why="kid")
    n = "crit-exp"
    g.add(n, 'header crit ["exp"], otherwise valid', jws({"alg": "ES256", "kid": "idp-ec-1", "crit": ["exp"], "exp": NOW + 300},
                                                         claims(n), ec_key), GRANT, why="crit")
    n = "crit-empty"
    g.add(n, "header crit [], otherwise valid", jws({"alg": "ES256", "kid": "idp-ec-1", "crit": []}, claims(n), ec_key),
          GRANT, why="crit")
    n = "crit-b64-false"
    g.add(n, 'header crit ["b64"], b64 false; payload and signature are nevertheless the normal base64url form, '
             "so an implementation ignoring crit would accept it",
          jws({"alg": "ES256", "kid": "idp-ec-1", "b64": False, "crit": ["b64"]}, claims(n), ec_key), GRANT, why="crit")
    n = "typ-at-jwt"
    g.add(n, 'header typ "at+jwt" (an access token, not an assertion)',
          jws({"alg": "ES256", "kid": "idp-ec-1", "typ": "at+jwt"}, claims(n), ec_key), GRANT, why="typ",
          reason="jwt.typ_access_token")
    n = "typ-application-at-jwt"
    g.add(n, 'header typ "application/at+jwt"',
          jws({"alg": "ES256", "kid": "idp-ec-1", "typ": "application/at+jwt"}, claims(n), ec_key), GRANT, why="typ",
          reason="jwt.typ_access_token")
    n = "grant-typ-client-authentication"
    g.add(n, 'grant assertion (otherwise valid, signed by idp-ec-1) with header typ "client-authentication+jwt": '
             "a client assertion is never accepted as a grant (cross-JWT confusion)",
          jws({"alg": "ES256", "kid": "idp-ec-1", "typ": "client-authentication+jwt"}, claims(n), ec_key),
          err("invalid_grant", description=TYP_CLIENT_AUTH_AS_GRANT), why="typ", reason="jwt.typ_client_assertion")
    # typ is compared after normalisation (RFC 7515 4.1.9, media types): trim, lowercase, drop one leading
    # "application/", cut at the first ";" (media-type parameters), trim again
    for n, typ, desc in (
        ("grant-typ-client-authentication-with-parameter", "client-authentication+jwt; v=1", TYP_CLIENT_AUTH_AS_GRANT),
        ("grant-typ-client-authentication-application-upper", "Application/Client-Authentication+JWT",
         TYP_CLIENT_AUTH_AS_GRANT),
        ("grant-typ-at-jwt-with-parameter", "at+jwt;q=1", TYP_AT_JWT),
    ):
        g.add(n, f'grant assertion (otherwise valid, signed by idp-ec-1) with header typ "{typ}": normalised '
                 f'(trim, lowercase, one leading "application/" removed, parameters after ";" cut) to '
                 f'"{desc.split("typ ")[1].split(")")[0]}", refused as a grant',
              jws({"alg": "ES256", "kid": "idp-ec-1", "typ": typ}, claims(n), ec_key),
              err("invalid_grant", description=desc), why="typ",
              reason="jwt.typ_access_token" if desc == TYP_AT_JWT else "jwt.typ_client_assertion")

    # duplicate members (hand-built JSON, validly signed)
    c = claims("duplicate-sub-in-payload")
    body = cjson(c)[:-1] + b',"sub":"admin@example.com"}'
    n = "duplicate-sub-in-payload"
    g.add(n, 'payload has "sub" twice (alice, then admin); validly signed', jws({"alg": "ES256", "kid": "idp-ec-1"}, body, ec_key, "ES256"),
          GRANT, why="dup")
    n = "duplicate-alg-in-header"
    g.add(n, 'header {"alg":"RS256","kid":"idp-ec-1","alg":"ES256"}; ES256 signature by idp-ec-1 (last-wins parsers would accept)',
          jws(b'{"alg":"RS256","kid":"idp-ec-1","alg":"ES256"}', claims(n), ec_key, "ES256"), GRANT, why="dup")
    n = "duplicate-iss-in-payload"
    c = claims(n, iss=OTHER_IDP)
    body = cjson(c)[:-1] + b',"iss":"' + IDP.encode() + b'"}'
    g.add(n, 'payload has "iss" twice (other-idp, then idp); signed by idp-ec-1',
          jws({"alg": "ES256", "kid": "idp-ec-1"}, body, ec_key, "ES256"), GRANT, why="dup")

    # ---------------- negative: signature encoding ----------------
    def signed_parts(name, hdr=None, alg="ES256", key=ec_key, **over):
        hdr = hdr or {"alg": alg, "kid": "idp-ec-1" if alg == "ES256" else "idp-rsa-1"}
        h, p = seg(hdr), seg(claims(name, **over))
        return h, p, sign(alg, key, f"{h}.{p}".encode())

    n = "es256-der-signature"
    h, p, s = signed_parts(n)
    der = encode_dss_signature(int.from_bytes(s[:32], "big"), int.from_bytes(s[32:], "big"))
    g.add(n, "ES256 signature in ASN.1 DER form (same key, same r, s) instead of 64-byte r||s",
          f"{h}.{p}.{b64u(der)}", GRANT, why="sig")
    for nm, r, s_ in (("es256-r0-s0", 0, 0), ("es256-rn-sn", P256_N, P256_N), ("es256-r0-sn", 0, P256_N),
                      ("es256-r1-s0", 1, 0)):
        h, p, _ = signed_parts(nm)
        g.add(nm, f"ES256 raw signature r={'n' if r == P256_N else r}, s={'n' if s_ == P256_N else s_}",
              f"{h}.{p}.{b64u(r.to_bytes(32, 'big') + s_.to_bytes(32, 'big'))}", GRANT, why="sig")
    n = "signature-truncated"
    h, p, s = signed_parts(n, alg="RS256", key=rsa_key)
    g.add(n, "RS256 signature with its last byte removed (255 bytes)", f"{h}.{p}.{b64u(s[:-1])}", GRANT, why="sig")
    n = "es256-signature-truncated"
    h, p, s = signed_parts(n)
    g.add(n, "ES256 signature with its last byte removed (63 bytes)", f"{h}.{p}.{b64u(s[:-1])}", GRANT, why="sig")
    n = "signature-bit-flipped"
    h, p, s = signed_parts(n)
    s2 = bytearray(s)
    s2[40] ^= 0x01
    g.add(n, "ES256 signature with one bit flipped (in s)", f"{h}.{p}.{b64u(bytes(s2))}", GRANT, why="sig")
    n = "payload-modified-after-signing"
    h, p, s = signed_parts(n)
    p2 = seg(claims(n, sub="admin@example.com"))
    g.add(n, "signed for alice, then sub changed to admin@example.com", f"{h}.{p2}.{b64u(s)}", GRANT, why="sig")
    n = "signature-empty"
    h, p, s = signed_parts(n)
    g.add(n, "ES256 header, empty signature segment", f"{h}.{p}.", GRANT, why="sig")

    # ---------------- negative: compact serialization ----------------
    n = "padded-base64url-signature"
    h, p, s = signed_parts(n)
    sig = b64u(s)
    assert len(sig) % 4 != 0
    g.add(n, '"=" padding appended to the signature segment (signature itself valid)',
          f"{h}.{p}.{sig}{'=' * (-len(sig) % 4)}", GRANT, why="b64")
    # padding on header/payload with the signature computed over the padded text
    for i in range(50):
        n = "padded-base64url-header-payload"
        c = claims(n, jti=f"jti-{n}" + "x" * i)
        hp = base64.urlsafe_b64encode(cjson({"alg": "ES256", "kid": "idp-ec-1"})).decode()
        pp = base64.urlsafe_b64encode(cjson(c)).decode()
        if hp.endswith("=") and pp.endswith("="):
            break
    g.add(n, 'header and payload segments carry "=" padding; the signature covers the padded text',
          f"{hp}.{pp}.{b64u(sign('ES256', ec_key, f'{hp}.{pp}'.encode()))}", GRANT, why="b64")
    for i in range(200):
        n = "standard-base64-alphabet-signature"
        h, p, s = signed_parts(n, jti=f"jti-{n}" + "x" * i)
        sig = b64u(s)
        if "-" in sig or "_" in sig:
            break
    g.add(n, 'signature segment written with the standard base64 alphabet ("+", "/") instead of base64url',
          f"{h}.{p}.{sig.replace('-', '+').replace('_', '/')}", GRANT, why="b64")
    for i in range(200):
        n = "standard-base64-alphabet-payload"
        c = claims(n, jti=f"jti-{n}" + "x" * i, note="??>>??>>")
        pu = b64u(cjson(c))
        if "-" in pu or "_" in pu:
            break
    ps = pu.replace("-", "+").replace("_", "/")
    hh = seg({"alg": "ES256", "kid": "idp-ec-1"})
    g.add(n, 'payload segment in the standard base64 alphabet; the signature covers that exact text',
          f"{hh}.{ps}.{b64u(sign('ES256', ec_key, f'{hh}.{ps}'.encode()))}", GRANT, why="b64")
    n = "whitespace-inside-signature"
    h, p, s = signed_parts(n)
    sig = b64u(s)
    g.add(n, "a space inside the signature segment", f"{h}.{p}.{sig[:40]} {sig[40:]}", GRANT, why="b64")
    n = "whitespace-newline-between-segments"
    h, p, s = signed_parts(n)
    g.add(n, "a line break after the first dot", f"{h}.\n{p}.{b64u(s)}", GRANT, why="b64")
    n = "four-segments"
    h, p, s = signed_parts(n)
    g.add(n, "valid JWS with an extra fourth segment", f"{h}.{p}.{b64u(s)}.{b64u(s)}", GRANT, why="segments")
    n = "two-segments"
    h, p, s = signed_parts(n)
    g.add(n, "header.payload only", f"{h}.{p}", GRANT, why="segments")
    n = "jwe-five-segments"
    d = lambda t: b64u(hashlib.sha256(t.encode()).digest())  # noqa: E731
    g.add(n, "JWE-looking compact serialization (RSA-OAEP / A256GCM), 5 segments",
          f"{seg({'alg': 'RSA-OAEP', 'enc': 'A256GCM', 'kid': 'idp-rsa-1'})}.{d('ek') * 8}.{d('iv')[:16]}.{d('ct') * 3}.{d('tag')[:22]}",
          GRANT, why="segments", reason="jwt.encrypted")
    n = "empty-assertion"
    g.add(n, "assertion parameter present but empty (RFC 6749 3.1: treated as omitted => invalid_request)",
          "", err("invalid_request"), why="missing")
    n = "non-json-payload"
    g.add(n, "payload is not JSON (validly signed)", jws({"alg": "ES256", "kid": "idp-ec-1"}, b"iss=" + IDP.encode() + b"&sub=alice",
                                                         ec_key, "ES256"), GRANT, why="json")
    n = "payload-json-array"
    g.add(n, "payload is a JSON array (validly signed)",
          jws({"alg": "ES256", "kid": "idp-ec-1"}, [claims(n)], ec_key, "ES256"), GRANT, why="json")
    n = "header-not-object"
    g.add(n, 'header is a JSON array ["ES256"] (validly signed with idp-ec-1)',
          jws(["ES256"], claims(n), ec_key, "ES256"), GRANT, why="json")
    n = "header-not-json"
    g.add(n, "header segment is not JSON", jws(b"alg=ES256", claims(n), ec_key, "ES256"), GRANT, why="json")
    n = "not-a-jwt"
    g.add(n, "assertion is an arbitrary string", "not-a-jwt", GRANT, why="segments")

    # ---------------- negative: claims ----------------
    n = "expired"
    g.add(n, "exp = NOW-61 (skew 60): now >= exp + skew", g.ok_ec(n, iat=NOW - 200, exp=NOW - 61), GRANT, why="exp")
    n = "expired-edge-exact"
    g.add(n, "exp = NOW-60: now == exp + skew, rejected (rule is now >= exp + skew)",
          g.ok_ec(n, iat=NOW - 200, exp=NOW - 60), GRANT, why="exp")
    n = "exp-missing"
    g.add(n, "no exp claim", g.ok_ec(n, exp=DEL), GRANT, why="exp", reason="jwt.claim_missing")
    n = "exp-string"
    g.add(n, 'exp is the string "1800000300"', g.ok_ec(n, exp=str(NOW + 300)), GRANT, why="exp", reason="jwt.claim_type")
    n = "exp-null"
    g.add(n, "exp is null", g.ok_ec(n, exp=None), GRANT, why="exp", reason="jwt.claim_type")
    n = "nbf-future"
    g.add(n, "nbf = NOW+120 (beyond skew)", g.ok_ec(n, nbf=NOW + 120, exp=NOW + 600), GRANT, why="nbf")
    n = "iat-future"
    g.add(n, "iat = NOW+120 (beyond skew)", g.ok_ec(n, iat=NOW + 120, exp=NOW + 600), GRANT, why="iat",
          reason="assertion.issued_in_future")
    n = "iat-too-old"
    g.add(n, "iat = NOW-4000, exp = NOW+60: iat < now - max_lifetime(3600) - skew(60)",
          g.ok_ec(n, iat=NOW - 4000, exp=NOW + 60), GRANT, why="iat", reason="assertion.issued_too_long_ago")
    n = "exp-too-far"
    g.add(n, "exp = NOW+7200 > now + max_lifetime(3600) + skew(60)", g.ok_ec(n, exp=NOW + 7200), GRANT, why="lifetime")
    n = "iss-missing"
    g.add(n, "no iss claim (signed by idp-ec-1)", g.ok_ec(n, iss=DEL), GRANT, why="iss", reason="jwt.claim_missing")
    n = "iss-untrusted"
    g.add(n, "iss https://evil.example.com (not configured), signed by idp-ec-1", g.ok_ec(n, iss="https://evil.example.com"),
          GRANT, why="iss")
    n = "iss-trailing-slash"
    g.add(n, "iss https://idp.example.com/ (trailing slash; exact match required)", g.ok_ec(n, iss=IDP + "/"), GRANT, why="iss")
    n = "iss-case-changed"
    g.add(n, "iss https://IDP.example.com (case changed; exact match required)", g.ok_ec(n, iss="https://IDP.example.com"),
          GRANT, why="iss")
    n = "sub-missing"
    g.add(n, "no sub claim", g.ok_ec(n, sub=DEL), GRANT, why="sub")
    n = "sub-empty"
    g.add(n, 'sub is ""', g.ok_ec(n, sub=""), GRANT, why="sub")
    n = "sub-number"
    g.add(n, "sub is the number 42", g.ok_ec(n, sub=42), GRANT, why="sub", reason="jwt.claim_type")
    n = "aud-missing"
    g.add(n, "no aud claim", g.ok_ec(n, aud=DEL), GRANT, why="aud", reason="jwt.claim_missing")
    n = "aud-wrong"
    g.add(n, "aud https://other-as.example.net/token", g.ok_ec(n, aud="https://other-as.example.net/token"), GRANT, why="aud")
    n = "aud-prefix-of-ours"
    g.add(n, "aud https://as.example.com/tok (a prefix of the token endpoint)", g.ok_ec(n, aud="https://as.example.com/tok"),
          GRANT, why="aud")
    n = "aud-trailing-slash"
    g.add(n, "aud https://as.example.com/token/ (trailing slash)", g.ok_ec(n, aud=TOKEN_ENDPOINT + "/"), GRANT, why="aud")
    n = "aud-case-changed-path"
    g.add(n, "aud https://as.example.com/Token (path case changed)", g.ok_ec(n, aud="https://as.example.com/Token"),
          GRANT, why="aud")
    n = "aud-case-changed-host"
    g.add(n, "aud https://AS.example.com/token (host case changed; RFC 7523 3 uses simple string comparison)",
          g.ok_ec(n, aud="https://AS.example.com/token"), GRANT, why="aud")
    n = "aud-array-without-us"
    g.add(n, "aud array of foreign audiences", g.ok_ec(n, aud=["https://a.example.net", "https://b.example.net"]), GRANT, why="aud")
    n = "aud-empty-array"
    g.add(n, "aud []", g.ok_ec(n, aud=[]), GRANT, why="aud", reason="jwt.claim_missing")  # present but empty
    n = "aud-superstring-of-ours"
    g.add(n, "aud https://as.example.com/token/extra", g.ok_ec(n, aud=TOKEN_ENDPOINT + "/extra"), GRANT, why="aud")
    n = "jti-missing"
    g.add(n, "no jti (idp.example.com requires jti by default)", g.ok_ec(n, jti=DEL), GRANT, why="jti")
    n = "jti-empty"
    g.add(n, 'jti is ""', g.ok_ec(n, jti=""), GRANT, why="jti")
    n = "subject-not-allowed-service-idp"
    g.add(n, "service-idp assertion for sub svc-other (not in subjects); anonymous client",
          jws({"alg": "ES256", "kid": "svc-ec-1"}, claims(n, iss=SVC_IDP, sub="svc-other", email=DEL, groups=DEL), K("svc-ec-1")),
          GRANT, client={"anonymous": True}, why="subjects")
    n = "huge-assertion"
    g.add(n, f"validly signed ES256 assertion of more than {MAX_ASSERTION_BYTES} bytes (a ~13 KB claim)",
          g.ok_ec(n, blob="x" * 13000), GRANT, why="size")

    # ---------------- negative: client / grant / scope ----------------
    n = "anonymous-client-idp-requires-client"
    g.add(n, "no client identification with an idp.example.com assertion (require_client defaults to true)",
          g.ok_ec(n), err("invalid_client"), client={"anonymous": True}, why="client_required")
    n = "scope-not-allowed-for-client"
    g.add(n, "basic-client requests 'admin' (issuer ceiling allows it, client does not; scope_policy reject)",
          g.ok_ec(n), err("invalid_scope"), scope="admin", why="scope")
    n = "scope-beyond-issuer-ceiling"
    g.add(n, "nojti-idp (ceiling 'read') assertion, basic-client requests 'write'",
          jws({"alg": "ES256", "kid": "nojti-ec-1"}, claims(n, iss=NOJTI_IDP), K("nojti-ec-1")),
          err("invalid_scope"), scope="write", why="scope")
    n = "basic-wrong-secret"
    g.add(n, "basic-client with a wrong secret", g.ok_ec(n), err("invalid_client"),
          client={"basic": ["basic-client", "wrong-secret"]}, why="client_auth",
          reason="client.secret_mismatch")
    n = "basic-unknown-client"
    g.add(n, "unknown client_id via Basic", g.ok_ec(n), err("invalid_client"),
          client={"basic": ["unknown-client", "whatever"]}, why="client_auth",
          reason="client.unknown")
    n = "post-wrong-secret"
    g.add(n, "post-client with a wrong secret", g.ok_ec(n), err("invalid_client"),
          client={"post": ["post-client", "basic-secret"]}, why="client_auth",
          reason="client.secret_mismatch")
    n = "confidential-client-without-secret"
    g.add(n, "basic-client identified by client_id only (as if public)", g.ok_ec(n), err("invalid_client"),
          client={"none": "basic-client"}, why="client_auth",
          reason="client.not_authenticated")
    n = "basic-client-via-post-method"
    g.add(n, "basic-client (registered client_secret_basic) sends its correct secret with client_secret_post",
          g.ok_ec(n), err("invalid_client"), client={"post": ["basic-client", "basic-secret"]}, why="client_auth",
          reason="client.unknown")
    n = "limited-client-unauthorized-grant"
    g.add(n, "limited-client may only use saml2-bearer", g.ok_ec(n), err("unauthorized_client"),
          client={"basic": ["limited-client", "limited-secret"]}, why="grant_type")

    def pk(name, signer="client-ec-1", kid="client-ec-1", client_id="jwt-client", **over):
        return {"private_key_jwt": jws({"alg": "ES256", "kid": kid}, g.client_assertion(name, client_id, **over),
                                       K(signer))}

    CL = err("invalid_client")
    CL_AUD = err("invalid_client", description=CLIENT_AUD_REJECTED)  # refused for its aud: the reason is pinned
    n = "client-assertion-expired"
    g.add(n, "private_key_jwt: client assertion exp = NOW-61", g.ok_ec(n), CL,
          client=pk(n, iat=NOW - 200, exp=NOW - 61), why="client_auth",
          reason="assertion.expired")
    n = "client-assertion-wrong-aud"
    g.add(n, "private_key_jwt: client assertion aud https://other-as.example.net/token", g.ok_ec(n), CL_AUD,
          client=pk(n, aud="https://other-as.example.net/token"), why="client_auth",
          reason="client.assertion_audience")
    n = "client-assertion-iss-not-sub"
    g.add(n, "private_key_jwt: client assertion iss jwt-client, sub basic-client", g.ok_ec(n), CL,
          client=pk(n, sub="basic-client"), why="client_auth",
          reason="client.assertion_subject")
    n = "client-assertion-attacker-key"
    g.add(n, "private_key_jwt: client assertion signed by the attacker key with kid client-ec-1", g.ok_ec(n), CL,
          client=pk(n, signer="attacker-ec-1"), why="client_auth",
          reason="jwt.signature_invalid")
    n = "client-assertion-missing-jti"
    g.add(n, "private_key_jwt: client assertion without jti", g.ok_ec(n), CL, client=pk(n, jti=DEL), why="client_auth",
          reason="jwt.claim_missing")
    n = "client-assertion-missing-exp"
    g.add(n, "private_key_jwt: client assertion without exp", g.ok_ec(n), CL, client=pk(n, exp=DEL), why="client_auth",
          reason="jwt.claim_missing")
    n = "client-assertion-alg-none"
    g.add(n, 'private_key_jwt: client assertion with alg "none"', g.ok_ec(n), CL,
          client={"private_key_jwt": raw({"alg": "none"}, g.client_assertion(n), b"")}, why="client_auth",
          reason="jwt.alg_none")
    # rfc7523bis audience injection fix: a client assertion's aud is the AS issuer identifier and nothing else
    n = "client-assertion-aud-token-endpoint"
    g.add(n, "private_key_jwt: client assertion aud = the token endpoint URL (no longer accepted: aud must be "
             "exactly the AS issuer identifier)", g.ok_ec(n), CL_AUD, client=pk(n, aud=TOKEN_ENDPOINT), why="client_auth",
          reason="client.assertion_audience")
    n = "client-assertion-aud-alias"
    g.add(n, "private_key_jwt: client assertion aud = the configured alias https://as.example.com/oauth2/token",
          g.ok_ec(n), CL_AUD, client=pk(n, aud=AS_ALIAS), why="client_auth",
          reason="client.assertion_audience")
    n = "client-assertion-aud-array-other-party"
    g.add(n, "private_key_jwt: client assertion aud = [AS issuer, https://other-as.example.net] (an assertion "
             "valid at another party too is refused)", g.ok_ec(n), CL_AUD,
          client=pk(n, aud=[AS_ISSUER, "https://other-as.example.net"]), why="client_auth",
          reason="client.assertion_audience")
    n = "client-assertion-aud-array-token-endpoint-and-issuer"
    g.add(n, "private_key_jwt: client assertion aud = [AS issuer, token endpoint] (two elements: only a "
             "one-element array is accepted)", g.ok_ec(n), CL_AUD, client=pk(n, aud=[AS_ISSUER, TOKEN_ENDPOINT]),
          why="client_auth",
          reason="client.assertion_audience")
    n = "legacy-client-aud-array-other-party"
    g.add(n, "legacy-jwt-client (legacy_client_assertion_audience: true): client assertion aud = [token endpoint, "
             "https://other-as.example.net]; every element must be one of issuer / token endpoint / alias",
          g.ok_ec(n), CL_AUD,
          client=pk(n, signer="legacy-client-ec-1", kid="legacy-client-ec-1", client_id="legacy-jwt-client",
                    aud=[TOKEN_ENDPOINT, "https://other-as.example.net"]), why="client_auth",
          reason="client.assertion_audience")

    # public clients are bound to their trusted_issuers, checked on the unverified iss before any signature work
    unbound = err("invalid_grant", description=ISSUER_NOT_FOR_CLIENT)
    n = "public-client-unbound-issuer-valid"
    g.add(n, "public-client (trusted_issuers [idp.example.com]) presents a VALID assertion from other-idp "
             "(signed by other-ec-1): invalid_grant with the fixed error_description",
          jws({"alg": "ES256", "kid": "other-ec-1"}, claims(n, iss=OTHER_IDP), K("other-ec-1")), unbound,
          client={"none": "public-client"}, why="issuer-not-for-client")
    n = "public-client-unbound-issuer-forged"
    g.add(n, "as public-client-unbound-issuer-valid but FORGED (signed by attacker-ec-1, kid other-ec-1): the "
             "identical answer, so a public client cannot use the endpoint as a signature oracle for issuers "
             "it is not bound to",
          jws({"alg": "ES256", "kid": "other-ec-1"}, claims(n, iss=OTHER_IDP), K("attacker-ec-1")), unbound,
          client={"none": "public-client"}, why="issuer-not-for-client")

    # audience injection through the grant path: trusted issuer "jwt-client" is the private_key_jwt client
    # jwt-client (same identifier, same key), so its grants must carry aud = the AS issuer identifier alone
    def self_issued(name, aud):
        return jws({"alg": "ES256", "kid": "client-ec-1"}, g.client_assertion(name, aud=aud), K("client-ec-1"))

    self_aud = err("invalid_grant", description=SELF_ISSUED_AUD)
    n = "self-issued-grant-aud-token-endpoint"
    g.add(n, "grant from the self-issued issuer jwt-client (iss = sub = jwt-client, signed by client-ec-1) with "
             "aud = the token endpoint: what a hostile AS collects from jwt-client as a client assertion, replayed "
             "here as a grant; refused",
          self_issued(n, TOKEN_ENDPOINT), self_aud, scope="read", why="aud")
    n = "self-issued-grant-aud-array"
    g.add(n, "grant from the self-issued issuer jwt-client with aud = [AS issuer, https://hostile-as.example] "
             "(an array of more than one element); refused",
          self_issued(n, [AS_ISSUER, "https://hostile-as.example"]), self_aud, scope="read", why="aud")
    n = "valid-self-issued-grant-aud-issuer"
    g.add(n, "grant from the self-issued issuer jwt-client with aud = the AS issuer identifier (string); basic-client "
             "requests 'read' (= the issuer ceiling)",
          self_issued(n, AS_ISSUER), ok(sub="jwt-client", scope="read"), scope="read")
    return g.cases


def build_replay(keys):
    ec_key = keys["idp-ec-1"]["key"]
    cl_key = keys["client-ec-1"]["key"]
    a = jws({"alg": "ES256", "kid": "idp-ec-1"}, claims("replay-assertion"), ec_key)
    a2 = jws({"alg": "ES256", "kid": "idp-ec-1"}, claims("replay-client-assertion-grant-1"), ec_key)
    a3 = jws({"alg": "ES256", "kid": "idp-ec-1"}, claims("replay-client-assertion-grant-2"), ec_key)
    ca = jws({"alg": "ES256", "kid": "client-ec-1"},
             {"iss": "jwt-client", "sub": "jwt-client", "aud": AS_ISSUER, "exp": NOW + 60, "iat": NOW - 5,
              "jti": "client-jti-replay"}, cl_key)
    return [
        {
            "name": "assertion-replay",
            "description": "the same valid assertion presented twice by basic-client; the second use must fail "
                           "(jti one-time use). Use one replay store for both requests.",
            "now": NOW,
            "requests": [
                {"assertion": a, "client": BASIC, "expect": ok(claims_=IDP_CLAIMS)},
                {"assertion": a, "client": BASIC, "expect": err("invalid_grant", reason="assertion.replayed")},
            ],
        },
        {
            "name": "client-assertion-replay",
            "description": "the same private_key_jwt client assertion with two different valid grant assertions; "
                           "the second use of the client assertion must fail (client assertion jti one-time use).",
            "now": NOW,
            "requests": [
                {"assertion": a2, "client": {"private_key_jwt": ca}, "expect": ok(claims_=IDP_CLAIMS)},
                {"assertion": a3, "client": {"private_key_jwt": ca},
                 "expect": err("invalid_client", reason="client.assertion_replayed")},
            ],
        },
    ]


# ---------------------------------------------------------------------------
# strict reference validator (from the contract) used to check the vectors
# ---------------------------------------------------------------------------


class Reject(Exception):
    def __init__(self, status, error, why, description=None):
        super().__init__(f"{status} {error} ({why})")
        self.status, self.error, self.why, self.description = status, error, why, description


B64U_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def strict_b64u(s: str) -> bytes:
    if not B64U_RE.match(s) or len(s) % 4 == 1:
        raise ValueError("not base64url")
    out = b64u_dec(s)
    if b64u(out) != s:
        raise ValueError("non-canonical base64url")
    return out


def strict_json(data: bytes):
    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate member")
        return dict(pairs)

    return json.loads(data.decode("utf-8"), object_pairs_hook=hook)


def parse_jws(token: str):
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("segments")
    try:
        hb, pb, sb = (strict_b64u(x) for x in parts)
    except ValueError:
        raise ValueError("b64")
    try:
        header, payload = strict_json(hb), strict_json(pb)
    except ValueError as e:
        raise ValueError("dup" if "duplicate" in str(e) else "json")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("json")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), sb


RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]


def key_algs(jwk):
    if jwk["kty"] == "RSA":
        algs = list(RSA_ALGS)
    elif jwk["kty"] == "EC" and jwk.get("crv") == "P-256":
        algs = ["ES256"]
    else:
        algs = []
    if "alg" in jwk:
        algs = [a for a in algs if a == jwk["alg"]]
    return algs


def pyjwt_verify(alg, jwk, signing_input, sig) -> bool:
    if alg == "ES256" and len(sig) != 64:
        return False
    algo = pyjwt.get_algorithm_by_name(alg)
    key = pyjwt.PyJWK(jwk, algorithm=alg).key
    try:
        return bool(algo.verify(signing_input, key, sig))
    except Exception:
        return False


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


TYP_AT = "at+jwt"
TYP_CLIENT_AUTH = "client-authentication+jwt"
WS = " \t\n\r\x0c"  # ASCII whitespace (as Rust's trim_ascii)


def normalise_typ(typ):
    """RFC 7515 4.1.9 / media types: trim, lowercase, remove ONE leading "application/", cut at the first ";"
    (media-type parameters), trim again. Non-string typ -> None (not checked)."""
    if not isinstance(typ, str):
        return None
    t = typ.strip(WS).lower()
    if t.startswith("application/"):
        t = t[len("application/"):]
    return t.split(";", 1)[0].strip(WS)


class TypError(ValueError):
    """a typ refusal; carries the error_description a grant refusal gets"""

    def __init__(self, description):
        super().__init__("typ")
        self.description = description


def verify_signed(token, role="grant"):
    """strict parse + header rules; returns (header, payload, signing_input, sig, alg) or raises ValueError(reason).
    role "grant" (the assertion parameter) or "client" (client_assertion). typ is compared after normalise_typ:
    client-authentication+jwt marks a client assertion and is refused as a grant; at+jwt is refused in both roles."""
    header, payload, si, sig = parse_jws(token)
    if "crit" in header:
        raise ValueError("crit")
    typ = normalise_typ(header.get("typ"))
    if typ == TYP_AT:
        raise TypError(TYP_AT_JWT)
    if role == "grant" and typ == TYP_CLIENT_AUTH:
        raise TypError(TYP_CLIENT_AUTH_AS_GRANT)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg in ("none",) or not (alg in RSA_ALGS or alg == "ES256"):
        raise ValueError("alg")
    return header, payload, si, sig, alg


def select_and_verify(header, si, sig, alg, jwks, allowed=None):
    keys = jwks["keys"]
    if "kid" in header:
        keys = [k for k in keys if k.get("kid") == header["kid"]]
        if not keys:
            raise ValueError("kid")
    keys = [k for k in keys if alg in key_algs(k) and (allowed is None or alg in allowed)]
    if not keys:
        raise ValueError("alg")
    if not any(pyjwt_verify(alg, k, si, sig) for k in keys):
        raise ValueError("sig")


def accepted_audiences(cfg):
    return {cfg["issuer"], cfg.get("token_endpoint", cfg["issuer"] + "/token"), *cfg.get("audiences", [])}


def check_aud(aud, cfg):
    """Grant assertions (RFC 7523 3 item 3): aud names this AS (any one element of an array suffices)."""
    acc = accepted_audiences(cfg)
    if isinstance(aud, str):
        return aud in acc
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return any(a in acc for a in aud)
    return False


def same_public_key(a, b):
    """same kty and the same n/e (RSA) or crv/x/y (EC); kid and alg are ignored"""
    if a.get("kty") != b.get("kty"):
        return False
    if a["kty"] == "RSA":
        return (b64u_to_int(a["n"]), b64u_to_int(a["e"])) == (b64u_to_int(b["n"]), b64u_to_int(b["e"]))
    if a["kty"] == "EC":
        return (a.get("crv") == b.get("crv")
                and (b64u_to_int(a["x"]), b64u_to_int(a["y"])) == (b64u_to_int(b["x"]), b64u_to_int(b["y"])))
    return False


def self_issued_clients(ti, cfg):
    """private_key_jwt clients a trusted issuer is "self-issued" for (RFC 7523 2.1): the issuer identifier equals
    the client_id, or one of the issuer's public keys equals one of the client's keys."""
    return [c for c in cfg["clients"]
            if c["token_endpoint_auth_method"] == "private_key_jwt"
            and (ti["issuer"] == c["client_id"]
                 or any(same_public_key(k, ck) for k in ti["jwks"]["keys"] for ck in c.get("jwks", {}).get("keys", [])))]


def strict_grant_aud(ti, cfg):
    """Audience injection through the grant path: grants from a self-issued issuer must name the AS issuer alone,
    unless EVERY matching client opted into legacy_client_assertion_audience."""
    return any(not c.get("legacy_client_assertion_audience") for c in self_issued_clients(ti, cfg))


def check_client_aud(aud, cfg, client):
    """Client assertions (RFC 7523 2.2, rfc7523bis audience-injection fix): aud is exactly the AS issuer
    identifier, as a string or a one-element array. With legacy_client_assertion_audience the client may use
    a string or a non-empty array whose EVERY element is the issuer, the token endpoint or a configured alias."""
    if client.get("legacy_client_assertion_audience"):
        acc = accepted_audiences(cfg)
        if isinstance(aud, str):
            return aud in acc
        return (isinstance(aud, list) and len(aud) > 0
                and all(isinstance(a, str) and a in acc for a in aud))
    return aud == cfg["issuer"] or aud == [cfg["issuer"]]


def reference(case, cfg, replay_seen=None):
    """Returns (status, body-ish dict, why). Strict, written from the contract."""
    now = case.get("now", NOW)
    skew = cfg.get("clock_skew_secs", 60)
    seen = replay_seen if replay_seen is not None else set()
    clients = {c["client_id"]: c for c in cfg["clients"]}
    cl = case["client"]
    client = None
    try:
        # ---- client authentication ----
        if "basic" in cl or "post" in cl:
            method = "client_secret_basic" if "basic" in cl else "client_secret_post"
            cid, secret = cl.get("basic") or cl.get("post")
            c = clients.get(cid)
            if (not c or c["token_endpoint_auth_method"] != method
                    or not hmac.compare_digest(sha256_hex(secret), c["client_secret_sha256"])):
                raise Reject(401, "invalid_client", "client_auth")
            client = c
        elif "none" in cl:
            c = clients.get(cl["none"])
            if not c or c["token_endpoint_auth_method"] != "none":
                raise Reject(401, "invalid_client", "client_auth")
            client = c
        elif "private_key_jwt" in cl:
            try:
                h, p, si, sig, alg = verify_signed(cl["private_key_jwt"], role="client")
                cid = p.get("iss")
                c = clients.get(cid) if isinstance(cid, str) else None
                if not c or c["token_endpoint_auth_method"] != "private_key_jwt" or p.get("sub") != cid:
                    raise ValueError("iss/sub")
                if "client_id" in cl and cl["client_id"] != cid:  # optional body client_id (RFC 7521 4.2)
                    raise ValueError("client_id")
                select_and_verify(h, si, sig, alg, c["jwks"])
                if not check_client_aud(p.get("aud"), cfg, c):
                    raise ValueError("aud")
                if not is_int(p.get("exp")) or now >= p["exp"] + skew:
                    raise ValueError("exp")
                if not isinstance(p.get("jti"), str) or not p["jti"]:
                    raise ValueError("jti")
                rk = ("client", cid, p["jti"])
                if rk in seen:
                    raise ValueError("replay")
                seen.add(rk)
            except ValueError as e:
                # only an aud refusal names its reason (the others stay opaque)
                raise Reject(401, "invalid_client", "client_auth", CLIENT_AUD_REJECTED if str(e) == "aud" else None)
            client = c
        if client is not None and JWT_BEARER not in client.get("grant_types", [JWT_BEARER, SAML2_BEARER]):
            raise Reject(400, "unauthorized_client", "grant_type")

        # ---- assertion ----
        a = case["assertion"]
        if a == "":
            raise Reject(400, "invalid_request", "missing")
        if len(a.encode()) > MAX_ASSERTION_BYTES:
            raise Reject(400, "invalid_grant", "size")
        # Public clients are bound to their trusted_issuers. Checked on the UNVERIFIED iss before any signature
        # work, so the answer is the same whether the assertion is genuine or forged (no signature oracle).
        if client is not None and client["token_endpoint_auth_method"] == "none" and "trusted_issuers" in client:
            try:
                uiss = parse_jws(a)[1].get("iss")
            except ValueError:
                uiss = None
            if (isinstance(uiss, str) and uiss not in client["trusted_issuers"]
                    and any(t["issuer"] == uiss for t in cfg["trusted_issuers"])):
                raise Reject(400, "invalid_grant", "issuer-not-for-client", ISSUER_NOT_FOR_CLIENT)
        try:
            h, p, si, sig, alg = verify_signed(a)
            iss = p.get("iss")
            tis = [t for t in cfg["trusted_issuers"] if t["issuer"] == iss and t.get("format") == "jwt"]
            if not isinstance(iss, str) or not tis:
                raise ValueError("iss")
            ti = tis[0]
            select_and_verify(h, si, sig, alg, ti["jwks"], ti.get("algorithms"))
            tskew = ti.get("clock_skew_secs", skew)
            maxlife = ti.get("max_lifetime_secs", 3600)
            if not isinstance(p.get("sub"), str) or not p["sub"]:
                raise ValueError("sub")
            if strict_grant_aud(ti, cfg):
                if not (p.get("aud") == cfg["issuer"] or p.get("aud") == [cfg["issuer"]]):
                    raise Reject(400, "invalid_grant", "aud", SELF_ISSUED_AUD)
            elif not check_aud(p.get("aud"), cfg):
                raise ValueError("aud")
            if not is_int(p.get("exp")) or now >= p["exp"] + tskew:
                raise ValueError("exp")
            if p["exp"] > now + maxlife + tskew:
                raise ValueError("lifetime")
            if "nbf" in p and (not is_int(p["nbf"]) or p["nbf"] > now + tskew):
                raise ValueError("nbf")
            if "iat" in p and (not is_int(p["iat"]) or p["iat"] > now + tskew or p["iat"] < now - maxlife - tskew):
                raise ValueError("iat")
            if ti.get("require_jti", True) and (not isinstance(p.get("jti"), str) or not p["jti"]):
                raise ValueError("jti")
            if "subjects" in ti and p["sub"] not in ti["subjects"]:
                raise ValueError("subjects")
        except ValueError as e:
            raise Reject(400, "invalid_grant", str(e), getattr(e, "description", None))
        if client is None and ti.get("require_client", True):
            raise Reject(401, "invalid_client", "client_required")
        if client is not None and "trusted_issuers" in client and iss not in client["trusted_issuers"]:
            raise Reject(400, "invalid_grant", "issuer-not-for-client", ISSUER_NOT_FOR_CLIENT)
        if "jti" in p:
            rk = ("grant", iss, p["jti"])
            if rk in seen:
                raise Reject(400, "invalid_grant", "replay")
            seen.add(rk)

        # ---- scope ----
        ceiling = set(ti["scope"].split()) if "scope" in ti else None
        allowance = set(client["scope"].split()) if client and "scope" in client else (set() if client else None)
        if case.get("scope") is not None:
            req = case["scope"].split()
            if (allowance is not None and not set(req) <= allowance) or (ceiling is not None and not set(req) <= ceiling):
                raise Reject(400, "invalid_scope", "scope")
            granted = req
        else:
            if client is None:
                # Issue #2: with no client, the issuer's ceiling is the default scope.
                granted = sorted(ceiling) if ceiling is not None else []
            else:
                granted = client["scope"].split() if "scope" in client else []
            if client is not None and ceiling is not None:
                granted = [s for s in granted if s in ceiling]
        out = {"status": 200, "sub": p["sub"], "scope": " ".join(granted) or None}
        if ti.get("claims"):
            out["claims"] = {k: p[v] for k, v in ti["claims"].items() if v in p}
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


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(NOW, tz or _dt.timezone.utc)


def pyjwt_full_decode(token, cfg, iss_cfg, audience=None):
    """Independent check of positive cases with PyJWT's own decode at the fixed clock."""
    header = pyjwt.get_unverified_header(token)
    cands = [k for k in iss_cfg["jwks"]["keys"] if "kid" not in header or k.get("kid") == header["kid"]]
    orig = _pyjwt_api_jwt.datetime
    _pyjwt_api_jwt.datetime = _FixedDatetime
    try:
        errs = []
        for k in cands:
            try:
                return pyjwt.decode(
                    token, pyjwt.PyJWK(k, algorithm=header["alg"]).key, algorithms=[header["alg"]],
                    audience=audience or sorted(accepted_audiences(cfg)), issuer=iss_cfg["issuer"], leeway=60,
                    options={"require": ["exp", "sub", "iss", "aud"] + (["jti"] if iss_cfg.get("require_jti", True) else [])},
                )
            except pyjwt.PyJWTError as e:
                errs.append(e)
        raise AssertionError(f"PyJWT rejected a positive case: {errs}")
    finally:
        _pyjwt_api_jwt.datetime = orig


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def check_configs(cfg, invalid, keys):
    # config keys: RSA >= 2048, EC on curve (cryptography validates the point), hashes are lowercase hex
    for ti in cfg["trusted_issuers"]:
        for k in ti["jwks"]["keys"]:
            pk = key_from_jwk(k)
            if k["kty"] == "RSA":
                assert pk.key_size >= 2048
    for c in cfg["clients"]:
        if "client_secret_sha256" in c:
            assert re.fullmatch(r"[0-9a-f]{64}", c["client_secret_sha256"])
    for fname, prefix, _, c in invalid:
        if fname == "ec_off_curve.json":
            k = c["trusted_issuers"][0]["jwks"]["keys"][0]
            try:
                key_from_jwk(k)
                raise AssertionError("off-curve key accepted by cryptography")
            except ValueError:
                pass
        if fname == "config_weak_rsa.json":
            assert key_from_jwk(c["trusted_issuers"][0]["jwks"]["keys"][0]).key_size == 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--new-keys", action="store_true", help="generate fresh keys (overwrites keys/*.json)")
    args = ap.parse_args()

    keys = load_keys(args.new_keys)
    cfg = build_config(keys)
    invalid = build_invalid_configs(cfg, keys)
    check_configs(cfg, invalid, keys)
    cases = build_cases(keys)
    replay = build_replay(keys)

    # ---- self-check ----
    problems = []
    codes = reason_codes()
    for case in cases:
        problems += check_reason(case["name"], case["expect"], codes, "private_key_jwt" in case["client"])
        got, why = reference(case, cfg)
        exp = case["expect"]
        if not expect_matches(got, exp):
            problems.append(f"{case['name']}: expected {exp}, reference gives {got} ({why})")
        if why != case["flags"][0]:
            problems.append(f"{case['name']}: intended reason {case['flags'][0]!r}, reference reason {why!r}")
        if got.get("error_description") in MUST_PIN and "error_description" not in exp:
            problems.append(f"{case['name']}: reference says {got['error_description']!r}; the vector must pin it")
        if exp["status"] == 200:
            iss = pyjwt.decode(case["assertion"], options={"verify_signature": False})["iss"]
            ti = next(t for t in cfg["trusted_issuers"] if t["issuer"] == iss)
            claims_ = pyjwt_full_decode(case["assertion"], cfg, ti,
                                        audience=[AS_ISSUER] if strict_grant_aud(ti, cfg) else None)
            assert claims_["sub"] == exp["sub"], case["name"]
            cl = case["client"].get("private_key_jwt")
            if cl:
                cid = pyjwt.decode(cl, options={"verify_signature": False})["iss"]
                cc = next(c for c in cfg["clients"] if c["client_id"] == cid)
                # the client assertion audience: the issuer alone, or the legacy set for opted-in clients
                auds = sorted(accepted_audiences(cfg)) if cc.get("legacy_client_assertion_audience") else [AS_ISSUER]
                pyjwt_full_decode(cl, cfg, {"issuer": cid, "jwks": cc["jwks"]}, audience=auds)
        if why == "issuer-not-for-client":
            # the oracle pair: one genuine, one forged assertion, and the answer must not tell them apart
            h, p, si, sig, alg = verify_signed(case["assertion"])
            ti = next(t for t in cfg["trusted_issuers"] if t["issuer"] == p["iss"])
            try:
                select_and_verify(h, si, sig, alg, ti["jwks"])
                genuine = True
            except ValueError:
                genuine = False
            if genuine != case["name"].endswith("-valid"):
                problems.append(f"{case['name']}: signature genuine={genuine}, not what the name says")
        size = len(json.dumps(case).encode())
        if size > MAX_VECTOR_BYTES:
            problems.append(f"{case['name']}: {size} bytes > {MAX_VECTOR_BYTES}")
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names))
    # every jti must be unique across all vectors (so one shared replay store works too)
    jtis = []
    for case in cases:
        for tok in (case["assertion"], case["client"].get("private_key_jwt")):
            if tok and tok.count(".") == 2:
                try:
                    p = json.loads(b64u_dec(tok.split(".")[1].rstrip("=").replace("+", "-").replace("/", "_")))
                    if isinstance(p, dict) and "jti" in p:
                        jtis.append(p["jti"])
                except Exception:
                    pass
    dup = {j for j in jtis if jtis.count(j) > 1 and j != ""}
    if dup:
        problems.append(f"duplicate jti across vectors: {sorted(dup)}")
    for sc in replay:
        seen = set()
        for i, req in enumerate(sc["requests"]):
            got, why = reference(dict(req, now=sc["now"]), cfg, seen)
            if not expect_matches(got, req["expect"]):
                problems.append(f"replay {sc['name']}[{i}]: expected {req['expect']}, reference gives {got} ({why})")
            if got.get("error_description") in MUST_PIN and "error_description" not in req["expect"]:
                problems.append(f"replay {sc['name']}[{i}]: reference says {got['error_description']!r}; must pin it")
            problems += check_reason(f"replay {sc['name']}[{i}]", req["expect"], codes,
                                     "private_key_jwt" in req["client"])
            if why == "replay" and req["expect"].get("reason") != REASON_BY_FLAG["replay"]:
                problems.append(f"replay {sc['name']}[{i}]: the reference refuses a replayed grant, the reason "
                                f"must be {REASON_BY_FLAG['replay']!r}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)

    # ---- write ----
    def dump(path: Path, obj):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

    # Several issuers in one test configuration: their subjects share one
    # namespace on purpose (the vectors' expected `sub`s are unprefixed).
    for ti in cfg["trusted_issuers"]:
        ti.setdefault("dangerous", {})["shared_subject_namespace"] = True
    dump(HERE / "config.json", cfg)
    inv_dir = HERE / "config_invalid"
    manifest = []
    for fname, prefix, desc, c in invalid:
        dump(inv_dir / fname, c)
        manifest.append({"file": fname, "path_prefix": prefix, "description": desc})
    dump(inv_dir / "manifest.json", manifest)
    dump(HERE / "vectors.json", cases)
    dump(HERE / "replay.json", replay)
    pos = sum(1 for c in cases if c["expect"]["status"] == 200)
    print(f"wrote {len(cases)} cases ({pos} positive, {len(cases) - pos} negative), "
          f"{len(replay)} replay scenarios, {len(invalid)} invalid configs; all self-checks passed")


if __name__ == "__main__":
    main()

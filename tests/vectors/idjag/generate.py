#!/usr/bin/env python3
"""Independent ID-JAG + DPoP test-vector generator for assertion-grant.

ID-JAG = Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant),
presented at the token endpoint with grant_type urn:ietf:params:oauth:grant-type:jwt-bearer; DPoP = RFC 9449.

Run from the repository root (Python 3.9+, `cryptography` >= 44, `pyjwt` >= 2.8; `authlib` >= 1.9 optional):

    pip install pyjwt cryptography        # authlib too, for the optional Authlib cross-check
    python3 tests/vectors/idjag/generate.py             # reuse keys/*.json, write the files
    python3 tests/vectors/idjag/generate.py --check     # regenerate in memory, compare with the files on disk
    python3 tests/vectors/idjag/generate.py --new-keys  # make fresh keys first (changes every file)

What it writes (all under tests/vectors/idjag/):
  keys/*.json      private JWKs, TEST ONLY (generated once, then reused)
  config.json      the test AS configuration (contract schema, src/config/schema.rs)
  vectors.json     token-request cases with expected outcomes
  replay.json      replay scenarios (run each scenario's requests in order against one replay store)

Everything is signed with Python's `cryptography` and verified with PyJWT, so the vectors do not depend on the
Rust code under test. The clock is fixed: NOW = 1800000000. Output is byte-for-byte reproducible for a given key
set: RSASSA-PKCS1-v1_5 is deterministic, ECDSA uses RFC 6979 deterministic nonces, and RSASSA-PSS uses a salt
derived from the message (each PSS signature is checked by cryptography's and PyJWT's verifiers).

Before anything is written, every case goes through a strict reference validator written from the contract
(the rules in README.md), every signature that is meant to be valid is re-verified with PyJWT's jwt.decode at the
fixed clock, every token is decoded again and compared with the claims/header it was built from, the RFC 7638
thumbprint code is checked against the RFC 7638 §3.1 example, and the whole output is rendered twice and compared
byte for byte. When Authlib with ID-JAG support (authlib.oauth2.drafts.IDJAGGrant) is installed, it additionally
mints the happy-path ID-JAG (its header.payload must equal ours byte for byte) and the RS256 ID-JAG (the whole
token must equal ours), and its own ID-JAG assertion checks are run over every ID-JAG vector; every disagreement
must be one of the listed, explained differences (AUTHLIB_DIFFERS). Without Authlib this step is skipped and
the output is the same.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as _dt
import hashlib
import hmac
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

try:
    import jwt as pyjwt  # PyJWT
    from jwt import api_jwt as _pyjwt_api_jwt
except ImportError:  # pragma: no cover
    sys.exit("PyJWT is required: pip install pyjwt")

NOW = 1800000000
HERE = Path(__file__).resolve().parent
KEYS_DIR = HERE / "keys"

AS_ISSUER = "https://as.example.com"
TOKEN_ENDPOINT = "https://as.example.com/token"
AS_ALIAS = "https://as.example.com/oauth2/token"
ENT = "https://idp.enterprise.example"
PLAIN = "https://plain-idp.example"
BOTH = "https://both-idp.example"
API = "https://api.example.com"
CAL = "https://calendar.example.com"
FILES = "https://files.example.com/v1"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
IDJAG_TYP = "oauth-id-jag+jwt"

ACR = "urn:mace:incommon:iap:silver"
AMR = ["pwd", "mfa"]
AUTH_TIME = NOW - 600
EMAIL = "alice@acme.example"
SKEW = 60
DPOP_MAX_AGE = 300
DPOP_ALGS = ("ES256", "PS256", "RS256")  # the schema default of dpop.algorithms
MAX_LIFETIME = 3600

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
    """Compact JSON, key order as inserted (the same bytes joserfc/Authlib produce)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# keys (private JWKs on disk; TEST ONLY)
# ---------------------------------------------------------------------------

# file stem -> (type, alg or None). The kid is the file stem.
KEY_SPECS = {
    "jag-idp-ec-1": ("P256", "ES256"),
    "jag-idp-rsa-1": ("RSA2048", None),
    "plain-ec-1": ("P256", "ES256"),
    "both-ec-1": ("P256", "ES256"),
    "agent-client-ec-1": ("P256", "ES256"),
    "dpop-ec-1": ("P256", "ES256"),
    "dpop-ec-2": ("P256", "ES256"),
    "dpop-rsa-1": ("RSA2048", None),  # used with PS256 and RS256
    "attacker-ec-1": ("P256", "ES256"),  # in no configuration
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


def public_jwk(jwk):
    """The public JWK as configured (kid, and alg when the key has one)."""
    if jwk["kty"] == "RSA":
        out = {"kty": "RSA", "kid": jwk["kid"]}
        if jwk.get("alg"):
            out["alg"] = jwk["alg"]
        out.update(n=jwk["n"], e=jwk["e"])
        return out
    out = {"kty": "EC", "crv": jwk["crv"], "kid": jwk["kid"]}
    if jwk.get("alg"):
        out["alg"] = jwk["alg"]
    out.update(x=jwk["x"], y=jwk["y"])
    return out


def bare_jwk(jwk):
    """The public JWK as a DPoP header carries it: the required members only (no kid, no alg)."""
    if jwk["kty"] == "RSA":
        return {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    return {"kty": "EC", "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]}


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


def load_keys(new_keys: bool, write: bool):
    keys = {}
    for stem, (kind, alg) in KEY_SPECS.items():
        path = KEYS_DIR / f"{stem}.json"
        if path.exists() and not new_keys:
            jwk = json.loads(path.read_text(encoding="utf-8"))
        else:
            if not write:
                sys.exit(f"{path} is missing (run without --check first)")
            k = ec.generate_private_key(ec.SECP256R1()) if kind == "P256" else \
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = private_jwk(k, stem, alg)
            KEYS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(jwk, indent=2) + "\n", encoding="utf-8")
        assert jwk["kid"] == stem, path
        keys[stem] = {"jwk": jwk, "key": key_from_jwk(jwk)}
    return keys


def thumbprint(jwk) -> str:
    """RFC 7638: base64url(SHA-256(the required members, lexicographic order, no whitespace))."""
    if jwk["kty"] == "EC":
        members = {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    elif jwk["kty"] == "RSA":
        members = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    elif jwk["kty"] == "oct":
        members = {"k": jwk["k"], "kty": "oct"}
    else:
        raise ValueError(jwk["kty"])
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return b64u(hashlib.sha256(canon).digest())


# RFC 7638 §3.1 example key and its thumbprint: the thumbprint code is checked against it.
RFC7638_EXAMPLE = (
    {"kty": "RSA",
     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
          "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0z"
          "gdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-c"
          "sFCur-kEgU8awapJzKnqDKgw",
     "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"},
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
)

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
    """RSASSA-PSS (RFC 8017 §8.1.1), MGF1 with the same hash, salt length = hash length, the salt derived from the
    message so the output is reproducible. Checked with cryptography's PSS verifier before it is returned."""
    hfn = HASHLIB[bits]
    hlen = hfn().digest_size
    pn = key.private_numbers()
    n, d = pn.public_numbers.n, pn.d
    mod_bits = n.bit_length()
    em_bits = mod_bits - 1
    em_len = (em_bits + 7) // 8
    m_hash = hfn(data).digest()
    salt = hfn(b"idjag-test-pss-salt" + data).digest()[:hlen]
    h = hfn(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - hlen - hlen - 2) + b"\x01" + salt
    mask = _mgf1(h, em_len - hlen - 1, hfn)
    masked = bytearray(x ^ y for x, y in zip(db, mask))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    em = bytes(masked) + h + b"\xbc"
    sig = pow(int.from_bytes(em, "big"), d, n).to_bytes((mod_bits + 7) // 8, "big")
    key.public_key().verify(sig, data, padding.PSS(mgf=padding.MGF1(HASHES[bits]()), salt_length=hlen),
                            HASHES[bits]())
    return sig


def sign(alg: str, key, data: bytes) -> bytes:
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), HASHES[alg[2:]]())
    if alg.startswith("PS"):
        return pss_sign_deterministic(key, data, alg[2:])
    if alg == "ES256":
        der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))  # RFC 6979
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg.startswith("HS"):  # key = the HMAC secret (bytes)
        return hmac.new(key, data, HASHLIB[alg[2:]]).digest()
    if alg == "none":
        return b""
    raise ValueError(alg)


def seg(part) -> str:
    return b64u(cjson(part)) if isinstance(part, (dict, list)) else b64u(part.encode() if isinstance(part, str) else part)


def jws(header, payload, key, alg=None) -> str:
    """Compact JWS. alg defaults to header['alg']; key = a cryptography key or HMAC bytes."""
    alg = alg or header["alg"]
    si = f"{seg(header)}.{seg(payload)}"
    return f"{si}.{b64u(sign(alg, key, si.encode('ascii')))}"


DEL = object()  # marker: remove this member


def apply(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if v is DEL:
            out.pop(k, None)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def build_config(keys):
    pub = lambda stem: public_jwk(keys[stem]["jwk"])  # noqa: E731
    return {
        "issuer": AS_ISSUER,
        "token_endpoint": TOKEN_ENDPOINT,
        "audiences": [AS_ALIAS],
        "clock_skew_secs": SKEW,
        "scope_policy": "reject",
        "access_token": {"audience": API, "resources": [CAL, FILES], "lifetime_secs": 3600},
        "dpop": {"max_age_secs": DPOP_MAX_AGE},
        "trusted_issuers": [
            {
                "issuer": ENT, "format": "jwt", "profiles": ["id-jag"],
                "jwks": {"keys": [pub("jag-idp-ec-1"), pub("jag-idp-rsa-1")]},
                "max_lifetime_secs": MAX_LIFETIME, "scope": "calendar.read calendar.write files.read",
                "subject_prefix": "ent|",
                "claims": {"email": "email", "tenant": "tenant", "aud_tenant": "aud_tenant", "aud_sub": "aud_sub"},
            },
            {
                "issuer": PLAIN, "format": "jwt",
                "jwks": {"keys": [pub("plain-ec-1")]},
                "max_lifetime_secs": MAX_LIFETIME, "scope": "calendar.read", "subject_prefix": "plain|",
            },
            {
                "issuer": BOTH, "format": "jwt", "profiles": ["jwt-bearer", "id-jag"],
                "jwks": {"keys": [pub("both-ec-1")]},
                "max_lifetime_secs": MAX_LIFETIME, "scope": "calendar.read files.read", "subject_prefix": "both|",
            },
        ],
        "clients": [
            {
                "client_id": "agent-app", "token_endpoint_auth_method": "client_secret_basic",
                "client_secret_sha256": sha256_hex("agent-secret"),
                "scope": "calendar.read calendar.write files.read",
            },
            {
                "client_id": "jwt-agent", "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [pub("agent-client-ec-1")]}, "scope": "calendar.read files.read",
            },
            {
                "client_id": "public-app", "token_endpoint_auth_method": "none",
                "trusted_issuers": [ENT, PLAIN], "scope": "calendar.read",
            },
            {
                "client_id": "dpop-agent", "token_endpoint_auth_method": "client_secret_post",
                "client_secret_sha256": sha256_hex("dpop-secret"), "scope": "calendar.read",
                "dpop_bound_access_tokens": True,
            },
        ],
    }


# ---------------------------------------------------------------------------
# token builders
# ---------------------------------------------------------------------------

AGENT = {"basic": ["agent-app", "agent-secret"]}
DPOP_AGENT = {"post": ["dpop-agent", "dpop-secret"]}
AUTHZ_DETAILS = [{"type": "calendar_access", "actions": ["read"], "locations": [CAL]}]

# The optional claims of the happy-path ID-JAG, in the order Authlib's IDJAGGrant.sign() would place them.
HAPPY_EXTRA = {
    "scope": "calendar.read calendar.write", "email": EMAIL, "tenant": "acme", "aud_tenant": "acme-cal",
    "aud_sub": "alice-cal", "acr": ACR, "amr": AMR, "auth_time": AUTH_TIME,
}
OPTIONAL_COPIED = ("acr", "amr", "auth_time")  # copied from the ID-JAG into the access token
MAPPED = ("email", "tenant", "aud_tenant", "aud_sub")  # via the enterprise issuer's claims mapping
ENT_TOKEN_CLAIMS = {"acr": ACR, "amr": AMR, "auth_time": AUTH_TIME, "email": EMAIL, "tenant": "acme",
                    "aud_tenant": "acme-cal", "aud_sub": "alice-cal"}
REQUIRED_IDJAG = ("iss", "sub", "aud", "client_id", "jti", "exp", "iat")


def idjag_claims(name, **over):
    """Claim order = Authlib's: iss, aud, sub, iat, exp, <extra claims>, client_id, jti."""
    c = {"iss": ENT, "aud": AS_ISSUER, "sub": "alice", "iat": NOW - 10, "exp": NOW + 300}
    c.update(HAPPY_EXTRA)
    c.update(client_id="agent-app", jti=f"idjag-{name}")
    return apply(c, over)


class Gen:
    def __init__(self, keys):
        self.keys = keys
        self.cases = []
        self.names = set()
        self.built = []  # (token, header, payload) of every JWS built here, for the round-trip check

    def k(self, stem):
        return self.keys[stem]["key"]

    def _jws(self, header, payload, key, alg=None):
        tok = jws(header, payload, key, alg)
        self.built.append((tok, header, payload))
        return tok

    def idjag(self, name, signer="jag-idp-ec-1", alg=None, header=None, **over):
        """An ID-JAG: header typ, kid, alg (Authlib's order); claims idjag_claims(name, **over)."""
        alg = alg or ("ES256" if "-ec-" in signer else "RS256")
        h = apply({"typ": IDJAG_TYP, "kid": signer, "alg": alg}, header or {})
        return self._jws(h, idjag_claims(name, **over), self.k(signer), alg)

    def plain(self, name, iss, signer, **over):
        """An RFC 7523 JWT (no typ, aud = token endpoint, no client_id)."""
        c = apply({"iss": iss, "sub": "alice", "aud": TOKEN_ENDPOINT, "iat": NOW - 10, "exp": NOW + 300,
                   "jti": f"jwt-{name}"}, over)
        return self._jws({"alg": "ES256", "kid": signer}, c, self.k(signer))

    def client_assertion(self, name):
        c = {"iss": "jwt-agent", "sub": "jwt-agent", "aud": AS_ISSUER, "jti": f"client-{name}",
             "iat": NOW - 5, "exp": NOW + 120}
        return {"private_key_jwt": self._jws({"alg": "ES256", "kid": "agent-client-ec-1"}, c,
                                             self.k("agent-client-ec-1"))}

    def proof(self, name, key="dpop-ec-1", alg=None, header=None, signer=None, jti=None, **over):
        """A DPoP proof: header typ, alg, jwk (the public key of `key`, required members only); claims jti, htm,
        htu, iat. `signer` signs instead of `key` (bad-signature case); `alg` "HS256" needs signer = bytes."""
        jwk = self.keys[key]["jwk"]
        alg = alg or ("ES256" if jwk["kty"] == "EC" else "PS256")
        h = apply({"typ": "dpop+jwt", "alg": alg, "jwk": bare_jwk(jwk)}, header or {})
        c = apply({"jti": f"dpop-{name}" if jti is None else jti, "htm": "POST", "htu": TOKEN_ENDPOINT,
                   "iat": NOW - 2}, over)
        if c["jti"] is DEL:
            del c["jti"]
        skey = signer if isinstance(signer, bytes) else self.k(signer or key)
        return self._jws(h, c, skey, alg)

    def add(self, name, description, assertion, expect, flags, client=AGENT, scope=None, resource=None,
            authorization_details=None, dpop=None):
        assert name not in self.names, name
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name), name
        self.names.add(name)
        case = {"name": name, "description": description, "now": NOW, "assertion": assertion, "client": client}
        if scope is not None:
            case["scope"] = scope
        if resource is not None:
            case["resource"] = resource
        if authorization_details is not None:
            case["authorization_details"] = authorization_details
        if dpop is not None:
            case["dpop"] = dpop
        case["expect"] = expect
        case["flags"] = list(flags)
        self.cases.append(case)


def ok(sub="ent|alice", idp=ENT, aud=API, scope="calendar.read calendar.write", jkt=None, claims=None,
       absent=()):
    """A 200 expectation. scope is written sorted (runners compare it as a set)."""
    scope = " ".join(sorted(scope.split()))
    absent = sorted(set(absent) | ({"cnf"} if jkt is None else set()))
    return {"status": 200, "token_type": "DPoP" if jkt else "Bearer", "sub": sub, "idp": idp, "aud": aud,
            "scope": scope, "cnf_jkt": jkt, "claims": dict(ENT_TOKEN_CLAIMS) if claims is None else claims,
            "absent": absent}


def err(error):
    return {"status": 401 if error == "invalid_client" else 400, "error": error}


GRANT = err("invalid_grant")
CLIENT = err("invalid_client")
SCOPE = err("invalid_scope")
TARGET = err("invalid_target")
DPOP_ERR = err("invalid_dpop_proof")
AUTHZ_ERR = err("invalid_authorization_details")
BOTH_TOKEN_CLAIMS = {"acr": ACR, "amr": AMR, "auth_time": AUTH_TIME}


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------


def build_cases(keys):
    g = Gen(keys)
    jkt1 = thumbprint(keys["dpop-ec-1"]["jwk"])
    jkt_rsa = thumbprint(keys["dpop-rsa-1"]["jwk"])

    # ---------------- ID-JAG: positive ----------------
    n = "idjag-valid-es256"
    g.add(n, "happy path: ID-JAG (typ oauth-id-jag+jwt, ES256, kid jag-idp-ec-1) from the enterprise IdP, client "
             "agent-app (client_secret_basic); granted = ID-JAG scope within client and issuer allowance; acr, amr, "
             "auth_time copied, email/tenant/aud_tenant/aud_sub mapped; no DPoP proof -> Bearer, no cnf",
          g.idjag(n), ok(), ["valid", "idjag", "happy-path"])
    n = "idjag-valid-rs256"
    g.add(n, "as the happy path, RS256 signed by jag-idp-rsa-1 (kid jag-idp-rsa-1)",
          g.idjag(n, signer="jag-idp-rsa-1"), ok(), ["valid", "idjag", "rs256"])
    n = "idjag-valid-aud-array-one"
    g.add(n, 'aud = ["https://as.example.com"] (an array of exactly one element, the AS issuer)',
          g.idjag(n, aud=[AS_ISSUER]), ok(), ["valid", "idjag", "aud"])
    n = "idjag-typ-application-prefix"
    g.add(n, 'typ "application/oauth-id-jag+jwt": the same media type (RFC 7515 §4.1.9 allows the application/ '
             "prefix), so an ID-JAG",
          g.idjag(n, header={"typ": "application/" + IDJAG_TYP}), ok(), ["valid", "idjag", "typ"])
    n = "idjag-typ-mixed-case"
    g.add(n, 'typ "OAuth-ID-JAG+JWT": media types compare case-insensitively, so an ID-JAG',
          g.idjag(n, header={"typ": "OAuth-ID-JAG+JWT"}), ok(), ["valid", "idjag", "typ"])
    n = "idjag-private-key-jwt"
    g.add(n, "client jwt-agent authenticates with private_key_jwt (ES256, agent-client-ec-1, aud = AS issuer); "
             "ID-JAG client_id jwt-agent with scope 'calendar.read calendar.write'; jwt-agent may not have "
             "calendar.write, so the grant is narrowed to calendar.read (no scope requested: nothing to reject)",
          g.idjag(n, client_id="jwt-agent"), ok(scope="calendar.read"), ["valid", "idjag", "private_key_jwt", "scope"],
          client=g.client_assertion(n))
    n = "idjag-minimal-claims"
    g.add(n, "ID-JAG with the required claims only (iss, sub, aud, client_id, jti, exp, iat): no scope in the ID-JAG "
             "or the request -> client allowance ∩ issuer scope; none of the optional claims appears in the token",
          g.idjag(n, **{k: DEL for k in HAPPY_EXTRA}),
          ok(scope="calendar.read calendar.write files.read", claims={},
             absent=list(OPTIONAL_COPIED) + list(MAPPED)), ["valid", "idjag", "scope"])
    n = "idjag-scope-request-subset"
    g.add(n, "request scope 'calendar.read', a subset of the ID-JAG scope -> calendar.read",
          g.idjag(n), ok(scope="calendar.read"), ["valid", "idjag", "scope"], scope="calendar.read")
    n = "idjag-scope-narrowed"
    g.add(n, "ID-JAG scope 'calendar.read files.read files.write': files.write is outside the client's and issuer's "
             "allowance and is dropped (it was not requested in the scope parameter, so no invalid_scope)",
          g.idjag(n, scope="calendar.read files.read files.write"), ok(scope="calendar.read files.read"),
          ["valid", "idjag", "scope"])
    n = "idjag-no-scope-request-scope"
    g.add(n, "ID-JAG without scope; request scope 'files.read' (within client and issuer allowance) -> files.read",
          g.idjag(n, scope=DEL), ok(scope="files.read"), ["valid", "idjag", "scope"], scope="files.read")
    n = "idjag-resource-request-one"
    g.add(n, "one resource parameter https://calendar.example.com (a configured resource) -> aud is that string",
          g.idjag(n), ok(aud=CAL), ["valid", "idjag", "resource"], resource=CAL)
    n = "idjag-resource-request-two"
    g.add(n, "two resource parameters (calendar, files) -> aud is the list, in request order",
          g.idjag(n), ok(aud=[CAL, FILES]), ["valid", "idjag", "resource"], resource=[CAL, FILES])
    n = "idjag-resource-request-default-audience"
    g.add(n, "resource parameter = access_token.audience https://api.example.com (always allowed)",
          g.idjag(n), ok(aud=API), ["valid", "idjag", "resource"], resource=API)
    n = "idjag-resource-claim-string"
    g.add(n, "ID-JAG resource 'https://calendar.example.com' (string), no resource parameter -> aud from the ID-JAG",
          g.idjag(n, resource=CAL), ok(aud=CAL), ["valid", "idjag", "resource"])
    n = "idjag-resource-claim-array"
    g.add(n, "ID-JAG resource [calendar, files], no resource parameter -> aud is the list",
          g.idjag(n, resource=[CAL, FILES]), ok(aud=[CAL, FILES]), ["valid", "idjag", "resource"])
    n = "idjag-resource-claim-array-request-one"
    g.add(n, "ID-JAG resource [calendar, files]; resource parameter files -> aud is files (a subset of the ID-JAG's)",
          g.idjag(n, resource=[CAL, FILES]), ok(aud=FILES), ["valid", "idjag", "resource"], resource=FILES)
    n = "both-idp-idjag"
    g.add(n, "an ID-JAG from both-idp (profiles jwt-bearer and id-jag), kid both-ec-1; both-idp maps no claims, so "
             "only acr/amr/auth_time reach the token; scope = ID-JAG ∩ agent-app ∩ both-idp = calendar.read",
          g.idjag(n, signer="both-ec-1", iss=BOTH),
          ok(sub="both|alice", idp=BOTH, scope="calendar.read", claims=dict(BOTH_TOKEN_CLAIMS), absent=MAPPED),
          ["valid", "idjag", "profiles"])

    # ---------------- RFC 7523 controls ----------------
    n = "plain-idp-rfc7523-public-app"
    g.add(n, "control: a plain RFC 7523 JWT (no typ, aud = token endpoint, no client_id) from plain-idp (default "
             "profiles [jwt-bearer]) presented by public-app (auth none, bound to plain-idp) -> 200 Bearer",
          g.plain(n, PLAIN, "plain-ec-1"),
          ok(sub="plain|alice", idp=PLAIN, scope="calendar.read", claims={}), ["valid", "rfc7523", "control"],
          client={"none": "public-app"})
    n = "both-idp-rfc7523-agent-app"
    g.add(n, "control: a plain RFC 7523 JWT from both-idp presented by agent-app; scope = agent-app ∩ both-idp",
          g.plain(n, BOTH, "both-ec-1"),
          ok(sub="both|alice", idp=BOTH, scope="calendar.read files.read", claims={}),
          ["valid", "rfc7523", "control"])

    # ---------------- DPoP: positive ----------------
    n = "dpop-es256"
    g.add(n, "happy-path ID-JAG with a valid DPoP proof (ES256, dpop-ec-1, iat NOW-2) -> token_type DPoP, "
             "cnf.jkt = RFC 7638 thumbprint of dpop-ec-1",
          g.idjag(n), ok(jkt=jkt1), ["valid", "dpop"], dpop=g.proof(n))
    n = "dpop-ps256"
    g.add(n, "DPoP proof PS256 with dpop-rsa-1 (RSA-2048) -> DPoP, cnf.jkt = thumbprint of dpop-rsa-1",
          g.idjag(n), ok(jkt=jkt_rsa), ["valid", "dpop", "ps256"], dpop=g.proof(n, key="dpop-rsa-1", alg="PS256"))
    n = "dpop-rs256"
    g.add(n, "DPoP proof RS256 with dpop-rsa-1 -> DPoP, cnf.jkt = thumbprint of dpop-rsa-1",
          g.idjag(n), ok(jkt=jkt_rsa), ["valid", "dpop", "rs256"], dpop=g.proof(n, key="dpop-rsa-1", alg="RS256"))
    n = "dpop-jwk-extra-members"
    extra = dict(bare_jwk(keys["dpop-ec-1"]["jwk"]), kid="dpop-ec-1", alg="ES256", use="sig")
    g.add(n, "DPoP proof whose jwk also carries kid, alg and use: the thumbprint uses the required members only "
             "(RFC 7638 §3.2), so cnf.jkt is still the thumbprint of dpop-ec-1",
          g.idjag(n), ok(jkt=jkt1), ["valid", "dpop", "thumbprint"], dpop=g.proof(n, header={"jwk": extra}))
    for suffix, htu, what in (
            ("host-uppercase", "https://AS.EXAMPLE.COM/token", "the host in upper case (RFC 3986 §6.2.2.1)"),
            ("default-port", "https://as.example.com:443/token", "the default port written out (RFC 3986 §6.2.3)"),
            ("query", TOKEN_ENDPOINT + "?x=1", "a query (ignored, RFC 9449 §4.3 item 9)"),
            ("fragment", TOKEN_ENDPOINT + "#frag", "a fragment (ignored, RFC 9449 §4.3 item 9)")):
        n = f"dpop-htu-{suffix}"
        g.add(n, f"DPoP proof htu {htu!r}: {what}; matches the token endpoint after normalisation",
              g.idjag(n), ok(jkt=jkt1), ["valid", "dpop", "htu"], dpop=g.proof(n, htu=htu))
    cnf1 = {"jkt": jkt1}
    n = "idjag-cnf-jkt-match"
    g.add(n, "ID-JAG with cnf {jkt: thumbprint(dpop-ec-1)} and a dpop-ec-1 proof -> DPoP bound to that key",
          g.idjag(n, cnf=cnf1), ok(jkt=jkt1), ["valid", "dpop", "cnf"], dpop=g.proof(n))
    n = "dpop-agent-with-proof"
    g.add(n, "dpop-agent (client_secret_post, dpop_bound_access_tokens) with a plain both-idp JWT and a valid "
             "proof -> 200 DPoP",
          g.plain(n, BOTH, "both-ec-1"),
          ok(sub="both|alice", idp=BOTH, scope="calendar.read", jkt=jkt1, claims={}),
          ["valid", "dpop", "rfc7523", "dpop_bound_access_tokens"], client=DPOP_AGENT, dpop=g.proof(n))

    # ---------------- ID-JAG: audience ----------------
    for suffix, aud, what in (
            ("token-endpoint", TOKEN_ENDPOINT, "the token endpoint"),
            ("alias", AS_ALIAS, "the configured alias (audiences[0])"),
            ("array-two", [AS_ISSUER, "https://other.example"], "[AS issuer, https://other.example] (two elements)")):
        n = f"idjag-aud-{suffix}"
        g.add(n, f"ID-JAG aud = {what}: an ID-JAG must name exactly the AS issuer identifier",
              g.idjag(n, aud=aud), GRANT, ["aud", "idjag"])

    # ---------------- ID-JAG: required claims ----------------
    for claim in REQUIRED_IDJAG:
        n = f"idjag-missing-{claim}"
        why = " (no iss: no trusted issuer can be found)" if claim == "iss" else ""
        g.add(n, f"ID-JAG without the required claim {claim}{why}", g.idjag(n, **{claim: DEL}), GRANT,
              ["missing", "idjag", claim])

    # ---------------- ID-JAG: client ----------------
    n = "idjag-client-id-mismatch"
    g.add(n, "ID-JAG client_id 'jwt-agent' presented by the authenticated client agent-app",
          g.idjag(n, client_id="jwt-agent"), GRANT, ["client_id", "idjag"])
    n = "idjag-public-client"
    g.add(n, "public-app (token_endpoint_auth_method none, bound to the enterprise IdP) presents an ID-JAG whose "
             "client_id is public-app: ID-JAGs need an authenticated (confidential) client",
          g.idjag(n, client_id="public-app"), CLIENT, ["public_client", "idjag"], client={"none": "public-app"})
    n = "idjag-anonymous"
    g.add(n, "no client authentication at all with a valid ID-JAG", g.idjag(n), CLIENT,
          ["client_required", "idjag"], client={"anonymous": True})

    # ---------------- ID-JAG: explicit typing / profiles ----------------
    for suffix, typ, what in (
            ("id-jag-jwt", "id-jag+jwt", "not the registered media type"),
            ("no-suffix", "oauth-id-jag", "without the +jwt suffix"),
            ("trailing-space", IDJAG_TYP + " ", "a trailing space: not exactly the media type"),
            ("jwt", "JWT", "a plain JWT, which the id-jag-only issuer may not send"),
            ("absent", DEL, "no typ: a plain JWT, which the id-jag-only issuer may not send")):
        n = f"idjag-typ-{suffix}"
        label = "absent" if typ is DEL else repr(typ)
        g.add(n, f"ID-JAG claims from the enterprise IdP (profiles [id-jag]) with typ {label}: {what}",
              g.idjag(n, header={"typ": typ}), GRANT, ["typ", "idjag"])
    n = "plain-idp-idjag"
    g.add(n, "a correct ID-JAG (typ oauth-id-jag+jwt) from plain-idp, whose profiles default to [jwt-bearer]",
          g.idjag(n, signer="plain-ec-1", iss=PLAIN), GRANT, ["profile", "idjag"])

    # ---------------- ID-JAG: signature / issuer / time ----------------
    n = "idjag-attacker-signed"
    g.add(n, "ID-JAG under kid jag-idp-ec-1 but signed by attacker-ec-1",
          g.idjag(n, signer="attacker-ec-1", header={"kid": "jag-idp-ec-1"}), GRANT, ["sig", "idjag"])
    n = "idjag-expired"
    g.add(n, "ID-JAG exp = NOW-120 (beyond the 60 s skew)", g.idjag(n, iat=NOW - 400, exp=NOW - 120), GRANT,
          ["exp", "idjag"])
    n = "idjag-lifetime-too-long"
    g.add(n, "ID-JAG exp = NOW+4000 (more than max_lifetime_secs 3600 + skew ahead)", g.idjag(n, exp=NOW + 4000),
          GRANT, ["lifetime", "idjag"])
    n = "idjag-iat-future"
    g.add(n, "ID-JAG iat = NOW+120 (issued in the future beyond the 60 s skew)",
          g.idjag(n, iat=NOW + 120, exp=NOW + 600), GRANT, ["iat", "idjag"])

    # ---------------- ID-JAG: authorization_details ----------------
    n = "idjag-authorization-details-claim"
    g.add(n, "ID-JAG carrying authorization_details (RFC 9396): not supported",
          g.idjag(n, authorization_details=AUTHZ_DETAILS), AUTHZ_ERR, ["authorization_details", "idjag"])
    n = "idjag-authorization-details-param"
    g.add(n, "valid ID-JAG, authorization_details sent as a request parameter (JSON text): not supported",
          g.idjag(n), AUTHZ_ERR, ["authorization_details", "idjag", "request"],
          authorization_details=json.dumps(AUTHZ_DETAILS[:1], separators=(",", ":")))

    # ---------------- ID-JAG: scope ----------------
    n = "idjag-scope-request-beyond-idjag"
    g.add(n, "request scope 'files.read': allowed for the client and issuer but not in the ID-JAG scope",
          g.idjag(n), SCOPE, ["scope", "idjag"], scope="files.read")
    n = "idjag-scope-request-beyond-client"
    g.add(n, "jwt-agent (scope calendar.read files.read) requests 'calendar.write', which the ID-JAG grants but "
             "the client may not have", g.idjag(n, client_id="jwt-agent"), SCOPE, ["scope", "idjag"],
          client=g.client_assertion(n), scope="calendar.write")

    # ---------------- ID-JAG: resource ----------------
    n = "idjag-resource-not-allowed"
    g.add(n, "resource parameter https://evil.example (not a configured resource)", g.idjag(n), TARGET,
          ["resource", "idjag"], resource="https://evil.example")
    n = "idjag-resource-fragment"
    g.add(n, "resource parameter https://calendar.example.com#frag (a fragment is not allowed, RFC 8707 §2)",
          g.idjag(n), TARGET, ["resource", "idjag"], resource=CAL + "#frag")
    n = "idjag-resource-not-in-idjag"
    g.add(n, "ID-JAG resource calendar; resource parameter files (configured, but not in the ID-JAG)",
          g.idjag(n, resource=CAL), TARGET, ["resource", "idjag"], resource=FILES)
    n = "idjag-resource-default-not-in-idjag"
    g.add(n, "ID-JAG resource calendar; resource parameter https://api.example.com (the default audience, but not "
             "in the ID-JAG)", g.idjag(n, resource=CAL), TARGET, ["resource", "idjag"], resource=API)
    n = "idjag-resource-claim-not-allowed"
    g.add(n, "ID-JAG resource https://evil.example (not a configured resource), no resource parameter",
          g.idjag(n, resource="https://evil.example"), TARGET, ["resource", "idjag", "claim"])

    # ---------------- cnf / dpop_bound_access_tokens ----------------
    n = "idjag-cnf-jkt-other-key"
    g.add(n, "ID-JAG with cnf {jkt: thumbprint(dpop-ec-1)} and a valid proof made with dpop-ec-2",
          g.idjag(n, cnf=cnf1), GRANT, ["cnf", "dpop"], dpop=g.proof(n, key="dpop-ec-2"))
    n = "idjag-cnf-jkt-no-proof"
    g.add(n, "ID-JAG with cnf {jkt: thumbprint(dpop-ec-1)} and no DPoP proof", g.idjag(n, cnf=cnf1), GRANT,
          ["cnf", "dpop"])
    n = "dpop-agent-no-proof"
    g.add(n, "dpop-agent (dpop_bound_access_tokens: true) with a plain both-idp JWT and no DPoP proof",
          g.plain(n, BOTH, "both-ec-1"), DPOP_ERR, ["dpop_required", "dpop", "rfc7523"], client=DPOP_AGENT)

    # ---------------- DPoP: bad proofs ----------------
    def bad(suffix, detail, description, proof_fn):
        """flags = ["dpop", <the proof check that must fail>]"""
        nn = f"dpop-bad-{suffix}"
        g.add(nn, f"happy-path ID-JAG with a bad DPoP proof: {description}", g.idjag(nn), DPOP_ERR,
              ["dpop", detail], dpop=proof_fn(nn))

    hmac_key = b"dpop-test-hmac-key-not-a-secret!"
    pub1 = bare_jwk(keys["dpop-ec-1"]["jwk"])
    bad("htm-get", "htm", 'htm "GET"', lambda nn: g.proof(nn, htm="GET"))
    bad("htu-other-path", "htu", 'htu "https://as.example.com/other"', lambda nn: g.proof(nn, htu=AS_ISSUER + "/other"))
    bad("htu-other-host", "htu", 'htu "https://evil.example/token"', lambda nn: g.proof(nn, htu="https://evil.example/token"))
    bad("iat-too-old", "iat", "iat NOW-400 (older than max_age 300 + skew 60)", lambda nn: g.proof(nn, iat=NOW - 400))
    bad("iat-future", "iat", "iat NOW+120 (in the future beyond the 60 s skew)", lambda nn: g.proof(nn, iat=NOW + 120))
    bad("alg-none", "alg", 'alg "none", empty signature', lambda nn: g.proof(nn, alg="none", header={"alg": "none"}))
    bad("alg-hs256", "alg", "HS256 (HMAC with a test key) with dpop-ec-1's public jwk in the header",
        lambda nn: g.proof(nn, alg="HS256", header={"alg": "HS256"}, signer=hmac_key))
    bad("jwk-private", "jwk-private", 'the jwk includes the private member "d" (correctly signed by dpop-ec-1)',
        lambda nn: g.proof(nn, header={"jwk": dict(pub1, d=keys["dpop-ec-1"]["jwk"]["d"])}))
    bad("typ-jwt", "typ", 'typ "JWT"', lambda nn: g.proof(nn, header={"typ": "JWT"}))
    bad("typ-absent", "typ", "no typ", lambda nn: g.proof(nn, header={"typ": DEL}))
    bad("jwk-absent", "jwk", "no jwk header", lambda nn: g.proof(nn, header={"jwk": DEL}))
    bad("jwk-symmetric", "jwk", 'jwk is a symmetric key {"kty":"oct"} and the proof an HS256 MAC under it',
        lambda nn: g.proof(nn, alg="HS256", signer=hmac_key,
                           header={"alg": "HS256", "jwk": {"kty": "oct", "k": b64u(hmac_key)}}))
    bad("signature", "sig", "signed by attacker-ec-1 with dpop-ec-1's public jwk in the header",
        lambda nn: g.proof(nn, signer="attacker-ec-1"))
    bad("jti-missing", "jti", "no jti", lambda nn: g.proof(nn, jti=DEL))
    bad("htm-missing", "htm", "no htm", lambda nn: g.proof(nn, htm=DEL))
    bad("iat-missing", "iat", "no iat", lambda nn: g.proof(nn, iat=DEL))
    bad("two-headers", "count", "two DPoP headers, each a valid proof (distinct jti)",
        lambda nn: [g.proof(nn, jti=f"dpop-{nn}-1"), g.proof(nn, jti=f"dpop-{nn}-2")])
    bad("not-a-jwt", "parse", 'the DPoP header is "not-a-jwt"', lambda nn: "not-a-jwt")
    return g


def build_replay(g: Gen):
    keys = g.keys
    jkt1 = thumbprint(keys["dpop-ec-1"]["jwk"])
    jkt2 = thumbprint(keys["dpop-ec-2"]["jwk"])
    a = g.idjag("replay-same-idjag")
    b1, b2 = g.idjag("replay-same-proof-1"), g.idjag("replay-same-proof-2")
    p = g.proof("replay-same-proof")
    c1, c2, c3 = (g.idjag(f"replay-jti-other-key-{i}") for i in (1, 2, 3))
    shared = "dpop-replay-shared-jti"
    pc1 = g.proof("x", jti=shared)
    pc2 = g.proof("x", key="dpop-ec-2", jti=shared)
    return [
        {"name": "idjag-replay",
         "description": "the same ID-JAG presented twice by agent-app: the second use fails (jti one-time use)",
         "now": NOW,
         "requests": [
             {"assertion": a, "client": AGENT, "expect": ok()},
             {"assertion": a, "client": AGENT, "expect": GRANT}]},
        {"name": "dpop-proof-replay",
         "description": "two different valid ID-JAGs with the same DPoP proof: the second use of the proof fails",
         "now": NOW,
         "requests": [
             {"assertion": b1, "client": AGENT, "dpop": p, "expect": ok(jkt=jkt1)},
             {"assertion": b2, "client": AGENT, "dpop": p, "expect": DPOP_ERR}]},
        {"name": "dpop-jti-other-key",
         "description": "a DPoP proof jti first used with dpop-ec-1, then the same jti in a proof by dpop-ec-2 with a "
                        "fresh ID-JAG: accepted, because the replay key is (thumbprint, jti); then that dpop-ec-2 "
                        "proof once more with another fresh ID-JAG: refused",
         "now": NOW,
         "requests": [
             {"assertion": c1, "client": AGENT, "dpop": pc1, "expect": ok(jkt=jkt1)},
             {"assertion": c2, "client": AGENT, "dpop": pc2, "expect": ok(jkt=jkt2)},
             {"assertion": c3, "client": AGENT, "dpop": pc2, "expect": DPOP_ERR}]},
    ]


# ---------------------------------------------------------------------------
# strict reference validator, written from the contract (README.md), used to check the vectors
# ---------------------------------------------------------------------------


class Reject(Exception):
    def __init__(self, error, why):
        super().__init__(f"{error} ({why})")
        self.error, self.why = error, why
        self.status = 401 if error == "invalid_client" else 400


B64U_RE = re.compile(r"^[A-Za-z0-9_-]*$")


def strict_b64u(s: str) -> bytes:
    if not B64U_RE.match(s) or len(s) % 4 == 1:
        raise ValueError("b64")
    out = b64u_dec(s)
    if b64u(out) != s:
        raise ValueError("b64")
    return out


def strict_json(data: bytes):
    def hook(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate member")
        return dict(pairs)

    return json.loads(data.decode("utf-8"), object_pairs_hook=hook)


def parse_jws(token):
    if not isinstance(token, str):
        raise ValueError("segments")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("segments")
    hb, pb, sb = (strict_b64u(x) for x in parts)
    header, payload = strict_json(hb), strict_json(pb)
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("json")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), sb


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def key_algs(jwk):
    if jwk.get("kty") == "RSA":
        algs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        algs = ["ES256"]
    else:
        algs = []
    return [a for a in algs if a == jwk["alg"]] if "alg" in jwk else algs


def pyjwt_verify(alg, jwk, si, sig) -> bool:
    if alg == "ES256" and len(sig) != 64:
        return False
    try:
        return bool(pyjwt.get_algorithm_by_name(alg).verify(si, pyjwt.PyJWK(jwk, algorithm=alg).key, sig))
    except Exception:
        return False


def verify_with_jwks(header, si, sig, jwks):
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg.startswith("HS"):
        raise ValueError("alg")
    ks = jwks["keys"]
    if "kid" in header:
        ks = [k for k in ks if k.get("kid") == header["kid"]]
    ks = [k for k in ks if alg in key_algs(k)]
    if not any(pyjwt_verify(alg, k, si, sig) for k in ks):
        raise ValueError("sig")


def normalise_typ(typ):
    """ID-JAG typ rule of the contract: case-insensitive, one optional leading "application/", nothing trimmed."""
    if not isinstance(typ, str):
        return None
    t = typ.lower()
    return t[len("application/"):] if t.startswith("application/") else t


def normalise_uri(u):
    """RFC 3986 §6.2.2-6.2.3 syntax-based normalisation for htu, query and fragment dropped (RFC 9449 §4.3)."""
    s = urlsplit(u)
    scheme = s.scheme.lower()
    if s.username is not None or s.password is not None:
        raise ValueError("userinfo")
    port = s.port
    default = {"https": 443, "http": 80}.get(scheme)
    port_part = "" if port is None or port == default else f":{port}"
    return f"{scheme}://{(s.hostname or '').lower()}{port_part}{s.path or '/'}"


PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def check_dpop(proofs, cfg, now, seen):
    """returns the jkt of the one valid proof, None when there is none, or raises Reject(invalid_dpop_proof)."""
    if proofs is None:
        return None
    proofs = proofs if isinstance(proofs, list) else [proofs]
    if len(proofs) != 1:
        raise Reject("invalid_dpop_proof", "dpop-count")
    try:
        h, p, si, sig = parse_jws(proofs[0])
    except (ValueError, UnicodeDecodeError):
        raise Reject("invalid_dpop_proof", "dpop-parse")
    if h.get("typ") != "dpop+jwt":
        raise Reject("invalid_dpop_proof", "dpop-typ")
    jwk = h.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") not in ("EC", "RSA"):
        raise Reject("invalid_dpop_proof", "dpop-jwk")
    if any(m in jwk for m in PRIVATE_JWK_MEMBERS):
        raise Reject("invalid_dpop_proof", "dpop-jwk-private")
    alg = h.get("alg")
    if alg not in cfg["dpop"].get("algorithms", DPOP_ALGS):
        raise Reject("invalid_dpop_proof", "dpop-alg")
    if alg not in key_algs(jwk) or not pyjwt_verify(alg, jwk, si, sig):
        raise Reject("invalid_dpop_proof", "dpop-sig")
    if not isinstance(p.get("jti"), str) or not p["jti"]:
        raise Reject("invalid_dpop_proof", "dpop-jti")
    if p.get("htm") != "POST":
        raise Reject("invalid_dpop_proof", "dpop-htm")
    try:
        if not isinstance(p.get("htu"), str) or normalise_uri(p["htu"]) != normalise_uri(cfg["token_endpoint"]):
            raise ValueError
    except ValueError:
        raise Reject("invalid_dpop_proof", "dpop-htu")
    max_age = cfg["dpop"].get("max_age_secs", 300)
    if not is_int(p.get("iat")) or p["iat"] > now + SKEW or p["iat"] < now - max_age - SKEW:
        raise Reject("invalid_dpop_proof", "dpop-iat")
    jkt = thumbprint(jwk)
    rk = ("dpop", jkt, p["jti"])
    if rk in seen:
        raise Reject("invalid_dpop_proof", "dpop-replay")
    seen.add(rk)
    return jkt


def authenticate(cl, cfg, now, seen):
    clients = {c["client_id"]: c for c in cfg["clients"]}
    if "basic" in cl or "post" in cl:
        method = "client_secret_basic" if "basic" in cl else "client_secret_post"
        cid, secret = cl.get("basic") or cl.get("post")
        c = clients.get(cid)
        if not c or c["token_endpoint_auth_method"] != method or \
                not hmac.compare_digest(sha256_hex(secret), c["client_secret_sha256"]):
            raise Reject("invalid_client", "client_auth")
        return c
    if "none" in cl:
        c = clients.get(cl["none"])
        if not c or c["token_endpoint_auth_method"] != "none":
            raise Reject("invalid_client", "client_auth")
        return c
    if "private_key_jwt" in cl:
        try:
            h, p, si, sig = parse_jws(cl["private_key_jwt"])
            c = clients.get(p.get("iss"))
            if not c or c["token_endpoint_auth_method"] != "private_key_jwt" or p.get("sub") != c["client_id"]:
                raise ValueError("iss")
            if normalise_typ(h.get("typ")) not in (None, "jwt"):
                raise ValueError("typ")
            verify_with_jwks(h, si, sig, c["jwks"])
            if not (p.get("aud") == cfg["issuer"] or p.get("aud") == [cfg["issuer"]]):
                raise ValueError("aud")
            if not is_int(p.get("exp")) or now >= p["exp"] + SKEW:
                raise ValueError("exp")
            if not isinstance(p.get("jti"), str) or not p["jti"]:
                raise ValueError("jti")
            rk = ("client", c["client_id"], p["jti"])
            if rk in seen:
                raise ValueError("replay")
            seen.add(rk)
            return c
        except ValueError:
            raise Reject("invalid_client", "client_auth")
    return None  # anonymous


def check_times(p, ti, now, required_iat):
    skew = ti.get("clock_skew_secs", SKEW)
    maxlife = ti.get("max_lifetime_secs", 3600)
    if not is_int(p["exp"]) or now >= p["exp"] + skew:
        raise Reject("invalid_grant", "exp")
    if p["exp"] > now + maxlife + skew:
        raise Reject("invalid_grant", "lifetime")
    if "iat" in p or required_iat:
        if not is_int(p.get("iat")) or p["iat"] > now + skew or p["iat"] < now - maxlife - skew:
            raise Reject("invalid_grant", "iat")


def resource_list(v):
    return [v] if isinstance(v, str) else list(v)


def reference(case, cfg, seen):
    """(expect-like dict, why, token claims or None)."""
    now = case["now"]
    try:
        client = authenticate(case["client"], cfg, now, seen)
        if client is None:
            raise Reject("invalid_client", "client_required")
        if "authorization_details" in case:
            raise Reject("invalid_authorization_details", "authorization_details")
        jkt = check_dpop(case.get("dpop"), cfg, now, seen)
        if client.get("dpop_bound_access_tokens") and jkt is None:
            raise Reject("invalid_dpop_proof", "dpop_required")

        try:
            h, p, si, sig = parse_jws(case["assertion"])
        except (ValueError, UnicodeDecodeError):
            raise Reject("invalid_grant", "parse")
        is_idjag = normalise_typ(h.get("typ")) == IDJAG_TYP
        iss = p.get("iss")
        tis = [t for t in cfg["trusted_issuers"] if t["issuer"] == iss and t["format"] == "jwt"]
        if not isinstance(iss, str) or not tis:
            raise Reject("invalid_grant", "missing" if iss is None else "iss")
        ti = tis[0]
        profiles = ti.get("profiles", ["jwt-bearer"])
        if is_idjag and "id-jag" not in profiles:
            raise Reject("invalid_grant", "profile")
        if not is_idjag and "jwt-bearer" not in profiles:
            raise Reject("invalid_grant", "typ" if "id-jag" in profiles else "profile")
        if is_idjag and client["token_endpoint_auth_method"] == "none":
            raise Reject("invalid_client", "public_client")
        try:
            verify_with_jwks(h, si, sig, ti["jwks"])
        except ValueError:
            raise Reject("invalid_grant", "sig")

        if is_idjag:
            for claim in REQUIRED_IDJAG:
                if claim not in p:
                    raise Reject("invalid_grant", "missing")
            if not isinstance(p["sub"], str) or not p["sub"] or not isinstance(p["jti"], str) or not p["jti"]:
                raise Reject("invalid_grant", "missing")
            if not (p["aud"] == cfg["issuer"] or p["aud"] == [cfg["issuer"]]):
                raise Reject("invalid_grant", "aud")
            check_times(p, ti, now, required_iat=True)
            if p["client_id"] != client["client_id"]:
                raise Reject("invalid_grant", "client_id")
            if "authorization_details" in p:
                raise Reject("invalid_authorization_details", "authorization_details")
            if "cnf" in p:
                cnf = p["cnf"]
                if not isinstance(cnf, dict) or set(cnf) != {"jkt"} or jkt is None or cnf["jkt"] != jkt:
                    raise Reject("invalid_grant", "cnf")
        else:
            # RFC 7523 §3 (the project's jwt-bearer rules): aud names this AS, sub, exp, jti required
            acc = {cfg["issuer"], cfg["token_endpoint"], *cfg["audiences"]}
            aud = p.get("aud")
            if not (aud in acc if isinstance(aud, str) else isinstance(aud, list) and any(a in acc for a in aud)):
                raise Reject("invalid_grant", "aud")
            if not isinstance(p.get("sub"), str) or not p["sub"] or "exp" not in p:
                raise Reject("invalid_grant", "missing")
            check_times(p, ti, now, required_iat=False)
            if not isinstance(p.get("jti"), str) or not p["jti"]:
                raise Reject("invalid_grant", "missing")
        if "trusted_issuers" in client and iss not in client["trusted_issuers"]:
            raise Reject("invalid_grant", "issuer-not-for-client")
        rk = ("grant", iss, p["jti"])
        if rk in seen:
            raise Reject("invalid_grant", "replay")
        seen.add(rk)

        # ---- scope: ID-JAG scope ∩ request ∩ client ∩ issuer; request beyond the allowance -> invalid_scope
        allowance = set(client.get("scope", "").split())
        if "scope" in ti:
            allowance &= set(ti["scope"].split())
        if is_idjag and isinstance(p.get("scope"), str):
            allowance &= set(p["scope"].split())
        if case.get("scope") is not None:
            req = set(case["scope"].split())
            if not req <= allowance:
                raise Reject("invalid_scope", "scope")
            granted = req
        else:
            granted = allowance

        # ---- resource / aud
        allowed = {cfg["access_token"]["audience"], *cfg["access_token"].get("resources", [])}
        jag_res = resource_list(p["resource"]) if is_idjag and "resource" in p else None
        requested = resource_list(case["resource"]) if "resource" in case else []
        for r in requested:
            if "#" in r or r not in allowed or (jag_res is not None and r not in jag_res):
                raise Reject("invalid_target", "resource")
        if requested:
            aud = requested[0] if len(requested) == 1 else requested
        elif jag_res:
            if any("#" in r or r not in allowed for r in jag_res):
                raise Reject("invalid_target", "resource")
            aud = jag_res[0] if len(jag_res) == 1 else jag_res
        else:
            aud = cfg["access_token"]["audience"]

        token = {"iss": cfg["issuer"], "sub": ti.get("subject_prefix", "") + p["sub"], "idp": iss, "aud": aud,
                 "client_id": client["client_id"], "scope": " ".join(sorted(granted))}
        if jkt:
            token["cnf"] = {"jkt": jkt}
        extra = {}
        if is_idjag:
            extra.update({c: p[c] for c in OPTIONAL_COPIED if c in p})
        extra.update({tc: p[ac] for tc, ac in (ti.get("claims") or {}).items() if ac in p})
        token.update(extra)
        out = {"status": 200, "token_type": "DPoP" if jkt else "Bearer", "sub": token["sub"], "idp": iss,
               "aud": aud, "scope": token["scope"], "cnf_jkt": jkt}
        return out, "valid", token, extra
    except Reject as r:
        return {"status": r.status, "error": r.error}, r.why, None, None


def compare(where, got, why, token, extra, exp, flags):
    problems = []
    if exp["status"] != 200:
        if got != exp:
            problems.append(f"{where}: expected {exp}, reference gives {got} ({why})")
    else:
        core = {k: exp[k] for k in ("status", "token_type", "sub", "idp", "aud", "scope", "cnf_jkt")}
        if got != core:
            problems.append(f"{where}: expected {core}, reference gives {got} ({why})")
        elif extra != exp["claims"]:
            problems.append(f"{where}: token claims {extra} != expected {exp['claims']}")
        elif any(a in token for a in exp["absent"]):
            problems.append(f"{where}: claims {exp['absent']} must be absent, token {sorted(token)}")
    if flags is not None:
        # a refused DPoP proof: flags[0] "dpop", flags[1] the proof check that failed
        want = ["dpop", why[5:]] if why.startswith("dpop-") and why != "dpop-replay" else [why]
        if flags[:len(want)] != want:
            problems.append(f"{where}: intended reason {flags[:len(want)]!r}, reference reason {want!r}")
    return problems


# ---------------------------------------------------------------------------
# PyJWT cross-checks
# ---------------------------------------------------------------------------


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(NOW, tz or _dt.timezone.utc)


def pyjwt_decode(token, jwks_keys, audience, issuer, require):
    """PyJWT's own jwt.decode at the fixed clock, trying the keys the kid selects."""
    header = pyjwt.get_unverified_header(token)
    cands = [k for k in jwks_keys if "kid" not in header or k.get("kid") == header["kid"]]
    orig = _pyjwt_api_jwt.datetime
    _pyjwt_api_jwt.datetime = _FixedDatetime
    try:
        errs = []
        for k in cands:
            try:
                opts = {"require": list(require)}
                if audience is None:
                    opts["verify_aud"] = False
                return pyjwt.decode(token, pyjwt.PyJWK(k, algorithm=header["alg"]).key, algorithms=[header["alg"]],
                                    audience=audience, issuer=issuer, leeway=SKEW, options=opts)
            except pyjwt.PyJWTError as e:
                errs.append(e)
        raise AssertionError(f"PyJWT rejected a token meant to be valid: {errs}")
    finally:
        _pyjwt_api_jwt.datetime = orig


def pyjwt_checks(where, req, cfg):
    """Every signature of a request that is meant to verify is re-verified with PyJWT's jwt.decode."""
    tis = {t["issuer"]: t for t in cfg["trusted_issuers"]}
    a = pyjwt.decode(req["assertion"], options={"verify_signature": False})
    h = pyjwt.get_unverified_header(req["assertion"])
    ti = tis[a["iss"]]
    if normalise_typ(h.get("typ")) == IDJAG_TYP:
        c = pyjwt_decode(req["assertion"], ti["jwks"]["keys"], AS_ISSUER, ti["issuer"], REQUIRED_IDJAG)
    else:
        c = pyjwt_decode(req["assertion"], ti["jwks"]["keys"], TOKEN_ENDPOINT, ti["issuer"], ("exp", "sub", "jti"))
    assert c == a, where
    cl = req["client"].get("private_key_jwt")
    if cl:
        cc = next(x for x in cfg["clients"] if x["client_id"] == "jwt-agent")
        pyjwt_decode(cl, cc["jwks"]["keys"], AS_ISSUER, "jwt-agent", ("exp", "sub", "iss", "aud", "jti"))
    proofs = req.get("dpop")
    for pr in ([proofs] if isinstance(proofs, str) else proofs or []):
        jwk = pyjwt.get_unverified_header(pr)["jwk"]
        pyjwt_decode(pr, [jwk], None, None, ("jti", "htm", "htu", "iat"))


# ---------------------------------------------------------------------------
# Authlib cross-check (optional)
# ---------------------------------------------------------------------------

# Cases where Authlib's IDJAGGrant assertion checks (typ, signature, required claims, aud, exp/iat, cnf) are
# expected to come to a different verdict than this contract; every other ID-JAG vector must agree.
AUTHLIB_DIFFERS = {
    "idjag-typ-application-prefix": "Authlib compares typ exactly; the contract accepts the application/ prefix",
    "idjag-typ-mixed-case": "Authlib compares typ case-sensitively; the contract compares case-insensitively",
    "idjag-aud-array-two": "Authlib (joserfc) accepts an aud array with ANY allowed element; the contract wants "
                           "exactly the AS issuer",
    "idjag-lifetime-too-long": "Authlib has no maximum assertion lifetime",
    "idjag-authorization-details-claim": "Authlib ignores authorization_details in the ID-JAG",
    "idjag-cnf-jkt-match": "Authlib refuses every ID-JAG carrying cnf (no DPoP support, draft §9.11)",
}
# flags[0] of cases refused because of the assertion itself (Authlib should refuse those too)
ASSERTION_TAGS = {"aud", "missing", "typ", "profile", "sig", "iss", "exp", "lifetime", "iat", "cnf",
                  "authorization_details"}


def authlib_crosscheck(g: Gen, cases, cfg, problems):
    """Returns a one-line note for the summary. Appends to problems on any unexpected disagreement."""
    try:
        import authlib
        from authlib.oauth2.drafts import IDJAGGrant
        from authlib.oauth2.rfc6749 import InvalidGrantError
        from joserfc.jwk import ECKey, KeySet, RSAKey
        import joserfc._rfc7519.claims as _jclaims
    except ImportError:
        return "Authlib with ID-JAG support (authlib.oauth2.drafts.IDJAGGrant) not installed: cross-check skipped"
    keys = g.keys

    def jkey(stem):
        jwk = keys[stem]["jwk"]
        return (RSAKey if jwk["kty"] == "RSA" else ECKey).import_key(jwk)

    by_name = {c["name"]: c for c in cases}
    # 1. mint the happy path and the RS256 ID-JAG with Authlib's IDJAGGrant.sign()
    for name, stem, alg, whole in (("idjag-valid-es256", "jag-idp-ec-1", "ES256", False),
                                   ("idjag-valid-rs256", "jag-idp-rsa-1", "RS256", True)):
        minted = IDJAGGrant.sign(jkey(stem), ENT, AS_ISSUER, "alice", "agent-app", jti=f"idjag-{name}",
                                 issued_at=NOW - 10, expires_at=NOW + 300, claims=copy.deepcopy(HAPPY_EXTRA),
                                 alg=alg, header={"kid": stem})
        ours = by_name[name]["assertion"]
        if whole and minted != ours:
            problems.append(f"authlib: {name}: Authlib's token differs from ours")
        if minted.rsplit(".", 1)[0] != ours.rsplit(".", 1)[0]:
            problems.append(f"authlib: {name}: Authlib's header.payload differs from ours")
        ti = cfg["trusted_issuers"][0]
        pyjwt_decode(minted, ti["jwks"]["keys"], AS_ISSUER, ENT, REQUIRED_IDJAG)  # Authlib's own signature
    # 2. Authlib's thumbprint (joserfc, RFC 7638) = ours
    for stem in ("dpop-ec-1", "dpop-ec-2", "dpop-rsa-1"):
        if jkey(stem).thumbprint() != thumbprint(keys[stem]["jwk"]):
            problems.append(f"authlib: joserfc thumbprint of {stem} differs from ours")

    # 3. Authlib's ID-JAG assertion checks over every ID-JAG vector
    class Grant(IDJAGGrant):
        def get_audiences(self):
            return [AS_ISSUER]

        def resolve_issuer_key(self, issuer, headers):
            for t in cfg["trusted_issuers"]:
                if t["issuer"] == issuer and "id-jag" in t.get("profiles", ["jwt-bearer"]):
                    return KeySet.import_key_set(t["jwks"])
            raise InvalidGrantError(description="untrusted issuer")

    class _Clock:
        @staticmethod
        def time():
            return NOW

    grant = Grant.__new__(Grant)
    orig = _jclaims.time
    _jclaims.time = _Clock
    agree = differ = 0
    try:
        for c in cases:
            if "rfc7523" in c["flags"]:
                continue
            try:
                grant._process_assertion_claims(c["assertion"])
                accepted = True
            except Exception:
                accepted = False
            ours = c["flags"][0] not in ASSERTION_TAGS or "request" in c["flags"]  # refused for a request parameter
            if (accepted == ours) == (c["name"] in AUTHLIB_DIFFERS):
                problems.append(f"authlib: {c['name']}: Authlib {'accepts' if accepted else 'refuses'} the "
                                f"assertion; {'listed' if c['name'] in AUTHLIB_DIFFERS else 'not listed'} in "
                                "AUTHLIB_DIFFERS")
            if accepted == ours:
                agree += 1
            else:
                differ += 1
    finally:
        _jclaims.time = orig
    return (f"Authlib {authlib.__version__} IDJAGGrant: minted idjag-valid-es256 (header.payload identical) and "
            f"idjag-valid-rs256 (whole token identical); its assertion checks agree on {agree} ID-JAG vectors and "
            f"differ, as listed, on {differ}")


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def render(keys):
    """Build everything; return ({relative path: bytes}, Gen)."""
    cfg = build_config(keys)
    g = build_cases(keys)
    replay = build_replay(g)

    def dump(obj):
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    return {"config.json": dump(cfg), "vectors.json": dump(g.cases), "replay.json": dump(replay)}, g, cfg, replay


def self_check(g: Gen, cfg, replay):
    problems = []
    cases = g.cases
    # thumbprint code vs. RFC 7638 §3.1
    if thumbprint(RFC7638_EXAMPLE[0]) != RFC7638_EXAMPLE[1]:
        problems.append("thumbprint() does not reproduce the RFC 7638 §3.1 example")
    # configuration: secrets, key sizes, curve points, no key shared, no private member
    for c in cfg["clients"]:
        if "client_secret_sha256" in c:
            assert re.fullmatch(r"[0-9a-f]{64}", c["client_secret_sha256"])
    seen_keys = set()
    for owner in cfg["trusted_issuers"] + cfg["clients"]:
        for k in owner.get("jwks", {}).get("keys", []):
            assert not any(m in k for m in PRIVATE_JWK_MEMBERS), k["kid"]
            pk = key_from_jwk(k)  # cryptography checks the EC point is on the curve
            if k["kty"] == "RSA":
                assert pk.key_size >= 2048
            ident = (k.get("n"), k.get("x"))
            assert ident not in seen_keys, f"key {k['kid']} configured twice"
            seen_keys.add(ident)
    attacker = g.keys["attacker-ec-1"]["jwk"]["x"]
    assert attacker not in {k[1] for k in seen_keys}, "attacker-ec-1 must be in no configuration"

    # every JWS decodes back to exactly the header and claims it was built from
    for tok, header, payload in g.built:
        h, p, _, _ = parse_jws(tok)
        if h != header or p != payload:
            problems.append(f"round trip: {payload.get('jti')} decodes to other content")

    # vectors: reference validator (one shared replay store: all jti values are unique), PyJWT
    store = set()
    for c in cases:
        got, why, token, extra = reference(c, cfg, store)
        problems += compare(c["name"], got, why, token, extra, c["expect"], c["flags"])
        if c["expect"]["status"] == 200:
            pyjwt_checks(c["name"], c, cfg)
        exp = c["expect"]
        assert exp["status"] == 200 or set(exp) == {"status", "error"}, c["name"]
        assert c["now"] == NOW
    # the intended claims: every valid ID-JAG carries all required claims; the happy path all optional ones
    for c in cases:
        h, p, _, _ = parse_jws(c["assertion"])
        if c["expect"]["status"] == 200 and normalise_typ(h.get("typ")) == IDJAG_TYP:
            missing = [x for x in REQUIRED_IDJAG if x not in p]
            if missing:
                problems.append(f"{c['name']}: valid ID-JAG lacks {missing}")
        if "happy-path" in c["flags"]:
            if h != {"typ": IDJAG_TYP, "kid": "jag-idp-ec-1", "alg": "ES256"}:
                problems.append("happy path: wrong header")
            for k, v in HAPPY_EXTRA.items():
                if p.get(k) != v:
                    problems.append(f"happy path: claim {k} is {p.get(k)!r}, intended {v!r}")
            want = {"iss": ENT, "sub": "alice", "aud": AS_ISSUER, "client_id": "agent-app", "iat": NOW - 10,
                    "exp": NOW + 300}
            problems += [f"happy path: {k}" for k, v in want.items() if p.get(k) != v]
    for c in cases:
        if "dpop" in c and "dpop" in c["flags"] and c["expect"]["status"] == 200:
            for pr in [c["dpop"]] if isinstance(c["dpop"], str) else c["dpop"]:
                h, p, _, _ = parse_jws(pr)
                assert h["typ"] == "dpop+jwt" and "jwk" in h and set(p) == {"jti", "htm", "htu", "iat"}, c["name"]
    # unique names and unique jti values (assertions, client assertions, proofs) across vectors.json
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names))
    jtis = []
    for c in cases:
        toks = [c["assertion"], c["client"].get("private_key_jwt")]
        d = c.get("dpop")
        toks += [d] if isinstance(d, str) else (d or [])
        for t in toks:
            try:
                p = parse_jws(t)[1]
            except (ValueError, UnicodeDecodeError):
                continue
            if "jti" in p:
                jtis.append(p["jti"])
    dup = sorted({j for j in jtis if jtis.count(j) > 1})
    if dup:
        problems.append(f"duplicate jti across vectors: {dup}")

    # replay scenarios: each against its own store, and all of them against one store after vectors.json
    shared = set(store)
    for store_of in (lambda: set(), lambda: shared):
        for sc in replay:
            s = store_of()
            for i, req in enumerate(sc["requests"]):
                got, why, token, extra = reference(dict(req, now=sc["now"]), cfg, s)
                problems += compare(f"replay {sc['name']}[{i}]", got, why, token, extra, req["expect"], None)
                if req["expect"]["status"] == 200:
                    pyjwt_checks(f"replay {sc['name']}[{i}]", req, cfg)
                elif why not in ("replay", "dpop-replay"):
                    problems.append(f"replay {sc['name']}[{i}]: refused for {why}, not as a replay")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--new-keys", action="store_true", help="generate fresh keys (overwrites keys/*.json)")
    ap.add_argument("--check", action="store_true", help="write nothing; fail if the files on disk differ")
    args = ap.parse_args()

    keys = load_keys(args.new_keys, write=not args.check)
    files, g, cfg, replay = render(keys)
    problems = self_check(g, cfg, replay)
    files2 = render(keys)[0]
    if files2 != files:
        problems.append("two renders in one run differ: the output is not deterministic")
    note = authlib_crosscheck(g, g.cases, cfg, problems)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)

    if args.check:
        stale = [n for n, b in files.items() if not (HERE / n).exists() or (HERE / n).read_bytes() != b]
        if stale:
            sys.exit(f"out of date: {', '.join(stale)}")
    else:
        for n, b in files.items():
            (HERE / n).write_bytes(b)
    pos = sum(1 for c in g.cases if c["expect"]["status"] == 200)
    steps = sum(len(sc["requests"]) for sc in replay)
    print(f"{'checked' if args.check else 'wrote'} {len(g.cases)} cases ({pos} positive, {len(g.cases) - pos} "
          f"negative), {len(replay)} replay scenarios ({steps} requests); all self-checks passed")
    print(note)


if __name__ == "__main__":
    main()

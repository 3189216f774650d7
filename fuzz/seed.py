#!/usr/bin/env python3
"""Writes seed inputs into fuzz/corpus/<target>/ from tests/vectors/.

Each seed file is named after its content's SHA-1 (as libFuzzer names
corpus entries), so re-seeding is idempotent and never duplicates. Inputs
longer than libFuzzer's -max_len (65536) are skipped.
"""
import base64
import hashlib
import json
import pathlib
import re
import sys
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[1]
VEC = ROOT / "tests/vectors"
CORPUS = ROOT / "fuzz/corpus"
MAX_LEN = 65536

GRANT_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_SAML2 = "urn:ietf:params:oauth:grant-type:saml2-bearer"
CLIENT_JWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_SAML2 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
SAML_EC = "https://saml-ec-idp.example.com"

counts: dict[str, int] = {}


def put(target: str, data: bytes | str) -> None:
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_LEN or not data:
        return
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    f = d / hashlib.sha1(data).hexdigest()
    if not f.exists():
        f.write_bytes(data)
        counts[target] = counts.get(target, 0) + 1


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def form(pairs) -> str:
    return "&".join(f"{k}={urllib.parse.quote(v, safe='-._~')}" for k, v in pairs)


# token_request header bytes (see fuzz_targets/token_request.rs).
AUTH_NONE, AUTH_BASIC_OK, AUTH_BASIC_WRONG, AUTH_LIMITED = 0, 2, 4, 5
AUTH_JWT_ONLY, AUTH_POST_CLIENT, AUTH_BASIC_CUSTOM, AUTH_RAW = 6, 7, 8, 9


def token_request(body: str, auth: int = AUTH_NONE, method: int = 0, ct: int = 0, line: str | None = None) -> None:
    head = bytes([method, ct, auth])
    if line is not None:
        put("token_request", head + line.encode() + b"\n" + body.encode())
    else:
        put("token_request", head + body.encode())


def client_request(client: dict, grant: str, assertion: str) -> None:
    pairs = [("grant_type", grant), ("assertion", assertion)]
    auth = AUTH_NONE
    line = None
    if "basic" in client:
        cid, secret = client["basic"]
        auth = {("basic-client", "basic-secret"): AUTH_BASIC_OK,
                ("basic-client", "wrong-secret"): AUTH_BASIC_WRONG,
                ("limited-client", "limited-secret"): AUTH_LIMITED,
                ("jwt-only-client", "jwt-only-secret"): AUTH_JWT_ONLY}.get((cid, secret))
        if auth is None:
            auth, line = AUTH_BASIC_CUSTOM, f"{urllib.parse.quote(cid)}:{urllib.parse.quote(secret)}"
    elif "post" in client:
        cid, secret = client["post"]
        pairs += [("client_id", cid), ("client_secret", secret)]
    elif "none" in client:
        pairs.append(("client_id", client["none"]))
    elif "private_key_jwt" in client:
        pairs += [("client_id", "jwt-client"), ("client_assertion_type", CLIENT_JWT),
                  ("client_assertion", client["private_key_jwt"])]
    elif "saml_client_assertion" in client:
        pairs += [("client_id", "saml-client"), ("client_assertion_type", CLIENT_SAML2),
                  ("client_assertion", b64url(client["saml_client_assertion"].encode()))]
    token_request(form(pairs), auth, line=line)


def jws_parts(token: str):
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return b64url_decode(parts[0]), b64url_decode(parts[1])
    except Exception:
        return None


def strip_signature(xml: str) -> str:
    return re.sub(r"<(\w+:)?Signature\b.*?</(\w+:)?Signature>", "", xml, count=1, flags=re.S)


def main() -> None:
    jwt_vectors = json.loads((VEC / "jwt/vectors.json").read_text())
    saml_vectors = json.loads((VEC / "saml/vectors.json").read_text())
    c14n_cases = json.loads((VEC / "saml/c14n/cases.json").read_text())

    # --- JWT ---------------------------------------------------------------
    for v in jwt_vectors:
        a = v["assertion"]
        put("jwt", a)
        client = v.get("client", {})
        if "private_key_jwt" in client:
            put("jwt", client["private_key_jwt"])
        client_request(client, GRANT_JWT, a)
        if v.get("scope"):
            token_request(form([("grant_type", GRANT_JWT), ("assertion", a), ("scope", v["scope"])]),
                          AUTH_BASIC_OK)
        p = jws_parts(a)
        if p:
            header, payload = p
            put("jwt_resigned", payload)
            put("jwt_resigned", header + b"\0" + payload)

    # --- SAML --------------------------------------------------------------
    for v in saml_vectors:
        xml = v["xml"]
        raw = xml.encode("latin-1") if v.get("xml_charset", "").lower() in ("iso-8859-1", "latin-1") else xml.encode()
        for t in ("xml_parse", "xmldsig_verify", "saml_assertion"):
            put(t, raw)
        put("c14n", b"\x00\x00" + raw)
        put("c14n", b"\xff\x01" + raw)
        unsigned = strip_signature(xml)
        put("saml_resigned", unsigned.replace("https://saml-idp.example.com", SAML_EC).encode())
        client = v.get("client", {})
        if len(raw) < 6000:
            client_request(client, GRANT_SAML2, b64url(raw))
    # A few encodings the assertion parameter accepts or refuses, as raw
    # parameter text (the harness form-encodes the bytes as they are).
    small = min((v["xml"].encode() for v in saml_vectors if v.get("encoding") == "base64url"), key=len)
    for text in (base64.b64encode(small), base64.urlsafe_b64encode(small), b64url(small).encode(),
                 base64.encodebytes(small), b"PHNhbWw6QXNzZXJ0aW9uLz4"):
        put("saml_assertion", text)

    for case in c14n_cases:
        inp = case["input"].encode()
        put("xml_parse", inp)
        mask = 0
        for p in case.get("inclusive_prefixes") or []:
            mask |= 0x20 if p in ("#default", None) else 0x01
        put("c14n", bytes([mask, 0]) + inp)
        put("c14n", bytes([0xff, 3]) + inp)

    for f in sorted((VEC / "saml/metadata").glob("*.xml")):
        put("saml_metadata", f.read_bytes())
        put("xml_parse", f.read_bytes())
        put("c14n", b"\x03\x00" + f.read_bytes())

    # --- Configuration and keys ---------------------------------------------
    configs = [VEC / "jwt/config.json", VEC / "saml/config.json", ROOT / "src/demo_config.json"]
    configs += sorted((VEC / "jwt/config_invalid").glob("*.json"))
    for f in configs:
        text = f.read_text()
        put("config", text)
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        for entry in doc.get("trusted_issuers", []) + doc.get("clients", []):
            if isinstance(entry, dict) and isinstance(entry.get("jwks"), dict):
                put("jwk", json.dumps(entry["jwks"]))
                for k in entry["jwks"].get("keys", []):
                    put("jwk", json.dumps(k))
    for f in sorted((VEC / "jwt/keys").glob("*.json")):
        put("jwk", f.read_bytes())
        put("jwt_resigned", b'{"alg":"ES256","kid":"idp-ec-1","typ":"JWT"}\0' + f.read_bytes())
    saml_keys = json.loads((ROOT / "fuzz/keys/saml-keys.json").read_text())
    for entry in saml_keys.values():
        put("jwk", json.dumps(entry["public"]))
        if "d" in entry:
            put("jwk", json.dumps(dict(entry["public"], d=entry["d"])))
    put("jwk", json.dumps({"keys": [e["public"] for e in saml_keys.values()]}))

    # --- Hand-written requests ---------------------------------------------
    token_request("grant_type=client_credentials", AUTH_BASIC_OK)
    token_request("grant_type=" + GRANT_JWT + "&assertion=a.b.c&scope=read+write&resource=x", AUTH_POST_CLIENT)
    token_request(form([("grant_type", GRANT_JWT), ("assertion", "x.y.z")]), AUTH_RAW, line="Basic Og==")
    token_request(form([("grant_type", GRANT_JWT), ("assertion", "x.y.z"), ("grant_type", GRANT_JWT)]))
    token_request("grant_type=" + GRANT_SAML2 + "&assertion=PHg%2BPC94Pg&client_id=saml-client", AUTH_NONE, ct=7,
                  line="application/x-www-form-urlencoded; charset=utf-8")

    # --- DPoP proofs -----------------------------------------------------------
    for v in json.loads((VEC / "idjag/vectors.json").read_text()):
        proofs = v.get("dpop") or []
        for proof in [proofs] if isinstance(proofs, str) else proofs:
            put("dpop_proof", b"\0" + proof.encode())
            p = jws_parts(proof)
            if p:
                header, payload = p
                put("dpop_proof", b"\1" + header + b"\n" + payload)

    for t in sorted(counts):
        print(f"  {t}: {counts[t]} new seed(s)")
    total = {d.name: len(list(d.iterdir())) for d in sorted(CORPUS.iterdir()) if d.is_dir()}
    print("corpus sizes: " + ", ".join(f"{k}={v}" for k, v in total.items()))


if __name__ == "__main__":
    sys.exit(main())

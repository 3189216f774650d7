#!/usr/bin/env python3
"""Writes SAML 2.0 IdP metadata fixtures for the metadata-import tests.

Run: python3 tests/vectors/saml/metadata/gen_metadata.py
Uses the test certificates in ../keys (made by ../gen_saml.py). The files
follow SAML metadata §2.4.3 as IdPs publish them (Shibboleth/ADFS/Okta
style): an EntityDescriptor with an IDPSSODescriptor whose KeyDescriptors
carry base64 DER certificates wrapped at 64 columns.
"""
import base64, datetime, pathlib, textwrap
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

HERE = pathlib.Path(__file__).resolve().parent
KEYS = HERE.parent / "keys"

def ensure_ca():
    """A CA certificate (basicConstraints cA=TRUE) that IdPs sometimes list beside their
    signing certificate; made once and kept in ../keys (test-only)."""
    if (KEYS / "metadata-ca.crt.pem").exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test IdP Issuing CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    (KEYS / "metadata-ca.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (KEYS / "metadata-ca.key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

def der_b64(name):
    cert = x509.load_pem_x509_certificate((KEYS / f"{name}.crt.pem").read_bytes())
    b = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return "\n" + "\n".join(textwrap.wrap(b, 64)) + "\n"

def key_descriptor(name, use, chain=()):
    use_attr = f' use="{use}"' if use else ""
    certs = "".join(f"<ds:X509Certificate>{der_b64(n)}</ds:X509Certificate>" for n in (name, *chain))
    return (f'<md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data>{certs}'
            '</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>')

def entity(entity_id, descriptors):
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            + "".join(descriptors) +
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://saml-idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')

ensure_ca()
files = {
    # Rollover: two signing certificates (one without use=), the first with its issuing CA beside it
    # (a CA must never become a signing key), and an encryption key that must be ignored.
    "idp-metadata.xml": '<?xml version="1.0" encoding="UTF-8"?>\n' + entity("https://saml-idp.example.com", [
        key_descriptor("saml-idp", "signing", chain=("metadata-ca",)), key_descriptor("other-saml-idp", None),
        key_descriptor("attacker-rsa", "encryption")]),
    "no-signing-key.xml": entity("https://saml-idp.example.com", [key_descriptor("saml-idp", "encryption")]),
    "not-metadata.xml": '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>',
}
for name, text in files.items():
    (HERE / name).write_text(text)
print("wrote", ", ".join(files))

#!/usr/bin/env python3
"""Writes SAML 2.0 IdP metadata fixtures for the metadata-import tests.

Run: python3 tests/vectors/saml/metadata/gen_metadata.py
Uses the test certificates in ../keys (made by ../gen_saml.py). The files
follow SAML metadata §2.4.3 as IdPs publish them (Shibboleth/ADFS/Okta
style): an EntityDescriptor with an IDPSSODescriptor whose KeyDescriptors
carry base64 DER certificates wrapped at 64 columns.
"""
import base64, pathlib, textwrap
from cryptography import x509
from cryptography.hazmat.primitives import serialization

HERE = pathlib.Path(__file__).resolve().parent
KEYS = HERE.parent / "keys"

def der_b64(name):
    cert = x509.load_pem_x509_certificate((KEYS / f"{name}.crt.pem").read_bytes())
    b = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return "\n" + "\n".join(textwrap.wrap(b, 64)) + "\n"

def key_descriptor(name, use):
    use_attr = f' use="{use}"' if use else ""
    return (f'<md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der_b64(name)}'
            '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>')

def entity(entity_id, descriptors):
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            + "".join(descriptors) +
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://saml-idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')

files = {
    # Rollover: two signing certificates (one without use=), one encryption key that must be ignored.
    "idp-metadata.xml": '<?xml version="1.0" encoding="UTF-8"?>\n' + entity("https://saml-idp.example.com", [
        key_descriptor("saml-idp", "signing"), key_descriptor("other-saml-idp", None),
        key_descriptor("attacker-rsa", "encryption")]),
    "no-signing-key.xml": entity("https://saml-idp.example.com", [key_descriptor("saml-idp", "encryption")]),
    "not-metadata.xml": '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>',
}
for name, text in files.items():
    (HERE / name).write_text(text)
print("wrote", ", ".join(files))

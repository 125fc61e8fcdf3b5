"""The bench's TLS policy, shared by the TLS contexts it builds and the rules that judge peers.

TLS 1.2 is the minimum; for 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM,
CHACHA20-POLY1305), for 1.3 OpenSSL's default suites (all AEAD). An IGC-Santé ORG
certificate carries the organisation's IDNST (`3` + its 14-digit SIRET) in its subject OU.
"""

from __future__ import annotations

import re

TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
TLS13_CIPHERS = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
ALLOWED_CIPHERS = frozenset(TLS12_CIPHERS) | TLS13_CIPHERS
OLD_PROTOCOLS = frozenset({"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"})
IDNST = re.compile(r"^3\d{14}$")
#: extendedKeyUsage OIDs (RFC 5280 §4.2.1.12)
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

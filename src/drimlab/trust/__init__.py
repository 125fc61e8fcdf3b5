"""Trust: the test PKI, TLS contexts, peer-certificate facts and the DRIM-M whitelist."""

"""Real peers (Orthanc, an nginx mTLS front) and byte-exact HTTP captures for tests."""

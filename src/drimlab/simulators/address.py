"""The address a consumer under test should use to reach the server simulator.

The simulator listens on an IP address (127.0.0.1 by default), but a DRIM-M consumer checks the
source's host against its certificate and against the whitelist: both name the host of the
bench's `source` certificate (`localhost` on the default PKI). So when the simulator listens on
a loopback or wildcard address, the URL it announces uses that host name, not the address.

    public_host("127.0.0.1", env)        # 'localhost'
    public_host("192.0.2.10", env)       # '192.0.2.10' (an address the user chose)
"""

from __future__ import annotations

from drimlab.simulators.environment import SOURCE_CERT, BenchEnvironment

LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})


def public_host(listen_host: str, env: BenchEnvironment) -> str:
    """The host name the certificate and the whitelist use for an address we listen on."""
    if listen_host not in LOOPBACK_OR_ANY:
        return listen_host
    hosts = env.pki.entry(SOURCE_CERT).hosts
    return hosts[0] if hosts else listen_host


def public_origin(scheme: str, listen_host: str, port: int, env: BenchEnvironment) -> str:
    """`scheme://host:port` as a consumer should write it (see `public_host`)."""
    host = public_host(listen_host, env)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"

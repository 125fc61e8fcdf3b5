"""docs/deploy.md documents what exists: its nginx front is the one the tests run
(`PortalFront`), and every drimlab command and option it names is one the CLI has."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from drimlab.testing.nginx_front import front_conf

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
DRIMLAB = str(Path(sys.executable).parent / "drimlab")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), re.S | re.M)


def _directives(text: str) -> set[str]:
    """The proxy and TLS directives of a location or server block, whitespace-normalised."""
    kept = ("proxy_", "ssl_protocols", "ssl_verify", "ssl_client", "client_max_body_size")
    lines = (" ".join(line.split("#")[0].split()) for line in text.splitlines())
    return {line for line in lines if line.startswith(kept) and "_temp_path" not in line}


def test_the_documented_nginx_front_is_the_one_the_tests_run() -> None:
    documented, with_certificates = _blocks("nginx")
    tested = front_conf(
        prefix=Path("/p"),
        port=443,
        upstreams=["127.0.0.1:8001"],
        cert_file=Path("c.pem"),
        key_file=Path("k.pem"),
    )
    assert _directives(documented) == _directives(tested)
    assert "proxy_next_upstream" in documented and "ssl_verify_client" not in documented
    secret = "S" * 32
    tested = front_conf(
        prefix=Path("/p"),
        port=443,
        upstreams=["127.0.0.1:8001"],
        cert_file=Path("c.pem"),
        key_file=Path("k.pem"),
        client_ca=Path("/srv/drimlab/pki/ca/bundle.pem"),
        front_secret=secret,
    )
    assert _directives(with_certificates.replace("THE-FRONT-SECRET", secret)) == _directives(tested)


def test_every_documented_command_and_option_exists() -> None:
    lines = [
        line.split("#")[0]
        for block in _blocks("sh")
        for line in block.splitlines()
        if line.startswith("drimlab ")
    ]
    lines += re.findall(r"ExecStart=\S+/(drimlab [^\n`]+)", DOC.read_text())
    assert len(lines) >= 6
    helps: dict[tuple[str, ...], str] = {}
    for line in lines:
        words = shlex.split(line.replace("<", "").replace(">", ""))[1:]
        command = tuple(w for w in words[:2] if not w.startswith("-") and w[0].islower())
        command = command if command[:1] == ("admin",) else command[:1]
        if command not in helps:
            helps[command] = subprocess.run(
                [DRIMLAB, *command, "--help"],
                capture_output=True,
                text=True,
                check=True,
                env={"COLUMNS": "300", "TERM": "dumb", "PATH": "/usr/bin:/bin"},
            ).stdout
        for option in (w.split("=")[0] for w in words if w.startswith("--")):
            assert option in helps[command], (line, option)

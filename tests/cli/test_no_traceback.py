"""No traceback reaches a user (issue 17): every CLI command, driven with missing, empty,
truncated and binary files and with out-of-range numbers, answers one error line, exit 2.

The command tree is read from the Typer app, so a new command or a new file or number option
fails here until it is classified below (an input of some kind, or an output).
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from drimlab.cli import app, run
from drimlab.config import Settings
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.runner import free_port
from drimlab.store import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAM = "radio-thorax"
SOURCE = "DRIM-M_SO_REPONSE_WADO"
INPUT_KINDS = ("missing", "empty", "truncated", "binary")
OUTPUT_KINDS = ("in a missing folder", "over a folder")
DIR_OUTPUT_KINDS = ("in a missing folder", "over a file")


def _base_type(annotation: object) -> object:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list:
        return _base_type(args[0])
    if args and type(None) in args:
        return _base_type(next(a for a in args if a is not type(None)))
    return annotation


def _commands() -> dict[str, typing.Any]:
    found: dict[str, typing.Any] = {}

    def walk(command: typing.Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()

# -- how each command is called when one of its arguments is the bad one --------------------
# positional arguments by name, then options; "@name" is a file of `Samples`.
POSITIONAL: dict[str, dict[str, str]] = {
    "dataset import": {"source": "@image"},
    "dataset export": {"exam": EXAM, "directory": "@new_dir"},
    "dataset export-kos": {"exam": EXAM, "file": "@new_file"},
    "dataset read-kos": {"file": "@kos"},
    "dataset export-xdm": {"exam": EXAM, "file": "@new_file"},
    "dataset export-pnr": {"exam": EXAM, "file": "@new_file"},
    "validate request": {"file": "@request"},
    "validate response": {"file": "@response"},
    "validate har": {"file": "@har"},
    "validate kos": {"file": "@kos"},
    "validate xds": {"file": "@xds"},
    "validate xdm": {"file": "@xdm"},
    "token verify": {"token": "not.a.token"},
    "whitelist show": {"file": "@whitelist"},
    "whitelist verify": {"file": "@whitelist"},
    "whitelist sign": {"source": "@whitelist", "output": "@new_file"},
    "scenario run": {"scenario_id": SOURCE},
    "admin bind-certificate": {"login": "nobody", "certificate": "@cert"},
    "scenario resume": {"run_id": "@run"},
    "evidence export": {"run_id": "@run", "target": "@new_file"},
    "evidence verify": {"bundle": "@bundle"},
    "pki issue": {"name": "extra"},
    "health": {"url": "@closed_url"},
}
OPTIONS: dict[str, list[str]] = {
    "serve": ["--port", "@busy", "--crl-port", "0"],
    "start": ["--port", "@busy", "--crl-port", "0"],
    "retrieve": ["--kos", "@kos", "--timeout", "5"],
    "probe": ["--kos", "@kos", "--timeout", "5", "--burst", "0"],
    "health": ["--kos", "@kos", "--timeout", "5"],
    "validate cross": ["--kos", "@kos"],
    "whitelist verify": ["--bench"],
    "scenario run": ["--auto", "-i", "base_url=@closed_url"],
    "scenario resume": ["--auto"],
    "pki issue": ["--host", "extra.test", "--ou", "300000000000002", "--organisation", "X"],
    "proxy": ["--upstream", "https://localhost:1", "--port", "@busy"],
}
# options that only go with another one
PARTNERS: dict[tuple[str, str], list[str]] = {
    ("retrieve", "cert"): ["--key", "@key"],
    ("retrieve", "key"): ["--cert", "@cert"],
    ("probe", "cert"): ["--key", "@key"],
    ("probe", "key"): ["--cert", "@cert"],
    ("health", "cert"): ["--key", "@key"],
    ("health", "key"): ["--cert", "@cert"],
    ("evidence export", "key"): ["--cert", "@cert"],
    ("evidence export", "cert"): ["--key", "@key"],
    ("proxy", "cert"): ["--key", "@key"],
    ("proxy", "key"): ["--cert", "@cert"],
    ("proxy", "upstream_cert"): ["--upstream-key", "@key"],
    ("proxy", "upstream_key"): ["--upstream-cert", "@cert"],
}
CLIENTS = ("retrieve", "probe", "health")
# what each file parameter is: the kind of input it reads, or an output
INPUTS: dict[tuple[str, str], str] = {
    ("serve", "jwks"): "jwks",
    ("admin bind-certificate", "certificate"): "cert",
    ("dataset import", "source"): "image",
    ("dataset read-kos", "file"): "kos",
    ("validate request", "file"): "request",
    ("validate request", "kos"): "kos",
    ("validate response", "file"): "response",
    ("validate response", "request"): "request",
    ("validate response", "kos"): "kos",
    ("validate har", "file"): "har",
    ("validate har", "kos"): "kos",
    ("validate kos", "file"): "kos",
    ("validate xds", "file"): "xds",
    ("validate cross", "kos"): "kos",
    ("validate cross", "xds"): "xds",
    ("validate cross", "cda"): "cda",
    ("validate cross", "image"): "image",
    ("validate cross", "hl7"): "hl7",
    ("validate xdm", "file"): "xdm",
    ("token verify", "jwks_file"): "jwks",
    ("whitelist show", "file"): "whitelist",
    ("whitelist verify", "file"): "whitelist",
    ("whitelist verify", "ca"): "ca",
    ("whitelist verify", "crl"): "crl",
    ("whitelist sign", "source"): "whitelist",
    ("scenario run", "inputs_file"): "inputs",
    ("evidence export", "key"): "key",
    ("evidence export", "cert"): "cert",
    ("evidence verify", "bundle"): "bundle",
    ("evidence verify", "anchors"): "ca",
    ("evidence verify", "crl"): "crl",
    ("evidence verify", "pin"): "cert",
    ("proxy", "cert"): "cert",
    ("proxy", "key"): "key",
    ("proxy", "ca"): "ca",
    ("proxy", "upstream_cert"): "cert",
    ("proxy", "upstream_key"): "key",
    ("proxy", "upstream_ca"): "ca",
    ("proxy", "whitelist"): "whitelist",
    ("proxy", "crl"): "crl",
    ("proxy", "kos"): "kos",
    **{(c, "kos"): "kos" for c in CLIENTS},
    **{(c, "cert"): "cert" for c in CLIENTS},
    **{(c, "key"): "key" for c in CLIENTS},
    **{(c, "ca"): "ca" for c in CLIENTS},
    **{(c, "whitelist"): "whitelist" for c in CLIENTS},
}
# a whitelist that is not well-formed XML is what `whitelist verify` exists to judge: REFUSED
# (WL-001, exit 1), as a DRIMBox must refuse it; only a missing file is unusable input
# an HL7 v2 message cut short still starts with MSH: it is read and judged (ORU-006, exit 1)
JUDGED = {
    ("whitelist verify", "file"): (("empty", "truncated", "binary"), "REFUSED", "WL-001"),
    ("validate cross", "hl7"): (("truncated",), "FAILED", "ORU-006"),
}
DIR_OUTPUTS = {("dataset export", "directory"), ("retrieve", "keep")}
OUTPUTS = DIR_OUTPUTS | {
    ("dataset export-kos", "file"),
    ("dataset export-xdm", "file"),
    ("dataset export-pnr", "file"),
    ("whitelist sign", "output"),
    ("whitelist make", "output"),
    ("scenario run", "junit"),
    ("scenario resume", "junit"),
    ("evidence export", "target"),
    ("evidence verify", "html"),
    ("whitelist verify", "output"),
    *((c, "output") for c in CLIENTS),
    *((f"validate {k}", "output") for k in ("request", "response", "har", "kos", "xds", "cross")),
    ("validate xdm", "output"),
}


def _params(kind: type) -> list[tuple[str, typing.Any]]:
    out = []
    for name, command in COMMANDS.items():
        for param in command.params:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is not None and _base_type(descriptor.annotation) is kind:
                out.append((name, param))
    return out


FILE_PARAMS = _params(Path)
NUMBER_PARAMS = _params(int) + _params(float)


def test_every_file_parameter_is_classified() -> None:
    unclassified = [
        (command, p.name)
        for command, p in FILE_PARAMS
        if (command, p.name) not in INPUTS and (command, p.name) not in OUTPUTS
    ]
    assert unclassified == []


def test_every_number_parameter_declares_its_range() -> None:
    unbounded = [(c, p.name) for c, p in NUMBER_PARAMS if p.min is None or p.max is None]
    assert unbounded == []


# -- the samples: one good file of each kind, in a prepared home ---------------------------


@dataclass(frozen=True)
class Samples:
    home: Path
    folder: Path
    values: dict[str, str]

    def resolve(self, value: str) -> str:
        return (
            self.values[value[1:]]
            if value.startswith("@")
            else value.replace("@closed_url", self.values["closed_url"])
        )


@pytest.fixture(scope="module")
def samples(default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory) -> Samples:
    folder = tmp_path_factory.mktemp("no-traceback")
    home = folder / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    try:
        env = BenchEnvironment.prepare(store, settings)
    finally:
        store.close()
    closed = free_port()
    values = {
        "closed_url": f"https://localhost:{closed}/dicom-web",
        "request": str(FIXTURES / "wado" / "DRIM-001-good.http"),
        "response": str(FIXTURES / "wado" / "DICOM-001-good.resp"),
        "xds": str(FIXTURES / "documents" / "xds" / "good.xml"),
        "cda": str(FIXTURES / "documents" / "cda" / "good.xml"),
        "hl7": str(FIXTURES / "hl7" / "good.hl7"),
        "xdm": str(FIXTURES / "documents" / "xdm" / "good.zip"),
        "image": str(next((FIXTURES / "documents" / "cross" / "images").glob("*.dcm"))),
        "whitelist": str(env.whitelist_path),
        "ca": str(env.pki.bundle_path),
        "crl": str(env.pki.crl_path),
        "cert": str(env.pki.chain_path(CONSUMER_CERT)),
        "key": str(env.pki.key_path(CONSUMER_CERT)),
    }
    h = ["--home", str(home)]
    kos = folder / "kos.dcm"
    assert run([*h, "dataset", "export-kos", EXAM, str(kos), "--base-url",
                values["closed_url"]]) == 0  # fmt: skip
    values["kos"] = str(kos)
    har = folder / "capture.har"
    entry = {"request": {"method": "GET", "url": "/studies/1.2", "headers": []}}
    har.write_text(json.dumps({"log": {"entries": [entry]}}, indent=1))
    values["har"] = str(har)
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps(env.issuer.jwks(), indent=1))
    values["jwks"] = str(jwks)
    inputs = folder / "ci.yaml"
    inputs.write_text(f'inputs:\n  base_url: "{values["closed_url"]}"\n  profile: "drim-m"\n')
    values["inputs"] = str(inputs)
    # a stored run (its server step fails at once: no trigger) and its evidence bundle
    run([*h, "scenario", "run", "DRIM-M_CO_REQUETE_WADO", "--auto"])
    from drimlab.scenarios.runs import list_runs

    store = open_store(settings)
    try:
        values["run"] = list_runs(store)[0].id
    finally:
        store.close()
    bundle = folder / "evidence.zip"
    assert run([*h, "evidence", "export", values["run"], str(bundle)]) == 0
    values["bundle"] = str(bundle)
    return Samples(home, folder, values)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def _bad_file(kind: str, sample: Path | None, folder: Path) -> Path:
    path = folder / f"bad-{kind}{sample.suffix if sample else ''}"
    if kind == "missing":
        return folder / "absent" / "nothing-here.dat"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(random.Random(17).randbytes(700) + b"\x00\xff\xfe" * 10)
    elif kind == "truncated":
        assert sample is not None
        data = sample.read_bytes()
        # an HTTP capture cut in its body is a FAILED message, not an unusable one: cut its head
        cut = 40 if sample.suffix in (".http", ".resp") else len(data) // 2
        path.write_bytes(data[:cut])
    return path


def _argv(command: str, samples: Samples, busy: int, replace: tuple[str, str] | None) -> list[str]:
    """The command's base call, with parameter `replace[0]` given the value `replace[1]`."""
    values = {**samples.values, "busy": str(busy), "new_file": str(samples.folder / "out.x")}
    values["new_dir"] = str(samples.folder / f"new-dir-{random.Random().randrange(10**9)}")
    resolved = Samples(samples.home, samples.folder, values)
    target = COMMANDS[command]
    argv = ["--home", str(samples.home), *command.split()]
    positional = POSITIONAL.get(command, {})
    for param in target.params:
        if param.param_type_name == "argument":
            value = replace[1] if replace and replace[0] == param.name else positional[param.name]
            argv.append(value if replace and replace[0] == param.name else resolved.resolve(value))
    options = [resolved.resolve(v) for v in OPTIONS.get(command, [])]
    if replace is not None:
        param = next(p for p in target.params if p.name == replace[0])
        if param.param_type_name == "option":
            flag = param.opts[0]
            if flag in options:
                at = options.index(flag)
                options[at + 1] = replace[1]
            else:
                options += [flag, replace[1]]
            partner = PARTNERS.get((command, param.name), [])
            options += [resolved.resolve(v) for v in partner]
    return argv + options


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], status: int) -> str:
    out = capsys.readouterr()
    assert status == 2, f"{argv} -> exit {status}\n{out.out}\n{out.err}"
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"{argv}:\n{out.err}"
    assert lines[0].startswith("drimlab: error: "), lines[0]
    return lines[0]


INPUT_CASES = [
    pytest.param((command, param.name, kind), id=f"{command}:{param.name}:{kind}")
    for command, param in FILE_PARAMS
    if (command, param.name) in INPUTS
    for kind in INPUT_KINDS
]


@pytest.mark.parametrize("case", INPUT_CASES)
def test_a_bad_input_file_is_one_error_line(
    samples: Samples,
    busy_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str, str],
) -> None:
    command, name, kind = case
    sample = Path(samples.values[INPUTS[(command, name)]])
    bad = _bad_file(kind, sample, tmp_path)
    argv = _argv(command, samples, busy_port, (name, str(bad)))
    status = run(argv)
    kinds, verdict, code = JUDGED.get((command, name), ((), "", ""))
    if kind in kinds:
        out = capsys.readouterr()
        assert status == 1, out.out + out.err
        assert verdict in out.out and code in out.out
        return
    line = _one_error_line(capsys, argv, status)
    assert "Traceback" not in line


OUTPUT_CASES = [
    pytest.param((command, param.name, kind), id=f"{command}:{param.name}:{kind}")
    for command, param in FILE_PARAMS
    if (command, param.name) in OUTPUTS
    for kind in (DIR_OUTPUT_KINDS if (command, param.name) in DIR_OUTPUTS else OUTPUT_KINDS)
]


@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_an_unwritable_output_is_one_error_line(
    samples: Samples,
    busy_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str, str],
) -> None:
    command, name, kind = case
    if kind == "in a missing folder":
        target = tmp_path / "absent" / "out.x"
    elif kind == "over a folder":
        target = tmp_path / "a-folder"
        target.mkdir()
    else:
        target = tmp_path / "a-file"
        target.write_text("mine")
    argv = _argv(command, samples, busy_port, (name, str(target)))
    _one_error_line(capsys, argv, run(argv))
    assert not (tmp_path / "absent").exists()
    if kind == "over a file":
        assert target.read_text() == "mine"


NUMBER_CASES = [
    pytest.param((command, param.name, value), id=f"{command}:{param.name}:{value}")
    for command, param in NUMBER_PARAMS
    for value in ("below", "above", "not-a-number")
]


@pytest.mark.parametrize("case", NUMBER_CASES)
def test_a_number_out_of_range_is_one_error_line(
    samples: Samples, busy_port: int, capsys: pytest.CaptureFixture[str], case: tuple[str, str, str]
) -> None:
    command, name, value = case
    param = next(p for p in COMMANDS[command].params if p.name == name)
    given = {"below": str(param.min - 1), "above": str(param.max + 1)}.get(value, "many")
    argv = _argv(command, samples, busy_port, (name, given))
    line = _one_error_line(capsys, argv, run(argv))
    assert f"Invalid value for '{param.opts[0]}'" in line

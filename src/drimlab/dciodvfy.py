"""The independent IOD checker `dciodvfy` (Debian `dicom3tools`): run it and parse its verdict.

`dciodvfy -new FILE` writes to stderr the name of the IOD it recognised, then one
`Error - <location> - text` or `Warning - <location> - text` line per problem (a few checks,
such as the DICOMDIR ones, come before the IOD name); it exits 1 if any error was found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from drimlab.errors import ConfigurationError, InputError
from drimlab.validation.subjects import CheckerVerdict, ToolMessage

EXECUTABLE = "dciodvfy"

_MESSAGE = re.compile(
    r"^(?P<kind>Error|Warning|Abort) - (?:<(?P<location>[^>]*)>\s*-\s*)?(?P<text>.*)$"
)
_IOD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class DciodvfyMessage:
    """One line of dciodvfy's verdict: `severity` is "error" or "warning"."""

    severity: str
    text: str
    location: str | None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{self.severity}: {where}{self.text}"


@dataclass(frozen=True)
class DciodvfyResult:
    """What dciodvfy said about one file."""

    iod: str
    errors: tuple[DciodvfyMessage, ...]
    warnings: tuple[DciodvfyMessage, ...]
    exit_code: int

    @property
    def ok(self) -> bool:
        """True when dciodvfy found no error (warnings allowed)."""
        return not self.errors and self.exit_code == 0


def available() -> bool:
    """True when the dciodvfy executable is on the PATH."""
    return shutil.which(EXECUTABLE) is not None


def parse_output(stderr: str, exit_code: int) -> DciodvfyResult:
    """Parse dciodvfy's stderr text (and exit status) into a result."""
    iod = ""
    errors: list[DciodvfyMessage] = []
    warnings: list[DciodvfyMessage] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _MESSAGE.match(line)
        if match is not None:
            location = (match["location"] or "").strip() or None
            if match["kind"] == "Warning":
                warnings.append(DciodvfyMessage("warning", match["text"].strip(), location))
            else:
                errors.append(DciodvfyMessage("error", match["text"].strip(), location))
        elif not iod and _IOD_NAME.match(line):
            iod = line
        else:
            # Never drop what the checker said: an unknown line is kept for a human to read.
            warnings.append(DciodvfyMessage("warning", f"unrecognised output: {line}", None))
    if exit_code != 0 and not errors:
        errors.append(DciodvfyMessage("error", f"dciodvfy exited with status {exit_code}", None))
    return DciodvfyResult(iod, tuple(errors), tuple(warnings), exit_code)


def run_dciodvfy(path: Path, *, timeout: float = 60) -> DciodvfyResult:
    """Check one Part 10 file with `dciodvfy -new`; a missing file is an InputError."""
    executable = shutil.which(EXECUTABLE)
    if executable is None:
        raise ConfigurationError(
            "dciodvfy is not installed (Debian package dicom3tools); it is needed to check IODs"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        completed = subprocess.run(
            [executable, "-new", str(path)],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{path}: dciodvfy did not finish within {timeout:g} s") from exc
    text = completed.stderr.decode("utf-8", errors="replace")
    return parse_output(text, completed.returncode)


def _verdict(result: DciodvfyResult) -> CheckerVerdict:
    return CheckerVerdict(
        iod=result.iod,
        errors=tuple(ToolMessage(m.text, m.location) for m in result.errors),
        warnings=tuple(ToolMessage(m.text, m.location) for m in result.warnings),
    )


class _Stream:
    """A part written to a private temporary file, checked when it is complete."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="drimlab-part-", suffix=".dcm")
        self._path = Path(name)
        self._file = os.fdopen(handle, "wb")

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def finish(self) -> CheckerVerdict:
        self._file.close()
        try:
            return _verdict(run_dciodvfy(self._path))
        finally:
            self._path.unlink(missing_ok=True)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class Dciodvfy:
    """dciodvfy as the validators' injected IOD checker (`drimlab.validation` never runs it)."""

    def check(self, source: Path | bytes) -> CheckerVerdict:
        if isinstance(source, Path):
            return _verdict(run_dciodvfy(source))
        with tempfile.TemporaryDirectory(prefix="drimlab-check-") as folder:
            spool = Path(folder) / "object.dcm"
            spool.write_bytes(source)
            return _verdict(run_dciodvfy(spool))

    def stream(self) -> _Stream:
        return _Stream()


def checker(*, required: bool = False) -> Dciodvfy | None:
    """The dciodvfy checker when it is installed (None, or ConfigurationError if `required`)."""
    if available():
        return Dciodvfy()
    if required:
        raise ConfigurationError("dciodvfy is not installed (Debian package dicom3tools)")
    return None

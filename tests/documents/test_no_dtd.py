"""No DTD in any XML the bench reads: XDS metadata, a CDA, an XDM archive's METADATA.XML.

Each is refused with one line naming the input (or, inside an archive, XDM-004), never parsed
with its entities, never fetched."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from drimlab.documents.cda import read_cda
from drimlab.documents.xdm import read_xdm
from drimlab.documents.xds import parse_submission
from drimlab.errors import InputError
from drimlab.validation.documents import validate_archive

from .conftest import FIXTURES

DTDS = [
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
]


def with_doctype(data: bytes, doctype: bytes) -> bytes:
    """The document with a DOCTYPE inserted after its XML declaration (if any)."""
    if data.lstrip().startswith(b"<?xml"):
        end = data.index(b"?>") + 2
        return data[:end] + b"\n" + doctype + data[end:]
    return doctype + b"\n" + data


@pytest.mark.parametrize("doctype", DTDS)
def test_xds_metadata_with_a_dtd_is_refused_in_one_line(doctype: bytes) -> None:
    data = with_doctype((FIXTURES / "xds" / "good.xml").read_bytes(), doctype)
    with pytest.raises(InputError, match=r"^m\.xml: a DOCTYPE \(DTD\) is refused") as caught:
        parse_submission(data, "m.xml")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("doctype", DTDS)
def test_cda_with_a_dtd_is_refused_in_one_line(doctype: bytes) -> None:
    data = with_doctype((FIXTURES / "cda" / "good.xml").read_bytes(), doctype)
    read_cda((FIXTURES / "cda" / "good.xml").read_bytes(), "c.xml")  # the good one reads
    with pytest.raises(InputError, match=r"^c\.xml: a DOCTYPE \(DTD\) is refused"):
        read_cda(data, "c.xml")


def test_an_xdm_metadata_with_a_dtd_is_the_finding_xdm_004(tmp_path: Path) -> None:
    source = FIXTURES / "xdm" / "good.zip"
    target = tmp_path / "dtd.zip"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name.upper().endswith("METADATA.XML"):
                data = with_doctype(data, DTDS[1])
            new.writestr(name, data)
    archive = read_xdm(target)
    try:
        findings = validate_archive(archive).findings
    finally:
        archive.close()
    messages = [f.message for f in findings if f.rule == "XDM-004"]
    assert messages and all("DOCTYPE" in m for m in messages), findings

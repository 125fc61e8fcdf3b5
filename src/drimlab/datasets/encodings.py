"""Lossless pre-encodings of an instance, so a WADO-RS source can stream instead of transcode.

`encode_file(source, syntax, dest)` re-encodes an Explicit VR Little Endian Part 10 file in
RLE Lossless, JPEG-LS Lossless or JPEG 2000 Lossless (one fragment per frame, with a Basic
Offset Table), keeping the SOP Instance UID; decoding gives back exactly the same pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

from pydicom import dcmread, dcmwrite
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from drimlab.datasets.synthetic import write_atomically
from drimlab.errors import InputError

PRE_ENCODED_SYNTAXES: tuple[UID, ...] = (RLELossless, JPEGLSLossless, JPEG2000Lossless)

# The codec each syntax is encoded with (the plugins drimlab installs).
_ENCODING_PLUGINS = {
    RLELossless: "pylibjpeg",
    JPEGLSLossless: "pyjpegls",
    JPEG2000Lossless: "pylibjpeg",
}


def _read_source(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror or exc})") from exc


def encode_bytes(data: bytes, transfer_syntax: str, *, name: str = "instance") -> bytes:
    """Re-encode a Part 10 file (as bytes) in a pre-encoded syntax; return the new file."""
    uid = UID(transfer_syntax)
    if uid not in PRE_ENCODED_SYNTAXES:
        known = ", ".join(f"{s} ({s.name})" for s in PRE_ENCODED_SYNTAXES)
        raise InputError(
            f"unsupported pre-encoding transfer syntax {transfer_syntax} (use {known})"
        )
    try:
        ds = dcmread(io.BytesIO(data))
        source_syntax = ds.file_meta.get("TransferSyntaxUID")
        if source_syntax != ExplicitVRLittleEndian:
            raise InputError(
                f"{name}: transfer syntax is {source_syntax or 'missing'}, "
                f"expected Explicit VR Little Endian ({ExplicitVRLittleEndian})"
            )
        if "PixelData" not in ds:
            raise InputError(f"{name}: no Pixel Data to encode")
        ds.compress(uid, encoding_plugin=_ENCODING_PLUGINS[uid], generate_instance_uid=False)
        out = io.BytesIO()
        dcmwrite(out, ds, enforce_file_format=True)
    except InputError:
        raise
    except (InvalidDicomError, EOFError) as exc:
        raise InputError(f"{name}: not a readable DICOM Part 10 file ({exc})") from exc
    except (ValueError, TypeError, KeyError, AttributeError, RuntimeError, OSError) as exc:
        # pydicom and its codecs report a truncated or inconsistent instance in many ways.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name}: cannot encode in {uid.name}: {first_line}") from exc
    return out.getvalue()


def encode_file(source: Path, transfer_syntax: str, dest: Path) -> None:
    """Write `source` re-encoded in `transfer_syntax` to `dest`, atomically (temp + rename)."""
    encoded = encode_bytes(_read_source(source), transfer_syntax, name=str(source))
    write_atomically(dest, encoded)

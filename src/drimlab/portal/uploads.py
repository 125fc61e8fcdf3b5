"""Uploaded files: streamed to disk under a size limit, named safely, removed on failure.

The ASGI middleware `BodyLimit` refuses a request body larger than the portal's limit before
it is read whole (413); `save_upload` copies one uploaded file into a private folder in
chunks, under a name made safe from whatever the browser sent.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drimlab.errors import InputError

CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TooLarge(Exception):
    """The request body went past the portal's upload limit."""


def safe_name(name: str | None, default: str = "upload") -> str:
    """A file name that is one plain path component, whatever the browser sent."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return cleaned or _UNSAFE.sub("_", default).strip("._")[:120] or "upload"


class BodyLimit:
    """Refuse request bodies over `limit` bytes: at once by Content-Length, else as they come."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send, self.limit, api=scope["path"].startswith("/api/"))
                return
        seen = 0
        limit = self.limit

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(f"the upload is larger than {limit // (1024 * 1024)} MB")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send, limit: int, *, api: bool) -> None:
    reason = f"the upload is larger than the portal's limit ({limit // (1024 * 1024)} MB)"
    body, media = (reason + "\n").encode(), b"text/plain; charset=utf-8"
    if api:  # the API answers every error as JSON
        body, media = json.dumps({"error": reason}).encode(), b"application/json"
    await send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-type", media)]}
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def upload_folder(root: Path) -> Iterator[Path]:
    """A private folder for one request's uploads, removed when the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root, prefix="upload-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def save_upload(upload: UploadFile, folder: Path, limit: int, *, what: str) -> Path:
    """Copy one uploaded file into `folder` chunk by chunk; InputError if empty or too large."""
    name = safe_name(upload.filename, default=what)
    target = folder / name
    counter = 1
    while target.exists():
        target = folder / f"{counter}-{name}"
        counter += 1
    written = 0
    with target.open("wb") as handle:
        while chunk := await upload.read(CHUNK):
            written += len(chunk)
            if written > limit:
                handle.close()
                target.unlink(missing_ok=True)
                raise InputError(f"{what}: larger than the limit of {limit // (1024 * 1024)} MB")
            handle.write(chunk)
    if written == 0:
        target.unlink(missing_ok=True)
        raise InputError(f"{what}: the file is empty (or none was chosen)")
    return target


def is_file(value: object) -> bool:
    """Whether a form value is an uploaded file with a name (not an empty file input)."""
    return isinstance(value, UploadFile) and bool(value.filename)

"""The non-instance resources of the simulated source: metadata, bulk data, frames, rendered.

These read the Explicit VR Little Endian encoding of each instance (always stored). Metadata
is the DICOM JSON model (PS3.18 §F.2) with the pixel data replaced by a BulkDataURI that this
same server resolves; frames and bulk data are sent uncompressed as
`multipart/related; type="application/octet-stream"`; rendered images are JPEG or PNG.

Nothing is joined whole in memory and nothing heavy runs on the event loop: metadata is
written instance by instance (each read and encoded in a worker thread), frames and bulk data
are slices of the file streamed from disk (`pixels.locate_pixels`), and an image is rendered
in a worker thread, at most `RENDER_SLOTS` at once. A frame list is at most
`MAX_FRAMES_PER_REQUEST` long and lists each frame once (PS3.18 §10.4.1.1.4 asks for
non-duplicate frame numbers), so no request can make the source send one frame thousands of
times.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from aiohttp import web
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.datasets.catalog import InstanceInfo
from drimlab.dicomweb import media, multipart
from drimlab.dicomweb.paths import Kind, Resource
from drimlab.facts.decision import Cause
from drimlab.simulators.faults import PartPlan, ResponsePlan
from drimlab.simulators.headers import text_header
from drimlab.simulators.pixels import PixelLocation, locate_pixels
from drimlab.simulators.refusals import HSTS, Refusal
from drimlab.simulators.streaming import SendStats

PIXEL_DATA = "7FE00010"
MAX_FRAMES_PER_REQUEST = 1024
RENDER_SLOTS = 2
OCTET_PART = f"application/octet-stream; transfer-syntax={ExplicitVRLittleEndian}"


def _evrle_path(instance: InstanceInfo) -> Path:
    stored = instance.file(ExplicitVRLittleEndian) or instance.files[0]
    return Path(stored.path)


def _instance_url(base: str, instance: InstanceInfo) -> str:
    return (
        f"{base}/studies/{instance.study_instance_uid}/series/{instance.series_instance_uid}"
        f"/instances/{instance.sop_instance_uid}"
    )


def _json_of(instance: InstanceInfo, base: str) -> bytes:
    """One instance's DICOM JSON (PS3.18 §F.2), pixel data as a BulkDataURI, encoded."""
    ds = pydicom.dcmread(_evrle_path(instance), stop_before_pixels=True)
    out: dict[str, Any] = ds.to_json_dict(bulk_data_threshold=1 << 30)
    vr = "OW" if int(ds.get("BitsAllocated", 8)) > 8 else "OB"
    out[PIXEL_DATA] = {"vr": vr, "BulkDataURI": f"{_instance_url(base, instance)}/bulkdata"}
    return json.dumps(out).encode("utf-8")


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def send_metadata(
    request: web.Request,
    instances: Sequence[InstanceInfo],
    base_path: str,
    work: Executor,
) -> tuple[web.StreamResponse, SendStats]:
    """`/metadata` as application/dicom+json, written one instance at a time."""
    accept = text_header(request, "Accept")
    offers = [media.parse_media_type("application/dicom+json")]
    if accept is not None and media.choose(media.parse_accept(accept), offers) is None:
        raise Refusal(
            406, Cause.NOT_ACCEPTABLE, "metadata is available as application/dicom+json only"
        )
    loop = asyncio.get_running_loop()
    base = _origin(request) + base_path.rstrip("/")
    # the first item is read before the status goes out, so an unreadable file is still a 500
    first = await loop.run_in_executor(work, _json_of, instances[0], base) if instances else b""
    response = web.StreamResponse()
    response.content_type = "application/dicom+json"
    response.headers["Strict-Transport-Security"] = HSTS
    stats = SendStats(started_at=loop.time())
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        stats.completed = True
        return response, stats

    async def write(data: bytes) -> None:
        if stats.first_byte_at is None:
            stats.first_byte_at = loop.time()
        await response.write(data)
        stats.bytes_sent += len(data)

    try:
        await write(b"[" + first)
        for instance in instances[1:]:
            await write(b"," + await loop.run_in_executor(work, _json_of, instance, base))
        await write(b"]")
        await response.write_eof()
        stats.completed = True
    except ConnectionError:
        pass  # the consumer went away: the exchange is still recorded, incomplete
    return response, stats


def _octet_plan(
    instance: InstanceInfo, slices: Sequence[tuple[int, int]], path: Path
) -> ResponsePlan:
    boundary = multipart.new_boundary()
    parts = tuple(
        PartPlan(
            headers=(("Content-Type", OCTET_PART),),
            size=size,
            sop_instance_uid=instance.sop_instance_uid,
            transfer_syntax_uid=ExplicitVRLittleEndian,
            sha256="",
            path=path,
            offset=offset,
        )
        for offset, size in slices
    )
    return ResponsePlan(
        status=200,
        content_type=f'multipart/related; type="application/octet-stream"; boundary={boundary}',
        boundary=boundary,
        parts=parts,
    )


async def _pixels(instance: InstanceInfo, work: Executor) -> PixelLocation:
    loop = asyncio.get_running_loop()
    location = await loop.run_in_executor(work, locate_pixels, _evrle_path(instance))
    if location is None:
        raise Refusal(404, Cause.RESOURCE_UNAVAILABLE, "this instance has no native pixel data")
    return location


async def bulkdata_plan(instances: Sequence[InstanceInfo], work: Executor) -> ResponsePlan:
    """`/bulkdata` of one instance: its pixel data, streamed from the file."""
    if len(instances) != 1:
        raise Refusal(400, Cause.TARGET_MALFORMED, "bulk data is addressed per instance")
    location = await _pixels(instances[0], work)
    return _octet_plan(instances[0], [(location.offset, location.length)], location.path)


def check_frame_list(frames: Sequence[int]) -> None:
    """Refuse a frame list that repeats a frame or is longer than the source serves (400)."""
    if len(frames) > MAX_FRAMES_PER_REQUEST:
        raise Refusal(
            400,
            Cause.FRAME_LIST_INVALID,
            f"{len(frames)} frames requested; this source serves at most "
            f"{MAX_FRAMES_PER_REQUEST} per request",
        )
    repeated = [(frame, n) for frame, n in Counter(frames).items() if n > 1]
    if repeated:
        frame, times = repeated[0]
        raise Refusal(
            400,
            Cause.FRAME_LIST_INVALID,
            f"frame {frame} is listed {times} times ({len(repeated)} frame(s) repeated); a "
            "frame list names each frame once",
        )


async def frames_plan(
    resource: Resource, instances: Sequence[InstanceInfo], work: Executor
) -> ResponsePlan:
    """`/frames/{list}`: the listed frames, uncompressed, one part each (PS3.18 §10.4.1.1.4)."""
    if len(instances) != 1:
        raise Refusal(400, Cause.TARGET_MALFORMED, "frames are addressed per instance")
    check_frame_list(resource.frames)
    location = await _pixels(instances[0], work)
    bad = [f for f in resource.frames if f > location.frames]
    if bad:
        raise Refusal(
            400,
            Cause.FRAME_UNKNOWN,
            f"frame {bad[0]} is out of range (the instance has {location.frames})",
        )
    slices = [location.frame(f) for f in resource.frames]
    return _octet_plan(instances[0], slices, location.path)


def _to_8bit(ds: Dataset) -> np.ndarray[Any, Any]:
    array = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        array = array[0]
    array = array.astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    array = array * slope + intercept
    center = ds.get("WindowCenter")
    width = ds.get("WindowWidth")
    if center is not None and width is not None:
        c = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
        w = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
        low, high = c - w / 2, c + w / 2
    else:
        low, high = float(array.min()), float(array.max())
    scaled = np.clip((array - low) / max(high - low, 1e-9), 0, 1) * 255
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        scaled = 255 - scaled
    return scaled.astype(np.uint8)


def _render(path: Path, fmt: str) -> bytes:
    image = Image.fromarray(_to_8bit(pydicom.dcmread(path)))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


async def rendered_response(
    request: web.Request,
    resource: Resource,
    instances: Sequence[InstanceInfo],
    work: Executor,
    slots: asyncio.Semaphore,
) -> web.StreamResponse:
    """`/rendered` of an instance as image/jpeg (default) or image/png (PS3.18 §10.4.1.1.3).

    The image (one frame, encoded) is made in a worker thread, at most `RENDER_SLOTS` at once.
    """
    if resource.kind is not Kind.RENDERED or resource.instance is None or len(instances) != 1:
        raise Refusal(
            400, Cause.TARGET_MALFORMED, "only instance-level rendered resources are served"
        )
    offers = [media.parse_media_type("image/jpeg"), media.parse_media_type("image/png")]
    accept = text_header(request, "Accept")
    chosen = media.choose(media.parse_accept(accept) if accept else None, offers)
    if chosen is None:
        raise Refusal(
            406, Cause.NOT_ACCEPTABLE, "rendered images are available as image/jpeg or image/png"
        )
    fmt = "PNG" if chosen.essence == "image/png" else "JPEG"
    async with slots:
        body = await asyncio.get_running_loop().run_in_executor(
            work, _render, _evrle_path(instances[0]), fmt
        )
    return web.Response(body=body, content_type=chosen.essence)

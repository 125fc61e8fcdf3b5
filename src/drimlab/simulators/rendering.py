"""The non-instance resources of the simulated source: metadata, bulk data, frames, rendered.

These read the Explicit VR Little Endian encoding of each instance (always stored). Metadata
is the DICOM JSON model (PS3.18 §F.2) with the pixel data replaced by a BulkDataURI that this
same server resolves; frames and bulk data are sent uncompressed as
`multipart/related; type="application/octet-stream"`; rendered images are JPEG or PNG.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
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
from drimlab.simulators.refusals import Refusal

PIXEL_DATA = "7FE00010"


def _evrle_path(instance: InstanceInfo) -> str:
    stored = instance.file(ExplicitVRLittleEndian) or instance.files[0]
    return str(stored.path)


def _instance_url(base: str, instance: InstanceInfo) -> str:
    return (
        f"{base}/studies/{instance.study_instance_uid}/series/{instance.series_instance_uid}"
        f"/instances/{instance.sop_instance_uid}"
    )


def _json_of(instance: InstanceInfo, base: str) -> dict[str, Any]:
    ds = pydicom.dcmread(_evrle_path(instance), stop_before_pixels=True)
    out: dict[str, Any] = ds.to_json_dict(bulk_data_threshold=1 << 30)
    vr = "OW" if int(ds.get("BitsAllocated", 8)) > 8 else "OB"
    out[PIXEL_DATA] = {"vr": vr, "BulkDataURI": f"{_instance_url(base, instance)}/bulkdata"}
    return out


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def metadata_response(
    request: web.Request, resource: Resource, instances: Sequence[InstanceInfo], base_path: str
) -> web.StreamResponse:
    """`/metadata` as application/dicom+json, or `/bulkdata` of one instance."""
    if resource.kind is Kind.BULKDATA:
        if len(instances) != 1:
            raise Refusal(400, Cause.TARGET_MALFORMED, "bulk data is addressed per instance")
        return _octet_parts([_pixel_bytes(pydicom.dcmread(_evrle_path(instances[0])))])
    accept = request.headers.get("Accept")
    offers = [media.parse_media_type("application/dicom+json")]
    if accept is not None and media.choose(media.parse_accept(accept), offers) is None:
        raise Refusal(
            406, Cause.NOT_ACCEPTABLE, "metadata is available as application/dicom+json only"
        )
    base = _origin(request) + base_path.rstrip("/")
    body = json.dumps([_json_of(i, base) for i in instances]).encode("utf-8")
    return web.Response(body=body, content_type="application/dicom+json")


def _pixel_bytes(ds: Dataset) -> bytes:
    data = ds.get("PixelData")
    if data is None:
        raise Refusal(404, Cause.RESOURCE_UNAVAILABLE, "this instance has no pixel data")
    return bytes(data)


def _octet_parts(chunks: Sequence[bytes]) -> web.Response:
    boundary = multipart.new_boundary()
    parts = [
        (
            (
                (
                    "Content-Type",
                    f"application/octet-stream; transfer-syntax={ExplicitVRLittleEndian}",
                ),
            ),
            [chunk],
        )
        for chunk in chunks
    ]
    body = b"".join(multipart.encode(boundary, parts))
    response = web.Response(body=body)
    response.headers["Content-Type"] = (
        f'multipart/related; type="application/octet-stream"; boundary={boundary}'
    )
    return response


def frames_response(
    request: web.Request, resource: Resource, instances: Sequence[InstanceInfo]
) -> web.StreamResponse:
    """`/frames/{list}`: the listed frames, uncompressed, one part each (PS3.18 §10.4.1.1.4)."""
    if len(instances) != 1:
        raise Refusal(400, Cause.TARGET_MALFORMED, "frames are addressed per instance")
    ds = pydicom.dcmread(_evrle_path(instances[0]))
    pixels = _pixel_bytes(ds)
    count = int(ds.get("NumberOfFrames", 1) or 1)
    bad = [f for f in resource.frames if f > count]
    if bad:
        raise Refusal(
            400,
            Cause.FRAME_UNKNOWN,
            f"frame {bad[0]} is out of range (the instance has {count})",
        )
    size = len(pixels) // count
    return _octet_parts([pixels[(f - 1) * size : f * size] for f in resource.frames])


def _to_8bit(ds: Dataset) -> np.ndarray[Any, Any]:
    array = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        array = array[0]
    array = array.astype(np.float64)
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


def rendered_response(
    request: web.Request, resource: Resource, instances: Sequence[InstanceInfo]
) -> web.StreamResponse:
    """`/rendered` of an instance as image/jpeg (default) or image/png (PS3.18 §10.4.1.1.3)."""
    if resource.kind is not Kind.RENDERED or resource.instance is None or len(instances) != 1:
        raise Refusal(
            400, Cause.TARGET_MALFORMED, "only instance-level rendered resources are served"
        )
    offers = [media.parse_media_type("image/jpeg"), media.parse_media_type("image/png")]
    accept = request.headers.get("Accept")
    chosen = media.choose(media.parse_accept(accept) if accept else None, offers)
    if chosen is None:
        raise Refusal(
            406, Cause.NOT_ACCEPTABLE, "rendered images are available as image/jpeg or image/png"
        )
    ds = pydicom.dcmread(_evrle_path(instances[0]))
    pixels = _to_8bit(ds)
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    fmt = "PNG" if chosen.essence == "image/png" else "JPEG"
    image.save(buffer, format=fmt)
    return web.Response(body=buffer.getvalue(), content_type=chosen.essence)

"""Sending a multipart/related retrieve response from files on disk, never whole in memory.

Part sizes are known from the catalogue before the first byte, so the response carries a
Content-Length and, on a plain connection, each file goes out with `loop.sendfile`
(zero-copy); under TLS the file is read and written in 1 MiB chunks. Fault modes shape the
stream here: throttling, a missing close delimiter, a connection cut mid-part.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from drimlab.dicomweb import multipart
from drimlab.simulators.faults import PartPlan, ResponsePlan

CHUNK = 1024 * 1024


@dataclass
class SendStats:
    """What was actually sent, for the exchange record."""

    started_at: float = 0.0
    bytes_sent: int = 0
    first_byte_at: float | None = None
    finished_at: float | None = None
    completed: bool = False

    @property
    def time_to_first_byte(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started_at


def _heads(plan: ResponsePlan) -> list[bytes]:
    return [
        multipart.part_head(plan.boundary, p.headers, first=i == 0)
        for i, p in enumerate(plan.parts)
    ]


def planned_length(plan: ResponsePlan) -> int:
    """The exact body length the plan sends (Content-Length)."""
    total = sum(len(h) for h in _heads(plan)) + sum(p.size for p in plan.parts)
    if plan.close_delimiter:
        total += len(multipart.close_delimiter(plan.boundary, any_part=bool(plan.parts)))
    return total


async def stream_plan(
    request: web.Request, plan: ResponsePlan, *, hsts: str
) -> tuple[web.StreamResponse, SendStats]:
    """Send the plan as the response to `request`; the finished response and what was sent."""
    response = web.StreamResponse(status=plan.status)
    stats = SendStats(started_at=asyncio.get_running_loop().time())
    response.headers["Strict-Transport-Security"] = hsts
    for name, value in plan.headers:
        response.headers[name] = value
    if plan.status != 200:
        response.content_type = "application/json"
        body = b'{"status": %d, "error": "service unavailable"}' % plan.status
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        stats.completed = True
        return response, stats
    response.headers["Content-Type"] = plan.content_type
    if plan.cut_after_bytes is None or plan.keep_content_length:
        response.content_length = planned_length(plan)
    else:
        response.enable_chunked_encoding()  # the cut must look like a real mid-stream failure
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        stats.completed = True
        return response, stats
    sender = _Sender(request, response, plan, stats)
    try:
        for head, part in zip(_heads(plan), plan.parts, strict=True):
            await sender.write(head)
            await sender.send_part(part)
        if plan.close_delimiter:
            await sender.write(multipart.close_delimiter(plan.boundary, any_part=bool(plan.parts)))
        await response.write_eof()
        stats.completed = True
    except _Cut:
        transport = request.transport
        if transport is not None:
            transport.abort()
    except ConnectionError:
        # the consumer went away: nothing to send to, but the exchange is still recorded
        pass
    return response, stats


class _Cut(Exception):
    """Raised inside the sender when the `cut` fault's byte budget is reached."""


class _Sender:
    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        plan: ResponsePlan,
        stats: SendStats,
    ) -> None:
        self.request = request
        self.response = response
        self.plan = plan
        self.stats = stats
        self.loop = asyncio.get_running_loop()
        transport = request.transport
        self.plain = (
            transport is not None
            and transport.get_extra_info("sslcontext") is None
            and plan.rate_bytes_per_second is None
            and plan.cut_after_bytes is None
        )

    async def write(self, data: bytes) -> None:
        if not data:
            return
        budget = self.plan.cut_after_bytes
        if budget is not None and self.stats.bytes_sent + len(data) > budget:
            await self._raw(data[: max(0, budget - self.stats.bytes_sent)])
            raise _Cut
        if self.plan.rate_bytes_per_second is not None:
            step = max(1024, self.plan.rate_bytes_per_second // 10)
            for start in range(0, len(data), step):
                await self._raw(data[start : start + step])
                await asyncio.sleep(
                    len(data[start : start + step]) / self.plan.rate_bytes_per_second
                )
            return
        await self._raw(data)

    async def _raw(self, data: bytes) -> None:
        if self.stats.first_byte_at is None:
            self.stats.first_byte_at = self.loop.time()
        await self.response.write(data)
        self.stats.bytes_sent += len(data)

    async def send_part(self, part: PartPlan) -> None:
        if part.data is not None:
            await self.write(part.data)
            return
        assert part.path is not None
        with open(part.path, "rb") as handle:
            if self.plain and self.request.transport is not None:
                # headers and the part head are already on the transport; sendfile waits
                # for its buffer to empty before sending the file
                sent = await self.loop.sendfile(
                    self.request.transport, handle, part.offset, part.size
                )
                self.stats.bytes_sent += sent
                return
            handle.seek(part.offset)
            remaining = part.size
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    raise OSError(f"{part.path} is shorter than catalogued ({part.size} bytes)")
                remaining -= len(chunk)
                await self.write(chunk)

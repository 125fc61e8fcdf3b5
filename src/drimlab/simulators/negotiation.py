"""What the simulated source offers for a set of instances, and which encoding it sends.

The catalogue stores each instance in a few transfer syntaxes; the source offers those every
requested instance has (Explicit VR Little Endian first) and picks the consumer's best
acceptable one (PS3.18 §8.7).
"""

from __future__ import annotations

from collections.abc import Sequence

from drimlab.datasets.catalog import InstanceInfo
from drimlab.dicomweb import media, transfer_syntax
from drimlab.facts.decision import Cause
from drimlab.simulators.faults import PartPlan
from drimlab.simulators.refusals import Refusal


def offers(instances: Sequence[InstanceInfo]) -> list[media.MediaType]:
    """One multipart DICOM offer per transfer syntax every instance is stored in (EVRLE first)."""
    common = set(instances[0].transfer_syntaxes) if instances else set()
    for instance in instances[1:]:
        common &= set(instance.transfer_syntaxes)
    ordered = sorted(common, key=lambda uid: (uid != transfer_syntax.DEFAULT, uid))
    return [
        media.parse_media_type(
            f'multipart/related; type="application/dicom"; transfer-syntax={uid}'
        )
        for uid in ordered
    ]


def part_plan(instance: InstanceInfo, uid: str) -> PartPlan:
    stored = instance.file(uid)
    assert stored is not None  # offers only name syntaxes every instance has
    return PartPlan(
        headers=(("Content-Type", f"application/dicom; transfer-syntax={uid}"),),
        size=stored.size,
        sop_instance_uid=instance.sop_instance_uid,
        transfer_syntax_uid=uid,
        sha256=stored.sha256,
        path=stored.path,
    )


def negotiate(accept: str | None, instances: Sequence[InstanceInfo]) -> str:
    """The transfer syntax to send (PS3.18 §8.7): the client's best among stored encodings."""
    offered = offers(instances)
    parsed = media.parse_accept(accept) if accept is not None else None
    if parsed is not None and not parsed.ranges:
        raise Refusal(400, Cause.ACCEPT_UNUSABLE, "Accept header has no usable media range")
    chosen = media.choose(parsed, offered)
    if chosen is None:
        stored = ", ".join(o.param("transfer-syntax") or "?" for o in offered)
        raise Refusal(
            406,
            Cause.NOT_ACCEPTABLE,
            f"no acceptable DICOM media type: the instances are stored in {stored}",
        )
    uid = chosen.param("transfer-syntax")
    return uid or transfer_syntax.DEFAULT

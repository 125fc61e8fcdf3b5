"""Parsing XML the bench is handed: no DTD, no entity, no network, no huge tree.

Every XML input (a whitelist, XDS metadata, a CDA, the members of an XDM archive) comes from
a system under test or a file a user gives: a DOCTYPE is refused outright, since a DTD can
pull in external entities (a file of the machine, a URL) or expand entities without bound,
and no DRIM-M document needs one. The refusal is an `InputError` with one line naming the
input; readers turn it into their document's finding (WL-001 for a whitelist).
"""

from __future__ import annotations

from lxml import etree

from drimlab.errors import InputError


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_untrusted(data: bytes, label: str) -> etree._Element:
    """The root element of `data`; InputError when it is not XML or declares a DTD."""
    try:
        root = etree.fromstring(data, safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "not XML"
        raise InputError(f"{label}: not well-formed XML ({reason})") from None
    if root is None:
        raise InputError(f"{label}: empty XML document")
    docinfo = root.getroottree().docinfo
    doctype: str = getattr(docinfo, "doctype", "")  # not in the type stubs
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise InputError(
            f"{label}: a DOCTYPE (DTD) is refused in XML the bench reads "
            "(external entities and entity expansion)"
        )
    return root

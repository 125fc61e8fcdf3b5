"""The validators: upload a request, response, HAR, KOS, XDS submission, cross-validation set,
XDM archive or whitelist; the report page (a permanent link); the history of validations.

Each upload is validated by the same library function as its `drimlab validate` (or
`whitelist verify`) command, and its Report stored the same way. An uploaded file that is
validated is kept as evidence under `<home>/uploads/validations/`; one that cannot be read
is removed, with a one-line reason on the page and the form as the user filled it.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from drimlab.dciodvfy import checker
from drimlab.documents.kos import read_kos
from drimlab.errors import DrimlabError, InputError, QuotaExceeded
from drimlab.portal.auth import read_form
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.i18n import mark
from drimlab.portal.templating import page
from drimlab.portal.uploads import is_file, save_upload
from drimlab.portal.viewer import organisation_scope, viewer
from drimlab.store.listings import Cursor, page_reports
from drimlab.store.quotas import QuotaState, format_size, over_quota
from drimlab.store.records import save_exchange, save_report
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import ANS_SIGNER, SignerExpectation, read_bytes
from drimlab.trust.whitelist_check import verify_whitelist
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.rules import UnknownRuleError

# kind -> (title msgid, the file inputs it takes: (field, label msgid, required, multiple))
KINDS: dict[str, tuple[str, tuple[tuple[str, str, bool, bool], ...]]] = {
    "request": (
        mark("WADO-RS request"),
        (
            ("file", mark("Request file (raw HTTP)"), True, False),
            ("kos", mark("KOS (optional)"), False, False),
        ),
    ),
    "response": (
        mark("WADO-RS response"),
        (
            ("file", mark("Response file (raw HTTP)"), True, False),
            ("request", mark("The request it answers (optional)"), False, False),
            ("kos", mark("KOS (optional)"), False, False),
        ),
    ),
    "har": (mark("HAR capture"), (("file", mark("HAR file"), True, False),)),
    "kos": (mark("KOS manifest"), (("file", mark("KOS (DICOM Part 10)"), True, False),)),
    "xds": (mark("XDS submission"), (("file", mark("PnR message or XDS metadata"), True, False),)),
    "cross": (
        mark("Cross-validation set"),
        (
            ("kos", mark("KOS (DICOM Part 10)"), True, False),
            ("xds", mark("XDS metadata (optional)"), False, False),
            ("cda", mark("CDA report (optional)"), False, False),
            ("images", mark("Images (optional, several)"), False, True),
        ),
    ),
    "xdm": (mark("XDM archive"), (("file", mark("XDM export (zip)"), True, False),)),
    "whitelist": (mark("Whitelist"), (("file", mark("Signed whitelist (XML)"), True, False),)),
}
UPLOAD_KINDS = ("exchange", "request", "response", "kos", "xds", "cross", "xdm", "whitelist")


@dataclass(frozen=True)
class Done:
    """The reports a validation stored (one per HAR entry)."""

    report_ids: tuple[str, ...]


def selection_of(form: FormData | dict[str, str]) -> Selection:
    """The Selection of the form's profile, select, ignore and severity fields."""

    def items(name: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in str(form.get(name) or "").replace(",", " ").split() if p)

    try:
        return Selection.of(
            str(form.get("profile") or "drim-m"),
            select=items("select"),
            ignore=items("ignore"),
            severities=items("severity"),
        )
    except UnknownRuleError as exc:
        raise InputError(str(exc)) from None


def quota_message(state: QuotaState) -> str:
    """The one line a user of an organisation over its quota reads (translated)."""
    reached = []
    if state.over_exchanges:
        reached.append(
            _("%(used)s of %(quota)s exchanges")
            % {"used": state.usage.exchanges, "quota": state.quota_exchanges}
        )
    if state.over_bytes:
        reached.append(
            _("%(used)s of %(quota)s on disk")
            % {"used": format_size(state.usage.bytes), "quota": format_size(state.quota_bytes or 0)}
        )
    return _(
        "Your organisation has reached its storage quota (%(reached)s): nothing more is stored "
        "until an administrator raises it or old exchanges are purged."
    ) % {"reached": ", ".join(reached)}


def check_quota_of(portal: Portal, organisation_id: int | None) -> None:
    """QuotaExceeded (one translated line) when the organisation may store nothing more."""
    state = over_quota(portal.store, organisation_id)
    if state is not None:
        raise QuotaExceeded(quota_message(state))


def _exchanges(
    portal: Portal,
    exchanges: list[Any],
    chosen: Selection,
    kos: Path | None,
    organisation_id: int | None,
    *,
    kept: int,
) -> Done:
    manifest = read_kos(kos) if kos is not None else None
    ids: list[str] = []
    for exchange in exchanges:
        report = validate_exchange(exchange, chosen, kos=manifest, checker=None)
        exchange_id = save_exchange(portal.store, exchange, organisation_id=organisation_id)
        # the uploaded files are counted once, with the first report
        ids.append(
            save_report(
                portal.store, report, exchange_id=exchange_id, stored_bytes=0 if ids else kept
            )
        )
    return Done(tuple(ids))


def _bench_signer(portal: Portal) -> SignerExpectation:
    cert = portal.env.pki.certificate("whitelist-signer")
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    return SignerExpectation(str(cn), str(ou))


def run_validation(
    portal: Portal,
    kind: str,
    files: dict[str, list[Path]],
    chosen: Selection,
    bench: bool,
    *,
    organisation_id: int | None = None,
) -> Done:
    """Validate the saved uploads as `drimlab validate KIND` would; store every Report (for
    `organisation_id` when given). QuotaExceeded, before anything is stored, when that
    organisation has reached its storage quota."""
    from drimlab.validation import documents  # noqa: PLC0415 - pydicom-heavy

    check_quota_of(portal, organisation_id)
    kept = sum(path.stat().st_size for paths in files.values() for path in paths)
    one = {name: paths[0] for name, paths in files.items() if paths}
    if kind == "request":
        return _exchanges(
            portal, [load_request(one["file"])], chosen, one.get("kos"), organisation_id, kept=kept
        )
    if kind == "response":
        paired = load_request(one["request"]) if "request" in one else None
        exchange = load_response(one["file"], paired)
        return _exchanges(portal, [exchange], chosen, one.get("kos"), organisation_id, kept=kept)
    if kind == "har":
        entries = load_har(one["file"])
        if not entries:
            raise InputError(_("the HAR file has no entries"))
        return _exchanges(portal, entries, chosen, None, organisation_id, kept=kept)
    if kind == "kos":
        report = documents.validate_kos(one["file"], chosen, checker=checker())
    elif kind == "xds":
        report = documents.validate_xds(one["file"], chosen)
    elif kind == "cross":
        report = documents.validate_cross(
            one["kos"],
            xds=one.get("xds"),
            cda=one.get("cda"),
            images=files.get("images", []),
            profile=chosen,
        )
    elif kind == "xdm":
        report = documents.validate_xdm(one["file"], chosen, checker=checker())
    elif kind == "whitelist":
        anchors, expected, crl = [], ANS_SIGNER, None
        if bench:
            pki = portal.env.pki
            anchors = pki.anchors()
            expected = _bench_signer(portal)
            crl = RevocationList.load(pki.crl_path, anchors)
        report = verify_whitelist(
            read_bytes(one["file"]),
            anchors=anchors,
            crl=crl,
            expected=expected,
            label=one["file"].name,
            profile=chosen,
        ).report
    else:
        raise InputError(_("unknown validation") + f": {kind!r}")
    saved = save_report(
        portal.store, report, kind=kind, organisation_id=organisation_id, stored_bytes=kept
    )
    return Done((saved,))


def _form_values(form: FormData) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if not isinstance(v, UploadFile)}


async def form_page(request: Request) -> Response:
    kind = request.query_params.get("kind", "request")
    return page(
        request,
        "validate.html.j2",
        kinds=KINDS,
        kind=kind if kind in KINDS else "request",
        values={"profile": "drim-m"},
        error=None,
    )


async def validate(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=2000, max_fields=50)
    values = _form_values(form)
    kind = values.get("kind", "")
    error: str | None = None
    folder = portal.uploads_dir / "validations" / uuid.uuid4().hex
    done: Done | None = None
    status = 400
    try:
        if kind not in KINDS:
            raise InputError(_("unknown validation") + f": {kind!r}")
        owner = viewer(request).organisation_id
        await run_in_threadpool(check_quota_of, portal, owner)  # before any file is kept
        chosen = selection_of(values)
        folder.mkdir(parents=True)
        files: dict[str, list[Path]] = {}
        for field, label, required, _multiple in KINDS[kind][1]:
            uploads = [u for u in form.getlist(field) if is_file(u)]
            if required and not uploads:
                raise InputError(_("choose a file") + f": {_(label)}")
            for upload in uploads:
                assert isinstance(upload, UploadFile)
                target = folder / field
                target.mkdir(exist_ok=True)
                saved = await save_upload(upload, target, portal.upload_limit, what=_(label))
                files.setdefault(field, []).append(saved)
        bench = values.get("bench") == "on"
        done = await run_in_threadpool(
            run_validation, portal, kind, files, chosen, bench, organisation_id=owner
        )
    except DrimlabError as exc:
        status = 429 if isinstance(exc, QuotaExceeded) else 400
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        error = re.sub(re.escape(str(folder)) + r"/[^/]+/", "", error)  # the upload's own name
    finally:
        await form.close()
        if done is None:
            shutil.rmtree(folder, ignore_errors=True)
    if error is not None or done is None:
        return page(
            request,
            "validate.html.j2",
            status_code=status,
            kinds=KINDS,
            kind=kind if kind in KINDS else "request",
            values=values,
            error=error,
        )
    if len(done.report_ids) == 1:
        return RedirectResponse(f"/reports/{done.report_ids[0]}?alone=1", status_code=303)
    return RedirectResponse("/validate/history", status_code=303)


async def history(request: Request) -> Response:
    portal = portal_of(request)
    before = Cursor.parse(request.query_params.get("before"))
    scope = organisation_scope(request)
    listing = await run_in_threadpool(
        lambda: page_reports(portal.store, uploads_only=True, before=before, organisation_id=scope)
    )
    return page(
        request,
        "history.html.j2",
        items=listing.items,
        next_cursor=listing.next_cursor.token() if listing.next_cursor else None,
        paged=before is not None,
    )


routes = [
    Route("/validate", form_page),
    Route("/validate", validate, methods=["POST"]),
    Route("/validate/history", history),
]

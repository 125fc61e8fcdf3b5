"""The monitor: upload an evidence bundle, see its verdict, who signed it and whether that is
an independent attestation or a self-attested local bench, and the reasons
(`scenarios.monitor.verify_bundle`, the same check as `drimlab evidence verify`, with the
bench PKI's anchors and CRL). A summary is kept beside the organisation that uploaded the
bundle (`<id>.owner`), and another organisation's summary is answered 404.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from drimlab.errors import DrimlabError, InputError
from drimlab.portal import i18n
from drimlab.portal.auth import read_form
from drimlab.portal.context import portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.templating import page
from drimlab.portal.uploads import is_file, safe_name, save_upload
from drimlab.portal.viewer import require_visible, viewer
from drimlab.scenarios.monitor import verify_bundle
from drimlab.scenarios.signing import MonitorTrust
from drimlab.scenarios.summary import render_verification
from drimlab.store.ownership import MISSING
from drimlab.trust.pki_verify import RevocationList

NOBODY = "none"  # the owner file of a summary made by someone of no organisation (the lab)


async def form_page(request: Request) -> Response:
    return page(request, "monitor.html.j2", result=None, error=None, summary_id=None)


async def verify(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=1, max_fields=5)
    folder = portal.uploads_dir / "monitor" / uuid.uuid4().hex
    try:
        upload = form.get("bundle")
        if not (is_file(upload) and isinstance(upload, UploadFile)):
            raise InputError(_("choose an evidence bundle (zip)"))
        folder.mkdir(parents=True)
        saved = await save_upload(upload, folder, portal.upload_limit, what="bundle")
        pki = portal.env.pki
        trust = MonitorTrust(tuple(pki.anchors()), RevocationList.load(pki.crl_path, pki.anchors()))
        result = await run_in_threadpool(lambda: verify_bundle(saved, trust=trust))
        summaries = portal.settings.home / "monitor"
        summaries.mkdir(parents=True, exist_ok=True)
        summary_id = uuid.uuid4().hex
        language = i18n.current()
        html = await run_in_threadpool(lambda: render_verification(result, language=language))
        owner = viewer(request).organisation_id
        (summaries / f"{summary_id}.owner").write_text(
            NOBODY if owner is None else str(owner), encoding="ascii"
        )
        (summaries / f"{summary_id}.html").write_text(html, encoding="utf-8")
    except DrimlabError as exc:
        return page(
            request,
            "monitor.html.j2",
            status_code=400,
            result=None,
            error=str(exc).splitlines()[0],
            summary_id=None,
        )
    finally:
        await form.close()
        shutil.rmtree(folder, ignore_errors=True)
    return page(
        request,
        "monitor.html.j2",
        result=result,
        attestation=result.attestation(language),
        error=None,
        summary_id=summary_id,
    )


async def summary(request: Request) -> Response:
    portal = portal_of(request)
    name = safe_name(request.path_params["summary_id"])
    path = portal.settings.home / "monitor" / f"{name}.html"
    require_visible(request, _owner(path))
    if not path.exists():
        raise HTTPException(404, _("No such summary"))
    return HTMLResponse(path.read_text(encoding="utf-8"))


def _owner(path: Path) -> int | None:
    """The organisation whose upload made the summary (None: nobody's; MISSING: no summary)."""
    if not path.exists():
        return MISSING
    try:
        kept = path.with_suffix(".owner").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None  # a summary from before owners were kept: for those who see everything
    return int(kept) if kept.isdigit() else None


routes = [
    Route("/monitor", form_page),
    Route("/monitor", verify, methods=["POST"]),
    Route("/monitor/{summary_id}", summary),
]

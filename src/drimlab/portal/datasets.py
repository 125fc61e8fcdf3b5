"""The datasets: every exam with its identifiers, each exam's page (KOS SOPInstanceUID, KOS,
XDM and PnR downloads, a thumbnail per series), and the import of a DICOM folder or zip.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from drimlab.datasets import catalog
from drimlab.datasets.importer import ImportSummary, import_directory
from drimlab.dicomweb.transfer_syntax import name_of
from drimlab.errors import DrimlabError, InputError
from drimlab.limits import check_archive, is_folder
from drimlab.portal.auth import read_form
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.templating import page
from drimlab.portal.thumbnails import thumbnail_png
from drimlab.portal.uploads import is_file, safe_name, save_upload, upload_folder
from drimlab.portal.viewer import viewer

MAX_ZIP_MEMBERS = 20000


def _exam(portal: Portal, name: str) -> catalog.ExamInfo:
    found = catalog.find_exam(portal.store, name)
    if found is None:
        raise HTTPException(404, _("No such exam"))
    return found


async def list_page(request: Request) -> Response:
    portal = portal_of(request)
    exams = await run_in_threadpool(catalog.list_exams, portal.store)
    return page(request, "datasets.html.j2", exams=exams, describe=name_of, error=None, name="")


async def exam_page(request: Request) -> Response:
    portal = portal_of(request)
    exam = await run_in_threadpool(_exam, portal, request.path_params["name"])
    series = await run_in_threadpool(catalog.exam_series, portal.store, exam.name)
    return page(request, "exam.html.j2", exam=exam, series=series, describe=name_of)


def _kos_file(portal: Portal, exam: catalog.ExamInfo) -> Path:
    if exam.kos is None:
        raise HTTPException(404, _("This exam has no KOS"))
    return exam.kos.path


async def kos_download(request: Request) -> Response:
    portal = portal_of(request)
    exam = await run_in_threadpool(_exam, portal, request.path_params["name"])
    path = _kos_file(portal, exam)
    return FileResponse(path, media_type="application/dicom", filename=f"{exam.name}-kos.dcm")


def _xdm(portal: Portal, exam: catalog.ExamInfo) -> bytes:
    from drimlab.documents.xdm import build_xdm  # noqa: PLC0415 - lxml and zip on demand

    kos = _kos_file(portal, exam)
    paths = []
    for series in catalog.exam_series(portal.store, exam.name):
        for instance in series.instances:
            stored = instance.file(ExplicitVRLittleEndian) or instance.files[0]
            paths.append(stored.path)
    with tempfile.TemporaryDirectory(dir=portal.settings.home) as folder:
        target = Path(folder) / "export.zip"
        build_xdm(kos, paths, target)
        return target.read_bytes()


async def xdm_download(request: Request) -> Response:
    portal = portal_of(request)
    exam = await run_in_threadpool(_exam, portal, request.path_params["name"])
    data = await run_in_threadpool(_xdm, portal, exam)
    headers = {"Content-Disposition": f'attachment; filename="{exam.name}-xdm.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


def _pnr(portal: Portal, exam: catalog.ExamInfo) -> bytes:
    from drimlab.documents.kos import read_kos  # noqa: PLC0415 - pydicom-heavy
    from drimlab.documents.xds_build import provide_and_register  # noqa: PLC0415

    return provide_and_register(read_kos(_kos_file(portal, exam)).dataset)


async def pnr_download(request: Request) -> Response:
    portal = portal_of(request)
    exam = await run_in_threadpool(_exam, portal, request.path_params["name"])
    data = await run_in_threadpool(_pnr, portal, exam)
    headers = {"Content-Disposition": f'attachment; filename="{exam.name}-pnr.xml"'}
    return Response(data, media_type="application/xml", headers=headers)


def _thumbnail(portal: Portal, series_uid: str) -> bytes | None:
    cache = portal.settings.home / "thumbnails"
    cached = cache / f"{safe_name(series_uid)}.png"
    if cached.exists():
        return cached.read_bytes()
    series = catalog.find_series(portal.store, series_uid)
    if series is None:
        return None
    data = thumbnail_png(series)
    if data is not None:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(cached)
    return data


PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128">'
    b'<rect width="128" height="128" fill="#222"/><text x="64" y="70" fill="#aaa" '
    b'font-size="12" text-anchor="middle" font-family="sans-serif">no preview</text></svg>'
)


async def thumbnail(request: Request) -> Response:
    portal = portal_of(request)
    data = await run_in_threadpool(_thumbnail, portal, request.path_params["series"])
    if data is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml")
    return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


def _extract_zip(archive: Path, target: Path, limit: int) -> None:
    """Unpack a zip of DICOM files; refuse unsafe names, too many members or too many bytes."""
    try:
        with zipfile.ZipFile(archive) as opened:
            members = opened.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise InputError(_("the zip holds too many files"))
            try:
                check_archive(opened, archive.name)  # overlapping entries, inflation ratio
            except InputError:
                raise InputError(
                    _(
                        "the zip is refused: its entries overlap or it inflates far more than "
                        "DICOM files do (a zip bomb?)"
                    )
                ) from None
            total = 0
            for number, member in enumerate(members):
                if is_folder(member):
                    continue
                total += member.file_size
                if total > limit:
                    raise InputError(_("the zip unpacks to more than the upload limit"))
                name = f"{number:06d}-{safe_name(member.filename, 'file')}"
                with opened.open(member) as source, (target / name).open("wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
    except zipfile.BadZipFile:
        raise InputError(_("not a readable zip archive")) from None


def _import(portal: Portal, folder: Path, name: str | None) -> ImportSummary:
    summary = import_directory(portal.store, portal.settings, folder, name=name or None)
    if not summary.imported:
        reasons = list(summary.refused) or [
            f"{s.path.name}: {s.reason}" for s in summary.skipped[:3]
        ]
        raise InputError(_("nothing imported") + ": " + ("; ".join(reasons) or _("no DICOM file")))
    return summary


async def import_exam(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=MAX_ZIP_MEMBERS, max_fields=20)
    if not viewer(request).sees_everything:  # the datasets are every vendor's
        await form.close()
        raise HTTPException(403, _("your role may not do this"))
    name = str(form.get("name") or "").strip()
    error: str | None = None
    try:
        with upload_folder(portal.uploads_dir) as folder:
            unpacked = folder / "files"
            unpacked.mkdir()
            uploads = [v for v in form.getlist("files") if is_file(v)]
            archive = form.get("archive")
            if is_file(archive) and isinstance(archive, UploadFile):
                saved = await save_upload(archive, folder, portal.upload_limit, what="zip")
                await run_in_threadpool(_extract_zip, saved, unpacked, portal.upload_limit)
            for upload in uploads:
                assert isinstance(upload, UploadFile)
                await save_upload(upload, unpacked, portal.upload_limit, what="DICOM file")
            if not any(unpacked.iterdir()):
                raise InputError(_("choose a DICOM folder or a zip of DICOM files"))
            summary = await run_in_threadpool(_import, portal, unpacked, name)
    except DrimlabError as exc:
        error = str(exc)
    finally:
        await form.close()
    if error is not None:
        exams = await run_in_threadpool(catalog.list_exams, portal.store)
        return page(
            request,
            "datasets.html.j2",
            status_code=400,
            exams=exams,
            describe=name_of,
            error=error,
            name=name,
        )
    first = summary.imported[0].name
    return RedirectResponse(f"/datasets/{first}", status_code=303)


routes = [
    Route("/datasets", list_page),
    Route("/datasets/import", import_exam, methods=["POST"]),
    Route("/datasets/{name}", exam_page),
    Route("/datasets/{name}/kos.dcm", kos_download),
    Route("/datasets/{name}/xdm.zip", xdm_download),
    Route("/datasets/{name}/pnr.xml", pnr_download),
    Route("/series/{series}/thumbnail", thumbnail),
]

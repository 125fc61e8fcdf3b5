"""The environment page: the simulators' addresses and status, the TEST trust material, the
token issuer, and the interoperability notice.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from drimlab.portal.auth import read_form
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.i18n import mark
from drimlab.portal.templating import page
from drimlab.portal.viewer import viewer
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT

# name in the URL -> (label msgid, media type, is a private key)
DOWNLOADS: dict[str, tuple[str, str, bool]] = {
    "ca-bundle.pem": (mark("CA bundle (trust anchors)"), "application/x-pem-file", False),
    "consumer-cert.pem": (mark("Consumer certificate chain"), "application/x-pem-file", False),
    "consumer-key.pem": (mark("Consumer private key"), "application/x-pem-file", True),
    "source-cert.pem": (mark("Source certificate chain"), "application/x-pem-file", False),
    "source-key.pem": (mark("Source private key"), "application/x-pem-file", True),
    "whitelist.xml": (mark("Signed whitelist"), "application/xml", False),
    "crl.der": (mark("Certificate revocation list"), "application/pkix-crl", False),
}


def offered(request: Request) -> dict[str, tuple[str, str, bool]]:
    """The downloads this viewer gets: in a shared environment, the bench's private keys
    only for monitors and admins (a vendor presents their own certificate)."""
    sees_everything = viewer(request).sees_everything
    return {k: v for k, v in DOWNLOADS.items() if sees_everything or not v[2]}


def download_path(portal: Portal, name: str) -> Path | None:
    pki = portal.env.pki
    paths = {
        "ca-bundle.pem": pki.bundle_path,
        "consumer-cert.pem": pki.chain_path(CONSUMER_CERT),
        "consumer-key.pem": pki.key_path(CONSUMER_CERT),
        "source-cert.pem": pki.chain_path(SOURCE_CERT),
        "source-key.pem": pki.key_path(SOURCE_CERT),
        "whitelist.xml": portal.env.whitelist_path,
        "crl.der": pki.crl_path,
    }
    return paths.get(name)


async def environment(request: Request) -> Response:
    portal = portal_of(request)
    simulator = portal.simulator
    listening = await run_in_threadpool(simulator.listening)
    return page(
        request,
        "home.html.j2",
        simulator=simulator,
        listening=listening,
        downloads=offered(request),
        portal_origin=portal.origin or f"{request.url.scheme}://{request.url.netloc}",
        token=None,
    )


async def download(request: Request) -> Response:
    portal = portal_of(request)
    name = request.path_params["name"]
    if name not in DOWNLOADS:
        raise HTTPException(404, _("No such download"))
    if name not in offered(request):
        raise HTTPException(403, _("the bench's private keys are for monitors and admins"))
    path = download_path(portal, name)
    if path is None or not path.exists():
        raise HTTPException(404, _("This file is not in the test environment"))
    return FileResponse(path, media_type=DOWNLOADS[name][1], filename=f"TEST-{name}")


async def jwks(request: Request) -> Response:
    portal = portal_of(request)
    body = json.dumps(portal.env.issuer.jwks(), indent=2)
    return Response(body, media_type="application/json")


async def issue_token(request: Request) -> Response:
    portal = portal_of(request)
    await read_form(request, max_files=0, max_fields=2)
    token = await run_in_threadpool(portal.env.issuer.issue)
    simulator = portal.simulator
    listening = await run_in_threadpool(simulator.listening)
    return page(
        request,
        "home.html.j2",
        simulator=simulator,
        listening=listening,
        downloads=offered(request),
        portal_origin=portal.origin or f"{request.url.scheme}://{request.url.netloc}",
        token=token,
    )


async def notice(request: Request) -> Response:
    portal = portal_of(request)
    return page(request, "notice.html.j2", simulator=portal.simulator)


routes = [
    Route("/", environment),
    Route("/downloads/{name}", download),
    Route("/jwks.json", jwks),
    Route("/token", issue_token, methods=["POST"]),
    Route("/notice", notice),
]

"""The REST API: its OpenAPI description against the code (both ways, and the answers against
the documented schemas), validations in every input form and report format with the verdict
the CLI gives, tokens, isolation between organisations, and bad input answered 4xx.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from lxml import etree
from starlette.routing import Route

from drimlab.cli import run
from drimlab.datasets.catalog import list_exams
from drimlab.portal.api import SPEC
from drimlab.store import accounts

from .conftest import PortalUnderTest, SharedPortal, csrf_of

METHODS = {"get", "post", "put", "patch", "delete"}


def _spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _check(instance: Any, schema_name: str) -> None:
    spec = _spec()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    ref = item.get("$ref")
    if not ref:
        return item
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def test_every_api_route_is_documented_and_every_documented_route_exists(
    portal: PortalUnderTest,
) -> None:
    spec = _spec()
    jsonschema.Draft202012Validator.check_schema(
        {"components": spec["components"], "$ref": "#/components/schemas/Validation"}
    )
    app_routes = {
        (method.lower(), route.path_format)
        for route in portal.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in (route.methods or ())
        if method != "HEAD"
    }
    documented = {
        (method, path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }
    assert app_routes == documented
    for path, operations in spec["paths"].items():
        wanted = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in operations.items():
            params = [_resolve(spec, p) for p in operation.get("parameters", [])]
            assert {p["name"] for p in params if p["in"] == "path"} == wanted, (method, path)
            assert operation.get("operationId") and operation.get("responses"), (method, path)
            for answer in operation["responses"].values():
                assert "description" in _resolve(spec, answer)


def _kos(portal: PortalUnderTest, tmp_path: Path) -> Path:
    exam = list_exams(portal.store)[0]
    target = tmp_path / "kos.dcm"
    target.write_bytes(portal.client.get(f"/datasets/{exam.name}/kos.dcm").content)
    return target


def _cli_verdict(capsys: Any, *argv: str) -> str:
    capsys.readouterr()
    run(["validate", *argv, "--format", "json"])
    return str(json.loads(capsys.readouterr().out)["verdict"])


def test_a_kos_validated_through_the_api_gets_the_clis_verdict_in_every_format(
    portal: PortalUnderTest, tmp_path: Path, capsys: Any
) -> None:
    kos = _kos(portal, tmp_path)
    answer = portal.client.post(
        "/api/validations",
        data={"validator": "kos", "profile": "drim-m"},
        files={"file": ("kos.dcm", kos.read_bytes(), "application/dicom")},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    _check(body, "Validation")
    assert answer.headers["location"] == f"/api/validations/{body['id']}"
    assert body["verdict"] == _cli_verdict(capsys, "kos", str(kos))
    again = portal.client.get(answer.headers["location"])
    assert again.status_code == 200 and again.json() == body
    report = portal.client.get(body["links"]["report"]["json"])
    assert report.headers["content-type"].startswith("application/json")
    assert report.json()["verdict"] == body["verdict"]
    gazelle = portal.client.get(body["links"]["report"]["gazelle-xml"])
    assert etree.fromstring(gazelle.content) is not None
    junit = portal.client.get(
        f"{answer.headers['location']}/report", headers={"Accept": "application/junit+xml"}
    )
    assert etree.fromstring(junit.content).tag in {"testsuites", "testsuite"}
    html = portal.client.get(
        f"{answer.headers['location']}/report", headers={"Accept": "text/html"}
    )
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text
    xml = portal.client.get(
        f"{answer.headers['location']}/report", headers={"Accept": "application/xml"}
    )
    assert xml.content == gazelle.content
    listing = portal.client.get("/api/validations")
    _check(listing.json(), "ValidationList")
    assert body["id"] in {item["id"] for item in listing.json()["items"]}
    assert portal.client.get(f"/reports/{body['id']}?alone=1").status_code == 200  # same store


def test_json_objects_and_raw_messages_are_validated_as_the_cli_does(
    portal: PortalUnderTest, tmp_path: Path, capsys: Any, reference_dir: Path
) -> None:
    kos = _kos(portal, tmp_path)
    content = base64.b64encode(kos.read_bytes()).decode()
    answer = portal.client.post(
        "/api/validations",
        json={"validator": "kos", "objects": [{"originalFileName": "k.dcm", "content": content}]},
    )
    assert answer.status_code == 201, answer.text
    _check(answer.json(), "Validation")
    request = reference_dir / "wado-rs" / "request-series.txt"
    raw = portal.client.post(
        "/api/validations?validator=request&profile=drim-m&name=request.txt",
        content=request.read_bytes(),
        headers={"Content-Type": "message/http"},
    )
    assert raw.status_code == 201, raw.text
    _check(raw.json(), "Validation")
    assert raw.json()["verdict"] == _cli_verdict(capsys, "request", str(request))
    exchange = portal.client.get(f"/api/exchanges/{raw.json()['exchangeId']}")
    assert exchange.status_code == 200
    _check(exchange.json(), "Exchange")


def test_bad_input_is_a_4xx_with_a_one_line_reason_never_a_500(
    portal: PortalUnderTest, tmp_path: Path
) -> None:
    kos = _kos(portal, tmp_path)
    cases = [
        ({"data": {"validator": "nope"}, "files": {"file": ("k", b"x")}}, 400, "unknown validator"),
        ({"data": {"validator": "kos"}}, 400, "needs a file named 'file'"),
        (
            {
                "data": {"validator": "kos", "profile": "zzz"},
                "files": {"file": ("k", kos.read_bytes())},
            },
            400,
            "",
        ),
        (
            {
                "data": {"validator": "kos", "select": "NOPE-999"},
                "files": {"file": ("k", kos.read_bytes())},
            },
            400,
            "",
        ),
        (
            {"data": {"validator": "kos"}, "files": {"file": ("../../etc/passwd", b"not dicom")}},
            400,
            "",
        ),
        (
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "not JSON",
        ),
        ({"json": {"validator": "kos", "objects": [{"content": "@@@"}]}}, 400, "not base64"),
        ({"json": {"validator": "kos", "objects": []}}, 400, "objects"),
        ({"json": ["a list"]}, 400, "must be an object"),
        ({"content": b"", "headers": {"Content-Type": "message/http"}}, 400, "empty"),
        (
            {"content": b"GET / HTTP/1.1\r\n\r\n", "headers": {"Content-Type": "message/http"}},
            400,
            "unknown validator",
        ),
        (
            {"content": b"x" * (9 * 1024 * 1024), "headers": {"Content-Type": "message/http"}},
            413,
            "larger",
        ),
    ]
    for kwargs, status, words in cases:
        answer = portal.client.post("/api/validations", **kwargs)
        assert answer.status_code == status, (kwargs.get("data"), answer.text)
        reason = answer.json()["error"]
        assert words in reason and "\n" not in reason and "Traceback" not in reason
        assert str(portal.settings.home) not in reason
    assert not (portal.settings.home / "etc").exists()

    def chunks() -> Any:  # no Content-Length: refused as the bytes arrive, never held whole
        for _ in range(10):
            yield b"y" * (1024 * 1024)

    streamed = portal.client.post(
        "/api/validations?validator=request",
        content=chunks(),
        headers={"Content-Type": "message/http"},
    )
    assert streamed.status_code == 413 and "larger" in streamed.json()["error"]
    for url in (
        "/api/validations/nope",
        "/api/validations/nope/report",
        "/api/exchanges/nope",
        "/api/runs/nope",
        "/api/runs/nope/bundle",
        "/api/nothing-here",
    ):
        answer = portal.client.get(url)
        assert answer.status_code == 404 and answer.json()["error"], url
    made = portal.client.post(
        "/api/validations", data={"validator": "kos"}, files={"file": ("k.dcm", kos.read_bytes())}
    ).json()
    assert portal.client.get(f"/api/validations/{made['id']}/report?format=pdf").status_code == 400


def test_tokens_and_isolation_between_organisations_in_the_api(
    shared: SharedPortal, tmp_path: Path
) -> None:
    store = shared.store
    users = {a.login: a for a in accounts.users(store)}
    alice_token, _ = accounts.create_api_token(store, users["alice"], "CI")
    bob_token, _ = accounts.create_api_token(store, users["bob"], "CI")
    monica_token, _ = accounts.create_api_token(store, users["monica"], "CI")
    api = shared.client()
    exam = list_exams(store)[0]
    kos = shared.login("alice").get(f"/datasets/{exam.name}/kos.dcm").content

    anonymous = api.post("/api/validations", data={"validator": "kos"}, files={"file": ("k", kos)})
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["www-authenticate"]
    forged = api.get("/api/validations", headers={"Authorization": "Bearer drl_forged"})
    assert forged.status_code == 401
    assert api.get("/api/validations", headers={"Authorization": "Basic abc"}).status_code == 401

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    made = api.post(
        "/api/validations",
        data={"validator": "kos"},
        files={"file": ("k.dcm", kos)},
        headers=auth(alice_token),
    )
    assert made.status_code == 201
    validation = made.json()["id"]
    raw = api.post(
        "/api/validations?validator=request",
        content=b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: x\r\n\r\n",
        headers={**auth(alice_token), "Content-Type": "message/http"},
    ).json()
    urls = [
        f"/api/validations/{validation}",
        f"/api/validations/{validation}/report",
        f"/api/validations/{raw['id']}",
        f"/api/exchanges/{raw['exchangeId']}",
    ]
    for url in urls:
        assert api.get(url, headers=auth(alice_token)).status_code == 200, url
        assert api.get(url, headers=auth(bob_token)).status_code == 404, url
        assert api.get(url, headers=auth(monica_token)).status_code == 200, url
    mine = {i["id"] for i in api.get("/api/validations", headers=auth(alice_token)).json()["items"]}
    theirs = {i["id"] for i in api.get("/api/validations", headers=auth(bob_token)).json()["items"]}
    assert validation in mine and validation not in theirs

    # a run of Vendor A, started in the portal, through the API
    alice = shared.login("alice")
    form = alice.get("/scenarios/DRIM-M_SO_REPONSE_WADO")
    started = alice.post(
        "/scenarios/DRIM-M_SO_REPONSE_WADO/runs",
        data={"csrf": csrf_of(form), "base_url": "https://localhost:1/dicom-web"},
        follow_redirects=False,
    )
    run_id = started.headers["location"].rsplit("/", 1)[1]
    got = api.get(f"/api/runs/{run_id}", headers=auth(alice_token))
    assert got.status_code == 200
    _check(got.json(), "Run")
    assert api.get(f"/api/runs/{run_id}", headers=auth(bob_token)).status_code == 404
    assert api.get(f"/api/runs/{run_id}/bundle", headers=auth(bob_token)).status_code == 404
    assert api.get(f"/api/runs/{run_id}/bundle", headers=auth(alice_token)).status_code in {
        200,
        409,
    }

    # a browser session may use the API too, a POST only with the session's CSRF token
    page = alice.get("/account")
    without = alice.post("/api/validations", data={"validator": "kos"}, files={"file": ("k", kos)})
    assert without.status_code == 403
    with_token = alice.post(
        "/api/validations",
        data={"validator": "kos"},
        files={"file": ("k", kos)},
        headers={"X-CSRF-Token": csrf_of(page)},
    )
    assert with_token.status_code == 201

    # a revoked token stops at once; a disabled account's tokens too
    tokens = accounts.api_tokens(store, users["bob"])
    accounts.revoke_api_token(store, users["bob"], tokens[0].id)
    assert api.get("/api/validations", headers=auth(bob_token)).status_code == 401
    accounts.set_active(store, "alice", False)
    assert api.get("/api/validations", headers=auth(alice_token)).status_code == 401

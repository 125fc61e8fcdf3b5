"""Scenario definitions: the shipped ones load, bad ones are refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.scenarios.loader import DEFINITIONS_DIR, get_scenario, load_all, user_dir
from drimlab.scenarios.schema import StepKind, parse_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
REQUIRED = {
    "DRIM-M_SO_REPONSE_WADO",
    "DRIM-M_CO_REQUETE_WADO",
    "DRIM-M_SO_REPONSE_WADO_INSTANCE",
    "DRIM-M_SO_KOS_INCONNU",
    "DRIM-M_SO_JETON",
    "DRIM-M_SO_MTLS_REFUS",
    "DRIM-M_LISTE_BLANCHE_REFUS",
    "DRIM-M_SO_ROBUSTESSE",
}


def text() -> dict:
    return {"fr": "texte", "en": "text"}


def minimal() -> dict:
    return {
        "id": "VENDOR_SMOKE",
        "title": text(),
        "summary": text(),
        "role": "source",
        "inputs": [{"name": "base_url", "text": text()}],
        "steps": [
            {"id": "do-it", "kind": "INSTRUCTION", "actor": "vendor", "text": text()},
            {
                "id": "check",
                "kind": "VALIDATION",
                "actor": "client-simulator",
                "action": "retrieve",
                "with": {"level": "series"},
                "inputs": ["base_url"],
                "expect": {"status": [200, 206]},
                "text": text(),
            },
        ],
    }


def test_every_shipped_scenario_loads_with_both_languages() -> None:
    found = load_all()
    assert set(found) >= REQUIRED
    for scenario in found.values():
        assert scenario.sha256 and len(scenario.sha256) == 64
        kinds = {s.kind for s in scenario.steps}
        assert StepKind.VALIDATION in kinds or StepKind.PREUVE in kinds
        for step in scenario.steps:
            assert step.text.fr and step.text.en and step.text.fr != step.text.en


def test_a_minimal_definition_parses() -> None:
    scenario = parse_scenario(minimal(), origin="smoke.yaml")
    assert scenario.step("check").expect.status == (200, 206)
    assert scenario.step("check").expect.verdict == "PASSED"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("role"), "scenario.role must be a non-empty string"),
        (
            lambda d: d.update(role="viewer"),
            "scenario.role 'viewer' is not one of source, consumer",
        ),
        (lambda d: d.update(id="lower"), "scenario.id 'lower' does not match"),
        (lambda d: d["title"].pop("fr"), "scenario.title.fr must be a non-empty string"),
        (lambda d: d.update(colour=1), "scenario has unknown field(s) colour"),
        (lambda d: d["steps"][0].update(kind="PROOF"), "scenario.steps[0].kind 'PROOF' is not"),
        (
            lambda d: (d["steps"][1].pop("action"), d["steps"][1].pop("with")),
            "scenario.steps[1].action is required",
        ),
        (
            lambda d: d["steps"][1].update(action="whitelist"),
            "scenario.steps[1].action 'whitelist' belongs to a INSTRUCTION step",
        ),
        (
            lambda d: d["steps"][1]["with"].update(speed=3),
            "scenario.steps[1].with has unknown parameter(s) speed",
        ),
        (
            lambda d: d["steps"][1].update(inputs=["token"]),
            "scenario.steps[1].inputs names undeclared input(s) token",
        ),
        (
            lambda d: d["steps"][1].update(expect={"status": 999}),
            "scenario.steps[1].expect.status must be an HTTP status",
        ),
        (
            lambda d: d["steps"][0].update(kind="PREUVE"),
            "scenario.steps[0].evidence must name at least one evidence item",
        ),
        (lambda d: d["steps"][1].update(id="do-it"), "step id 'do-it' is used twice"),
        (lambda d: d.update(steps=[]), "scenario.steps must be a non-empty list"),
    ],
)
def test_bad_definitions_name_the_field(change, message: str) -> None:
    data = minimal()
    change(data)
    with pytest.raises(InputError) as caught:
        parse_scenario(data, origin="smoke.yaml")
    assert str(caught.value).startswith("smoke.yaml: ")
    assert message in str(caught.value)


def test_a_vendor_adds_a_scenario_in_the_home(settings: Settings, capsys) -> None:
    folder = user_dir(settings)
    folder.mkdir(parents=True)
    (folder / "smoke.yaml").write_text(yaml.safe_dump(minimal()), encoding="utf-8")
    assert get_scenario("VENDOR_SMOKE", settings).source.endswith("smoke.yaml")
    assert run(["scenario", "list"]) == 0
    assert "VENDOR_SMOKE" in capsys.readouterr().out
    clash = minimal()
    clash["id"] = "DRIM-M_SO_JETON"
    (folder / "clash.yaml").write_text(yaml.safe_dump(clash), encoding="utf-8")
    assert run(["scenario", "list"]) == 2
    assert "scenario DRIM-M_SO_JETON is already defined in" in capsys.readouterr().err
    (folder / "clash.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    assert run(["scenario", "show", "VENDOR_SMOKE"]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_show_prints_every_step(settings: Settings, capsys) -> None:
    assert run(["scenario", "show", "DRIM-M_CO_REQUETE_WADO", "--lang", "fr"]) == 0
    out = capsys.readouterr().out
    scenario = get_scenario("DRIM-M_CO_REQUETE_WADO")
    for number, step in enumerate(scenario.steps, start=1):
        assert f"{number}. [{step.kind.value}] {step.id}" in out
        assert step.text.fr in out


def test_the_docs_list_every_shipped_scenario_and_step() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for path in sorted(DEFINITIONS_DIR.glob("*.yaml")):
        scenario = get_scenario(yaml.safe_load(path.read_text(encoding="utf-8"))["id"])
        assert f"`{scenario.id}`" in text, scenario.id
        for step in scenario.steps:
            assert f"`{step.id}`" in text, (scenario.id, step.id)

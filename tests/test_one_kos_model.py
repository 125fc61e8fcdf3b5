"""Guards of the shape: one KOS model, DRIM-M constants typed once, the layers' imports.

The KOS used to exist as five models (a summary, a document, cross-validation facts,
protocols, a catalogue row); these tests keep it to one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import drimlab

SOURCE = Path(drimlab.__file__).resolve().parent

# Every class whose name starts with "Kos", and why it is not a second model.
KOS_CLASSES = {
    ("documents/kos.py", "Kos"): "the model",
    ("store/models.py", "Kos"): "the store's ORM row",
    ("datasets/catalog.py", "KosInfo"): "a catalogue record: where the file is",
    ("validation/subjects.py", "KosSubject"): "the model with dciodvfy's verdict beside it",
}
# The facts that make a class a KOS model: who else holds all of them duplicates `Kos`.
KOS_FACTS = {"sop_instance_uid", "study_instance_uid", "series"}
# The values `drimlab.domain` defines; no other module may retype them.
DOMAIN_VALUES = {
    "KOS-SOPInstanceUID",
    "ASIP-SANTE-INS-NIR",
    "1.2.250.1.213.1.4.8",
    "1.2.250.1.213.1.4.9",
    "1.2.250.1.213.1.4.10",
    "IMG-KOS",
    "1.2.840.10008.5.1.4.1.1.88.59",
}
# Modules being rewritten elsewhere keep their literal until that rewrite lands.
RETYPED_FOR_NOW: set[str] = set()
# What each layer must never import (DESIGN.md: layers and import contracts).
FORBIDDEN = {
    "documents": ("datasets", "store", "trust", "simulators", "cli", "scenarios"),
    "validation": ("datasets", "store", "trust", "simulators", "cli", "scenarios"),
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if "/migrations/" not in f"/{relative}":
            yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def _fields(node: ast.ClassDef) -> set[str]:
    return {
        item.target.id
        for item in node.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    }


def _imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_one_kos_model() -> None:
    found = {
        (relative, node.name)
        for relative, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.lower().startswith("kos")
    }
    assert found == set(KOS_CLASSES)


def test_no_other_class_holds_the_facts_of_a_kos() -> None:
    holders = {
        (relative, node.name)
        for relative, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and KOS_FACTS.issubset(_fields(node))
    }
    assert holders == {("documents/kos.py", "Kos")}


def test_domain_values_are_typed_once() -> None:
    retyped = sorted(
        (relative, node.value)
        for relative, tree in _modules()
        if relative not in {"domain.py", *RETYPED_FOR_NOW}
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in DOMAIN_VALUES
    )
    assert retyped == []


def test_domain_imports_nothing_from_drimlab_but_errors() -> None:
    tree = ast.parse((SOURCE / "domain.py").read_text(encoding="utf-8"))
    inside = {m for m in _imports(tree) if m.split(".")[0] == "drimlab"}
    assert inside <= {"drimlab.errors"}


def test_layers_do_not_import_upwards() -> None:
    wrong = sorted(
        (relative, module)
        for relative, tree in _modules()
        for module in _imports(tree)
        for banned in FORBIDDEN.get(relative.split("/")[0], ())
        if module == f"drimlab.{banned}" or module.startswith(f"drimlab.{banned}.")
    )
    assert wrong == []

"""The shape of the code holds: layers import only downwards, no cycles, no private names
across modules, no module over 500 lines (DESIGN.md, CONVENTIONS.md; docs/architecture.md).

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "drimlab"
MAX_LINES = 500

BOTTOM = {"errors", "version", "limits", "locks"}
# Each unit (a top-level module or package of drimlab) and what it may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "version": set(),
    "limits": {"errors"},
    "locks": set(),
    "policy": set(),
    "domain": {"errors"},
    "config": {"errors"},
    "dicomweb": {"errors"},
    "facts": {"errors"},
    "exchange": {"errors", "dicomweb", "facts"},
    "documents": {*BOTTOM, "domain", "dicomweb"},
    "validation": {*BOTTOM, "domain", "policy", "dicomweb", "facts", "exchange", "documents"},
    "dciodvfy": {"errors", "validation"},
    "tokens": {"errors", "config", "facts", "limits"},
    "trust": {
        *BOTTOM,
        "domain",
        "policy",
        "dicomweb",
        "facts",
        "exchange",
        "documents",
        "validation",
    },
    "store": {*BOTTOM, "config", "domain", "dicomweb", "facts", "exchange", "validation"},
}
# Components may use everything below them, but nothing imports the CLI.
COMPONENTS = ("datasets", "simulators", "proxy", "scenarios", "testing", "portal", "cli")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if "migrations" in relative.parts:
            continue
        dotted = ".".join(("drimlab", *relative.with_suffix("").parts))
        yield dotted.removesuffix(".__init__"), path


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _typing_only(tree: ast.Module) -> set[int]:
    """The import nodes under `if TYPE_CHECKING:` (no dependency when the code runs)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(id(n) for inner in node.body for n in ast.walk(inner))
    return found


def _imports(path: Path, module: str) -> Iterator[tuple[str, tuple[str, ...], bool]]:
    """(imported module, names, runs when the code runs) for every import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    typing_only = _typing_only(tree)
    top = {id(n) for n in ast.walk(tree)} - typing_only
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(alias.name for alias in node.names)
            yield base, names, id(node) in top


def _drimlab_imports() -> Iterator[tuple[str, str, tuple[str, ...], bool]]:
    for module, path in _modules():
        for target, names, top in _imports(path, module):
            if target == "drimlab" or target.startswith("drimlab."):
                yield module, target, names, top


def test_layers_import_only_downwards() -> None:
    wrong = []
    for module, target, names, _ in _drimlab_imports():
        unit = _unit(module)
        targets = {_unit(target)} if target != "drimlab" else {_unit(f"drimlab.{n}") for n in names}
        for used in targets - {unit}:
            if unit in ALLOWED and used not in ALLOWED[unit]:
                wrong.append(f"{module} imports {target} ({unit} may not use {used})")
            if used == "cli" and unit != "cli":
                wrong.append(f"{module} imports the CLI ({target})")
    assert wrong == []


def test_every_unit_has_a_place_in_the_layers() -> None:
    units = {_unit(module) for module, _ in _modules()} - {"__init__", "__main__"}
    assert units <= set(ALLOWED) | set(COMPONENTS), units - set(ALLOWED) - set(COMPONENTS)


def test_no_import_cycles_between_modules() -> None:
    """No two modules need each other, not even through a function-level (lazy) import."""
    graph: dict[str, set[str]] = {}
    known = {module for module, _ in _modules()}
    for module, target, names, top in _drimlab_imports():
        if not top:
            continue
        candidates = [f"{target}.{n}" for n in names] + [target]
        edges = {c for c in candidates if c in known and c != module}
        graph.setdefault(module, set()).update(e for e in edges if not module.startswith(e + "."))
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package importing its own modules to re-export them is not a cycle of concepts
    real = [
        c for c in cycles if not any(c[i + 1].startswith(c[i] + ".") for i in range(len(c) - 1))
    ]
    assert real == []


def test_no_private_name_is_imported_from_another_module() -> None:
    private = [
        f"{module} imports {name} from {target}"
        for module, target, names, _ in _drimlab_imports()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


@pytest.mark.parametrize("module", [m for m, _ in _modules()])
def test_module_size(module: str) -> None:
    path = dict(_modules())[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by concept"


def test_findings_and_reports_are_made_only_in_validation() -> None:
    """One verdict path: outside `validation/`, nothing builds a Finding or a Report."""
    made = []
    for module, path in _modules():
        if _unit(module) == "validation":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in {"Report", "Finding", "finding", "from_findings"}:
                made.append(f"{module}:{node.lineno} calls {name}")
    assert made == []

"""No ORM model outside `drimlab.store` (DESIGN.md): other layers call the store's functions.

Every module under `src/drimlab` is read with `ast`, imports inside functions included, and
relative imports are resolved against the module's package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import drimlab

SOURCE = Path(drimlab.__file__).resolve().parent
MODELS = "drimlab.store.models"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an `import from` names (`from ..store import x` -> drimlab.store)."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_models(name: str) -> bool:
    return name == MODELS or name.startswith(f"{MODELS}.")


def models_imports(source: str, module: str, *, is_package: bool = False) -> Iterator[str]:
    """Each import of the ORM models in a module's source, as `line N: what it imports`."""
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_models(alias.name):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            names = [alias.name for alias in node.names]
            if _is_models(target) or any(_is_models(f"{target}.{name}") for name in names):
                yield f"line {node.lineno}: from {target} import {', '.join(names)}"
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _is_models(node.args[0].value)
        ):
            yield f"line {node.lineno}: dynamic import of {node.args[0].value}"


def test_no_module_outside_the_store_imports_the_orm_models() -> None:
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = _module_name(path)
        if module == "drimlab.store" or module.startswith("drimlab.store."):
            continue
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        offenders += [
            f"{module} ({found})" for found in models_imports(source, module, is_package=is_package)
        ]
    assert offenders == [], "ORM models imported outside drimlab.store: " + "; ".join(offenders)


def test_the_guard_sees_every_form_of_import() -> None:
    source = """
import drimlab.store.models
from drimlab.store.models import Exam
from drimlab.store import models
from drimlab.store import Store, models as orm

def later():
    from drimlab.store.models import ExchangeRecord
    from ..store import models
    from ..store.models import Kos
    importlib.import_module("drimlab.store.models")

from drimlab.store import Store
from drimlab.store.queries import list_exchanges
from .models import Nothing
"""
    found = list(models_imports(source, "drimlab.datasets.catalog"))
    assert [f.split(":")[0] for f in found] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 8",
        "line 9",
        "line 10",
        "line 11",
    ]


def test_the_store_itself_is_not_checked_but_its_relative_imports_resolve() -> None:
    found = list(models_imports("from .models import Exam\n", "drimlab.store.catalog"))
    assert found == ["line 1: from drimlab.store.models import Exam"]
    from_package = "from .models import Base\n"
    assert list(models_imports(from_package, "drimlab.store", is_package=True)) == [
        "line 1: from drimlab.store.models import Base"
    ]

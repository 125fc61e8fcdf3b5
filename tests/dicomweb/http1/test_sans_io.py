"""`dicomweb.http1` is sans-I/O: it imports nothing that opens sockets, files or processes."""

from __future__ import annotations

import ast
from pathlib import Path

from drimlab.dicomweb import http1

IO_MODULES = {"socket", "ssl", "select", "selectors", "asyncio", "os", "io", "pathlib"}
IO_MODULES |= {"subprocess", "shutil", "tempfile", "urllib", "http", "threading"}


def test_http1_imports_no_io_module() -> None:
    folder = Path(http1.__file__).parent
    for source in sorted(folder.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in IO_MODULES, f"{source.name} imports {name}"
                if name.startswith("drimlab."):
                    assert name.startswith("drimlab.dicomweb."), f"{source.name} imports {name}"


def test_all_names_what_the_package_exports() -> None:
    assert sorted(http1.__all__) == sorted(set(http1.__all__))
    for name in http1.__all__:
        assert hasattr(http1, name), name

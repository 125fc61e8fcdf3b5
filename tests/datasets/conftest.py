"""The default synthetic dataset, generated once per session, and its three pre-encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.datasets.encodings import PRE_ENCODED_SYNTAXES, encode_file
from drimlab.datasets.synthetic import ExamSpec, dataset_specs, write_exam

GeneratedSet = dict[str, list[Path]]


@pytest.fixture(scope="session")
def default_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("default-set")


@pytest.fixture(scope="session")
def default_set(default_root: Path) -> GeneratedSet:
    """Exam name -> paths of its Explicit VR Little Endian instances."""
    generated: GeneratedSet = {}
    for spec in dataset_specs("default"):
        generated[spec.name] = write_exam(spec, default_root / "raw" / spec.name)
    return generated


@pytest.fixture(scope="session")
def default_specs() -> dict[str, ExamSpec]:
    return {spec.name: spec for spec in dataset_specs("default")}


@pytest.fixture(scope="session")
def encoded_set(
    default_root: Path, default_set: GeneratedSet
) -> dict[str, list[tuple[Path, Path]]]:
    """Transfer syntax UID -> (source, encoded) pairs for every instance of the default set."""
    raw = default_root / "raw"
    pairs: dict[str, list[tuple[Path, Path]]] = {}
    for syntax in PRE_ENCODED_SYNTAXES:
        pairs[syntax] = []
        for paths in default_set.values():
            for source in paths:
                dest = default_root / str(syntax) / source.relative_to(raw)
                encode_file(source, syntax, dest)
                pairs[syntax].append((source, dest))
    return pairs

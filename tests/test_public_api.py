"""`drimlab/__init__.py` is the one place that says what users may import: checked both ways."""

import types

import drimlab


def test_public_names_are_importable() -> None:
    for name in drimlab.__all__:
        assert hasattr(drimlab, name), name


def test_every_public_name_of_the_package_is_in_all() -> None:
    public = {
        name
        for name, member in vars(drimlab).items()
        if not name.startswith("_") and not isinstance(member, types.ModuleType)
    }
    assert public == set(drimlab.__all__) - {"__version__"}


def test_all_is_sorted_and_unique() -> None:
    assert list(drimlab.__all__) == sorted(set(drimlab.__all__))


def test_the_version_is_written_once() -> None:
    from importlib.metadata import version

    from drimlab.version import __version__

    assert drimlab.__version__ == __version__ == version("drimlab")

import drimlab


def test_public_names_are_importable() -> None:
    for name in drimlab.__all__:
        assert hasattr(drimlab, name), name


def test_all_is_sorted_and_unique() -> None:
    assert list(drimlab.__all__) == sorted(set(drimlab.__all__))

"""The vault's public surface is exactly what `__all__` names."""

from __future__ import annotations

from types import ModuleType

import vault


def test_every_name_in_all_exists() -> None:
    missing = [name for name in vault.__all__ if not hasattr(vault, name)]
    assert missing == []


def test_all_is_exactly_the_public_surface() -> None:
    public = {
        name
        for name, value in vars(vault).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(vault.__all__)
    assert len(vault.__all__) == len(set(vault.__all__))


def test_every_export_comes_from_the_vault() -> None:
    for name in vault.__all__:
        assert getattr(vault, name).__module__.startswith("vault."), name

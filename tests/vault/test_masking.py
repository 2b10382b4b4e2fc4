"""Masking shows at most the last 4 characters and never over a quarter of the secret."""

from __future__ import annotations

import pytest

from vault import mask

B = "\u2022" * 6


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("", ""),
        ("a", B),
        ("abc", B),
        (" ", B),
        ("abcd", B + "d"),
        ("abcdef", B + "f"),
        ("abcdefgh", B + "gh"),
        ("abcdefghijkl", B + "jkl"),
        ("abcdefghijklmnop", B + "mnop"),
        ("lvr-Qm9KbGV2ZXJBcGlLZXk-7f3a", B + "7f3a"),
        ("日本語のパスワード", B + "ード"),
    ],
)
def test_mask(secret: str, expected: str) -> None:
    assert mask(secret) == expected


@pytest.mark.parametrize("length", range(0, 40))
def test_mask_never_shows_over_a_quarter_nor_over_four(length: int) -> None:
    secret = "x" * length
    shown = len(mask(secret)) - (len(B) if secret else 0)
    assert shown <= min(4, length / 4)


def test_mask_hides_the_length() -> None:
    assert len(mask("a" * 5)) == len(mask("a" * 7))

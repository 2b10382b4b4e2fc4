"""Masking: enough of a secret's tail to tell two credentials apart, never enough to use one."""

from __future__ import annotations

BULLETS = "\u2022" * 6
SHOWN_AT_MOST = 4


def mask(secret: str) -> str:
    """Fixed bullets, then at most the last 4 characters and never over a quarter of the secret."""
    if not secret:
        return ""
    shown = min(SHOWN_AT_MOST, len(secret) // 4)
    return BULLETS + secret[len(secret) - shown :]

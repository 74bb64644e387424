"""Counts in words: '1 row', '2,000 rows'."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """`n` (with thousands separators) and the noun, plural unless n is 1 (regular plurals: an added 's')."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"

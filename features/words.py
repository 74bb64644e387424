"""Counts in words ('1 row', '2,000 rows') and values cut to a length for messages."""

from __future__ import annotations

MISSING_REQUIRED = "is missing but required"
"""How every stage says that a value an input may not lack is missing (a reject's reason, a 400's message)."""

COMMA_SEPARATED = (
    "thinfile reads comma-separated CSV: save it with commas (Excel: 'CSV UTF-8 (Comma delimited)') or as Parquet"
)
"""What to do about a CSV separated by another mark (said wherever a table is read)."""


def counted(n: int, noun: str) -> str:
    """`n` (with thousands separators) and the noun, plural unless n is 1 (regular plurals: an added 's')."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def clipped(text: str, chars: int) -> str:
    """`text` cut to at most `chars` characters, the cut marked with '...'."""
    return text if len(text) <= chars else text[: max(chars - 3, 0)] + "..."


def percent(share: float) -> str:
    """A share to one decimal that never rounds a non-zero part to 0.0% or a part short of the whole to 100.0%."""
    if 0 < share < 0.0005:
        return "under 0.1%"
    if 0.9995 <= share < 1:
        return "over 99.9%"
    return f"{share:.1%}"


def spelling_key(text: str) -> str:
    """A value as it reads once case and surrounding spaces are ignored (' Own', 'OWN' and 'own ' read 'own')."""
    return " ".join(text.split()).casefold()

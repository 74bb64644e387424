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

"""Rendering: the Jinja2 environment over templates/*.j2, and the table and image values the macros draw."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from matplotlib.figure import Figure

from thinfile.training.reporting.figures import svg_data_uri

TEMPLATES = Path(__file__).parent / "templates"
NA = "n/a"

Kind = Literal["text", "int", "num", "g", "pct", "pct_ci", "num_ci", "yesno"]


@cache
def environment() -> Environment:
    """One environment for every report: HTML autoescaped, undefined names are errors, not blanks."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = format_value
    return env


def render(template: str, **context: Any) -> str:
    """Render `templates/<template>` (which extends base.html.j2) with `context`."""
    return environment().get_template(template).render(**context)


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and not math.isfinite(float(v)))


def format_value(v: Any, kind: str = "num", digits: int | None = None) -> str:
    """One value as text: pct 12.3%, num 0.123, g 600 (shortest), int 1,234, yesno; a missing number is 'n/a',
    missing text is blank."""
    if _missing(v):
        return "" if kind == "text" else NA
    if kind == "text":
        return str(v)
    if kind == "g":
        return f"{float(v):g}"
    if kind == "yesno" or isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if kind == "pct":
        return f"{100 * float(v):.{1 if digits is None else digits}f}%"
    if kind == "int" or isinstance(v, (int, np.integer)):
        return f"{int(float(v)):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{3 if digits is None else digits}f}"
    return str(v)


@dataclass(frozen=True)
class Column:
    """One table column: the row key, its header, how to format it, an optional flag test (drawn in red) and the
    digits after the point (None: the kind's own). A `*_ci` kind shows the row's `<key>_low` and `<key>_high` after
    the value, as its interval."""

    key: str
    header: str = ""
    kind: Kind = "num"
    flag: Callable[[Mapping[str, Any]], bool] | None = None
    digits: int | None = None

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ")


@dataclass(frozen=True)
class Cell:
    text: str
    classes: str = ""


@dataclass(frozen=True)
class Table:
    headers: list[Cell]
    rows: list[list[Cell]]
    caption: str = ""
    row_classes: list[str] = field(default_factory=list)


def _cell(row: Mapping[str, Any], col: Column, first: bool) -> Cell:
    v = row.get(col.key)
    classes = ["l"] if first or col.kind == "text" else []
    if col.kind in ("pct_ci", "num_ci"):
        pct = col.kind == "pct_ci"
        text = format_value(v, "pct" if pct else "num", col.digits)
        low: Any = row.get(f"{col.key}_low")
        high: Any = row.get(f"{col.key}_high")
        if not _missing(v) and not _missing(low) and not _missing(high):
            scale, digits = (100, 0) if pct else (1, 3)
            digits = digits if col.digits is None else col.digits
            to = " to " if float(low) < 0 else "–"  # a minus sign beside a dash reads as a range of its own
            text += f" ({scale * float(low):.{digits}f}{to}{scale * float(high):.{digits}f})"
    else:
        text = format_value(v, col.kind, col.digits)
    if text == NA:
        classes.append("muted")
    elif col.flag is not None and col.flag(row):
        classes.append("bad")
    return Cell(text, " ".join(classes))


def table(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    caption: str = "",
    row_class: Callable[[Mapping[str, Any]], str] | None = None,
) -> Table:
    """A table of `rows` (a frame or records) showing `columns` that are present, formatted per kind."""
    records = rows.to_dict(orient="records") if isinstance(rows, pd.DataFrame) else [dict(r) for r in rows]
    present = set().union(*(r.keys() for r in records)) if records else {c.key for c in columns}
    cols = [c for c in columns if c.key in present]
    return Table(
        headers=[Cell(c.title, "l" if i == 0 or c.kind == "text" else "") for i, c in enumerate(cols)],
        rows=[[_cell(r, c, i == 0) for i, c in enumerate(cols)] for r in records],
        caption=caption,
        row_classes=[row_class(r) if row_class else "" for r in records],
    )


@dataclass(frozen=True)
class Image:
    """A figure embedded as a base64 SVG with its alternative text."""

    src: str
    alt: str
    caption: str = ""


def image(fig: Figure, alt: str, caption: str = "") -> Image:
    return Image(svg_data_uri(fig), alt, caption)


@dataclass(frozen=True)
class Verdict:
    """The banner at the top of a report: its kind (pass, fail, incomplete, info) and the sentence."""

    kind: Literal["pass", "fail", "incomplete", "info"]
    text: str

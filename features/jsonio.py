"""JSON that every stage writes: strict (no NaN or Infinity), numpy values as plain numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays as Python values and every non-finite float as None (null)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value: Any, indent: int | None = 1) -> str:
    """Strict JSON: non-finite numbers become null, anything else unknown is an error; text as it is (a lender's
    Chinese names readable), so write it as UTF-8."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False, ensure_ascii=False)

"""The lending policy: cut-offs on the score that turn it into approve / refer / decline."""

from __future__ import annotations

import numpy as np
from pydantic import model_validator

from thinfile.features.settings import Section


class Cutoffs(Section):
    """Decision rule on the score: approve at or above `approve`, refer down to `refer`, else decline."""

    approve: float = 600.0
    refer: float = 550.0

    @model_validator(mode="after")
    def _check(self) -> Cutoffs:
        if self.refer > self.approve:
            raise ValueError(f"refer cut-off {self.refer} is above approve cut-off {self.approve}")
        return self


def decisions(score: np.ndarray, cutoffs: Cutoffs) -> np.ndarray:
    """approve / refer / decline for each score."""
    score = np.asarray(score)
    return np.where(score >= cutoffs.approve, "approve", np.where(score >= cutoffs.refer, "refer", "decline")).astype(
        object
    )

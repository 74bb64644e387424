"""Fitting a scorecard leaves Ctrl-C to Python: optbinning's solver (OR-Tools CP-SAT) would otherwise put the
operating system's default back when done, and a later Ctrl-C killed thinfile without a word."""

from __future__ import annotations

import signal
import sys

import pandas as pd
import pytest

from thinfile.features.schema import Schema
from thinfile.training.scorecard import WoeScorecard

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def sigint_caught() -> bool:
    """Whether the kernel has a handler of this process for SIGINT (SigCgt), whatever Python believes."""
    with open("/proc/self/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)))


def test_a_scorecard_fit_leaves_ctrl_c_with_python(population: pd.DataFrame, schema: Schema) -> None:
    assert sigint_caught()
    WoeScorecard.fit(population.iloc[:3_000], schema, schema.feature_names, "all_inputs_scorecard")
    assert sigint_caught() and signal.getsignal(signal.SIGINT) is signal.default_int_handler

"""Numbers in infer's comments are written one way: thousands separated, whole or not, never in e-notation."""

import numpy as np
import pandas as pd

from thinfile.features.infer import infer_schema


def test_a_median_with_a_fraction_is_written_with_thousands_separated_as_a_whole_one_is() -> None:
    whole = np.arange(20_000.0, 20_000.0 + 31 * 113, 113)  # 31 values: the median is the 16th, 21,695
    frame = pd.DataFrame(
        {"id": np.arange(31), "whole_income": whole, "half_income": whole + 0.5, "bad": np.arange(31) % 2}
    )
    found = infer_schema(frame, name="t", target="bad", id_column="id")
    seen = {c.name: c.seen for c in found.columns}
    assert "(median 21,695)" in seen["whole_income"]
    assert "(median 21,695.5)" in seen["half_income"]

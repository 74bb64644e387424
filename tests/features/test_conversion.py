"""One conversion: an integer-coded category (levels "0".."6") read as ints, floats or text gives the same codes
and the same scores on every path (library on a frame, on a validated frame, batch on Parquet, service contract),
and those scores are LightGBM's own on a matrix built by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from scipy.special import expit

from thinfile.features.io import read_table
from thinfile.features.schema import Schema, parse_schema
from thinfile.features.validate import validate_arrow, validate_table
from thinfile.features.validate_reference import reference_validate_table
from thinfile.serving.batch import batch_score
from thinfile.serving.contract import applicant_model, applicants_to_matrix
from thinfile.training.champion import fit_champion
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import TrainConfig

TIERS = [str(k) for k in range(7)]
FORMS = ["int", "float", "text"]


@pytest.fixture(scope="module")
def coded_schema() -> Schema:
    return parse_schema(
        {
            "name": "coded-tiers",
            "id_column": "loan_id",
            "target": "bad",
            "features": [
                {"name": "income", "type": "float", "min": 0, "max": 50, "dimension": "capacity", "reason": "income"},
                {"name": "late", "type": "int", "min": 0, "max": 9, "dimension": "behaviour", "reason": "late bills"},
                {"name": "autopay", "type": "bool", "dimension": "behaviour", "reason": "no autopay"},
                {
                    "name": "tier",
                    "type": "category",
                    "categories": TIERS,
                    "dimension": "credit_history",
                    "reason": "bureau tier",
                },
            ],
        }
    )


def coded_table(rows: int, seed: int, missing_tiers: bool) -> pd.DataFrame:
    """Tier as whole numbers 0..6 (float64 with NaN when some are missing); tier drives most of the risk."""
    rng = np.random.default_rng(seed)
    tier = rng.integers(0, 7, rows).astype(np.float64)
    income = rng.uniform(0, 50, rows)
    late = rng.integers(0, 10, rows)
    autopay = rng.random(rows) < 0.5
    logit = -2.0 + 0.6 * (tier - 3) + 0.2 * late - 0.02 * income - 0.3 * autopay
    bad = (rng.random(rows) < expit(logit)).astype(np.int8)
    if missing_tiers:
        tier[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:05d}" for i in range(rows)],
            "income": income,
            "late": late,
            "autopay": autopay,
            "tier": tier,
            "bad": bad,
        }
    )


def tier_as(frame: pd.DataFrame, form: str) -> pd.DataFrame:
    """The same table with tier held as ints, floats (NaN where missing) or text (None where missing)."""
    tier = frame["tier"]
    if form == "int":
        return frame.assign(tier=tier.astype(np.int64))
    if form == "float":
        return frame.assign(tier=tier.astype(np.float64))
    return frame.assign(tier=[None if np.isnan(t) else str(int(t)) for t in tier])


def hand_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Model inputs in schema order; tier k is level "k", whose code is k."""
    return np.column_stack(
        [
            frame["income"].to_numpy(np.float64),
            frame["late"].to_numpy(np.float64),
            frame["autopay"].to_numpy(np.float64),
            frame["tier"].to_numpy(np.float64),
        ]
    )


@pytest.fixture(scope="module")
def coded_scorer(coded_schema: Schema) -> Scorer:
    table = validate_table(tier_as(coded_table(3_000, seed=1, missing_tiers=True), "text"), coded_schema).clean
    config = TrainConfig(max_rounds=40, min_child_samples=20, num_threads=1)
    return fit_champion(table.iloc[:2_200], table.iloc[2_200:], coded_schema, config)


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return coded_table(400, seed=2, missing_tiers=False)


def lightgbm_pd(scorer: Scorer, X: np.ndarray) -> np.ndarray:
    """PD from the booster's own margin on a hand-built matrix and the scorer's Platt calibration."""
    a, b = scorer.calibration
    return expit(a * scorer.booster.predict(X, raw_score=True) + b)


def test_the_model_uses_the_tier(coded_scorer: Scorer, book: pd.DataFrame) -> None:
    as_missing = hand_matrix(book)
    as_missing[:, 3] = np.nan
    shift = np.abs(lightgbm_pd(coded_scorer, hand_matrix(book)) - lightgbm_pd(coded_scorer, as_missing))
    assert shift.max() > 0.05


@pytest.mark.parametrize("form", FORMS)
def test_to_matrix_reads_ints_floats_and_text_of_a_coded_category_as_its_level_codes(
    coded_schema: Schema, book: pd.DataFrame, form: str
) -> None:
    np.testing.assert_array_equal(coded_schema.to_matrix(tier_as(book, form)), hand_matrix(book))


def test_a_missing_tier_is_nan_in_every_form(coded_schema: Schema) -> None:
    table = coded_table(300, seed=3, missing_tiers=True)
    for form in ("float", "text"):
        np.testing.assert_array_equal(coded_schema.to_matrix(tier_as(table, form)), hand_matrix(table))


@pytest.mark.parametrize("form", FORMS)
def test_library_on_a_frame_gives_lightgbm_pd_on_the_hand_built_matrix(
    coded_scorer: Scorer, book: pd.DataFrame, form: str
) -> None:
    np.testing.assert_array_equal(
        coded_scorer.predict_pd(tier_as(book, form)), lightgbm_pd(coded_scorer, hand_matrix(book))
    )


@pytest.mark.parametrize("form", FORMS)
def test_library_on_a_validated_frame_scores_as_on_the_raw_frame(
    coded_scorer: Scorer, coded_schema: Schema, book: pd.DataFrame, form: str
) -> None:
    report = validate_table(tier_as(book, form), coded_schema)
    assert report.ok, report.errors.head()
    on_clean = coded_scorer.explain(report.clean)
    on_raw = coded_scorer.explain(tier_as(book, form))
    np.testing.assert_array_equal(on_clean.score, on_raw.score)
    np.testing.assert_allclose(on_clean.pd, lightgbm_pd(coded_scorer, hand_matrix(book)), rtol=1e-12)


@pytest.mark.parametrize("form", ["int", "float"])
def test_batch_on_parquet_scores_as_the_library_on_the_hand_built_matrix(
    coded_scorer: Scorer, book: pd.DataFrame, tmp_path: Path, form: str
) -> None:
    tier_as(book, form).to_parquet(tmp_path / "book.parquet", index=False)
    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", coded_scorer, workers=1)
    assert (result.scored, result.rejected) == (len(book), 0)
    scores = pd.read_parquet(tmp_path / "out" / "scores").set_index("loan_id").loc[book["loan_id"]]
    expected = coded_scorer.explain(hand_matrix(book))
    np.testing.assert_array_equal(scores["score"].to_numpy(), expected.score)
    np.testing.assert_allclose(scores["pd"].to_numpy(), lightgbm_pd(coded_scorer, hand_matrix(book)), rtol=1e-12)


def test_service_contract_scores_as_the_library_on_the_hand_built_matrix(
    coded_scorer: Scorer, coded_schema: Schema, book: pd.DataFrame
) -> None:
    applicant = applicant_model(coded_schema)
    bodies = [
        {"income": float(r.income), "late": int(r.late), "autopay": bool(r.autopay), "tier": str(int(r.tier))}
        for r in book.itertuples()
    ]
    X = applicants_to_matrix(coded_schema, [applicant.model_validate(b) for b in bodies])
    np.testing.assert_array_equal(X, hand_matrix(book))
    np.testing.assert_array_equal(coded_scorer.explain(X).score, coded_scorer.explain(tier_as(book, "int")).score)
    np.testing.assert_array_equal(coded_scorer.predict_pd(X), lightgbm_pd(coded_scorer, hand_matrix(book)))


WRITTEN_AS_TWO = [" 2", "2 ", "2.0", "2.", "02", "+2", "2e0"]


def _tier_csv(path: Path, cells: list[str]) -> Path:
    lines = ["loan_id,income,late,autopay,tier", *(f"L{i},10.5,1,true,{c}" for i, c in enumerate(cells))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("written", WRITTEN_AS_TWO)
@pytest.mark.parametrize("beside", ["3", "x"], ids=["numbers-beside", "text-beside"])
def test_text_writing_a_whole_number_another_way_is_its_code_whatever_else_the_column_holds(
    coded_schema: Schema, tmp_path: Path, written: str, beside: str
) -> None:
    path = _tier_csv(tmp_path / "book.csv", [written, beside])
    frame = read_table(path)
    arrow = pacsv.read_csv(path)
    for report in (validate_table(frame, coded_schema), reference_validate_table(frame, coded_schema)):
        assert bool(report.valid_mask[0]), report.errors
        assert coded_schema.to_matrix(report.clean.iloc[:1])[0, 3] == 2.0
    checked = validate_arrow(arrow, coded_schema)
    assert bool(checked.valid_mask[0]), checked.errors
    assert checked.matrix[0, 3] == 2.0
    assert bool(checked.valid_mask[1]) is (beside == "3")


@pytest.mark.parametrize("written", ["1_0", "２", "2.5", "inf", "0x2", "2e99"])
def test_text_that_is_no_whole_number_a_reader_takes_stays_text_and_is_refused_with_its_cell(
    coded_schema: Schema, tmp_path: Path, written: str
) -> None:
    frame = read_table(_tier_csv(tmp_path / "book.csv", [written, "x"]))
    report = validate_table(frame, coded_schema)
    assert not report.valid_mask[0]
    assert report.rejects()["reason"].iloc[0] == f"tier: {written!r} is not one of: 0, 1, 2, 3, 4, 5, 6"

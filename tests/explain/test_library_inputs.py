"""The scorer as a library takes a table of applicants and says in words what is wrong with one it cannot read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.infer import check_table, infer_schema
from thinfile.features.schema import SchemaError, load_schema
from thinfile.training.champion import fit_champion
from thinfile.training.fairness import fairness_report
from thinfile.training.pipeline import train_frame
from thinfile.training.scorer.artefact import Scorer, UnreadableScorerError
from thinfile.training.settings import TrainConfig


@pytest.fixture(scope="module")
def scorer(schema):
    data = generate_frame(schema, rows=6_000, seed=41)
    return fit_champion(data[:4_500], data[4_500:], schema, TrainConfig(max_rounds=40))


@pytest.fixture(scope="module")
def applicants(schema) -> pd.DataFrame:
    return generate_frame(schema, rows=20, seed=42)


def test_a_table_lacking_an_input_column_is_refused_naming_it(scorer: Scorer, applicants: pd.DataFrame) -> None:
    lacking = applicants.drop(columns=["phone_tenure_months", "bureau_utilisation"])
    for read in (scorer.explain, scorer.predict_pd):
        with pytest.raises(
            ValueError,
            match="the table has no column bureau_utilisation, phone_tenure_months|"
            "the table has no column phone_tenure_months, bureau_utilisation",
        ):
            read(lacking)


def test_an_infinite_input_is_refused_naming_its_column(scorer: Scorer, applicants: pd.DataFrame) -> None:
    infinite = applicants.astype({"phone_tenure_months": float})
    infinite.loc[infinite.index[3], "phone_tenure_months"] = np.inf
    with pytest.raises(ValueError, match="phone_tenure_months: an infinite value"):
        scorer.explain(infinite)


def test_a_record_or_a_row_instead_of_a_table_is_refused_saying_what_to_give(
    scorer: Scorer, applicants: pd.DataFrame
) -> None:
    for given in (applicants.iloc[0], applicants.iloc[0].to_dict(), applicants.to_dict("records")):
        with pytest.raises(TypeError, match=r"a pandas DataFrame of applicants.*pd.DataFrame\(\[record\]\)"):
            scorer.explain(given)
    one = scorer.explain(pd.DataFrame([applicants.iloc[0].to_dict()])).records()
    assert one == scorer.explain(applicants.iloc[[0]]).records()


@pytest.mark.parametrize("top", [0, 11, 2.5, True])
def test_top_reasons_outside_one_to_ten_is_refused(scorer: Scorer, applicants: pd.DataFrame, top: object) -> None:
    with pytest.raises(ValueError, match="top_reasons is a whole number from 1 to 10"):
        scorer.explain(applicants, top_reasons=top)  # type: ignore[arg-type]


@pytest.mark.parametrize("cutoff", ["620", True])
def test_a_cut_off_that_is_not_a_number_is_refused(scorer: Scorer, cutoff: object) -> None:
    with pytest.raises(ValueError, match=f"the approve cut-off is a score, a number; got {cutoff!r}"):
        scorer.with_cutoffs(approve=cutoff)  # type: ignore[arg-type]


def test_numpy_numbers_read_from_a_table_are_taken_for_a_cut_off_and_for_top_reasons(
    scorer: Scorer, applicants: pd.DataFrame
) -> None:
    policy = pd.DataFrame({"approve": [620], "reasons": [3]})
    moved = scorer.with_cutoffs(approve=policy["approve"].iloc[0])
    assert moved.cutoffs.approve == 620
    assert moved.explain(applicants, top_reasons=policy["reasons"].iloc[0]).top == 3


def test_a_table_with_an_input_column_twice_is_refused_naming_it(scorer: Scorer, applicants: pd.DataFrame) -> None:
    joined = pd.concat([applicants, applicants[["phone_tenure_months"]]], axis=1)
    with pytest.raises(ValueError, match="more than one column named phone_tenure_months: keep one of each"):
        scorer.explain(joined)


def test_a_scorer_folder_that_is_not_there_or_a_file_is_refused_in_words(tmp_path: Path) -> None:
    (tmp_path / "book.csv").write_text("a\n1\n")
    with pytest.raises(UnreadableScorerError, match="nowhere does not exist: give the folder a scorer was saved to"):
        Scorer.load(tmp_path / "nowhere")
    with pytest.raises(UnreadableScorerError, match="book.csv is a file"):
        Scorer.load(tmp_path / "book.csv")


def test_a_schema_path_that_is_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="is a folder: give the YAML file in it"):
        load_schema(tmp_path)


def test_the_table_of_scores_keeps_the_index_of_the_table_explained_so_it_joins_back(
    scorer: Scorer, applicants: pd.DataFrame
) -> None:
    positions = {"c": 7, "a": 2, "b": 11}
    some = applicants.iloc[list(positions.values())].set_axis(list(positions))
    joined = some.join(scorer.explain(some).to_frame())
    for label, at in positions.items():
        assert joined.loc[label, "score"] == scorer.explain(applicants.iloc[[at]]).score[0]


def test_each_library_entry_given_an_array_for_a_table_says_to_give_a_dataframe(
    scorer: Scorer, applicants: pd.DataFrame, schema
) -> None:
    array = applicants.to_numpy()
    calls = (
        lambda: check_table(array, schema),
        lambda: infer_schema(array, name="acme"),
        lambda: fairness_report(scorer, array),
        lambda: train_frame(array, schema),
    )
    for call in calls:
        with pytest.raises(
            TypeError, match=r"a pandas DataFrame of applicants, one per row, is needed \(got numpy.ndarray\)"
        ):
            call()

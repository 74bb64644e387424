"""A book where one borrower has several loans: with the schema's borrower column, the random split and the
search's cross-validation keep each borrower's loans together, so no model is tested on a borrower it learnt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.infer import check_table
from thinfile.features.schema import Schema, parse_schema
from thinfile.training.data import outcome
from thinfile.training.settings import TrainConfig
from thinfile.training.split import SplitError, split_frame
from thinfile.training.tuning import cv_folds


@pytest.fixture(scope="module")
def schemas(foreign_schema: Schema) -> dict[bool, Schema]:
    """The lender's schema naming a borrower column: undated (a random split) and dated (out of time)."""
    spec = {**foreign_schema.model_dump(mode="json", exclude_none=True), "borrower_column": "customer"}
    undated = {k: v for k, v in spec.items() if k != "date_column"}
    return {False: parse_schema(undated, "acme with borrowers"), True: parse_schema(spec, "acme, dated")}


@pytest.fixture(scope="module")
def book(make_foreign_table) -> pd.DataFrame:
    """6,000 loans of 1,500 borrowers."""
    table = make_foreign_table(6_000, seed=1)
    table["customer"] = [f"C{k:05d}" for k in np.random.default_rng(1).integers(0, 1_500, len(table))]
    return table


def _customers(table: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(table["customer"].iloc[rows])


def test_no_borrower_has_loans_in_two_parts_of_the_split(book, schemas):
    table = book
    split = split_frame(table, schemas[False], TrainConfig())
    train, valid, test = (_customers(table, rows) for rows in split.positions)
    assert split.method == "stratified_by_borrower"
    assert not (train & valid or train & test or valid & test)
    assert sum(map(len, split.positions)) == len(table)


def test_each_part_keeps_about_its_share_of_rows_and_the_tables_default_rate(book, schemas):
    table = book
    config = TrainConfig()
    split = split_frame(table, schemas[False], config)
    rate = table["went_bad"].mean()
    for rows, share in zip(split.positions, (1 - config.test_size - config.valid_size, config.valid_size, 0.2)):
        assert len(rows) / len(table) == pytest.approx(share, abs=0.03)
        assert table["went_bad"].iloc[rows].mean() == pytest.approx(rate, abs=0.02)


def test_rows_with_no_borrower_are_each_a_borrower_of_their_own(book, schemas):
    table = book.copy()
    table.loc[table.index[:300], "customer"] = None
    split = split_frame(table, schemas[False], TrainConfig())
    alone = [int(np.isin(rows, np.arange(300)).sum()) for rows in split.positions]
    assert sum(alone) == 300 and min(alone) > 0


def test_the_same_seed_splits_the_borrowers_the_same_way(book, schemas):
    table = book
    first, second = (split_frame(table, schemas[False], TrainConfig(seed=3)) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first.positions, second.positions))


def test_the_searchs_folds_keep_each_borrower_in_one_fold(book, schemas):
    table = book
    split = split_frame(table, schemas[False], TrainConfig())
    groups = split.borrowers("train", "valid")
    y = np.concatenate([split.y("train"), split.y("valid")])
    folds = cv_folds(y, TrainConfig(), groups)
    assert len(folds) == TrainConfig().tune_folds
    for fit, held_out in folds:
        assert not set(groups[fit]) & set(groups[held_out])


def test_without_a_borrower_column_the_searchs_folds_are_plain_stratified_folds():
    y = np.array([0, 1] * 50)
    folds = cv_folds(y, TrainConfig())
    assert sorted(np.concatenate([held for _, held in folds]).tolist()) == list(range(100))


def test_an_out_of_time_split_orders_loans_by_date_and_its_folds_still_keep_borrowers_together(book, schemas):
    table = book
    split = split_frame(table, schemas[True], TrainConfig())
    groups = split.borrowers("train", "valid")
    y = np.concatenate([split.y("train"), split.y("valid")])
    assert split.method == "out_of_time"
    for fit, held_out in cv_folds(y, TrainConfig(), groups):
        assert not set(groups[fit]) & set(groups[held_out])


def test_a_table_without_the_borrower_column_its_schema_names_is_refused_by_the_split_and_the_check(book, schemas):
    table = book.drop(columns="customer")
    with pytest.raises(SplitError, match="no borrower column 'customer', which the schema names"):
        split_frame(table, schemas[False], TrainConfig())
    problems = check_table(table, schemas[False], target_reader=outcome).problems
    assert any(p.startswith("table: no borrower column 'customer', which the schema names") for p in problems)


def test_schema_check_counts_the_borrowers_with_several_loans(schemas):
    table = pd.DataFrame(
        {
            "loan_ref": [f"L{i}" for i in range(6)],
            "customer": ["a", "a", "b", "c", "c", None],
            "went_bad": [0, 1, 0, 0, 0, 1],
        }
    )
    notes = check_table(table, schemas[False], for_training=True, target_reader=outcome).notes
    assert (
        "customer: 3 borrowers, 2 with several loans (4 rows); training's split and cross-validation keep "
        "each borrower's loans in one part; 1 row with no borrower, each taken alone"
    ) in notes


@pytest.mark.slow
def test_train_names_the_split_by_borrower(book, schemas, tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    book.head(3_000).to_parquet(tmp_path / "book.parquet", index=False)
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(schemas[False].model_dump(mode="json", exclude_none=True)))
    out = CliRunner().invoke(
        app,
        ["train", "--data", str(tmp_path / "book.parquet"), "--schema", str(tmp_path / "acme.yaml"), "--no-baselines"]
        + ["--no-register"],
        terminal_width=200,
    )
    assert out.exit_code == 0, out.output
    assert "stratified_by_borrower split" in out.output

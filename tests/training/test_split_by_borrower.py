"""A book where one borrower has several loans: with the schema's borrower column, the random split and the
search's cross-validation keep each borrower's loans together, so no model is tested on a borrower it learnt."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.infer import check_table
from thinfile.features.schema import Schema, SchemaError, parse_schema
from thinfile.training.data import outcome
from thinfile.training.settings import TrainConfig, tracking_uri
from thinfile.training.split import (
    SplitError,
    borrowers_across,
    group_parts,
    split_frame,
    splits_otherwise,
    uneven_parts,
)
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


def test_an_out_of_time_split_counts_the_test_borrowers_who_also_borrowed_in_training(book, schemas):
    split = split_frame(book, schemas[True], TrainConfig())
    train, test = (book["customer"].iloc[split.rows_of(part)] for part in ("train", "test"))
    seen = test.isin(set(train))
    said = borrowers_across(split)
    assert said is not None
    assert said.startswith(
        f"{test[seen].nunique():,} of the test part's {test.nunique():,} borrowers ({int(seen.sum()):,} of its "
        f"{len(test):,} rows, {seen.mean():.0%}) also have loans in the training part"
    )
    assert borrowers_across(split_frame(book, schemas[False], TrainConfig())) is None


def test_a_table_without_the_borrower_column_its_schema_names_is_refused_by_the_split_and_the_check(book, schemas):
    table = book.drop(columns="customer")
    with pytest.raises(SplitError, match="no borrower column 'customer', which the schema names"):
        split_frame(table, schemas[False], TrainConfig())
    problems = check_table(table, schemas[False], target_reader=outcome).problems
    assert any(p.startswith("table: no borrower column 'customer', which the schema names") for p in problems)


def test_schema_check_warns_of_borrower_ids_that_differ_only_in_case_or_spaces(book, schemas):
    table = book.copy()
    table.loc[table.index[:2], "customer"] = ["c00007 ", " C00007"]
    table.loc[table.index[2], "customer"] = "C00007"
    table.loc[table.index[3], "customer"] = "Ann  Lee"
    table.loc[table.index[4], "customer"] = "ann lee"
    warnings = check_table(table, schemas[False], target_reader=outcome).warnings
    said = [w for w in warnings if "differ only in case or spaces" in w]
    assert len(said) == 1, warnings
    assert "'c00007 ', ' C00007', 'C00007'" in said[0] and "'Ann  Lee', 'ann lee'" in said[0]
    assert check_table(book, schemas[False], target_reader=outcome).warnings == []


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
        "customer: 3 borrowers, 2 with several loans (4 rows); training's split and its search's folds (under "
        "50,000 rows) keep each borrower's loans in one part; 1 row with no borrower, each taken alone"
    ) in notes


def test_a_schema_that_splits_otherwise_is_named_field_by_field(schemas, foreign_schema):
    assert splits_otherwise(schemas[True], foreign_schema) == "borrower_column 'customer' against none"
    assert splits_otherwise(schemas[False], schemas[True]) == "date_column none against 'applied_on'"
    labelled = schemas[False].model_copy(update={"description": "labels added"})
    assert splits_otherwise(labelled, schemas[False]) == ""


@pytest.mark.slow
def test_train_splits_by_borrower_and_fairness_refuses_a_schema_that_would_split_otherwise(
    book, schemas, tmp_path, monkeypatch
):
    data = _trained_here(book, tmp_path, monkeypatch)
    for name, schema in (
        ("acme.yaml", schemas[False]),
        ("plain.yaml", schemas[False].model_copy(update={"borrower_column": None})),
    ):
        _written(tmp_path / name, schema)
    run = CliRunner().invoke
    trained = run(app, ["train", "--data", str(data), "--schema", str(tmp_path / "acme.yaml"), "--no-baselines"])
    assert trained.exit_code == 0, trained.output
    assert "stratified_by_borrower split" in " ".join(trained.output.split())
    assert "rows (each borrower's loans in one fold)" in " ".join(trained.output.split())
    card = _champion_card(tmp_path)
    loans = book.head(3_000)["customer"].value_counts()
    assert f"- borrowers: customer: {len(loans):,} borrowers, {int((loans > 1).sum()):,} with several loans" in card
    audit = ["fairness", "--data", str(data), "--schema", str(tmp_path / "plain.yaml"), "--out", str(tmp_path / "f")]
    refused = run(app, audit, terminal_width=400)
    assert refused.exit_code == 2
    assert "splits the table otherwise than the model's own schema (borrower_column none against 'customer')" in (
        refused.output
    )
    assert run(app, [*audit, "--all-rows"]).exit_code in (0, 1)


def test_too_few_borrowers_are_refused_in_words_by_the_split_and_the_check(book, schemas):
    few = book.assign(customer=np.array(["a", "b", "c"])[np.arange(len(book)) % 3])
    for schema in schemas.values():  # out of time too: the search's folds keep borrowers together
        with pytest.raises(
            SplitError, match=r"'customer' names 3 borrower\(s\): .* at least 20 \(train.min_borrowers\)"
        ):
            split_frame(few, schema, TrainConfig())
        problems = check_table(few, schema, target_reader=outcome, min_borrowers=20).problems
        assert "customer: 3 borrowers: keeping each borrower's loans together needs at least 20" in " ".join(problems)


def test_rows_with_no_borrower_do_not_count_towards_the_fewest_borrowers(book, schemas):
    few = book.assign(customer=np.where(np.arange(len(book)) < 100, np.arange(len(book)) % 3, None))
    with pytest.raises(SplitError, match=r"names 3 borrower\(s\)"):
        split_frame(few, schemas[False], TrainConfig())


def test_a_split_where_one_borrower_holds_most_loans_is_warned_of_as_uneven(book, schemas):
    lopsided = book.assign(customer=np.where(np.arange(len(book)) < 3_600, "big", book["customer"]))
    config = TrainConfig()
    said = uneven_parts(split_frame(lopsided, schemas[False], config), config)
    assert said is not None and said.startswith("the split by borrower is uneven: train ")
    assert "borrower 'big' holds 3,600 of the" in said
    assert uneven_parts(split_frame(book, schemas[False], config), config) is None


def test_a_part_one_borrower_fills_is_warned_of_though_the_shares_are_even(book, schemas):
    customers = np.array([f"single-{i}" for i in range(len(book))], dtype=object)
    customers[:1_100] = "big"  # 18% of the rows: whichever part takes them, this borrower holds over a quarter
    config = TrainConfig()
    split = split_frame(book.assign(customer=customers), schemas[False], config)
    shares = [len(p) / len(book) for p in split.positions]
    assert shares == pytest.approx([0.6, 0.2, 0.2], abs=0.1)
    said = uneven_parts(split, config)
    assert said is not None and "borrower 'big' holds 1,100 of the" in said


def test_the_searchs_folds_are_fewer_when_there_are_fewer_borrowers_than_folds():
    y = np.array([0, 1] * 20)
    groups = np.arange(40) % 3
    folds = cv_folds(y, TrainConfig(), groups)
    assert len(folds) == 3
    for fit, held_out in folds:
        assert not set(groups[fit]) & set(groups[held_out])


def test_schema_check_points_at_a_repeating_customer_id_the_schema_does_not_name(book, foreign_schema):
    notes = check_table(book.rename(columns={"customer": "customer_id"}), foreign_schema, target_reader=outcome).notes
    (note,) = [n for n in notes if n.startswith("customer_id: named like a borrower id")]
    assert "set borrower_column: customer_id in the schema" in note


def test_a_borrower_column_that_is_the_id_column_is_refused_naming_both_roles(foreign_schema):
    spec = {**foreign_schema.model_dump(mode="json", exclude_none=True), "borrower_column": "loan_ref"}
    with pytest.raises(SchemaError, match="must all differ: 'loan_ref' is id_column and borrower_column"):
        parse_schema(spec, "acme")


def test_the_parts_hold_their_shares_of_rows_for_any_test_and_validation_size(book, schemas):
    config = TrainConfig(test_size=0.4, valid_size=0.3)
    split = split_frame(book, schemas[False], config)
    assert [len(p) / len(book) for p in split.positions] == pytest.approx([0.3, 0.3, 0.4], abs=0.03)


def test_a_book_of_many_borrowers_is_split_by_whole_borrowers_in_its_shares():
    rng = np.random.default_rng(13)
    groups, y = rng.integers(0, 120_000, 300_000), (rng.random(300_000) < 0.08).astype(float)
    part = group_parts(y, groups, (0.6, 0.2, 0.2), seed=1)
    assert np.bincount(part) / len(part) == pytest.approx([0.6, 0.2, 0.2], abs=0.01)
    parts_of = pd.Series(part).groupby(groups).nunique()
    assert (parts_of == 1).all()
    rates = [y[part == k].mean() for k in range(3)]
    assert rates == pytest.approx([y.mean()] * 3, abs=0.005)


@pytest.mark.slow
def test_a_dated_train_says_and_records_the_test_borrowers_who_also_borrowed_in_training(
    book, schemas, tmp_path, monkeypatch
):
    data = _trained_here(book, tmp_path, monkeypatch)
    args = ["train", "--data", str(data), "--schema", str(_written(tmp_path / "dated.yaml", schemas[True]))]
    args += ["--no-baselines", "--no-tune"]
    trained = CliRunner().invoke(app, args, terminal_width=400)
    assert trained.exit_code == 0, trained.output
    expected = borrowers_across(split_frame(book.head(3_000), schemas[True], TrainConfig()))
    assert expected is not None and expected in " ".join(trained.output.split())
    assert f"- borrowers in both: {expected}" in _champion_card(tmp_path)


def _trained_here(book: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """THINFILE_HOME in `tmp_path`, and the book's first 3,000 loans there as Parquet, for `train` to read."""
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    data = tmp_path / "book.parquet"
    book.head(3_000).to_parquet(data, index=False)
    return data


def _written(path: Path, schema: Schema) -> Path:
    path.write_text(yaml.safe_dump(schema.model_dump(mode="json", exclude_none=True)))
    return path


def _champion_card(tmp_path: Path) -> str:
    """The model card of the one run trained under this THINFILE_HOME."""
    client = mlflow.MlflowClient(tracking_uri())
    (champion,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return Path(client.download_artifacts(champion.info.run_id, "model_card.md", str(tmp_path))).read_text()


@pytest.mark.slow
def test_train_warns_of_borrower_ids_that_differ_only_in_case_or_spaces_on_its_console_and_card(
    book, schemas, tmp_path, monkeypatch
):
    respelt = book.copy()
    respelt.loc[respelt.index[:2], "customer"] = ["c00007 ", "C00007"]
    data = _trained_here(respelt, tmp_path, monkeypatch)
    args = ["train", "--data", str(data), "--schema", str(_written(tmp_path / "acme.yaml", schemas[False]))]
    trained = CliRunner().invoke(app, [*args, "--no-baselines", "--no-tune"], terminal_width=400)
    assert trained.exit_code == 0, trained.output
    warning = "customer: borrower ids that differ only in case or spaces: 'c00007 ', 'C00007'"
    assert f"warning: {warning}" in " ".join(trained.output.split())
    assert warning in _champion_card(tmp_path)

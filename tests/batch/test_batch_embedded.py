"""Embedded batch engine: nothing lost, bad input stopped before output, same scores as the library and the service."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner, Result

from thinfile.commands.batch import register
from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score
from thinfile.serving.batch.input import BatchInputError, inspect_input
from thinfile.serving.batch.output import BatchOutputError
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.contract import applicant_model, applicants_to_matrix
from thinfile.training.scorer.artefact import Scorer

PLANTED = {  # row -> (column, bad value, words expected in the reason)
    7: ("return_rate", 3.5, "outside the valid range"),
    100: ("phone_tenure_months", None, "missing but required"),
    2500: ("device_tier", "gold-plated", "not one of"),
    4999: ("bureau_inquiries_6m", 2.5, "whole number"),
}


def _planted(book: pd.DataFrame) -> pd.DataFrame:
    bad = book.copy()
    for col, _ in {c: 0 for c, _, _ in PLANTED.values()}.items():
        bad[col] = bad[col].astype(object)
    for row, (col, value, _) in PLANTED.items():
        bad.at[row, col] = value
    return bad


def test_planted_bad_rows_reconcile_with_reasons(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path, read_scores
) -> None:
    source = tmp_path / "book.csv"
    _planted(book).to_csv(source, index=False)
    result = batch_score(source, tmp_path / "out", scorer, chunk_rows=2_000, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (len(book), len(book) - len(PLANTED), len(PLANTED))
    scores = read_scores(tmp_path / "out", schema.id_column)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects").sort_values("row", ignore_index=True)
    assert sorted(set(scores[schema.id_column]) | set(rejects["id"])) == sorted(book[schema.id_column])
    assert not set(scores[schema.id_column]) & set(rejects["id"])
    for (row, (col, _, words)), reject in zip(sorted(PLANTED.items()), rejects.itertuples()):
        assert (reject.row, reject.id, reject.columns, reject.source) == (
            row,
            book.at[row, schema.id_column],
            col,
            "book.csv",
        )
        assert words in reject.reason
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"] == {"rows_in": 6000, "scored": 5996, "rejected": 4}
    assert "reconciled" in result.summary()


def test_text_in_a_number_column_is_a_reject_not_a_crash(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    frame = book.head(500).astype({"declared_income_rmb": object})
    frame.at[3, "declared_income_rmb"] = "about 5000"
    frame.to_csv(tmp_path / "book.csv", index=False)
    result = batch_score(tmp_path / "book.csv", tmp_path / "out", scorer, workers=1)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert result.rejected == 1 and rejects.loc[0, "columns"] == "declared_income_rmb"
    assert "is not a number" in rejects.loc[0, "reason"]


@pytest.mark.slow
def test_scores_equal_the_library_and_the_service(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path, read_scores
) -> None:
    book.to_parquet(tmp_path / "book.parquet")
    batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, chunk_rows=1_500, workers=2)
    scores = read_scores(tmp_path / "out", schema.id_column)
    library = scorer.explain(book).to_frame()
    library.insert(0, schema.id_column, book[schema.id_column])
    library = library.sort_values(schema.id_column, ignore_index=True)
    for col in ("score", "pd", "band", "decision", "reason_1_code", "reason_4_code", "reason_2_points_lost"):
        pd.testing.assert_series_equal(scores[col], library[col], check_exact=True, check_names=False)

    rows = book.head(200)
    applicant = applicant_model(schema)
    applicants = [
        applicant(
            **{
                f: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for f, v in r.items()
                if f in schema.feature_names
            }
        )
        for r in rows.to_dict(orient="records")
    ]
    service = scorer.explain(applicants_to_matrix(schema, applicants))
    batch = scores.set_index(schema.id_column).loc[rows[schema.id_column]]
    np.testing.assert_array_equal(batch["score"].to_numpy(), service.score)
    assert list(batch["decision"]) == list(service.decision)


def test_duplicate_ids_are_scored_and_reported(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    rows = book.head(600).astype({"return_rate": object})
    ids = rows[schema.id_column].to_numpy().copy()
    ids[[10, 250, 590]] = ids[0]  # four rows, across three parts
    ids[41] = ids[40]
    rows[schema.id_column] = ids
    rows.at[250, "return_rate"] = 7.0  # one of the repeats is rejected
    rows.to_parquet(tmp_path / "book.parquet")

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, chunk_rows=200, workers=1)

    counts = rows[schema.id_column].value_counts()
    repeated = counts[counts > 1]
    assert (result.scored, result.rejected) == (599, 1)
    assert result.duplicate_ids == {"ids": 2, "rows": int(repeated.sum()), "first": sorted(repeated.index)}
    assert f"duplicate ids: 2 ids appear more than once ({repeated.sum()} rows)" in result.summary()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["duplicate_ids"] == result.duplicate_ids
    page = (tmp_path / "out" / "population_report.html").read_text()
    first = ", ".join(sorted(repeated.index))
    assert f"duplicate ids: 2 ({repeated.sum()} rows), first {first}" in page
    assert "rejected by column: return_rate 1" in page


def test_a_long_repeated_id_is_shown_cut_in_the_summary_the_manifest_and_the_report(
    book: pd.DataFrame, scorer_dir: Path, schema: Schema, tmp_path: Path
) -> None:
    rows = book.head(30).copy()
    rows[schema.id_column] = "y" * 100_000
    rows.to_parquet(tmp_path / "book.parquet")

    result = batch_score_cli(tmp_path / "book.parquet", tmp_path / "out", scorer_dir)

    assert result.exit_code == 0, result.output[:2_000]
    cut = "y" * 37 + "..."
    said = " ".join(result.output.split())
    assert f"duplicate ids: 1 id appears more than once (30 rows), first {cut};" in said
    assert len(result.output) < 5_000
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["duplicate_ids"] == {"ids": 1, "rows": 30, "first": [cut]}
    report = json.loads((tmp_path / "out" / "population_report.json").read_text())
    assert report["job"]["duplicate_ids"]["first"] == [cut]
    page = (tmp_path / "out" / "population_report.html").read_text()
    assert f"first {cut}" in page
    bounds = {"manifest.json": 5_000, "population_report.json": 50_000, "population_report.html": 200_000}
    for name, most in bounds.items():  # the page's figures take about 150 kB whatever the ids
        text = (tmp_path / "out" / name).read_text()
        assert len(text.encode()) < most and "y" * 41 not in text, name


def batch_score_cli(source: Path, out: Path, scorer_dir: Path) -> Result:
    """`thinfile batch-score SOURCE OUT --model SCORER_DIR --workers 1` through the CLI."""
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    return CliRunner().invoke(app, ["batch-score", str(source), str(out), "--model", str(scorer_dir), "--workers", "1"])


def test_a_job_with_every_row_rejected_exits_non_zero(book: pd.DataFrame, scorer_dir: Path, tmp_path: Path) -> None:
    rows = book.head(300).copy()
    rows["return_rate"] = 9.0
    rows.to_parquet(tmp_path / "book.parquet")
    result = batch_score_cli(tmp_path / "book.parquet", tmp_path / "out", scorer_dir)

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "rows in 300 = scored 0 + rejected 300" in said
    assert "no row could be scored: all 300 rows were rejected, most often for return_rate (300 rows)" in said
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"] == {"rows_in": 300, "scored": 0, "rejected": 300}
    assert len(pd.read_parquet(tmp_path / "out" / "rejects")) == 300


def test_hive_partitioned_folder(book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path) -> None:
    table = pa.Table.from_pandas(book.head(3_000).astype({"residence": str}), preserve_index=False)
    pq.write_to_dataset(table, tmp_path / "book", partition_cols=["residence"])
    result = batch_score(tmp_path / "book", tmp_path / "out", scorer, chunk_rows=1_000, workers=1)
    assert result.rows_in == 3_000 and result.chunks >= 3
    groups = {g["group"]: g["rows"] for g in result.report["fairness"]["residence"]["groups"]}
    assert groups == book.head(3_000)["residence"].astype(str).value_counts().to_dict()
    assert (tmp_path / "out" / "population_report.html").read_text().count("<img") >= 2


def test_missing_required_column_stops_before_any_output(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    book.head(100).to_parquet(tmp_path / "book" / "a.parquet")
    book.head(100).drop(columns=["profile_completeness"]).to_parquet(tmp_path / "book" / "b.parquet")
    with pytest.raises(BatchInputError, match=r"b\.parquet: missing required column\(s\): profile_completeness"):
        batch_score(tmp_path / "book", tmp_path / "out", scorer, workers=1)
    assert not (tmp_path / "out").exists()


def test_every_file_missing_a_column_is_named_when_files_share_their_columns(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    (tmp_path / "book").mkdir()
    for name in ("a", "b", "c"):
        book.head(100).to_parquet(tmp_path / "book" / f"{name}.parquet")
    for name in ("d", "e"):
        book.head(100).drop(columns=["profile_completeness"]).to_parquet(tmp_path / "book" / f"{name}.parquet")
    with pytest.raises(BatchInputError, match="2 of 5 input files cannot be scored") as err:
        batch_score(tmp_path / "book", tmp_path / "out", scorer, workers=1)
    assert "d.parquet: missing required column(s): profile_completeness" in str(err.value)
    assert "e.parquet: missing required column(s): profile_completeness" in str(err.value)


def _with_wrong_field_counts(book: pd.DataFrame, path: Path, at: dict[int, str]) -> list[str]:
    """`book` as CSV with the line `at[r]` written as data row r (counted from 0 after the header); the ids of the
    file's data rows as Python's csv module reads them (None where a row has too few fields)."""
    lines = book.to_csv(index=False).splitlines()
    body = lines[1:]
    for r in sorted(at):
        body.insert(r, at[r])
    path.write_text("\n".join([lines[0], *body]) + "\n")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return [row[0] if len(row) > 1 else None for row in rows]


def test_csv_rows_with_the_wrong_number_of_fields_are_rejects_at_their_row(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path, read_scores
) -> None:
    short, long = "A9,secret-income-123456,2", book.head(1).to_csv(index=False, header=False).strip() + ",extra"
    at = {0: short, 2001: long, 4002: short, 4003: short, len(book) + 4: short}
    ids = _with_wrong_field_counts(book, tmp_path / "c.csv", at)
    result = batch_score(tmp_path / "c.csv", tmp_path / "out", scorer, chunk_rows=2_000, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (len(book) + len(at), len(book), len(at))
    rejects = pd.read_parquet(tmp_path / "out" / "rejects").sort_values("row", ignore_index=True)
    assert rejects["row"].tolist() == sorted(at)
    assert (rejects["columns"] == "(whole row)").all() and (rejects["id"] == "").all()  # as for a missing id
    fields = len(book.columns)
    for row, reason in zip(rejects["row"], rejects["reason"]):
        got = 3 if at[row] == short else fields + 1
        assert f"the row has {got} fields where the header has {fields}" in reason
    assert "secret-income" not in rejects.to_string()
    scores = read_scores(tmp_path / "out", schema.id_column)
    assert [ids[r] for r in scores["row"]] == scores[schema.id_column].tolist()  # each score at its own row
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"]["rejected"] == len(at)


def test_a_csv_with_a_wrong_field_count_and_text_in_a_number_column_rejects_both_at_their_rows(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    number = next(f.name for f in schema.features if f.type.value == "float")
    bad = book.head(300).copy()
    bad[number] = bad[number].astype(object)
    bad.loc[150, number] = "twelve"
    _with_wrong_field_counts(bad, tmp_path / "c.csv", {40: "A9,2"})
    result = batch_score(tmp_path / "c.csv", tmp_path / "out", scorer, chunk_rows=100, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (301, 299, 2)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects").sort_values("row", ignore_index=True)
    assert rejects["row"].tolist() == [40, 151]  # the text sits one row further on: the short row came before it
    assert "fields where the header has" in rejects["reason"][0] and number in rejects["columns"][1]


def test_n_a_in_a_number_column_is_missing_in_a_csv_and_a_reject_in_parquet(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    number = next(f.name for f in schema.features if f.type.value == "float" and f.nullable)
    bad = book.head(200).copy()
    bad[number] = bad[number].astype(object)
    bad.loc[70, number] = "n/a"
    bad.to_csv(tmp_path / "b.csv", index=False)
    as_text = bad.assign(**{number: [None if pd.isna(v) else str(v) for v in bad[number]]})  # a string column
    pq.write_table(pa.Table.from_pandas(as_text, preserve_index=False), tmp_path / "b.parquet")

    from_csv = batch_score(tmp_path / "b.csv", tmp_path / "csv", scorer, chunk_rows=100, workers=1)
    from_parquet = batch_score(tmp_path / "b.parquet", tmp_path / "pq", scorer, chunk_rows=100, workers=1)

    assert (from_csv.scored, from_csv.rejected) == (200, 0)  # pyarrow's CSV reader takes n/a for a missing value
    assert (from_parquet.scored, from_parquet.rejected) == (199, 1)
    reject = pd.read_parquet(tmp_path / "pq" / "rejects").iloc[0]
    assert reject["row"] == 70 and reject["reason"] == f"{number}: 'n/a' is not a number"


def test_a_csv_file_whose_every_row_has_the_wrong_number_of_fields_is_all_rejects(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    header = ",".join(book.columns)
    (tmp_path / "c.csv").write_text(header + "\nA1,2\nA2,3\nA3\n")
    result = batch_score_cli(tmp_path / "c.csv", tmp_path / "out", scorer_dir)

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "rows in 3 = scored 0 + rejected 3" in said
    assert "all 3 rows were rejected, most often for a wrong number of fields (3 rows)" in said
    assert pd.read_parquet(tmp_path / "out" / "rejects")["row"].tolist() == [0, 1, 2]


def test_more_rows_with_the_wrong_number_of_fields_than_allowed_refuse_the_file_without_quoting_them(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    secret = "A9,secret-income-123456,2"
    _with_wrong_field_counts(book.head(50), tmp_path / "c.csv", {3: secret, 10: secret, 20: secret})
    fields = len(book.columns)

    def score(most: int) -> object:
        settings = BatchSettings(max_wrong_field_rows=most)
        return batch_score(tmp_path / "c.csv", tmp_path / f"out{most}", scorer, workers=1, settings=settings)

    with pytest.raises(BatchInputError) as err:
        score(2)
    said = "more than 2 rows have another number of fields than the header (row 20 has 3 fields where the header has"
    said += f" {fields})"
    assert said in str(err.value) and "secret-income" not in str(err.value)
    with pytest.raises(BatchInputError) as err:
        score(0)
    said = f"row 3 has 3 fields where the header has {fields}, and --max-wrong-field-rows is 0"
    assert said in str(err.value) and "secret-income" not in str(err.value)
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out0").exists()
    assert score(3).rejected == 3  # as many as allowed: the file is scored


def test_malformed_file_stops_before_any_output(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    book.head(100).to_parquet(tmp_path / "book" / "a.parquet")
    (tmp_path / "book" / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    book.head(50).rename(columns={"return_rate": "device_tier"}).to_csv(tmp_path / "book" / "c.csv", index=False)
    with pytest.raises(BatchInputError) as err:
        batch_score(tmp_path / "book", tmp_path / "out", scorer, workers=1)
    assert "b.parquet: not a readable Parquet file" in str(err.value)
    assert "c.csv: not a readable CSV file (repeated column names in the header: ['device_tier'])" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_an_output_path_that_is_a_file_is_refused_naming_it(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    book.head(20).to_parquet(tmp_path / "book.parquet")
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(BatchOutputError) as err:
        batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)
    assert str(err.value) == f"{tmp_path / 'out'} is a file, not a folder; give the output folder another path"
    assert (tmp_path / "out").read_text() == "not a folder"


def test_output_of_another_job_is_not_overwritten(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    book.head(300).to_parquet(tmp_path / "a.parquet")
    book.tail(300).to_parquet(tmp_path / "b.parquet")
    batch_score(tmp_path / "a.parquet", tmp_path / "out", scorer, workers=1)
    with pytest.raises(BatchOutputError, match="holds another job"):
        batch_score(tmp_path / "b.parquet", tmp_path / "out", scorer, workers=1)
    rerun = batch_score(tmp_path / "a.parquet", tmp_path / "out", scorer, workers=1)
    assert rerun.chunks_skipped == rerun.chunks == 1 and rerun.rows_in == 300


def test_cli_prints_reconciled_counts_and_fails_cleanly(book: pd.DataFrame, scorer_dir: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    book.head(400).to_parquet(tmp_path / "book.parquet")
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "batch-score",
            str(tmp_path / "book.parquet"),
            str(tmp_path / "out"),
            "--model",
            str(scorer_dir),
            "--workers",
            "1",
            "--chunk-rows",
            "150",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "rows in 400 = scored 400 + rejected 0" in ok.output
    bad = runner.invoke(
        app, ["batch-score", str(tmp_path / "nowhere"), str(tmp_path / "out2"), "--model", str(scorer_dir)]
    )
    assert bad.exit_code == 2 and "no such file or folder" in " ".join(bad.output.split())


def test_input_files_are_found_by_absolute_paths_whatever_the_working_folder(
    book: pd.DataFrame, schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "book").mkdir()
    book.head(10).to_parquet(tmp_path / "book" / "a.parquet")
    monkeypatch.chdir(tmp_path)

    (part,) = inspect_input("book", schema)

    assert part.path == tmp_path / "book" / "a.parquet" and part.path.is_absolute() and part.name == "a.parquet"


def test_a_gb18030_csv_is_refused_before_any_output_with_the_setting_that_reads_it(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    frame = book.head(300).assign(**{schema.id_column: [f"客户{i:04d}" for i in range(300)]})
    frame.to_csv(tmp_path / "借款人.csv", index=False, encoding="gb18030")
    with pytest.raises(BatchInputError, match="借款人.csv is not UTF-8 text.*THINFILE_CSV_ENCODING=gb18030"):
        batch_score(tmp_path / "借款人.csv", tmp_path / "out", scorer, workers=1)
    assert not (tmp_path / "out").exists()


def test_thinfile_csv_encoding_scores_a_gb18030_csv_as_its_utf8_copy(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path, read_scores, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = book.head(300).assign(**{schema.id_column: [f"客户{i:04d}" for i in range(300)]})
    frame.to_csv(tmp_path / "utf8.csv", index=False)
    frame.to_csv(tmp_path / "gb.csv", index=False, encoding="gb18030")
    batch_score(tmp_path / "utf8.csv", tmp_path / "out_utf8", scorer, chunk_rows=100, workers=2)
    monkeypatch.setenv("THINFILE_CSV_ENCODING", "gb18030")
    result = batch_score(tmp_path / "gb.csv", tmp_path / "out_gb", scorer, chunk_rows=100, workers=2)
    assert result.scored == 300
    gb, utf8 = read_scores(tmp_path / "out_gb", schema.id_column), read_scores(tmp_path / "out_utf8", schema.id_column)
    assert gb[schema.id_column].tolist() == sorted(frame[schema.id_column])
    assert set(gb["source"]) == {"gb.csv"} and set(utf8["source"]) == {"utf8.csv"}
    pd.testing.assert_frame_equal(gb.drop(columns="source"), utf8.drop(columns="source"))


def test_a_job_that_rejects_nothing_leaves_a_rejects_folder_that_reads_with_its_columns(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    book.head(400).to_parquet(tmp_path / "book.parquet")
    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert result.rejected == 0
    assert list(rejects.columns) == ["id", "columns", "reason", "source", "row"] and rejects.empty
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    stacked = pd.concat([scores.rename(columns={schema.id_column: "id"})[["id", "source", "row"]], rejects])
    assert len(stacked) == 400


def test_a_header_only_input_leaves_scores_and_rejects_that_read_with_their_columns(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    book.head(0).to_csv(tmp_path / "book.csv", index=False)
    result = batch_score(tmp_path / "book.csv", tmp_path / "out", scorer, workers=1)
    assert (result.rows_in, result.scored, result.rejected) == (0, 0, 0)
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    assert scores.empty and schema.id_column in scores.columns and "score" in scores.columns
    assert list(pd.read_parquet(tmp_path / "out" / "rejects").columns) == ["id", "columns", "reason", "source", "row"]


def test_a_rerun_with_other_cut_offs_is_refused_saying_the_cut_offs_differ(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    registered = copy.copy(scorer)
    registered.meta = {**scorer.meta, "name": "lender-model", "version": "3"}  # as the registry gives it
    book.head(50).to_parquet(tmp_path / "a.parquet")
    batch_score(tmp_path / "a.parquet", tmp_path / "out", registered, workers=1)
    stricter = registered.with_cutoffs(approve=scorer.cutoffs.approve + 20)
    with pytest.raises(BatchOutputError) as err:
        batch_score(tmp_path / "a.parquet", tmp_path / "out", stricter, workers=1)
    assert "decides by other cut-offs" in str(err.value) and "the model differs" not in str(err.value)

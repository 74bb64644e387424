"""A category whose declared levels are codes written with leading zeros ("01".."09", "10"): a CSV reader reads
those cells as numbers, and every reader and message keeps the level's own text."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import Schema, parse_schema
from thinfile.serving.contract import applicant_model
from thinfile.training.champion import fit_champion
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import TrainConfig

CODES = [f"{i:02d}" for i in range(1, 11)]
runner = CliRunner()


@pytest.fixture(scope="module")
def schema() -> Schema:
    return parse_schema(
        {
            "name": "branches",
            "version": 1,
            "id_column": "id",
            "target": "bad",
            "protected": [],
            "features": [
                {"name": "branch", "type": "category", "categories": CODES, "dimension": "other", "reason": "Branch"},
                {"name": "income", "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "Low"},
            ],
        },
        "branches.yaml",
    )


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    """Branch codes as text, one of them ("11") undeclared; `bad` depends on the branch, so the model uses it."""
    rng = np.random.default_rng(3)
    n = 600
    branch = rng.choice(CODES, n)
    risk = (branch == "09") * 2.0 + rng.normal(0, 1, n)
    frame = pd.DataFrame({"id": range(n), "branch": branch, "income": rng.uniform(0, 1, n), "bad": risk > 1.2})
    frame["bad"] = frame["bad"].astype(int)
    frame.loc[5, "branch"] = "11"
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, schema: Schema, book: pd.DataFrame) -> Path:
    folder = tmp_path_factory.mktemp("branches")
    book.to_csv(folder / "book.csv", index=False)
    (folder / "schema.yaml").write_text(schema.model_dump_json())
    return folder


def _rejected_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [row["reason"] for row in csv.DictReader(f)]


def test_schema_check_scoring_rejects_only_the_undeclared_code_of_a_csv(files):
    rejects = files / "check_rejects.csv"
    cmd = ["schema", "check", str(files / "book.csv"), "--schema", str(files / "schema.yaml"), "--scoring"]
    result = runner.invoke(app, [*cmd, "--rejects", str(rejects)])
    assert result.exit_code == 1, result.output
    assert _rejected_cells(rejects) == [f"branch: '11' is not one of: {', '.join(CODES)}"]


def test_schema_check_names_no_declared_code_as_unseen(files):
    cmd = ["schema", "check", str(files / "book.csv"), "--schema", str(files / "schema.yaml"), "--scoring"]
    text = " ".join(runner.invoke(app, cmd).output.split())
    assert "values the schema does not declare: '11' (1 row)" in text
    assert "never seen" not in text


@pytest.fixture(scope="module")
def scorer(schema: Schema, book: pd.DataFrame) -> Scorer:
    """A model trained on the book's rows with a declared code, as a CSV reader reads them (codes as numbers)."""
    clean = book[book["branch"] != "11"].assign(branch=lambda t: t["branch"].astype(int))
    return fit_champion(clean.iloc[:400], clean.iloc[400:], schema, TrainConfig(max_rounds=20, num_threads=1))


def test_the_service_reads_a_json_integer_as_the_zero_padded_code(schema):
    assert applicant_model(schema).model_validate({"branch": 9, "income": 0.5}).branch == "09"


@pytest.mark.slow
def test_a_reason_names_the_code_as_declared(scorer):
    row = pd.DataFrame({"id": [1], "branch": [9], "income": [0.5]})
    values = {r["code"]: r["value"] for r in scorer.explain(row, top_reasons=2).reasons(0)}
    assert values.get("branch") == "09"

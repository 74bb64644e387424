"""`--rows` sizes a generated population: beside a table of the lender's own (`--data`) it is refused, not silently
ignored (a lender reads `-n` as a sample size)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize("command", ["train", "fairness"])
def test_rows_beside_a_table_is_refused_in_one_line(command: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    args = [command, "--data", str(DATA / "german_credit.csv"), "--schema", str(DATA / "german_credit.yaml")]

    result = CliRunner().invoke(app, [*args, "--rows", "500"])

    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "error: --rows is the size of a generated population; with --data every row of the table is read (to use "
        "fewer, give a smaller table)"
    )
    assert not (tmp_path / "mlruns").exists()

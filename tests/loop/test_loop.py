"""The whole loop at a small size: runs in MLflow, the report as HTML and strict JSON, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.settings import HistorySettings
from thinfile.training import tracking
from thinfile.training.lending_loop.measure import INTERVAL_FIGURES
from thinfile.training.lending_loop.report import verdict, write_report
from thinfile.training.loop import (
    LOOP_TAG,
    ROLE_TAG,
    VS_FLOOR,
    LoopResult,
    ScorerPolicy,
    closed_share,
    log_summary,
    run_loop,
)
from thinfile.training.settings import LoopSettings, TrainConfig, TrainingSettings

runner = CliRunner()


@pytest.fixture(scope="module")
def loop_result(schema) -> LoopResult:
    return run_loop(
        schema,
        history=HistorySettings(policy={"reference_rows": 20_000}),
        loop=LoopSettings(rows=5_000, seed=2, methods=("none", "parcel"), explore_shares=(0.1,), generations=2),
        settings=TrainingSettings(train=TrainConfig(max_rounds=40)),
    )


def test_closed_share_is_where_a_result_lands_between_floor_and_ceiling():
    assert closed_share(0.79, 0.78, 0.80) == pytest.approx(0.5)
    assert closed_share(0.78, 0.78, 0.7805) != closed_share(0.78, 0.78, 0.7805)  # NaN: no gap worth closing


@pytest.mark.slow
def test_every_method_and_both_references_are_runs_tagged_with_the_loop(loop_result):
    client = MlflowClient()
    roles = {r.method: r.role for r in loop_result.runs}
    assert roles == {"none": "floor", "parcel": "method", "ceiling": "ceiling"}
    for r in loop_result.runs:
        run = client.get_run(r.run_id)
        assert run.data.tags[LOOP_TAG] == loop_result.loop_id
        assert run.data.tags[ROLE_TAG] == r.role
        assert run.info.run_name.endswith(r.method)
        assert "truth_auc_rural_rejects" in run.data.metrics and "fair_di_ratio" in run.data.metrics


@pytest.mark.slow
def test_the_exploration_sweep_holds_every_share_to_the_share_0_bad_rate(loop_result):
    shares = [e["explore_share"] for e in loop_result.exploration]
    assert shares == [0.0, 0.1]
    assert loop_result.exploration[1]["explored_share_ttd"] > 0
    assert loop_result.exploration[0]["extra_expected_defaults_per_1000"] == 0


@pytest.mark.slow
def test_each_generation_books_the_same_share_with_the_previous_champion(loop_result):
    rows = loop_result.generations
    assert {(r["generation"], r["method"]) for r in rows} == {(g, m) for g in (1, 2) for m in ("none", "parcel")}
    for r in rows:
        assert abs(r["booked_share"] - 0.35) < 0.03
        assert r["gap_to_ceiling"] == pytest.approx(r["ceiling_auc"] - r["truth_auc"])
    assert {r["policy"] for r in rows if r["generation"] == 2} == {
        "generation 1 champion (none)",
        "generation 1 champion (parcel)",
    }


@pytest.mark.slow
def test_the_report_is_html_and_strict_json_and_a_summary_run(loop_result, tmp_path):
    files = write_report(loop_result.to_dict(), tmp_path)
    text = Path(files["json"]).read_text()
    report = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["headline"]["floor_auc"] == loop_result.run("none").metrics["truth_auc"]
    html = Path(files["html"]).read_text()
    assert "What exploration buys" in html and "Several turns of the loop" in html and "data:image/svg+xml" in html
    files = log_summary(loop_result, lambda report: write_report(report, tmp_path / "logged"))
    run_id = loop_result.summary_run_id
    assert run_id is not None and json.loads(Path(files["json"]).read_text())["summary_run_id"] == run_id
    run = MlflowClient().get_run(run_id)
    assert run.data.tags[LOOP_TAG] == loop_result.loop_id
    history = MlflowClient().get_metric_history(run_id, "explore_truth_auc")
    assert sorted(m.step for m in history) == [0, 100]
    assert tracking.experiment_id() == run.info.experiment_id


@pytest.mark.slow
def test_loop_cli_writes_the_report(tmp_path):
    out = tmp_path / "report"
    args = ["loop", "-n", "3000", "--methods", "none", "--explore-shares", "", "-g", "0", "--no-log-runs"]
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "lending-loop.html").exists() and (out / "lending-loop.json").exists()
    assert "gap floor -> ceiling" in result.output


def test_loop_cli_refuses_an_unknown_method(tmp_path):
    result = runner.invoke(app, ["loop", "-n", "4000", "--methods", "none,magic", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown reject-inference method(s) magic" in result.output


def test_a_book_share_that_books_too_few_loans_to_train_on_is_one_line_naming_the_count(tmp_path):
    args = ["loop", "-n", "2000", "-g", "0", "--explore-shares", "", "--no-log-runs", "--book-share", "0.001"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the bureau-era book (2,000 applicants at book share 0.001):" in " ".join(result.output.split())
    assert "at least 200 are needed" in result.output


def test_a_report_folder_that_cannot_be_made_is_refused_before_any_training(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder would go")
    result = runner.invoke(app, ["loop", "-n", "2000", "--no-log-runs", "-o", str(tmp_path / "taken" / "report")])
    assert result.exit_code == 2 and "generating" not in result.output
    assert f"cannot make the report folder {tmp_path / 'taken' / 'report'}" in " ".join(result.output.split())


@pytest.mark.slow
def test_the_loop_runs_at_its_smallest_size(tmp_path):
    """2,000 applicants: a validation half with no default once made the calibration fail (seeds 0 and 1)."""
    args = ["loop", "-n", str(LoopSettings.model_fields["rows"].metadata[0].ge), "--no-log-runs", "-o", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "lending-loop.json").read_text())["settings"]["rows"] == 2_000


class _OnePd:
    """A champion so weak it gives every applicant one PD."""

    class schema:
        @staticmethod
        def to_matrix(frame):
            return frame.to_numpy()

    @staticmethod
    def predict_pd(matrix):
        return np.full(len(matrix), 0.1)


@pytest.mark.parametrize("rows", [1_000, 2_001])
def test_a_champion_as_policy_books_its_share_exactly_whatever_its_ties(rows: int) -> None:
    policy = ScorerPolicy(_OnePd(), 0.35, "generation 1 champion")
    approved = policy.approves(pd.DataFrame({"x": range(rows)}))
    assert approved.sum() == round(0.35 * rows)  # a cut at the one PD booked every applicant


def test_the_report_names_its_test_size_and_seed_and_what_it_did_not_run(tmp_path):
    args = ["loop", "-n", "2000", "-g", "0", "--explore-shares", "", "--no-log-runs", "--methods", "none"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lending-loop.json").read_text())
    n = report["headline"]["test_applicants"]
    assert n == report["settings"]["rows"] * TrainConfig().test_size  # the split's test share of the applicants
    html = " ".join((tmp_path / "lending-loop.html").read_text().split())
    assert f"Measured on {n:,} through-the-door test applicants with one seed (0)" in html
    assert "No exploration share was run." in html and "No later generation was run." in html


@pytest.mark.slow
def test_every_compared_figure_has_a_95_percent_interval_around_it(loop_result):
    rows = [r.metrics for r in loop_result.runs] + loop_result.exploration + loop_result.generations
    figures = [*INTERVAL_FIGURES, VS_FLOOR, "ceiling_auc", "gap_to_ceiling"]
    for row in rows:
        shown = [k for k in figures if f"{k}_low" in row]
        assert "truth_auc" in shown
        for key in shown:
            assert row[f"{key}_low"] <= row[key] <= row[f"{key}_high"], key
    floor, parcel, ceiling = (loop_result.run(m).metrics for m in ("none", "parcel", "ceiling"))
    assert VS_FLOOR not in floor and f"{VS_FLOOR}_low" in parcel and f"{VS_FLOOR}_low" in ceiling
    # paired: the same resamples for both models, so the difference is known better than either AUC alone
    assert (
        ceiling[f"{VS_FLOOR}_high"] - ceiling[f"{VS_FLOOR}_low"] < ceiling["truth_auc_high"] - ceiling["truth_auc_low"]
    )
    later = [g for g in loop_result.generations if g["generation"] == 2]
    assert all("gap_to_ceiling_low" in g for g in later)
    head = loop_result.headline()
    assert head["bootstrap_draws"] == 200
    assert (head["gap_auc_low"], head["gap_auc_high"]) == (ceiling[f"{VS_FLOOR}_low"], ceiling[f"{VS_FLOOR}_high"])
    assert head["best_method_vs_floor_within_noise"] == (
        head["best_method_vs_floor_low"] <= 0 <= head["best_method_vs_floor_high"]
    )


@pytest.mark.slow
def test_the_generations_table_shows_each_generation_s_booked_share(loop_result, tmp_path):
    files = write_report(loop_result.to_dict(), tmp_path)
    rows = _html_table(Path(files["html"]).read_text(), "Policy generations")
    assert rows[0][:3] == ["generation", "method", "booked"]
    for row, generation in zip(rows[1:], loop_result.generations, strict=True):
        assert row[2] == f"{100 * generation['booked_share']:.1f}%"


def _html_table(html: str, caption: str) -> list[list[str]]:
    """The cells of the report's table with `caption`, row by row (header first), as text."""
    table = html.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in table.split("<tr")[1:]]


def _headline(**figures: object) -> dict[str, object]:
    head: dict[str, object] = {
        "floor_auc": 0.8092, "ceiling_auc": 0.8138, "gap_auc": 0.0046, "gap_auc_rejects": 0.0066, "gap_target": 0.02,
        "gap_target_met": False, "test_applicants": 40_000, "seed": 0, "bootstrap_draws": 200,
        "best_method": "fuzzy", "best_method_auc": 0.8095, "best_method_closed": 0.05, "best_method_thin_lift": 0.001,
        "best_method_vs_floor": 0.0003, "closed_target": 0.5, "closed_target_met": False,
    }  # fmt: skip
    return head | figures


def test_the_headline_says_when_a_method_s_lead_on_the_floor_is_within_the_noise():
    noise = {"best_method_vs_floor_low": -0.0002, "best_method_vs_floor_high": 0.0008}
    banner, findings = verdict(_headline(**noise, best_method_vs_floor_within_noise=True))
    assert "(best: fuzzy, 5%, within the sampling noise of the test applicants)" in banner.text
    assert "Its AUC minus the floor's, +0.00030 (95% interval -0.00020 to 0.00080), is within the sampling noise" in (
        " ".join(findings)
    )
    assert "each interval is the 95% range over 200 bootstrap resamples of those applicants" in banner.text
    clear = {"best_method_vs_floor_low": 0.0001, "best_method_vs_floor_high": 0.0005}
    banner, findings = verdict(_headline(**clear, best_method_vs_floor_within_noise=False))
    assert "within the sampling noise" not in banner.text
    assert "is beyond the sampling noise of the test applicants (its 95% interval excludes 0)" in " ".join(findings)

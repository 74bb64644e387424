"""An input that alone nearly gives the outcome away (a fact known only once the loan has run) is warned of by
`schema check` and `train`; the real tables' honest inputs, and a strong honest risk signal, are not."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.infer import check_table
from thinfile.features.proxies import outcome_proxies
from thinfile.features.schema import load_schema, parse_schema
from thinfile.features.settings import LeakChecks
from thinfile.training.data import outcome

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()
LEAK = "leaks the outcome"


def _schema(*names: str, **kinds: dict[str, object]):
    number = {"type": "float", "min": 0, "max": 1000}
    features = [
        {"name": n, "dimension": "capacity", "reason": "Low", "nullable": True} | kinds.get(n, number) for n in names
    ]
    return parse_schema(
        {"name": "t", "version": 1, "id_column": "id", "target": "bad", "protected": [], "features": features}, "t"
    )


def _outcomes(rows: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(rows) < 0.2).astype(float)


def _german() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(DATA / "german_credit.csv")
    return frame, frame["default"].to_numpy(dtype=float)


def test_days_past_due_that_give_the_outcome_away_but_for_a_few_rows_are_warned_of():
    frame, y = _german()
    rng = np.random.default_rng(1)
    noisy = (y == 1) ^ (rng.random(len(y)) < 0.03)
    frame["duration_in_month"] = np.where(noisy, 48, 6)  # in the schema's range: the table still matches
    result = check_table(frame, load_schema(DATA / "german_credit.yaml"), target_reader=outcome)
    assert result.ok
    (warning,) = result.warnings
    assert warning.startswith("input 'duration_in_month' alone separates defaults from repayments with an AUC of")
    assert LEAK in warning


def test_an_input_recorded_only_for_defaulted_loans_separates_the_outcomes_perfectly():
    y = _outcomes(2_000)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"id": range(len(y)), "bad": y, "recovery": np.where(y == 1, rng.uniform(0, 900, len(y)), np.nan)}
    )
    (proxy,) = outcome_proxies(frame, _schema("recovery"), y)
    assert proxy.name == "recovery" and proxy.auc == 1.0 and proxy.perfect


def test_a_category_that_is_the_loans_closing_status_is_warned_of():
    y = _outcomes(3_000, seed=3)
    flipped = (y == 1) ^ (np.random.default_rng(3).random(len(y)) < 0.02)
    status = np.where(flipped, "charged_off", np.where(np.arange(len(y)) % 2, "current", "closed"))
    schema = _schema("status", status={"type": "category", "categories": ["current", "closed", "charged_off"]})
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "status": status})
    assert [p.name for p in outcome_proxies(frame, schema, y)] == ["status"]


def test_the_auc_given_is_the_inputs_own_where_its_default_rate_rises_with_it():
    rng = np.random.default_rng(4)
    bucket = rng.integers(0, 6, 20_000)  # six values: each is its own group, and the rate rises with the value
    y = (rng.random(len(bucket)) < np.array([0.0, 0.0, 0.002, 0.01, 0.9, 1.0])[bucket]).astype(float)
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "dpd_bucket": bucket.astype(float)})
    (proxy,) = outcome_proxies(frame, _schema("dpd_bucket"), y)
    assert proxy.auc == pytest.approx(roc_auc_score(y, bucket), abs=1e-12)
    assert proxy.rows == len(y)


def test_a_strong_honest_risk_signal_is_not_taken_for_a_leak():
    rng = np.random.default_rng(5)
    risk = rng.uniform(0, 1000, 20_000)
    y = (rng.random(len(risk)) < 1 / (1 + np.exp(-(risk - 800) / 100))).astype(float)
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "risk": risk})
    assert 0.85 < roc_auc_score(y, risk) < 0.95  # stronger than any real application input
    assert outcome_proxies(frame, _schema("risk"), y) == []


def test_a_handful_of_outcomes_judges_no_input():
    y = np.array([1.0] * 5 + [0.0] * 200)
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "x": y * 10})
    assert outcome_proxies(frame, _schema("x"), y) == []


def test_a_sample_of_the_rows_with_an_outcome_is_read_on_a_large_table():
    y = _outcomes(50_000, seed=6)
    y[::7] = np.nan  # no outcome yet
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "x": np.nan_to_num(y, nan=0.5) * 10})
    (proxy,) = outcome_proxies(frame, _schema("x"), y, LeakChecks(sample_rows=5_000))
    assert proxy.rows == 5_000


@pytest.mark.parametrize("stem", ["german_credit", "uci_credit_card"])
def test_no_input_of_the_real_tables_is_taken_for_a_leak(stem: str):
    frame = pd.read_csv(DATA / f"{stem}.csv")
    result = check_table(frame, load_schema(DATA / f"{stem}.yaml"), target_reader=outcome)
    assert result.ok and result.warnings == []


def test_schema_check_warns_at_the_threshold_its_setting_gives(monkeypatch: pytest.MonkeyPatch):
    command = ["schema", "check", str(DATA / "german_credit.csv"), "--schema", str(DATA / "german_credit.yaml")]
    default = runner.invoke(app, command)
    monkeypatch.setenv("THINFILE_CHECKS__LEAKS__PROXY_AUC", "0.7")  # the checking account's AUC is about 0.71
    lowered = runner.invoke(app, command)
    assert (default.exit_code, lowered.exit_code) == (0, 0), lowered.output
    assert "alone separates defaults" not in default.output
    assert "input 'status_of_existing_checking_account' alone separates defaults" in lowered.output
    warned = [int(re.search(r"PASS: .*, (\d+) warnings? above", out.output)[1]) for out in (default, lowered)]
    assert warned[1] == warned[0] + 1


@pytest.mark.parametrize(
    ("relabel", "kind"),
    [
        (lambda y: np.where(y == 1, "bad", "good"), {"type": "category", "categories": ["bad", "good"]}),
        (lambda y: y * 100, {"type": "float", "min": 0, "max": 1000}),
    ],
    ids=["bad-good", "0-100"],
)
def test_the_outcome_under_another_name_fails_the_check(relabel, kind: dict[str, object]):
    y = _outcomes(200, seed=8)
    frame = pd.DataFrame({"id": range(len(y)), "bad": y.astype(int), "status": relabel(y)})
    problems = check_table(frame, _schema("status", status=kind), target_reader=outcome).problems
    assert problems == [
        "input 'status' separates defaults from repayments perfectly on 200 rows with an outcome in 'bad' (each of "
        "its values, or each side of one value, holds only defaults or only repayments): it is the outcome under "
        "another name, and a model would read the answer from it; remove it from the schema's features"
    ]


@pytest.mark.parametrize("default_rate", [0.281, 0.30, 0.123])
def test_a_share_repaid_split_exactly_at_one_value_is_refused_wherever_the_bins_fall(default_rate: float):
    rng = np.random.default_rng(9)
    y = (rng.random(3_000) < default_rate).astype(float)
    share = np.where(y == 1, rng.uniform(0, 0.5, len(y)), rng.uniform(0.5, 1, len(y)))
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "repaid_share": share})
    (proxy,) = outcome_proxies(frame, _schema("repaid_share"), y)
    assert proxy.perfect


def test_a_leak_in_60_rows_is_judged_on_its_order_where_its_three_bins_blur_it():
    y = np.r_[np.ones(19), np.zeros(41)]
    days = np.r_[np.arange(40, 59), np.zeros(40), [45.0]]  # one repaid loan 45 days late: AUC 40.5/41 ~ 0.988
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "days_past_due": days})
    (proxy,) = outcome_proxies(frame, _schema("days_past_due"), y)
    assert proxy.auc == pytest.approx(roc_auc_score(y, days)) and not proxy.perfect


def test_many_levels_of_noise_are_not_taken_for_a_leak():
    rng = np.random.default_rng(11)
    y = (rng.random(20_000) < 0.003).astype(float)
    y[:70] = 1  # enough defaults to judge
    levels = [f"p{k}" for k in range(1_500)]
    postcode = np.array(levels)[rng.integers(0, len(levels), len(y))]
    schema = _schema("postcode", postcode={"type": "category", "categories": levels})
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "postcode": postcode})
    assert outcome_proxies(frame, schema, y) == []


def test_infinite_values_fall_in_the_end_bins():
    rng = np.random.default_rng(12)
    y = (rng.random(5_000) < 0.2).astype(float)
    x = np.where(rng.random(len(y)) < 0.06, np.inf, rng.uniform(0, 1, len(y)))
    frame = pd.DataFrame({"id": range(len(y)), "bad": y, "x": x})
    assert outcome_proxies(frame, _schema("x"), y) == []  # no warning raised either (pytest turns them to errors)

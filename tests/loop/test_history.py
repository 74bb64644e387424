"""The generator's lending history: who was booked, what the lender sees, what the data card says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.history import (
    BOOKED,
    EXPLORED,
    MONTH,
    bureau_era_policy,
    decide,
    generate_history,
    history_frame,
)
from thinfile.features.schema import SchemaError, load_schema, parse_schema
from thinfile.features.settings import GeneratorParams, HistorySettings

runner = CliRunner()


def _thin(frame: pd.DataFrame, schema) -> np.ndarray:
    return frame[schema.traditional_features].isna().all(axis=1).to_numpy()


def test_the_policy_books_about_its_share_before_exploration(history, history_settings):
    booked_by_policy = history[BOOKED] & ~history[EXPLORED]
    assert abs(booked_by_policy.mean() - history_settings.policy.book_share) < 0.03


def test_thin_file_and_rural_applicants_are_mostly_rejected(history, schema):
    booked = history[BOOKED].to_numpy()
    assert booked[_thin(history, schema)].mean() < 0.5
    assert booked[(history["residence"] == "rural").to_numpy()].mean() < 0.5
    assert booked[~_thin(history, schema)].mean() > booked[_thin(history, schema)].mean()


def test_the_policy_books_lower_risk_than_it_turns_away(history):
    booked = history[BOOKED].to_numpy()
    assert history["true_pd"][booked].mean() < history["true_pd"][~booked].mean()


def test_exploration_approves_its_share_of_would_be_rejects(history, history_settings):
    would_be_rejects = ~history[BOOKED] | history[EXPLORED]
    share = history[EXPLORED][would_be_rejects].mean()
    n = int(would_be_rejects.sum())
    sd = np.sqrt(0.05 * 0.95 / n)
    assert abs(share - history_settings.explore_share) < 4 * sd


def test_a_larger_exploration_share_explores_everyone_a_smaller_one_did(
    history, schema, small_params, history_settings
):
    policy = bureau_era_policy(schema, small_params, history_settings.policy)
    _, small = decide(history, schema, policy, 0.02, seed=5)
    _, large = decide(history, schema, policy, 0.10, seed=5)
    assert small.sum() > 0 and not (small & ~large).any()


def test_the_lender_sees_outcomes_only_for_booked_rows_and_true_pd_for_all(seen):
    booked = seen[BOOKED].to_numpy()
    assert seen["default_12m"].isna().to_numpy().tolist() == (~booked).tolist()
    assert seen["true_pd"].notna().all()


def test_applications_spread_over_the_configured_months(history):
    months = pd.to_datetime(history[MONTH])
    assert months.min() == pd.Timestamp("2016-01-01") and months.max() == pd.Timestamp("2016-12-01")
    assert months.dt.day.eq(1).all()


def test_written_history_matches_the_in_memory_one_and_names_its_booked_column(tmp_path, schema):
    params = GeneratorParams(chunk_rows=4_000)
    settings = HistorySettings(policy={"reference_rows": 20_000}, explore_share=0.1)
    result = generate_history(schema, tmp_path, rows=9_000, seed=3, params=params, settings=settings, workers=1)
    written = ds.dataset(str(result.parts_dir)).to_table().to_pandas()
    in_memory = history_frame(schema, params, settings, rows=9_000, seed=3)
    assert written[BOOKED].tolist() == in_memory[BOOKED].tolist()
    assert written["default_12m"].isna().tolist() == (~in_memory[BOOKED]).tolist()
    assert load_schema(result.schema_file).booked_column == BOOKED


def test_the_data_card_reports_booked_shares_and_the_policy(tmp_path, schema):
    settings = HistorySettings(policy={"reference_rows": 20_000})
    result = generate_history(schema, tmp_path, rows=5_000, seed=1, settings=settings, workers=1)
    card = result.datacard.read_text()
    assert "## Lending history" in card and "booked share, thin-file / with bureau record" in card
    assert f"{result.summary['booked_share']:.1%}" in card
    assert "cutoff_points" in card


def test_a_booked_column_cannot_be_a_feature(schema):
    data = schema.model_dump(mode="json")
    data["booked_column"] = data["features"][0]["name"]
    with pytest.raises(SchemaError, match="cannot be a feature: id, target, oracle, date, booked"):
        parse_schema(data)


def test_generate_history_cli_writes_schema_and_card(tmp_path):
    out = tmp_path / "h"
    result = runner.invoke(app, ["generate", "--history", "-n", "3000", "--explore-share", "0.02", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "schema.yaml").exists() and "Lending history" in (out / "DATACARD.md").read_text()
    assert "--reject-inference" in result.output


def test_generate_refuses_history_options_without_history(tmp_path):
    result = runner.invoke(app, ["generate", "-n", "100", "-o", str(tmp_path), "--explore-share", "0.1"])
    assert result.exit_code == 2
    assert "need --history" in result.output

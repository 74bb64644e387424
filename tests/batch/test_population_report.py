"""Population report: PSI against the training reference flags a shifted book; approval by group with DI ratio."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from thinfile.features.schema import Schema, parse_schema
from thinfile.serving.batch import batch_score
from thinfile.serving.batch.report import _scores_figure, report_figures
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import FairnessAudit


def test_shifted_population_raises_the_psi_flag(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    same = book.head(3_000)
    shifted = same.copy()
    shifted["phone_tenure_months"] = (shifted["phone_tenure_months"] // 6).astype("Int64")
    shifted["mobile_payment_volume_rmb"] = shifted["mobile_payment_volume_rmb"] * 0.1
    same.to_parquet(tmp_path / "same.parquet")
    shifted.to_parquet(tmp_path / "shifted.parquet")

    calm = batch_score(tmp_path / "same.parquet", tmp_path / "calm", scorer, workers=1).report["stability"]
    moved = batch_score(tmp_path / "shifted.parquet", tmp_path / "moved", scorer, workers=1).report["stability"]

    assert calm["available"] and not calm["flag"] and calm["shifted"] == []
    assert moved["flag"] and {"phone_tenure_months", "mobile_payment_volume_rmb"} <= set(moved["shifted"])
    assert moved["features"]["phone_tenure_months"]["level"] == "shift"
    assert moved["features"]["bureau_utilisation"]["psi"] < 0.1
    assert "Shift: " in (tmp_path / "moved" / "population_report.html").read_text()


def test_psi_on_fewer_rows_than_min_rows_is_reported_but_flags_nothing(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    few = book.head(30).copy()
    few["phone_tenure_months"] = (few["phone_tenure_months"] // 6).astype("Int64")
    few.to_parquet(tmp_path / "few.parquet")
    result = batch_score(tmp_path / "few.parquet", tmp_path / "out", scorer, workers=1)
    stab = result.report["stability"]
    assert stab["available"] and not stab["judged"] and stab["rows"] == result.scored < stab["min_rows"]
    assert stab["features"]["phone_tenure_months"]["psi"] > 0.25 and not stab["flag"] and stab["shifted"] == []
    assert {v["level"] for v in stab["features"].values()} == {"not judged"}
    assert f"{result.scored} scored rows, fewer than 500: PSI not judged" in result.summary()
    page = (tmp_path / "out" / "population_report.html").read_text()
    assert "stability not judged" in page and "Shift: " not in page


def test_approval_by_group_and_disparate_impact(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    rows = book.head(2_000)
    rows.to_parquet(tmp_path / "book.parquet")
    report = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1).report
    decisions = pd.read_parquet(tmp_path / "out" / "scores")["decision"]
    approved = (decisions == "approve").to_numpy()
    rates = pd.Series(approved).groupby(rows["residence"].astype(str).to_numpy()).mean()
    fair = report["fairness"]["residence"]
    for g in fair["groups"]:
        assert abs(g["approval_rate"] - rates[g["group"]]) < 1e-6
    assert abs(fair["disparate_impact_ratio"] - rates.min() / rates.max()) < 1e-6
    assert report["approval_at_cutoffs"][1]["rate"] == round(approved.mean(), 6)

    without = rows.drop(columns=["residence", "gender", "age_band"])
    without.to_parquet(tmp_path / "plain.parquet")
    assert batch_score(tmp_path / "plain.parquet", tmp_path / "plain", scorer, workers=1).report["fairness"] == {}


def _approval_by(rows: pd.DataFrame, out: Path, schema: Schema, column: str) -> pd.Series:
    """Approval rate per value of `column`, by hand from the written scores joined to the input on id."""
    scores = pd.read_parquet(out / "scores")[[schema.id_column, "decision"]]
    joined = rows[[schema.id_column, column]].merge(scores, on=schema.id_column, validate="one_to_one")
    return (joined["decision"] == "approve").groupby(joined[column].astype(str)).mean()


def test_a_value_outside_the_declared_categories_is_not_a_group(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    rows = book.head(2_000).astype({"residence": object})
    approved = scorer.explain(rows).decision == "approve"
    rows.at[int(approved.argmax()), "residence"] = "suburban"
    rows.to_parquet(tmp_path / "book.parquet")

    fair = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1).report["fairness"]["residence"]

    rates = _approval_by(rows, tmp_path / "out", schema, "residence")
    declared = rates[["urban", "rural"]]
    by_hand = declared.min() / declared.max()
    assert rates["suburban"] == 1.0 and rates.min() / rates.max() < by_hand  # counted, the one row would move it
    assert fair["disparate_impact_ratio"] == pytest.approx(by_hand, abs=1e-6)
    assert fair["flag"] == (by_hand < 0.8) and not fair["complete"]  # a row of no declared group was not checked
    suburban = next(g for g in fair["groups"] if g["group"] == "suburban")
    assert (suburban["rows"], suburban["counted"]) == (1, False) and "not a category" in suburban["why_not"]


def test_a_declared_group_under_min_group_rows_is_listed_but_not_counted(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    rows = book.head(1_000).astype({"gender": object})
    rows["gender"] = "male"
    rows.loc[rows.index[:20], "gender"] = "female"
    rows.to_parquet(tmp_path / "book.parquet")

    report = batch_score(
        tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1, groups=FairnessAudit(min_group_rows=50)
    ).report
    fair = report["fairness"]["gender"]

    female = next(g for g in fair["groups"] if g["group"] == "female")
    assert (female["rows"], female["counted"]) == (20, False) and "fewer than the 50" in female["why_not"]
    assert fair["disparate_impact_ratio"] is None and not fair["flag"] and not fair["complete"]
    assert fair["unchecked"] == ["female"]
    assert fair["left_out"] == ["female (20 rows, fewer than the 50 needed to check it)"]


@pytest.fixture(scope="module")
def shifted_html(book: pd.DataFrame, scorer: Scorer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML population report of a small book whose phone tenure shifted (a red banner)."""
    folder = tmp_path_factory.mktemp("population_html")
    rows = book.head(1_500).copy()
    rows["phone_tenure_months"] = (rows["phone_tenure_months"] // 6).astype("Int64")
    rows.to_parquet(folder / "book.parquet")
    batch_score(folder / "book.parquet", folder / "out", scorer, workers=1)
    return folder / "out" / "population_report.html"


def test_population_report_is_one_self_contained_page(shifted_html: Path) -> None:
    text = shifted_html.read_text()
    assert text.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'src="([^"]+)"', text)
    assert len(srcs) == 3 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert "<script" not in text and "href=" not in text
    banner = re.search(r'<div class="verdict (\w+)">([^<]*)</div>', text)
    assert banner is not None and banner.group(1) == "fail" and "Shift: " in banner.group(2)
    assert text.index("Shift: ") < text.index("<h2>Stability</h2>") < text.index("Approval by residence")


def test_population_report_states_the_job_in_words(shifted_html: Path) -> None:
    metas = re.findall(r'<p class="meta">([^<]*)</p>', shifted_html.read_text())
    job = next(m for m in metas if m.startswith("engine "))
    assert "1,500 rows in = 1,500 scored + 0 rejected" in job
    assert not set("{}[]'") & set(job), job  # words, not a Python dict


def test_population_report_figures_keep_their_words_as_text(shifted_html: Path) -> None:
    srcs = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', shifted_html.read_text())
    svgs = [ET.fromstring(base64.b64decode(src)) for src in srcs]
    texts = [" ".join(t.itertext()) for svg in svgs for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Population stability" in texts and "phone_tenure_months" in texts
    assert any(t.startswith("residence: DI ") for t in texts)


@pytest.mark.slow
def test_population_report_renders_in_headless_chromium(shifted_html: Path, screenshot, tmp_path: Path) -> None:
    pixels = screenshot(shifted_html, tmp_path / "population.png")
    assert (pixels < 0.95).any(axis=2).mean() > 0.02, "screenshot nearly blank"
    top = pixels[: pixels.shape[0] // 5]
    reddish = (top[..., 0] - top[..., 2] > 0.08) & (top[..., 0] > 0.9)
    assert reddish.mean() > 0.01, "no red shift banner near the top"


def test_labels_given_with_the_job_name_the_groups_of_a_model_trained_without_them(
    book: pd.DataFrame, scorer: Scorer, schema: Schema, tmp_path: Path
) -> None:
    declared = yaml.safe_load(schema.to_yaml())
    declared["protected"][0]["labels"] = {"rural": "countryside", "urban": "town"}
    labelled = parse_schema(declared)
    book.head(2_000).to_parquet(tmp_path / "book.parquet")
    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1, schema=labelled)
    groups = {g["group"]: g["rows"] for g in result.report["fairness"]["residence"]["groups"]}
    expected = book.head(2_000)["residence"].map({"rural": "countryside", "urban": "town"}).value_counts()
    assert groups == expected.to_dict()
    assert scorer.schema.protected == schema.protected  # the loaded model is left as it was


def test_a_score_histogram_of_millions_writes_its_counts_whole_and_its_title_where_matplotlib_would(
    shifted_html: Path, scorer: Scorer
) -> None:
    report = json.loads((shifted_html.parent / "population_report.json").read_text())
    report["score"]["histogram"]["counts"] = [c * 10_000 for c in report["score"]["histogram"]["counts"]]
    (_, image), *_ = report_figures(report, scorer)
    svg = ET.fromstring(base64.b64decode(image.src.split(",", 1)[1]))
    texts = [" ".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert any(re.fullmatch(r"\d{1,3}(,\d{3}){2,}", t) for t in texts) and not any("1e" in t for t in texts)
    figure = _scores_figure(report, scorer)
    figure.draw_without_rendering()
    placed = [ax.title.get_window_extent().y0 for ax in figure.axes]
    for ax in figure.axes:
        ax._autotitlepos = True  # matplotlib's own search for each title's place
    figure.draw_without_rendering()
    assert [ax.title.get_window_extent().y0 for ax in figure.axes] == pytest.approx(placed)


def test_a_score_histogram_of_a_few_rows_labels_each_tick_with_its_own_whole_count(
    shifted_html: Path, scorer: Scorer
) -> None:
    report = json.loads((shifted_html.parent / "population_report.json").read_text())
    counts = report["score"]["histogram"]["counts"]
    report["score"]["histogram"]["counts"] = [[3, 1, 2][k % 3] if c else 0 for k, c in enumerate(counts)]
    figure = _scores_figure(report, scorer)
    figure.draw_without_rendering()
    ticks = figure.axes[0].yaxis.get_majorticklabels()
    assert ticks and all(t.get_text() == f"{t.get_position()[1]:,.0f}" for t in ticks)
    assert all(float(t.get_position()[1]).is_integer() for t in ticks)

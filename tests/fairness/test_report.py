"""The report on the synthetic population and on a lender's own (foreign) schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from thinfile.config import Settings
from thinfile.features.schema import Schema, parse_schema
from thinfile.training.champion import fit_champion
from thinfile.training.fairness.audit import THIN_FILE, FairnessReport, fairness_report, inclusion_lift
from thinfile.training.fairness.report import render_html
from thinfile.training.scorecard import fit_bureau_scorecard
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.split import Split, split_frame


def test_every_protected_attribute_and_the_intersection_are_audited(report: FairnessReport, schema: Schema) -> None:
    names = [a.name for a in report.attributes]
    assert names == [*schema.protected_names, " & ".join(schema.protected_names[:2])]
    assert {c.attribute for c in report.checks} == set(names)
    assert len(report.checks) == 3 * len(names)


def test_oracle_yardstick_on_synthetic_data(report: FairnessReport) -> None:
    assert report.has_oracle
    res = report.attribute("residence")
    assert res.oracle_di_ratio is not None and 0 < res.oracle_di_ratio <= 1
    assert {"oracle_approval_rate", "shortfall_vs_oracle"} <= set(res.groups.columns)
    assert any("scorer that knew the true default probability" in f for f in res.findings)


def test_inclusion_lift_over_the_bureau_only_scorecard(report: FairnessReport) -> None:
    inc = report.inclusion
    assert inc is not None
    seg = inc.segments.set_index("segment")
    # the bureau scorecard sees nothing of a thin file: one PD for all, so it approves all of them or none
    assert seg.loc[THIN_FILE, "baseline_approval_rate"] in (0.0, 1.0)
    assert seg.loc[THIN_FILE, "lift"] > 0.2
    assert inc.model_bad_rate <= inc.target_bad_rate + 1e-12
    assert inc.baseline_bad_rate <= inc.target_bad_rate + 1e-12


def test_the_inclusion_section_gives_the_approvals_of_its_line_beside_the_cut_offs(report: FairnessReport) -> None:
    seg = report.inclusion.segments.set_index("segment")
    line, cut = seg.loc["all", "model_approval_rate"], report.overall["approval_rate"]
    text = " ".join(render_html(report).split())
    said = f"this model then approves {100 * line:.1f}% of the rows, where its cut-off approves {100 * cut:.1f}%"
    assert said in text


def test_proxy_audit_finds_residence_in_the_inputs_but_not_gender(report: FairnessReport) -> None:
    auc = {p.attribute: p.auc for p in report.proxies}
    assert auc["residence"] > 0.7
    assert auc["gender"] < 0.6
    top = [f for p in report.proxies if p.attribute == "residence" for f, _ in p.top_features]
    assert top and all(isinstance(f, str) for f in top)


def test_json_is_strict_and_carries_the_verdict_headline_and_metrics(report: FairnessReport) -> None:
    data = json.loads(report.to_json(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert data["verdict"] == report.verdict and data["passed"] == (report.verdict == "pass")
    assert data["headline"] == report.headline
    assert data["metrics"]["fair_di_ratio_residence"] == pytest.approx(report.attribute("residence").di_ratio)
    for key in ("fair_eo_diff_residence", "fair_calib_gap_residence", "fair_inclusion_lift_thin_file", "fair_auc"):
        assert key in data["metrics"]


def test_scores_from_the_report_match_the_scorers_explanation(
    champion: Scorer, split: Split, fast: Settings, report: FairnessReport
) -> None:
    ex = champion.explain(split.test)
    assert report.overall["approval_rate"] == pytest.approx(float((ex.decision == "approve").mean()))


@pytest.fixture(scope="module")
def foreign_fit(foreign_schema: Schema, foreign_table: pd.DataFrame, fast: Settings) -> tuple[Scorer, Split]:
    parts = split_frame(foreign_table, foreign_schema, fast.train)
    return fit_champion(parts.train, parts.valid, foreign_schema, fast.train, fast.scale, fast.cutoffs), parts


@pytest.fixture(scope="module")
def foreign_report(foreign_schema: Schema, foreign_fit: tuple[Scorer, Split], fast: Settings) -> FairnessReport:
    scorer, parts = foreign_fit
    baseline = fit_bureau_scorecard(parts.train, foreign_schema)
    return fairness_report(scorer, parts.test, baseline=baseline, limits=fast.fairness, audit=fast.audit)


def test_groups_whose_names_differ_only_in_punctuation_keep_their_own_metrics(
    foreign_schema: Schema, foreign_fit: tuple[Scorer, Split], fast: Settings
) -> None:
    scorer, parts = foreign_fit
    spec = foreign_schema.model_dump(mode="json", exclude_none=True)
    spec["protected"][0]["labels"] = {"north": "north-east", "south": "north east"}
    named = scorer.with_protected(parse_schema(spec, "punctuation test"))
    metrics = fairness_report(named, parts.test, limits=fast.fairness, audit=fast.audit).metrics()
    approved = named.explain(parts.test).decision == "approve"
    south = parts.test["region"].to_numpy() == "south"
    assert metrics["fair_approval_rate_region_north_east"] == pytest.approx(approved[~south].mean())
    assert metrics["fair_approval_rate_region_north_east_2"] == pytest.approx(approved[south].mean())


def test_report_for_a_foreign_schema(foreign_report: FairnessReport) -> None:
    assert [a.name for a in foreign_report.attributes] == ["region", "sex", "region & sex"]
    assert not foreign_report.has_oracle
    assert any("oracle" in n for n in foreign_report.notes)
    assert foreign_report.inclusion is not None
    assert "fair_di_ratio_region" in foreign_report.metrics()
    assert {p.attribute for p in foreign_report.proxies} == {"region", "sex"}
    html = render_html(foreign_report)
    assert "region &amp; sex" in html and "data:image/svg+xml;base64," in html
    assert "<script" not in html


def test_rows_without_a_value_are_in_no_group_and_counted_at_the_top(
    foreign_schema: Schema, foreign_table: pd.DataFrame, fast: Settings
) -> None:
    parts = split_frame(foreign_table, foreign_schema, fast.train)
    scorer = fit_champion(parts.train, parts.valid, foreign_schema, fast.train, fast.scale, fast.cutoffs)
    test = parts.test.copy()
    test.loc[test.index[:5], "region"] = np.nan
    test.loc[test.index[5:9], "sex"] = "x"
    report = fairness_report(scorer, test, limits=fast.fairness, audit=fast.audit, data={"source": "acme.parquet"})
    region = report.attribute("region")
    assert list(region.groups.index) == ["north", "south"] and region.unassigned_rows == 5
    assert any(line.startswith(f"region: 5 of {len(test):,} rows have no value") for line in report.coverage)
    assert [(u.attribute, u.group, u.rows) for u in report.unchecked] == [("sex", "x", 4)]
    assert report.verdict in ("incomplete", "fail") and not report.passed
    assert report.attribute("region & sex").groups["rows"].sum() == len(test) - 9


def test_a_group_too_small_to_check_is_shown_greyed_but_gives_no_metric(
    foreign_schema: Schema, foreign_fit: tuple[Scorer, Split], fast: Settings
) -> None:
    scorer, parts = foreign_fit
    spec = foreign_schema.model_dump(mode="json", exclude_none=True)
    spec["protected"][0]["categories"] = ["north", "south", "east"]
    named = scorer.with_protected(parse_schema(spec, "a tiny region"))
    test = parts.test.copy()
    test.loc[test.index[:3], "region"] = "east"
    baseline = fit_bureau_scorecard(parts.train, foreign_schema)
    report = fairness_report(named, test, baseline=baseline, limits=fast.fairness, audit=fast.audit)
    metrics = report.metrics()
    region = report.attribute("region").groups
    assert region.loc["east", "rows"] == 3 and not region.loc["east", "counted"]
    assert not [k for k in metrics if k.endswith("_east")]
    assert "fair_approval_rate_region_south" in metrics
    segments = report.inclusion.segments.set_index("segment")
    assert segments.loc["region=east", "rows"] == 3 and not segments.loc["region=east", "counted"]
    html = render_html(report)
    assert '<tr class="unchecked"><td class="l">region=east</td>' in html


def test_an_inclusion_segment_under_the_group_minimum_is_not_counted() -> None:
    rng = np.random.default_rng(0)
    p_model, p_base = rng.uniform(0, 0.3, 2_000), rng.uniform(0, 0.3, 2_000)
    defaulted = rng.random(2_000) < p_model
    tiny = np.zeros(2_000, dtype=bool)
    tiny[:3] = True
    lift = inclusion_lift(p_model, p_base, defaulted, 0.1, {"all": ~tiny | tiny, "tiny": tiny}, "base", min_rows=50)
    counted = lift.segments.set_index("segment")["counted"]
    assert bool(counted["all"]) and not bool(counted["tiny"])

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thinfile.features.datacard import check_targets
from thinfile.features.generator import generate_frame
from thinfile.features.population import generate_population
from thinfile.features.settings import GeneratorParams

SMALL = GeneratorParams(chunk_rows=20_000)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_same_seed_gives_the_same_bytes(schema, tmp_path):
    a = generate_population(schema, tmp_path / "a", 45_000, seed=3, params=SMALL, workers=2)
    b = generate_population(schema, tmp_path / "b", 45_000, seed=3, params=SMALL, workers=1)
    assert len(digests(a.parts_dir)) == 3
    assert digests(a.parts_dir) == digests(b.parts_dir)


def test_another_seed_draws_other_people_from_the_same_world(schema):
    a = generate_frame(schema, rows=40_000, seed=1)
    b = generate_frame(schema, rows=40_000, seed=2)
    assert np.corrcoef(a["true_pd"], b["true_pd"])[0, 1] < 0.05  # other people, not a reshuffle
    p = (a["default_12m"].mean() + b["default_12m"].mean()) / 2
    se = np.sqrt(2 * p * (1 - p) / 40_000)
    assert abs(a["default_12m"].mean() - b["default_12m"].mean()) < 4 * se  # the same world


@pytest.fixture(scope="module")
def generated(schema, tmp_path_factory):
    return generate_population(schema, tmp_path_factory.mktemp("pop"), 120_000, seed=5, params=SMALL)


def test_realised_marginals_land_within_the_data_cards_tolerances(generated):
    missed = [(t.key, v) for t, v, ok in check_targets(SMALL, generated.realised) if not ok]
    assert missed == []


def test_data_card_states_parameters_marginals_and_sources(generated):
    card = generated.datacard.read_text()
    for heading in (
        "## Targets and where they come from",
        "## Default rate by group",
        "## Missing values by feature",
        "## Generator parameters",
    ):
        assert heading in card
    assert "AliResearch" in card and "rural_capacity_gap" in card


@pytest.fixture(scope="module")
def people(schema):
    return generate_frame(schema, rows=150_000, seed=8, keep_latents=True)


def test_rural_people_leave_a_thinner_digital_footprint(people, schema):
    rural = people["residence"] == "rural"
    present = people[schema.feature_names].notna().sum(axis=1)
    assert present[rural].mean() < present[~rural].mean() - 2
    assert people.loc[rural, "parcels_received_12m"].mean() < 0.8 * people.loc[~rural, "parcels_received_12m"].mean()
    assert (
        people.loc[rural, "bureau_accounts_open"].isna().mean()
        > people.loc[~rural, "bureau_accounts_open"].isna().mean()
    )


def test_within_strata_of_the_true_drivers_rural_and_urban_default_alike(people):
    drivers = people[["latent_capacity", "latent_conduct", "latent_network"]].to_numpy() @ [0.62, 0.72, 0.28]
    strata = pd.qcut(drivers, 8, labels=False)
    rates = people.groupby([strata, "residence"], observed=True)["default_12m"].agg(["mean", "size"]).unstack()
    gap = (rates["mean"]["rural"] - rates["mean"]["urban"]).abs()
    p = rates["mean"].mean(axis=1)
    se = np.sqrt(p * (1 - p) * (1 / rates["size"]["rural"] + 1 / rates["size"]["urban"]))
    assert (gap < 3.5 * se).all(), pd.DataFrame({"gap": gap, "se": se})


@pytest.mark.parametrize("gap", [0.0, 0.3])
def test_the_rural_risk_gap_in_log_odds_is_the_one_the_capacity_gap_implies(schema, gap):
    params = GeneratorParams(rural_capacity_gap=gap)
    people = generate_frame(schema, params, rows=60_000, seed=4)
    noise = params.label_noise
    clean = (people["true_pd"] - noise) / (1 - 2 * noise)
    logit = np.log(clean / (1 - clean))
    rural = (people["residence"] == "rural").to_numpy()
    # by hand: capacity -gap for rural people, network = 0.35 capacity + ..., drivers weighted 0.62 / 0.72 / 0.28
    spread = np.sqrt(0.62**2 + 0.72**2 + 0.28**2 + 2 * 0.28 * 0.35 * (0.62 + 0.72))
    expected = params.risk_spread * (0.62 + 0.28 * 0.35) * gap / spread
    se = np.sqrt(logit[rural].var() / rural.sum() + logit[~rural].var() / (~rural).sum())
    assert abs((logit[rural].mean() - logit[~rural].mean()) - expected) < 4 * se


def test_true_pd_is_calibrated_against_default_12m(people):
    deciles = pd.qcut(people["true_pd"], 10, labels=False)
    table = people.groupby(deciles)[["true_pd", "default_12m"]].agg(["mean", "size"])
    predicted, observed = table[("true_pd", "mean")], table[("default_12m", "mean")]
    se = np.sqrt(predicted * (1 - predicted) / table[("true_pd", "size")])
    assert ((observed - predicted).abs() < 4 * se).all()


def test_true_pd_depends_on_the_hidden_drivers_alone(people):
    from sklearn.linear_model import LinearRegression

    noise = GeneratorParams().label_noise
    clean = (people["true_pd"] - noise) / (1 - 2 * noise)
    logit = np.log(clean / (1 - clean))
    X = people[["latent_capacity", "latent_conduct", "latent_network"]].assign(
        rural=(people["residence"] == "rural").astype(float), female=(people["gender"] == "female").astype(float)
    )
    fit = LinearRegression().fit(X, logit)
    assert fit.score(X, logit) > 0.99
    assert abs(fit.coef_[3]) < 0.01 and abs(fit.coef_[4]) < 0.01

"""Seeded synthetic thin-file borrowers with a known true default probability.

The world has three hidden drivers of repayment per person: capacity (income, assets),
conduct (habits of paying on time) and network (credit quality of the people around them).
`true_pd` depends on those drivers alone. Residence, age and gender change what is *observed*
(whether a bureau record exists, how much digital footprint there is), not how a person with
given drivers repays; only `rural_capacity_gap` (and age, through capacity) moves the drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import expit

from thinfile.features.schema import FeatureType, Schema
from thinfile.features.settings import GeneratorParams

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
AGE_BAND_SHARES = (0.13, 0.22, 0.21, 0.21, 0.23)
AGE_BAND_LIMITS = ((18, 25), (25, 35), (35, 45), (45, 55), (55, 75))
_LIFT = (1.35, 1.3, 1.05, 0.8, 0.55)
AGE_ONLINE_LIFT = tuple(x / sum(a * b for a, b in zip(AGE_BAND_SHARES, _LIFT)) for x in _LIFT)
AGE_CAPACITY_SHIFT = (-0.45, -0.1, 0.15, 0.2, 0.0)
SECTORS = ("agriculture", "manufacturing", "services", "public_sector", "self_employed", "student", "other")
LATENTS = ("capacity", "conduct", "network")


@dataclass(frozen=True)
class People:
    """Hidden drivers and circumstances of one chunk of people (never written as features)."""

    n: int
    rural: np.ndarray
    female: np.ndarray
    age_band: np.ndarray
    age: np.ndarray
    online: np.ndarray
    intensity: np.ndarray
    has_bureau: np.ndarray
    capacity: np.ndarray
    conduct: np.ndarray
    network: np.ndarray
    microloan: np.ndarray
    saver: np.ndarray
    seller: np.ndarray
    utility_months: np.ndarray
    contacts: np.ndarray

    def take(self, mask: np.ndarray) -> People:
        """The people where `mask` holds."""
        return People(int(mask.sum()), *(getattr(self, f.name)[mask] for f in fields(People)[1:]))


@lru_cache(maxsize=32)
def _risk_intercept(params: GeneratorParams) -> float:
    """Log-odds intercept that gives the target default rate, solved on a fixed reference sample."""
    people = draw_people(np.random.default_rng(20161111), 200_000, params)
    drivers = _standard_drivers(people)
    lo, hi = -12.0, 4.0
    for _ in range(60):
        mid = (lo + hi) / 2
        clean = expit(mid - params.risk_spread * drivers)
        rate = (clean * (1 - params.label_noise) + (1 - clean) * params.label_noise).mean()
        lo, hi = (mid, hi) if rate < params.target_default_rate else (lo, mid)
    return (lo + hi) / 2


def _standard_drivers(people: People) -> np.ndarray:
    drivers = 0.62 * people.capacity + 0.72 * people.conduct + 0.28 * people.network
    spread = np.sqrt(0.62**2 + 0.72**2 + 0.28**2 + 2 * 0.28 * 0.35 * (0.62 + 0.72))
    return drivers / spread


def draw_people(rng: np.random.Generator, n: int, params: GeneratorParams) -> People:
    rural = rng.random(n) < params.rural_share
    female = rng.random(n) < params.female_share
    band = rng.choice(len(AGE_BANDS), size=n, p=AGE_BAND_SHARES)
    lo = np.array([a for a, _ in AGE_BAND_LIMITS])[band]
    hi = np.array([b for _, b in AGE_BAND_LIMITS])[band]
    age = lo + rng.random(n) * (hi - lo)

    base_online = np.where(rural, params.rural_online_rate, params.urban_online_rate)
    online = rng.random(n) < np.clip(base_online * np.array(AGE_ONLINE_LIFT)[band], 0, 0.98)
    activity = rng.lognormal(0.0, 0.5, n)
    intensity = activity * np.where(rural, params.rural_footprint_intensity, 1.0) * np.where(online, 1.0, 0.2)

    capacity = rng.standard_normal(n) - params.rural_capacity_gap * rural + np.array(AGE_CAPACITY_SHIFT)[band]
    conduct = rng.standard_normal(n)
    network = 0.35 * capacity + 0.35 * conduct + 0.87 * rng.standard_normal(n)

    bureau_base = np.where(rural, params.rural_bureau_rate, params.urban_bureau_rate)
    bureau_age = np.array((0.5, 0.95, 1.15, 1.15, 1.0))[band]
    has_bureau = rng.random(n) < np.clip(bureau_base * bureau_age * np.exp(0.3 * capacity - 0.045), 0, 1)

    microloan = rng.random(n) < np.where(online, 0.55, 0.22) * np.where(has_bureau, 1.1, 1.0)
    saver_rate = np.where(rural, params.money_market_rate_rural, params.money_market_rate_urban)
    saver = rng.random(n) < np.clip(saver_rate * np.where(online, 1.8, 0.4), 0, 1)
    seller = rng.random(n) < params.seller_rate * np.where(online, 1.6, 0.2)
    pays_online = rng.random(n) < np.where(online, 0.85, 0.35) * np.where(rural, 0.7, 1.0)
    utility_months = np.where(pays_online, np.clip(np.round(12 * np.minimum(1, 0.4 + 0.6 * intensity)), 1, 12), 0)
    contacts = rng.poisson(4 + 10 * intensity * np.exp(0.2 * network)).astype(np.float64)
    return People(
        n,
        rural,
        female,
        band,
        age,
        online,
        intensity,
        has_bureau,
        capacity,
        conduct,
        network,
        microloan,
        saver,
        seller,
        utility_months.astype(np.float64),
        contacts,
    )


def true_default_probability(people: People, params: GeneratorParams) -> np.ndarray:
    """The oracle: PD from the hidden drivers only, with recorded-outcome noise folded in."""
    logit = _risk_intercept(params) - params.risk_spread * _standard_drivers(people)
    clean = expit(logit)
    return clean * (1 - params.label_noise) + (1 - clean) * params.label_noise


Formula = Callable[[np.random.Generator, People, GeneratorParams], np.ndarray]

ONLY: dict[str, Callable[[People], np.ndarray]] = {
    "has_bureau": lambda p: p.has_bureau,
    "microloan": lambda p: p.microloan,
    "microloan_online": lambda p: p.microloan & p.online,
    "online": lambda p: p.online,
    "saver": lambda p: p.saver,
    "seller": lambda p: p.seller,
}
"""Who a sparse feature exists for; its formula runs on those people only, the rest are missing."""


def _counts(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    return rng.poisson(np.clip(mean, 0, 1e6)).astype(np.float64)


def _money(rng: np.random.Generator, log_mean: np.ndarray, sd: float, params: GeneratorParams) -> np.ndarray:
    amount = np.exp(log_mean + sd * rng.standard_normal(log_mean.shape))
    far = rng.random(log_mean.shape) < params.outlier_rate
    return np.where(far, amount * rng.pareto(1.2, log_mean.shape).clip(1, None) * 20, amount)


def _share(rng: np.random.Generator, trials: np.ndarray, p: np.ndarray) -> np.ndarray:
    trials = np.maximum(trials, 1).astype(np.int64)
    return rng.binomial(trials, np.clip(p, 0, 1)) / trials


def _formulas() -> dict[str, tuple[Formula, str | None]]:
    """How each feature arises from a person; keys must match the schema's feature names."""
    f: dict[str, tuple[Formula, str | None]] = {}

    def reg(name: str, only: str | None = None) -> Callable[[Formula], Formula]:
        def deco(fn: Formula) -> Formula:
            f[name] = (fn, only)
            return fn

        return deco

    @reg("bureau_accounts_open", only="has_bureau")
    def _(rng, p, g):
        return _counts(rng, np.exp(0.9 + 0.3 * p.capacity))

    @reg("bureau_oldest_account_months", only="has_bureau")
    def _(rng, p, g):
        months = (p.age - 18) * 12 * rng.beta(2 + 0.5 * np.clip(p.conduct + 2, 0, 4), 3)
        return np.floor(months)

    @reg("bureau_delinquencies_24m", only="has_bureau")
    def _(rng, p, g):
        return _counts(rng, np.exp(-1.3 - 0.95 * p.conduct - 0.35 * p.capacity))

    @reg("bureau_utilisation", only="has_bureau")
    def _(rng, p, g):
        return 1.3 * expit(-0.4 - 0.7 * p.capacity - 0.45 * p.conduct + 0.6 * rng.standard_normal(p.n))

    @reg("bureau_inquiries_6m", only="has_bureau")
    def _(rng, p, g):
        return _counts(rng, np.exp(0.2 - 0.35 * p.capacity - 0.35 * p.conduct))

    @reg("microloan_count_24m", only="microloan")
    def _(rng, p, g):
        return 1 + _counts(rng, 2.5 * p.intensity)

    @reg("microloan_ontime_share", only="microloan")
    def _(rng, p, g):
        trials = 6 * (1 + _counts(rng, 2.5 * p.intensity))
        q = expit(3.2 + 1.3 * p.conduct + 0.35 * p.capacity)
        return _share(rng, trials, q)

    @reg("microloan_max_days_late", only="microloan")
    def _(rng, p, g):
        late = rng.random(p.n) < expit(-1.0 - 1.1 * p.conduct - 0.3 * p.capacity)
        days = np.floor(rng.exponential(np.exp(2.3 - 0.6 * p.conduct)))
        return np.where(late, 1 + days, 0)

    @reg("microloan_months_since_first", only="microloan")
    def _(rng, p, g):
        months = np.minimum((p.age - 18) * 12, 120) * rng.beta(1.5 + 0.3 * p.intensity, 2.5)
        return np.floor(months)

    @reg("bnpl_utilisation", only="microloan_online")
    def _(rng, p, g):
        u = expit(-0.5 - 0.6 * p.capacity - 0.45 * p.conduct + 0.7 * rng.standard_normal(p.n))
        return u

    @reg("mobile_payment_volume_rmb", only="online")
    def _(rng, p, g):
        vol = _money(rng, 7.6 + 0.55 * p.capacity + 0.6 * np.log(p.intensity + 0.05), 0.45, g)
        return vol

    @reg("inflow_regularity", only="online")
    def _(rng, p, g):
        r = expit(0.6 + 0.55 * p.capacity + 0.35 * p.conduct + 0.6 * rng.standard_normal(p.n))
        return r

    @reg("money_market_balance_rmb", only="saver")
    def _(rng, p, g):
        bal = _money(rng, 7.0 + 0.9 * p.capacity + 0.3 * p.conduct, 0.9, g)
        return bal

    @reg("money_market_months_active", only="saver")
    def _(rng, p, g):
        months = np.minimum((p.age - 18) * 12, 120) * rng.beta(1.2 + 0.4 * np.clip(p.conduct + 2, 0, 4), 2.0)
        return np.floor(months)

    @reg("store_revenue_rmb", only="seller")
    def _(rng, p, g):
        return _money(rng, 9.0 + 0.8 * p.capacity, 1.0, g)

    @reg("store_months_active", only="seller")
    def _(rng, p, g):
        return np.floor(rng.gamma(2.0, 12.0 + 4 * np.clip(p.conduct + 2, 0, 4)))

    @reg("salary_inflow", only="online")
    def _(rng, p, g):
        s = (rng.random(p.n) < expit(-0.2 + 0.8 * p.capacity - 0.8 * p.rural)).astype(np.float64)
        return s

    @reg("declared_income_rmb")
    def _(rng, p, g):
        inc = _money(rng, 8.3 + 0.5 * p.capacity - 0.35 * p.rural, 0.25, g)
        declared = rng.random(p.n) < 0.75
        return np.where(declared, np.round(inc, -2), np.nan)

    @reg("savings_to_spend_ratio")
    def _(rng, p, g):
        r = np.exp(0.2 + 0.7 * p.capacity + 0.35 * p.conduct + 0.6 * rng.standard_normal(p.n))
        return np.where(p.online | p.saver, r, np.nan)

    @reg("low_balance_events_12m", only="online")
    def _(rng, p, g):
        ev = _counts(rng, np.exp(0.9 - 0.7 * p.capacity - 0.4 * p.conduct))
        return ev

    @reg("online_orders_12m")
    def _(rng, p, g):
        return np.where(p.online, _counts(rng, 45 * p.intensity * np.exp(0.2 * p.capacity)), 0.0)

    @reg("return_rate", only="online")
    def _(rng, p, g):
        orders = 1 + _counts(rng, 45 * p.intensity)
        q = expit(-2.6 - 0.3 * p.conduct + 0.2 * rng.standard_normal(p.n))
        return _share(rng, orders, q)

    @reg("parcels_received_12m")
    def _(rng, p, g):
        return _counts(rng, 40 * p.intensity * np.exp(0.15 * p.capacity))

    @reg("avg_order_value_rmb", only="online")
    def _(rng, p, g):
        return _money(rng, 4.4 + 0.35 * p.capacity - 0.2 * p.rural, 0.5, g)

    @reg("utility_ontime_12m")
    def _(rng, p, g):
        months = p.utility_months
        q = expit(2.4 + 1.6 * p.conduct + 0.3 * p.capacity)
        return np.where(months > 0, rng.binomial(months.astype(np.int64), q), np.nan)

    @reg("utility_late_12m")
    def _(rng, p, g):
        months = p.utility_months
        q = expit(-2.4 - 1.0 * p.conduct - 0.3 * p.capacity)
        return np.where(months > 0, rng.binomial(months.astype(np.int64), q), np.nan)

    @reg("rent_ontime_share")
    def _(rng, p, g):
        renter = rng.random(p.n) < np.where(p.rural, 0.12, 0.38)
        q = expit(2.6 + 1.2 * p.conduct + 0.3 * p.capacity)
        return np.where(renter & p.online, _share(rng, np.full(p.n, 12), q), np.nan)

    @reg("spend_volatility", only="online")
    def _(rng, p, g):
        v = np.exp(-0.8 - 0.25 * p.conduct - 0.2 * p.capacity + 0.35 * rng.standard_normal(p.n))
        return v

    @reg("high_risk_merchant_share", only="online")
    def _(rng, p, g):
        s = expit(-3.5 - 0.7 * p.conduct + 0.6 * rng.standard_normal(p.n))
        return s

    @reg("autopay_enabled", only="online")
    def _(rng, p, g):
        a = (rng.random(p.n) < expit(-0.4 + 0.5 * p.conduct + 0.3 * np.log(p.intensity))).astype(np.float64)
        return a

    @reg("transfer_counterparties_12m", only="online")
    def _(rng, p, g):
        return _counts(rng, 14 * p.intensity)

    @reg("phone_bill_ontime_24m")
    def _(rng, p, g):
        q = expit(2.8 + 2.4 * p.conduct + 0.5 * p.capacity)
        return np.where(rng.random(p.n) < 0.97, rng.binomial(24, q), np.nan)

    @reg("bill_days_to_pay")
    def _(rng, p, g):
        days = np.exp(1.6 - 0.6 * p.conduct - 0.1 * p.capacity + 0.25 * rng.standard_normal(p.n))
        return np.where(rng.random(p.n) < 0.97, np.round(days, 1), np.nan)

    @reg("phone_lapses_12m")
    def _(rng, p, g):
        lapses = _counts(rng, np.exp(-0.6 - 1.0 * p.capacity - 0.6 * p.conduct))
        return np.where(rng.random(p.n) < 0.97, lapses, np.nan)

    @reg("phone_spend_rmb")
    def _(rng, p, g):
        return np.where(rng.random(p.n) < 0.97, _money(rng, 3.9 + 0.5 * p.capacity - 0.2 * p.rural, 0.15, g), np.nan)

    @reg("phone_tenure_months")
    def _(rng, p, g):
        return np.floor(np.minimum((p.age - 16) * 12, 360) * rng.beta(1.5 + 0.35 * np.clip(p.conduct + 2, 0, 4), 2))

    @reg("account_tenure_months")
    def _(rng, p, g):
        cap = np.minimum((p.age - 17) * 12, np.where(p.online, 150, 60))
        return np.floor(cap * rng.beta(1.4 + 0.6 * np.clip(p.intensity, 0, 3), 2.2))

    @reg("identity_verification_level")
    def _(rng, p, g):
        lvl = 1 + (rng.random(p.n) < 0.55 + 0.3 * p.online) + (rng.random(p.n) < expit(-0.6 + 0.3 * p.conduct))
        return np.where(rng.random(p.n) < 0.05, 0, lvl).astype(np.float64)

    @reg("education_level")
    def _(rng, p, g):
        edu = np.clip(np.round(1.9 + 0.6 * p.capacity - 0.5 * p.rural + 0.7 * rng.standard_normal(p.n)), 0, 4)
        return np.where(rng.random(p.n) < np.where(p.online, 0.8, 0.5), edu, np.nan)

    @reg("occupation_sector")
    def _(rng, p, g):
        urban_mix = np.array((0.03, 0.22, 0.35, 0.12, 0.14, 0.06, 0.08))
        rural_mix = np.array((0.45, 0.18, 0.14, 0.04, 0.12, 0.02, 0.05))
        u = rng.random(p.n)
        idx_u = np.searchsorted(np.cumsum(urban_mix), u * urban_mix.sum())
        idx_r = np.searchsorted(np.cumsum(rural_mix), u * rural_mix.sum())
        idx = np.where(p.rural, idx_r, idx_u).astype(np.float64)
        idx = np.where(p.age_band == 0, np.where(rng.random(p.n) < 0.4, 5, idx), idx)
        return np.where(rng.random(p.n) < 0.85, idx, np.nan)

    @reg("occupation_verified")
    def _(rng, p, g):
        v = (rng.random(p.n) < expit(-0.3 + 0.4 * p.capacity + 0.3 * p.conduct)).astype(np.float64)
        return np.where(rng.random(p.n) < 0.9, v, np.nan)

    @reg("address_changes_24m")
    def _(rng, p, g):
        return _counts(rng, np.exp(-0.7 - 0.3 * p.conduct - 0.2 * p.capacity - 0.4 * p.rural + 0.3 * (p.age_band <= 1)))

    @reg("device_changes_12m", only="online")
    def _(rng, p, g):
        return _counts(rng, np.exp(-1.0 - 0.35 * p.conduct + 0.2 * rng.standard_normal(p.n)))

    @reg("device_tier")
    def _(rng, p, g):
        z = 0.8 * p.capacity - 0.4 * p.rural + 0.6 * rng.standard_normal(p.n)
        tier = np.digitize(z, (-0.5, 0.9)).astype(np.float64)
        return np.where(rng.random(p.n) < 0.92, tier, np.nan)

    @reg("profile_completeness")
    def _(rng, p, g):
        return np.clip(rng.beta(2 + 1.5 * p.online + 0.4 * np.clip(p.conduct + 2, 0, 4), 1.8), 0, 1)

    @reg("verified_contacts")
    def _(rng, p, g):
        return p.contacts

    @reg("contacts_avg_score")
    def _(rng, p, g):
        k = np.maximum(p.contacts, 1)
        score = 610 + 60 * p.network + 45 * rng.standard_normal(p.n) / np.sqrt(k)
        return np.where(p.contacts >= 3, np.round(score, 1), np.nan)

    @reg("contacts_default_share")
    def _(rng, p, g):
        k = np.maximum(p.contacts, 1)
        q = expit(-2.6 - 0.8 * p.network)
        return np.where(p.contacts >= 3, _share(rng, k, q), np.nan)

    return f


FORMULAS: dict[str, tuple[Formula, str | None]] = _formulas()


def _clip_to_schema(values: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    if lo is None or hi is None:
        return values
    return np.clip(values, lo, hi)


def chunk_columns(
    schema: Schema,
    params: GeneratorParams,
    seed: np.random.SeedSequence,
    start_id: int,
    n: int,
    keep_latents: bool = False,
) -> dict[str, object]:
    """One chunk of the population as typed column arrays (id, features in schema order, protected, oracle, label)."""
    missing = set(schema.feature_names) ^ set(FORMULAS)
    if missing:
        raise ValueError(f"schema and generator disagree on features: {sorted(missing)}")
    people_seed, label_seed, *feature_seeds = seed.spawn(2 + len(schema.features))
    people = draw_people(np.random.default_rng(people_seed), n, params)
    label_rng = np.random.default_rng(label_seed)
    feature_rngs = [np.random.default_rng(s) for s in feature_seeds]

    cols: dict[str, object] = {
        schema.id_column: np.char.add("A", np.char.zfill(np.arange(start_id, start_id + n).astype("U10"), 10)).astype(
            object
        )
    }
    subsets: dict[str, tuple[np.ndarray, People]] = {}
    for f, rng in zip(schema.features, feature_rngs, strict=True):
        formula, only = FORMULAS[f.name]
        if only is None:
            raw = formula(rng, people, params).astype(np.float64)
        else:
            if only not in subsets:
                mask = ONLY[only](people)
                subsets[only] = (mask, people.take(mask))
            mask, some = subsets[only]
            raw = np.full(n, np.nan)
            raw[mask] = formula(rng, some, params)
        if f.type is FeatureType.category:
            codes = np.nan_to_num(raw, nan=-1).astype(np.int64)
            cols[f.name] = pd.Categorical.from_codes(codes, categories=list(f.levels))
        elif f.type is FeatureType.bool:
            cols[f.name] = pd.arrays.BooleanArray(raw > 0.5, np.isnan(raw))
        elif f.type is FeatureType.int:
            whole = np.nan_to_num(_clip_to_schema(np.floor(raw), f.min, f.max)).astype(np.int64)
            cols[f.name] = pd.arrays.IntegerArray(whole, np.isnan(raw))
        else:
            cols[f.name] = _clip_to_schema(raw, f.min, f.max)

    cats = {p.name: list(p.categories) for p in schema.protected}
    cols["residence"] = pd.Categorical.from_codes(people.rural.astype(np.int64), categories=cats["residence"])
    cols["gender"] = pd.Categorical.from_codes((~people.female).astype(np.int64), categories=cats["gender"])
    cols["age_band"] = pd.Categorical.from_codes(people.age_band.astype(np.int64), categories=cats["age_band"])
    pd_true = true_default_probability(people, params)
    cols[schema.oracle_column or "true_pd"] = pd_true
    cols[schema.target] = (label_rng.random(n) < pd_true).astype(np.int8)
    if keep_latents:
        for name in LATENTS:
            cols[f"latent_{name}"] = getattr(people, name)
        cols["latent_online"] = people.online
        cols["latent_has_bureau"] = people.has_bureau
    return cols


def generate_chunk(
    schema: Schema,
    params: GeneratorParams,
    seed: np.random.SeedSequence,
    start_id: int,
    n: int,
    keep_latents: bool = False,
) -> pd.DataFrame:
    """One chunk of the population as a DataFrame, columns in schema order."""
    return pd.DataFrame(chunk_columns(schema, params, seed, start_id, n, keep_latents))


def arrow_schema(schema: Schema, params: GeneratorParams) -> pa.Schema:
    """Arrow schema of generated chunks, with the pandas metadata that restores their dtypes on read."""
    return pa.Schema.from_pandas(generate_chunk(schema, params, np.random.SeedSequence(0), 0, 8), preserve_index=False)


def chunk_table(cols: dict[str, object], like: pa.Schema) -> pa.Table:
    """Columns straight to an Arrow table (no DataFrame in between): what the Parquet writer takes."""
    arrays = [pa.array(cols[f.name], type=f.type, from_pandas=True) for f in like]
    return pa.Table.from_arrays(arrays, schema=like)


def chunk_plan(rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """(start, size) of each chunk; fixed by rows and chunk size, so output is seed-deterministic."""
    return [(s, min(chunk_rows, rows - s)) for s in range(0, rows, chunk_rows)]


def iter_population(
    schema: Schema, params: GeneratorParams, rows: int, seed: int, keep_latents: bool = False
) -> Iterator[pd.DataFrame]:
    """Yield the population chunk by chunk (bounded memory for any size)."""
    plan = chunk_plan(rows, params.chunk_rows)
    seeds = np.random.SeedSequence(seed).spawn(len(plan))
    for (start, n), s in zip(plan, seeds, strict=True):
        yield generate_chunk(schema, params, s, start, n, keep_latents)


def generate_frame(
    schema: Schema,
    params: GeneratorParams | None = None,
    rows: int = 10_000,
    seed: int = 0,
    keep_latents: bool = False,
) -> pd.DataFrame:
    """A whole (small) population in memory; tests and examples use this."""
    params = params or GeneratorParams()
    return pd.concat(list(iter_population(schema, params, rows, seed, keep_latents)), ignore_index=True)

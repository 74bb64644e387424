"""Realised marginals of a generated population, checked against the seed's targets, as DATACARD.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from thinfile.features.schema import Schema
from thinfile.features.settings import GeneratorParams

ORACLE_AUC_ROWS = 500_000
SEED_SOURCE = "AliResearch, Inclusive Growth and E-commerce: China's Experience (2017)"


@dataclass(frozen=True)
class Target:
    """One marginal the generator aims at: where the figure comes from and how close it must land."""

    key: str
    label: str
    target: float
    tolerance: float
    source: str


def targets(params: GeneratorParams) -> list[Target]:
    return [
        Target(
            "rural_share",
            "rural share",
            params.rural_share,
            0.01,
            "590M rural of 1,383M residents (China's statistics bureau, 2016)",
        ),
        Target(
            "thin_file_share",
            "thin-file share (no bureau record)",
            0.79,
            0.02,
            f"0.3 of 1.4 billion people have a credit record ({SEED_SOURCE})",
        ),
        Target(
            "online_rural",
            "rural people with mobile-payment data",
            params.rural_online_rate,
            0.03,
            f"201M rural internet users of 590M rural people ({SEED_SOURCE}; NBS)",
        ),
        Target(
            "online_urban",
            "urban people with mobile-payment data",
            params.urban_online_rate,
            0.03,
            f"731M internet users less 201M rural, of 793M urban people ({SEED_SOURCE}; NBS)",
        ),
        Target(
            "default_rate",
            "default rate (default_12m)",
            params.target_default_rate,
            0.006,
            "realistic 5-12% serious delinquency for thin-file microloans (issue 2)",
        ),
        Target(
            "oracle_auc",
            "oracle AUC of true_pd",
            0.83,
            0.03,
            "best models on real lending data: Home Credit ~0.81, Give Me Some Credit ~0.87 (Kaggle leaderboards)",
        ),
        Target("female_share", "female share", params.female_share, 0.01, "about half the population"),
        Target(
            "mean_true_pd",
            "mean true_pd (calibration of the oracle)",
            params.target_default_rate,
            0.006,
            "true_pd is the probability each label was drawn with",
        ),
    ]


def _missing(column: object) -> np.ndarray:
    return np.asarray(pd.isna(column))


@dataclass
class Marginals:
    """Accumulates counts over chunks so a 10M-row population never sits in memory."""

    schema: Schema
    rows: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    groups: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _auc_y: list[np.ndarray] = field(default_factory=list)
    _auc_p: list[np.ndarray] = field(default_factory=list)

    def _add(self, key: str, value: float) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def update(self, chunk: pd.DataFrame | Mapping[str, Any]) -> None:
        """Count one chunk, given as a DataFrame or as the generator's column arrays."""
        s = self.schema
        y = np.asarray(chunk[s.target])
        n = len(y)
        self.rows += n
        rural = np.asarray(chunk["residence"] == "rural")
        online = ~_missing(chunk["mobile_payment_volume_rmb"])
        thin = np.logical_and.reduce([_missing(chunk[c]) for c in s.traditional_features])
        self._add("rural", rural.sum())
        self._add("female", np.asarray(chunk["gender"] == "female").sum())
        self._add("thin", thin.sum())
        self._add("online_rural", (online & rural).sum())
        self._add("online_urban", (online & ~rural).sum())
        self._add("default", y.sum())
        oracle = str(s.oracle_column)
        self._add("true_pd", np.asarray(chunk[oracle]).sum())
        parcels = pd.array(chunk["parcels_received_12m"]).to_numpy(dtype=np.float64, na_value=np.nan)
        self._add("parcels_online", np.nansum(parcels[online]))
        self._add("online", online.sum())
        for name in s.feature_names:
            self.missing[name] = self.missing.get(name, 0) + int(_missing(chunk[name]).sum())
        for attr in s.protected_names + ["thin_file"]:
            if attr == "thin_file":
                labels, codes = np.array(["with bureau record", "thin-file"]), thin.astype(np.int64)
            else:
                cat = pd.Categorical(chunk[attr])
                labels, codes = np.asarray(cat.categories, dtype=str), cat.codes.astype(np.int64)
            counts = np.bincount(codes, minlength=len(labels))
            bads = np.bincount(codes, weights=y, minlength=len(labels))
            for g, cnt, bad in zip(labels, counts, bads):
                acc = self.groups.setdefault((attr, str(g)), [0, 0])
                acc[0] += int(cnt)
                acc[1] += int(bad)
        taken = sum(len(a) for a in self._auc_y)
        if taken < ORACLE_AUC_ROWS:
            self._auc_y.append(y[: ORACLE_AUC_ROWS - taken])
            self._auc_p.append(np.asarray(chunk[oracle])[: ORACLE_AUC_ROWS - taken])

    def merge(self, other: Marginals) -> Marginals:
        """Add another chunk's counts (chunks merged in order keep the oracle-AUC sample deterministic)."""
        self.rows += other.rows
        for k, v in other.sums.items():
            self._add(k, v)
        for name, v in other.missing.items():
            self.missing[name] = self.missing.get(name, 0) + v
        for key, (c, b) in other.groups.items():
            acc = self.groups.setdefault(key, [0, 0])
            acc[0] += c
            acc[1] += b
        room = ORACLE_AUC_ROWS - sum(len(a) for a in self._auc_y)
        for y, p in zip(other._auc_y, other._auc_p):
            if room > 0:
                self._auc_y.append(y[:room])
                self._auc_p.append(p[:room])
                room -= len(y[:room])
        return self

    def realised(self) -> dict[str, float]:
        n = max(self.rows, 1)
        rural = self.sums.get("rural", 0.0)
        return {
            "rural_share": rural / n,
            "thin_file_share": self.sums.get("thin", 0.0) / n,
            "online_rural": self.sums.get("online_rural", 0.0) / max(rural, 1),
            "online_urban": self.sums.get("online_urban", 0.0) / max(n - rural, 1),
            "default_rate": self.sums.get("default", 0.0) / n,
            "oracle_auc": float(roc_auc_score(np.concatenate(self._auc_y), np.concatenate(self._auc_p))),
            "female_share": self.sums.get("female", 0.0) / n,
            "mean_true_pd": self.sums.get("true_pd", 0.0) / n,
            "parcels_per_online_person": self.sums.get("parcels_online", 0.0) / max(self.sums.get("online", 0.0), 1),
        }

    def default_rates(self) -> pd.DataFrame:
        rows = [(a, g, c, b / max(c, 1)) for (a, g), (c, b) in sorted(self.groups.items())]
        return pd.DataFrame(rows, columns=["attribute", "group", "rows", "default_rate"])


def check_targets(params: GeneratorParams, realised: dict[str, float]) -> list[tuple[Target, float, bool]]:
    """Each target with its realised value and whether it landed within tolerance."""
    return [(t, realised[t.key], abs(realised[t.key] - t.target) <= t.tolerance) for t in targets(params)]


def render_datacard(params: GeneratorParams, seed: int, rows: int, marginals: Marginals, out: str) -> str:
    realised = marginals.realised()
    lines = [
        "# Data card: thinfile synthetic thin-file population",
        "",
        f"- rows: {rows:,}  \n- seed: {seed}  \n- location: `{out}`  \n- schema: `{marginals.schema.name}` "
        f"v{marginals.schema.version} (fingerprint `{marginals.schema.fingerprint}`)",
        "",
        "Synthetic people, not real ones. Each row has a known true default probability `true_pd` (an oracle "
        "column, never a model input) and a label `default_12m` drawn from it. Residence, gender and age band are "
        "protected attributes kept for fairness audits only.",
        "",
        "## How the world works",
        "",
        "Three hidden drivers per person (capacity, conduct, network) set `true_pd`; nothing else does. Rural people "
        "are less often online and leave a thinner digital footprint (fewer orders, parcels, on-time payment records; "
        "more missing fields), which changes what is *observed*, not how a person with given drivers repays. Only "
        f"`rural_capacity_gap` ({params.rural_capacity_gap}) makes rural people truly riskier, through capacity; "
        "set it "
        "to 0 for equally creditworthy groups. A naive model that reads a thin footprint as risk is unfair to rural "
        "people; a careful one need not be.",
        "",
        "## Targets and where they come from",
        "",
        "| quantity | target | realised | tolerance | within | source |",
        "|---|---|---|---|---|---|",
    ]
    for t, value, ok in check_targets(params, realised):
        lines.append(
            f"| {t.label} | {t.target:.3f} | {value:.3f} | ±{t.tolerance} | {'yes' if ok else 'NO'} | {t.source} |"
        )
    lines += [
        "",
        f"Mean parcels a year per person with mobile-payment data: {realised['parcels_per_online_person']:.1f} "
        f"(seed: about 45 a year per internet user; rural users are less active). Oracle AUC is computed on the first "
        f"{min(rows, ORACLE_AUC_ROWS):,} rows.",
        "",
        "## Default rate by group",
        "",
        "| attribute | group | rows | default rate |",
        "|---|---|---|---|",
    ]
    for r in marginals.default_rates().itertuples(index=False):
        lines.append(f"| {r.attribute} | {r.group} | {r.rows:,} | {r.default_rate:.4f} |")
    lines += ["", "## Missing values by feature", "", "| feature | dimension | missing share |", "|---|---|---|"]
    for f in marginals.schema.features:
        lines.append(f"| {f.name} | {f.dimension.value} | {marginals.missing.get(f.name, 0) / max(rows, 1):.3f} |")
    lines += ["", "## Generator parameters", "", "| parameter | value | meaning |", "|---|---|---|"]
    for name, info in GeneratorParams.model_fields.items():
        lines.append(f"| {name} | {getattr(params, name)} | {info.description or ''} |")
    return "\n".join(lines) + "\n"

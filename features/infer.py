"""A first schema from a lender's own table, and a check of a table against a schema, in words.

`infer_schema` reads the columns (types, ranges widened by a margin, categories, integer-coded categories,
missing values), guesses id, target, dimension and `traditional` from the names, and writes a commented
YAML file with every decision only the lender can make marked TODO. `check_table` says what in a table
does not match a schema: table errors, rows the schema rejects (by column and reason), category values the
schema does not declare (model inputs and protected attributes), and the target's values.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from thinfile.features.copies import copied_columns, copies_of_outcome
from thinfile.features.io import READ_AS_MISSING, SetAside, cells_as_written
from thinfile.features.proxies import outcome_proxies
from thinfile.features.schema import (
    MAX_EXACT_INT,
    MISSING_GROUP,
    NAME_PATTERN,
    Dimension,
    FeatureType,
    Schema,
    Wording,
    field_name_problem,
    number_text,
    parse_schema,
    protected_values,
    read_dates,
)
from thinfile.features.settings import InferSettings, LeakChecks, ValidationSettings
from thinfile.features.validate import (
    MISSING_REQUIRED,
    ValidationReport,
    date_problem,
    other_delimiter,
    outcome,
    require_frame,
    sorted_errors,
    validate_table,
)
from thinfile.features.words import clipped, counted, percent, spelling_key

TODO = "TODO"
CHINESE_WORDING = Wording(
    missing="无记录：{name}",
    stops_costing="{name}：{bound}即不再扣分",
    wins_back="{name}：{bound}可挽回{points}分",
    at_least="至少{value}{unit}",
    at_most="不超过{value}{unit}",
    at_most_zero="降为0{unit}",
)
"""The fixed words of reasons and hints for a table whose columns are named in Chinese."""
_HAN = re.compile(r"[\u4e00-\u9fff]")


class InferError(ValueError):
    """The table cannot be described without the user's help; the message says what to give."""


# Words in column names, matched against the name's words (a word starting with the stem; stems of three
# letters or fewer must match a whole word). Chinese names have no word breaks: a Chinese stem matches anywhere
# in the name. First matching dimension wins; the order is deliberate.
DIMENSION_WORDS: dict[Dimension, tuple[str, ...]] = {
    Dimension.connections: (
        "guarantor",
        "debtors",
        "coapplicant",
        "co_applicant",
        "contact",
        "referral",
        "social",
        *("担保", "联系人", "通讯录", "社交", "推荐", "亲友"),
    ),
    Dimension.credit_history: (
        "credit_history",
        "bureau",
        "delinq",
        "overdue",
        "past_due",
        "arrear",
        "inquir",
        "enquir",
        "late",
        "default",
        "credits",
        "loan",
        "repay",
        "pay",
        "paid",
        "bnpl",
        "microloan",
        *("信用", "征信", "逾期", "违约", "还款", "借款", "贷款", "查询", "花呗", "借呗", "白条", "分期"),
    ),
    Dimension.capacity: (
        "income",
        "salary",
        "wage",
        "earning",
        "saving",
        "balance",
        "bal",
        "deposit",
        "asset",
        "property",
        "wealth",
        "amount",
        "amt",
        "limit",
        "bill",
        "installment",
        "instalment",
        "debt",
        "expense",
        "housing",
        "job",
        "employ",
        "occupation",
        "checking",
        "account",
        *("收入", "工资", "薪", "存款", "储蓄", "余额", "资产", "财产", "房产", "车产", "额度", "负债"),
        *("支出", "住房", "职业", "工作", "在职", "公积金", "社保", "账户"),
    ),
    Dimension.behaviour: (
        "purpose",
        "spend",
        "purchase",
        "shop",
        "transaction",
        "utility",
        "rent",
        "transfer",
        *("用途", "消费", "购物", "网购", "交易", "水电", "缴费", "租金", "转账", "支付", "快递", "充值"),
    ),
    Dimension.identity: (
        "age",
        "education",
        "marriage",
        "marital",
        "residence",
        "address",
        "phone",
        "telephone",
        "email",
        "tenure",
        "foreign",
        "kyc",
        "verified",
        "dependent",
        "liable",
        "household",
        "sex",
        "gender",
        *("年龄", "学历", "教育", "婚姻", "居住", "地址", "户籍", "籍贯", "手机", "电话", "邮箱", "实名", "认证"),
        *("外籍", "国籍", "抚养", "家庭", "性别"),
    ),
}
TRADITIONAL_WORDS = (
    "bureau",
    "credit_history",
    "delinq",
    "overdue",
    "past_due",
    "arrear",
    "inquir",
    "enquir",
    "pay_status",
    "repayment_status",
    *("征信", "信用历史", "逾期", "违约记录", "还款记录", "查询次数"),
)
# A protected characteristic in most lending law (ECOA / Reg B, the EU and UK equality acts).
PROTECTED_WORDS = (
    "sex",
    "gender",
    "age",
    "race",
    "ethnic",
    "religion",
    "marital",
    "marriage",
    "nationality",
    "foreign",
    "citizen",
    "disab",
    "pregnan",
    "residence_area",
    "rural",
    *("性别", "年龄", "民族", "种族", "宗教", "婚姻", "国籍", "外籍", "户籍", "籍贯", "残疾", "怀孕", "农村", "城乡"),
)
COUNT_WORDS = (
    "number",
    "num",
    "count",
    "cnt",
    "n",
    "months",
    "month",
    "days",
    "day",
    "years",
    "year",
    "age",
    "amount",
    "amt",
    "duration",
    "rate",
    "percent",
    "percentage",
    "pct",
    "times",
    "since",
    "dependents",
    "liable",
    "people",
    "size",
    "score",
    *("数", "次", "率", "比", "额", "龄", "年限", "期限", "天", "月", "年", "分数", "评分", "时长"),
)
ID_WORDS = (
    "id",
    "ids",
    "key",
    "ref",
    "reference",
    "uuid",
    "guid",
    "no",
    "编号",
    "序号",
    "客户号",
    "用户号",
    "申请号",
    "合同号",
    "借据号",
)
TARGET_WORDS = (
    "default",
    "defaulted",
    "bad",
    "is_bad",
    "bad_flag",
    "went_bad",
    "target",
    "label",
    "y",
    "outcome",
    "creditability",
    "delinquent",
    "charged_off",
    "class",
    "default_payment_next_month",
    *("违约", "坏账", "坏客户", "是否逾期", "标签"),
)
DATE_WORDS = (
    "date",
    "dt",
    "time",
    "timestamp",
    "at",
    "on",
    "applied",
    "opened",
    "month",
    "日期",
    "时间",
    "申请日",
    "月份",
)


def words(name: str) -> list[str]:
    """The words of a column name: split on anything not a letter, on camelCase, lower case, digits dropped."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in (re.sub(r"\d+", "", p).lower() for p in re.split(r"[^A-Za-z0-9]+", spaced)) if w]


def _matches(name: str, stems: Sequence[str]) -> str | None:
    """The first stem the name says: a phrase (stem with '_') in the joined words, else a word starting with it;
    a Chinese stem anywhere in the name."""
    ws = words(name)
    joined = "_".join(ws)
    for stem in stems:
        if not stem.isascii():
            if stem in name:
                return stem
        elif "_" in stem:
            if stem in joined or stem.replace("_", "") in ws:
                return stem
        elif any(w == stem or (len(stem) > 3 and w.startswith(stem)) for w in ws):
            return stem
    return None


def guess_dimension(name: str) -> Dimension | None:
    """The Zhima dimension the column's name suggests, or None."""
    for dimension, stems in DIMENSION_WORDS.items():
        if _matches(name, stems):
            return dimension
    return None


def is_traditional(name: str) -> bool:
    """True when the name says the value comes from a credit bureau record or repayment history."""
    return _matches(name, TRADITIONAL_WORDS) is not None


def protected_hint(name: str) -> str | None:
    """The protected characteristic the column's name suggests (sex, age, ...), or None."""
    return _matches(name, PROTECTED_WORDS)


def label_of(name: str) -> str:
    text = " ".join(re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").split())
    if text.isupper():
        text = text.lower()
    return text[:1].upper() + text[1:]


def nice_ceil(x: float) -> float:
    """x rounded up to two significant digits (108 -> 110, 0.372 -> 0.38, -15.3 -> -15)."""
    if x == 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(abs(x))) - 1)
    return math.ceil(round(x / step, 9)) * step


def nice_floor(x: float) -> float:
    return -nice_ceil(-x)


def _within_floats(rounding: Callable[[float], float], x: float) -> float:
    """x rounded outward, but never past the largest float (a 1.8e308 placeholder must not give an infinite bound)."""
    rounded = rounding(x) if math.isfinite(x) else x
    return rounded if math.isfinite(rounded) else math.copysign(sys.float_info.max, rounded)


def _tidy(x: float, whole: bool) -> float | int:
    return int(round(x)) if whole else float(f"{x:.12g}")


# ---------------------------------------------------------------- what one column is


@dataclass(frozen=True)
class Column:
    """One column as infer read it: its role in the schema, the schema entry, and notes for the YAML."""

    name: str
    role: str  # feature | id | target | date | borrower | protected | left_out
    entry: dict[str, object] = field(default_factory=dict)
    seen: str = ""
    notes: tuple[str, ...] = ()


def _at_most_two(values: pd.Series, distinct: int, raw: pd.Series) -> bool:
    """Whether the numbers hold two values or fewer: `distinct` counts them when the column is stored as numbers
    (its texts otherwise: '1' and ' 1' are two texts, one number)."""
    return (distinct if pd.api.types.is_numeric_dtype(raw) else values.nunique()) <= 2


def _is_whole(values: pd.Series) -> bool:
    v = values.to_numpy(dtype=np.float64)
    return bool(np.all(np.floor(v) == v) and np.isfinite(v).all())  # as np.mod(v, 1) == 0: inf is not whole


def _numbers(raw: pd.Series, share: float = 1.0) -> pd.Series | None:
    """The column as float numbers (NaN where missing or not a number) when at least `share` of its present values
    read as numbers (by default every one), else None."""
    if pd.api.types.is_bool_dtype(raw):
        return None
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(np.float64)
    present = raw.dropna()
    if present.empty:
        return None
    codes, texts = _texts(present)
    parsed = pd.to_numeric(pd.Series(texts, dtype=object).str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    num = parsed[codes]
    if np.count_nonzero(~np.isnan(num)) / len(num) < share:
        return None
    out = pd.Series(np.nan, index=raw.index, dtype=np.float64)
    out[present.index] = num
    return out


def _texts(present: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`present.astype(str)` (no missing values) as codes into texts: `texts[codes]` is it row by row, and `texts`
    holds its distinct texts only (some maybe twice). The distinct values are written, not every row; but rows of
    a value that may stand for others written differently (1, 1.0 and True in an object column; 0.0 and -0.0; an
    object that is not text) are written one by one."""
    try:
        codes, uniques = pd.factorize(present)
    except TypeError:  # unhashable values (lists, dicts): every row on its own
        codes, uniques = np.full(len(present), -1, dtype=np.intp), present.iloc[:0]
    texts = pd.Series(uniques, dtype=uniques.dtype).astype(str).to_numpy(dtype=object)
    dtype = present.dtype
    if isinstance(dtype, pd.CategoricalDtype) or dtype.kind in "iubmM" or isinstance(dtype, pd.StringDtype):
        exact = np.ones(len(uniques), dtype=bool)  # equal values are written alike
    elif dtype.kind == "f":
        exact = np.asarray(uniques != 0)  # 0.0 stands for -0.0 too
    elif pd.api.types.is_object_dtype(dtype):
        exact = np.fromiter((type(u) is str for u in uniques), dtype=bool, count=len(uniques))
    else:
        exact = np.zeros(len(uniques), dtype=bool)
    loose = codes < 0
    loose[~loose] = ~exact[codes[~loose]]
    if loose.any():
        each, written = pd.factorize(present[loose].astype(str).to_numpy(dtype=object))
        codes = codes.copy()
        codes[loose] = len(texts) + each
        texts = np.concatenate([texts, np.asarray(written, dtype=object)])
    return codes, texts


def _code_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def levels_of(raw: pd.Series) -> tuple[list[str], pd.Series]:
    """Category labels in natural order (numbers by value, text alphabetically) and each label's count."""
    counts, numbers = _label_counts(raw)
    order = sorted(counts.index, key=float) if numbers else sorted(counts.index)
    return order, counts.reindex(order)


def label_counts(raw: pd.Series) -> pd.Series:
    """How many present values of `raw` read as each category label (whole numbers as '1', text as written), by
    label: the distinct values are labelled, not every row (a million rows of three groups: milliseconds)."""
    return _label_counts(raw)[0]


def _label_counts(raw: pd.Series) -> tuple[pd.Series, bool]:
    """`label_counts(raw)`, and whether every present value is a number (read from its text, as `_numbers` reads
    it: a bool column's values are text)."""
    present = raw.dropna()
    if present.empty:
        return pd.Series(dtype=np.int64), False
    codes, texts = _texts(present)
    num = _numbers(pd.Series(texts, dtype=object))
    labels = num.map(_code_label).to_numpy(dtype=object) if num is not None else texts
    rows = pd.Series(np.bincount(codes, minlength=len(texts)), index=labels)
    return rows[rows > 0].groupby(level=0, sort=True).sum(), num is not None


def spelling_variants(labels: Sequence[str]) -> list[list[str]]:
    """Groups of labels that differ only in case or spaces: to thinfile, different values; to a reader, one."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(spelling_key(label), []).append(label)
    return [g for g in groups.values() if len(g) > 1]


def respelt_borrowers(column: pd.Series, shown: int = 3) -> str | None:
    """What to do about text ids in a borrower column that differ only in case or spaces (as `spelling_key` reads
    them, found on whole columns at once: a borrower column may name a million borrowers), the first `shown` groups
    named; None when there are none. Ids written as numbers have none."""
    if column.dtype.kind in "biuf":
        return None
    ids = pd.Series(pd.unique(column.dropna().astype(str)), dtype=object)
    keys = ids.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()
    clash = keys.duplicated(keep=False)
    if not clash.any():
        return None
    groups = ids[clash].groupby(keys[clash], sort=False).agg(list)
    listed = "; ".join(", ".join(repr(v) for v in g) for g in groups.iloc[:shown])
    more = f"; and {len(groups) - shown:,} more" if len(groups) > shown else ""
    return (
        f"borrower ids that differ only in case or spaces: {listed}{more}: training takes them for different "
        "borrowers, so one borrower's loans may land in both its training and test parts; write each borrower's id "
        "one way"
    )


def _variants_note(labels: Sequence[str], what: str, shown: int) -> str | None:
    """A TODO naming the labels that differ only in case or spaces, or None."""
    groups = spelling_variants(labels)
    if not groups:
        return None
    listed = "; ".join(", ".join(repr(v) for v in g) for g in groups[:shown])
    more = f"; and {len(groups) - shown} more" if len(groups) > shown else ""
    return (
        f"{TODO}: values that differ only in case or spaces: {listed}{more}: thinfile reads them as different "
        f"{what}; write each one way in the table (and here) before training"
    )


def _thousands(present: pd.Series) -> str | None:
    """An example of text numbers written with thousands separators ('2,158'), when every distinct value reads as a
    number once its commas are removed and some hold one; else None."""
    distinct = pd.Series(pd.unique(present.astype(str)), dtype=object)
    separated = distinct.str.contains(",", regex=False)
    if not separated.any():
        return None
    digits = distinct.str.strip().str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?|[-+]?\d+(\.\d+)?")
    return str(distinct[separated].iloc[0]) if digits.all() else None


def _shown_counts(counts: pd.Series, shown: int) -> str:
    top = counts.sort_values(ascending=False, kind="stable")
    chars = ValidationSettings().shown_value_chars
    text = ", ".join(f"{clipped(str(k), chars)} ({v:,})" for k, v in top.head(shown).items())
    return text + (f", ... {len(top) - shown} more" if len(top) > shown else "")


def _share(part: int, whole: int) -> str:
    """A share as a percentage that a small, non-zero count never rounds to 0.0%."""
    return percent(part / whole)


def _seen(x: float) -> str:
    """A value seen in the table, written out: 10,000,000,000 rather than 1e+10; 0.000015 rather than 1.5e-05."""
    if float(x).is_integer() and abs(x) < 2**53:
        return f"{int(x):,}"
    sign, text = ("-", number_text(-x, False)) if x < 0 else ("", number_text(x, False))
    whole, dot, fraction = text.partition(".")
    return sign + (f"{int(whole):,}" if whole.isdigit() else whole) + dot + fraction  # 23,371.5 beside 23,368


def _missing(raw: pd.Series) -> str:
    n = int(raw.isna().sum())
    return "never missing" if n == 0 else f"missing in {counted(n, 'row')} ({_share(n, len(raw))})"


def _unusable(num: pd.Series, settings: InferSettings) -> pd.Series:
    """Cells no range should be read from: infinite, or as large as the stand-ins for 'no value' (the float
    maximum often is one)."""
    return num.abs() >= settings.placeholder_magnitude


def _unusable_note(values: pd.Series) -> str:
    infinite = int(np.isinf(values.to_numpy()).sum())
    huge = len(values) - infinite
    parts = [f"infinite values in {counted(infinite, 'row')}"] if infinite else []
    if huge:
        largest = float(values[np.isfinite(values.to_numpy())].abs().max())
        parts.append(
            f"values as large as ±{largest:.3g} in {counted(huge, 'row')} "
            "(a stand-in for 'no value'? make those cells empty)"
        )
    return "; ".join(parts)


def _feature(name: str, raw: pd.Series, settings: InferSettings) -> Column:
    """A model input: its type, range or categories, nullability, guessed dimension and `traditional`."""
    present = raw.dropna()
    if present.empty:
        return Column(name, "left_out", notes=("every value is missing",))
    distinct = present.nunique()
    if pd.api.types.is_numeric_dtype(present.dtype):  # numbers: equal values are written alike
        if distinct == 1:
            return Column(name, "left_out", notes=(f"one value only ({str(present.iloc[0])!r}): carries nothing",))
    else:
        codes, texts = _texts(present)
        if len(pd.unique(texts)) == 1:
            return Column(name, "left_out", notes=(f"one value only ({texts[codes[0]]!r}): carries nothing",))
    notes: list[str] = []
    entry: dict[str, object] = {"name": name, "label": label_of(name)}
    num = _numbers(raw)
    if num is None and distinct > settings.max_text_levels:
        num = _numbers(raw, settings.min_number_share)
        if num is not None:
            bad = raw[raw.notna().to_numpy() & num.isna().to_numpy()]
            notes.append(
                f"{counted(len(bad), 'cell')} {'is not a number' if len(bad) == 1 else 'are not numbers'} "
                f"({counts_shown(value_counts(bad))}): the check rejects {'it' if len(bad) == 1 else 'them'}; fix "
                f"{'it' if len(bad) == 1 else 'them'} in the table"
            )
            distinct = num.nunique()
    values = num.dropna() if num is not None else None
    coded = raw
    if num is not None:
        unusable = _unusable(num, settings).to_numpy()
        if unusable.any():
            found = _unusable_note(num[unusable])
            values, coded = num[num.notna().to_numpy() & ~unusable], raw.mask(unusable)
            if values.nunique() <= 1:
                shown = f"one other value ({_code_label(values.iloc[0])!r})" if len(values) else "no other value"
                return Column(name, "left_out", notes=(f"{found}, {shown}: carries nothing",))
            distinct = values.nunique()
            notes.append(f"{found}: the check rejects them")
    whole = values is not None and _is_whole(values)
    if values is not None and whole and float(values.abs().max()) > MAX_EXACT_INT:
        return Column(
            name,
            "left_out",
            notes=(
                f"whole numbers as large as ±{float(values.abs().max()):.3g}, beyond ±2^53: a code or identifier, "
                "not an input",
            ),
        )
    if pd.api.types.is_bool_dtype(raw) or (
        values is not None and _at_most_two(values, distinct, raw) and set(values.unique()) <= {0.0, 1.0}
    ):
        entry["type"] = FeatureType.bool.value
        share = float(values.mean()) if values is not None else float(pd.Series(present.astype(bool)).mean())
        seen = f"true in {percent(share)} of rows, {_missing(raw)}"
    elif values is not None and not (
        whole and distinct <= settings.max_code_levels and _matches(name, COUNT_WORDS) is None
    ):
        lo, hi = float(values.min()), float(values.max())
        entry["type"] = (FeatureType.int if whole else FeatureType.float).value
        median = float(values.median())
        seen = f"seen {_seen(lo)} to {_seen(hi)} (median {_seen(median)}), {_missing(raw)}"
        if not whole and lo >= 0 and hi <= 1:
            low, high = 0.0, 1.0
            notes.append("looks like a share: valid range 0 to 1")
        else:
            margin = settings.range_margin * (hi - lo)
            low = 0.0 if lo >= 0 else _within_floats(nice_floor, lo - margin)
            high = 0.0 if hi <= 0 else _within_floats(nice_ceil, hi + margin)
            if whole:
                low, high = max(math.floor(low), -MAX_EXACT_INT), min(math.ceil(high), MAX_EXACT_INT)
        entry["min"], entry["max"] = _tidy(low, whole), _tidy(high, whole)
    else:
        order, counts = levels_of(coded)
        longest = max(order, key=len)
        if num is None and len(longest) > settings.max_level_chars:
            chars = ValidationSettings().shown_value_chars
            return Column(
                name,
                "left_out",
                notes=(
                    f"text as long as {len(longest):,} characters ({clipped(repr(longest), chars)}), more than the "
                    f"{settings.max_level_chars:,} of a category's value (infer.max_level_chars): free text, not a "
                    "category",
                ),
            )
        if num is None and distinct > settings.max_text_levels:
            example = _thousands(present)
            if example is not None:
                return Column(
                    name,
                    "left_out",
                    notes=(
                        f"{TODO}: numbers written as text with thousands separators ({example!r}): thinfile reads "
                        "numbers without them; remove the separators in the table (or store the column as numbers) "
                        "and infer again",
                    ),
                )
            return Column(
                name,
                "left_out",
                notes=(f"{distinct:,} distinct text values: free text or an identifier, not a category",),
            )
        entry["type"] = FeatureType.category.value
        entry["categories"] = order
        seen = f"{len(order)} values: {_shown_counts(counts, settings.shown_levels)}; {_missing(raw)}"
        if num is not None:
            notes.append(
                f"integer-coded: read as a category of {len(order)} codes; if the numbers count or order "
                "something, make it `type: int` with min and max"
            )
        variants = _variants_note(order, "categories", settings.shown_levels)
        if variants:
            notes.append(variants)
        rare = counts[counts < settings.rare_level_rows]
        if len(rare) and len(rare) < len(counts):
            chars = ValidationSettings().shown_value_chars
            shown = ", ".join(
                f"{clipped(repr(k), chars)} ({counted(int(v), 'row')})"
                for k, v in rare.head(settings.shown_levels).items()
            )
            notes.append(
                f"{TODO}: rare values {shown}{', ...' if len(rare) > settings.shown_levels else ''}: check they are "
                "real codes and not typos (once declared, they are accepted when scoring)"
            )
    entry["nullable"] = bool(raw.isna().any())
    dimension = guess_dimension(name)
    entry["dimension"] = (dimension or Dimension.other).value
    if dimension is None:
        notes.append(f"{TODO}: no dimension guessed from the name ('other' until you choose one)")
    entry["monotone"] = 0
    entry["reason"] = f"{TODO}: {entry['label']}"
    entry["actionable"] = False
    entry["traditional"] = is_traditional(name)
    hint = protected_hint(name)
    if hint:
        notes.append(
            f"{TODO}: the name suggests a protected attribute ({hint}); protected attributes are never model "
            "inputs: delete this feature, or declare the column with --protected"
        )
    return Column(name, "feature", entry, seen, tuple(notes))


def _protected(name: str, raw: pd.Series, settings: InferSettings) -> Column:
    if problem := field_name_problem(name):
        raise InferError(f"protected attribute {problem}: rename the column in the table first")
    order, counts = levels_of(raw)
    limit = settings.max_code_levels if _numbers(raw.dropna()) is not None else settings.max_text_levels
    if len(order) > limit:
        raise InferError(
            f"protected attribute {name!r} has {len(order):,} distinct values; an audit compares groups: add a "
            f"column of groups (for example age bands) and name that with --protected"
        )
    if len(order) < 2:
        raise InferError(f"protected attribute {name!r} has {len(order)} distinct value(s); an audit needs two groups")
    seen = f"groups: {_shown_counts(counts, settings.shown_levels)}; {_missing(raw)}"
    variants = _variants_note(order, "groups, and the fairness audit compares them", settings.shown_levels)
    notes = ("from --protected", *([variants] if variants else []))
    return Column(name, "protected", {"name": name, "categories": order}, seen, notes)


# ---------------------------------------------------------------- id, target, date


def _id_faults(raw: pd.Series) -> str:
    """Why a column cannot be the id, in words ("" when every row has its own value)."""
    if pd.api.types.is_integer_dtype(raw) or (isinstance(raw.dtype, np.dtype) and raw.dtype.kind == "f"):
        # a number's text is never blank, and two numbers are written alike when they are equal: integers, or
        # floats of the same bits (0.0 and -0.0 are equal, but written differently)
        empty = raw.isna().to_numpy()
        present = raw[~empty]
        if present.dtype.kind == "f":
            present = pd.Series(present.to_numpy().view(f"i{present.dtype.itemsize}"))
        repeated = int(present.duplicated(keep=False).sum())
    else:
        empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()  # as the check reads an id
        repeated = int(raw[~empty].astype(str).duplicated(keep=False).sum())
    blank = int(empty.sum())
    faults = [
        f"{counted(blank, 'row')} {'has' if blank == 1 else 'have'} no value" if blank else "",
        f"{counted(repeated, 'row')} share a value with another" if repeated else "",
    ]
    return " and ".join(f for f in faults if f)


def _guess_id(frame: pd.DataFrame, taken: set[str]) -> str:
    named = [c for c in frame.columns if c not in taken and _matches(str(c), ID_WORDS)]
    faults = {c: _id_faults(frame[c]) for c in named}
    found = [c for c in named if not faults[c]]
    if not found:
        near = "; ".join(f"{c!s} is named like one, but {faults[c]}" for c in named[:3])
        raise InferError(
            "no column looks like an applicant id (named like id, ..._id or ref, with a different value in every "
            f"row){': ' + near if near else ''}: name it with --id, or add one (the row number will do)"
        )
    return str(found[0])


def _guess_target(frame: pd.DataFrame, taken: set[str]) -> str:
    named = [c for c in frame.columns if c not in taken and _matches(str(c), TARGET_WORDS)]
    found = [c for c in named if len(set(_texts(frame[c].dropna())[1])) == 2]
    if len(found) == 1:
        return str(found[0])
    if found:
        which = f"several columns could be it ({', '.join(map(str, found))})"
    else:
        near = "; ".join(f"{c!s} is named like one, but holds {_held(frame[c])}" for c in named[:3])
        which = "no column looks like it (named like default, bad or target, with two values)" + (
            f": {near}" if near else ""
        )
    raise InferError(
        f"cannot tell which column is the outcome: {which}; name it with --target (1 = defaulted, 0 = repaid)"
    )


def _held(raw: pd.Series) -> str:
    """The values a column holds with their counts, or that it holds none."""
    present = {k: n for k, n in value_counts(raw).items() if k is not None and k.strip()}
    return counts_shown(present) if present else "no values (every row is empty)"


def _target(name: str, raw: pd.Series, how: str) -> Column:
    values = raw.dropna()
    num = _numbers(values)
    if num is None:
        labels = sorted(set(_texts(values)[1]))
    else:
        labels = sorted({_code_label(v) for v in num.unique()})
    notes = [how]
    if labels == ["0", "1"] or (pd.api.types.is_bool_dtype(raw) and len(labels) == 2):
        ones = int((num if num is not None else values.astype(float)).sum())
        verb = "is" if ones == 1 else "are"
        seen = f"{ones:,} of {counted(len(values), 'row')} {verb} 1 (defaulted): {_share(ones, len(values))}"
    else:
        seen = "values: " + ", ".join(f"{v!r}" for v in labels[:6])
        notes.append(
            f"{TODO}: thinfile reads the outcome as 1 = defaulted, 0 = repaid; recode this column "
            f"{recode_hint(value_counts(values), name)} before training"
        )
    if raw.isna().any():
        missing = int(raw.isna().sum())
        notes.append(
            f"{counted(missing, 'row')} {'has' if missing == 1 else 'have'} no outcome: training leaves "
            f"{'it' if missing == 1 else 'them'} out as loans not yet repaid or defaulted (schema check counts them); "
            "if they are applicants turned down, add a booked column (1 = booked, 0 = rejected) and name it as "
            "booked_column"
        )
    return Column(name, "target", seen=seen, notes=tuple(notes))


def _named_date_text(name: str, raw: pd.Series) -> bool:
    """A text column named like a date: the columns read as dates when their text is ISO 8601."""
    text = raw.dtype == object or pd.api.types.is_string_dtype(raw) or isinstance(raw.dtype, pd.CategoricalDtype)
    return text and _matches(name, DATE_WORDS) is not None


def _is_date(name: str, raw: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(raw):
        return True
    if not _named_date_text(name, raw):
        return False
    present = raw.dropna().astype(str)
    parsed = read_dates(present)
    return bool(len(present)) and bool(parsed.notna().all())


def _dates_otherwise(name: str, raw: pd.Series) -> str | None:
    """For a text column named like a date whose values are mostly ISO 8601 dates but not all: what the others
    are, and what to do (thinfile reads ISO 8601 dates only); None otherwise."""
    if not _named_date_text(name, raw):
        return None
    present = raw.dropna().astype(str)
    unread = present[read_dates(present).isna().to_numpy()]
    if present.empty or unread.empty or len(unread) * 2 > len(present):
        return None
    example = clipped(repr(unread.iloc[0]), ValidationSettings().shown_value_chars)
    return (
        f"{TODO}: dates, but {len(unread):,} of {len(present):,} are not ISO 8601 ({example}): thinfile reads "
        "dates written YYYY-MM-DD (2023-09-13, or 20230913); write them so in the table and infer again, and this "
        "is the date column"
    )


# ---------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Inferred:
    """A schema read from a table, with what infer noticed about each column (rendered as YAML comments)."""

    schema: Schema
    columns: tuple[Column, ...]
    source: str
    rows: int
    settings: InferSettings = field(default_factory=InferSettings)

    @property
    def todo(self) -> list[str]:
        """Notes the user must act on, one per column, for the header and the console."""
        return [f"{c.name}: {n.removeprefix(TODO + ': ')}" for c in self.columns for n in c.notes if n.startswith(TODO)]

    @property
    def todo_grouped(self) -> list[str]:
        """`todo` with a note that several columns share said once, naming them: a wide table's 200 columns with
        no dimension guessed are one line, not 200."""
        by_note: dict[str, list[str]] = {}
        for c in self.columns:
            for n in c.notes:
                if n.startswith(TODO):
                    by_note.setdefault(n.removeprefix(TODO + ": "), []).append(c.name)
        shown = self.settings.grouped_names_shown
        return [
            f"{names[0]}: {note}"
            if len(names) == 1
            else f"{len(names)} columns ({', '.join(names[:shown])}{_more(len(names) - shown)}): {note}"
            for note, names in by_note.items()
        ]

    def to_yaml(self) -> str:
        """The schema as commented YAML, valid as written (load_schema reads it), ready to edit."""
        return render_yaml(self)


def _note(column: Column | None) -> str:
    if column is None:
        return ""
    parts = [*column.notes, column.seen] if column.seen else list(column.notes)
    return "  # " + "; ".join(p.removeprefix(TODO + ": ").rstrip(".") for p in parts if p) if parts else ""


def infer_schema(
    frame: pd.DataFrame,
    *,
    name: str,
    target: str | None = None,
    id_column: str | None = None,
    protected: Sequence[str] = (),
    source: str = "the table",
    settings: InferSettings | None = None,
    borrower: str | None = None,
    min_borrowers: int = 0,
) -> Inferred:
    """A valid schema for `frame`, every guess noted; raises InferError when a role cannot be told apart.
    `min_borrowers`: the fewest borrowers training takes with a borrower column (`TrainConfig.min_borrowers`)."""
    require_frame(frame)
    settings = settings or InferSettings()
    frame = frame.rename(columns=str)
    named = [c for c in (target, id_column, borrower, *protected) if c is not None]
    absent = [c for c in named if c not in frame.columns]
    if (absent or len(frame.columns) == 1) and (hint := other_delimiter(list(frame.columns))):
        raise InferError(f"{source}: {hint}")
    if absent:
        shown = ", ".join(list(frame.columns)[:20]) + (" ..." if len(frame.columns) > 20 else "")
        raise InferError(f"{source} has no column {', '.join(map(repr, absent))}; its columns are: {shown}")
    if len(set(named)) != len(named):
        twice = sorted({c for c in named if named.count(c) > 1})
        raise InferError(
            f"--target, --id, --borrower and --protected must name different columns: {', '.join(map(repr, twice))} "
            "is given twice"
        )
    if frame.empty:
        raise InferError(f"{source} has no rows to read")
    bad = [c for c in frame.columns if not re.fullmatch(NAME_PATTERN, c)]
    if bad:
        raise InferError(
            f"column name(s) {', '.join(map(repr, bad[:8]))} cannot be schema names (letters of any script, digits and "
            "'_', not starting with a digit): rename them in the table first"
        )

    taken = set(named)
    id_how = "from --id"
    if id_column is None:
        id_column = _guess_id(frame, taken)
        id_how = f"{TODO}: guessed (a different value in every row): check it, or name the id with --id"
    elif faults := _id_faults(frame[id_column]):
        id_how = (
            f"{TODO}: from --id, but {faults}: an id must name one row, so schema check fails on this table and "
            "batch scores cannot be told apart until each row has its own id"
        )
    taken.add(id_column)
    target_how = "from --target"
    if target is None:
        target = _guess_target(frame, taken)
        target_how = f"{TODO}: guessed from the name: check it, or name the outcome with --target"
    taken.add(target)

    columns: dict[str, Column] = {
        id_column: Column(id_column, "id", notes=(id_how,)),
        target: _target(target, frame[target], target_how),
    }
    if borrower is not None:
        distinct = int(frame[borrower].nunique())
        few = (
            f"{TODO}: only {counted(distinct, 'borrower')}: training needs at least {min_borrowers} "
            "(train.min_borrowers) to keep each borrower's loans together; is this the borrower column?"
        )
        notes = (f"from --borrower; {borrowers_seen(frame[borrower])}", *([few] if distinct < min_borrowers else []))
        respelt = respelt_borrowers(frame[borrower])
        if respelt:
            notes = (*notes, respelt)
        columns[borrower] = Column(borrower, "borrower", notes=notes)
    for p in protected:
        columns[p] = _protected(p, frame[p], settings)
    date_column = None
    for c in frame.columns:
        if c in columns:
            continue
        if _is_date(c, frame[c]):
            if date_column is None:
                date_column = c
                columns[c] = Column(
                    c, "date", notes=("guessed: dates; training splits out of time (oldest train, newest test)",)
                )
            else:
                columns[c] = Column(c, "left_out", notes=(f"dates, and {date_column!r} is already the date column",))
            continue
        if (otherwise := _dates_otherwise(c, frame[c])) is not None:
            columns[c] = Column(c, "left_out", notes=(otherwise,))
            continue
        if problem := field_name_problem(c):
            hint = protected_hint(c.strip("_"))
            use = f"a protected attribute ({hint}): rename it and name it with --protected" if hint else "an input"
            columns[c] = Column(c, "left_out", notes=(f"{TODO}: {problem}: rename the column to make it {use}",))
            continue
        columns[c] = _feature(c, frame[c], settings)

    _note_copies(frame, columns, target, protected, settings)
    if borrower is None:
        _note_borrower_ids(frame, columns, settings.max_code_levels)
    _note_true_pd(frame, columns)
    features = [c.entry for c in columns.values() if c.role == "feature"]
    if not features:
        raise InferError(f"{source}: no column is left to be a model input")
    data = {
        "name": name,
        "version": 1,
        "description": f"{TODO}: what this table is (inferred from {source}, {counted(len(frame), 'row')})",
        "id_column": id_column,
        "target": target,
        "date_column": date_column,
        "borrower_column": borrower,
        "protected": [columns[p].entry for p in protected],
        "features": features,
    }
    if sum(bool(_HAN.search(str(f["name"]))) for f in features) * 2 > len(features):
        data["wording"] = CHINESE_WORDING.model_dump()
    schema = parse_schema(data, f"inferred from {source}")
    ordered = tuple(columns[c] for c in frame.columns)
    return Inferred(schema, ordered, source, len(frame), settings)


_BORROWER_NAME = re.compile(
    r"(customer|borrower|client|member|user|applicant|cust|person)_?(id|no|num|number|ref|key|code)", re.IGNORECASE
)


def like_borrower_ids(column: pd.Series, most_levels: int) -> bool:
    """Whether a column looks like borrower ids: named so (customer_id, client_no, ...), with more distinct values
    than a category's `most_levels`, some of them repeated (one borrower, several loans)."""
    if not _BORROWER_NAME.fullmatch(str(column.name)):
        return False
    present = column.dropna()
    return present.nunique() > most_levels and bool(present.duplicated().any())


def borrowers_seen(column: pd.Series) -> str:
    """How many borrowers a borrower column names, and how many have several loans (with their rows)."""
    loans = column.value_counts(dropna=True)
    repeat = loans[loans > 1]
    return f"{len(loans):,} borrowers, {len(repeat):,} with several loans ({counted(int(repeat.sum()), 'row')})"


def _note_borrower_ids(frame: pd.DataFrame, columns: dict[str, Column], most_levels: int) -> None:
    """A to-do on a column that looks like borrower ids (`like_borrower_ids`): one borrower, several loans."""
    for name, column in columns.items():
        if column.role in ("feature", "left_out") and like_borrower_ids(frame[name], most_levels):
            note = (
                f"{TODO}: named like a borrower id, and {borrowers_seen(frame[name])}: an id is no model input; if it "
                f"names each loan's borrower, infer again with --borrower {name} (training's split then keeps each "
                "borrower's loans together)"
            )
            kept = tuple(n for n in column.notes if not n.startswith(TODO))  # a feature's to-dos are moot now
            columns[name] = Column(name, "left_out", notes=(*kept, note))


_TRUE_PD = re.compile(r"(true|oracle|actual)_?(pd|default_?prob(ability)?|prob(ability)?_?(of_)?default)", re.I)


def _note_true_pd(frame: pd.DataFrame, columns: dict[str, Column]) -> None:
    """Left out, with a to-do: a column of probabilities named like the true default probability (the synthetic
    world's `true_pd`), which only a simulation knows and which would hand a model the answer."""
    for name, column in columns.items():
        if column.role != "feature" or not _TRUE_PD.fullmatch(name):
            continue
        if not pd.to_numeric(frame[name], errors="coerce").dropna().between(0, 1).all():
            continue
        note = (
            f"{TODO}: named like the true default probability, which only a simulation knows: never a model input "
            f"(it would hand the model the answer); to measure models against it, set oracle_column: {name}"
        )
        kept = tuple(n for n in column.notes if not n.startswith(TODO))
        columns[name] = Column(name, "left_out", notes=(*kept, note))


def _note_copies(
    frame: pd.DataFrame, columns: dict[str, Column], target: str, protected: Sequence[str], settings: InferSettings
) -> None:
    """A to-do on each input that is a copy of the outcome, a protected attribute or an earlier input."""
    names = [target, *protected, *(c for c, col in columns.items() if col.role == "feature")]
    for copy, original in copied_columns(frame, names, settings.copy_check_rows).items():
        column = columns[copy]
        if column.role != "feature":
            continue
        if original == target:
            note = f"the same value as the outcome {original!r} in every row: delete it (the outcome is never an input)"
        elif original in protected:
            note = (
                f"the same value as the protected attribute {original!r} in every row: delete it (protected "
                "attributes are never model inputs)"
            )
        else:
            note = (
                f"the same value as {original!r} in every row: delete one of the two (a copy splits that input's "
                "weight and its reason codes between two names)"
            )
        columns[copy] = replace(column, notes=(*column.notes, f"{TODO}: {note}"))


def _scalar(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


HEADER = """\
# thinfile schema for {source}, written by `thinfile schema infer` from {rows} and {cols}.
#
# Read it and edit it before training: what only you can decide is marked TODO.
#   reason       what a declined applicant reads when this input lowered the score (placeholders say TODO)
#   monotone     +1 higher is more creditworthy, -1 less creditworthy, 0 no constraint (infer leaves 0)
#   dimension    credit_history | capacity | behaviour | identity | connections | other (guessed from the name)
#   traditional  true when a lender without alternative data has it, e.g. the bureau record (guessed from the name)
#   min / max    valid range: the values seen, widened by {margin:.0%} of their span and rounded (0 when none is
#                negative, or none positive); a value outside is rejected when scoring
#   nullable     may the value be missing (true where this table has missing values)
#   categories   the allowed values; integer codes are written as text ("1", "2", ...)
# Protected attributes are kept for the fairness audit only, never model inputs. Full reference: docs/schema.md.
# Check a table against this file:  thinfile schema check TABLE --schema THIS_FILE
"""


def _comment(text: str, first: str, rest: str, width: int = 116) -> list[str]:
    """A YAML comment wrapped to `width` columns (never inside a word)."""
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False)


def render_yaml(inferred: Inferred) -> str:
    settings = inferred.settings
    s = inferred.schema
    by_role: dict[str, list[Column]] = {}
    for c in inferred.columns:
        by_role.setdefault(c.role, []).append(c)
    first = {c.role: c for c in reversed(inferred.columns)}
    out = [
        HEADER.format(
            source=inferred.source,
            rows=counted(inferred.rows, "row"),
            cols=counted(len(inferred.columns), "column"),
            margin=settings.range_margin,
        )
    ]
    if inferred.todo:
        out.append("# To look at first:")
        out += [line for t in inferred.todo_grouped for line in _comment(t, "#   - ", "#     ")]
        out.append("")
    out += [
        f"name: {_scalar(s.name)}",
        f"version: {s.version}",
        f"description: {_scalar(s.description)}",
        f"id_column: {_scalar(s.id_column)}{_note(first.get('id'))}",
        f"target: {_scalar(s.target)}{_note(first.get('target'))}",
    ]
    date_note = (
        _note(first.get("date"))
        if s.date_column
        else "  # no date column found: training splits at random; name one for an out-of-time split"
    )
    out.append(f"date_column: {_scalar(s.date_column)}{date_note}")
    if s.borrower_column:
        out.append(f"borrower_column: {_scalar(s.borrower_column)}{_note(first.get('borrower'))}")
    if s.protected:
        out.append("protected:")
        protected = {c.name: c for c in by_role["protected"]}
        for p in s.protected:
            out.append(f"  - name: {_scalar(p.name)}{_note(protected.get(p.name))}")
            out.append(f"    categories: {_scalar(list(p.categories))}")
            if all(c.lstrip("-").isdigit() for c in p.categories):
                codes = ", ".join(f"{_scalar(c)}: ..." for c in p.categories)
                out.append(f"    # {TODO} integer codes: name the groups for the fairness reports, labels: {{{codes}}}")
    else:
        out.append("protected: []  # none given: name them with --protected (the fairness audit needs at least one)")
    out += ["", "features:"]
    for entry, col in zip((c.entry for c in by_role["feature"]), by_role["feature"]):
        if col.seen:
            out += _comment(col.seen, "  # ", "  #   ")
        out += [line for n in col.notes for line in _comment(n, "  # ", "  #   ")]
        out.append(f"  - name: {_scalar(entry['name'])}")
        out += [f"    {k}: {_scalar(v)}" for k, v in entry.items() if k != "name"]
    if s.wording is not None:
        out += ["", "# The fixed words of reasons and hints, in Chinese as the column names are (delete for English):"]
        out.append("wording:")
        out += [f"  {k}: {_scalar(v)}" for k, v in s.wording.model_dump().items()]
    left = by_role.get("left_out", [])
    if left:
        out += ["", "# Left out (not model inputs):"]
        out += [line for c in left for line in _comment(f"{c.name}: {'; '.join(c.notes)}", "#   - ", "#     ")]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- checking a table


@dataclass(frozen=True)
class CategoryGap:
    """Values a table holds for a category column that its schema does not declare, and declared values unseen."""

    column: str
    kind: str  # feature | protected
    undeclared: dict[str, int]
    unseen: tuple[str, ...]
    declared: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableCheck:
    """What `check_table` found: problems make the table not match; notes are for information."""

    rows: int
    report: ValidationReport
    problems: list[str]
    notes: list[str]
    gaps: list[CategoryGap]
    not_checked: list[str]
    written: pd.DataFrame | None = None
    """The CSV cells of columns with missing required values, as written (`cells_as_written`), when read."""
    warnings: list[str] = field(default_factory=list)
    """What matches the schema but will limit a later stage (a protected group too small to audit), added by the
    caller that knows the later stage."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def headline(self, schema: Schema) -> str:
        what = f"{counted(self.rows, 'row')} against schema {schema.name!r}"
        if self.ok:
            skipped = f" ({len(self.not_checked)} check(s) could not run: see above)" if self.not_checked else ""
            warned = f", {counted(len(self.warnings), 'warning')} above" if self.warnings else ""
            verb = "matches" if self.rows == 1 else "match"
            verdict = "PASS" if not self.not_checked else "PASS with checks missing"
            return f"{verdict}: {what} {verb}{skipped}{warned}"
        return f"FAIL: {what}: {len(self.problems)} problem(s)"


def small_groups(
    frame: pd.DataFrame, schema: Schema, min_rows: int, *, part: str = "", skip: Collection[tuple[str, str]] = ()
) -> list[tuple[str, str, str]]:
    """(attribute, group code, warning) for each declared group of a protected attribute (as the fairness audit
    reads its values; the warning names it by the schema's label where there is one) with rows in `frame` but fewer
    than `min_rows` (the audit's `min_group_rows`), but those in `skip`: the audit will list it, not judge it.
    `part` names the rows of `frame` when they are a part of the table. A value the schema does not declare is no
    group (`undeclared_protected`)."""
    out = []
    chars = ValidationSettings().shown_value_chars
    for p in schema.protected:
        name = p.name
        if name not in frame.columns:
            continue
        sizes = label_counts(frame[name])
        for group, rows in sizes[sizes < min_rows].sort_index().items():
            if (name, str(group)) in skip or str(group) not in p.categories:
                continue
            label = schema.group_names.get(name, {}).get(str(group))
            shown = clipped(str(group) if label is None else label, chars)
            code = "" if label is None else f" (code {clipped(str(group), chars)})"
            out.append(
                (
                    name,
                    str(group),
                    f"protected {name} = {shown!r}{code}: {counted(int(rows), 'row')}{f' in {part}' if part else ''}, "
                    f"fewer than the {min_rows:,} the fairness audit needs to judge a group (audit.min_group_rows): "
                    "it will be listed, not judged; gather more rows or merge it with another group",
                )
            )
    return out


def undeclared_protected(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """For each protected attribute, its values in `frame` (as the fairness audit reads them) that the schema does
    not declare, in `schema check`'s words, and what the audit and the fix are."""
    out = []
    for p in schema.protected:
        if p.name not in frame.columns:
            continue
        gap = _gap(p.name, "protected", label_counts(frame[p.name]), p.categories)
        if gap is not None and gap.undeclared:
            out.append(
                f"{_undeclared_words(gap)}: the fairness audit counts their rows in no {p.name} group; fix them in "
                "the table, or declare them under the attribute's categories in the schema"
            )
    return out


def protected_without_value(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """For each protected attribute, the rows of `frame` with no value (as the fairness audit reads them), which
    the audit counts in none of its groups."""
    out = []
    for p in schema.protected:
        if p.name not in frame.columns:
            continue
        missing = int(np.count_nonzero(protected_values(frame[p.name]) == MISSING_GROUP))
        if missing:
            out.append(
                f"{p.name}: {missing:,} of {counted(len(frame), 'row')} have no value; the fairness audit counts them "
                f"in no {p.name} group and checks nothing for them: fill them in where they are known"
            )
    return out


def category_gaps(report: ValidationReport, schema: Schema) -> list[CategoryGap]:
    """For each declared category column (features and protected): values not declared, and declared ones unseen.

    Model inputs are counted as validation read them (its `clean` columns); protected attributes as the
    fairness audit reads them (whole numbers as "1").
    """
    declared = [(f.name, "feature", f.levels) for f in schema.features if f.type is FeatureType.category]
    declared += [(p.name, "protected", p.categories) for p in schema.protected]
    gaps = []
    for name, kind, levels in declared:
        if name not in report.clean.columns:
            continue
        column = report.clean[name]
        counts = column.dropna().astype(str).value_counts() if kind == "feature" else label_counts(column)
        gap = _gap(name, kind, counts, levels)
        if gap is not None:
            gaps.append(gap)
    return gaps


def _gap(name: str, kind: str, counts: pd.Series, levels: Sequence[str]) -> CategoryGap | None:
    """The values counted in `counts` (by label) that `levels` does not declare, and the declared ones unseen."""
    undeclared = {str(k): int(v) for k, v in counts.items() if str(k) not in levels}
    unseen = tuple(level for level in levels if level not in counts.index)
    return CategoryGap(name, kind, undeclared, unseen, tuple(levels)) if undeclared or unseen else None


def _undeclared_words(gap: CategoryGap) -> str:
    """The values of a category or protected column its schema does not declare, with their counts and those that
    read as a declared one once case and spaces are ignored."""
    where = "protected attribute" if gap.kind == "protected" else "category"
    return f"{where} {gap.column}: values the schema does not declare: {counts_shown(gap.undeclared)}{_respelt(gap)}"


def _respelt(gap: CategoryGap) -> str:
    """The undeclared values of `gap` that read as a declared one once case and spaces are ignored, said as such."""
    declared = {spelling_key(level): level for level in gap.declared}
    same = [(v, declared[spelling_key(v)]) for v in gap.undeclared if spelling_key(v) in declared]
    if not same:
        return ""
    shown = ValidationSettings().examples_shown
    listed = ", ".join(f"{v!r} is {d!r}" for v, d in same[:shown]) + (", ..." if len(same) > shown else "")
    return f"; once case and spaces are ignored {listed}: write them as declared"


def counts_shown(counts: Mapping[str, int] | Mapping[str | None, int], shown: int = 5) -> str:
    """Values and their counts, most frequent first; None is a missing value."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    chars = ValidationSettings().shown_value_chars
    text = ", ".join(
        f"{'missing' if k is None else clipped(repr(k), chars)} ({counted(v, 'row')})" for k, v in top[:shown]
    )
    return text + (f", ... {len(top) - shown} more" if len(top) > shown else "")


NOT_AN_OUTCOME = "is not an outcome (0 = repaid, 1 = defaulted)"
BAD_OUTCOMES = frozenset({"bad", "default", "defaulted", "delinquent", "charged off", "charged-off", "written off"})
GOOD_OUTCOMES = frozenset({"good", "repaid", "paid", "paid off", "fully paid", "current", "performing"})
YES, NO = frozenset({"y", "yes", "true", "t"}), frozenset({"n", "no", "false", "f"})
GOOD_NAME = re.compile(r"good|repaid|paid|perform", re.IGNORECASE)
NEGATED_GOOD_NAME = re.compile(r"(un|non|not)[_\- ]?(good|repaid|paid|perform)", re.IGNORECASE)


def recode_hint(counts: Mapping[str | None, int], target: str) -> str:
    """How to recode an outcome column holding the values `counts` (missing ones aside), to follow 'recode it':
    with two values, which to write as 1 (the rarer, unless the words or the column's name say), and the condition
    unless the words settle it."""
    seen = [k for k, _ in sorted(counts.items(), key=lambda kv: (kv[1], str(kv[0]))) if k is not None and k.strip()]
    if len(seen) != 2:
        return "to 1 (defaulted) and 0 (repaid), leaving a loan with no outcome yet empty"
    said = {v: v.strip().lower() for v in seen}
    other = {seen[0]: seen[1], seen[1]: seen[0]}
    settled = [v for v in seen if said[v] in BAD_OUTCOMES or said[other[v]] in GOOD_OUTCOMES]
    if settled:
        return f"as {settled[0]!r} -> 1 and {other[settled[0]]!r} -> 0"
    yes = [v for v in seen if said[v] in YES and said[other[v]] in NO]
    if yes:  # 'Y' means defaulted in a column named for the default, repaid in one named for repayment
        named_good = GOOD_NAME.search(target) and not NEGATED_GOOD_NAME.search(target)
        defaulted = other[yes[0]] if named_good else yes[0]
    else:
        defaulted = seen[0]
    return (
        f"as {defaulted!r} -> 1 and {other[defaulted]!r} -> 0 if {defaulted!r} means defaulted, else the other way "
        "round"
    )


def value_text(value: object) -> str:
    """A cell as the table holds it: numbers written out (2, not 2.0, as a whole number read into a float column
    with gaps), text as it is."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return number_text(float(value), float(value).is_integer())
    return str(value)


def value_counts(raw: pd.Series) -> dict[str | None, int]:
    """How often each value occurs, keyed by its text (`value_text`; None for a missing value)."""
    counts: dict[str | None, int] = {}
    for value, n in raw.value_counts(dropna=False).items():
        key = None if pd.isna(value) else value_text(value)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


@dataclass(frozen=True)
class RepeatedIds:
    """Ids held by more than one row: how many ids, how many rows hold them, the first few in table order."""

    ids: int
    rows: int
    first: tuple[str, ...]


def repeated_ids(ids: pd.Series, shown: int = 5) -> RepeatedIds:
    """The ids (missing ones aside) that more than one row holds."""
    present = ids[ids.notna().to_numpy()]
    repeated = present[present.duplicated(keep=False).to_numpy()]
    first = repeated.drop_duplicates().head(shown)
    return RepeatedIds(int(repeated.nunique()), len(repeated), tuple(value_text(v) for v in first))


def wrong_fields_problems(aside: Sequence[SetAside], for_training: bool, shown: int = 3) -> list[str]:
    """One line per CSV file with rows `read_table_setting_aside` left out (another number of fields than the
    header), naming the first `shown` by their row in the file, and what becomes of them."""
    out = []
    for file in dict.fromkeys(a.file for a in aside):
        rows = [a.wrong for a in aside if a.file == file]
        listed = "; ".join(f"row {w.row + 2:,} has {w.fields} fields" for w in rows[:shown])
        more = f"; and {len(rows) - shown:,} more" if len(rows) > shown else ""
        fate = (
            "train cannot read the file until they are fixed or removed"
            if for_training
            else "batch-score rejects them, reading nothing in them: fix them to score them"
        )
        out.append(
            f"{file.name}: {counted(len(rows), 'row')} with another number of fields than the header's "
            f"{rows[0].expected} (a stray comma or quote, or a cut line; the header is row 1): {listed}{more}; "
            f"{fate}. The other checks read the other rows, numbered without these"
        )
    return out


def repeated_ids_problem(column: str, found: RepeatedIds) -> str:
    """One line on the ids more than one row holds, and what to do."""
    listed = ", ".join(map(repr, found.first)) + (" ..." if found.ids > len(found.first) else "")
    which = "1 id is" if found.ids == 1 else f"{found.ids:,} ids are"
    return (
        f"id {column}: {which} held by more than one row ({found.rows:,} rows): {listed}; an id names one "
        "applicant: give each row its own id (keep one row per applicant, or number the rows), or batch scores "
        "and rejects cannot be told apart"
    )


def check_table(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    for_training: bool = True,
    target_reader: Callable[[pd.Series], tuple[pd.Series, np.ndarray]] | None = outcome,
    path: Path | None = None,
    leaks: LeakChecks | None = None,
    min_borrowers: int = 0,
) -> TableCheck:
    """Everything in `frame` that does not match `schema`, without training; never raises on bad data.

    `for_training` also requires the target and the protected columns (a table to score needs neither);
    `target_reader` turns the target into 0/1 and a mask of unusable outcomes (training's own reader, `outcome`, by
    default; None: the target's values are not checked, and the check says so); `path`,
    the file `frame` was read from, lets a CSV table's missing required cells be shown as written; `leaks`: when
    an input is warned of as a likely leak of the outcome; `min_borrowers`: the fewest borrowers training's random
    split by borrower takes (`TrainConfig.min_borrowers`).
    """
    require_frame(frame)
    report = validate_table(frame, schema)
    problems = [f"table: {e}" for e in report.table_errors]
    notes: list[str] = []
    not_checked: list[str] = []
    warnings: list[str] = []
    if not report.table_errors:
        found = repeated_ids(frame[schema.id_column])
        if found.ids:
            problems.append(repeated_ids_problem(schema.id_column, found))
    breaks_at = len(problems)  # the rows that break the schema are counted here, once the outcomes are read
    gaps = category_gaps(report, schema) if not report.table_errors else []
    if not for_training:  # scoring does not read the protected attributes
        gaps = [g for g in gaps if g.kind != "protected"]
    for g in gaps:
        if g.undeclared:
            problems.append(_undeclared_words(g))
        if g.unseen:
            notes.append(f"{g.column}: declared values never seen in this table: {', '.join(g.unseen)}")
    needed = [schema.target, *schema.protected_names] if for_training else []
    for c in needed:
        if c not in frame.columns:
            role = "target" if c == schema.target else "protected attribute"
            problems.append(f"table: no {role} column {c!r} (needed to train and to audit fairness)")
    booked_missing = bool(schema.booked_column) and schema.booked_column not in frame.columns
    if booked_missing and for_training:
        problems.append(
            f"table: no booked column {schema.booked_column!r}, which the schema names (1 = booked, 0 = rejected; "
            "training reads outcomes of booked rows only): add it, or remove booked_column from the schema"
        )
    if for_training and not report.table_errors:
        dates = date_problem(frame, schema, ValidationSettings().examples_shown)
        if dates:
            problems.append(dates)
    if for_training and not schema.borrower_column:
        for name in report.unknown_columns:
            if like_borrower_ids(frame[name], InferSettings().max_code_levels):
                notes.append(
                    f"{name}: named like a borrower id, and {borrowers_seen(frame[name])}: if it names each loan's "
                    f"borrower, set borrower_column: {name} in the schema, so that training's split keeps each "
                    "borrower's loans together"
                )
    if for_training:
        warnings.extend(protected_without_value(frame, schema))
    if for_training and schema.borrower_column:
        if schema.borrower_column in frame.columns:
            notes.append(_borrowers_note(frame[schema.borrower_column], bool(schema.date_column)))
            respelt = respelt_borrowers(frame[schema.borrower_column])
            if respelt:
                warnings.append(f"{schema.borrower_column}: {respelt}")
            named = int(frame[schema.borrower_column].nunique())
            if named < min_borrowers:
                problems.append(
                    f"{schema.borrower_column}: {counted(named, 'borrower')}: keeping each borrower's loans together "
                    f"needs at least {min_borrowers} (train.min_borrowers); remove borrower_column from the schema "
                    "to split loans at random"
                )
        else:
            problems.append(
                f"table: no borrower column {schema.borrower_column!r}, which the schema names (training keeps each "
                "borrower's loans in one part of its split): add it, or remove borrower_column from the schema"
            )
    if for_training and schema.target in frame.columns:  # scoring never reads the outcome
        if target_reader is None:
            not_checked.append("target values (no target reader given)")
        elif booked_missing:
            not_checked.append("target values (without the booked column, rejected applicants cannot be told apart)")
        else:
            raw = frame[schema.target]
            values, bad = target_reader(raw)
            read = np.ones(len(raw), dtype=bool)
            if schema.booked_column:
                read = _booked(frame[schema.booked_column], schema.booked_column, target_reader, problems, notes)
            unknown = no_outcome_mask(raw) & read
            wrong = bad & ~unknown & read
            known = values.to_numpy()[read & ~bad]
            if wrong.any():
                n, counts = int(wrong.sum()), value_counts(raw[wrong])
                one_class = len(np.unique(known)) < 2
                recode = (
                    f"; recode it {recode_hint(value_counts(raw[read & ~unknown]), schema.target)}"
                    if n > read.sum() / 2 or one_class
                    else ""
                )
                problems.append(
                    f"target {schema.target}: {n:,} {'row is' if n == 1 else 'rows are'} not 0 (repaid) or 1 "
                    f"(defaulted): {counts_shown(counts)}{recode}"
                )
                report = replace(report, errors=sorted_errors([report.errors, _outcome_errors(frame, schema, wrong)]))
            if unknown.any():
                n = int(unknown.sum())
                (notes if len(known) else problems).append(
                    f"target {schema.target}: {counted(n, 'row')} {'has' if n == 1 else 'have'} no outcome yet "
                    f"({_share(n, int(read.sum()))}): training leaves {'it' if n == 1 else 'them'} out"
                    + ("" if len(known) else "; no row has an outcome to train on")
                )
            # the outcomes training reads: of rows it keeps (those that break the schema it sets aside)
            y = np.where(read & ~bad & report.valid_mask, values.to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
            present = [f for f in schema.feature_names if f in frame.columns]
            copies = copies_of_outcome(frame, present, y)
            for name, same in copies.items():
                problems.append(
                    f"input {name}: holds {'the outcome' if same else 'the opposite of the outcome'} {schema.target} "
                    "in every row: a model would read the answer from it; remove it from the schema's features"
                )
            for proxy in outcome_proxies(frame, schema, y, leaks, skip=frozenset(copies)):
                if proxy.perfect:
                    problems.append(proxy.refusal(schema.target))
                else:
                    warnings.append(proxy.warning(schema.target))
            protected = [p for p in schema.protected_names if p in frame.columns]
            for copy, original in copied_columns(frame, [*protected, *present]).items():
                if original in protected and copy not in protected:
                    notes.append(
                        f"input {copy}: holds the protected attribute {original} in every row; a protected attribute "
                        "is never a model input unless you have decided it may be one"
                    )
            if not wrong.any() and len(np.unique(known)) == 1:
                only = "1 (defaulted)" if known[0] == 1 else "0 (repaid)"
                notes.append(
                    f"target {schema.target}: every row with an outcome is {only}: training needs both outcomes"
                )
            if not wrong.any() and len(known):
                notes.append(
                    f"target {schema.target}: {int(known.sum()):,} of {counted(len(known), 'row')}"
                    f"{' with an outcome' if unknown.any() else ''} defaulted ({_share(int(known.sum()), len(known))})"
                )
    if not report.table_errors and not report.errors.empty:
        bad_rows = report.errors["row"].nunique()
        problems.insert(
            breaks_at,
            f"{bad_rows:,} of {counted(len(frame), 'row')} ({_share(bad_rows, len(frame))}) break"
            f"{'s' if bad_rows == 1 else ''} the schema",
        )
    written = None
    missing = report.errors[(report.errors["reason"] == MISSING_REQUIRED).to_numpy()]
    if path is not None and len(missing):
        written = cells_as_written(path, list(dict.fromkeys(missing["column"])))
        if written is not None:
            notes += _read_as_missing(missing, written, schema.id_column)
    if report.unknown_columns:
        notes.append(f"columns the schema does not name (ignored): {', '.join(report.unknown_columns)}")
    notes.extend(schema_warnings(schema))
    return TableCheck(len(frame), report, problems, notes, gaps, not_checked, written, warnings)


def _borrowers_note(column: pd.Series, by_date: bool) -> str:
    """How many borrowers a borrower column names, how many have several loans, and what training does with them
    (`by_date`: its split is out of time)."""
    kept = (
        "training's split orders loans by date; its search's folds (under 50,000 rows) keep each borrower's loans "
        "in one fold"
        if by_date
        else "training's split and its search's folds (under 50,000 rows) keep each borrower's loans in one part"
    )
    missing = int(column.isna().sum())
    alone = f"; {counted(missing, 'row')} with no borrower, each taken alone" if missing else ""
    return f"{column.name}: {borrowers_seen(column)}; {kept}{alone}"


def _read_as_missing(missing: pd.DataFrame, written: pd.DataFrame, id_column: str) -> list[str]:
    """Notes on required cells that hold a text read as missing: one the CSV reader takes for a missing value
    ('n/a', 'NULL', ...), or white space in the id (an id that names nobody)."""
    notes = []
    for column, rows in missing.groupby("column", sort=False)["row"]:
        cells = pd.Series(written[column].to_numpy()[rows.to_numpy()])
        held = cells[cells.notna().to_numpy() & (cells != "").to_numpy()]
        blank = held.astype(str).str.strip().eq("").to_numpy()
        fix = (
            "write each row's id there"
            if column == id_column
            else f"write the value there, or make {column} nullable if it may be unknown"
        )
        if (~blank).any():
            notes.append(
                f"{column}: {counts_shown(value_counts(held[~blank]))} read as missing: the CSV reader reads an empty "
                f"cell and the texts {', '.join(READ_AS_MISSING)} as a missing value; {fix}"
            )
        if blank.any():
            notes.append(f"{column}: {counted(int(blank.sum()), 'cell')} of only white space, read as missing; {fix}")
    return notes


def _outcome_errors(frame: pd.DataFrame, schema: Schema, wrong: np.ndarray) -> pd.DataFrame:
    """The rows whose outcome is present but not 0/1, as validation errors (training sets them aside too)."""
    rows = np.flatnonzero(wrong)
    chars = ValidationSettings().shown_value_chars
    ids = frame[schema.id_column].to_numpy()[rows] if schema.id_column in frame.columns else np.full(len(rows), "")
    return pd.DataFrame(
        {
            "row": rows,
            "id": ["" if pd.isna(i) else value_text(i) for i in ids],
            "column": schema.target,
            "value": [clipped(repr(value_text(v)), chars) for v in frame[schema.target].to_numpy()[rows]],
            "reason": NOT_AN_OUTCOME,
        }
    )


def no_outcome_mask(raw: pd.Series) -> np.ndarray:
    """Rows whose outcome is missing (empty, only spaces, or a text read as missing): a loan not yet repaid or
    defaulted."""
    missing = raw.isna().to_numpy()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        missing |= raw.astype(str).str.strip().eq("").to_numpy()
    return missing


def _booked(
    raw: pd.Series,
    column: str,
    reader: Callable[[pd.Series], tuple[pd.Series, np.ndarray]],
    problems: list[str],
    notes: list[str],
) -> np.ndarray:
    """Rows an earlier policy booked, whose outcomes training reads (a rejected applicant's was never observed)."""
    flags, unreadable = reader(raw)
    if unreadable.any():
        n = int(unreadable.sum())
        problems.append(
            f"booked column {column}: {n:,} {'row is' if n == 1 else 'rows are'} not 1 (booked) or 0 (rejected): "
            f"{counts_shown(value_counts(raw[unreadable]))}"
        )
    booked = (flags.to_numpy() == 1.0) & ~unreadable
    n = int(booked.sum())
    notes.append(
        f"booked column {column}: {n:,} of {counted(len(raw), 'row')} booked ({_share(n, len(raw))}); "
        "the target is read on those only"
    )
    return booked


def _more(n: int) -> str:
    return f" and {n:,} more" if n > 0 else ""


def _listed(names: list[str], shown: int = 8) -> str:
    return ", ".join(names[:shown]) + (" ..." if len(names) > shown else "")


def schema_warnings(schema: Schema) -> list[str]:
    """What `schema infer` left for the lender to decide and the schema still carries: reason texts that say
    TODO, and model inputs whose names suggest a protected attribute."""
    out = []
    todo = [f.name for f in schema.features if f.reason.startswith(TODO)]
    if todo:
        out.append(f"{len(todo)} reason text(s) still say {TODO} (applicants would read them): {_listed(todo)}")
    suspect = [f"{f.name} ({hint})" for f in schema.features if (hint := protected_hint(f.name)) is not None]
    if suspect:
        out.append(
            f"model inputs whose names suggest a protected attribute: {_listed(suspect)}; a protected attribute "
            "is never a model input (declare it under protected, or leave it out) unless you have decided it "
            "may be one"
        )
    return out


def error_summary(report: ValidationReport, shown: int = 3, written: pd.DataFrame | None = None) -> pd.DataFrame:
    """Row errors grouped by column and reason: how many rows, and a few examples (row, id, value); a missing
    value as the CSV cell held it when `written` (`cells_as_written`) has its column."""
    if report.errors.empty:
        return pd.DataFrame(columns=["column", "reason", "rows", "examples"])
    keys = ["column", "reason"]
    grouped = report.errors.groupby(keys, sort=False)
    heads = grouped.head(shown)
    said = [
        _example(r.row, r.id, r.value, r.column if r.reason == MISSING_REQUIRED else None, written)
        for r in heads.itertuples()
    ]
    examples = heads[keys].assign(said=said).groupby(keys, sort=False)["said"].agg("; ".join)
    return pd.DataFrame({"rows": grouped.size(), "examples": examples}).reset_index()


def _example(row: int, id_: object, value: object, missing: str | None, written: pd.DataFrame | None) -> str:
    """One example; `missing` names the column of a missing value, shown as "(missing)", "(empty)" or as written."""
    if missing is not None:
        cell = written[missing].iat[row] if written is not None and missing in written.columns else None
        known = cell is not None and not pd.isna(cell)
        value = "(missing)" if not known else "(empty)" if cell == "" else f"{cell!r}, read as missing"
    return f"row {row} ({f'id {id_}' if str(id_).strip() else 'no id'}): {value}"

"""The service's request and response models, derived from the feature schema (never a second feature list)."""

from __future__ import annotations

import functools
import gc
import hashlib
import hmac
import itertools
import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError, SchemaValidator, from_json, to_json

from thinfile.features.schema import DIMENSIONS, Feature, FeatureType, Schema, category_text, whole_levels
from thinfile.features.words import MISSING_REQUIRED
from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS

PROTECTED_MESSAGE = "is a protected attribute: it is never used for scoring and must not be sent"
REQUEST_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, hide_input_in_errors=True, frozen=True)


def _whole(value: object) -> object:
    """A JSON number with a whole value as an int (80000.0 -> 80000, as JSON Schema's "integer" counts it, and as a
    client's float column sends it); anything else as sent, for the strict check."""
    return int(value) if type(value) is float and value.is_integer() else value


def _code_as_text(value: object, levels: tuple[str, ...]) -> object:
    """A JSON integer (2, or 2.0), or text that names an integer level another way (' 2', '2.0'), as the level's
    text ("2"), as a book's column is read when scored in batch (`category_text`); anything else as sent."""
    return category_text(value, levels) if type(value) in (int, float, str) else value


def integer_coded(f: Feature) -> bool:
    """A category whose levels are all integers written as text ("0", "1", ... or "01", "02", ...), each a number
    no other level writes, as a lender's codes are."""
    return f.type is FeatureType.category and len(whole_levels(f.levels)) == len(f.levels)


_NUMBER_TYPES = frozenset({"int_type", "float_type"})


def _field(f: Feature) -> tuple[Any, Any]:
    """(annotation, FieldInfo) for one feature: strict type, schema range or categories, optional if nullable. An
    int takes a whole JSON number written with a fraction (80000.0); an integer-coded category takes the JSON
    integer as well as its text, as its table does."""
    extra: dict[str, Any] = {"dimension": f.dimension.value}
    if f.unit:
        extra["unit"] = f.unit
    common: dict[str, Any] = {"title": f.display_name, "description": f.reason, "json_schema_extra": extra}
    if f.type is FeatureType.category:
        annotation: Any = Literal.__getitem__(tuple(f.levels))
        if integer_coded(f):
            levels = [int(level) for level in f.levels]
            annotation = Annotated[
                annotation,
                BeforeValidator(functools.partial(_code_as_text, levels=tuple(f.levels))),
                WithJsonSchema(
                    {"anyOf": [{"enum": list(f.levels), "type": "string"}, {"enum": levels, "type": "integer"}]}
                ),
            ]
    elif f.type is FeatureType.bool:
        annotation = StrictBool
    elif f.type is FeatureType.int:
        annotation = Annotated[int, Field(strict=True, ge=f.min, le=f.max), BeforeValidator(_whole)]
    else:
        annotation = float
        common.update(strict=True, ge=f.min, le=f.max)
    if f.nullable:
        return annotation | None, Field(None, **common)
    return annotation, Field(..., **common)


def _refuse_protected(cls: type[BaseModel], value: object) -> None:
    raise PydanticCustomError("protected_attribute", PROTECTED_MESSAGE)


def _in_order(names: list[str], json_schema: dict[str, Any]) -> None:
    """The JSON Schema's properties in the schema's order (the model declares its fields by sorted name)."""
    properties = json_schema["properties"]
    json_schema["properties"] = {name: properties[name] for name in names if name in properties}


@lru_cache(maxsize=8)
def applicant_model(schema: Schema) -> type[BaseModel]:
    """One applicant: every model input of the schema; protected attributes and unknown fields refused."""
    fields: dict[str, Any] = {f.name: _field(f) for f in schema.features}
    for name in schema.protected_names:
        fields[name] = (SkipJsonSchema.__class_getitem__(Any), Field(None, exclude=True))
    fields = dict(sorted(fields.items()))  # its serializer then writes the canonical input (`canonical_input`)
    validators: dict[str, Any] = {}
    if schema.protected_names:
        # named as no input can be (a field name never starts with '_'): an input may not replace the validator
        validators["_refuse_protected"] = field_validator(*schema.protected_names, mode="before")(
            classmethod(_refuse_protected)
        )
    return create_model(
        "Applicant",
        __config__=ConfigDict(**REQUEST_CONFIG, json_schema_extra=functools.partial(_in_order, schema.feature_names)),
        __doc__=(
            f"One applicant's model inputs ({schema.name} schema v{schema.version}). Missing optional fields "
            "are normal for thin files; protected attributes and unknown fields are refused."
        ),
        __validators__=validators,
        **fields,
    )


@lru_cache(maxsize=8)
def exact_reader(schema: Schema) -> SchemaValidator:
    """`applicant_model(schema)`'s validator taking each input only as the JSON type its field holds (an int as
    80000, not 80000.0; an integer-coded category as its text): pydantic-core alone reads a body, with no Python call
    per field. It makes the same applicants (of `applicant_model(schema)`) from what it accepts; what it refuses,
    `applicant_model` reads."""
    return SchemaValidator(_exact(applicant_model(schema).__pydantic_core_schema__))


def _exact(schema: Any) -> Any:
    """A core schema without the before-validators that read a whole float as an int or an integer as a code."""
    if isinstance(schema, list):
        return [_exact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "function-before" and _coerces(schema["function"].get("function")):
        return _exact(schema["schema"])
    return {key: _exact(value) for key, value in schema.items()}


def _coerces(function: object) -> bool:
    return function is _whole or (isinstance(function, functools.partial) and function.func is _code_as_text)


@lru_cache(maxsize=8)
def batch_model(schema: Schema, max_rows: int) -> type[BaseModel]:
    """A list of applicants, at least one and at most `max_rows`."""
    applicant = applicant_model(schema)
    return create_model(
        "ApplicantBatch",
        __config__=REQUEST_CONFIG,
        __doc__=f"Up to {max_rows} applicants, scored together.",
        applicants=(list[applicant], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )


Decision = Literal["approve", "refer", "decline"]


class Reason(BaseModel):
    """One thing that lowered the score, in the lender's words."""

    code: str = Field(description="the feature behind the reason")
    text: str
    value: float | int | bool | str | None = Field(description="the applicant's value (null when missing)")
    points_lost: float = Field(ge=0)
    hint: str | None = Field(None, description="what would stop this costing points, when the applicant can act")


Dimensions: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Dimensions",
    __doc__="Score points from each dimension of the score (relative to the base score).",
    **{d: (float, ...) for d in DIMENSIONS},
)


class ModelRef(BaseModel):
    """Which registered model answered."""

    name: str
    version: str
    run_id: str | None = None


@lru_cache(maxsize=16)
def response_model(top_reasons: int = DEFAULT_TOP_REASONS) -> type[BaseModel]:
    """A scored applicant: score, band, probability of default, decision, up to `top_reasons` reasons, dimensions."""
    return create_model(
        "ScoreResponse",
        __doc__="A scored applicant: score, band, probability of default, decision, reasons and dimensions.",
        request_id=(str, ...),
        score=(float, Field(description="350 (worst) to 950 (best)")),
        band=(str, ...),
        pd=(float, Field(ge=0, le=1, description="probability of default in 12 months")),
        decision=(Decision, ...),
        reasons=(
            list[Reason],
            Field(max_length=top_reasons, description=f"up to {top_reasons}, the largest loss of points first"),
        ),
        dimensions=(Dimensions, ...),
        base_points=(float, Field(description="score of an average applicant; base + dimensions = unclipped score")),
        model=(ModelRef, ...),
    )


ScoreResponse = response_model(DEFAULT_TOP_REASONS)


class ModelCard(BaseModel):
    """GET /model: which model answers, how it scored in training, its scale, cut-offs, the limits and the input."""

    model: dict[str, Any] = Field(
        description="name, version, run id, family; its aliases as the registry gave them when it was loaded, at "
        "loaded_at (an alias moved since, by `thinfile promote`, shows once the service restarts)"
    )
    metrics: dict[str, float | None] = Field(description="the training run's metrics in MLflow")
    schema_: dict[str, Any] = Field(alias="schema", description="name, version and fingerprint of the feature schema")
    scale: dict[str, Any]
    cutoffs: dict[str, Any]
    limits: dict[str, int]
    input_schema: dict[str, Any] = Field(description="JSON schema of a /score body")


def model_card_path() -> dict[str, Any]:
    """The OpenAPI path item of GET /model."""
    return {
        "get": {
            "tags": ["Service APIs"],
            "description": ModelCard.__doc__,
            "operationId": "thinfile__model",
            "responses": {
                "200": {
                    "description": "the model card",
                    "content": {"application/json": {"schema": ModelCard.model_json_schema(by_alias=True)}},
                },
                "503": {"description": "the model is still loading"},
            },
        }
    }


def applicants_to_matrix(schema: Schema, applicants: list[BaseModel]) -> np.ndarray:
    """Model matrix of validated applicants, identical to `schema.to_matrix` of the same rows (None reads as NaN)."""
    categories = schema.category_codes
    rows = []
    for applicant in applicants:
        row = [_NAN if v is None else v for v in schema.feature_values(applicant.__dict__)]
        for j, codes in categories:
            v = row[j]
            if v is not _NAN:
                row[j] = codes[cast(str, v)]
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(applicants), len(schema.features))


_NAN = float("nan")  # numpy reads a row of numbers faster than one holding None


def request_body(schema: Schema, row: Mapping[str, Any]) -> dict[str, object]:
    """One table row as a /score request body: model inputs only, missing values left out, JSON types."""
    body: dict[str, object] = {}
    for f in schema.features:
        v = row[f.name]
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if f.type is FeatureType.category:
            body[f.name] = category_text(v, f.levels)
        elif f.type is FeatureType.bool:
            body[f.name] = bool(v)
        elif f.type is FeatureType.int:
            body[f.name] = int(v)
        else:
            body[f.name] = float(v)
    return body


_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def compact_json(obj: dict[str, object]) -> bytes:
    """The bytes of `json.dumps(obj, separators=(",", ":"), allow_nan=False)`, keys in the dict's order.

    pydantic-core writes them six times faster and, for printable ASCII text and finite numbers not below 1e-4 in
    size, byte for byte as the json module does; anything else (it writes 1e-05 as 0.00001, non-ASCII and DEL
    unescaped, NaN where the json module refuses) the json module writes."""
    fast = to_json(obj)
    return fast if _written_alike(fast) else _COMPACT.encode(obj).encode()


def _written_alike(fast: bytes) -> bool:
    """Would the json module write pydantic-core's compact `fast` byte for byte? (One byte is found faster than
    two, so the rare pairs are looked for only after their first byte.)"""
    return fast.isascii() and not (
        b"\x7f" in fast
        or b"0.0000" in fast
        or (b"-" in fast and b"e-" in fast)
        or ((b"N" in fast or b"I" in fast) and (b"NaN" in fast or b"Infinity" in fast))
    )


def canonical_input(schema: Schema, applicant: BaseModel) -> bytes:
    """The model inputs of an applicant of `applicant_model(schema)` as canonical JSON: present fields only, sorted
    keys, compact (the bytes of `json.dumps(present, sort_keys=True, separators=(",", ":"), allow_nan=False)`), a
    negative zero written as zero (the model reads them alike, so one applicant has one canonical input).

    The model declares its fields by sorted name, so its own serializer writes them in that order; the dict
    written through `compact_json` is made only when that is not the json module's bytes or holds a -0.0."""
    out = applicant.__pydantic_serializer__.to_json(applicant, exclude_none=True)
    if _written_alike(out) and b"-0.0" not in out:
        return out
    present = schema.present_sorted(applicant.__dict__)
    return compact_json({k: 0.0 if isinstance(v, float) and v == 0.0 else v for k, v in present.items()})


def input_hmac(key: bytes | hmac.HMAC, schema: Schema, applicant: BaseModel) -> str:
    """HMAC-SHA256 of the canonical input under the operator's audit key: ties a decision to its input without
    storing it, and cannot be reversed by trying inputs without the key (a plain hash of a sparse applicant can).
    `key` may be `keyed(key)`, made once: each input then copies its prepared state."""
    mac = key.copy() if isinstance(key, hmac.HMAC) else keyed(key)
    mac.update(canonical_input(schema, applicant))
    return mac.hexdigest()


def keyed(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 under `key`, before any message."""
    return hmac.new(key, digestmod=hashlib.sha256)


MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300
NAME_CHARS = 40


class OversizedNumber:
    """A JSON integer too long to convert: the field holding it gets the error, not the whole body."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | OversizedNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_INT_DIGITS else OversizedNumber(digits)


def _refuse_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


@contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection while a body becomes objects: a parse makes no cycles, and collections
    triggered by tens of thousands of new containers would cost ten times the parse itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def printable(text: str) -> str:
    """`text` with lone surrogates and other unencodable characters escaped, safe for UTF-8 logs."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BadRequest(ValueError):
    """A request refused before scoring: a one-line summary and a few entries, each naming a field (never a value)."""

    def __init__(self, summary: str, detail: list[dict[str, Any]]) -> None:
        summary = printable(summary)
        super().__init__(summary)
        self.summary = summary
        self.detail = detail

    def body(self) -> bytes:
        text = json.dumps({"error": self.summary, "detail": self.detail}, ensure_ascii=False)
        return text.encode("utf-8", "backslashreplace")  # a lone surrogate a client sent: its JSON escape again


def shown_name(name: object) -> str:
    """A client-sent name fit for a message or a log line: at most NAME_CHARS characters, escaped."""
    text = str(name)
    return repr(text if len(text) <= NAME_CHARS else text[:NAME_CHARS] + "...")


def _json_refusal(err: Exception) -> BadRequest:
    if isinstance(err, json.JSONDecodeError):
        where = f"line {err.lineno} column {err.colno}"
        return BadRequest(f"the body is not valid JSON ({err.msg} at {where})", [_entry("json_invalid", [], err.msg)])
    if isinstance(err, UnicodeDecodeError):
        return BadRequest("the body is not UTF-8 text", [_entry("json_invalid", [], "not UTF-8")])
    if isinstance(err, RecursionError):
        return BadRequest("the body nests too deeply", [_entry("json_invalid", [], "nested too deeply")])
    return BadRequest(f"the body is not valid JSON ({err})", [_entry("json_invalid", [], str(err))])


def _utf8(body: bytes) -> str:
    """The body as text (a UTF-8 byte order mark dropped, as RFC 8259 lets a parser), or UnicodeDecodeError: a NUL
    byte among the first four is UTF-16 or UTF-32 (a JSON text starts with two ASCII characters, RFC 4627)."""
    if b"\x00" in body[:4]:
        raise UnicodeDecodeError("utf-8", body, body.index(b"\x00"), 4, "a NUL byte: UTF-16 or UTF-32?")
    return body.decode("utf-8-sig")


def _entry(kind: str, loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg}


_JSON_SPACE = b" \t\r\n"


def may_repeat_keys(body: bytes, members: int) -> bool:
    """Could the body hold more object members than the `members` its parse kept? Each member's key ends in `"`,
    then optional spaces, then `:`, so that pattern's count (spaces dropped) bounds the members from above: equal or
    fewer, and no key was given twice (a JSON parser keeps the last of a repeated key silently). Each member also
    has its own `:`, so a body with no more colons than members (the usual case, one pass) repeats none."""
    return body.count(b":") > members and body.translate(None, _JSON_SPACE).count(b'":') > members


class _Members(dict):
    """A JSON object as parsed, with the keys it gave more than once."""

    repeated: list[str]


def _members(pairs: list[tuple[str, Any]]) -> _Members:
    out = _Members(pairs)
    out.repeated = list(dict.fromkeys(k for k, n in Counter(k for k, _ in pairs).items() if n > 1))
    return out


def repeated_keys(body: bytes) -> object:
    """The body parsed with every object a `_Members` (naming its repeated keys); only called once
    `may_repeat_keys`, on a body the fast parser read."""
    return json.loads(body, object_pairs_hook=_members, parse_int=_parse_int, parse_constant=_refuse_constant)


def _repeated_entry(loc: list[str | int], key: str) -> dict[str, Any]:
    return _entry(
        "duplicate_key",
        [*loc, str(key)[:NAME_CHARS]],
        "given more than once; send each field once (JSON readers differ on which value counts)",
    )


class RequestReader:
    """Reads /score and /score_batch bodies at a cost bounded by the body's size, with at most `max_errors` errors.

    JSON is parsed once (integers longer than Python converts become an error on their field); unknown fields are
    counted with set operations and reported as one entry ("330,000 unknown fields, first: ..."); a batch is checked
    row by row and checking stops once `max_errors` problems are found. Messages name fields, never values.
    """

    def __init__(self, schema: Schema, max_rows: int, max_errors: int = 5) -> None:
        self.model = applicant_model(schema)
        self.exact = exact_reader(schema)
        self.order = (*schema.feature_names, *schema.protected_names)
        self.allowed = frozenset(self.order)
        self.max_rows = max_rows
        self.max_errors = max_errors
        self.max_items = max_rows * (len(self.allowed) + 1) + 1
        roles = {
            schema.id_column: "the table's id column",
            schema.target: "the outcome the model predicts",
            schema.oracle_column: "the true default probability",
            schema.date_column: "the table's date column",
            schema.booked_column: "the booked flag",
            schema.borrower_column: "the table's borrower column",
        }
        self.not_inputs = {name: role for name, role in roles.items() if name}
        """columns of the schema's table that are not model inputs, which a client sending whole rows would send"""
        self.coded = frozenset(f.name for f in schema.features if integer_coded(f))

    def applicant(self, body: bytes) -> BaseModel:
        """One applicant from a /score body, or BadRequest."""
        try:  # a valid body in one step; anything refused is read again (a float int), then again for the messages
            parsed: BaseModel | None = self.exact.validate_json(body)
        except (ValueError, RecursionError):
            parsed = self._lenient(body)
        if parsed is not None and not may_repeat_keys(body, len(parsed.model_fields_set)):
            return parsed
        with _no_collection():
            return self._applicant(body, parsed)

    def _lenient(self, body: bytes) -> BaseModel | None:
        try:
            return self.model.model_validate_json(body)
        except (ValueError, RecursionError):
            return None

    def batch(self, body: bytes) -> list[BaseModel]:
        """The applicants of a /score_batch body, or BadRequest."""
        with _no_collection():
            return self._batch(body)

    def _applicant(self, body: bytes, parsed: BaseModel | None) -> BaseModel:
        """`parsed`: the fast parser's applicant (None: it refused the body), whose body may repeat a key."""
        if parsed is not None:
            repeats, count = self._repeats(body)
            if repeats:
                raise self._refusal(repeats, "the applicant", hidden=count - len(repeats))
            return parsed
        data = self._json(body)
        if not isinstance(data, dict):
            raise BadRequest(
                "the body must be a JSON object of one applicant's fields",
                [_entry("model_type", [], "expected a JSON object of the applicant's fields")],
            )
        repeats, count = self._repeats(body) if may_repeat_keys(body, len(data)) else ([], 0)
        problems = list(repeats)
        read = self._row(data, [], problems)
        if read is None or repeats:
            raise self._refusal(problems, "the applicant", hidden=count - len(repeats))
        return read

    def _batch(self, body: bytes) -> list[BaseModel]:
        items = max(body.count(b":"), body.count(b","))
        if items > self.max_items:
            raise BadRequest(
                f"the body holds about {items:,} fields or values; a batch of at most {self.max_rows:,} applicants "
                f"holds at most {self.max_items:,}",
                [_entry("too_many_fields", [], f"at most {self.max_items:,} fields or values in one request")],
            )
        data = self._json(body)
        if not isinstance(data, dict) or "applicants" not in data:
            raise BadRequest(
                'the body must be a JSON object {"applicants": [...]}',
                [_entry("model_type" if not isinstance(data, dict) else "missing", ["applicants"], "Field required")],
            )
        rows = data["applicants"]
        members = len(data) + (sum(len(r) for r in rows if isinstance(r, dict)) if isinstance(rows, list) else 0)
        repeats, count = self._repeats(body) if may_repeat_keys(body, members) else ([], 0)
        problems = list(repeats)
        hidden = count - len(repeats)
        extra = list(itertools.islice((k for k in data if k != "applicants"), 3))
        if extra:
            problems.append(self._unknown(len(data) - 1, extra, []))
        if not isinstance(rows, list):
            problems.append(_entry("list_type", ["applicants"], "Input should be a valid list"))
            raise self._refusal(problems, "the batch", hidden=hidden)
        if not 1 <= len(rows) <= self.max_rows:
            problems.append(
                _entry(
                    "too_short" if not rows else "too_long",
                    ["applicants"],
                    f"between 1 and {self.max_rows:,} applicants, got {len(rows):,}",
                )
            )
            raise self._refusal(problems, "the batch", hidden=hidden)
        out = []
        for i, row in enumerate(rows):
            if len(problems) >= self.max_errors:
                raise self._refusal(problems, "the batch", stopped_at=i, hidden=hidden)
            if not isinstance(row, dict):
                problems.append(_entry("model_type", ["applicants", i], "expected a JSON object of applicant fields"))
                continue
            applicant = self._row(row, ["applicants", i], problems)
            if applicant is not None:
                out.append(applicant)
        if problems:
            raise self._refusal(problems, "the batch", hidden=hidden)
        return out

    @staticmethod
    def _json(body: bytes) -> object:
        try:
            return from_json(body or b"null", allow_inf_nan=False, cache_strings="keys")
        except ValueError as err:
            if "recursion limit" in str(err):
                raise _json_refusal(RecursionError()) from None
        # what the fast parser refuses as a whole (lone surrogates, integers too long, numbers out of range) Python's
        # parser reads, so that the field holding it gets the error; truly broken JSON gets Python's line and column.
        # It is given text: from bytes it would read UTF-16 and UTF-32 too, whose keys the check for a repeated
        # key (`may_repeat_keys`, on the bytes) cannot see.
        try:
            text = _utf8(body)
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise _json_refusal(RecursionError()) from None
        except ValueError as err:
            if "integer string conversion" not in str(err):
                raise _json_refusal(err) from None
        try:
            return json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as err:
            raise _json_refusal(err) from None

    def _row(self, data: dict, loc: list[str | int], problems: list[dict[str, Any]]) -> BaseModel | None:
        """Validate one applicant's fields; None (and entries appended to `problems`) when they are not valid."""
        unknown = len(data) - len(data.keys() & self.allowed)
        if unknown:
            first = list(itertools.islice((k for k in data if k not in self.allowed), 3))
            problems.append(self._unknown(unknown, first, loc))
            data = {k: data[k] for k in self.order if k in data}
        try:
            applicant = self.model.model_validate(data)
        except ValidationError as err:
            for e in err.errors(include_url=False, include_context=False):
                kind, msg = e["type"], e["msg"]
                if isinstance(e.get("input"), OversizedNumber):
                    msg = f"a number of {e['input'].digits:,} digits; at most {MAX_INT_DIGITS:,} are read"
                elif e.get("input", ...) is None and len(e["loc"]) == 1:  # null for an input that may not be missing
                    kind, msg = "missing", f"{MISSING_REQUIRED} (null was sent)"
                elif kind in _NUMBER_TYPES and isinstance(e.get("input"), str):
                    msg = f"{msg}: send it as a JSON number, not as text in quotes"
                elif kind == "literal_error" and e["loc"][0] in self.coded:
                    msg = f"{msg}, as text or as a JSON integer"
                problems.append(_entry(kind, [*loc, *e["loc"]], msg))
            return None
        return None if unknown else applicant

    def _repeats(self, body: bytes) -> tuple[list[dict[str, Any]], int]:
        """Entries for the first `max_errors` keys the body gives twice in one object, and how many there are."""
        data = repeated_keys(body)
        found: list[tuple[list[str | int], list[str]]] = []
        if isinstance(data, _Members) and data.repeated:
            found.append(([], data.repeated))
        rows = data.get("applicants") if isinstance(data, _Members) else None
        for i, row in enumerate(rows if isinstance(rows, list) else []):
            if isinstance(row, _Members) and row.repeated:
                found.append((["applicants", i], row.repeated))
        shown = [_repeated_entry(loc, key) for loc, keys in found for key in keys[: self.max_errors]]
        return shown[: self.max_errors], sum(len(keys) for _, keys in found)

    def _unknown(self, count: int, first: list[str], loc: list[str | int]) -> dict[str, Any]:
        names = ", ".join(shown_name(k) for k in first)
        msg = (
            f"unknown field {names}"
            if count == 1
            else f"{count:,} unknown fields, first: {names}{', ...' if count > len(first) else ''}"
        )
        known = [k for k in first if k in self.not_inputs]
        if count == 1 and known:
            msg += f": {self.not_inputs[known[0]]}, not a model input; leave it out"
        elif known:
            roles = ", ".join(f"{shown_name(k)} ({self.not_inputs[k]})" for k in known)
            msg += f"; not model inputs, leave them out: {roles}"
        return _entry("extra_forbidden", [*loc, str(first[0])[:NAME_CHARS]], msg)

    def _refusal(
        self, problems: list[dict[str, Any]], what: str, stopped_at: int | None = None, hidden: int = 0
    ) -> BadRequest:
        """`hidden`: problems found beyond those `problems` lists (counted, not listed)."""
        shown = problems[: self.max_errors]
        count = len(problems) + hidden
        summary = f"{count:,} problem{'s' if count != 1 else ''} with {what}"
        if count > len(shown):
            summary += f"; the first {len(shown)} are listed"
        if stopped_at == 0:
            summary += "; no applicant's fields were checked"
        elif stopped_at is not None:
            summary += f"; the fields of applicants {stopped_at} on were not checked"
        first = shown[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return BadRequest(f"{summary} (first: {where}: {first['msg']})", shown)

"""Bounded cost per request: the reader of /score and /score_batch bodies, without a server.

Its verdicts are checked against pydantic's own validation of the same body (the independent side); its bounds
against the body (sizes, counts, what it names).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from thinfile.features.schema import FeatureType, Schema
from thinfile.serving import contract
from thinfile.serving.contract import BadRequest, RequestReader, applicant_model

MAX_ERRORS = 5


@pytest.fixture(scope="module")
def reader(schema: Schema) -> RequestReader:
    return RequestReader(schema, max_rows=1000, max_errors=MAX_ERRORS)


def refusal(read, body: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as err:
        read(body)
    return err.value


def test_330000_unknown_fields_are_one_error_naming_the_first_three(reader: RequestReader, thin_body: dict) -> None:
    unknown = {f"{i:x}": 0 for i in range(330_000)}
    body = json.dumps({**thin_body, **unknown}).encode()
    err = refusal(reader.applicant, body)
    assert err.detail == [
        {"type": "extra_forbidden", "loc": ["0"], "msg": "330,000 unknown fields, first: '0', '1', '2', ..."}
    ]
    assert len(err.body()) < 300 < len(body) // 10_000


def test_one_unknown_field_is_named_alone(reader: RequestReader, thin_body: dict) -> None:
    err = refusal(reader.applicant, json.dumps({**thin_body, "favourite_colour": "blue"}).encode())
    assert err.detail == [
        {"type": "extra_forbidden", "loc": ["favourite_colour"], "msg": "unknown field 'favourite_colour'"}
    ]


def test_the_tables_id_sent_with_the_inputs_is_refused_saying_to_leave_it_out(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    err = refusal(reader.applicant, json.dumps({schema.id_column: "a-17", **thin_body}).encode())
    assert err.detail == [
        {
            "type": "extra_forbidden",
            "loc": [schema.id_column],
            "msg": f"unknown field '{schema.id_column}': the table's id column, not a model input; leave it out",
        }
    ]


def test_the_tables_borrower_sent_with_the_inputs_is_refused_saying_to_leave_it_out(
    schema: Schema, thin_body: dict
) -> None:
    reader = RequestReader(schema.model_copy(update={"borrower_column": "customer"}), max_rows=10)
    (entry,) = refusal(reader.applicant, json.dumps({"customer": "C-9", **thin_body}).encode()).detail
    assert entry["msg"] == "unknown field 'customer': the table's borrower column, not a model input; leave it out"


def test_a_whole_table_row_is_refused_naming_what_its_extra_columns_are(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    row = {schema.id_column: "a-17", schema.target: 0, "note": "x", **thin_body}
    (entry,) = refusal(reader.applicant, json.dumps(row).encode()).detail
    assert entry["msg"].startswith(f"3 unknown fields, first: '{schema.id_column}', '{schema.target}', 'note'; ")
    assert f"'{schema.target}' (the outcome the model predicts)" in entry["msg"] and "'note' (" not in entry["msg"]


def test_a_batch_lists_at_most_max_errors_and_stops_checking(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    bad_row = {name: [] for name in schema.feature_names}
    err = refusal(reader.batch, json.dumps({"applicants": [thin_body, *[bad_row] * 999]}).encode())
    assert len(err.detail) == MAX_ERRORS
    assert all(d["loc"][:2] == ["applicants", 1] for d in err.detail)
    assert err.summary.startswith(f"{len(schema.feature_names)} problems with the batch; the first 5 are listed")
    assert "; the fields of applicants 2 on were not checked" in err.summary
    assert len(err.body()) < 2_000


def test_a_body_with_more_fields_than_a_full_batch_is_refused_before_it_is_parsed(
    reader: RequestReader, thin_body: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(*args: object, **kwargs: object) -> object:
        raise AssertionError("the body was parsed")

    body = json.dumps({"applicants": [{**thin_body, **{f"{i:x}": 0 for i in range(60_000)}}]}).encode()
    monkeypatch.setattr(contract.json, "loads", no_parsing)
    err = refusal(reader.batch, body)
    assert err.detail[0]["type"] == "too_many_fields" and "60,0" in err.summary


def test_too_many_and_too_few_rows_name_the_list(reader: RequestReader, thin_body: dict) -> None:
    for rows in ([], [thin_body] * 1001):
        err = refusal(reader.batch, json.dumps({"applicants": rows}).encode())
        assert [d["loc"] for d in err.detail] == [["applicants"]]


def test_an_integer_too_long_to_read_is_an_error_on_its_field(reader: RequestReader, thin_body: dict) -> None:
    body = json.dumps({**thin_body, "bureau_accounts_open": 7}).encode().replace(b": 7", b": " + b"9" * 5000)
    err = refusal(reader.applicant, body)
    assert [d["loc"] for d in err.detail] == [["bureau_accounts_open"]]
    assert "5,000 digits" in err.detail[0]["msg"]
    batch = b'{"applicants": [' + json.dumps(thin_body).encode() + b", " + body + b"]}"
    assert [d["loc"] for d in refusal(reader.batch, batch).detail] == [["applicants", 1, "bureau_accounts_open"]]


def test_a_lone_surrogate_is_an_error_on_its_field(reader: RequestReader, schema: Schema, thin_body: dict) -> None:
    category = next(f.name for f in schema.features if f.type is FeatureType.category)
    as_value = refusal(reader.applicant, json.dumps({**thin_body, category: "\ud800"}).encode())
    assert [d["loc"] for d in as_value.detail] == [[category]]
    as_key = refusal(reader.applicant, json.dumps({**thin_body, "\udc00": 1}).encode())
    assert [d["loc"] for d in as_key.detail] == [["\udc00"]]
    as_key.summary.encode("utf-8")  # fit for a UTF-8 log line
    json.loads(as_key.body())


@pytest.mark.parametrize(
    "body,words",
    [
        (b"[" * 100_000, "nests too deeply"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"phone_tenure_months": 4', "not valid JSON"),
        (b'{"\xff": 1}', "not UTF-8"),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_one_error(reader: RequestReader, body: bytes, words: str) -> None:
    err = refusal(reader.applicant, body)
    assert len(err.detail) == 1 and words in err.summary


def test_errors_name_fields_never_values(reader: RequestReader, thin_body: dict) -> None:
    secret = "applicant-secret-8513"
    body = {**thin_body, "occupation_sector": secret, "bureau_utilisation": 8513.25, secret: 1}
    err = refusal(reader.applicant, json.dumps(body).encode())
    assert b"8513" not in err.body().replace(secret.encode(), b"") and "8513.25" not in err.summary
    assert {tuple(d["loc"]) for d in err.detail} == {("occupation_sector",), ("bureau_utilisation",), (secret,)}


def _value(schema: Schema):
    """Hypothesis: a JSON value that is sometimes right for a feature and often not."""
    anything = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.lists(st.integers(), max_size=2),
    )
    return anything | st.sampled_from([c for f in schema.features for c in f.levels])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_the_reader_agrees_with_pydantic_on_every_body(schema: Schema, thin_body: dict, data: st.DataObject) -> None:
    reader = RequestReader(schema, max_rows=1000, max_errors=100)
    names = [*schema.feature_names, *schema.protected_names, "unknown_a", "unknown_b"]
    changes = data.draw(st.dictionaries(st.sampled_from(names), _value(schema), max_size=4))
    dropped = data.draw(st.sets(st.sampled_from(list(thin_body)), max_size=2))
    body = json.dumps({**{k: v for k, v in thin_body.items() if k not in dropped}, **changes}).encode()
    try:
        expected = applicant_model(schema).model_validate_json(body)
    except ValidationError as err:
        with pytest.raises(BadRequest) as ours:
            reader.applicant(body)
        unknown = [e["loc"] for e in err.errors() if e["type"] == "extra_forbidden"]  # one entry names the first
        expected = {e["loc"] for e in err.errors() if e["type"] != "extra_forbidden"} | set(unknown[:1])
        assert {tuple(d["loc"]) for d in ours.value.detail} == expected
    else:
        assert reader.applicant(body) == expected


def test_a_refusal_names_a_chinese_field_in_readable_utf8(reader: RequestReader, thin_body: dict) -> None:
    body = refusal(reader.applicant, json.dumps({**thin_body, "芝麻分": 700}).encode()).body()
    assert "芝麻分".encode() in body
    assert json.loads(body)["detail"][0]["loc"] == ["芝麻分"]


def test_a_refusal_of_a_field_named_by_a_lone_surrogate_is_still_json(reader: RequestReader, thin_body: dict) -> None:
    sent = json.dumps({**thin_body, "\ud800": 1}).encode()  # the JSON escape \ud800: valid JSON, not valid UTF-8
    body = refusal(reader.applicant, sent).body()
    body.decode("utf-8")
    assert json.loads(body)["detail"][0]["loc"] == ["\ud800"]


def test_a_field_given_twice_is_refused_naming_it(reader: RequestReader, schema: Schema, thin_body: dict) -> None:
    name = next(iter(thin_body))
    text = json.dumps(thin_body)
    body = ("{" + f'"{name}" :\n{json.dumps(thin_body[name])}, ' + text[1:]).encode()
    assert json.loads(body) == thin_body  # Python's parser keeps the last silently
    err = refusal(reader.applicant, body)
    assert [(e["type"], e["loc"]) for e in err.detail] == [("duplicate_key", [name])]
    assert f"(first: {name}: given more than once" in err.summary and err.summary.count(name) == 1


def test_a_field_given_twice_and_an_unknown_one_are_both_reported(reader: RequestReader, thin_body: dict) -> None:
    name = next(iter(thin_body))
    body = ("{" + f'"{name}": 1, "colour": "red", ' + json.dumps(thin_body)[1:]).encode()
    err = refusal(reader.applicant, body)
    assert [(e["type"], e["loc"]) for e in err.detail] == [("duplicate_key", [name]), ("extra_forbidden", ["colour"])]
    assert err.summary.startswith("2 problems")


def test_a_batch_row_with_a_field_given_twice_and_another_with_a_bad_value_are_both_reported(
    reader: RequestReader, thin_body: dict
) -> None:
    name = next(iter(thin_body))
    twice = "{" + f'"{name}": 1, ' + json.dumps(thin_body)[1:]
    bad = json.dumps({**thin_body, name: "many"})
    err = refusal(reader.batch, f'{{"applicants": [{twice}, {bad}]}}'.encode())
    assert [e["loc"] for e in err.detail] == [["applicants", 0, name], ["applicants", 1, name]]
    assert [e["type"] for e in err.detail][0] == "duplicate_key" and err.summary.startswith("2 problems")


def test_each_field_given_twice_has_its_own_error_at_its_own_place(reader: RequestReader, thin_body: dict) -> None:
    first, second = list(thin_body)[:2]
    body = ("{" + f'"{first}": 1, "{second}": 2, ' + json.dumps(thin_body)[1:]).encode()
    err = refusal(reader.applicant, body)
    assert [(e["type"], e["loc"]) for e in err.detail] == [("duplicate_key", [first]), ("duplicate_key", [second])]
    assert err.summary.startswith("2 problems")


def test_100000_fields_given_twice_are_counted_and_the_first_five_listed(
    reader: RequestReader, thin_body: dict
) -> None:
    twice = ", ".join(f'"k{i:x}": 0, "k{i:x}": 1' for i in range(100_000))
    err = refusal(reader.applicant, ("{" + twice + ", " + json.dumps(thin_body)[1:]).encode())
    assert [e["loc"] for e in err.detail] == [[f"k{i:x}"] for i in range(5)]
    # 100,000 repeats, and one entry for the 100,000 unknown fields they also are
    assert err.summary.startswith("100,001 problems") and "the first 5 are listed" in err.summary


def test_a_field_given_twice_in_a_batch_row_is_refused_naming_the_row(reader: RequestReader, thin_body: dict) -> None:
    name = next(iter(thin_body))
    row = json.dumps(thin_body)
    twice = "{" + f'"{name}": {json.dumps(thin_body[name])},' + row[1:]
    body = f'{{"applicants": [{row}, {twice}]}}'.encode()
    err = refusal(reader.batch, body)
    assert [(e["type"], e["loc"]) for e in err.detail] == [("duplicate_key", ["applicants", 1, name])]


def test_a_text_value_that_looks_like_a_key_is_not_taken_for_a_repeat(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    category = next(f for f in schema.features if f.type is FeatureType.category)
    body = json.dumps({**thin_body, category.name: 'x": '}).encode()
    err = refusal(reader.applicant, body)
    assert [e["type"] for e in err.detail] != ["duplicate_key"] and "more than once" not in err.summary


def test_null_for_an_input_that_may_not_be_missing_is_said_as_batch_jobs_say_it(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    required = next(f.name for f in schema.features if not f.nullable)
    err = refusal(reader.applicant, json.dumps({**thin_body, required: None}).encode())
    assert err.detail == [{"type": "missing", "loc": [required], "msg": "is missing but required (null was sent)"}]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_body_in_utf16_or_utf32_is_refused_as_not_utf8_even_with_a_field_given_twice(
    reader: RequestReader, thin_body: dict, encoding: str
) -> None:
    name = next(iter(thin_body))
    text = "{" + f'"{name}": {json.dumps(thin_body[name])}, ' + json.dumps(thin_body)[1:]
    assert json.loads(text.encode(encoding)) == thin_body  # Python's parser reads these encodings from bytes
    for read in (reader.applicant, reader.batch):
        body = text if read == reader.applicant else f'{{"applicants": [{text}]}}'
        err = refusal(read, body.encode(encoding))
        assert err.summary.startswith("the body is not UTF-8 text"), err.summary


def test_a_utf8_body_with_a_byte_order_mark_is_read(reader: RequestReader, thin_body: dict) -> None:
    body = json.dumps(thin_body).encode("utf-8-sig")
    assert reader.applicant(body).model_dump(exclude_unset=True) == thin_body


def test_a_batch_of_rows_each_giving_a_field_twice_counts_them_all_and_says_no_fields_were_checked(
    reader: RequestReader, thin_body: dict
) -> None:
    name = next(iter(thin_body))
    twice = "{" + f'"{name}": 1, ' + json.dumps(thin_body)[1:]
    err = refusal(reader.batch, ('{"applicants": [' + ", ".join([twice] * 400) + "]}").encode())
    assert [e["loc"] for e in err.detail] == [["applicants", i, name] for i in range(5)]
    assert err.summary.startswith("400 problems with the batch; the first 5 are listed; no applicant's fields were")


def test_a_utf8_body_with_a_raw_nul_inside_a_value_is_refused_as_invalid_json_not_as_another_encoding(
    reader: RequestReader, schema: Schema, thin_body: dict
) -> None:
    category = next(f for f in schema.features if f.type is FeatureType.category)
    body = json.dumps({**thin_body, category.name: "a\x00b"}).replace("\\u0000", "\x00").encode()
    with pytest.raises(ValueError, match="control character"):
        json.loads(body)  # Python's parser says so too
    err = refusal(reader.applicant, body)
    assert err.summary.startswith("the body is not valid JSON") and "control character" in err.summary

"""The issue's acceptance points, against the real service started with `bentoml serve` (see conftest)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from thinfile.features.schema import DIMENSIONS, Schema
from thinfile.serving.audit import AUDIT_FIELDS, CHAIN_FIELDS, AuditQuery, query_audit
from thinfile.serving.batch import batch_score
from thinfile.serving.contract import applicant_model, canonical_input, request_body
from thinfile.serving.settings import ServingSettings
from thinfile.training.settings import CHAMPION_ALIAS

pytestmark = pytest.mark.slow

ANSWER_FIELDS = {"request_id", "score", "band", "pd", "decision", "reasons", "dimensions", "base_points", "model"}


def without_id(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "request_id"}


def assert_same_scoring(answer: dict, library: dict) -> None:
    assert answer["score"] == pytest.approx(library["score"], abs=1e-9)
    assert answer["pd"] == pytest.approx(library["pd"], rel=1e-12)
    assert (answer["band"], answer["decision"]) == (library["band"], library["decision"])
    assert answer["reasons"] == library["reasons"]
    assert answer["dimensions"] == pytest.approx(library["dimensions"], abs=1e-9)


def test_good_applicant_gets_every_field_as_the_library_scores_it(served, schema: Schema, bodies: list[dict]) -> None:
    with served.client() as client:
        for body in bodies[:5]:
            response = client.post("/score", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert set(answer) == ANSWER_FIELDS
            assert 350 <= answer["score"] <= 950 and 0 < answer["pd"] < 1
            assert answer["decision"] in ("approve", "refer", "decline")
            assert len(answer["reasons"]) <= 4 and set(answer["dimensions"]) == set(DIMENSIONS)
            assert answer["model"] == {
                "name": served.scorer.meta["name"],
                "version": served.scorer.meta["version"],
                "run_id": served.scorer.meta["run_id"],
            }
            assert_same_scoring(answer, served.library(schema, body))


def test_thin_file_with_every_optional_field_missing_is_scored(served, schema: Schema, thin_body: dict) -> None:
    with served.client() as client:
        response = client.post("/score", json=thin_body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == ANSWER_FIELDS
    assert_same_scoring(answer, served.library(schema, thin_body))


@pytest.mark.parametrize(
    "field,value",
    [
        ("bureau_accounts_open", "three"),
        ("bureau_accounts_open", 1.5),
        ("bureau_utilisation", 7.0),
        ("occupation_sector", "astronaut"),
        ("salary_inflow", "sometimes"),
        ("favourite_colour", "blue"),
    ],
)
def test_each_bad_input_gets_a_4xx_naming_the_field(served, thin_body: dict, field: str, value: object) -> None:
    with served.client() as client:
        response = client.post("/score", json={**thin_body, field: value})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [[field]] and detail[0]["msg"]


def test_missing_required_field_and_broken_json_get_400(served, thin_body: dict) -> None:
    required = next(iter(thin_body))
    with served.client() as client:
        missing = client.post("/score", json={k: v for k, v in thin_body.items() if k != required})
        broken = client.post(
            "/score", content=b'{"phone_tenure_months": 4', headers={"Content-Type": "application/json"}
        )
        array = client.post("/score", json=[thin_body])
        form = client.post("/score", data={"a": "b"})
    assert missing.status_code == 400 and missing.json()["detail"][0]["loc"] == [required]
    assert broken.status_code == 400 and broken.json()["detail"][0]["type"] == "json_invalid"
    assert array.status_code == 400
    assert form.status_code == 415


def test_protected_attributes_are_refused(served, schema: Schema, thin_body: dict) -> None:
    with served.client() as client:
        for name in schema.protected_names:
            response = client.post("/score", json={**thin_body, name: "rural"})
            assert response.status_code == 400
            detail = response.json()["detail"]
            assert [(d["type"], d["loc"]) for d in detail] == [("protected_attribute", [name])]
            assert "protected attribute" in detail[0]["msg"]


def test_requests_without_the_key_get_401(served, thin_body: dict) -> None:
    with served.client(key=None) as client:
        assert client.post("/score", json=thin_body).status_code == 401
        assert client.post("/score_batch", json={"applicants": [thin_body]}).status_code == 401
        assert client.get("/model").status_code == 401
        assert client.get("/readyz").status_code == 200
    with served.client(key="not-the-key") as client:
        assert client.post("/score", json=thin_body).status_code == 401


def test_one_audit_record_per_decision_and_no_raw_inputs(served, schema: Schema, bodies: list[dict]) -> None:
    with served.client() as client:
        answers = [client.post("/score", json=b).json() for b in bodies[:6]]
    text = served.audit_log.read_text()
    model = applicant_model(schema)
    for body, answer in zip(bodies[:6], answers):
        (stored,) = query_audit(served.audit_log, AuditQuery(request_id=answer["request_id"]))
        assert tuple(stored) == AUDIT_FIELDS + CHAIN_FIELDS
        canonical = canonical_input(schema, model.model_validate(body))
        assert stored["input_hmac"] == hmac.new(served.audit_key.encode(), canonical, hashlib.sha256).hexdigest()
        assert (stored["score"], stored["decision"], stored["model_version"]) == (
            answer["score"],
            answer["decision"],
            answer["model"]["version"],
        )
        assert stored["reasons"] == [{"code": r["code"], "points_lost": r["points_lost"]} for r in answer["reasons"]]
    for line in text.splitlines():
        assert not set(json.loads(line)) & set(schema.feature_names)
    for body in bodies[:6]:
        for name in ("declared_income_rmb", "mobile_payment_volume_rmb", "money_market_balance_rmb"):
            if name in body and body[name] >= 1:
                assert json.dumps(body[name]) not in text


def test_batch_equals_single_row_by_row(served, bodies: list[dict], thin_body: dict) -> None:
    rows = [*bodies, thin_body]
    with served.client() as client:
        singles = [client.post("/score", json=b).json() for b in rows]
        batch = client.post("/score_batch", json={"applicants": rows})
    assert batch.status_code == 200, batch.text
    assert [without_id(a) for a in batch.json()] == [without_id(a) for a in singles]
    assert len({a["request_id"] for a in batch.json()}) == len(rows)


def test_a_batch_job_gives_the_answers_the_service_gives_over_http(
    served, population: pd.DataFrame, schema: Schema, tmp_path: Path
) -> None:
    rows = population.iloc[-300:]
    rows.to_parquet(tmp_path / "book.parquet")
    batch_score(tmp_path / "book.parquet", tmp_path / "out", served.scorer, chunk_rows=100, workers=1)
    job = pq.read_table(tmp_path / "out" / "scores").to_pandas().set_index(schema.id_column).loc[rows[schema.id_column]]
    bodies = [request_body(schema, r) for _, r in rows.iterrows()]
    answers = []
    with served.client() as client:
        for start in range(0, len(bodies), served.max_batch_rows):
            response = client.post("/score_batch", json={"applicants": bodies[start : start + served.max_batch_rows]})
            assert response.status_code == 200, response.text
            answers += response.json()
    assert [round(float(s), 2) for s in job["score"]] == [a["score"] for a in answers]  # answers carry 2 decimals
    np.testing.assert_allclose(job["pd"], [a["pd"] for a in answers], rtol=1e-12)
    assert list(job["decision"]) == [a["decision"] for a in answers]
    for k in (1, 2):
        codes = [a["reasons"][k - 1]["code"] if len(a["reasons"]) >= k else None for a in answers]
        assert [None if pd.isna(c) else c for c in job[f"reason_{k}_code"]] == codes
        lost = [a["reasons"][k - 1]["points_lost"] if len(a["reasons"]) >= k else None for a in answers]
        assert [None if pd.isna(x) else round(float(x), 4) for x in job[f"reason_{k}_points_lost"]] == lost


def test_concurrent_batches_are_answered_each_in_order(served, bodies: list[dict]) -> None:
    def post(k: int) -> tuple[int, list[dict]]:
        part = bodies[k % 5 : k % 5 + 3]
        with served.client() as client:
            return k, client.post("/score_batch", json={"applicants": part}).json()

    with served.client() as client:
        expected = {i: without_id(client.post("/score", json=b).json()) for i, b in enumerate(bodies[:8])}
    with ThreadPoolExecutor(8) as pool:
        for k, answers in pool.map(post, range(16)):
            assert [without_id(a) for a in answers] == [expected[k % 5 + j] for j in range(3)]


def test_batch_is_bounded(served, thin_body: dict) -> None:
    with served.client() as client:
        too_many = client.post("/score_batch", json={"applicants": [thin_body] * (served.max_batch_rows + 1)})
        empty = client.post("/score_batch", json={"applicants": []})
        bad_row = client.post("/score_batch", json={"applicants": [thin_body, {**thin_body, "gender": "f"}]})
        huge = client.post(
            "/score", content=b" " * (served.max_row_bytes + 1), headers={"Content-Type": "application/json"}
        )
    assert too_many.status_code == 400 and too_many.json()["detail"][0]["loc"] == ["applicants"]
    assert empty.status_code == 400
    assert bad_row.status_code == 400 and bad_row.json()["detail"][0]["loc"] == ["applicants", 1, "gender"]
    assert huge.status_code == 413


def test_model_endpoint_names_the_model_its_metrics_and_the_input_schema(served, schema: Schema) -> None:
    with served.client() as client:
        card = client.get("/model").json()
    meta = served.scorer.meta
    assert card["model"]["version"] == meta["version"] and card["model"]["run_id"] == meta["run_id"]
    assert CHAMPION_ALIAS in card["model"]["aliases"]
    assert datetime.fromisoformat(card["model"]["loaded_at"]) <= datetime.now(UTC)  # aliases as of then
    assert card["metrics"]["auc"] == pytest.approx(0.77)
    assert list(card["input_schema"]["properties"]) == schema.feature_names
    assert card["cutoffs"] == served.scorer.cutoffs.model_dump()
    assert card["schema"]["fingerprint"] == schema.fingerprint


def test_bentoml_health_metrics_and_docs_are_served(served) -> None:
    with served.client(key=None) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert "bentoml_service_request" in client.get("/metrics").text
        assert {"/score", "/score_batch"} <= set(client.get("/docs.json").json()["paths"])
        docs = client.get("/docs")
        assert docs.status_code in (302, 307) and docs.headers["location"].endswith("/")


@pytest.mark.parametrize("value", [None, {}, [], "", "x" * 10_000, 10**30, -1, True, 0.5])
def test_no_value_in_any_field_produces_a_5xx(served, schema: Schema, thin_body: dict, value: object) -> None:
    with served.client() as client:
        for name in [*schema.feature_names, *schema.protected_names, "unknown"]:
            for path, body in (
                ("/score", {**thin_body, name: value}),
                ("/score_batch", {"applicants": [{**thin_body, name: value}]}),
            ):
                response = client.post(path, json=body)
                assert response.status_code < 500, (path, name, value, response.text)
                if response.status_code == 400:
                    assert all(d["loc"] for d in response.json()["detail"])


def logged_during(served, action) -> str:
    """What the service wrote to its log while `action()` ran."""
    before = served.log.stat().st_size
    action()
    time.sleep(0.3)
    with open(served.log, "rb") as fh:
        fh.seek(before)
        return fh.read().decode("utf-8", "replace")


def test_330000_unknown_keys_cost_a_short_answer_and_one_log_line(served) -> None:
    body = json.dumps({f"{i:x}": 0 for i in range(330_000)}).encode()
    answers = {}

    def post() -> None:
        with served.client() as client:
            for path in ("/score", "/score_batch"):
                answers[path] = client.post(path, content=body, headers={"Content-Type": "application/json"})

    text = logged_during(served, post)
    assert {path: r.status_code for path, r in answers.items()} == {"/score": 413, "/score_batch": 413}
    assert all(len(r.content) < 300 for r in answers.values())
    assert "Traceback" not in text and len(text) < 2_000


def test_a_bad_body_within_bounds_gets_a_few_errors_and_one_info_line_without_values(served, thin_body: dict) -> None:
    secret = "applicant-secret-8513"
    unknown = {f"k{i}": 0 for i in range(1_200)}
    answers = []

    def post() -> None:
        with served.client() as client:
            answers.append(client.post("/score", json={**thin_body, **unknown, "occupation_sector": secret}))

    text = logged_during(served, post)
    (answer,) = answers
    assert answer.status_code == 400 and len(answer.content) < 1_000
    assert [d["loc"] for d in answer.json()["detail"]] == [["k0"], ["occupation_sector"]]
    assert "1,200 unknown fields, first: 'k0', 'k1', 'k2'" in answer.json()["detail"][0]["msg"]
    (line,) = [x for x in text.splitlines() if "/score -> 400" in x]
    assert "[INFO]" in line and "Traceback" not in text and secret not in text


def test_long_integers_and_lone_surrogates_get_errors_naming_the_field(served, schema: Schema, thin_body: dict) -> None:
    category = next(f.name for f in schema.features if f.levels)
    long_int = json.dumps({**thin_body, "bureau_accounts_open": 7}).replace(": 7", ": " + "9" * 5000)
    surrogate = json.dumps({**thin_body, category: "\ud800"})
    with served.client() as client:
        for raw, field in ((long_int, "bureau_accounts_open"), (surrogate, category)):
            for path, content in (("/score", raw), ("/score_batch", '{"applicants": [' + raw + "]}")):
                response = client.post(path, content=content, headers={"Content-Type": "application/json"})
                assert response.status_code == 400, response.text
                assert response.json()["detail"][0]["loc"][-1] == field


def test_the_server_log_names_each_workers_audit_chain(served, bodies: list[dict]) -> None:
    with served.client() as client:
        assert client.post("/score", json=bodies[0]).status_code == 200
    chains = {json.loads(line)["chain"] for line in served.audit_log.read_text().splitlines() if '"chain"' in line}
    said = served.log.read_text()
    assert chains and all(f"this worker's chain {c} starts at seq 0" in said for c in chains)


def test_a_request_with_both_content_length_and_transfer_encoding_is_refused_and_its_connection_closed(
    served, bodies: list[dict]
) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    body = json.dumps(bodies[0]).encode()
    with served.client() as client:
        authorization = client.headers["Authorization"]
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {authorization}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"connection: close" in head.lower()
    assert "Content-Length and Transfer-Encoding" in json.loads(text)["error"]


def test_a_body_sent_byte_by_byte_gets_408_before_the_request_timeout(served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    body = b'{"phone_tenure_months": 12}'
    with served.client() as client:
        authorization = client.headers["Authorization"]
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {authorization}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        answer = b""
        for byte in body:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            conn.settimeout(1.0)
            with contextlib.suppress(TimeoutError):
                answer += conn.recv(4096)
            if answer:
                break
        conn.settimeout(30)
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < ServingSettings().timeout_s


def test_a_whole_number_input_is_documented_and_read_as_a_number_with_no_fraction(
    served, schema: Schema, thin_body: dict
) -> None:
    name = next(f.name for f in schema.features if f.type.value == "int" and f.max is not None and f.max >= 10)
    with served.client() as client:
        document = client.get("/docs.json").json()
        spec = document["components"]["schemas"]["Applicant"]["properties"][name]
        assert (spec["type"], spec["multipleOf"]) == ("number", 1)
        assert client.post("/score", json={**thin_body, name: 9.0}).json() == {
            **client.post("/score", json={**thin_body, name: 9}).json(),
            "request_id": ANY,
        }
        refused = client.post("/score", json={**thin_body, name: 9.5})
    assert refused.status_code == 400 and refused.json()["detail"][0]["loc"] == [name]

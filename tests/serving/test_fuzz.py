"""Fuzzing (short, for CI): schemathesis generates valid and invalid requests for every route of the running
service from its own OpenAPI document, with the API key and without it. No answer may be a 5xx, and every answer
must match what the document says (status, content type, body schema). `bench/fuzz.py` is the long version."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

DOCUMENTED = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/model"),
    ("POST", "/score"),
    ("POST", "/score_batch"),
}


@pytest.mark.parametrize("with_key", [True, False], ids=["with-key", "without-key"])
def test_every_route_answers_as_documented_and_never_with_a_5xx(served, with_key: bool) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/docs.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == ROUTES
    with served.client() as client:
        auth = {k: v for k, v in client.headers.items() if k.lower() == "authorization"} if with_key else {}
    checks = [*DOCUMENTED, positive_data_acceptance, negative_data_rejection] if with_key else DOCUMENTED
    for op in operations:
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if op.method.upper() == "POST" else [None]
        for mode in modes:
            strategy = op.as_strategy(generation_mode=mode) if mode else op.as_strategy()

            @given(case=strategy)
            @settings(
                max_examples=25 if mode else 3,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case) -> None:
                case.call_and_validate(base_url=served.url, headers=auth, checks=checks)

            check()

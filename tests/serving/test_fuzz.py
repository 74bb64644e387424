"""Schemathesis fuzzes the running service from its own OpenAPI document: no request may get a 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", ["/score", "/score_batch"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(served, path, mode):
    operation = schemathesis.openapi.from_url(f"{served.url}/docs.json")[path]["POST"]
    with served.client() as client:
        auth = {k: v for k, v in client.headers.items() if k.lower() in ("authorization", "x-api-key")}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(base_url=served.url, headers=auth)
        assert response.status_code < 500, f"{path} -> {response.status_code}: {response.text[:300]}"
        if mode is GenerationMode.POSITIVE and path == "/score":
            assert response.status_code in (200, 400, 422), response.text[:300]

    check()

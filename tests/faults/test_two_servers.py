"""Two `thinfile serve` on one machine and one THINFILE_HOME: starting the second leaves the first one's /metrics
whole (BentoML empties its metrics folder at every start; each server has its own)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from ports import free_port
from prometheus_client.parser import text_string_to_metric_families
from servers import server_env

pytestmark = pytest.mark.slow


def serve_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "thinfile.cli", "serve", "--port", str(port), "--workers", "1"]


def scores_counted(url: str) -> float:
    """The /score requests a server's /metrics counts, read by prometheus_client's parser."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.endswith("request_total") and sample.labels.get("endpoint") == "/score"
    )


def test_a_second_server_started_beside_the_first_leaves_its_metrics_whole(
    service_home: Path, start_server, applicant: dict
) -> None:
    first_port, second_port = free_port(), free_port()
    first = start_server(serve_cmd(first_port), server_env(service_home), first_port, "first")
    first.wait_for("/readyz")
    for _ in range(4):
        assert httpx.post(f"{first.url}/score", json=applicant, timeout=30).status_code == 200
    before = scores_counted(first.url)
    second = start_server(serve_cmd(second_port), server_env(service_home), second_port, "second")
    second.wait_for("/readyz")
    assert before >= 4 and scores_counted(first.url) == before

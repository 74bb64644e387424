"""The framework's floor for bench/serve.py: a BentoML 1.4 service that parses the JSON body and does nothing."""

from __future__ import annotations

import os
from typing import Any

import bentoml


@bentoml.service(name="noop", workers=int(os.environ.get("NOOP_WORKERS", "2")))
class Noop:
    @bentoml.api(route="/score")
    async def score(self, applicant: dict[str, Any], /) -> dict[str, Any]:
        return {"ok": True}

"""The BentoML service: one registered scorer, loaded once, answering /score, /score_batch and GET /model.

Run with `thinfile serve` (or `bentoml serve thinfile.serving.service:Thinfile`). Scoring is the library's
`Scorer.explain`; this module only validates, encodes, audits and answers.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any

import bentoml
import numpy as np
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from thinfile.features.schema import Schema, load_schema
from thinfile.serving.audit import AuditLog, audit_record
from thinfile.serving.contract import (
    RequestReader,
    applicant_model,
    applicants_to_matrix,
    batch_model,
    input_hash,
    response_model,
)
from thinfile.serving.guard import PARSED, Guard
from thinfile.serving.guard import Route as GuardedRoute
from thinfile.serving.settings import ServingSettings, is_loopback
from thinfile.training.registry import (
    ModelNotFoundError,
    client,
    load_scorer,
    model_name_for,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs

SETTINGS = ServingSettings.from_env()
SCHEMA = load_schema(SETTINGS.schema_file)
Applicant = applicant_model(SCHEMA)
ApplicantBatch = batch_model(SCHEMA, SETTINGS.max_batch_rows)
ScoreResponse = response_model(SETTINGS.top_reasons)
READER = RequestReader(SCHEMA, SETTINGS.max_batch_rows, SETTINGS.max_errors)
AUDIT_UNAVAILABLE = "decision not given: the audit log cannot be written"


class ReadByGuard:
    """Input-spec mixin: the endpoint's input is what the Guard's reader made of the body (no second parse)."""

    @classmethod
    async def from_http_request(cls, request: Request, serde: object) -> object:
        try:
            parsed = request.scope["state"][PARSED]
        except KeyError:
            raise RuntimeError("a scoring request reached the endpoint without the Guard reading it") from None
        return cls.wrap(parsed)

    @classmethod
    def wrap(cls, parsed: Any) -> object:
        return parsed


class ApplicantInput(ReadByGuard, Applicant, bentoml.IODescriptor):  # type: ignore[misc,valid-type]
    __root_input__ = True


class BatchInput(ReadByGuard, ApplicantBatch, bentoml.IODescriptor):  # type: ignore[misc,valid-type]
    model_config = ConfigDict(title="ApplicantBatch")

    @classmethod
    def wrap(cls, parsed: Any) -> object:
        return ApplicantBatch.model_construct(applicants=parsed)


log = logging.getLogger("thinfile.serving")
log.setLevel(logging.INFO)  # refused requests are one INFO line each; BentoML's root logger only passes WARNING


class ServiceStartError(RuntimeError):
    """The service cannot start; the message says why and what to do."""


def bind_host(argv: list[str] | None = None) -> str:
    """The address `bentoml serve` binds: --host, else BENTOML_HOST, else BentoML's default (all interfaces)."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--host" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--host="):
            return arg.split("=", 1)[1]
    return os.environ.get("BENTOML_HOST") or "0.0.0.0"


def check_access(settings: ServingSettings, host: str) -> None:
    """Refuse to serve beyond loopback without an API key."""
    if settings.api_key is None and not is_loopback(host):
        raise ServiceStartError(
            f"refusing to listen on {host} without an API key: set THINFILE_API_KEY (or THINFILE_API_KEY_FILE) "
            "or bind to 127.0.0.1"
        )


def load_model(settings: ServingSettings, schema: Schema) -> Scorer:
    """The registered scorer behind settings.model, checked against the request contract's schema."""
    try:
        scorer = load_scorer(settings.model, settings.model_name or model_name_for(schema))
    except ModelNotFoundError as err:
        raise ServiceStartError(f"no model to serve: {err}") from None
    if scorer.schema.fingerprint != schema.fingerprint:
        raise ServiceStartError(
            f"model version {scorer.meta.get('version')} was trained on schema {scorer.schema.name!r} "
            f"v{scorer.schema.version} ({scorer.schema.fingerprint}), but the service's request contract is built "
            f"from {schema.name!r} v{schema.version} ({schema.fingerprint}); set THINFILE_SCHEMA_FILE to that "
            "model's schema file"
        )
    scorer.num_threads = 1
    if settings.approve_cutoff is not None or settings.refer_cutoff is not None:
        scorer.cutoffs = Cutoffs(
            approve=scorer.cutoffs.approve if settings.approve_cutoff is None else settings.approve_cutoff,
            refer=scorer.cutoffs.refer if settings.refer_cutoff is None else settings.refer_cutoff,
        )
    return scorer


def run_metrics(run_id: str | None) -> dict[str, float]:
    """The metrics MLflow holds for the model's training run ({} when the run cannot be read)."""
    if not run_id:
        return {}
    try:
        return dict(client().get_run(run_id).data.metrics)
    except Exception:
        return {}


async def model_info(request: Request) -> JSONResponse:
    """GET /model: the loaded model's identity, metrics, cut-offs, limits and input schema."""
    service = bentoml.get_current_service()
    return JSONResponse(service.model_card)


async def docs(request: Request) -> RedirectResponse:
    return RedirectResponse(url="/")


extra_routes = Starlette(routes=[Route("/model", model_info, methods=["GET"]), Route("/docs", docs, methods=["GET"])])


@bentoml.service(
    name="thinfile",
    workers=SETTINGS.workers,
    traffic={"timeout": SETTINGS.timeout_s},
    labels={"project": "thinfile", "schema": SCHEMA.name},
)
@bentoml.asgi_app(extra_routes, path="/", name="thinfile-model")
class Thinfile:
    """Scores thin-file applicants with the registered champion; every answer explains itself and is audited."""

    def __init__(self) -> None:
        self.settings = ServingSettings.from_env()
        self.schema = SCHEMA
        self.scorer = load_model(self.settings, self.schema)
        self.scorer.explain(
            np.full((1, len(self.schema.features)), np.nan)
        )  # build TreeSHAP tables, JIT, before traffic
        meta = self.scorer.meta
        self.model: dict[str, str] = {
            "name": str(meta.get("name")),
            "version": str(meta.get("version")),
            "run_id": str(meta.get("run_id") or ""),
        }
        self.audit = AuditLog(self.settings.audit_path())
        self.model_card = {
            "model": {**self.model, "aliases": meta.get("aliases", []), "family": meta.get("family")},
            "metrics": run_metrics(meta.get("run_id")),
            "schema": {
                "name": self.schema.name,
                "version": self.schema.version,
                "fingerprint": self.schema.fingerprint,
            },
            "scale": self.scorer.scale.model_dump(mode="json"),
            "cutoffs": self.scorer.cutoffs.model_dump(mode="json"),
            "limits": {
                "max_batch_rows": self.settings.max_batch_rows,
                "max_body_bytes": self.settings.max_batch_body_bytes,
                "max_row_bytes": self.settings.max_row_bytes,
                "max_errors": self.settings.max_errors,
            },
            "input_schema": Applicant.model_json_schema(),
        }

    @bentoml.on_deployment
    def check_before_workers() -> None:
        """Runs once in `bentoml serve` before any worker: refuse to start rather than crash-loop workers."""
        settings = ServingSettings.from_env()
        check_access(settings, bind_host())
        scorer = load_model(settings, SCHEMA)
        os.environ["THINFILE_MODEL"] = str(scorer.meta["version"])

    def decide(self, applicants: list[BaseModel]) -> list[dict[str, Any]] | Response:
        """Score with the library, then append one audit record per decision before answering (503 if it cannot)."""
        explanation = self.scorer.explain(applicants_to_matrix(self.schema, applicants), self.settings.top_reasons)
        answers, audits = [], []
        records: list[dict[str, Any]] = explanation.records()
        for applicant, record in zip(applicants, records):
            request_id = uuid.uuid4().hex
            record["request_id"] = request_id
            record["model"] = self.model
            answers.append(record)
            audits.append(
                audit_record(
                    request_id,
                    self.model["name"],
                    self.model["version"],
                    input_hash(self.schema, applicant),
                    record["score"],
                    record["decision"],
                    record["reasons"],
                )
            )
        try:
            self.audit.append(audits)
        except OSError as err:
            log.warning("%s (%s); answering 503", AUDIT_UNAVAILABLE, err.strerror or err)
            return JSONResponse(
                {"error": f"{AUDIT_UNAVAILABLE} ({err.strerror or err}); no decision was made, retry later"},
                status_code=503,
                headers={"Retry-After": "30"},
            )
        return answers

    @bentoml.api(route="/score", input_spec=ApplicantInput)
    async def score(self, applicant: Applicant, /) -> ScoreResponse:  # type: ignore[valid-type]
        """Score one applicant: score, band, pd, decision, up to four reasons, five dimension sub-scores."""
        answers = self.decide([applicant])
        return answers if isinstance(answers, Response) else ScoreResponse.model_validate(answers[0])

    @bentoml.api(route="/score_batch", input_spec=BatchInput)
    def score_batch(self, applicants: list[Applicant]) -> list[ScoreResponse]:  # type: ignore[valid-type]
        """Score a list of applicants; answers in the same order."""
        return self.decide(applicants)  # type: ignore[return-value]

    @bentoml.on_shutdown
    def close_audit(self) -> None:
        self.audit.close()


Thinfile.add_asgi_middleware(  # type: ignore[attr-defined]
    Guard,
    api_key=SETTINGS.api_key,
    max_body_bytes=SETTINGS.max_body_bytes,
    routes={
        "/score": GuardedRoute(SETTINGS.max_row_bytes, READER.applicant),
        "/score_batch": GuardedRoute(SETTINGS.max_batch_body_bytes, READER.batch),
    },
)

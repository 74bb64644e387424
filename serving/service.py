"""The BentoML service: one registered scorer, loaded once, answering /score, /score_batch and GET /model.

Run with `thinfile serve` (or `bentoml serve thinfile.serving.service:Thinfile`). Scoring is the library's
`Scorer.explain`; this module only reads, audits and answers. Each worker loads the model in the background:
until it is loaded /readyz answers 503 and the scoring routes answer 503 "still loading", /livez answers 200.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import anyio
import bentoml
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from thinfile.features import jsonio
from thinfile.features.schema import Schema
from thinfile.serving.audit import AuditLog, GroupCommit, RequestIds, audit_record, encode, key_id, repair
from thinfile.serving.connections import guard_connections
from thinfile.serving.contract import (
    RequestReader,
    applicant_model,
    applicants_to_matrix,
    batch_model,
    input_hmac,
    keyed,
    model_card_path,
    response_model,
)
from thinfile.serving.docs_page import index_page
from thinfile.serving.guard import PARSED, Guard
from thinfile.serving.guard import Route as GuardedRoute
from thinfile.serving.processes import die_with_server, mark_server
from thinfile.serving.settings import ServingSettings
from thinfile.serving.startup import (
    ServiceStartError,
    bind_host,
    check_access,
    check_audit_log,
    contract_schema,
    schema_mismatch,
    settings_from_env,
)
from thinfile.training.registry import ModelNotFoundError, StoreError, client, load_scorer
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import PolicyError
from thinfile.training.settings import model_name_for

die_with_server()  # in a worker of `bentoml serve`: stop when the server does, even if it died before this line
# MLflow (imported later, when the model loads) sends no usage reports and draws no progress bars into the server's
# log unless the operator set these: under `bentoml serve` of the service or its Bento, as under `thinfile serve`
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def refuse(err: ServiceStartError) -> NoReturn:
    """Stop `bentoml serve` (or `bentoml build`) with the one line saying why, exit 2, no traceback."""
    print(f"error: {err}", file=sys.stderr, flush=True)
    raise SystemExit(2)


try:
    SETTINGS = settings_from_env()
    SCHEMA = contract_schema(SETTINGS)
except ServiceStartError as err:
    refuse(err)
guard_connections(SETTINGS.header_timeout_s, SETTINGS.max_connections)  # before this worker's uvicorn starts
Applicant = applicant_model(SCHEMA)
ApplicantBatch = batch_model(SCHEMA, SETTINGS.max_batch_rows)
ScoreResponse = response_model(SETTINGS.top_reasons)
READER = RequestReader(SCHEMA, SETTINGS.max_batch_rows, SETTINGS.max_errors)
AUDIT_UNAVAILABLE = "decision not given: the audit log cannot be written"
LOADING = "the model is still loading; retry in a few seconds"
LOAD_FAILED = "this worker could not load the model (see the server log); it reports itself dead to be restarted"
GENERATED_KEY_NOTE = (
    "THINFILE_AUDIT_KEY is not set: the audit log's input hashes use a random key for this run only, so they "
    "cannot be matched to inputs once it stops; set THINFILE_AUDIT_KEY (or THINFILE_AUDIT_KEY_FILE) to keep them"
)

log = logging.getLogger("thinfile.serving")
log.setLevel(logging.INFO)  # refused requests are one INFO line each; BentoML's root logger only passes WARNING


def audit_key(settings: ServingSettings) -> bytes:
    """The operator's audit key, or (on loopback only; check_access refuses otherwise) a random one for this run."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    log.warning(GENERATED_KEY_NOTE)
    return secrets.token_hex(32).encode()


def load_model(settings: ServingSettings, schema: Schema) -> Scorer:
    """The registered scorer behind settings.model, checked against the request contract's schema."""
    try:
        scorer = load_scorer(settings.model, settings.model_name or model_name_for(schema))
    except ModelNotFoundError as err:
        raise ServiceStartError(f"no model to serve: {err}") from None
    except StoreError as err:
        raise ServiceStartError(str(err)) from None
    if scorer.schema.fingerprint != schema.fingerprint:
        trained = f"{scorer.schema.name!r} v{scorer.schema.version} ({scorer.schema.fingerprint})"
        raise ServiceStartError(schema_mismatch(str(scorer.meta.get("version")), trained, schema))
    scorer.num_threads = 1
    if settings.approve_cutoff is not None or settings.refer_cutoff is not None:
        try:
            scorer = scorer.with_cutoffs(settings.approve_cutoff, settings.refer_cutoff)
        except ValidationError as err:
            said = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
            raise ServiceStartError(f"THINFILE_APPROVE_CUTOFF / THINFILE_REFER_CUTOFF: {said}") from None
        except PolicyError as err:
            raise ServiceStartError(f"THINFILE_APPROVE_CUTOFF / THINFILE_REFER_CUTOFF: {err}") from None
    return scorer


def run_metrics(run_id: str | None) -> dict[str, float]:
    """The metrics MLflow holds for the model's training run ({} when the run cannot be read)."""
    if not run_id:
        return {}
    try:
        return dict(client().get_run(run_id).data.metrics)
    except Exception:
        return {}


class Decider:
    """The service's contract in one process: matrix, explanation, the answers, and their audit lines."""

    def __init__(self, scorer: Scorer, schema: Schema, settings: ServingSettings, key: bytes) -> None:
        self.scorer = scorer
        self.schema = schema
        self.top = settings.top_reasons
        self.mac = keyed(key)
        self.key_id = key_id(key)
        self.request_id = RequestIds()
        meta = scorer.meta
        self.model = {
            "name": str(meta.get("name")),
            "version": str(meta.get("version")),
            "run_id": str(meta.get("run_id") or ""),
        }

    def decide(self, applicants: list[BaseModel]) -> tuple[list[dict[str, Any]], bytes]:
        """The answers (in order) and the audit lines to append before giving any of them."""
        explanation = self.scorer.explain(applicants_to_matrix(self.schema, applicants), self.top)
        answers = explanation.records()
        audits = []
        for applicant, answer in zip(applicants, answers):
            request_id = self.request_id()
            audits.append(
                audit_record(
                    request_id,
                    self.model["name"],
                    self.model["version"],
                    input_hmac(self.mac, self.schema, applicant),
                    self.key_id,
                    answer["score"],
                    answer["decision"],
                    answer["reasons"],
                )
            )
            answer["request_id"] = request_id
            answer["model"] = self.model
        return answers, encode(audits)


def json_response(content: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`content` as a JSON response, encoded by pydantic-core (Rust; a quarter of the time of `json.dumps`)."""
    return Response(to_json(content), status, headers, media_type="application/json")


async def model_info(request: Request) -> Response:
    """GET /model: the loaded model's identity, metrics, cut-offs, limits and input schema."""
    service = bentoml.get_current_service()
    if not service.ready:
        return service.not_ready()
    return Response(jsonio.dumps(service.model_card, indent=None).encode(), media_type="application/json")


async def docs(request: Request) -> RedirectResponse:
    return RedirectResponse(url="/")


# "/" answers ahead of BentoML's own index page (mounted apps come first), which loads Google Tag Manager
extra_routes = Starlette(
    routes=[
        Route("/", index_page, methods=["GET"]),
        Route("/model", model_info, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
)


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


@bentoml.service(
    name="thinfile",
    workers=SETTINGS.workers,
    traffic={"timeout": SETTINGS.timeout_s},
    labels={"project": "thinfile"},  # not the schema: a Bento is served with whichever THINFILE_SCHEMA_FILE names
)
@bentoml.asgi_app(extra_routes, path="/", name="thinfile-model")
class Thinfile:
    """Scores thin-file applicants with the registered champion; every answer explains itself and is audited."""

    def __init__(self) -> None:
        self.settings = ServingSettings.from_env()
        self.schema = SCHEMA
        self.ready = False
        self.failed: str | None = None
        self.audit_failed_at: float | None = None
        self.audit_key = audit_key(self.settings)
        self.audit = AuditLog(
            self.settings.audit_path(), self.settings.audit_rotate, self.settings.audit_max_bytes, self.audit_key
        )
        self.commit = GroupCommit(self.audit)
        threading.Thread(target=self._load, name="thinfile-load-model", daemon=True).start()

    def _load(self) -> None:
        """Load and warm the model off the event loop, so that probes are answered while it loads."""
        try:
            scorer = load_model(self.settings, self.schema)
            scorer.explain(np.full((1, len(self.schema.features)), np.nan)).records()  # tables, kernels before traffic
            self.decider = Decider(scorer, self.schema, self.settings, self.audit_key)
            meta = scorer.meta
            self.model_card = {
                "model": {
                    **self.decider.model,
                    "aliases": meta.get("aliases", []),
                    "family": meta.get("family"),
                    "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                "metrics": run_metrics(meta.get("run_id")),
                "schema": {
                    "name": self.schema.name,
                    "version": self.schema.version,
                    "fingerprint": self.schema.fingerprint,
                },
                "scale": scorer.scale.model_dump(mode="json"),
                "cutoffs": scorer.cutoffs.model_dump(mode="json"),
                "limits": {
                    "max_batch_rows": self.settings.max_batch_rows,
                    "max_body_bytes": self.settings.max_batch_body_bytes,
                    "max_row_bytes": self.settings.max_row_bytes,
                    "max_errors": self.settings.max_errors,
                },
                "input_schema": Applicant.model_json_schema(),
            }
            self.ready = True
            log.info(
                "model %s version %s loaded; ready; approve at %g and above, refer from %g%s",
                self.decider.model["name"],
                self.decider.model["version"],
                scorer.cutoffs.approve,
                scorer.cutoffs.refer,
                " (THINFILE_APPROVE_CUTOFF / THINFILE_REFER_CUTOFF)"
                if self.settings.approve_cutoff is not None or self.settings.refer_cutoff is not None
                else " (the model's)",
            )
            log.info("audit log %s: this worker's chain %s starts at seq 0", self.audit.path, self.audit.chain)
        except Exception as err:
            self.failed = f"{type(err).__name__}: {err}"
            log.error("the model could not be loaded, so this worker reports itself dead: %s", self.failed)

    def __is_ready__(self) -> bool:
        """Loaded, and no decision refused for want of the audit log within `audit_retry_s`: after that, traffic
        comes back to try the log again."""
        failed = self.audit_failed_at
        return self.ready and (failed is None or time.monotonic() - failed >= self.settings.audit_retry_s)

    def __is_alive__(self) -> bool:
        return self.failed is None

    @bentoml.on_deployment
    def check_before_workers() -> None:
        """Runs once in `bentoml serve` before any worker: refuse to start rather than crash-loop workers; repair a
        torn audit tail; pin the model version; make one audit key for every worker of this run if none is set."""
        mark_server()
        settings = ServingSettings.from_env()
        try:
            check_access(settings, bind_host())
            scorer = load_model(settings, SCHEMA)  # first: a refusal for the model leaves no audit log made
            check_audit_log(settings)
        except ServiceStartError as err:
            refuse(err)
        os.environ["THINFILE_MODEL"] = str(scorer.meta["version"])
        moved = repair(settings.audit_path())
        if moved:
            log.warning("moved a torn last audit record (%d bytes) to %s.torn", moved, settings.audit_path())
        if settings.audit_key is None:
            os.environ["THINFILE_AUDIT_KEY"] = audit_key(settings).decode()

    def not_ready(self) -> Response:
        return json_response({"error": LOAD_FAILED if self.failed else LOADING}, 503, {"Retry-After": "5"})

    async def _answer(self, applicants: list[BaseModel], one: bool) -> Response:
        if not self.ready:
            return self.not_ready()
        if one:
            answers, audit = self.decider.decide(applicants)
        else:
            answers, audit = await anyio.to_thread.run_sync(self.decider.decide, applicants)
        try:
            await self.commit.append(audit)
        except OSError as err:
            self.audit_failed_at = time.monotonic()
            reason = err.strerror or str(err)
            log.warning("%s (%s); answered 503, and /readyz says not ready for a while", AUDIT_UNAVAILABLE, reason)
            return json_response(
                {"error": f"{AUDIT_UNAVAILABLE} ({reason}); no decision was made, retry later"},
                503,
                {"Retry-After": str(self.settings.audit_retry_s)},
            )
        if self.audit_failed_at is not None:
            self.audit_failed_at = None
        return json_response(answers[0] if one else answers)

    @bentoml.api(route="/score", input_spec=ApplicantInput)
    async def score(self, applicant: Applicant, /) -> ScoreResponse:  # type: ignore[valid-type]
        """Score one applicant: score, band, pd, decision, top reasons, dimension sub-scores."""
        return await self._answer([applicant], one=True)

    @bentoml.api(route="/score_batch", input_spec=BatchInput)
    async def score_batch(self, applicants: list[Applicant]) -> list[ScoreResponse]:  # type: ignore[valid-type]
        """Score a list of applicants; answers in the same order, all given or none (one audit append)."""
        return await self._answer(applicants, one=False)  # type: ignore[return-value]

    @bentoml.on_shutdown
    def close_audit(self) -> None:
        """Close the log, saying where this worker's chain ended: a chain's tail cut off the log shows against it."""
        log.info("audit log %s: chain %s ended with %d record(s)", self.audit.path, self.audit.chain, self.audit.seq)
        self.audit.close()


Thinfile.add_asgi_middleware(  # type: ignore[attr-defined]
    Guard,
    api_key=SETTINGS.api_key,
    max_body_bytes=SETTINGS.max_body_bytes,
    body_timeout_s=SETTINGS.body_timeout_s,
    routes={
        "/score": GuardedRoute(
            SETTINGS.max_row_bytes,
            READER.applicant,
            "one applicant's model inputs take far less: send only those (GET /model lists them)",
        ),
        "/score_batch": GuardedRoute(SETTINGS.max_batch_body_bytes, READER.batch),
    },
    extra_paths={"/model": model_card_path()},
    request_schemas={
        path: model.model_json_schema(ref_template="#/components/schemas/{model}")
        for path, model in (("/score", Applicant), ("/score_batch", ApplicantBatch))
    },
)

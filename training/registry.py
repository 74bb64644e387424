"""Hand-off through MLflow: log a Scorer as a pyfunc model, register it, and load it back by alias or version."""

from __future__ import annotations

import base64
import contextlib
import getpass
import http.client
import json
import logging
import os
import platform
import sqlite3
import tempfile
import urllib.error
import urllib.request
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec
from mlflow.types import Schema as MlflowSchema
from packaging.requirements import InvalidRequirement, Requirement

from thinfile.features.schema import Feature, FeatureType, Schema, category_codes, feature_numbers
from thinfile.features.scratch import scratch_prefix
from thinfile.features.settings import ValidationSettings
from thinfile.training.scorer.artefact import DamagedModelError, Scorer
from thinfile.training.settings import StoreChecks, nothing_trained, sqlite_path, tracking_uri

EXPERIMENT_NAME = "thinfile"
log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The MLflow store cannot be used as configured; the message says why and what to do."""


class ModelNotFoundError(LookupError):
    """No registered model answers to the reference asked for."""


class ScorerModel(PythonModel):
    """pyfunc face of a Scorer: predict() returns score, band, pd, decision, dimensions and reason codes."""

    def load_context(self, context: PythonModelContext) -> None:
        self.scorer = Scorer.load(context.artifacts["scorer"])

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, object] | None = None
    ) -> pd.DataFrame:
        """Scores of the rows given; an input the signature lets a client leave out (a nullable one) is missing."""
        schema = self.scorer.schema
        absent = [f.name for f in schema.features if f.nullable and f.name not in model_input.columns]
        given = model_input.assign(**dict.fromkeys(absent, np.nan)) if absent else model_input
        return self.scorer.explain(given).to_frame()


def input_signature(schema: Schema) -> MlflowSchema:
    """MLflow input schema from the feature schema: categories as strings, every number as double."""
    return MlflowSchema(
        [
            ColSpec("string" if f.type is FeatureType.category else "double", f.name, required=not f.nullable)
            for f in schema.features
        ]
    )


EXAMPLE_ROWS = 10_000
"""Rows of the training table whose medians and most frequent values make the logged model's input example."""


def model_input_example(schema: Schema, frame: pd.DataFrame) -> pd.DataFrame:
    """One typical applicant, typed as the signature expects (numbers as float64, categories as str): each
    input's median or most frequent value over the first `EXAMPLE_ROWS` rows of `frame`, never a row of it (the
    example is stored beside the model, and a lender's rows are personal data), and no missing value (MLflow would
    write it as NaN, which is not JSON)."""
    head = frame.iloc[:EXAMPLE_ROWS]
    return pd.DataFrame({f.name: [_typical(f, head[f.name])] for f in schema.features})


def _typical(f: Feature, column: pd.Series) -> str | float:
    if f.type is FeatureType.category:
        codes = category_codes(f, column)
        seen = codes[~np.isnan(codes)].astype(np.int64)
        return f.levels[int(np.bincount(seen).argmax())] if len(seen) else f.levels[0]
    values = feature_numbers(f, column)
    values = values[np.isfinite(values)]
    if len(values):
        middle = float(np.median(values))
        return float(np.round(middle)) if f.type is not FeatureType.float else middle
    low, high = (0.0 if f.min is None else f.min), (0.0 if f.max is None else f.max)
    return float(np.round((low + high) / 2)) if f.type is not FeatureType.float else (low + high) / 2


def pinned_requirements(*packages: str) -> list[str]:
    """Pinned requirements of a logged model (skips MLflow's slow import-capturing inference)."""
    out = []
    for pkg in ("mlflow", "numpy", "pandas", "scikit-learn", "pydantic", "pyyaml", *packages):
        try:
            out.append(f"{pkg}=={metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(pkg)
    return out


def use_store(create: bool = False) -> str:
    """Point MLflow's fluent API at thinfile's store and return its URI.

    mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI, which would then pin every later call in
    this process to this store; unless the user set that variable, it is taken back out, so a changed
    THINFILE_HOME keeps deciding. A store the user named is checked first (`check_store`); `create`
    allows a new SQLite database file in an existing folder (training writes one). The embedded store's folder,
    mlruns/, is made here, when MLflow is about to use it, and never by merely naming the store.
    """
    uri = tracking_uri()
    chosen_by_user = "MLFLOW_TRACKING_URI" in os.environ
    if chosen_by_user:
        check_store(uri, create=create)
    else:
        embedded = sqlite_path(uri)
        if embedded is not None:
            with contextlib.suppress(OSError):  # a home that cannot be written: check_writable names it
                embedded.parent.mkdir(parents=True, exist_ok=True)
    check_openable(uri)
    check_not_emptied(uri)
    if create:
        check_writable(uri)
    mlflow.set_tracking_uri(uri)
    if not chosen_by_user:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    return uri


def check_store(uri: str, create: bool = False, checks: StoreChecks | None = None) -> None:
    """Fail fast, in words, on a store that cannot work: a server that does not answer, a SQLite path whose
    folder does not exist (nothing is created), a database that is not there when only reading, a file store."""
    checks = checks or StoreChecks()
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        _server_answers(uri, checks.server_timeout_s)
    elif scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise StoreError(
                f"MLFLOW_TRACKING_URI names a SQLite store in {path.parent}, which does not exist (nothing was "
                "created); check the path, or unset MLFLOW_TRACKING_URI to use the embedded store"
            )
        if not create and not path.is_file():
            raise StoreError(
                f"there is no MLflow store at {path} (MLFLOW_TRACKING_URI); check the path, or train a model "
                "there first with `thinfile train`"
            )
    elif scheme in ("file", ""):
        raise StoreError(
            f"MLFLOW_TRACKING_URI names a file store ({uri}); thinfile registers models, which needs a database: "
            "use sqlite:///<folder>/mlflow.db or a tracking server, or unset it for the embedded store"
        )


def check_not_emptied(uri: str) -> None:
    """A SQLite store file of 0 bytes (a failed copy or restore, a truncated file) is refused: MLflow would make it a
    new, empty store, and every model once registered there would read as never trained."""
    path = sqlite_path(uri)
    if path is None:
        return
    if path.is_file() and path.stat().st_size == 0:
        raise StoreError(
            f"the MLflow store {path} is an empty file (0 bytes), as a failed copy or restore leaves it; restore "
            "mlflow.db from a copy, or delete the empty file to start a new store"
        )


def check_writable(uri: str) -> None:
    """Before anything is trained into it: a SQLite store whose database or folder cannot be written (a read-only
    THINFILE_HOME) is refused in words, rather than after the fitting, when the first run is logged."""
    path = sqlite_path(uri)
    if path is None:
        return
    existing = [p for p in (path, path.parent) if p.exists()] or [next(p for p in path.parents if p.exists())]
    blocked = next((p for p in existing if not os.access(p, os.W_OK)), None)
    if blocked is None:
        return
    if os.statvfs(blocked).f_flag & os.ST_RDONLY:
        raise StoreError(
            f"the MLflow store {path} cannot be written ({blocked} is read-only: its file system is mounted "
            "read-only); remount it read-write, or set THINFILE_HOME to a folder you can write"
        )
    raise StoreError(no_access(path, "write", blocked))


def check_openable(uri: str) -> None:
    """A SQLite store file that is there but cannot be opened (its permissions, or a folder in its place) is
    refused at once: MLflow would retry opening it for about two minutes, one warning every few seconds, and
    the error it ends with ('unable to open database file') does not say why."""
    path = sqlite_path(uri)
    if path is None:
        return
    try:
        with path.open("rb") as database:
            database.read(1)
    except FileNotFoundError:
        return
    except PermissionError:
        raise StoreError(no_access(path, "read", path)) from None
    except IsADirectoryError:
        raise StoreError(
            f"the MLflow store {path} is a folder, not a database file; move it aside, or point "
            "MLFLOW_TRACKING_URI at the store's mlflow.db"
        ) from None


def no_access(path: Path, verb: str, blocked: Path) -> str:
    """The line for a store file or folder this user may not read or write (its permissions, not its content)."""
    which = "it" if blocked == path else str(blocked)
    return (
        f"cannot {verb} the MLflow store {path} (permissions: {_user()} may not {verb} {which}); give the user "
        f"running thinfile read and write access to it and its folder {path.parent}"
    )


def _user() -> str:
    """The user thinfile runs as, by name where the system knows one."""
    try:
        return f"user {getpass.getuser()}"
    except (KeyError, OSError):  # a container's uid without a passwd entry
        return f"uid {os.getuid()}"


def database_fault(err: sqlite3.Error) -> str:
    """The line for a store whose SQLite database failed, with SQLite's words and the fix that matches the cause:
    a lock is waited for, permissions are granted, only a damaged file is restored from a copy."""
    what = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "readonly" in what:
        fix = "make it writable, or set THINFILE_HOME to a folder you can write"
    elif "locked" in what or "busy" in what:
        fix = "another process is writing to it (a training, `thinfile ui`): wait for it or stop it, then rerun"
    elif "unable to open" in what:
        fix = "check that it and its folder exist, and give the user running thinfile read and write access to both"
    elif "full" in what or "disk I/O" in what:
        fix = (
            "the disk holding it is full or failing (see `df`): free space, then rerun; the file itself need not be "
            "damaged (`sqlite3 mlflow.db 'pragma quick_check'` answers ok when it is not), so do not restore it"
        )
    else:
        fix = (
            "the file is damaged: restore mlflow.db from a copy, or salvage what it holds with `sqlite3 mlflow.db "
            ".recover | sqlite3 recovered.db` and use that, or point MLFLOW_TRACKING_URI at another store"
        )
    return f"the MLflow store {tracking_uri()} cannot be used ({what}); {fix}"


def database_error(err: BaseException) -> sqlite3.Error | None:
    """The SQLite error behind `err` (MLflow wraps SQLAlchemy's, which holds the driver's as `orig`), if any:
    the store failed, rather than answered that something is not there."""
    seen: set[int] = set()
    found: BaseException | None = err
    while found is not None and id(found) not in seen:
        if isinstance(found, sqlite3.Error):
            return found
        seen.add(id(found))
        found = getattr(found, "orig", None) or found.__cause__ or found.__context__
    return None


def raise_if_store_failed(err: BaseException) -> None:
    """When the store's database failed behind `err` (damaged, locked, unreadable), raise a StoreError saying so:
    MLflow reports such a failure as an error like any other, which a caller would read as 'not found'."""
    found = database_error(err)
    if found is not None:
        raise StoreError(database_fault(found)) from err


def check_intact(uri: str, timeout_s: float = 20.0) -> None:
    """Before a training's work: a SQLite store whose file is damaged anywhere (SQLite's quick_check, which reads
    every page) is refused, rather than after the fit, when its run or model version is written. Waits for
    another process's write up to `timeout_s`, as MLflow does."""
    path = sqlite_path(uri)
    if path is None or not path.is_file():
        return
    read_only = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(read_only, uri=True, timeout=timeout_s)) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
    except sqlite3.Error as err:
        raise StoreError(database_fault(err)) from err
    if problems != ["ok"]:
        found = "; ".join(line for line in problems[0].splitlines() if not line.startswith("*** in database"))
        raise StoreError(database_fault(sqlite3.DatabaseError(f"database disk image is malformed: {found}")))


MLFLOW_PROBE = "/api/2.0/mlflow/experiments/get?experiment_id=0"
"""What thinfile asks a tracking server before using it: any MLflow server answers in JSON (the Default experiment,
or an `error_code` if it was removed); a web server that is not MLflow answers with a page or a bare 404."""
_PROBE_BYTES = 1 << 16


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx itself is the answer


def _credentials() -> dict[str, str]:
    """The Authorization header MLflow's client would send (MLFLOW_TRACKING_TOKEN, or a user name and password)."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


@lru_cache(maxsize=8)
def _server_answers(uri: str, timeout_s: float) -> bool:
    """The server at `uri` answers, as MLflow. An answer asking for credentials (401, 403) or sending elsewhere (a
    login page behind a proxy: 3xx) counts too, as thinfile cannot tell what MLflow's client will make of it."""
    request = urllib.request.Request(uri.rstrip("/") + MLFLOW_PROBE, headers=_credentials())
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout_s) as response:
            status, body, kind = response.status, response.read(_PROBE_BYTES), response.headers.get_content_type()
    except urllib.error.HTTPError as err:
        status, body, kind = err.code, err.read(_PROBE_BYTES), err.headers.get_content_type()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise StoreError(
            f"the MLflow tracking server {uri} does not answer ({reason}); start it or fix MLFLOW_TRACKING_URI, "
            "or unset it to use the embedded store under THINFILE_HOME/mlruns"
        ) from None
    if status in (401, 403) or 300 <= status < 400 or _mlflow_answer(body):
        return True
    raise StoreError(
        f"{uri} (MLFLOW_TRACKING_URI) answers, but not as an MLflow tracking server (HTTP {status}, {kind}, for "
        f"{MLFLOW_PROBE.split('?')[0]}); set it to the address `mlflow server` listens on (scheme, host, port and "
        "any path prefix, nothing more), or unset it to use the embedded store under THINFILE_HOME/mlruns"
    )


def _mlflow_answer(body: bytes) -> bool:
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and ("experiment" in answer or "error_code" in answer)


def client() -> MlflowClient:
    return MlflowClient(use_store())


def log_scorer(
    scorer: Scorer,
    example: pd.DataFrame,
    name: str = "model",
    register_as: str | None = None,
    pip_requirements: list[str] | None = None,
) -> mlflow.models.model.ModelInfo:
    """Log the scorer to the active run (signature and input example included) and register it; no alias moves."""
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("log")) as tmp:
        folder = scorer.save(Path(tmp) / "scorer")
        example = model_input_example(scorer.schema, example)
        output = infer_signature(example, scorer.explain(example).to_frame()).outputs
        signature = ModelSignature(inputs=input_signature(scorer.schema), outputs=output)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=ScorerModel(),
            artifacts={"scorer": str(folder)},
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements or pinned_requirements("lightgbm", "numba", "pyarrow"),
        )
    if register_as is not None:
        info.registered_model_version = register_version(register_as, info)
    return info


def register_version(name: str, info: mlflow.models.model.ModelInfo) -> int:
    """Register a logged model as the next version of `name` (the name created on first use); its number.

    What `log_model(registered_model_name=...)` does, through the client's public calls, without MLflow's own
    "Successfully registered model" lines on stderr (thinfile says what it registered)."""
    c = client()
    try:
        c.create_registered_model(name)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    version = c.create_model_version(name, source=info.model_uri, run_id=info.run_id, model_id=info.model_id)
    return int(version.version)


def set_alias(name: str, alias: str, version: str | int) -> None:
    """Point `name@alias` at `version` (done last, once everything of that version is logged)."""
    client().set_registered_model_alias(name, alias, str(version))


def resolve(ref: str | int, name: str) -> ModelVersion:
    """The ModelVersion behind an alias, a version number or a models:/name/version|@alias URI."""
    never = nothing_trained()
    if never is not None:
        raise ModelNotFoundError(f"no model {name!r} answers to {str(ref)!r}: {never}")
    c = client()
    text = str(ref)
    uri = text.startswith("models:/")
    if uri:
        body = text.removeprefix("models:/")
        name, _, rest = body.partition("@") if "@" in body else (body.partition("/")[0], "", body.partition("/")[2])
        text = rest
    try:
        if text.isdigit():
            return c.get_model_version(name, text)
        return c.get_model_version_by_alias(name, text)
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        where = (
            "check the name and the alias or version in the URI"
            if uri
            else "the name comes from the schema: give the schema the model was trained with (--schema; schema= from "
            "Python) or its name (--name; name= from Python)"
        )
        raise ModelNotFoundError(
            f"no model {name!r} answers to {ref!r} in the MLflow store {tracking_uri()} "
            f"({err.message.splitlines()[0]}{_registered_here(c)}); {where}, train one with `thinfile train`, or pick "
            "another with --model"
        ) from None


def _registered_here(c: MlflowClient) -> str:
    """'; the models registered there: ...', for a message that did not find the one asked for."""
    shown = ValidationSettings().examples_shown
    try:
        names = sorted(m.name for m in c.search_registered_models(max_results=100))
    except mlflow.exceptions.MlflowException:
        return ""
    if not names:
        return "; no model is registered there"
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    return f"; the models registered there: {', '.join(map(repr, names[:shown]))}{more}"


def artifact_root(uri: str | None = None) -> Path | None:
    """Artifacts of a local SQLite store live beside it (mlruns/artifacts); a server keeps its own (None)."""
    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
    if "://" not in uri:
        return Path(uri) / "artifacts"
    return None


def moved_files(version: ModelVersion) -> str | None:
    """Where the version's run keeps its files, when that is not beside this home's store (the home was copied or
    moved: MLflow records absolute paths), in words that say what to do; None otherwise."""
    root = artifact_root()
    if root is None or "MLFLOW_TRACKING_URI" in os.environ or not version.run_id:
        return None
    try:
        kept = str(client().get_run(version.run_id).info.artifact_uri)
    except mlflow.exceptions.MlflowException:
        return None
    if not kept.startswith("file://") or kept.startswith(root.resolve().as_uri()):
        return None
    return (
        f"are recorded at {kept}, not beside this store in {root}: this home was copied or moved (MLflow records "
        "absolute paths); use the home where it was made (a link to it at its old path will do)"
    )


def trained_schema(version: ModelVersion) -> tuple[str, str] | None:
    """(name, fingerprint) of the schema the version was trained on, from its training run's tags; None when the
    run cannot be read or was not tagged (a model logged outside `thinfile train`)."""
    try:
        tags = client().get_run(version.run_id).data.tags if version.run_id else {}
    except mlflow.exceptions.MlflowException:
        return None
    fingerprint = tags.get("thinfile.schema_fingerprint")
    return (tags.get("thinfile.schema_name", "?"), fingerprint) if fingerprint else None


TRAINING_ROWS_FILE = "training_rows.npy"
"""a training run's artifact: one uint64 hash per row it trained on (training and validation rows), sorted"""


def training_data_hash(run_id: str) -> str | None:
    """The hash of the table the run trained on (`thinfile.data_hash`); None when the run cannot be read or was not
    tagged."""
    try:
        return client().get_run(run_id).data.tags.get("thinfile.data_hash") if run_id else None
    except mlflow.exceptions.MlflowException:
        return None


def training_rows(run_id: str) -> np.ndarray | None:
    """The sorted row hashes (`row_hashes`) of the rows the run trained on, its TRAINING_ROWS_FILE; None when the
    run cannot be read or holds no such file (a run trained before thinfile recorded them)."""
    if not run_id:
        return None
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("model")) as folder:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=TRAINING_ROWS_FILE, dst_path=folder
            )
            return np.load(local, allow_pickle=False)
        except (MlflowException, OSError, ValueError):
            return None


def load_python_model(uri: str) -> PythonModel:
    """The pyfunc model at `uri`, loaded into memory from a temporary copy that is deleted afterwards (MLflow
    would otherwise leave one copy in the temporary folder per load). A warning names what the model was logged
    with that this environment does not match (`environment_mismatches`), as MLflow's own check would, in
    milliseconds rather than the second MLflow takes to map every installed package to its modules."""
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("model")) as folder:
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
        model = mlflow.pyfunc.load_model(str(local), suppress_warnings=True)
        mismatches = environment_mismatches(local, model.metadata.flavors.get("python_function", {}))
        if mismatches:
            log.warning(
                "warning: %s was logged with other packages than this environment has (%s), so its scores may "
                "differ here; install the versions it was logged with: `pip install -r` the file that "
                "mlflow.pyfunc.get_model_dependencies(%r) returns",
                uri,
                ", ".join(mismatches),
                uri,
            )
        return model.unwrap_python_model()


def environment_mismatches(model_folder: Path, pyfunc_flavor: dict) -> list[str]:
    """What a logged model's requirements.txt and Python version ask for that this environment does not have."""
    found = []
    path = model_folder / "requirements.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            wanted = Requirement(text)
        except InvalidRequirement:
            continue
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        try:
            installed = metadata.version(wanted.name)
        except metadata.PackageNotFoundError:
            found.append(f"{wanted} (not installed)")
            continue
        if not wanted.specifier.contains(installed, prereleases=True):
            found.append(f"{wanted} (installed: {installed})")
    logged_python = str(pyfunc_flavor.get("python_version") or "")
    if logged_python and logged_python.split(".")[:2] != platform.python_version().split(".")[:2]:
        found.append(f"Python {logged_python} (running: {platform.python_version()})")
    return found


def load_scorer(ref: str | int, name: str) -> Scorer:
    """Load the registered scorer behind `ref`, with its name, version and run id in `scorer.meta`."""
    version = resolve(ref, name)
    try:
        model = load_python_model(f"models:/{version.name}/{version.version}")
    except DamagedModelError:
        raise StoreError(
            f"the model file of {version.name} version {version.version} is damaged (it does not match the checksum "
            "saved with it); restore the store's artifacts folder from a copy, or train again"
        ) from None
    except (mlflow.exceptions.MlflowException, OSError, ValueError, KeyError) as err:
        moved = moved_files(version)
        if moved is not None:
            raise StoreError(f"the files of model {version.name} version {version.version} {moved}") from None
        first = str(getattr(err, "message", err)).splitlines()[0] if str(err) else type(err).__name__
        raise StoreError(
            f"the files of model {version.name} version {version.version} cannot be read from the store ({first}); "
            "its artifact folder was moved, deleted or damaged: restore it, or train again"
        ) from None
    if not isinstance(model, ScorerModel):
        raise StoreError(
            f"model {version.name} version {version.version} is not a thinfile scorer (it holds a "
            f"{type(model).__name__}); choose a version that `thinfile train` registered"
        )
    scorer = model.scorer
    scorer.meta = {
        **scorer.meta,
        "name": version.name,
        "version": str(version.version),
        "run_id": version.run_id,
        "aliases": list(getattr(version, "aliases", []) or []),
    }
    return scorer

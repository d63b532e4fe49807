"""Optional MLflow logging of a run: parameters, metrics, the report and the bundle.

Off by default (`[mlflow] enabled = false`). When on, `log_run` writes one MLflow run to
`mlflow.tracking_uri` — a local `sqlite:///` file works offline, an `http(s)://` URI talks to a
tracking server — and returns its run id. Every failure of the tracking backend (an HTTP 401,
403 or 5xx, a refused or unreachable server, an unopenable sqlite file, mlflow not installed)
becomes an `ExternalServiceError` (exit 4) whose message names the tracking URI and the
server's own message, so a user sees *where* logging went and *why* it was refused. Whether
that fails the step or only warns is the caller's choice; `try_log` applies `mlflow.required`.

MLflow is an optional extra (`pip install 'ares-cli[mlflow]'`) and slow to import (~1.3 s), so
it is imported lazily, inside the call, never at module import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import os
import posixpath
import re
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ares_cli.errors import ExternalServiceError, StepFailed
from ares_cli.report.mlflow_config import MlflowConfig

__all__ = ["INSTALL_HINT", "flatten", "log_run", "try_log"]

_log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'ares-cli[mlflow]'"

# MLflow's own limits (mlflow.utils.validation), repeated here so that preparing the payload
# needs no mlflow import: keys at most 250 characters, param values 6000, tag values 8000.
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
# MLflow accepts alphanumerics, `_`, `-`, `.`, space and `/` in keys on every platform (a colon
# only off Windows; a tracking server may run on Windows, so ares never sends one).
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\- /]")

# HTTP behaviour for the duration of one call. The timeout comes from `mlflow.timeout_s`; the
# retry settings replace MLflow's defaults (7 retries with backoff factor 2, minutes of waiting
# on a dead server) unless the user's environment sets them. MLflow reads all of these at
# request time (mlflow.environment_variables), so setting them around the call is enough.
# Telemetry must be off when mlflow is first imported: ares sends nothing but the run.
_ENV_TIMEOUT = "MLFLOW_HTTP_REQUEST_TIMEOUT"
_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# Loggers that narrate creating a new sqlite store at INFO; quieted to WARNING during the call.
_CHATTY_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration")

_MAX_SERVER_MESSAGE = 800


# --------------------------------------------------------------------------------------------
# Preparing the payload (pure: no mlflow needed)
# --------------------------------------------------------------------------------------------


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level with dotted keys: `{"a": {"b": 1}}` -> `{"a.b": 1}`.

    MLflow params and metrics are flat; dotted keys keep the config's `section.key` naming.
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _clean_key(key: str) -> str:
    """A key MLflow accepts: allowed characters only, a normalised relative path, <= 250 long.

    Characters MLflow rejects become `_`; empty, `.` and `..` path segments are dropped (MLflow
    refuses keys that `posixpath.normpath` would change); an over-long key is cut and given a
    short hash of the full key, so two long keys that share a prefix stay distinct.
    """
    cleaned = _BAD_KEY_CHARS.sub("_", key)
    cleaned = "/".join(s for s in cleaned.split("/") if s not in ("", ".", "..")) or "_"
    if len(cleaned) > MAX_KEY_LENGTH:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:MAX_KEY_LENGTH - 9].rstrip('/')}-{digest}"
    return cleaned


def _unique_keys(items: Mapping[str, Any]) -> dict[str, Any]:
    """Clean every key; a cleaned key already taken gets a `__2`, `__3`, ... suffix."""
    out: dict[str, Any] = {}
    for key, value in items.items():
        cleaned = _clean_key(key)
        if cleaned in out:
            n = 2
            while f"{cleaned[:MAX_KEY_LENGTH - 8]}__{n}" in out:
                n += 1
            cleaned = f"{cleaned[:MAX_KEY_LENGTH - 8]}__{n}"
        out[cleaned] = value
    return out


def _text(value: Any) -> str:
    """A param or tag value as text: strings as they are, lists and tuples as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with `...`."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _prepare_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flattened, cleaned params with text values within MLflow's length limit."""
    out = {k: _text(v) for k, v in _unique_keys(flatten(params)).items()}
    long = [k for k, v in out.items() if len(v) > MAX_PARAM_VALUE_LENGTH]
    if long:
        _log.info("MLflow: %d param value(s) cut to %d characters: %s",
                  len(long), MAX_PARAM_VALUE_LENGTH, ", ".join(long))
    return {k: _cut(v, MAX_PARAM_VALUE_LENGTH) for k, v in out.items()}


def _prepare_metrics(metrics: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """Flattened, cleaned metrics that are finite numbers, and the keys that were not.

    MLflow stores a metric as a double; None, NaN, infinities and non-numbers (a metric that
    could not be computed) are skipped rather than sent, and counted so the run says so.
    """
    kept: dict[str, float] = {}
    skipped: list[str] = []
    for key, value in _unique_keys(flatten(metrics)).items():
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            kept[key] = float(value)
        else:
            skipped.append(key)
    return kept, skipped


def _prepare_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Cleaned tag keys with text values within MLflow's length limit."""
    return {k: _cut(_text(v), MAX_TAG_VALUE_LENGTH) for k, v in _unique_keys(tags).items()}


def _check_artifacts(artifacts: Mapping[str, Path]) -> dict[str, Path]:
    """Artifact names (relative paths inside the run) mapped to existing local paths.

    A bad name is a caller's bug (ValueError); a missing file means the step that should have
    written it did not, which is a step failure, not the tracking server's.
    """
    out: dict[str, Path] = {}
    for name, path in artifacts.items():
        norm = posixpath.normpath(name) if name else ""
        if norm != name or norm in ("", ".") or norm.startswith(("/", "..")):
            raise ValueError(f"MLflow artifact name {name!r} is not a plain relative path")
        local = Path(path)
        if not local.exists():
            raise StepFailed(f"MLflow artifact {name!r}: {local} does not exist")
        out[name] = local
    return out


# --------------------------------------------------------------------------------------------
# Talking to MLflow
# --------------------------------------------------------------------------------------------


def redact_uri(uri: str) -> str:
    """The tracking URI with any password replaced by `***`, fit for messages and logs."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (relative to the cwd as MLflow reads it)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return Path(path)


@contextmanager
def _mlflow_environment(cfg: MlflowConfig) -> Iterator[None]:
    """Short HTTP timeouts and retries, no telemetry, a quiet store — restored afterwards."""
    wanted = {_ENV_TIMEOUT: str(max(1, math.ceil(cfg.timeout_s)))}  # MLflow reads an int
    wanted.update({k: v for k, v in _ENV_DEFAULTS.items() if k not in os.environ})
    saved_env = {k: os.environ.get(k) for k in wanted}
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    saved_levels = [lg.level for lg in loggers]
    os.environ.update(wanted)
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for key, old in saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        for lg, level in zip(loggers, saved_levels, strict=True):
            lg.setLevel(level)


def _import_client() -> Any:
    """`mlflow.tracking.MlflowClient`, or an ExternalServiceError telling how to install it."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ExternalServiceError(
            f"MLflow logging is enabled but mlflow is not installed ({exc}): {INSTALL_HINT}",
            hint="or set mlflow.enabled = false",
        ) from exc
    return MlflowClient


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of a request the server answered with an error, else None."""
    for err in _chain(exc):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(status, int):  # requests.HTTPError, as artifact uploads raise
            return status
    text = str(exc)
    # a non-JSON error body, or a retried status (5xx, 429) still failing after the retries
    match = re.search(r"failed with error code (\d{3})|too many (\d{3}) error responses", text)
    if match:
        return int(match.group(1) or match.group(2))
    if type(exc).__name__ == "RestException":  # a JSON error body: status from its error_code
        try:
            return int(exc.get_http_status_code())  # type: ignore[attr-defined]
        except (AttributeError, TypeError, ValueError):
            return None
    return None


def _unreachable_reason(exc: BaseException) -> str | None:
    """The OS-level reason a server could not be reached (refused, no route, timeout), if so."""
    names = {type(e).__name__ for e in _chain(exc)}
    if not names & {"ConnectionError", "NewConnectionError", "MaxRetryError",
                    "ConnectTimeout", "ReadTimeout", "Timeout", "ConnectionRefusedError"}:
        return None
    for err in reversed(list(_chain(exc))):
        if isinstance(err, OSError) and err.strerror:
            return f"[Errno {err.errno}] {err.strerror}" if err.errno else err.strerror
    return _short(exc)


def _short(exc: BaseException) -> str:
    """One exception's message on one line, cut to a readable length."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _cut(text, _MAX_SERVER_MESSAGE)


def _service_error(uri: str, exc: BaseException) -> ExternalServiceError:
    """The ExternalServiceError for a failure of the tracking backend at `uri`."""
    shown = redact_uri(uri)
    if isinstance(exc, ImportError):
        return ExternalServiceError(
            f"MLflow tracking store {shown} needs a package that is not installed ({exc}): "
            f"{INSTALL_HINT}")
    status = _http_status(exc)
    reason = None if status is not None else _unreachable_reason(exc)
    if reason is not None:
        return ExternalServiceError(
            f"MLflow tracking server {shown} is unreachable: {reason}",
            hint="is a server running there? mlflow.timeout_s bounds each request; "
                 "mlflow.required = false only warns")
    message = _short(exc)
    retried = re.search(r"too many \d{3} error responses", message)
    if retried:  # urllib3 drops the body of a status it retried: say what is known
        message = f"{retried.group(0)} (retries exhausted)"
    if status in (401, 403):
        return ExternalServiceError(
            f"MLflow tracking server {shown} refused access (HTTP {status}): {message}",
            hint="check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD")
    if status is not None:
        return ExternalServiceError(
            f"MLflow tracking server {shown} failed (HTTP {status}): {message}")
    return ExternalServiceError(
        f"MLflow logging to {shown} failed: {type(exc).__name__}: {message}")


def _preflight_sqlite(path: Path) -> None:
    """Open the sqlite file once, so a bad path fails now: MLflow would retry for ~100 s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    finally:
        conn.close()


def _experiment_id(client: Any, name: str, sqlite_file: Path | None) -> str:
    """The id of experiment `name`, created if missing (artifacts beside a sqlite store).

    For a sqlite store MLflow would put a new experiment's artifacts in `./mlruns` of whatever
    directory ares runs from; ares puts them in `mlruns/` beside the database file instead, which
    is the same place when run from that directory.
    """
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if sqlite_file is not None:
        location = (sqlite_file.resolve().parent / "mlruns").as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:
        found = client.get_experiment_by_name(name)  # created meanwhile by another process
        if found is None:
            raise
        return str(found.experiment_id)


def _stage(name: str, path: Path, staging: Path) -> Path:
    """`path` under the file name `name` wants, linked (or copied) into `staging`."""
    target = staging / name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
    return target


def _log_artifacts(client: Any, run_id: str, artifacts: Mapping[str, Path]) -> None:
    """Upload each artifact to `name` inside the run (a directory keeps its tree)."""
    with tempfile.TemporaryDirectory(prefix="ares-mlflow-") as tmp:
        for name, path in artifacts.items():
            parent = posixpath.dirname(name) or None
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=name)
            elif path.name == posixpath.basename(name):
                client.log_artifact(run_id, str(path), artifact_path=parent)
            else:
                client.log_artifact(run_id, str(_stage(name, path, Path(tmp))),
                                    artifact_path=parent)


def log_run(cfg: MlflowConfig, *, run_name: str, params: dict[str, Any],
            metrics: dict[str, float], artifacts: dict[str, Path],
            tags: dict[str, str]) -> str:
    """Log one finished ares run to MLflow and return the MLflow run id.

    `params` and `metrics` may be nested (flattened to dotted keys); keys are made acceptable to
    MLflow, param values cut to its limit, and metrics that are not finite numbers skipped (their
    count is the tag `ares.metrics_skipped`). `artifacts` maps a name inside the run
    (`report.html`, `bundle/`) to a local file or directory. Logs unconditionally: the
    `enabled` / `required` policy is `try_log`'s.

    Raises ExternalServiceError (exit 4) naming the tracking URI and the server's message when
    the backend fails; the MLflow run, if already created, is then marked FAILED. MLflow's HTTP
    settings are environment variables, set for the call and restored: do not run two calls
    with different configs in parallel threads.
    """
    prepared_params = _prepare_params(params)
    prepared_metrics, skipped = _prepare_metrics(metrics)
    prepared_tags = _prepare_tags(tags)
    if skipped:
        prepared_tags["ares.metrics_skipped"] = str(len(skipped))
        _log.info("MLflow: %d metric(s) not finite numbers, not logged: %s",
                  len(skipped), ", ".join(skipped))
    checked = _check_artifacts(artifacts)
    sqlite_file = _sqlite_path(cfg.tracking_uri)

    with _mlflow_environment(cfg):
        client_class = _import_client()
        run_id: str | None = None
        client: Any = None
        try:
            if sqlite_file is not None:
                _preflight_sqlite(sqlite_file)
            from mlflow.entities import Metric, Param, RunTag

            client = client_class(tracking_uri=cfg.tracking_uri)
            experiment_id = _experiment_id(client, cfg.experiment, sqlite_file)
            run = client.create_run(experiment_id, run_name=run_name)
            run_id = str(run.info.run_id)
            now_ms = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, now_ms, 0) for k, v in prepared_metrics.items()],
                params=[Param(k, v) for k, v in prepared_params.items()],
                tags=[RunTag(k, v) for k, v in prepared_tags.items()],
            )
            _log_artifacts(client, run_id, checked)
            client.set_terminated(run_id, status="FINISHED")
            return run_id
        except Exception as exc:
            if run_id is not None:
                try:
                    client.set_terminated(run_id, status="FAILED")
                except Exception:  # the backend that just failed may fail again: keep the cause
                    _log.debug("MLflow: could not mark run %s FAILED", run_id, exc_info=True)
            raise _service_error(cfg.tracking_uri, exc) from exc


def try_log(cfg: MlflowConfig, **kwargs: Any) -> tuple[str | None, str | None]:
    """`log_run` under the config's policy: `(run_id, warning)`.

    Disabled: `(None, None)`, nothing imported. Logged: `(run_id, None)`. Failed: raises the
    ExternalServiceError (exit 4) when `mlflow.required`, otherwise returns `(None, warning)`,
    the warning naming the URI and the server's message, for the step to record and count
    ("completed with 1 warning").
    """
    if not cfg.enabled:
        return None, None
    try:
        return log_run(cfg, **kwargs), None
    except ExternalServiceError as exc:
        if cfg.required:
            raise
        return None, f"MLflow logging skipped: {exc.message}"

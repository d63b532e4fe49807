"""MLflow logging against a real local sqlite store and local HTTP servers on 127.0.0.1.

The payload preparation and the config need no mlflow; every test that talks to MLflow asks for
the `client_class` fixture, which skips when the optional extra is not installed.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ares_cli.errors import ExternalServiceError
from ares_cli.report import mlflow_log
from ares_cli.report.mlflow_config import MlflowConfig
from ares_cli.report.mlflow_log import flatten, log_run, redact_uri, try_log

DENIED = {"error_code": "PERMISSION_DENIED", "message": "no access for ares"}


@pytest.fixture
def client_class(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`MlflowClient`, importing mlflow without telemetry; skips when mlflow is missing."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    tracking = pytest.importorskip("mlflow.tracking", reason="the mlflow extra is not installed")
    return tracking.MlflowClient


def _kwargs(tmp_path: Path) -> dict[str, Any]:
    """A small run to log: nested params and metrics, two artifacts, a tag."""
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<h1>ares report</h1>")
    bundle = tmp_path / "out" / "model.bundle"
    bundle.write_bytes(b"\x00bundle\x01")
    return {
        "run_name": "BTCUSDT-1h",
        "params": {"data": {"days": 30, "symbol": "BTC/USDT"}, "features": ["rsi", "atr"],
                   "note": "x" * 7000},
        "metrics": {"oos": {"sharpe": 1.25, "trades": 42}, "bad": float("nan"), "none": None,
                    "inf": math.inf},
        "artifacts": {"report.html": report, "bundle/ares.bundle": bundle},
        "tags": {"ares.code_hash": "abc123"},
    }


# --------------------------------------------------------------------------------------------
# Config and payload (no mlflow needed)
# --------------------------------------------------------------------------------------------


def test_config_defaults_off_and_strict() -> None:
    cfg = MlflowConfig()
    assert (cfg.enabled, cfg.tracking_uri, cfg.experiment, cfg.required, cfg.timeout_s) == (
        False, "sqlite:///mlruns.db", "ares", False, 10.0)
    with pytest.raises(ValidationError):
        MlflowConfig(enabled="true")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        MlflowConfig(tracking_uri_typo="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        MlflowConfig(timeout_s=0)


def test_flatten_and_clean_keys_meet_mlflow_rules() -> None:
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}
    params = mlflow_log._prepare_params(
        {"sym": {"BTC:USDT?": "x"}, "/lead//..//x/": 1, "long": "y" * 7000, "k" * 300: 1})
    assert params["sym.BTC_USDT_"] == "x"
    assert params["lead/x"] == "1"
    assert len(params["long"]) == mlflow_log.MAX_PARAM_VALUE_LENGTH
    assert params["long"].endswith("...")
    assert all(len(k) <= mlflow_log.MAX_KEY_LENGTH for k in params)
    # two keys that clean to the same text both survive
    assert set(mlflow_log._prepare_params({"a:b": 1, "a?b": 2})) == {"a_b", "a_b__2"}


def test_metrics_keep_finite_numbers_only() -> None:
    kept, skipped = mlflow_log._prepare_metrics(
        {"x": 1, "y": {"z": 0.5}, "n": None, "nan": float("nan"), "inf": -math.inf, "s": "hi"})
    assert kept == {"x": 1.0, "y.z": 0.5}
    assert sorted(skipped) == ["inf", "n", "nan", "s"]


def test_bad_artifact_name_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="relative path"):
        mlflow_log._check_artifacts({"../escape": tmp_path})
    with pytest.raises(Exception, match="does not exist"):
        mlflow_log._check_artifacts({"report.html": tmp_path / "missing.html"})


def test_redact_uri_hides_password() -> None:
    assert redact_uri("https://u:secret@mlflow.example:5000/x") == "https://u:***@mlflow.example:5000/x"
    assert redact_uri("sqlite:///mlruns.db") == "sqlite:///mlruns.db"


def test_disabled_logs_nothing() -> None:
    cfg = MlflowConfig(enabled=False, tracking_uri="http://127.0.0.1:1", required=True)
    assert try_log(cfg, run_name="r", params={}, metrics={}, artifacts={}, tags={}) == (None, None)


def test_missing_mlflow_says_how_to_install(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # import fails as if absent
    cfg = MlflowConfig(enabled=True, tracking_uri=f"sqlite:///{tmp_path}/m.db")
    with pytest.raises(ExternalServiceError) as info:
        log_run(cfg, run_name="r", params={}, metrics={}, artifacts={}, tags={})
    assert "pip install 'ares-cli[mlflow]'" in info.value.message
    assert info.value.exit_code == 4


# --------------------------------------------------------------------------------------------
# A real local sqlite store
# --------------------------------------------------------------------------------------------


# MLflow's sqlite store uses an SQLAlchemy loader that SQLAlchemy 2.1 deprecates: not ours.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
def test_sqlite_store_round_trip(tmp_path: Path, client_class: Any) -> None:
    uri = f"sqlite:///{tmp_path}/store/mlruns.db"
    cfg = MlflowConfig(enabled=True, tracking_uri=uri, experiment="ares-test")
    kwargs = _kwargs(tmp_path)
    run_id, warning = try_log(cfg, **kwargs)
    assert warning is None and run_id

    client = client_class(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "BTCUSDT-1h"
    assert client.get_experiment(run.info.experiment_id).name == "ares-test"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["data.days"] == "30"
    assert params["data.symbol"] == "BTC/USDT"
    assert json.loads(params["features"]) == ["rsi", "atr"]
    assert len(params["note"]) == mlflow_log.MAX_PARAM_VALUE_LENGTH
    assert metrics == {"oos.sharpe": 1.25, "oos.trades": 42.0}
    assert tags["ares.code_hash"] == "abc123"
    assert tags["ares.metrics_skipped"] == "3"

    top = {a.path for a in client.list_artifacts(run_id)}
    assert top == {"report.html", "bundle"}
    assert [a.path for a in client.list_artifacts(run_id, "bundle")] == ["bundle/ares.bundle"]
    # artifacts live beside the database, not in the directory the tests run from
    stored = tmp_path / "store" / "mlruns"
    report = next(stored.rglob("report.html"))
    assert report.read_text() == "<h1>ares report</h1>"
    assert next(stored.rglob("ares.bundle")).read_bytes() == b"\x00bundle\x01"

    # a second run reuses the experiment
    second = log_run(cfg, **kwargs)
    assert client.get_run(second).info.experiment_id == run.info.experiment_id


def test_unopenable_sqlite_fails_fast(tmp_path: Path, client_class: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = MlflowConfig(enabled=True, tracking_uri=f"sqlite:///{blocker}/sub/m.db")
    started = time.monotonic()
    with pytest.raises(ExternalServiceError) as info:
        log_run(cfg, run_name="r", params={}, metrics={}, artifacts={}, tags={})
    assert time.monotonic() - started < 5  # MLflow's own engine retries would take ~100 s
    assert str(blocker) in info.value.message


# --------------------------------------------------------------------------------------------
# Local HTTP servers on 127.0.0.1
# --------------------------------------------------------------------------------------------


def _serve(status: int, body: bytes, content_type: str) -> Iterator[str]:
    """A server on an ephemeral 127.0.0.1 port answering every request with one response."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def denying_server() -> Iterator[str]:
    """An MLflow look-alike that answers 403 PERMISSION_DENIED to everything."""
    yield from _serve(403, json.dumps(DENIED).encode(), "application/json")


def test_403_names_uri_and_server_message(tmp_path: Path, denying_server: str,
                                          client_class: Any) -> None:
    timeout_before = os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT")
    cfg = MlflowConfig(enabled=True, tracking_uri=denying_server)
    with pytest.raises(ExternalServiceError) as info:
        log_run(cfg, **_kwargs(tmp_path))
    message = info.value.message
    assert denying_server in message
    assert "no access for ares" in message
    assert "403" in message
    assert info.value.exit_code == 4
    # the HTTP settings were for the call only
    assert os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") == timeout_before


def test_try_log_warns_or_raises_by_required(tmp_path: Path, denying_server: str,
                                             client_class: Any) -> None:
    kwargs = _kwargs(tmp_path)
    run_id, warning = try_log(MlflowConfig(enabled=True, tracking_uri=denying_server), **kwargs)
    assert run_id is None
    assert warning is not None
    assert denying_server in warning and "no access for ares" in warning
    required = MlflowConfig(enabled=True, tracking_uri=denying_server, required=True)
    with pytest.raises(ExternalServiceError, match="no access for ares"):
        try_log(required, **kwargs)


@pytest.mark.parametrize("status", [418, 503])  # 503 is retried by MLflow, 418 is not
def test_server_error_names_status(tmp_path: Path, client_class: Any, status: int,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """ares' contract: the URI and the HTTP status, whatever MLflow's own wording (it changed
    between mlflow-skinny releases: a retried 503 kept no body, now it does)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for uri in _serve(status, b"teapot says no", "text/plain"):
        cfg = MlflowConfig(enabled=True, tracking_uri=uri)
        with pytest.raises(ExternalServiceError) as info:
            log_run(cfg, **_kwargs(tmp_path))
        assert uri in info.value.message
        assert f"HTTP {status}" in info.value.message
        assert "unreachable" not in info.value.message


def test_unreachable_server_fails_quickly(tmp_path: Path, client_class: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    cfg = MlflowConfig(enabled=True, tracking_uri=uri, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ExternalServiceError) as info:
        log_run(cfg, **_kwargs(tmp_path))
    assert time.monotonic() - started < 15
    assert uri in info.value.message
    assert "unreachable" in info.value.message
    assert "Connection refused" in info.value.message

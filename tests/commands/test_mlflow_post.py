"""MLflow after the run: a failure leaves the run pending and the next try logs it, identical
results are logged once, and nothing about MLflow is part of any step's key.

The server is an MLflow look-alike on 127.0.0.1 (the REST calls `MlflowClient` makes, runs kept
in memory, artifacts in a local folder) that can answer 403 to the first N requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from ares_cli.artifacts import Artifact, encode
from ares_cli.commands.mlflow_post import log_pending, mlflow_state, post_run
from ares_cli.errors import ExternalServiceError
from ares_cli.report.mlflow_config import MlflowConfig
from ares_cli.runner import empty_record
from ares_cli.steps import PRODUCER, STEPS
from ares_cli.store.manifest import Manifest
from ares_cli.store.objects import Store

DENIED = {"error_code": "PERMISSION_DENIED", "message": "token not yet valid"}


class FakeMlflow:
    """Experiments and runs in memory; `deny` requests answered 403 first."""

    def __init__(self, artifacts: Path, deny: int = 0) -> None:
        self.artifacts, self.deny = artifacts, deny
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, query: dict[str, list[str]],
               body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.deny > 0:
                self.deny -= 1
                return 403, DENIED
            route = path.removeprefix("/api/2.0/mlflow/")
            if route == "experiments/get-by-name":
                name = query["experiment_name"][0]
                found = next((e for e in self.experiments.values() if e["name"] == name), None)
                if found is None:
                    return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": name}
                return 200, {"experiment": found}
            if route == "experiments/create":
                eid = str(len(self.experiments) + 1)
                self.experiments[eid] = {"experiment_id": eid, "name": body["name"],
                                         "artifact_location": (self.artifacts / eid).as_uri(),
                                         "lifecycle_stage": "active"}
                return 200, {"experiment_id": eid}
            if route == "experiments/get":
                return 200, {"experiment": self.experiments[query["experiment_id"][0]]}
            if route == "runs/create":
                rid = f"r{len(self.runs) + 1:04d}"
                eid = body["experiment_id"]
                info = {"run_id": rid, "run_uuid": rid, "experiment_id": eid,
                        "run_name": body.get("run_name", ""), "status": "RUNNING",
                        "start_time": body.get("start_time", 0), "lifecycle_stage": "active",
                        "artifact_uri": (self.artifacts / eid / rid / "artifacts").as_uri()}
                self.runs[rid] = {"info": info, "data": {"metrics": [], "params": [],
                                                         "tags": body.get("tags", [])}}
                return 200, {"run": self.runs[rid]}
            if route == "runs/get":
                return 200, {"run": self.runs[query["run_id"][0]]}
            if route == "runs/log-batch":
                data = self.runs[body["run_id"]]["data"]
                for key in ("metrics", "params", "tags"):
                    data[key] += body.get(key, [])
                return 200, {}
            if route == "runs/update":
                info = self.runs[body["run_id"]]["info"]
                info["status"] = body.get("status", info["status"])
                return 200, {"run_info": info}
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"{method} {path}"}


@pytest.fixture
def fake_mlflow(tmp_path: Path) -> Iterator[tuple[str, FakeMlflow]]:
    state = FakeMlflow(tmp_path / "artifacts")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            status, payload = state.answer(method, url.path, parse_qs(url.query), body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def do_PATCH(self) -> None:
            self._reply("PATCH")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def finished_run(tmp_path) -> tuple[Store, Manifest]:
    """A finished run in a store, its results small stand-ins of the real ones: what the hook
    reads is the bundle, the report and the walk-forward, Monte Carlo, A/B and rule records."""
    import polars as pl

    from ares_cli.config import build_config
    from ares_cli.ml.models.modelset import ModelSet

    store = Store(tmp_path / "store")
    manifest = Manifest(run_id="20260101T000000Z-abcdef", exchange="binance",
                        symbol="ETHUSDT", config=build_config({}).to_dict(),
                        steps=[empty_record(s) for s in STEPS], status="complete")
    results = {
        "walk_forward": Artifact("table", pl.DataFrame({"ret": [0.01, -0.02]})),
        "monte_carlo": Artifact("json", {"sharpe": 1.2, "looks": 1, "psr": 0.7,
                                         "verdict": "no edge"}),
        "ab_test": Artifact("json", {"decision": "keep", "p_value": 0.4}),
        "params": Artifact("json", {"policy": {"threshold": 0.55},
                                    "validation_metrics": {"sharpe": 2.0}}),
        "bundle": Artifact.modelset(ModelSet({"spec": {"bars": {"base": "1h"}}},
                                             {"m": b"model"})),
        "report": Artifact("bytes", b"<!DOCTYPE html><h1>report</h1>"),
    }
    for name, artifact in results.items():
        record = manifest.step(PRODUCER[name].number)
        record.status = "ok"
        data, _ = encode(artifact)
        record.outputs[name] = store.put(data)
        record.kinds[name] = artifact.kind
    store.write_manifest(manifest)
    return store, manifest


def _cfg(uri: str, **values: Any) -> MlflowConfig:
    return MlflowConfig(enabled=True, tracking_uri=uri, timeout_s=5, **values)


def test_a_refused_log_leaves_the_run_pending_and_the_next_try_logs_it_once(
        finished_run, fake_mlflow, monkeypatch) -> None:
    pytest.importorskip("mlflow.tracking", reason="the mlflow extra is not installed")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    store, manifest = finished_run
    uri, server = fake_mlflow
    server.deny = 1  # the first request is refused, then the server works
    mlflow_id, warning = post_run(store, manifest, _cfg(uri))
    assert mlflow_id is None and "403" in warning and uri in warning
    assert f"ares log-mlflow {manifest.run_id}" in warning
    assert mlflow_state(store, manifest.run_id)["status"] == "pending"
    assert server.runs == {}
    # the next run-all of the pair logs what is pending (here: this run)
    (logged,) = log_pending(store, "binance", "ETHUSDT",
                            lambda m: type("C", (), {"mlflow": _cfg(uri)})())
    assert logged[1] is not None and logged[2] is None
    assert mlflow_state(store, manifest.run_id) | {"updated": None} == {
        "status": "logged", "mlflow_run_id": logged[1],
        "identity": mlflow_state(store, manifest.run_id)["identity"], "updated": None}
    (run,) = server.runs.values()
    assert run["info"]["status"] == "FINISHED"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["ares.run_id"] == manifest.run_id and tags["exchange"] == "binance"
    assert any(m["key"] == "walk_forward.looks" for m in run["data"]["metrics"])
    artifacts = Path(urlparse(run["info"]["artifact_uri"]).path)
    assert (artifacts / "report.html").is_file() and (artifacts / "bundle" / "bundle.zip").is_file()
    # identical results again (a cached re-run, a retry): the same MLflow run, no second one
    again, warning = post_run(store, manifest, _cfg(uri))
    assert again == logged[1] and warning is None and len(server.runs) == 1


def test_required_mlflow_fails_with_exit_4_and_the_run_stays_pending(finished_run,
                                                                     fake_mlflow,
                                                                     monkeypatch) -> None:
    pytest.importorskip("mlflow.tracking", reason="the mlflow extra is not installed")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    store, manifest = finished_run
    uri, server = fake_mlflow
    server.deny = 100
    with pytest.raises(ExternalServiceError) as err:
        post_run(store, manifest, _cfg(uri, required=True))
    assert err.value.exit_code == 4 and uri in str(err.value)
    assert mlflow_state(store, manifest.run_id)["status"] == "pending"


def test_off_logs_nothing_and_no_step_key_reads_mlflow(finished_run) -> None:
    from ares_cli.config import build_config

    store, manifest = finished_run
    assert post_run(store, manifest, MlflowConfig()) == (None, None)
    assert mlflow_state(store, manifest.run_id) is None
    config = build_config({"mlflow": {"enabled": True}})
    for step in STEPS:  # toggling [mlflow] can change no action key
        keys = step.config_keys(config)
        assert not any(k == "mlflow" or k.startswith("mlflow.") for k in keys), step.name
    assert PRODUCER["bundle"].number == 16

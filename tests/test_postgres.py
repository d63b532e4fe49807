"""Steps 6 and 12 sharing their Optuna studies in a real PostgreSQL with two workers each.

The server is Debian's package, started by the test on 127.0.0.1 in a private data directory
as an unprivileged user (PostgreSQL refuses to run as root) and stopped after. It skips, saying
why, only where no server binaries or driver are installed (`.ci/run` installs both).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ares_cli.store.objects import Store
from tests.conftest import SMALL

SMALL_SETS = [arg for section, values in SMALL.items() for key, value in values.items()
              for arg in ("--set", f"{section}.{key}={value}")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (extra 'postgres') is missing")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="ares-pg-", dir="/tmp"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "ares"], check=True, capture_output=True, timeout=120)
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log),
                        "-w", "-o", f"-h 127.0.0.1 -p {port} -k {sockets}", "start"],
                       check=True, capture_output=True, timeout=120)
        yield f"postgresql://ares@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _ares(store: Path, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "ares_cli", *args, "--json"],
                            env={**os.environ, "ARES_STORE": str(store)},
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _studies(url: str) -> dict[str, list]:
    import optuna

    from ares_cli.ml.models.study import make_storage

    storage = make_storage(url)
    return {s.study_name: optuna.load_study(study_name=s.study_name,
                                            storage=storage).get_trials(deepcopy=False)
            for s in optuna.get_all_study_summaries(storage)}


@pytest.mark.slow  # steps 1-12 of a two-month market, twice: about 2 min
def test_steps_6_and_12_share_complete_duplicate_free_studies_in_postgresql(
        postgres_url: str, tmp_path: Path) -> None:
    sets = [*SMALL_SETS, "--set", "enhance.n_trials=6", "--set", "optimize.trials=24",
            "--set", f"enhance.storage={postgres_url}",
            "--set", f"optimize.storage={postgres_url}"]
    store = tmp_path / "store"
    first = _ares(store, "run-all", *sets, "--to", "12", "--workers", "2")
    assert [s["status"] for s in first["steps"][:12]] == ["ok"] * 12
    studies = _studies(postgres_url)
    enhance = {k: v for k, v in studies.items() if "optimize" not in k}
    assert enhance and any("optimize" in k for k in studies)
    writers = set()
    for name, trials in studies.items():
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        budget = 24 if "optimize" in name else 6
        assert budget <= len(complete) <= budget + 1, (name, len(complete))  # one may overrun
        assert not [t for t in trials if t.state.name != "COMPLETE"], name  # none left over
        points = [json.dumps(t.params, sort_keys=True) for t in complete]
        assert len(set(points)) == len(points), name  # no point computed twice
        writers |= {json.dumps(t.user_attrs.get("ares_worker"), sort_keys=True)
                    for t in complete}
    assert len(writers) >= 2  # both processes ran trials
    # the same searches, given the same trials, pick the same points (no trial is added)
    again = _ares(store, "run-all", *sets, "--from", "6", "--to", "12", "--force")
    assert again["steps"][5]["outputs"] == first["steps"][5]["outputs"]
    assert again["steps"][11]["outputs"]["params"] == first["steps"][11]["outputs"]["params"]
    assert {k: len(v) for k, v in _studies(postgres_url).items()} == {
        k: len(v) for k, v in studies.items()}
    assert Store(store).verify()[1] == []

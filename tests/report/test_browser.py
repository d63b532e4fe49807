"""The report in a real browser: headless Chromium opens the file with no network, every plot
survives the HTML parser with its SVG (the page's own script counts them into
`<body data-plots>`), nothing is logged as an error (a script error, a blocked resource, a
Content-Security-Policy violation), and a screenshot is taken.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ended by NUL on file descriptors 3 and 4), with the standard library only. Unlike
scraping `--enable-logging` output, the protocol reports each console message and exception
with its level, so "no error" is a real check. The test skips when no Chromium is installed
(Debian: `apt-get install -y chromium`); `ARES_CHROMIUM` names another binary.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ares_cli.report.page import PLOTS
from tests.report.fixtures import full_page

TIMEOUT = 30.0  # seconds for any one protocol answer; a hung browser fails, never hangs CI
WIDTH = 1400


def _chromium() -> str | None:
    """The Chromium binary: `ARES_CHROMIUM`, else the first of the usual names on PATH."""
    named = os.environ.get("ARES_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium on a DevTools pipe, with one page attached."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def _wire_fds() -> None:
            # in the child, before exec: Chromium reads fd 3 and writes fd 4. Copy both ends
            # above 10 first, so neither is clobbered when it already sits on 3 or 4.
            read = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
            write = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(read, 3)  # dup2 makes 3 and 4 inheritable; Python's own fds are not
            os.dup2(write, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--mute-audio",
                f"--user-data-dir={profile}", "--remote-debugging-pipe",
                f"--window-size={WIDTH},1000", "about:blank"]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, close_fds=False,
                                     preexec_fn=_wire_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        """The next protocol message from the browser."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: bool = False) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        """Block until the page sends event `method`."""
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def open(self, path: Path) -> list[str]:
        """Load `path` and return every error the page logged while loading."""
        self.events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=True)
        self.wait_for("Page.loadEventFired")
        self.evaluate("0")  # a round trip, so messages logged during load have arrived
        return self.errors()

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP, loads) so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')} "
                             f"{params['exceptionDetails'].get('exception', {})}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                                "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                    for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log ({params['entry'].get('source')}): "
                             f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The whole page (not just the first screenful) as a PNG at `path`."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": min(height, 16000), "deviceScaleFactor": 1,
                   "mobile": False}, session=True)
        shot = self.call("Page.captureScreenshot", {"format": "png"}, session=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        """Ask the browser to quit; kill it if it does not."""
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            os.close(fd)
        self._log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium binary found (install Debian's `chromium`, or set "
                    "ARES_CHROMIUM to one): the report was not checked in a browser")
    root = tmp_path_factory.mktemp("chromium")
    b = Browser(binary, root / "profile", root / "chromium.log")
    try:
        yield b
    finally:
        b.close()


def test_report_renders_in_chromium(browser: Browser, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(full_page(), encoding="utf-8")
    errors = browser.open(report)
    assert errors == [], "the page logged errors:\n" + "\n".join(errors)
    state = browser.evaluate("Object.assign({}, document.body.dataset)")
    assert state == {"plots": str(len(PLOTS)), "plotsExpected": str(len(PLOTS)),
                     "plotsMissing": ""}
    # each figure drawn with a real size, not collapsed to nothing by CSS
    sizes = browser.evaluate(
        "Array.from(document.querySelectorAll('figure > svg'))"
        ".map(s => [s.parentElement.id, s.getBoundingClientRect().width,"
        " s.getBoundingClientRect().height])")
    assert [s[0] for s in sizes] == [f"plot-{p}" for p in PLOTS]
    assert all(w > 800 and h > 150 for _, w, h in sizes), sizes
    assert browser.evaluate("document.querySelector('main').firstElementChild.id") == "verdict"
    png = tmp_path / "report.png"
    browser.screenshot(png)
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_published_header_comes_first_and_breaks_nothing(browser: Browser,
                                                              tmp_path: Path) -> None:
    """The stamped copy: the header is the page's first section, visible, under the CSP."""
    from ares_cli.report.identity import stamp
    from tests.report.test_identity import FACTS

    report = tmp_path / "stamped.html"
    report.write_text(stamp(full_page(), FACTS), encoding="utf-8")
    errors = browser.open(report)
    assert errors == [], "the page logged errors:\n" + "\n".join(errors)
    assert browser.evaluate("document.querySelector('main').firstElementChild.id") == "identity"
    text = browser.evaluate("document.getElementById('identity').innerText")
    assert "20240101T000000Z-abc123" in text and "/data/<odd>&name.feather" in text
    assert browser.evaluate("document.getElementById('identity')"
                            ".getBoundingClientRect().height") > 100
    assert browser.evaluate("document.body.dataset.plots") == str(len(PLOTS))


def test_the_check_sees_errors_and_lost_plots(browser: Browser, tmp_path: Path) -> None:
    """The harness is not blind: a page with a console error, an external load and a figure
    without its SVG is caught on every count."""
    page = full_page()
    page = page.replace("<figure id=\"plot-pareto\"><svg", "<figure id=\"plot-pareto\"><sv", 1)
    page = page.replace("<main>", '<main><img src="https://example.invalid/x.png">', 1)
    bad = tmp_path / "bad.html"
    bad.write_text(page, encoding="utf-8")
    errors = browser.open(bad)
    assert any("Content Security Policy" in e or "Content-Security-Policy" in e
               for e in errors), errors
    assert browser.evaluate("document.body.dataset.plotsMissing") == "plot-pareto"

    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!DOCTYPE html><body><script>console.error('boom');"
                     "undefinedThing();</script></body>", encoding="utf-8")
    errors = browser.open(noisy)
    assert any("boom" in e for e in errors) and any("undefinedThing" in e for e in errors)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["synthetic", "real ETH/BTC 5m"])
def test_a_published_report_of_a_real_run_says_what_it_is(browser: Browser, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           source: str) -> None:
    """All 16 steps (the tiny synthetic market, and a real candle file whose walk-forward is
    too thin for a verdict), then the published report in Chromium: the header first, with
    the run id and the data; every empty section saying why; no console error."""
    import json

    from typer.testing import CliRunner

    from ares_cli.cli import app
    from tests.conftest import TINY_SETS, shared_file

    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    if source == "synthetic":
        args = [arg for item in TINY_SETS for arg in ("--set", item)]
        args += ["--set", "walk_forward.folds=1"]
    else:
        args = ["--source", "files", "--symbol", "ETHBTC", "--path",
                str(shared_file("real/freqtrade/ETH_BTC-5m.feather"))]
    result = CliRunner().invoke(app, ["run-all", *args, "--json"])
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 0, summary["message"]
    errors = browser.open(Path(summary["report"]))
    assert errors == [], "the page logged errors:\n" + "\n".join(errors)
    assert browser.evaluate("document.querySelector('main').firstElementChild.id") == "identity"
    header = browser.evaluate("document.getElementById('identity').innerText")
    assert summary["run_id"] in header and "Published" in header
    assert ("synthetic market (seed" in header if source == "synthetic"
            else "ETH_BTC-5m.feather" in header and "fine path" in header)
    notes = browser.evaluate("Array.from(document.querySelectorAll('.na'))"
                             ".map(e => e.innerText)")
    for note in notes:  # an empty section says why, never a bare "not available"
        assert not note.rstrip(".").endswith("not available"), note
    if source != "synthetic":
        mc = browser.evaluate("document.getElementById('section-monte_carlo').innerText")
        verdict = summary["steps"][13]["metrics"]["walk_forward"]["verdict"]
        assert verdict != "not tested" or "not tested:" in mc, mc

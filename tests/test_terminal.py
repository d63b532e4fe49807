"""What a person sees in a terminal: no Python warning lines over the progress display, from
the main process or from walk-forward's worker processes."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_file

CANDLES = "real/freqtrade/ETH_BTC-5m.feather"  # 5m candles: NaN-only windows in walk-forward


@pytest.mark.slow  # all 16 steps on real candles in a pseudo-terminal: about 25 s
def test_a_candle_walk_forward_in_a_terminal_prints_no_python_warning(tmp_path: Path) -> None:
    path = shared_file(CANDLES)
    main, secondary = pty.openpty()
    env = {**os.environ, "ARES_STORE": str(tmp_path / "store"), "COLUMNS": "100",
           "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ares_cli", "run-all", "--exchange", "binance", "--symbol",
         "ETHBTC", "--source", "files", "--path", str(path)],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, cwd=tmp_path,
        close_fds=True)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert process.wait(timeout=600) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert not re.search(r"\w+Warning:", text), [line for line in text.splitlines()
                                                  if "Warning" in line][:5]
    # the warnings were not lost: they are counted and kept in the run log
    assert re.search(r"note: \d+ Python warnings? from libraries, kept in .*log\.jsonl", text)

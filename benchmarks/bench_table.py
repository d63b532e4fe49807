"""`make bench`: one table of ratios, every row measured side by side in this one run, each
side in a fresh process, written to docs/bench-table.md with the machine it ran on.

Rows:
- trades -> 1h and 1m bars: ares (day chunks read one at a time, the deterministic reduction
  step 2 uses) vs pandas `resample` (one parquet of the same trades) vs a polars streaming
  `group_by_dynamic` over the same day chunks;
- ingest of Binance aggTrades zips (ares' file loader) vs polars `scan_csv` of the unzipped CSVs;
- the backtest engine vs vectorbt, one run and the 1,000-pair sweep (from `.venv-bench`, which
  `make bench` builds; the row says so when it is missing);
- the whole pipeline at the replaced tool's scale (17.8 M trades, 37 days);
- a year of trades (176 M, 365 days at 482,000 a day) through steps 1-2, the same at 48,000
  and 160,000 a day (peak memory must not grow with trades), and through all 16 steps.

Wall time is measured by the parent around the work (bars, ingest) or the whole command
(pipelines). Peak RSS is the largest single process, as `/usr/bin/time -v` reports it (the
kernel's high-water mark of the child, from wait4); "tree" is the largest sum of the resident
memory of the process and all its descendants, sampled every 0.1 s (walk-forward and step 12
run worker processes). Nothing here asserts a time; targets are printed as met or not.

    python -m benchmarks.bench_table                 # everything (about 15 minutes here)
    python -m benchmarks.bench_table --quick         # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
TIME = "/usr/bin/time"  # GNU time: the peak RSS the targets are stated in
HOUR_MS, MINUTE_MS = 3_600_000, 60_000


# --------------------------------------------------------------------------------------------
# Measuring a process
# --------------------------------------------------------------------------------------------


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and every descendant, from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as handle:
                resident = int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        parent[int(entry)] = int(fields[1])
        rss[int(entry)] = resident
    total, stack = 0, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(cmd: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> dict[str, Any]:
    """Run `cmd`; its wall seconds, peak RSS of the largest process (MB), peak summed RSS of
    its process tree (MB), exit code and stdout."""
    # GNU time reports the child's own high-water mark: measured from this process, the
    # kernel would count the pages a fork copied from the parent before exec
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", peak.name, *cmd], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.PIPE)
        peak_tree = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.is_set():
                peak_tree = max(peak_tree, _tree_rss(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stderr = proc.stderr.read() if proc.stderr else b""
        proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        stdout = out.read().decode()
        kb = peak.read().strip().splitlines()
    peak_mb = int(kb[-1]) / 1024 if kb and kb[-1].isdigit() else float("nan")
    return {"seconds": seconds, "peak_mb": peak_mb, "tree_mb": peak_tree / 2**20,
            "code": proc.returncode, "stdout": stdout, "stderr": stderr.decode()}


# The baselines' interpreter (pandas comes with vectorbt there; neither is a dependency of
# ares, and pandas in the project's venv would cost every ares process 0.6 s of imports:
# scikit-learn imports it when it is installed).
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def task(name: str, data: Path, python: str = sys.executable) -> dict[str, Any]:
    """Run one in-process task (`--task`) in a fresh interpreter; its own timing of the work
    (imports excluded) replaces the wall time."""
    result = run_measured([python, "-m", "benchmarks.bench_table", "--task", name,
                           "--data", str(data)], cwd=ROOT)
    if result["code"]:
        raise SystemExit(f"task {name} failed:\n{result['stderr'][-3000:]}")
    result.update(json.loads(result["stdout"].strip().splitlines()[-1]))
    return result


# --------------------------------------------------------------------------------------------
# The tasks (run inside the fresh interpreter)
# --------------------------------------------------------------------------------------------


def _day_files(data: Path) -> list[Path]:
    return sorted((data / "days").glob("*.parquet"))


def task_bars_ares() -> dict[str, Any]:
    import polars as pl

    from ares_cli.data.bars import bars_from_chunks

    files = _day_files(DATA)
    start = time.perf_counter()
    base, fine, _ = bars_from_chunks((pl.read_parquet(f) for f in files), HOUR_MS, MINUTE_MS)
    return {"work_s": time.perf_counter() - start, "rows": [base.height, fine.height]}


def _polars_bars(trades: Any, every: str) -> Any:
    import polars as pl

    return (trades.with_columns(quote=pl.col("price") * pl.col("qty"),
                                taker=pl.when(pl.col("is_buyer_maker")).then(0.0)
                                .otherwise(pl.col("qty")))
            .group_by_dynamic("timestamp", every=every)
            .agg(open=pl.col("price").first(), high=pl.col("price").max(),
                 low=pl.col("price").min(), close=pl.col("price").last(),
                 volume=pl.col("qty").sum(), quote_volume=pl.col("quote").sum(),
                 trades=pl.len(), taker_buy_volume=pl.col("taker").sum()))


def task_bars_polars() -> dict[str, Any]:
    import polars as pl

    files = [str(f) for f in _day_files(DATA)]
    start = time.perf_counter()
    scan = pl.scan_parquet(files).set_sorted("timestamp")
    base = _polars_bars(scan, "1h").collect(engine="streaming")
    fine = _polars_bars(scan, "1m").collect(engine="streaming")
    return {"work_s": time.perf_counter() - start, "rows": [base.height, fine.height]}


def task_bars_pandas() -> dict[str, Any]:
    import pandas as pd

    from benchmarks.bench_bars import pandas_bars

    start = time.perf_counter()
    frame = pd.read_parquet(DATA / "trades.parquet").set_index("timestamp")
    rows = [len(pandas_bars(frame, rule)) for rule in ("1h", "1min")]
    return {"work_s": time.perf_counter() - start, "rows": rows}


def task_ingest_ares() -> dict[str, Any]:
    from ares_cli.data.files.loader import load_files

    zips = sorted(str(p) for p in (DATA / "ingest").glob("*.zip"))
    start = time.perf_counter()
    rows = load_files(zips).frame.height
    return {"work_s": time.perf_counter() - start, "rows": [rows]}


def task_ingest_scan() -> dict[str, Any]:
    import polars as pl

    csvs = sorted((DATA / "ingest").glob("*.csv"))
    start = time.perf_counter()
    rows = pl.concat([pl.scan_csv(c, has_header=False) for c in csvs]).collect().height
    return {"work_s": time.perf_counter() - start, "rows": [rows]}


TASKS = {"bars-ares": task_bars_ares, "bars-polars": task_bars_polars,
         "bars-pandas": task_bars_pandas, "ingest-ares": task_ingest_ares,
         "ingest-scan": task_ingest_scan}
DATA = Path()


# --------------------------------------------------------------------------------------------
# Preparing the data and running the rows
# --------------------------------------------------------------------------------------------


def prepare(data: Path, days: int, per_day: int, ingest_trades: int) -> int:
    """Day parquet files and one whole parquet of the synthetic trades, and Binance zips and
    their CSVs for the ingest row; the trade count."""
    import polars as pl

    from ares_cli.data.synthetic import day_trades, plan
    from ares_cli.util.tables import table_bytes
    from benchmarks.bench_ingest import write_binance_csvs, zip_each

    (data / "days").mkdir(parents=True)
    frames = []
    for k, frame in enumerate(day_trades(plan(seed=1, days=days, trades_per_day=per_day))):
        (data / "days" / f"{k:04d}.parquet").write_bytes(table_bytes(frame))
        frames.append(frame)
    trades = pl.concat(frames)
    trades.write_parquet(data / "trades.parquet")
    (data / "ingest").mkdir()
    zip_each(write_binance_csvs(data / "ingest", trades.head(ingest_trades), 4))
    return trades.height


def ares(*args: str) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "ares") if (ROOT / ".venv").is_dir() else "ares",
            "run-all", "--config", str(ROOT / "config.toml"), *args]


def pipeline(store: Path, *sets: str, to: int | None = None) -> dict[str, Any]:
    env = {**os.environ, "ARES_STORE": str(store)}
    args = [a for s in sets for a in ("--set", s)] + (["--to", str(to)] if to else [])
    result = run_measured(ares(*args, "--json"), env=env, cwd=ROOT)
    if result["code"]:
        raise SystemExit(f"ares {' '.join(args)} exited {result['code']}:\n"
                         f"{result['stderr'][-3000:]}")
    summary = json.loads(result["stdout"])
    result["steps"] = {s["name"]: s.get("seconds") for s in summary["steps"]}
    result["verdict"] = next((s["metrics"].get("walk_forward", {}).get("verdict")
                              for s in summary["steps"] if s["name"] == "monte-carlo"), None)
    return result


def vectorbt_rows(args: argparse.Namespace) -> list[dict[str, Any]] | str:
    python = BENCH_PYTHON
    if not python.is_file():
        return "not run: .venv-bench (vectorbt) is missing; `make bench` builds it"
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "rows.json"
        extra = ["--bars", "20000", "--repeat", "3"] if args.quick else []
        done = subprocess.run([str(python), "-m", "benchmarks.bench_backtest", "--skip-naive",
                               "--summary", str(summary), *extra], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        if done.returncode or not summary.is_file():
            return f"failed (exit {done.returncode}): {done.stderr[-500:]}"
        return json.loads(summary.read_text())


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) / 2**20 for line in
                   Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0.0)
    import numpy
    import polars
    import xgboost

    return (f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB RAM; {platform.platform()}; "
            f"Python {platform.python_version()}, polars {polars.__version__}, numpy "
            f"{numpy.__version__}, xgboost {xgboost.__version__}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def main() -> int:
    global DATA
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-table.md")
    parser.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        DATA = args.data
        print(json.dumps(TASKS[args.task]()))
        return 0

    days, per_day = (20, 10_000) if args.quick else (37, 482_000)
    year_days = 20 if args.quick else 365
    year_rates = (2_000, 5_000, 10_000) if args.quick else (48_000, 160_000, 482_000)
    lines: list[str] = []
    checks: list[tuple[str, str, bool]] = []  # (target, measured, met)

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory(prefix="ares-bench-") as tmp:
        data = Path(tmp) / "data"
        n = prepare(data, days, per_day, 4_000_000 if not args.quick else 200_000)
        print(f"prepared {n:,} trades over {days} days", flush=True)
        say(f"# Benchmarks (`make bench`)\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
            f"{machine()}. Each side in a fresh process; time is the work's wall time (bars, "
            "ingest) or the whole command's (pipelines); peak is the largest single "
            "process's resident high-water mark (as `/usr/bin/time -v`), tree the largest "
            "summed resident memory of the process and its workers.\n")

        pandas_python = str(BENCH_PYTHON) if BENCH_PYTHON.is_file() else sys.executable
        bars = {side: task(f"bars-{side}", data, pandas_python if side == "pandas"
                           else sys.executable) for side in ("ares", "pandas", "polars")}
        a, p, q = bars["ares"], bars["pandas"], bars["polars"]
        say(f"## Trades -> 1h and 1m bars ({n:,} trades, {days} day chunks)\n")
        say("| builder | s | peak MB | bars (1h, 1m) |\n|---|---|---|---|")
        for label, r in (("ares (day chunks, carried edge)", a), ("pandas resample (one "
                         "parquet)", p), ("polars streaming group_by_dynamic (day chunks)", q)):
            say(f"| {label} | {r['work_s']:.2f} | {r['peak_mb']:.0f} | {r['rows']} |")
        say(f"\npandas / ares: time {ratio(p['work_s'], a['work_s'])}, memory "
            f"{ratio(p['peak_mb'], a['peak_mb'])} (targets >= 2x and >= 5x); ares / polars: "
            f"time {ratio(a['work_s'], q['work_s'])}, memory {ratio(a['peak_mb'], q['peak_mb'])}"
            " (target <= 1.5x each). Polars leaves out bars without trades; ares and pandas "
            "keep them.\n")
        checks += [
            ("trades -> bars >= 2x pandas in time", ratio(p["work_s"], a["work_s"]),
             p["work_s"] >= 2 * a["work_s"]),
            ("trades -> bars >= 5x pandas in memory", ratio(p["peak_mb"], a["peak_mb"]),
             p["peak_mb"] >= 5 * a["peak_mb"]),
            ("trades -> bars within 1.5x of polars streaming in time",
             ratio(a["work_s"], q["work_s"]), a["work_s"] <= 1.5 * q["work_s"]),
            ("trades -> bars within 1.5x of polars streaming in memory",
             ratio(a["peak_mb"], q["peak_mb"]), a["peak_mb"] <= 1.5 * q["peak_mb"])]

        ia, isc = task("ingest-ares", data), task("ingest-scan", data)
        say(f"## Ingest of Binance aggTrades zips ({ia['rows'][0]:,} trades, 4 files)\n")
        say("| reader | s | peak MB |\n|---|---|---|")
        say(f"| ares load_files (zips) | {ia['work_s']:.2f} | {ia['peak_mb']:.0f} |")
        say(f"| polars scan_csv (unzipped CSVs) | {isc['work_s']:.2f} | {isc['peak_mb']:.0f} |")
        say(f"\nares / scan_csv: time {ratio(ia['work_s'], isc['work_s'])} (target <= 2x)\n")

        vbt = vectorbt_rows(args)
        say("## Backtest engine vs vectorbt\n")
        if isinstance(vbt, str):
            say(f"{vbt}\n")
        else:
            say("| case | ares s | vectorbt s | speed ratio | ares peak MB | vbt peak MB | "
                "equal |\n|---|---|---|---|---|---|---|")
            for r in vbt:
                say(f"| {r['case']} | {r['ares_s']:.4f} | {r['vectorbt_s']:.4f} | "
                    f"{r['ratio']:.1f}x | {r['ares_peak_mb']:.0f} | {r['vbt_peak_mb']:.0f} | "
                    f"{'yes' if r['equal'] else 'NO'} |")
            say("")

        stores = Path(tmp) / "stores"
        scale = (f"data.days={days}", f"data.trades_per_day={per_day}")
        whole = pipeline(stores / "scale", *scale)
        say("## The whole pipeline\n\n| run | trades | wall s | peak MB | tree MB | slowest "
            "steps |\n|---|---|---|---|---|---|")

        def slowest(r: dict[str, Any]) -> str:
            top = sorted(((s, k) for k, s in r["steps"].items() if s), reverse=True)[:4]
            return ", ".join(f"{k} {s:.1f}" for s, k in top)

        say(f"| 16 steps, the replaced tool's scale ({days} days) | {n / 1e6:.1f} M | "
            f"{whole['seconds']:.1f} | {whole['peak_mb']:.0f} | {whole['tree_mb']:.0f} | "
            f"{slowest(whole)} |")
        checks += [(f"{n / 1e6:.1f} M trades, 16 steps: <= 30 s", f"{whole['seconds']:.1f} s",
                    whole["seconds"] <= 30),
                   (f"{n / 1e6:.1f} M trades, 16 steps: <= 1 GB peak",
                    f"{whole['peak_mb']:.0f} MB", whole["peak_mb"] <= 1024)]
        flat = {}
        for rate in year_rates:
            r = pipeline(stores / f"year{rate}", f"data.days={year_days}",
                         f"data.trades_per_day={rate}", to=2)
            flat[rate] = r
            say(f"| steps 1-2, {year_days} days at {rate:,} a day | "
                f"{year_days * rate / 1e6:.0f} M | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
                f"{r['tree_mb']:.0f} | {slowest(r)} |")
            subprocess.run(["rm", "-rf", str(stores / f"year{rate}")], check=False)
        top = year_rates[-1]
        year = pipeline(stores / "year", f"data.days={year_days}", f"data.trades_per_day={top}")
        say(f"| 16 steps, {year_days} days at {top:,} a day | {year_days * top / 1e6:.0f} M | "
            f"{year['seconds']:.1f} | {year['peak_mb']:.0f} | {year['tree_mb']:.0f} | "
            f"{slowest(year)} |")
        peaks = [r["peak_mb"] for r in flat.values()]
        spread = max(peaks) / min(peaks) - 1
        say(f"\nSteps 1-2 peak RSS over {len(peaks)} trade rates: {min(peaks):.0f} to "
            f"{max(peaks):.0f} MB, {spread:.0%} apart (target < 25 %). The year's verdict: "
            f"{year['verdict']}.\n")
        checks += [("a year, 16 steps: exit 0 and <= 5 min", f"{year['seconds']:.1f} s",
                    year["seconds"] <= 300),
                   ("a year, 16 steps: <= 1 GB peak", f"{year['peak_mb']:.0f} MB",
                    year["peak_mb"] <= 1024),
                   ("steps 1-2 peak RSS flat in trades: < 25 % apart", f"{spread:.0%}",
                    spread < 0.25)]
    say("## Targets (issue 20)\n\n| target | measured | met |\n|---|---|---|")
    for target, measured, met in checks:
        say(f"| {target} | {measured} | {'yes' if met else 'NO'} |")
    say("")
    if not args.quick:
        args.out.write_text("\n".join(lines))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

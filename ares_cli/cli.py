"""The `ares` command line (DESIGN §4): one Typer app, one context per invocation.

Heavy libraries are imported only inside the code paths that need them, so `ares --help` and a
fully cached `run-all` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ares_cli.errors import AresError, ConfigError, StepFailed
from ares_cli.util.command import ares_command

app = typer.Typer(
    name="ares",
    help="From an exchange's raw trades to a validated, calibrated, optimised trading model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Exchange = Annotated[str, typer.Option("--exchange", help="Exchange id, e.g. binance.")]
Symbol = Annotated[str, typer.Option("--symbol", help="Symbol, e.g. ETHUSDT.")]
Source = Annotated[
    str | None, typer.Option("--source", help="synthetic | files | ccxt (sets data.source).")
]
Paths = Annotated[
    list[str] | None,
    typer.Option("--path", help="Input file, folder or glob for --source files; repeatable."),
]
ConfigPath = Annotated[
    Path | None, typer.Option("--config", help="config.toml to use (default: ./config.toml).")
]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one key: section.key=value; repeatable."),
]
# metavar "": a flag takes no value, so help shows none (typer would print `<bool>`)
Force = Annotated[bool, typer.Option("--force", metavar="", help="Re-execute even when cached.")]
Strict = Annotated[bool, typer.Option("--strict", metavar="",
                                      help="Treat warnings as failures.")]
JsonOut = Annotated[bool, typer.Option("--json", metavar="",
                                       help="Print exactly one JSON line on stdout.")]
Workers = Annotated[int, typer.Option(
    "--workers", min=1, max=64,
    help="Local processes for the searches (steps 6 analyst-enhance and 12 optimize); other "
         "machines join through a shared storage URL (docs/distributed.md).")]


def _json(command: str, exit_code: int = 0, **fields: Any) -> None:
    """Write the command's one `--json` line (see commands/jsonl.py)."""
    from ares_cli.commands.jsonl import json_line

    sys.stdout.write(json_line(command, exit_code, **fields))


def _fail(exc: AresError, json_mode: bool = False, exchange: str | None = None,
          symbol: str | None = None, command: str | None = None) -> typer.Exit:
    """Report an error raised before or around a run; with --json also as its line on stdout."""
    typer.echo(f"error: {exc}", err=True)
    if json_mode:
        _json(command or _command_name(), exc.exit_code, message=str(exc), exchange=exchange,
              symbol=symbol)
    return typer.Exit(exc.exit_code)


def _command_name(args: list[str] | None = None) -> str:
    """The subcommand of this invocation ('ares' when there is none)."""
    words = sys.argv[1:] if args is None else args
    return next((w for w in words if not w.startswith("-")), "ares")


def _overrides(sets: list[str] | None, source: str | None, paths: list[str] | None) -> list[str]:
    overrides = list(sets or [])
    if source is not None:
        overrides.append(f"data.source={source}")
    if paths:
        overrides.append("data.paths=" + json.dumps(list(paths)))
    return overrides


def _config_args(sets: list[str] | None, source: str | None, paths: list[str] | None,
                 config: Path | None) -> tuple[str, ...]:
    """The config options of this invocation as command-line words (for pasteable hints)."""
    words: list[str] = []
    if config is not None:
        words += ["--config", str(config)]
    if source is not None:
        words += ["--source", source]
    for item in paths or []:
        words += ["--path", item]
    for item in sets or []:
        words += ["--set", item]
    return tuple(words)


def _load(config: Path | None, sets: list[str] | None, source: str | None = None,
          paths: list[str] | None = None) -> Any:
    from ares_cli.config import load_config

    return load_config(config, _overrides(sets, source, paths))


def _context(exchange: str, symbol: str, cfg: Any, json_mode: bool, strict: bool,
             config_args: tuple[str, ...] = (), workers: int = 1) -> Any:
    from ares_cli.console import make_reporter
    from ares_cli.runner import Runner, RunOptions
    from ares_cli.store.objects import Store

    if not exchange.strip() or not symbol.strip():
        raise ConfigError("--exchange and --symbol must not be empty")
    options = RunOptions(exchange=exchange, symbol=symbol, config_args=config_args,
                         workers=workers)
    return Runner(Store(cfg.store_root()), cfg, options, make_reporter(json_mode), strict=strict)


def _on_latest_run(exchange: str, symbol: str, config: Path | None, sets: list[str] | None,
                   source: str | None, paths: list[str] | None, json_mode: bool,
                   strict: bool, workers: int = 1) -> Any:
    """A runner whose config is the pair's latest run's config with this invocation's options
    on top (`--config` starts from that file instead), so `ares step 4` after a run on files
    keeps reading those files; without a run, the usual config."""
    from ares_cli.config import load_config

    args = _config_args(sets, source, paths, config)
    first = _context(exchange, symbol, _load(config, sets, source, paths), json_mode, strict,
                     args, workers)
    latest = first.latest_manifest()
    if latest is None or config is not None:
        return first
    cfg = load_config(None, _overrides(sets, source, paths), base=latest.config,
                      base_origin=f"run {latest.run_id}")
    return _context(exchange, symbol, cfg, json_mode, strict, args, workers)


def _finish(runner: Any, outcome: Any, json_mode: bool, command: str) -> None:
    """Write `summary.json` (and `report.html` once step 16 is done) beside the manifest, print
    the summary (JSON or human) ending with the report's path, then exit with the run's code."""
    from ares_cli.commands.run_outputs import publish

    summary = outcome.summary(runner.options)
    report = publish(runner.store, outcome.manifest, summary)
    if not outcome.exit_code:
        problems = _post_run(runner, outcome.manifest)
        if problems:
            warnings, error = problems
            summary["warnings"] = [*summary["warnings"], *warnings]
            if error is not None:
                outcome.exit_code = error.exit_code
                summary.update(status="failed", exit_code=error.exit_code,
                               message=str(error))
                typer.echo(f"error: {error}", err=True)
            report = publish(runner.store, outcome.manifest, summary)
    if json_mode:
        _json(command, summary["exit_code"], message=summary["message"],
              exchange=summary["exchange"], symbol=summary["symbol"],
              where=str(runner.store.runs / summary["run_id"] / "summary.json"),
              **{k: summary.get(k) for k in ("run_id", "steps", "warnings", "resume_command",
                                            "versions_not_locked", "report")})
    else:
        counts: dict[str, int] = {}
        for step in summary["steps"]:
            counts[step["status"]] = counts.get(step["status"], 0) + 1
        text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        typer.echo(f"run {summary['run_id']} ({runner.options.exchange}/{runner.options.symbol})"
                   f": {text}")
        for warning in summary["warnings"]:
            typer.echo(f"warning: {warning}")
        chatter = sum(step.get("library_warnings", 0) for step in summary["steps"])
        if chatter:
            log = runner.store.runs / summary["run_id"] / "log.jsonl"
            typer.echo(f"note: {chatter} Python warning{'s' if chatter > 1 else ''} from "
                       f"libraries, kept in {log} (event library-warning)")
        if summary["versions_not_locked"]:
            typer.echo("note: library versions differ from requirements.lock, so digests may "
                       "differ from a locked install: " + ", ".join(summary["versions_not_locked"]))
        # the last line: the run's status in words, then where the report is
        ending = []
        if not outcome.exit_code and summary["warnings"]:
            n = len(summary["warnings"])
            ending.append(f"completed with {n} warning{'s' if n > 1 else ''}")
        if report is not None:
            ending.append(f"report: {report}")
        if ending:
            typer.echo("; ".join(ending))
    if outcome.failed_step is not None:
        record = outcome.manifest.step(outcome.failed_step.number)
        text = (f"error: step {outcome.failed_step.number} {outcome.failed_step.name} failed: "
                f"{record.message}")
        if summary["resume_command"]:
            text += f"\n  resume with: {summary['resume_command']}"
        typer.echo(text, err=True)
    raise typer.Exit(outcome.exit_code)


def _post_run(runner: Any, manifest: Any) -> tuple[list[str], AresError | None] | None:
    """Log the finished run to MLflow (when `[mlflow] enabled`), then the pair's earlier runs
    left pending: (warnings, the error when `required`) or None when nothing was tried."""
    from ares_cli.commands.mlflow_post import STATE, log_pending, post_run
    from ares_cli.runner import config_of

    store, cfg = runner.store, runner.config.mlflow
    pair = [m for m in store.list_runs()
            if (m.exchange, m.symbol) == (manifest.exchange, manifest.symbol)]
    if not cfg.enabled and not any((store.runs / m.run_id / STATE).exists() for m in pair):
        return None
    from ares_cli.errors import ExternalServiceError

    warnings: list[str] = []
    error: AresError | None = None
    try:
        _, warning = post_run(store, manifest, cfg)
        warnings += [warning] if warning else []
    except AresError as exc:
        error = exc
    except Exception as exc:  # the run is done; its logging failed
        failure = ExternalServiceError(f"MLflow logging failed: {type(exc).__name__}: {exc}")
        if cfg.required:
            error = failure
        else:
            warnings.append(f"{failure}; the run stays pending: ares log-mlflow "
                            f"{manifest.run_id}")
    for run_id, _, warning in log_pending(store, manifest.exchange, manifest.symbol,
                                          config_of, skip=manifest.run_id):
        if warning:
            warnings.append(f"run {run_id}: {warning}")
    return warnings, error


@app.command("run-all")
def run_all(
    exchange: Exchange = "binance",
    symbol: Symbol = "ETHUSDT",
    source: Source = None,
    path: Paths = None,
    config: ConfigPath = None,
    set_: Sets = None,
    from_: Annotated[int, typer.Option("--from", min=1, help="First step.")] = 1,
    to: Annotated[int | None, typer.Option("--to", min=1, help="Last step (default: the last).")
                  ] = None,
    force: Force = False,
    strict: Strict = False,
    json_: JsonOut = False,
    workers: Workers = 1,
) -> None:
    """Run the pipeline (steps --from..--to) in a new run; cached steps do no work.

    With --from N the steps before N are taken from the pair's latest run, and so is its
    config (source, paths, overrides); options given here apply on top.
    """
    from ares_cli.runner import check_range
    from ares_cli.steps import LAST

    def runner() -> Any:
        check_range(from_, last)
        if from_ > 1:
            return _on_latest_run(exchange, symbol, config, set_, source, path, json_, strict,
                                  workers)
        return _context(exchange, symbol, _load(config, set_, source, path), json_, strict,
                        _config_args(set_, source, path, config), workers)

    last = LAST if to is None else to
    _run_locked(exchange, symbol, json_, runner, lambda r, command: r.run_range(
        from_, last, force=force, command=command), ["run-all", *sys.argv[1:]])


def _run_locked(exchange: str, symbol: str, json_mode: bool, make_runner: Any, act: Any,
                command: list[str]) -> None:
    """Build the runner, run `act(runner, command)` under the pair's lock, then finish (print,
    publish, exit with the run's code); an AresError exits with its own code and message."""
    from ares_cli.util.fsutil import DiskFull

    try:
        runner = make_runner()
        with runner.store.lock(exchange, symbol):
            outcome = act(runner, command)
        _finish(runner, outcome, json_mode, command[0])
    except AresError as exc:
        raise _fail(exc, json_mode, exchange, symbol, command[0]) from None
    except DiskFull as exc:  # not even the run's record could be written: say where and what
        raise _fail(_store_full(exc, exchange, symbol), json_mode, exchange, symbol,
                    command[0]) from None


def _store_full(exc: OSError, exchange: str, symbol: str) -> AresError:
    """The error of a command that ran out of space in the store (exit 1)."""
    return StepFailed(f"the store is full: {exc}",
                      hint="free space on that device, then run the same command again or "
                      + ares_command("resume", exchange=exchange, symbol=symbol))


def _step_names() -> str:
    from ares_cli.steps import STEPS

    return "; ".join(f"{s.number} {s.name}" for s in STEPS)


@app.command("step")
def step(
    name: Annotated[str, typer.Argument(
        help=f"Step number or name: {_step_names()}.")],
    exchange: Exchange = "binance",
    symbol: Symbol = "ETHUSDT",
    source: Source = None,
    path: Paths = None,
    config: ConfigPath = None,
    set_: Sets = None,
    force: Force = False,
    strict: Strict = False,
    json_: JsonOut = False,
    workers: Workers = 1,
) -> None:
    """Run one step inside the pair's latest run, with that run's config (source, paths,
    overrides) and any options given here on top.

    A completed run or the champion is never edited: the step then runs in a new run that
    reuses the unchanged steps; `latest` moves to it, the champion stays."""
    from ares_cli.steps import resolve

    def runner() -> Any:
        resolve(name)  # an unknown step exits 2 before the store is touched
        return _on_latest_run(exchange, symbol, config, set_, source, path, json_, strict,
                              workers)

    def act(r: Any, command: list[str]) -> Any:
        return r.run_step(resolve(name), force=force, command=command)

    _run_locked(exchange, symbol, json_, runner, act, ["step", *sys.argv[1:]])


@app.command("resume")
def resume(
    exchange: Exchange = "binance",
    symbol: Symbol = "ETHUSDT",
    from_: Annotated[
        int | None, typer.Option("--from", min=1, help="Re-execute steps N to the last.")
    ] = None,
    strict: Strict = False,
    json_: JsonOut = False,
    config: ConfigPath = None,
) -> None:
    """Continue the latest run from its first step not done (or re-execute --from N on).

    A run started with `run-all --to N` resumes up to step N; `--from N` always runs to the end.
    `--from N` on a completed run or the champion runs in a new run based on it (never edits
    it); `latest` moves to the new run, the champion stays.
    """
    from ares_cli.runner import Runner, config_of
    from ares_cli.util.fsutil import DiskFull

    try:
        cfg = _load(config, None)
        probe = _context(exchange, symbol, cfg, json_, strict)
        with probe.store.lock(exchange, symbol):
            manifest = probe.latest_manifest()
            if manifest is None:
                raise ConfigError(
                    f"no run to resume for {exchange}/{symbol}",
                    hint=f"start one with: {probe.options.command('run-all')}",
                )
            runner = _context(exchange, symbol, config_of(manifest), json_, strict)
            numbers = Runner.resume_steps(manifest, from_)
            if not numbers:
                typer.echo(f"run {manifest.run_id}: every step is done; nothing to resume",
                           err=json_)
                if json_:
                    _json("resume", 0, message="every step is done; nothing to resume",
                          exchange=exchange, symbol=symbol, run_id=manifest.run_id)
                raise typer.Exit(0)
            outcome = runner.resume(manifest, numbers, rerun=from_ is not None,
                                    command=["resume", *sys.argv[1:]])
        _finish(runner, outcome, json_, "resume")
    except AresError as exc:
        raise _fail(exc, json_, exchange, symbol, "resume") from None
    except DiskFull as exc:
        raise _fail(_store_full(exc, exchange, symbol), json_, exchange, symbol,
                    "resume") from None


@app.command("status")
def status(
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """The latest run of every exchange/symbol in the store, beside its champion."""
    from ares_cli.commands.listing import status_rows

    try:
        rows = status_rows(_store(config))
    except AresError as exc:
        raise _fail(exc, json_, command="status") from None
    _print_rows("status", rows, json_, "no runs yet: start one with ares run-all")


@app.command("runs")
def runs(
    exchange: Annotated[str | None, typer.Option("--exchange")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol")] = None,
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """Every run in the store, oldest first."""
    from ares_cli.commands.listing import run_rows

    try:
        rows = run_rows(_store(config), exchange, symbol)
    except AresError as exc:
        raise _fail(exc, json_, exchange, symbol, "runs") from None
    _print_rows("runs", rows, json_, "no runs yet")


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="Run id (or prefix), 'latest', step, or digest.")],
    exchange: Annotated[str | None, typer.Option(
        "--exchange", help="Pair of 'latest' or a step (default: the most recent run).")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Symbol of that pair.")] = None,
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """Show a run manifest, one step of a latest run, or what a stored object holds.

    `latest` and a step name or number refer to the most recent run of any pair unless
    --exchange/--symbol name one; the first line on stderr says which run it is.
    """
    from ares_cli.commands.listing import show_ref

    try:
        title, content = show_ref(_store(config), ref, exchange, symbol)
    except AresError as exc:
        raise _fail(exc, json_, exchange, symbol, "show") from None
    typer.echo(title, err=True)
    if json_:
        owner = content if isinstance(content, dict) else {}
        _json("show", 0, exchange=owner.get("exchange", exchange),
              symbol=owner.get("symbol", symbol), run_id=owner.get("run_id"), title=title,
              content=content)
    else:
        typer.echo(json.dumps(content, indent=2, default=str))


@app.command("promote")
def promote(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix) to make the champion.")],
    config: ConfigPath = None,
    force: Annotated[bool, typer.Option(
        "--force", metavar="",
        help="Promote even when the verdict, re-judged now, is not 'edge'.")] = False,
    json_: JsonOut = False,
) -> None:
    """Make a run the champion of its exchange/symbol (what step 15 compares challengers with
    and `ares signal` trades). The run must have saved its bundle (step 16), and its
    walk-forward verdict, re-judged with the looks at its test bars counted now, must be
    'edge' (or give --force)."""
    from ares_cli.runner import config_of
    from ares_cli.steps import PRODUCER
    from ares_cli.store.champion import find_run, promote_run, require_bundle

    try:
        store = _store(config)
        manifest = find_run(store, run)
        require_bundle(manifest, PRODUCER["bundle"].number)
        runner = _context(manifest.exchange, manifest.symbol, config_of(manifest), json_, False)
        runner.store = store  # the ledger and objects of the store the run was found in
        verdict, why, looks = runner.rejudge(manifest)
        if verdict != "edge" and not force:
            raise ConfigError(
                f"run {manifest.run_id}'s walk-forward verdict, re-judged with {looks} look(s) "
                f"at its test bars, is {verdict!r}: {why}",
                hint=f"promote it anyway with: ares promote {manifest.run_id} --force")
        record = promote_run(store, manifest.run_id, PRODUCER["bundle"].number)
        record.update(verdict=verdict, looks=looks, forced=verdict != "edge")
    except AresError as exc:
        raise _fail(exc, json_, command="promote") from None
    if json_:
        _json("promote", 0, **record)
    else:
        typer.echo(f"{record['exchange']}/{record['symbol']}: champion is now run "
                   f"{record['run_id']} (was {record['previous'] or 'none'}); verdict "
                   f"{verdict!r} with {looks} look(s)" + (" (forced)" if record["forced"] else ""))


@app.command("report")
def report(
    exchange: Annotated[str | None, typer.Option("--exchange")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol")] = None,
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """Print the path of the latest run's report.html (of a pair, or of any pair); exit 2 when
    no run has one yet."""
    from ares_cli.commands.run_outputs import report_path
    from ares_cli.steps import PRODUCER

    try:
        store = _store(config)
        runs = [m for m in store.list_runs()
                if (exchange is None or m.exchange == exchange)
                and (symbol is None or m.symbol == symbol)
                and report_path(store, m.run_id).is_file()]
        if not runs:
            save = PRODUCER["report"]
            pair = (f"{exchange}/{symbol}" if exchange and symbol else "any pair")
            raise ConfigError(f"no run of {pair} has a report yet: step {save.number} "
                              f"({save.name}) writes it",
                              hint=ares_command("run-all", exchange=exchange or "binance",
                                                symbol=symbol or "ETHUSDT"))
    except AresError as exc:
        raise _fail(exc, json_, exchange, symbol, "report") from None
    found = runs[-1]
    path = str(report_path(store, found.run_id).resolve())
    if json_:
        _json("report", 0, exchange=found.exchange, symbol=found.symbol, run_id=found.run_id,
              path=path)
    else:
        typer.echo(path)


@app.command("export")
def export(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    out: Annotated[Path, typer.Option("--out", help="New folder to write.")],
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """Write a run's bundle and main tables as plain files (parquet, XGBoost .ubj, JSON) with a
    README saying what each file is and how to load it."""
    from ares_cli.commands.export import export_run

    try:
        result = export_run(_store(config), run, out)
    except AresError as exc:
        raise _fail(exc, json_, command="export") from None
    if json_:
        _json("export", 0, exchange=result.get("exchange"), symbol=result.get("symbol"),
              run_id=result["run_id"], out=str(result["out"]), files=result["files"])
    else:
        typer.echo(f"run {result['run_id']}: {len(result['files'])} files and folders in "
                   f"{result['out']}")


@app.command("signal")
def signal(
    exchange: Annotated[str | None, typer.Option(
        "--exchange", help="Exchange id (default: the store's only pair, else binance).")
    ] = None,
    symbol: Annotated[str | None, typer.Option(
        "--symbol", help="Symbol (default: the store's only pair, else ETHUSDT).")] = None,
    latest: Annotated[bool, typer.Option(
        "--latest", metavar="", help="The latest saved run's bundle, not the champion's.")
    ] = False,
    max_age: Annotated[float | None, typer.Option(
        "--max-age", help="Minutes the newest bar may be old (default: 2 bars for ccxt, no "
        "limit for files and synthetic).")] = None,
    config: ConfigPath = None,
    json_: JsonOut = False,
) -> None:
    """Today's decision from the champion bundle (or --latest) on data brought up to date:
    side, size, stop, target, probabilities, regime, bar and the three features that pushed it
    most. One line, or one JSON object with --json; made for cron."""
    from ares_cli.commands.signal import load_decision
    from ares_cli.serve.scoring import one_line

    try:
        store = _store(config)
        if exchange is None and symbol is None:
            pairs = [run for _, _, name, run in store.iter_refs() if name == "latest"]
            if len(pairs) == 1:  # the store's only pair (its names as the run spells them)
                only = store.read_manifest(pairs[0])
                exchange, symbol = only.exchange, only.symbol
        exchange, symbol = exchange or "binance", symbol or "ETHUSDT"
        decision = load_decision(store, exchange, symbol, latest=latest,
                                 max_age_minutes=max_age)
    except AresError as exc:
        raise _fail(exc, json_, exchange, symbol, "signal") from None
    if json_:
        _json("signal", 0, exchange=exchange, symbol=symbol, **decision)
    else:
        typer.echo(one_line(decision))


@app.command("log-mlflow")
def log_mlflow(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix) to log.")],
    config: ConfigPath = None,
    set_: Sets = None,
    json_: JsonOut = False,
) -> None:
    """Log a finished run to MLflow now (its `[mlflow]` settings, --set on top), once: a run
    whose identical results are logged already gets that MLflow run's id, not a second run."""
    from ares_cli.commands.mlflow_post import mlflow_state, post_run
    from ares_cli.config import load_config
    from ares_cli.steps import PRODUCER
    from ares_cli.store.champion import find_run, require_bundle

    try:
        store = _store(config)
        manifest = find_run(store, run)
        require_bundle(manifest, PRODUCER["bundle"].number)
        before = mlflow_state(store, manifest.run_id)
        cfg = load_config(None, list(set_ or []), base=manifest.config,
                          base_origin=f"run {manifest.run_id}").mlflow
        # asked for by name: a failure is this command's error (exit 4), not a warning
        mlflow_id, _ = post_run(store, manifest, cfg.model_copy(update={"required": True}),
                                force=True)
    except AresError as exc:
        raise _fail(exc, json_, command="log-mlflow") from None
    after = mlflow_state(store, manifest.run_id) or {}
    logged = not (before and before.get("status") == "logged"
                  and before.get("mlflow_run_id") == mlflow_id) \
        and after.get("logged_by") in (None, manifest.run_id)
    text = (f"run {manifest.run_id}: " + ("logged to MLflow as " if logged else
                                         "its results are already in MLflow as ")
            + str(mlflow_id))
    if json_:
        _json("log-mlflow", 0, message=text, exchange=manifest.exchange,
              symbol=manifest.symbol, run_id=manifest.run_id, mlflow_run_id=mlflow_id,
              logged=logged)
    else:
        typer.echo(text)


@app.command("verify")
def verify(config: ConfigPath = None, json_: JsonOut = False) -> None:
    """Re-hash every object in the store; exit 1 naming any that is corrupted or missing."""
    from ares_cli.commands.listing import pairs_using, producers

    try:
        store = _store(config)
        checked, bad = store.verify()
        made_by = producers(store)
        pairs = pairs_using(store)
    except AresError as exc:
        raise _fail(exc, json_, command="verify") from None
    problems = []
    for item in bad:
        made = made_by.get(item.digest)
        who = f"output '{made[1]}' of step {made[0]}" if made else "made by no recorded step"
        state = "missing" if item.actual == "missing" else "corrupted"
        typer.echo(f"{state}: {item.digest} ({who}) at {item.path}", err=True)
        repairs = [ares_command("step", str(made[0]), "--force", exchange=exchange,
                                symbol=symbol)
                   for exchange, symbol in (pairs.get(item.digest, []) if made else [])]
        for repair in repairs:
            typer.echo(f"  repair with: {repair}", err=True)
        problems.append({"digest": item.digest, "state": state, "path": str(item.path),
                         "made_by": who, "repair": repairs})
    text = f"verified {checked} objects: {len(bad)} corrupted or missing"
    if json_:
        _json("verify", 1 if bad else 0, message=text, checked=checked, problems=problems)
    else:
        typer.echo(text)
    raise typer.Exit(1 if bad else 0)


@app.command("gc")
def gc(
    config: ConfigPath = None,
    failed: Annotated[bool, typer.Option(
        "--failed", metavar="",
        help="Also delete failed and interrupted runs (not a pair's latest run).")
    ] = False,
    json_: JsonOut = False,
) -> None:
    """Remove objects that no run or ref reaches (with --failed, failed attempts first)."""
    try:
        store = _store(config)
        with store.exclusive():
            dropped_runs = store.failed_runs() if failed else []
            for run_id in dropped_runs:
                store.delete_run(run_id)
            removed, freed, dropped = store.gc()
    except AresError as exc:
        raise _fail(exc, json_, command="gc") from None
    text = f"removed {removed} objects ({freed / 1e6:.1f} MB), {dropped} stale cache records"
    if json_:
        _json("gc", 0, message=text, removed_objects=removed, freed_bytes=freed,
              stale_records=dropped, deleted_runs=dropped_runs)
        return
    if failed:
        typer.echo(f"deleted {len(dropped_runs)} failed or interrupted runs "
                   "(a pair's latest run and its champion are kept)")
    typer.echo(text)


def _store(config: Path | None) -> Any:
    from ares_cli.store.objects import Store

    return Store(_load(config, None).store_root())


def _print_rows(command: str, rows: list[dict[str, Any]], json_mode: bool, empty: str) -> None:
    if json_mode:
        _json(command, 0, rows=rows)
        return
    if not rows:
        typer.echo(empty)
        return
    if not sys.stdout.isatty():  # cron and pipes: one plain tab-separated line per row
        typer.echo("\t".join(rows[0]))
        for row in rows:
            typer.echo("\t".join(str(v) for v in row.values()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False)
    for column in rows[0]:
        if column in ("run", "champion", "based on"):  # ids are pasted into commands: whole
            width = max(len(str(row.get(column, ""))) for row in rows)
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


def _help_as_flag(command: Any) -> None:
    """`-h, --help` is a flag: show no value type beside it (typer prints `<bool>`)."""
    from typer._click import Context

    top = Context(command, **(command.context_settings or {}))
    for cmd in [command, *getattr(command, "commands", {}).values()]:
        ctx = top if cmd is command else Context(cmd, parent=top, info_name=cmd.name)
        option = cmd.get_help_option(ctx)
        if option is not None:
            option.metavar = ""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: with `--json`, even a usage error (an unknown option, a value
    out of range) prints the one JSON object, with exit code 2."""
    from ares_cli.util import collector
    from ares_cli.util.memory import return_freed_memory

    return_freed_memory()  # peak RSS follows live memory, not what threads once freed
    collector.for_batch()
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    _help_as_flag(command)
    try:
        code = command.main(args=args, prog_name="ares", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        code = 130
        if "--json" in args:
            _json(_command_name(args), 130, message="interrupted (Ctrl-C)")
    except Exception as exc:
        # A usage error: the parser's exception carries exit code 2 and can show itself.
        if getattr(exc, "exit_code", None) != 2 or not callable(getattr(exc, "show", None)):
            raise
        exc.show()
        if "--json" in args:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            _json(_command_name(args), 2, message=message)
        code = 2
    collector.at_exit()
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

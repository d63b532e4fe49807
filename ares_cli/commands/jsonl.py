"""`--json`: exactly one line on stdout for every command and every outcome, for `>> x.jsonl`.

Every line carries `command`, `status` ("ok" / "failed"), `exit_code`, `exchange`, `symbol`
and `message`, then the command's own keys (`SCHEMAS`), present on failure too (as null), so
one command's lines share one schema. `exchange` and `symbol` are null where a command spans
several pairs (`status`, `runs`, `verify`, `gc`); their rows carry their own. Bulky detail (a
list longer than `MAX_ITEMS`, such as PBO's logits or bootstrap replicates) is left to the
run's `summary.json` and the store: the line says how many items were left out and where.
"""

from __future__ import annotations

import json
from typing import Any

from ares_cli.util.jsonutil import json_safe

__all__ = ["BASE_KEYS", "MAX_ITEMS", "SCHEMAS", "compact", "json_line"]

BASE_KEYS = ("command", "status", "exit_code", "exchange", "symbol", "message")
RUN_KEYS = ("run_id", "steps", "warnings", "resume_command", "versions_not_locked", "report")
DECISION_KEYS = ("bar", "side", "size", "stop", "target", "close", "analyst_p_up",
                 "analyst_p_up_raw", "proposal", "proposal_thresholds", "tactician_p_take",
                 "tactician_p_take_shipped", "tactician_p_take_raw", "regime", "top_features",
                 "rule", "why_flat", "run_id", "source", "bundle", "data_age_minutes")
SCHEMAS: dict[str, tuple[str, ...]] = {
    "run-all": RUN_KEYS,
    "step": RUN_KEYS,
    "resume": RUN_KEYS,
    "status": ("rows",),
    "runs": ("rows",),
    "show": ("run_id", "title", "content"),
    "promote": ("run_id", "previous", "verdict", "looks", "forced"),
    "report": ("run_id", "path"),
    "export": ("run_id", "out", "files"),
    "signal": DECISION_KEYS,
    "verify": ("checked", "problems"),
    "gc": ("removed_objects", "freed_bytes", "stale_records", "deleted_runs"),
    "log-mlflow": ("run_id", "mlflow_run_id", "logged"),
}
MAX_ITEMS = 64


def compact(value: Any, where: str = "summary.json") -> Any:
    """`value` with every list longer than `MAX_ITEMS` replaced by a note of its length."""
    if isinstance(value, dict):
        return {k: compact(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return {"omitted_items": len(value), "see": where}
        return [compact(v, where) for v in value]
    return value


def json_line(command: str, exit_code: int, *, message: str | None = None,
              exchange: str | None = None, symbol: str | None = None,
              where: str = "summary.json", **fields: Any) -> str:
    """The command's one JSON line (with its newline). Unknown keys are a programming error."""
    keys = SCHEMAS.get(command, ())
    unknown = set(fields) - set(keys)
    if unknown:
        raise KeyError(f"--json of {command!r} has no key(s) {sorted(unknown)}")
    line = {"command": command, "status": "ok" if exit_code == 0 else "failed",
            "exit_code": exit_code, "exchange": exchange, "symbol": symbol, "message": message,
            **{key: fields.get(key) for key in keys}}
    return json.dumps(json_safe(compact(line, where)), separators=(",", ":"), default=str,
                      allow_nan=False) + "\n"

"""Looks at the same test bars: which settings' results on this run's walk-forward test bars a
user could have seen in this store, from the ledger the runner keeps (`store/looks.py`).

A *look* is one distinct setting (the config slices of steps 2-13) on one data window (its first
bar). Two records are on *the same bars* when their prices agree wherever both have them:
compared per UTC day as the day's open, high, low, close and volume (so a run at another bar
size, base or fine, is on the same bars), on the days both hold whole (a day at either end of a
window may be partial). The same setting on data that only grew at its end is the same look
(cron asking the same question of more data); any other change to the window — an earlier or
later first bar, a trimmed end — is a new one.
A look counts against a run when it is on the same bars and the windows it scored (train-CV and
validation of steps 5-12, the test spans of step 13) overlap the run's walk-forward test spans.
Pure: the ledger's entries come in, a JSON-ready summary goes out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

__all__ = ["bar_fingerprint", "differences", "other_looks", "same_bars", "spans_overlap"]

Span = Sequence[str]  # [first timestamp, last timestamp], ISO text, inclusive


def bar_fingerprint(bars: pl.DataFrame) -> dict[str, Any]:
    """{first, last, days: {YYYY-MM-DD: digest of that day's open, high, low, close and
    volume (to 9 significant digits: sums over other bar sizes differ in the last bits)}}."""
    daily = (bars.sort("timestamp")
             .group_by(pl.col("timestamp").dt.date().alias("day"), maintain_order=True)
             .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
                  pl.col("close").last(), pl.col("volume").sum()))
    days = {}
    for day, o, h, lo, c, v in daily.iter_rows():
        text = f"{float(o)!r},{float(h)!r},{float(lo)!r},{float(c)!r},{float(v):.9g}"
        days[str(day)] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return {"first": str(bars["timestamp"][0]), "last": str(bars["timestamp"][-1]),
            "days": days}


def same_bars(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two fingerprints agree on every day both hold whole (and share one at least)."""
    def whole(fp: Mapping[str, Any]) -> set[str]:
        days = sorted(fp["days"])
        return set(days[1:-1])

    common = whole(a) & whole(b)
    return bool(common) and all(a["days"][d] == b["days"][d] for d in common)


def spans_overlap(a: Iterable[Span], b: Iterable[Span]) -> bool:
    """Whether any span of `a` overlaps any span of `b` (inclusive ISO timestamps)."""
    b = list(b)
    return any(x[0] <= y[1] and y[0] <= x[1] for x in a for y in b)


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(_flat(value, name))
        else:
            out[name] = value
    return out


def differences(theirs: Mapping[str, Any], mine: Mapping[str, Any]) -> list[str]:
    """'key = theirs (here mine)' for every config key that differs."""
    a, b = _flat(theirs), _flat(mine)
    return [f"{k} = {a.get(k)!r} (here {b.get(k)!r})" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def other_looks(entries: Iterable[Mapping[str, Any]], mine: Mapping[str, Any]) -> dict[str, Any]:
    """`{"looks": K, "others": [...]}` for the record `mine` (its setting, config, fingerprint
    and walk-forward test spans): K is 1 + the distinct other looks on the same bars whose
    scored windows overlap these test spans; each other look lists the keys that differ, its
    out-of-sample Sharpe (its latest step-13 record, else None), the steps seen and its first
    run. Deterministic, so an unchanged ledger gives the same bytes."""
    own = (mine["setting"], mine["fingerprint"]["first"])
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in entries:
        identity: tuple[str, ...] = (entry["setting"], entry["fingerprint"]["first"])
        if identity == own:
            # this look when its data ended no later (the same question asked of data that
            # grew since); one that ran longer was trimmed here: a new look, by its end
            if entry["fingerprint"]["last"] <= mine["fingerprint"]["last"]:
                continue
            identity = (*identity, entry["fingerprint"]["last"])
        if not (same_bars(entry["fingerprint"], mine["fingerprint"])
                and spans_overlap(entry["spans"], mine["spans"])):
            continue
        group = groups.setdefault(identity, {
            "setting": entry["setting"][:12], "first_bar": identity[1],
            "differs": differences(entry["config"], mine["config"]),
            "sharpe": None, "steps": set(), "first_run": entry["run_id"]})
        group["steps"].add(int(entry["step"]))
        if entry.get("sharpe") is not None:
            group["sharpe"] = float(entry["sharpe"])
    others = [{**g, "steps": sorted(g["steps"])}
              for _, g in sorted(groups.items(), key=lambda item: item[0])]
    return {"looks": 1 + len(others), "others": others}

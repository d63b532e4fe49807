"""The one builder of `ares …` commands shown to people (hints, "resume with:" lines): every
value shell-quoted, so a symbol or path with spaces or `$` pastes as it was meant."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

__all__ = ["ares_command"]


def ares_command(*words: str, exchange: str | None = None, symbol: str | None = None,
                 extra: Iterable[str] = ()) -> str:
    """`ares <words> [--exchange E --symbol S] [extra…]`, each argument quoted for a shell."""
    args = [shlex.quote(w) for w in words]
    if exchange is not None:
        args += ["--exchange", shlex.quote(exchange)]
    if symbol is not None:
        args += ["--symbol", shlex.quote(symbol)]
    args += [shlex.quote(a) for a in extra]
    return " ".join(["ares", *args])

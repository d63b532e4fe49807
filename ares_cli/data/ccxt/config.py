"""`[ccxt]`: the section model of the `ccxt` source (how the exchange API is called).

Kept apart from the client so that assembling the configuration (`ares_cli.config`) imports
pydantic and this module only: no ccxt (about a second to import), no polars, no I/O.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator

from ares_cli.util.section import Field, Section

__all__ = ["CcxtConfig"]


class CcxtConfig(Section):
    """`[ccxt]`: how the exchange API is called (with `data.source = "ccxt"`).

    API keys are not config: public data needs none, and keys given through the environment
    (ARES_API_KEY, ARES_API_SECRET) travel as `Credentials`, never in a manifest, log or error.
    """

    max_retries: int = Field(5, ge=1)  # tries per request before giving up
    backoff_seconds: float = Field(1.0, ge=0)  # first retry wait; doubles, capped at 60 s
    timeout_ms: int = Field(10_000, ge=1)
    page_limit: int = Field(1000, ge=1)
    api_url: str = ""  # "" = exchange default; else a mirror or a local test server, see below

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

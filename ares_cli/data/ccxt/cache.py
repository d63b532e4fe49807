"""The chunk cache of downloaded trades, written crash-safely.

``cache_dir/<exchange>/<symbol>/chunk-*.parquet``: each chunk holds trades plus, in its
parquet key-value metadata, the time ranges it proves complete (``coverage``, epoch ms,
half-open). A chunk is written to a temporary file in the same folder, fsynced, then renamed, so
a crash never leaves half a chunk; a range is only marked covered in the same file that stores
its trades. A new download loads every chunk, works out which parts of ``[start, end)`` are not
covered and fetches only those. An unreadable chunk is a :class:`DataError` (exit 3).
"""

from __future__ import annotations

import io
import json
import secrets
import time
from pathlib import Path

import polars as pl

from ares_cli.data.ccxt.intervals import Interval, merge
from ares_cli.data.schema import TRADES_SCHEMA
from ares_cli.errors import DataError
from ares_cli.util.fsutil import TMP_PREFIX, atomic_write, fsync_dir

__all__ = ["ChunkStore", "rows_frame"]

STALE_TMP_SECONDS = 600.0
CHUNK_META_KEY = "ares.ccxt_chunk"
CHUNK_VERSION = 1


def rows_frame(rows: list[tuple[int, int, float, float, bool | None]]) -> pl.DataFrame:
    """Rows (id, ms, price, qty, buyer_maker) as a TRADES_SCHEMA frame sorted by id."""
    frame = pl.DataFrame(
        rows,
        schema={"trade_id": pl.Int64, "ms": pl.Int64, "price": pl.Float64, "qty": pl.Float64,
                "is_buyer_maker": pl.Boolean},
        orient="row",
    )
    return frame.select(
        "trade_id",
        pl.from_epoch("ms", time_unit="ms").dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        .alias("timestamp"),
        "price",
        "qty",
        "is_buyer_maker",
    ).sort("trade_id")


class ChunkStore:
    """Parquet chunks of trades plus the time ranges they prove complete, written atomically."""

    def __init__(self, folder: Path, identity: dict[str, str]) -> None:
        self.folder = folder
        self.identity = identity

    def chunk_paths(self) -> list[Path]:
        """Existing chunk files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("chunk-*.parquet"))

    def count(self) -> int:
        """Number of chunk files."""
        return len(self.chunk_paths())

    def load(self) -> tuple[pl.DataFrame, list[Interval]]:
        """All stored trades (unique ids, sorted by id) and the merged coverage."""
        self._remove_stale_temp_files()
        frames: list[pl.DataFrame] = [rows_frame([])]
        coverage: list[Interval] = []
        for path in self.chunk_paths():
            frame, cov = self._read(path)
            frames.append(frame)
            coverage.extend(cov)
        stored = pl.concat(frames, how="vertical").unique(subset="trade_id", keep="first")
        return stored.sort("trade_id"), merge(coverage)

    def _read(self, path: Path) -> tuple[pl.DataFrame, list[Interval]]:
        try:
            meta = json.loads(pl.read_parquet_metadata(path)[CHUNK_META_KEY])
            frame = pl.read_parquet(path)
            frame = frame.select([pl.col(c).cast(t) for c, t in TRADES_SCHEMA.items()])
            coverage = [(int(a), int(b)) for a, b in meta["coverage"]]
        except Exception as err:
            raise DataError(
                f"cache chunk {path} is unreadable: {type(err).__name__}: {err}",
                hint=f"delete {path}; the next run downloads its trades again",
            ) from None
        mismatch = {k: meta.get(k) for k, v in self.identity.items() if meta.get(k) != v}
        if mismatch:
            raise DataError(
                f"cache chunk {path} belongs to {mismatch}, not {self.identity}",
                hint=f"move it away or delete {self.folder}",
            )
        return frame, coverage

    def write(self, frame: pl.DataFrame, coverage: list[Interval]) -> Path:
        """Atomically add one chunk: temp file in the same folder, fsync, rename, fsync dir."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {**self.identity, "version": CHUNK_VERSION, "coverage": coverage,
                "rows": frame.height}
        name = f"chunk-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"
        final = self.folder / name
        buffer = io.BytesIO()
        frame.write_parquet(buffer, metadata={CHUNK_META_KEY: json.dumps(meta)})
        atomic_write(final, buffer.getvalue())
        return final

    def compact(self) -> None:
        """Replace all chunks by one (written first, so a crash only leaves duplicates)."""
        paths = self.chunk_paths()
        stored, coverage = self.load()
        self.write(stored, coverage)
        for path in paths:
            path.unlink(missing_ok=True)
        fsync_dir(self.folder)

    def _remove_stale_temp_files(self) -> None:
        """Temp files of a writer killed mid-chunk (older than a few minutes) are garbage."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - STALE_TMP_SECONDS
        for tmp in self.folder.glob(f"{TMP_PREFIX}chunk-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass

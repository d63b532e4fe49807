"""The content-addressed store: atomic writes, verified reads, verify, gc and the pair lock."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import stat
import time

import pytest

from ares_cli.errors import IntegrityError, LockHeld
from ares_cli.store.manifest import Manifest, StepRecord
from ares_cli.store.objects import Store, atomic_write, sha256_bytes


def test_objects_are_named_by_hash_fanned_out_and_read_only(tmp_path):
    store = Store(tmp_path)
    digest = store.put(b"hello")
    assert digest == sha256_bytes(b"hello")
    path = store.object_path(digest)
    assert path.parent.name == digest[:2] and path.name == digest[2:]
    assert not path.stat().st_mode & stat.S_IWUSR
    assert store.get(digest) == b"hello"
    assert store.put(b"hello") == digest


def test_a_crash_during_write_leaves_nothing_under_the_real_name(tmp_path, monkeypatch):
    target = tmp_path / "objects" / "ab" / "cd"

    def crash(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"x" * 1000)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temp file left behind either


def test_corruption_is_found_on_read_and_by_verify_and_repaired_by_put(tmp_path):
    store = Store(tmp_path)
    good = store.put(b"good bytes")
    bad = store.put(b"original")
    path = store.object_path(bad)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match=rf"object {bad[:16]} \(bars\) is corrupted"):
        store.get(bad, what="bars")
    checked, corrupt = store.verify()
    assert checked == 2 and [c.digest for c in corrupt] == [bad]
    assert store.get(good) == b"good bytes"
    store.put(b"original")  # re-making the object repairs it
    assert store.verify()[1] == []


def test_missing_object_is_an_integrity_error(tmp_path):
    with pytest.raises(IntegrityError, match="missing"):
        Store(tmp_path).get("0" * 64)


def test_action_records_need_their_objects(tmp_path):
    store = Store(tmp_path)
    digest = store.put(b"out")
    store.put_action("k1", {"outputs": {"a": {"digest": digest, "kind": "bytes"}}})
    assert store.get_action("k1")["outputs"]["a"]["digest"] == digest
    store.object_path(digest).unlink()
    assert store.get_action("k1") is None


def test_gc_keeps_what_runs_reach(tmp_path):
    store = Store(tmp_path)
    kept, dropped = store.put(b"kept"), store.put(b"dropped")
    store.write_manifest(Manifest(run_id="r1", exchange="binance", symbol="ETHUSDT",
                                  steps=[StepRecord(number=1, name="collect",
                                                    outputs={"x": kept})]))
    store.put_action("k", {"outputs": {"y": {"digest": dropped, "kind": "bytes"}}})
    removed, _freed, stale = store.gc()
    assert (removed, stale) == (1, 1)
    assert store.has(kept) and not store.has(dropped)


def _chunk_list(store: Store, *parts: bytes) -> tuple[str, list[str]]:
    """A stored "chunks" output listing `parts` (as step 1 writes trades), and their digests."""
    import json

    digests = [store.put(p) for p in parts]
    listing = {"format": "ares.trade-chunks/1", "rows": 0,
               "parts": [{"digest": d} for d in digests]}
    return store.put(json.dumps(listing).encode()), digests


def test_a_chunk_lists_parts_are_kept_checked_and_needed_like_the_list(tmp_path):
    store = Store(tmp_path)
    listing, (day1, day2) = _chunk_list(store, b"day one", b"day two")
    stray = store.put(b"no list names me")
    store.write_manifest(Manifest(run_id="r1", exchange="binance", symbol="ETHUSDT",
                                  steps=[StepRecord(number=1, name="collect",
                                                    outputs={"trades": listing},
                                                    kinds={"trades": "chunks"})]))
    store.put_action("k", {"outputs": {"trades": {"digest": listing, "kind": "chunks"}}})
    assert store.gc()[0] == 1  # only the stray object goes: the days stay with their list
    assert store.has(day1) and store.has(day2) and not store.has(stray)
    assert store.verify() == (3, [])
    store.object_path(day2).chmod(0o644)
    store.object_path(day2).unlink()
    checked, bad = store.verify()  # a day gone is damage, named by its digest
    assert checked == 2 and [b.digest for b in bad] == [day2] and bad[0].actual == "missing"
    assert store.get_action("k") is None  # so the step re-runs instead of a cache hit


def test_gc_refuses_when_a_chunk_list_cannot_be_read(tmp_path):
    store = Store(tmp_path)
    listing, (day,) = _chunk_list(store, b"day")
    store.write_manifest(Manifest(run_id="r1", exchange="binance", symbol="ETHUSDT",
                                  steps=[StepRecord(number=1, name="collect",
                                                    outputs={"trades": listing},
                                                    kinds={"trades": "chunks"})]))
    path = store.object_path(listing)
    path.chmod(0o644)
    path.write_bytes(b"{not json")
    with pytest.raises(IntegrityError, match="nothing was deleted"):
        store.gc()
    assert store.has(day)


def _hold_lock(root, ready, release):
    with Store(root).lock("binance", "ETHUSDT"):
        ready.set()
        release.wait(30)


def test_lock_excludes_a_second_process_and_names_the_holder(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(LockHeld, match=rf"pid {holder.pid}") as info,
            Store(tmp_path).lock("binance", "ETHUSDT"),
        ):
            pass
        assert info.value.exit_code == 75
        with Store(tmp_path).lock("binance", "BTCUSDT"):
            pass  # another pair is independent
    finally:
        release.set()
        holder.join(10)


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    deadline = time.time() + 5
    while True:
        try:
            with Store(tmp_path).lock("binance", "ETHUSDT") as path:
                assert path.read_text().strip() == str(os.getpid())
            break
        except LockHeld:
            assert time.time() < deadline, "lock of a dead process was not released"
            time.sleep(0.05)


def test_gc_waits_for_no_run(tmp_path):
    store = Store(tmp_path)
    with store.lock("binance", "ETHUSDT"), pytest.raises(LockHeld), store.exclusive():
        pass

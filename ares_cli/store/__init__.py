"""The content-addressed store: immutable objects, action records, run manifests, refs, locks,
the pair's champion, and the `[store]` section.

Public names are re-exported lazily for users (`from ares_cli.store import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "CHAMPION": "champion", "CorruptObject": "objects", "DONE": "manifest",
    "Manifest": "manifest", "Status": "manifest", "StepRecord": "manifest", "Store": "objects",
    "StoreConfig": "config", "atomic_write": "objects", "canonical_json": "objects",
    "find_run": "champion", "promote_run": "champion", "safe_name": "objects",
    "sha256_bytes": "objects", "sha256_file": "objects", "utc_now": "manifest",
})

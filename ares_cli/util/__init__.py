"""Small leaves every layer may use: atomic files, canonical JSON, UTC time, the config-section
base, lazy re-exports.

Public names are re-exported lazily for users (`from ares_cli.util import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Field": "section", "LIBRARIES": "versions", "LOCK_FILE": "versions", "Section": "section",
    "TMP_PREFIX": "fsutil", "ares_command": "command", "as_utc": "timeutil",
    "atomic_write": "fsutil", "canonical_json": "jsonutil", "fsync_dir": "fsutil",
    "json_safe": "jsonutil", "library_version": "versions", "library_versions": "versions",
    "list_field": "section", "lock_differences": "versions", "parse_utc": "timeutil",
    "safe_name": "fsutil", "sha256_file": "fsutil", "timeframe_ms": "timeutil",
})

"""What sits beside the commands, above the steps: the store views the CLI prints (listing,
export, publish) and the `ares signal` loader, which brings data up to date with steps 1-2.

Public names are re-exported lazily for users (`from ares_cli.commands import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "FORMATS": "listing", "REPORT": "publish", "SUMMARY": "publish", "describe_object": "listing",
    "export_run": "export", "latest_run": "listing", "load_decision": "signal",
    "pairs_using": "listing", "producers": "listing", "report_path": "publish",
    "run_rows": "listing", "show_ref": "listing", "status_rows": "listing",
})

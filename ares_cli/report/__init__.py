"""Step 16's self-contained HTML report (its data, plots and page) and MLflow logging.

Public names are re-exported lazily for users (`from ares_cli.report import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "INSTALL_HINT": "mlflow_log", "MlflowConfig": "mlflow_config", "PLOTS": "page",
    "PLOT_RC": "plot_common", "REGIME_COLORS": "plot_common", "Unavailable": "plot_common",
    "WINDOW_COLORS": "plot_common", "as_mapping": "formatting", "as_seq": "formatting",
    "axes_note": "plot_common", "date_axis": "plot_common", "date_nums": "plot_common",
    "esc": "formatting", "figure": "plot_common", "flatten": "mlflow_log",
    "floats": "plot_common", "fmt_num": "formatting", "label_runs": "plot_common",
    "log_run": "mlflow_log", "parse_time": "formatting", "plot_ab_test": "plots_model",
    "plot_contributions": "plots_model", "plot_equity": "plots_market",
    "plot_monte_carlo": "plots_model", "plot_pareto": "plots_model", "plot_price": "plots_market",
    "plot_reliability": "plots_model", "regime_color": "plot_common", "render_report": "page",
    "section_window": "plot_common", "short": "plot_common", "span": "formatting",
    "svg": "plot_common", "thin": "plot_common", "time_series": "plot_common",
    "to_float": "formatting", "try_log": "mlflow_log", "verdict": "report_data",
    "window_label": "plot_common",
})

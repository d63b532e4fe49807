"""ares: from an exchange's raw trades to a validated, calibrated, optimised trading model."""

import os

__version__ = "0.1.0"

# XGBoost's OpenMP threads spin while they wait. When another process shares the cores (a second
# ares run, a test suite, cron) spinning threads starve each other: a fit measured 85x slower
# here (270 s instead of 3 s). Passive waiting costs nothing measurable on an idle machine. It
# must be set before the OpenMP runtime loads, i.e. before xgboost is imported anywhere.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""ares: from an exchange's raw trades to a validated, calibrated, optimised trading model."""

__version__ = "0.1.0"

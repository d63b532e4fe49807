"""Numbers in the report as a person reads them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ares_cli.report.formatting import fmt_num


@pytest.mark.parametrize(("value", "text"), [
    (None, "n/a"), (float("nan"), "n/a"), (True, "yes"), (1234567, "1,234,567"),
    (0.81234, "0.8123"), (-0.1234, "-0.1234"), (12345.678, "12,345.68"), (0.0, "0"),
    (2.5e-7, "2.500e-07"), (3e12, "3.000e+12"), (float("inf"), "inf"), ("abc", "abc"),
    (np.float64(1.5), "1.5"), (np.int64(-4321), "-4,321"), (np.True_, "yes"),
])
def test_fmt_num(value: Any, text: str) -> None:
    assert fmt_num(value) == text

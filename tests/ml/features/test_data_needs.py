"""The bars the pipeline needs before anything is fitted: step 2 says "too little data" for
step 3's split as well as for the regime fit, so a suggestion that passes it passes both."""

from __future__ import annotations

import pytest

from ares_cli.ml.features.data_needs import bars_to_split, base_bars_needed
from ares_cli.ml.features.regimes import RegimesConfig
from ares_cli.ml.features.splits import SplitConfig, plan_windows


@pytest.mark.parametrize(("purge", "embargo", "train", "validation"),
                         [(24, 12, 0.6, 0.2), (0, 0, 0.6, 0.2), (5, 3, 0.5, 0.3),
                          (48, 24, 0.7, 0.15)])
def test_bars_to_split_is_the_fewest_from_which_every_longer_series_splits(
        purge, embargo, train, validation):
    config = SplitConfig(train=train, validation=validation, test=round(1 - train - validation, 10),
                         purge_bars=purge, embargo_bars=embargo)
    n = bars_to_split(config)
    gap = purge + embargo
    for m in range(n, n + 300):
        plan_windows(m, train, validation, purge, embargo, min_window=gap + 1)
    with pytest.raises(ValueError):
        plan_windows(n - 1, train, validation, purge, embargo, min_window=gap + 1)


def test_the_larger_need_wins_and_says_why():
    split = SplitConfig()
    need, why = base_bars_needed(RegimesConfig(), split)
    assert need == bars_to_split(split) and "split.purge_bars + split.embargo_bars" in why
    need, why = base_bars_needed(RegimesConfig(min_fit_bars=1000), split)
    assert need > bars_to_split(split) and "regimes.min_fit_bars = 1000" in why

"""Trading rules: from calibrated probabilities to the engine's orders, per base bar.

The analyst proposes a side (step 8's proposals: where its P(up) was strong for the training
window); a proposal becomes an order when the calibrated analyst probability is at least
`analyst_margin` away from 0.5, the calibrated tactician probability of the trade paying clears
`tactician_threshold` plus the regime's shift, and the bar's regime may trade. Size is fixed or
fractional Kelly with a cap; stop, target and trailing distance are multiples of the causal ATR
at the decision bar. Everything is known at the decision bar's close. Pure and vectorised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.trading.engine import Orders, Rules

__all__ = ["ANALYST_MARGIN", "FLAT_RULE", "GATES", "MINIMUM_TRADES", "NO_PROPOSAL",
           "REGIME_SWITCH", "TACTICIAN_THRESHOLD", "Policy", "SignalFrame", "gate_counts",
           "kelly_size", "orders_for", "rule_p_take", "stopped_words"]

# The gates a proposal passes on its way to a trade, and what keeps a whole rule flat: one set of
# names for step 12, step 14's "not tested", `ares signal` and the report.
NO_PROPOSAL = "no proposal"
ANALYST_MARGIN = "analyst margin"
TACTICIAN_THRESHOLD = "tactician threshold"
REGIME_SWITCH = "regime switch"
MINIMUM_TRADES = "minimum trades"
FLAT_RULE = "flat rule"
GATES = (NO_PROPOSAL, ANALYST_MARGIN, TACTICIAN_THRESHOLD, REGIME_SWITCH, MINIMUM_TRADES,
         FLAT_RULE)


@dataclass(frozen=True)
class SignalFrame:
    """What the rules read, one value per base bar of the window traded.

    `members` holds the tactician members' raw P(pays) (columns named in `member_names`),
    NaN where the bar has no proposal; `calibrator` maps a blend of them to a calibrated
    probability (the step-11 tactician calibrator), so re-weighted members stay calibrated in
    the same way as the shipped ensemble.
    """

    bar_index: np.ndarray  # int64
    p_up: np.ndarray  # calibrated analyst P(up), NaN where unknown
    side: np.ndarray  # int64: +1 / -1 where the analyst proposed a trade, else 0
    p_take: np.ndarray  # calibrated tactician P(pays), NaN without a proposal
    regime: np.ndarray  # int64 index into REGIMES, -1 unknown
    atr_frac: np.ndarray  # causal ATR / close at the decision bar
    members: np.ndarray | None = None  # (bars, members) raw P(pays)
    member_names: tuple[str, ...] = ()
    calibrator: Any = None  # `Calibrator` or None

    def __post_init__(self) -> None:
        n = self.bar_index.size
        for name in ("p_up", "side", "p_take", "regime", "atr_frac"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"SignalFrame.{name} must have {n} values")


@dataclass(frozen=True)
class Policy:
    """One point of step 12's search: thresholds, sizing, exits, timing, regime overrides."""

    analyst_margin: float = 0.0
    # where the calibrated P(up) is neutral: 0.5, or the training window's median when the
    # calibration moved every probability to one side of 0.5 (a base rate away from a half)
    analyst_center: float = 0.5
    use_tactician: bool = True  # False: every proposal the analyst makes is taken
    tactician_threshold: float = 0.5
    sizing: str = "fixed"  # "fixed" | "kelly"
    fixed_size: float = 1.0
    kelly_fraction: float = 0.5
    kelly_cap: float = 1.0
    k_stop: float = 1.0
    k_target: float = 2.0
    k_trail: float = 0.0  # 0: no trailing stop
    max_hold: int = 24
    cooldown: int = 0
    entry_delay: int = 0
    regime_enabled: Mapping[str, bool] = field(default_factory=dict)  # missing: enabled
    regime_shift: Mapping[str, float] = field(default_factory=dict)  # missing: 0
    member_weights: tuple[float, ...] | None = None  # None: the shipped ensemble

    def __post_init__(self) -> None:
        if self.sizing not in ("fixed", "kelly"):
            raise ValueError(f"sizing must be 'fixed' or 'kelly', got {self.sizing!r}")
        unknown = (set(self.regime_enabled) | set(self.regime_shift)) - set(REGIMES)
        if unknown:
            raise ValueError(f"unknown regimes {sorted(unknown)}; known: {list(REGIMES)}")

    def rules(self, *, fee: float, slippage: float) -> Rules:
        return Rules(fee=fee, slippage=slippage, max_hold=self.max_hold, cooldown=self.cooldown,
                     entry_delay=self.entry_delay)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["regime_enabled"] = dict(self.regime_enabled)
        out["regime_shift"] = dict(self.regime_shift)
        out["member_weights"] = (None if self.member_weights is None
                                 else list(self.member_weights))
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Policy:
        data = dict(values)
        if data.get("member_weights") is not None:
            data["member_weights"] = tuple(data["member_weights"])
        return cls(**data)


def kelly_size(p: np.ndarray, payoff: float, fraction: float, cap: float) -> np.ndarray:
    """Fractional Kelly for a bet won with probability `p` paying `payoff` times the stake
    lost: `min(cap, fraction * (p - (1 - p) / payoff))`, 0 where that is not positive."""
    if payoff <= 0:
        raise ValueError("payoff must be positive")
    full = p - (1.0 - p) / payoff
    return np.clip(np.nan_to_num(fraction * full, nan=0.0), 0.0, cap)


def rule_p_take(frame: SignalFrame, weights: tuple[float, ...] | None) -> np.ndarray:
    """The calibrated P(pays) a rule compares with its threshold: the shipped ensemble's, or
    the re-weighted members' blend through the tactician calibrator."""
    if weights is None:
        return frame.p_take
    if frame.members is None or frame.members.shape[1] != len(weights):
        raise ValueError(f"{len(weights)} member weights for "
                         f"{0 if frame.members is None else frame.members.shape[1]} members")
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("member weights must be >= 0 and not all 0")
    blend = frame.members @ (w / w.sum())
    if frame.calibrator is None:
        return blend
    out = np.full(blend.size, np.nan)
    ok = np.isfinite(blend)
    out[ok] = frame.calibrator.predict(blend[ok])
    return out


def _regime_overrides(frame: SignalFrame, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the regime's threshold shift and whether the regime may trade."""
    shift = np.zeros(frame.bar_index.size)
    enabled = np.ones(frame.bar_index.size, dtype=bool)
    for code, name in enumerate(REGIMES):
        here = frame.regime == code
        shift[here] = policy.regime_shift.get(name, 0.0)
        enabled[here] = policy.regime_enabled.get(name, True)
    return shift, enabled


def _gates(frame: SignalFrame, policy: Policy, p_take: np.ndarray, shift: np.ndarray,
           enabled: np.ndarray) -> dict[str, np.ndarray]:
    """Per bar, whether a proposal is still alive after each gate, in the order applied."""
    proposal = frame.side != 0
    # A proposal's side is the analyst's call by construction (step 8, from its raw P(up)); the
    # margin asks how far the calibrated P(up) is from neutral. No second direction check on the
    # calibrated scale: a decreasing calibration (an analyst worse than chance out of fold)
    # turned every proposal against it and blocked them all.
    margin = proposal & (np.abs(frame.p_up - policy.analyst_center) >= policy.analyst_margin)
    tactician = margin & ((p_take >= policy.tactician_threshold + shift)
                          if policy.use_tactician else True)
    return {NO_PROPOSAL: proposal, ANALYST_MARGIN: margin, TACTICIAN_THRESHOLD: tactician,
            REGIME_SWITCH: tactician & enabled}


def gate_counts(frame: SignalFrame, policy: Policy) -> dict[str, int]:
    """How many of the window's proposals each gate stopped (in the order applied), and how
    many passed them all: the words `ares signal`, step 12 and the report share."""
    p_take = rule_p_take(frame, policy.member_weights)
    alive = _gates(frame, policy, p_take, *_regime_overrides(frame, policy))
    counts = {"proposals": int(alive[NO_PROPOSAL].sum())}
    before = alive[NO_PROPOSAL]
    for gate in (ANALYST_MARGIN, TACTICIAN_THRESHOLD, REGIME_SWITCH):
        counts[gate] = int((before & ~alive[gate]).sum())
        before = alive[gate]
    counts["passed"] = int(before.sum())
    if policy.sizing == "kelly":  # Kelly sizes a weak P(pays) to nothing: not a trade either
        counts["sized_to_zero"] = int((before & ~(_sizes(p_take, policy) > 0)).sum())
        counts["passed"] -= counts["sized_to_zero"]
    return counts


def stopped_words(counts: dict[str, int]) -> str:
    """What `gate_counts` found, in the gates' names: "analyst margin 3, tactician threshold
    0, regime switch 1" (and Kelly sizing to zero when it sized any)."""
    words = [f"{g} {counts[g]}" for g in (ANALYST_MARGIN, TACTICIAN_THRESHOLD, REGIME_SWITCH)
             if g in counts]
    if counts.get("sized_to_zero"):
        words.append(f"Kelly sizing to zero {counts['sized_to_zero']}")
    return ", ".join(words)


def _sizes(p_take: np.ndarray, policy: Policy) -> np.ndarray:
    """Per bar, the position size the rule would take: fixed, or fractional Kelly."""
    if policy.sizing == "kelly":
        return kelly_size(p_take, policy.k_target / policy.k_stop, policy.kelly_fraction,
                          policy.kelly_cap)
    return np.full(p_take.size, policy.fixed_size)


def orders_for(frame: SignalFrame, policy: Policy) -> Orders:
    """The engine's orders for `policy` on `frame` (see the module docstring)."""
    p_take = rule_p_take(frame, policy.member_weights)
    passes = _gates(frame, policy, p_take, *_regime_overrides(frame, policy))
    take = passes[REGIME_SWITCH] & np.isfinite(frame.atr_frac) & (frame.atr_frac > 0)
    size = _sizes(p_take, policy)
    take &= size > 0
    side = np.where(take, frame.side, 0).astype(np.int64)
    atr = np.nan_to_num(frame.atr_frac, nan=0.0)
    return Orders(side=side, size=np.where(take, size, 0.0), stop=policy.k_stop * atr,
                  target=policy.k_target * atr, trail=policy.k_trail * atr)

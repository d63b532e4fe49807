"""`[costs]`: what one side of a trade costs, in one place for every step that prices trades.

The tactician's meta-labels (step 8), the rule search (step 12), the walk-forward folds that
replay both (step 13) and the baselines compared on the test window (step 15, through step 12's
params) all charge the same fee and slippage: a cost changed here changes every one of them.
"""

from __future__ import annotations

from ares_cli.util.section import Field, Section

__all__ = ["CostsConfig"]


class CostsConfig(Section):
    """`[costs]`: fee and slippage per side, in basis points of the traded value."""

    fee_bps: float = Field(7.5, ge=0, lt=1000)  # exchange fee per side
    slippage_bps: float = Field(2.5, ge=0, lt=1000)  # fill against the trade, per side

    @property
    def fee(self) -> float:
        """The fee per side as a fraction of the traded value."""
        return self.fee_bps / 1e4

    @property
    def slippage(self) -> float:
        """The slippage per side as a fraction of the traded value."""
        return self.slippage_bps / 1e4

    @property
    def per_side(self) -> float:
        """Fee plus slippage per side, as a fraction (what a meta-label's trade is charged)."""
        return (self.fee_bps + self.slippage_bps) / 10_000

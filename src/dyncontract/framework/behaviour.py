"""How a rational ES picks items from a dynamic contract (model.md §5, docs/framework.md).

An ES's choice depends only on its types and its history, so the whole behaviour of a
population fits in two small tables computed once per contract:

* ``period2[l, i]``: the period-2 report of an ES whose period-1 report was ``l`` and whose
  period-2 type is ``i`` (or :data:`DECLINE`);
* ``period1[k]``: the period-1 report of an ES of period-1 type ``k`` (or :data:`DECLINE`),
  chosen forward-looking: item ``l`` is worth ``W[k, l] = R1_l - C(theta_k, T1_l) +
  delta sum_i Q[k, i] u2(l, i)``, with ``u2(l, i)`` the utility of the period-2 choice above
  (0 when it declines).

The rules live in :mod:`dyncontract.model.choice` (one implementation, batched in torch,
shared with the learning environment's menu mode); this module wraps them for one contract.
In short: unbuildable items (T outside [0, T_max]) are never picked; an ES declines when no
item is acceptable (participation mode, ``framework.period1_acceptance``); otherwise it takes
the truthful item when it is acceptable and within ``tol`` of the best, else the best. The
absolute tolerance is ``tol = tie_tolerance * max(1, alpha ln(1 + beta T_max))``, a fixed
scale of the scenario, never of the menu.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyncontract.model.choice import BUILD_RTOL, DECLINE, Acceptance, ChoiceArrays, choose_np
from dyncontract.model.contract import Contract
from dyncontract.model.scenario import Participation, Scenario

__all__ = [
    "DECLINE",
    "Acceptance",
    "ChoiceTables",
    "Picks",
    "buildable",
    "choice_tables",
    "picks",
]


@dataclass(frozen=True)
class ChoiceTables(ChoiceArrays):
    """Choices of every (type, history) and the utilities behind them.

    ``period1`` (K,) and ``period2`` (K, K) hold reports (:data:`DECLINE` = -1);
    ``u1`` (K, K) [true k, report l] period-1 utilities; ``u2`` (K, K, K) [history l,
    true i, report m] period-2 utilities; ``cont`` (K, K) [history l, true i] utility of the
    period-2 choice (0 if it declines); ``W`` (K, K) forward-looking period-1 values;
    ``tol`` the absolute tie tolerance used. Unbuildable items have utility -inf.
    """

    participation: Participation
    acceptance: Acceptance

    @property
    def K(self) -> int:  # noqa: N802
        return int(self.period1.shape[0])


def buildable(T: np.ndarray, sc: Scenario) -> np.ndarray:
    """Whether workload T can be built within the period: 0 <= T <= T_max (rel. 1e-12)."""
    T = np.asarray(T, float)
    return (T >= 0.0) & (T <= sc.t_max * (1.0 + BUILD_RTOL))


def choice_tables(
    c: Contract,
    sc: Scenario,
    *,
    tie_tolerance: float = 1e-6,
    acceptance: Acceptance = "own_period",
    participation: Participation | None = None,
) -> ChoiceTables:
    """The behaviour of every (type, history) under contract ``c`` (see module docstring)."""
    if c.K != sc.K:
        raise ValueError(f"contract has K={c.K} types, the scenario has K={sc.K}")
    mode = participation or sc.participation
    ch = choose_np(
        c.T1,
        c.R1,
        c.T2,
        c.R2,
        sc,
        tie_tolerance=tie_tolerance,
        acceptance=acceptance,
        participation=mode,
    )
    return ChoiceTables(
        period1=ch.period1,
        period2=ch.period2,
        u1=ch.u1,
        u2=ch.u2,
        cont=ch.cont,
        W=ch.W,
        tol=ch.tol,
        participation=mode,
        acceptance=acceptance,
    )


@dataclass(frozen=True)
class Picks:
    """What ``n`` ESs with true types ``k1``, ``k2`` take from a contract (arrays (n,)).

    ``r1``, ``r2``: reports (:data:`DECLINE` = -1: declined or left); ``in1``, ``in2``: took
    an item; ``T1, R1, T2, R2``: the items taken (0 where not taken).
    """

    k1: np.ndarray
    k2: np.ndarray
    r1: np.ndarray
    r2: np.ndarray
    in1: np.ndarray
    in2: np.ndarray
    T1: np.ndarray
    R1: np.ndarray
    T2: np.ndarray
    R2: np.ndarray


def picks(tables: ChoiceTables, c: Contract, k1: np.ndarray, k2: np.ndarray) -> Picks:
    """Apply the choice tables to ESs of types (``k1``, ``k2``): the one place where a
    population's picks are read off the tables (``simulate`` and ``construct``)."""
    r1 = tables.period1[k1]
    in1 = r1 != DECLINE
    h = np.maximum(r1, 0)  # history index (meaningless where declined)
    r2 = np.where(in1, tables.period2[h, k2], DECLINE)
    in2 = r2 != DECLINE
    m = np.maximum(r2, 0)
    return Picks(
        k1=k1,
        k2=k2,
        r1=r1,
        r2=r2,
        in1=in1,
        in2=in2,
        T1=np.where(in1, c.T1[h], 0.0),
        R1=np.where(in1, c.R1[h], 0.0),
        T2=np.where(in2, c.T2[h, m], 0.0),
        R2=np.where(in2, c.R2[h, m], 0.0),
    )

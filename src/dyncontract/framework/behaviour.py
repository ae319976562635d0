"""How a rational ES picks items from a dynamic contract (model.md §5, docs/framework.md).

An ES's choice depends only on its types and its history, so the whole behaviour of a
population fits in two small tables computed once per contract:

* ``period2[l, i]``: the period-2 report of an ES whose period-1 report was ``l`` and whose
  period-2 type is ``i`` (or :data:`DECLINE`);
* ``period1[k]``: the period-1 report of an ES of period-1 type ``k`` (or :data:`DECLINE`),
  chosen forward-looking: item ``l`` is worth ``W[k, l] = R1_l - C(theta_k, T1_l) +
  delta sum_i Q[k, i] u2(l, i)``, with ``u2(l, i)`` the utility of the period-2 choice above
  (0 when it declines).

Rules (in this order, with ``tol = tie_tolerance * max(1, max |R|)``):

1. An item whose workload is outside [0, T_max] cannot be built within the period
   (f = T / tau > f_max) and is never picked.
2. Declining: in period 2 under ``per_period`` when every item's utility is < -tol;
   never in period 2 under ``ex_ante`` (the ES committed at signing). In period 1 when no
   item is acceptable: under ``ex_ante`` (and ``per_period`` with ``forward_looking``)
   an item is acceptable when ``W >= -tol``; under ``per_period`` with ``own_period`` (the
   default) when its own period-1 utility is ``>= -tol``.
3. Otherwise the truthful item when it is available, acceptable and within ``tol`` of the
   best; else the best (the lowest index among exact ties).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dyncontract.model.contract import Contract
from dyncontract.model.economics import cost
from dyncontract.model.scenario import Participation, Scenario

#: Report code for "declines (does not sign / walks away)".
DECLINE = -1

Acceptance = Literal["own_period", "forward_looking"]


@dataclass(frozen=True)
class ChoiceTables:
    """Choices of every (type, history) and the utilities behind them.

    ``period1`` (K,) and ``period2`` (K, K) hold reports (:data:`DECLINE` = -1);
    ``u1`` (K, K) [true k, report l] period-1 utilities; ``u2`` (K, K, K) [history l,
    true i, report m] period-2 utilities; ``cont`` (K, K) [history l, true i] utility of the
    period-2 choice (0 if it declines); ``W`` (K, K) forward-looking period-1 values;
    ``tol`` the absolute tie tolerance used. Unbuildable items have utility -inf.
    """

    period1: np.ndarray
    period2: np.ndarray
    u1: np.ndarray
    u2: np.ndarray
    cont: np.ndarray
    W: np.ndarray
    tol: float
    participation: Participation
    acceptance: Acceptance

    @property
    def K(self) -> int:  # noqa: N802
        return int(self.period1.shape[0])


def buildable(T: np.ndarray, sc: Scenario) -> np.ndarray:
    """Whether workload T can be built within the period: 0 <= T <= T_max (rel. 1e-12)."""
    T = np.asarray(T, float)
    return (T >= 0.0) & (T <= sc.t_max * (1.0 + 1e-12))


def _pick(
    values: np.ndarray, truthful: np.ndarray, acceptable: np.ndarray, tol: float
) -> np.ndarray:
    """Choice along the last axis: truthful if acceptable and within tol of the best
    acceptable value, else the (first) best acceptable one; DECLINE when none is acceptable.
    ``truthful`` holds the truthful index for each leading position."""
    masked = np.where(acceptable, values, -np.inf)
    best_idx = np.argmax(masked, axis=-1)
    best = np.take_along_axis(masked, best_idx[..., None], axis=-1)[..., 0]
    t_val = np.take_along_axis(masked, truthful[..., None], axis=-1)[..., 0]
    t_ok = np.take_along_axis(acceptable, truthful[..., None], axis=-1)[..., 0]
    choice = np.where(t_ok & (t_val >= best - tol), truthful, best_idx)
    return np.where(acceptable.any(axis=-1), choice, DECLINE)


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
    K = sc.K
    theta, Q, d = sc.theta, sc.transition, sc.discount
    tol = float(tie_tolerance) * max(1.0, float(np.max(np.abs(c.R1))), float(np.max(np.abs(c.R2))))
    idx = np.arange(K)

    # ----- period 2: history l, true type i, report m ---------------------------------------
    ok2 = buildable(c.T2, sc)  # (l, m)
    u2 = c.R2[:, None, :] - cost(theta[None, :, None], c.T2[:, None, :], sc)  # (l, i, m)
    u2 = np.where(ok2[:, None, :], u2, -np.inf)
    avail2 = np.broadcast_to(ok2[:, None, :], (K, K, K))
    truth2 = np.broadcast_to(idx[None, :], (K, K))
    if mode == "per_period":
        accept2 = avail2 & (u2 >= -tol)  # walks away if every item loses it money
    else:
        accept2 = avail2  # committed at signing: must pick something buildable
    period2 = _pick(u2, truth2, accept2, tol)
    cont = np.where(
        period2 >= 0, np.take_along_axis(u2, np.maximum(period2, 0)[..., None], -1)[..., 0], 0.0
    )

    # ----- period 1: true type k, report l ----------------------------------------------------
    ok1 = buildable(c.T1, sc)
    u1 = c.R1[None, :] - cost(theta[:, None], c.T1[None, :], sc)  # (k, l)
    u1 = np.where(ok1[None, :], u1, -np.inf)
    W = u1 + d * Q @ cont.T  # (k, l): W[k, l] = u1[k, l] + delta sum_i Q[k, i] cont[l, i]
    avail1 = np.broadcast_to(ok1[None, :], (K, K))
    if mode == "per_period" and acceptance == "own_period":
        accept1 = avail1 & (u1 >= -tol)
    else:
        accept1 = avail1 & (W >= -tol)
    period1 = _pick(W, idx, accept1, tol)
    return ChoiceTables(
        period1=period1.astype(int),
        period2=period2.astype(int),
        u1=u1,
        u2=u2,
        cont=cont,
        W=W,
        tol=tol,
        participation=mode,
        acceptance=acceptance,
    )

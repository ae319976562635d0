"""Reference contracts (model.md §6): static (myopic and best), static-redesigned, complete info.

Every function returns a :class:`~dyncontract.solvers.exact.SolveResult` whose contract is a
*dynamic* contract (T1, R1, T2, R2), so each can be checked and simulated like any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from dyncontract.model.contract import Contract, expected_profit
from dyncontract.model.economics import cost, value
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.exact import OPTIMAL, SolveResult, solve_dynamic, solve_menu


def first_best_workload(theta: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """argmax_T G(T) - C(theta, T) on [0, T_max], per type.

    The first-order condition alpha beta / (1 + beta T) = 3 xi kappa T^2 / (tau^2 theta) has
    one positive root (left side falls, right side rises); it is found by bracketing.
    """
    thetas = np.atleast_1d(np.asarray(theta, float))
    out = np.empty_like(thetas)
    for j, th in enumerate(thetas):

        def foc(T: float, th: float = th) -> float:
            return sc.alpha * sc.beta / (
                1 + sc.beta * T
            ) - 3 * sc.energy_price * sc.kappa * T**2 / (sc.tau**2 * th)

        out[j] = sc.t_max if foc(sc.t_max) >= 0 else brentq(foc, 0.0, sc.t_max, xtol=1e-13)
    return out if np.ndim(theta) else out[0]


def complete_info(sc: Scenario) -> SolveResult:
    """First best: the CS knows each type, asks T*(theta) and pays exactly the cost."""
    t0 = time.perf_counter()
    T = first_best_workload(sc.theta, sc)
    R = cost(sc.theta, T, sc)
    K = sc.K
    contract = Contract(T1=T, R1=R, T2=np.tile(T, (K, 1)), R2=np.tile(R, (K, 1)))
    return SolveResult(
        OPTIMAL,
        expected_profit(contract, sc),
        contract,
        time.perf_counter() - t0,
        "complete-info",
        solver="brentq",
    )


def static_contract(sc: Scenario) -> SolveResult:
    """The optimal single-period menu for the prior p, offered unchanged in both periods.

    In period 2 the ESs (types now ~ pQ) re-pick from the same menu; since the menu is IC
    they pick truthfully, and the contract is feasible for the dynamic problem.
    """
    m = solve_menu(sc, sc.prior)
    contract = (
        Contract.single_period(m.T, m.R) if m.status == OPTIMAL or np.isfinite(m.profit) else None
    )
    profit = expected_profit(contract, sc) if contract is not None else float("nan")
    return SolveResult(m.status, profit, contract, m.solve_seconds, "static")


def static_best(sc: Scenario) -> SolveResult:
    """The best single menu offered unchanged in both periods (exact; a convex program).

    With one menu {(T_j, R_j)} in both periods (T2[l, i] = T_i, R2[l, i] = R_i for every
    history l) the dynamic constraints collapse to those of one single-period menu:

    * IC2 after any history and IR2 are the menu's own IC and IR (U_i >= 0);
    * the continuation value delta sum_i Q[k, i] U_i of a type-k ES does not depend on its
      period-1 report, so IC1 is the menu's single-period IC;
    * IR2 gives U >= 0, which implies IR1 in both participation modes (per_period U1 = U >= 0,
      ex_ante V_k = U_k + delta sum_i Q[k, i] U_i >= 0): the mode does not change the program.

    The profit is sum_k p_k (G_k - R_k) + delta sum_i (pQ)_i (G_i - R_i), i.e. the single-period
    screening objective with weights w = p + delta pQ (not normalised). So the optimum is
    :func:`~dyncontract.solvers.exact.solve_menu` with those weights, exactly. It is at least as
    good as :func:`static_contract` (the p-optimal menu is feasible here) and at most as good as
    :func:`static_redesign` (which may use a second menu).
    """
    w = sc.prior + sc.discount * sc.period2_prior
    m = solve_menu(sc, w)
    contract = Contract.single_period(m.T, m.R) if np.all(np.isfinite(m.T)) else None
    profit = expected_profit(contract, sc) if contract is not None else float("nan")
    return SolveResult(m.status, profit, contract, m.solve_seconds, "static-best")


def static_redesign(sc: Scenario) -> SolveResult:
    """An optimal menu for p in period 1 and another for pQ in period 2 (two contracting rounds)."""
    m1 = solve_menu(sc, sc.prior)
    m2 = solve_menu(sc, sc.period2_prior)
    status = (
        OPTIMAL
        if (m1.status == OPTIMAL and m2.status == OPTIMAL)
        else (m1.status if m1.status != OPTIMAL else m2.status)
    )
    K = sc.K
    contract = Contract(T1=m1.T, R1=m1.R, T2=np.tile(m2.T, (K, 1)), R2=np.tile(m2.R, (K, 1)))
    return SolveResult(
        status,
        expected_profit(contract, sc),
        contract,
        m1.solve_seconds + m2.solve_seconds,
        "static-redesign",
    )


def flat_contract(sc: Scenario) -> SolveResult:
    """The best flat contract: one item (T, R) for every type, in both periods.

    With a single item, an ES of type k takes it when R >= C(theta_k, T) (it cannot misreport),
    so the ESs that take it are the types at or above a cutoff j, in both periods. For a given
    cutoff the cheapest payment is R = C(theta_j, T) and the profit is
    (G(T) - C(theta_j, T)) (sum_{k >= j} p_k + delta sum_{i >= j} (pQ)_i), maximised by the
    first-best workload of type j; the best cutoff is found by enumeration (K candidates).
    Under ``ex_ante`` participation the same item is the best flat one (an ES accepts iff it
    gains in each period). Never better than :func:`static_best` (a flat item is a menu).
    """
    t0 = time.perf_counter()
    best, best_j = -np.inf, 0
    for j in range(sc.K):
        T = float(first_best_workload(sc.theta[j], sc))
        margin = float(value(T, sc) - cost(sc.theta[j], T, sc))
        mass = float(sc.prior[j:].sum() + sc.discount * sc.period2_prior[j:].sum())
        if margin * mass > best:
            best, best_j = margin * mass, j
    T = float(first_best_workload(sc.theta[best_j], sc))
    R = float(cost(sc.theta[best_j], T, sc))
    K = sc.K
    contract = Contract(
        T1=np.full(K, T), R1=np.full(K, R), T2=np.full((K, K), T), R2=np.full((K, K), R)
    )
    return SolveResult(
        OPTIMAL, best, contract, time.perf_counter() - t0, "flat", solver="enumeration"
    )


@dataclass
class References:
    dynamic: SolveResult
    static: SolveResult
    static_redesign: SolveResult
    complete_info: SolveResult

    def profits(self) -> dict[str, float]:
        return {
            "dynamic": self.dynamic.profit,
            "static": self.static.profit,
            "static_redesign": self.static_redesign.profit,
            "complete_info": self.complete_info.profit,
        }

    @property
    def all_optimal(self) -> bool:
        return all(
            r.status == OPTIMAL
            for r in (self.dynamic, self.static, self.static_redesign, self.complete_info)
        )


def solve_references(sc: Scenario, **dynamic_kwargs: object) -> References:
    """Dynamic optimum and the three reference contracts for one scenario.

    ``static_best`` is not part of this bundle (its consumers, e.g. the CLI table, expect
    exactly these fields); call :func:`static_best` directly.
    """
    return References(
        dynamic=solve_dynamic(sc, **dynamic_kwargs),  # type: ignore[arg-type]
        static=static_contract(sc),
        static_redesign=static_redesign(sc),
        complete_info=complete_info(sc),
    )


#: Contracts solved by name (``dyncontract construct --method``, the construct experiment).
NAMED = ("exact", "static", "static_best", "static_redesign", "flat", "complete_info")


def solve_named(name: str, sc: Scenario) -> SolveResult:
    """The contract of one of :data:`NAMED` for ``sc``."""
    solvers = {
        "exact": solve_dynamic,
        "static": static_contract,
        "static_best": static_best,
        "static_redesign": static_redesign,
        "flat": flat_contract,
        "complete_info": complete_info,
    }
    if name not in solvers:
        raise ValueError(f"unknown contract {name!r} (have {', '.join(NAMED)})")
    return solvers[name](sc)

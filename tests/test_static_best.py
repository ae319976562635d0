"""static_best: the best single menu offered in both periods."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_scenario, scenarios
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from dyncontract.model import Contract, Scenario, check_feasibility, expected_profit
from dyncontract.model.feasibility import constraint_slacks
from dyncontract.solvers import (
    OPTIMAL,
    complete_info,
    solve_dynamic,
    static_best,
    static_contract,
    static_redesign,
)
from dyncontract.solvers import exact as exact_mod


@settings(max_examples=8)
@given(sc=scenarios(), mode=st.sampled_from(["per_period", "ex_ante"]))
def test_ordering_myopic_best_redesign_dynamic_complete(sc: Scenario, mode: str) -> None:
    sc = sc.replace(participation=mode)
    rs = {
        "myopic": static_contract(sc),
        "best": static_best(sc),
        "redesign": static_redesign(sc),
        "dynamic": solve_dynamic(sc),
        "complete": complete_info(sc),
    }
    assert all(r.status == OPTIMAL for r in rs.values()), {k: r.status for k, r in rs.items()}
    p = {k: r.profit for k, r in rs.items()}
    tol = 1e-6 * abs(p["dynamic"])
    assert p["myopic"] <= p["best"] + tol
    assert p["best"] <= p["redesign"] + tol
    assert p["redesign"] <= p["dynamic"] + tol
    assert p["dynamic"] <= p["complete"] + tol


@settings(max_examples=8)
@given(sc=scenarios(), mode=st.sampled_from(["per_period", "ex_ante"]))
def test_static_best_is_feasible_one_menu(sc: Scenario, mode: str) -> None:
    sc = sc.replace(participation=mode)
    r = static_best(sc)
    c = r.contract
    assert r.status == OPTIMAL and c is not None
    # one menu in both periods, after every history: T2[l, i] = T_i, R2[l, i] = R_i
    assert np.array_equal(c.T2, np.tile(c.T1, (sc.K, 1)))
    assert np.array_equal(c.R2, np.tile(c.R1, (sc.K, 1)))
    rep = check_feasibility(c, sc)
    assert rep.feasible, rep.violations[:3]
    assert r.profit == pytest.approx(expected_profit(c, sc), rel=1e-12)


def test_static_best_strictly_beats_myopic_under_persistence() -> None:
    """Under persistence pQ differs from p, so re-weighting the menu must gain something."""
    sc = Scenario.default(prior=[0.6, 0.1, 0.1, 0.1, 0.1], persistence=0.3)
    gain = static_best(sc).profit - static_contract(sc).profit
    assert gain > 1e-4 * abs(static_contract(sc).profit)


def _brute_force_one_menu(sc: Scenario, rng: np.random.Generator, starts: int = 12) -> float:
    """max expected_profit over one-menu dynamic contracts s.t. every constraint_slacks >= 0.

    Independent of the conic solver: SLSQP from random starts on (T, R), the constraints taken
    whole from the model's feasibility module (dynamic IR1/IR2/IC1/IC2 + bounds).
    """
    K = sc.K
    scale = sc.alpha

    def contract(x: np.ndarray) -> Contract:
        return Contract.single_period(x[:K] * sc.t_max, x[K:] * scale)

    def obj(x: np.ndarray) -> float:
        return -expected_profit(contract(x), sc) / scale

    def cons(x: np.ndarray) -> np.ndarray:
        s = constraint_slacks(contract(x), sc)
        return np.concatenate([v.ravel() for v in s.values()]) / scale

    best = -np.inf
    for _ in range(starts):
        T0 = np.sort(rng.uniform(0.05, 0.6, K))
        x0 = np.concatenate([T0, rng.uniform(0.0, 0.5, K)])
        res = minimize(
            obj,
            x0,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": cons}],
            options={"maxiter": 500, "ftol": 1e-12},
        )
        x = res.x
        if np.min(cons(x)) >= -1e-8:
            best = max(best, -res.fun * scale)
    return best


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("mode", ["per_period", "ex_ante"])
def test_static_best_equals_brute_force_k2(seed: int, mode: str) -> None:
    rng = np.random.default_rng(100 + seed)
    sc = random_scenario(rng, K=2, participation=mode)
    bf = _brute_force_one_menu(sc, rng)
    assert np.isfinite(bf)
    assert static_best(sc).profit == pytest.approx(bf, rel=1e-5)


def test_static_best_non_optimal_status_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(exact_mod, "_ATTEMPTS", (("CLARABEL", {"max_iter": 1}),))
    exact_mod._menu_program.cache_clear()
    try:
        r = static_best(Scenario.default())
        assert r.status != OPTIMAL and not r.optimal
    finally:
        exact_mod._menu_program.cache_clear()

"""Exact solvers: agreement between formulations, orderings, closed forms, status discipline."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_scenario, scenarios
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from dyncontract.model import Contract, Scenario, check_feasibility, expected_profit
from dyncontract.model.economics import energy
from dyncontract.solvers import (
    OPTIMAL,
    complete_info,
    first_best_workload,
    least_payment_contract,
    least_payment_fast,
    least_payment_lp,
    solve_dynamic,
    solve_menu,
    solve_references,
    static_contract,
    static_redesign,
)
from dyncontract.solvers import exact as exact_mod


@given(sc=scenarios(), mode=st.sampled_from(["per_period", "ex_ante"]))
def test_reduced_equals_full(sc: Scenario, mode: str) -> None:
    red = solve_dynamic(sc, reduced=True, participation=mode)
    full = solve_dynamic(sc, reduced=False, participation=mode)
    assert red.status == OPTIMAL and full.status == OPTIMAL
    assert red.profit == pytest.approx(full.profit, rel=1e-5)


@given(sc=scenarios(K=4))
def test_lazy_ic1_equals_all_ic1(sc: Scenario) -> None:
    lazy = solve_dynamic(sc, ic1="lazy")
    full = solve_dynamic(sc, ic1="all")
    assert lazy.status == OPTIMAL and full.status == OPTIMAL
    assert lazy.profit == pytest.approx(full.profit, rel=1e-6)
    assert check_feasibility(lazy.contract, sc).feasible


@given(sc=scenarios(), mode=st.sampled_from(["per_period", "ex_ante"]))
def test_ordering_complete_dynamic_static(sc: Scenario, mode: str) -> None:
    sc = sc.replace(participation=mode)
    refs = solve_references(sc)
    assert refs.all_optimal
    p = refs.profits()
    tol = 1e-6 * abs(p["dynamic"])
    assert p["complete_info"] >= p["dynamic"] - tol
    assert p["dynamic"] >= p["static_redesign"] - tol
    assert p["dynamic"] >= p["static"] - tol
    assert p["static_redesign"] >= p["static"] - tol
    # the reference contracts are feasible for the dynamic problem
    for r in (refs.dynamic, refs.static, refs.static_redesign):
        rep = check_feasibility(r.contract, sc)
        assert rep.feasible, (r.program, rep.violations[:3])


def test_ex_ante_is_weakly_better_than_per_period() -> None:
    """ex_ante IR1 (V_k >= 0) is implied by per_period (U1_k >= 0 and U2 >= 0): a relaxation."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        sc = random_scenario(rng)
        pp = solve_dynamic(sc, participation="per_period")
        ea = solve_dynamic(sc, participation="ex_ante")
        assert ea.profit >= pp.profit - 1e-6 * abs(pp.profit)


def _lemma1_holds(T: np.ndarray, R: np.ndarray, tol: float = 1e-6) -> bool:
    for i in range(len(T)):
        for j in range(len(T)):
            r_ge = R[i] >= R[j] - tol
            t_ge = T[i] >= T[j] - tol
            if r_ge != t_ge and abs(R[i] - R[j]) > tol and abs(T[i] - T[j]) > tol:
                return False
    return True


@given(sc=scenarios())
def test_lemma1_on_optimal_contracts(sc: Scenario) -> None:
    c = solve_dynamic(sc).contract
    for k in range(sc.K):
        assert _lemma1_holds(c.T2[k], c.R2[k])
        assert np.all(np.diff(c.T2[k]) >= -1e-6)  # more willing types: weakly more workload
        assert np.all(np.diff(c.R2[k]) >= -1e-6)
    m = solve_menu(sc)
    assert _lemma1_holds(m.T, m.R)


def test_lemma1_on_random_feasible_contracts() -> None:
    """Random workloads made feasible by the exact LP, plus random feasible perturbations."""
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 25:
        sc = random_scenario(rng)
        K = sc.K
        T1 = np.sort(rng.uniform(0, sc.t_max, K))
        T2 = np.sort(rng.uniform(0, sc.t_max, (K, K)), axis=1)
        res = least_payment_lp(T1, T2, sc)
        if not res.implementable:
            continue
        c = res.contract
        # adding the same amount to a whole period-2 menu keeps IR2 and IC2 (not IC1) intact
        R2 = c.R2 + rng.uniform(0, 1, (K, 1))
        c = Contract(c.T1, c.R1, c.T2, R2)
        rep = check_feasibility(c, sc)
        assert not any(v.constraint in ("IR2", "IC2") for v in rep.violations)
        for k in range(K):
            assert _lemma1_holds(c.T2[k], c.R2[k])
        checked += 1


def _two_type_closed_form(sc: Scenario) -> float:
    """Single-period optimum with two types, derived by hand (not with the package's code).

    The high type gets its first-best workload; the low type's IR and the high type's
    downward IC bind, so the low workload solves
        p1 G'(T) = (p1 c1 + p2 (c1 - c2)) E'(T),   E'(T) = 3 kappa T^2 / tau^2,
    and profit = p1 (G(T1) - c1 E1) + p2 (G(T2) - c2 E2 - (c1 - c2) E1).
    """
    (p1, p2), (th1, th2) = sc.prior, sc.theta
    a, b, k, tau, xi = sc.alpha, sc.beta, sc.kappa, sc.tau, sc.energy_price
    c1, c2 = xi / th1, xi / th2
    G = lambda T: a * np.log(1 + b * T)  # noqa: E731
    E = lambda T: k * T**3 / tau**2  # noqa: E731

    def root(weight: float) -> float:
        f = lambda T: a * b / (1 + b * T) - weight * 3 * k * T**2 / tau**2  # noqa: E731
        return sc.t_max if f(sc.t_max) > 0 else brentq(f, 1e-12, sc.t_max)

    T1 = root(c1 + p2 / p1 * (c1 - c2))
    T2 = root(c2)
    return p1 * (G(T1) - c1 * E(T1)) + p2 * (G(T2) - c2 * E(T2) - (c1 - c2) * E(T1))


@pytest.mark.parametrize("seed", range(4))
def test_two_type_single_period_closed_form(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sc = random_scenario(rng, K=2, discount=0.0)
    expected = _two_type_closed_form(sc)
    assert solve_menu(sc).profit == pytest.approx(expected, rel=1e-6)
    # with delta = 0 the dynamic problem is the single-period one
    assert solve_dynamic(sc).profit == pytest.approx(expected, rel=1e-6)


def test_first_best_against_numerical_maximiser(default_scenario) -> None:
    sc = default_scenario
    for th in sc.theta:

        def obj(T: float, th: float = th) -> float:
            return -(sc.alpha * np.log1p(sc.beta * T) - sc.energy_price * energy(T, sc) / th)

        best = minimize_scalar(
            obj, bounds=(0, sc.t_max), method="bounded", options={"xatol": 1e-10}
        )
        assert first_best_workload(th, sc) == pytest.approx(best.x, rel=1e-6)
    ci = complete_info(sc)
    assert check_feasibility(ci.contract, sc).max_violation > 0  # first best is not IC


@given(sc=scenarios(), mode=st.sampled_from(["per_period", "ex_ante"]))
def test_least_payment_reproduces_optimum(sc: Scenario, mode: str) -> None:
    sc = sc.replace(participation=mode)
    opt = solve_dynamic(sc, polish=False)
    assert opt.status == OPTIMAL
    T1, T2 = opt.contract.T1, np.maximum.accumulate(opt.contract.T2, axis=1)
    lp = least_payment_lp(T1, T2, sc)
    assert lp.implementable
    assert expected_profit(lp.contract, sc) == pytest.approx(opt.objective, rel=1e-3)
    assert check_feasibility(lp.contract, sc).feasible
    fast = least_payment_contract(T1, T2, sc)
    if fast.implementable:  # general Q: feasible, never cheaper than the exact LP
        assert check_feasibility(fast.contract, sc).feasible
        assert fast.expected_payment >= lp.expected_payment - 1e-6 * (1 + lp.expected_payment)


def test_fast_form_equals_lp_at_optimum_in_env_family() -> None:
    """Persistence-family Q, per_period IR1 (the learning env's scenarios): fast == LP."""
    rng = np.random.default_rng(21)
    for _ in range(20):
        rho = float(rng.uniform(0.3, 0.9))
        prior = rng.dirichlet(np.ones(5)).clip(1e-3)
        sc = Scenario.default(
            prior=(prior / prior.sum()).tolist(),
            persistence=rho,
            energy_price=float(rng.uniform(0.03, 0.08)),
        )
        opt = solve_dynamic(sc, polish=False)
        T1, T2 = opt.contract.T1, np.maximum.accumulate(opt.contract.T2, axis=1)
        lp = least_payment_lp(T1, T2, sc)
        R1, R2, ok = least_payment_fast(
            energy(T1, sc),
            energy(T2, sc),
            sc.cost_per_joule,
            sc.discount * sc.transition,
            tol=1e-5,
        )
        assert ok
        fast = Contract(T1, R1, T2, R2)
        assert expected_profit(fast, sc) == pytest.approx(
            expected_profit(lp.contract, sc), rel=1e-6
        )
        assert expected_profit(fast, sc) == pytest.approx(opt.objective, rel=1e-3)
        assert check_feasibility(fast, sc, tol=1e-4).feasible


def test_fast_form_is_exact_for_iid_types() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        K = int(rng.integers(2, 5))
        q = rng.dirichlet(np.ones(K)) * 0.8 + 0.2 / K
        sc = random_scenario(rng, K=K, transition=np.tile(q / q.sum(), (K, 1)).tolist())
        T1 = np.sort(rng.uniform(0, sc.t_max, K))
        T2 = np.sort(rng.uniform(0, sc.t_max, (K, K)), axis=1)
        lp = least_payment_lp(T1, T2, sc)
        fast = least_payment_contract(T1, T2, sc)
        assert lp.implementable == fast.implementable
        if lp.implementable:
            assert fast.expected_payment == pytest.approx(lp.expected_payment, rel=1e-6, abs=1e-7)


def test_fast_form_never_marks_infeasible_as_ok() -> None:
    rng = np.random.default_rng(9)
    n_ok = n_bad = 0
    for _ in range(150):
        sc = random_scenario(rng)
        K = sc.K
        T1 = rng.uniform(0, sc.t_max, K)
        T2 = rng.uniform(0, sc.t_max, (K, K))
        if rng.uniform() < 0.5:
            T1, T2 = np.sort(T1), np.sort(T2, axis=1)
        fast = least_payment_contract(T1, T2, sc)
        lp = least_payment_lp(T1, T2, sc)
        if fast.implementable:
            n_ok += 1
            assert check_feasibility(fast.contract, sc).feasible
            assert lp.implementable  # the LP can always do at least as well
            assert fast.expected_payment >= lp.expected_payment - 1e-6 * (1 + lp.expected_payment)
        else:
            n_bad += 1
        if not lp.implementable:
            assert not fast.implementable
    assert n_ok > 10 and n_bad > 10  # both branches exercised


def test_non_optimal_status_is_never_reported_optimal(monkeypatch) -> None:
    sc = Scenario.default()
    monkeypatch.setattr(exact_mod, "_ATTEMPTS", (("CLARABEL", {"max_iter": 2}),))
    exact_mod._dynamic_program.cache_clear()
    res = solve_dynamic(sc)
    assert res.status != OPTIMAL
    assert not res.optimal
    exact_mod._dynamic_program.cache_clear()


def test_static_contracts_structure(default_scenario) -> None:
    sc = default_scenario
    s = static_contract(sc)
    r = static_redesign(sc)
    # static: the same menu in both periods, after every history
    assert np.allclose(s.contract.T2, s.contract.T1[None, :])
    assert np.allclose(r.contract.T2, r.contract.T2[0][None, :])
    assert s.status == OPTIMAL and r.status == OPTIMAL


@pytest.mark.parametrize("K", [8, 15])
def test_larger_K_reduced_program(K: int) -> None:
    sc = Scenario.default(theta=np.linspace(1, 3, K).tolist())
    res = solve_dynamic(sc)
    assert res.status == OPTIMAL
    assert check_feasibility(res.contract, sc).feasible
    assert res.profit >= static_contract(sc).profit - 1e-6

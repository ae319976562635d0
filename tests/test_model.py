"""Model layer: economics, contract I/O, feasibility report (against hand-built cases)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dyncontract.model import Contract, ContractFormatError, Scenario, check_feasibility
from dyncontract.model.contract import expected_profit, utilities
from dyncontract.model.economics import cost, energy, value, workload_from_energy
from dyncontract.solvers import solve_dynamic


def test_economics_hand_values(default_scenario: Scenario) -> None:
    sc = default_scenario
    # T = 10 Gcycles in tau = 10 s -> f = 1 GHz, E = kappa f^2 T = 10 J
    assert energy(10.0, sc) == pytest.approx(10.0)
    assert cost(2.0, 10.0, sc) == pytest.approx(0.05 * 10.0 / 2.0)
    assert value(2.0, sc) == pytest.approx(10.0 * np.log(2.0))
    assert sc.t_max == 30.0 and sc.e_max == pytest.approx(270.0)
    T = np.linspace(0, 30, 7)
    np.testing.assert_allclose(workload_from_energy(energy(T, sc), sc), T, atol=1e-12)


def test_contract_json_roundtrip(tmp_path, default_scenario) -> None:
    c = solve_dynamic(default_scenario).contract
    p = c.save(tmp_path / "c.json")
    d = json.loads(p.read_text())
    assert set(d) == {"T1", "R1", "T2", "R2"}
    c2 = Contract.load(p)
    for k in ("T1", "R1", "T2", "R2"):
        np.testing.assert_array_equal(getattr(c, k), getattr(c2, k))


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"T1": [1, 2], "R1": [1, 2], "T2": [[1, 2], [1, 2]]}, "R2"),
        ({"T1": [1, 2], "R1": [1], "T2": [[1, 2], [1, 2]], "R2": [[1, 2], [1, 2]]}, "R1"),
        ({"T1": [1, 2], "R1": [1, 2], "T2": [[1, 2]], "R2": [[1, 2], [1, 2]]}, "T2"),
        ({"T1": [1, "x"], "R1": [1, 2], "T2": [[1, 2], [1, 2]], "R2": [[1, 2], [1, 2]]}, "T1"),
        ({"T1": [1, 2], "R1": [1, 2], "T2": [[1, 2], [1, 2]], "R2": [[1, 2], [1, 2]], "x": 1}, "x"),
        ([1, 2, 3], "contract"),
    ],
)
def test_contract_format_errors_name_the_field(payload, field) -> None:
    with pytest.raises(ContractFormatError, match=rf"^{field}"):
        Contract.from_dict(payload)


def test_feasibility_report_names_planted_violations(default_scenario) -> None:
    sc = default_scenario
    c = solve_dynamic(sc).contract
    assert check_feasibility(c, sc).feasible
    # IR2: pay the lowest type after history 0 less than its cost by 0.1
    R2 = c.R2.copy()
    R2[0, 0] -= 0.1 + utilities(c, sc).U2[0, 0]
    rep = check_feasibility(Contract(c.T1, c.R1, c.T2, R2), sc)
    ir2 = [v for v in rep.violations if v.constraint == "IR2"]
    assert [v.index for v in ir2] == [(0, 0)]
    assert ir2[0].magnitude == pytest.approx(0.1, abs=1e-9)
    # IC1: a big raise of the lowest period-1 reward makes every other type mimic type 0
    R1 = c.R1.copy()
    R1[0] += 5.0
    rep = check_feasibility(Contract(c.T1, R1, c.T2, c.R2), sc)
    ic1 = {v.index for v in rep.violations if v.constraint == "IC1"}
    assert {(k, 0) for k in range(1, sc.K)} <= ic1
    # bounds
    T1 = c.T1.copy()
    T1[-1] = sc.t_max + 1
    rep = check_feasibility(Contract(T1, c.R1, c.T2, c.R2), sc)
    assert any(v.constraint == "bounds" and v.detail == "T1_high" for v in rep.violations)


def test_ic2_violation_from_brute_force(default_scenario) -> None:
    """IC2 violations found by the report equal those from an explicit loop over deviations."""
    sc = default_scenario
    rng = np.random.default_rng(3)
    K = sc.K
    c = Contract(
        T1=rng.uniform(0, 30, K),
        R1=rng.uniform(0, 5, K),
        T2=rng.uniform(0, 30, (K, K)),
        R2=rng.uniform(0, 5, (K, K)),
    )
    rep = check_feasibility(c, sc, tol=1e-9)
    found = {v.index: v.magnitude for v in rep.violations if v.constraint == "IC2"}
    expected = {}
    for k in range(K):
        for i in range(K):
            own = (
                c.R2[k, i] - sc.energy_price * sc.kappa * c.T2[k, i] ** 3 / sc.tau**2 / sc.theta[i]
            )
            for m in range(K):
                dev = (
                    c.R2[k, m]
                    - sc.energy_price * sc.kappa * c.T2[k, m] ** 3 / sc.tau**2 / sc.theta[i]
                )
                if dev - own > 1e-9:
                    expected[(k, i, m)] = dev - own
    assert found.keys() == expected.keys()
    for key, mag in expected.items():
        assert found[key] == pytest.approx(mag)


def test_profit_by_explicit_sum(default_scenario) -> None:
    sc = default_scenario
    c = solve_dynamic(sc).contract
    total = 0.0
    for k in range(sc.K):
        total += sc.prior[k] * (sc.alpha * np.log(1 + sc.beta * c.T1[k]) - c.R1[k])
        for i in range(sc.K):
            g = sc.alpha * np.log(1 + sc.beta * c.T2[k, i]) - c.R2[k, i]
            total += sc.discount * sc.prior[k] * sc.transition[k, i] * g
    assert expected_profit(c, sc) == pytest.approx(total, rel=1e-12)

"""The construct experiment's analysis (fits, tables) and the flat contract, against
independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from dyncontract.experiments.construction import ConstructExperiment, jobs
from dyncontract.experiments.construction_report import (
    compare_summary,
    fit_curve,
    fit_valuation,
    t_interval,
)
from dyncontract.model.economics import cost, value
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.reference import flat_contract, static_best


def test_log_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(0)
    T = np.repeat([0.0, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0], 3)
    y = 12.0 * np.log1p(0.3 * T) + rng.normal(0, 0.2, T.size)
    fit = fit_curve("log", T, y)
    a, b = fit["params"]["alpha"], fit["params"]["beta"]
    assert a == pytest.approx(12.0, rel=0.05) and b == pytest.approx(0.3, rel=0.1)
    lo, hi = fit["ci95"]["alpha"]
    assert lo < 12.0 < hi
    assert fit["r2"] > 0.99 and len(fit["residuals"]) == T.size
    # the other shape fits worse on log data, and the reverse
    assert fit_curve("saturating_exp", T, y)["rmse"] > fit["rmse"]
    y2 = 20 * (1 - np.exp(-0.4 * T)) + rng.normal(0, 0.2, T.size)
    assert fit_curve("saturating_exp", T, y2)["rmse"] < fit_curve("log", T, y2)["rmse"]
    assert fit["identified"]


def test_a_fit_without_saturation_is_not_identified() -> None:
    """Quality rising faster than linearly over the sweep (no saturation): the log model's
    least-squares rate runs to its bound and α, β are not separately estimated. The fit says
    so and gives no interval, instead of a huge α with a zero-width one."""
    T = np.array([0.0, 2.5, 10.0])
    y = np.array([0.0, 0.07, 0.39]) * 100 / 3  # convex, as a small quick-preset sweep gave
    fit = fit_curve("log", T, y)
    assert not fit["identified"]
    assert all(np.isnan(v) for v in fit["ci95"]["alpha"] + fit["ci95"]["beta"])
    assert fit["params"]["beta"] * 10.0 < 1e-3
    # two workloads above 0 and a saturating curve: identified, fitted exactly, no interval
    exact = fit_curve("log", T, 12.0 * np.log1p(0.3 * T))
    assert exact["identified"] and exact["params"]["beta"] == pytest.approx(0.3, rel=1e-3)
    assert all(np.isnan(v) for v in exact["ci95"]["alpha"])


def test_valuation_points_subtract_each_seeds_untrained_agent() -> None:
    rows = []
    for seed, q0 in ((0, 0.2), (1, 0.3)):
        for T in (0.0, 5.0, 10.0, 20.0):
            q = q0 + (0.9 - q0) * (1 - np.exp(-0.2 * T))
            rows.append({"workload": T, "n_es": 4, "split": "non-iid", "seed": seed, "q1": q})
    fits = fit_valuation(rows, V=100.0, n_es_values=[4])
    y = np.asarray(fits["4"]["y"])
    T = np.asarray(fits["4"]["T"])
    assert np.allclose(y[T == 0], 0.0)  # no work, no value added
    # by hand: seed 0 at T = 20
    q = 0.2 + 0.7 * (1 - np.exp(-4.0))
    assert np.isclose(y, 100.0 * (q - 0.2) / 4).sum() == 1


def test_t_interval_matches_the_textbook() -> None:
    m, h = t_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-6)
    assert t_interval([5.0]) == (5.0, 0.0)


def test_compare_summary_aggregates_per_method() -> None:
    base = dict(
        q1=0.5, q2=0.9, payments=10.0, realised_profit=100.0, predicted_profit=80.0,
        mean_es_utility=0.1, deviations=0, declines=0, expected_profit_model=79.0,
        realised_value_added_p1=30.0, predicted_profit_p1=40.0,
        realised_value_added_p2=35.0, predicted_profit_p2=44.0,
    )  # fmt: skip
    rows = [
        {"method": "exact", "seed": s, **base, "realised_value_added": 60.0 + s} for s in (0, 1, 2)
    ]
    # flat: seeds 0 and 2 only, 20 and 31 below the exact contract of the same seed
    rows.append({"method": "flat", "seed": 0, **base, "realised_value_added": 40.0})
    rows.append({"method": "flat", "seed": 2, **base, "realised_value_added": 31.0})
    s = compare_summary(rows, ["exact", "flat", "absent"])
    assert [r["method"] for r in s] == ["exact", "flat"]
    assert s[0]["realised_value_added"] == pytest.approx(61.0)
    assert s[0]["gap_value_added_vs_predicted"] == pytest.approx((61.0 - 80.0) / 80.0)
    assert s[0]["realised_value_added_minus_exact"] == 0.0
    # paired by seed: mean of (-20, -31); t with 1 degree of freedom: 12.706 * s / sqrt(2)
    assert s[1]["realised_value_added_minus_exact"] == pytest.approx(-25.5)
    assert s[1]["realised_value_added_minus_exact_ci95"] == pytest.approx(
        12.7062 * np.std([-20.0, -31.0], ddof=1) / np.sqrt(2), rel=1e-4
    )


def test_experiment_jobs_cover_the_grid() -> None:
    exp = ConstructExperiment(
        sweep={"workloads": [0, 5], "n_es": [2, 4], "seeds": [0, 1], "iid_points": [[5, 4]]},
        compare={"config": None, "methods": ["exact", "flat"], "seeds": [3]},
    )
    js = jobs(exp, 20)
    sweep = [j for j in js if j.part == "sweep"]
    assert len(sweep) == (2 * 2 + 1) * 2
    assert len({j.name for j in js}) == len(js)
    iid = [j for j in sweep if "iid" in j.name and "noniid" not in j.name]
    assert all(j.config["construction"]["concentration"] is None for j in iid)
    assert [j.source for j in js if j.part == "compare"] == ["exact", "flat"]
    assert all(j.n_es == 20 for j in js if j.part == "compare")


def test_flat_contract_is_the_best_single_item_by_brute_force() -> None:
    sc = Scenario.default()
    f = flat_contract(sc)
    w1, w2 = sc.prior, sc.discount * sc.period2_prior
    best = -np.inf
    for T in np.linspace(0, sc.t_max, 601):
        for R in np.unique(cost(sc.theta, T, sc)):  # the payments at which some type binds
            takes = R - cost(sc.theta, T, sc) >= -1e-9
            best = max(best, float((w1[takes].sum() + w2[takes].sum()) * (value(T, sc) - R)))
    assert f.profit >= best - 1e-9  # nothing on the grid beats it
    assert f.profit <= best * (1 + 1e-3)  # and the grid comes close
    assert f.profit <= static_best(sc).profit + 1e-9  # a single item is a static menu

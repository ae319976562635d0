"""Real federated construction (docs/construction.md): determinism, privacy, faults, the
aggregation rule and the market, on tiny in-process runs (the same ServerApp and ClientApp
objects as the Ray runtime; one slow test runs the real simulation runtime)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("minigrid")

from dyncontract.framework.config import FrameworkConfig  # noqa: E402
from dyncontract.framework.construction.agent import MODULES, Agent, AgentSpec  # noqa: E402
from dyncontract.framework.construction.config import ConstructionConfig  # noqa: E402
from dyncontract.framework.construction.construct import construct  # noqa: E402
from dyncontract.framework.construction.data import (  # noqa: E402
    COLOURS,
    EVAL_SEED_BASE,
    attribute_mix,
    eval_seeds,
    generate_demos,
    mission_attribute,
)
from dyncontract.framework.construction.report import (  # noqa: E402
    privacy_violations,
    strip_measurements,
)
from dyncontract.framework.construction.strategy import ModuleFedAvg, Update  # noqa: E402
from dyncontract.model.scenario import Scenario  # noqa: E402
from dyncontract.solvers import solve_dynamic  # noqa: E402
from dyncontract.solvers.reference import flat_contract  # noqa: E402

#: A construction small enough for a unit test (a few steps per ES, 20 test missions).
TINY = dict(
    demos_per_es=12,
    eval_missions=20,
    rounds_per_period=2,
    latency_episodes=2,
    gcycles_per_step=4.0,  # T of 13-27 Gcycles -> 3-7 steps
    batch_episodes=4,
    runtime="inprocess",
)


def tiny(**kw: Any) -> ConstructionConfig:
    return ConstructionConfig(**{**TINY, **kw})


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return Scenario.default()


@pytest.fixture(scope="module")
def optimal(sc: Scenario):
    return solve_dynamic(sc).contract


@pytest.fixture(scope="module")
def run_a(sc, optimal):
    return construct(optimal, sc, tiny(), FrameworkConfig(), n_es=3)


def test_same_seed_gives_identical_weights_and_report(sc, optimal, run_a) -> None:
    again = construct(optimal, sc, tiny(), FrameworkConfig(), n_es=3)
    for w1, w2 in zip(run_a.weights, again.weights, strict=True):
        assert list(w1) == list(w2)
        for k in w1:
            assert np.array_equal(w1[k], w2[k]), k
    assert strip_measurements(run_a.report) == strip_measurements(again.report)
    # and a different seed gives other weights (the comparison can fail)
    other = construct(optimal, sc, tiny(seed=1), FrameworkConfig(), n_es=3)
    assert other.report["weights_sha256"] != run_a.report["weights_sha256"]


def _shapes() -> dict[str, tuple]:
    agent = Agent(AgentSpec(**tiny().agent.model_dump()))  # built here, not by the run
    return {k: tuple(v.shape) for k, v in agent.state_dict().items()}


def test_the_cs_receives_only_module_parameters_and_scalars(run_a) -> None:
    received = run_a.report["received"]
    assert {m["type"] for m in received} == {"query.hello", "train", "query.deploy"}
    assert not any(m["error"] for m in received)
    assert privacy_violations(received, _shapes()) == []
    trained = [m for m in received if m["type"] == "train"]
    assert len(trained) == 3 * 2 * 2  # 3 ESs x 2 rounds x 2 periods
    names = set()
    for m in trained:
        names |= set(m["records"]["arrays"]["items"])
    assert names == set(_shapes())  # the ESs sent every module back


def test_the_privacy_check_catches_raw_data(run_a) -> None:
    leaked = copy.deepcopy(run_a.report["received"])
    train = next(m for m in leaked if m["type"] == "train")
    train["records"]["arrays"]["items"]["frames"] = (37, 7, 7, 3)
    train["records"]["demos"] = {"kind": "ConfigRecord", "items": {"missions": "go to..."}}
    train["records"]["metrics"]["items"]["seeds"] = [1, 2, 3]
    bad = privacy_violations(leaked, _shapes())
    assert len(bad) == 3, bad


def test_a_failing_es_is_reported_unpaid_and_does_not_stop_the_run(sc, optimal, run_a) -> None:
    cfg = tiny(faults=[{"es": 1, "period": 1, "round": 2, "mode": "raise"}])
    res = construct(optimal, sc, cfg, FrameworkConfig(), n_es=3)
    rep = res.report
    p1 = rep["periods"][0]
    assert p1["failed_es"] == [1]
    assert p1["rounds"][1]["failures"][0]["es"] == 1
    es1 = next(r for r in rep["es"] if r["es"] == 1 and r["period"] == 1)
    assert not es1["completed"] and es1["payment"] == 0.0
    assert es1["steps_done"] < es1["steps_contracted"]
    assert es1["steps_done"] > 0  # round 1 was delivered
    assert es1["cost"] > 0 and es1["utility"] < 0  # it spent energy on work it was not paid for
    base = {(r["period"], r["es"]): r for r in run_a.report["es"]}
    for r in rep["es"]:
        if (r["period"], r["es"]) != (1, 1):  # every other item was completed and paid
            assert r["completed"] and r["payment"] == base[(r["period"], r["es"])]["payment"]
    # the run went on: period 2 happened and the agent changed
    assert len(res.weights) == 2
    assert rep["weights_sha256"][0] != run_a.report["weights_sha256"][0]
    # payments: only the completed items
    paid = sum(r["payment"] for r in rep["es"] if r["period"] == 1)
    assert paid == pytest.approx(p1["payments"])
    assert paid < run_a.report["periods"][0]["payments"]


def test_realised_profit_is_value_of_quality_minus_payments(run_a) -> None:
    rep = run_a.report
    V = rep["value_per_quality"]
    for p in rep["periods"]:
        pay = sum(r["payment"] for r in rep["es"] if r["period"] == p["period"])
        assert p["realised_profit"] == pytest.approx(V * p["success_rate"] - pay)
    t = rep["totals"]
    d = rep["discount"]
    assert t["realised_profit"] == pytest.approx(
        rep["periods"][0]["realised_profit"] + d * rep["periods"][1]["realised_profit"]
    )


def test_exact_contract_has_no_deviation_or_decline(sc, optimal) -> None:
    from dyncontract.framework.construction.construct import draw_picks

    pk, _ = draw_picks(optimal, sc, FrameworkConfig(), 400, 3, "self_selection")
    assert np.array_equal(pk.r1, pk.k1) and np.array_equal(pk.r2, pk.k2)


def test_flat_contract_declines_are_the_types_below_its_cutoff(sc) -> None:
    from dyncontract.framework.construction.construct import draw_picks
    from dyncontract.model.economics import cost

    c = flat_contract(sc).contract
    pk, expected = draw_picks(c, sc, FrameworkConfig(), 500, 7, "self_selection")
    # independently: a type takes the single item iff its reward covers its cost
    takes = c.R1[0] - cost(sc.theta, c.T1[0], sc) >= -1e-6
    assert np.array_equal(pk.in1, takes[pk.k1])
    assert np.array_equal(pk.in2, takes[pk.k1] & takes[pk.k2])
    assert expected == pytest.approx(flat_contract(sc).profit)


def test_module_fedavg_is_work_weighted_per_module_and_order_free() -> None:
    w = OrderedDict(
        [("perception.a", np.zeros(3, np.float32)), ("action.b", np.zeros(2, np.float32))]
    )
    ups = [
        Update(0, 1, {"perception.a": np.array([1, 1, 1], np.float32)}),
        Update(
            1,
            3,
            {
                "perception.a": np.array([5, 5, 5], np.float32),
                "action.b": np.array([2, 4], np.float32),
            },
        ),  # fmt: skip
        Update(2, 0, {"perception.a": np.array([100, 100, 100], np.float32)}),  # no work
    ]
    new, work = ModuleFedAvg().aggregate(w, ups)
    assert np.allclose(new["perception.a"], (1 * 1 + 3 * 5) / 4)  # hand-computed
    assert np.allclose(new["action.b"], [2, 4])  # only ES 1 trained the action module
    assert work == {"perception": 4, "action": 3}
    rev, _ = ModuleFedAvg().aggregate(w, list(reversed(ups)))
    for k in new:
        assert np.array_equal(new[k], rev[k])  # bit-identical whatever the arrival order
    untouched, _ = ModuleFedAvg().aggregate(w, [ups[2]])
    assert np.array_equal(untouched["perception.a"], w["perception.a"])


def test_non_iid_mix_shapes_each_es_missions() -> None:
    rng = np.random.default_rng(0)
    mix = np.zeros(len(COLOURS))
    mix[COLOURS.index("purple")] = 1.0
    eps, stats = generate_demos(["BabyAI-GoToLocal-v0"], 15, rng, "colour", mix)
    assert eps.n_episodes == 15 and eps.n_frames == eps.actions.size
    assert set(eps.attributes.tolist()) == {COLOURS.index("purple")}
    assert stats.levels_generated > 15  # it rejected levels to get there
    iid, _ = generate_demos(["BabyAI-GoToLocal-v0"], 40, np.random.default_rng(1))
    assert len(set(iid.attributes.tolist())) >= 3
    # a small concentration gives an uneven mix, a large one a nearly uniform one
    assert attribute_mix(np.random.default_rng(2), "colour", 0.05).max() > 0.6
    assert attribute_mix(np.random.default_rng(2), "colour", 1e4).max() < 0.2
    assert attribute_mix(rng, "colour", None) is None
    assert mission_attribute("go to the red ball", "colour_kind") == "red ball"


def test_held_out_missions_are_disjoint_from_es_data() -> None:
    test, val = eval_seeds(1000), eval_seeds(1000, "validation")
    assert test.min() >= EVAL_SEED_BASE and val.min() >= EVAL_SEED_BASE
    assert not set(test.tolist()) & set(val.tolist())
    rng = np.random.default_rng(3)
    # ES data seeds are drawn below EVAL_SEED_BASE (generate_demos draws from this range)
    assert rng.integers(EVAL_SEED_BASE, size=10_000).max() < EVAL_SEED_BASE


def test_one_module_per_es_sends_only_that_module(sc, optimal) -> None:
    res = construct(optimal, sc, tiny(module_assignment="one"), FrameworkConfig(), n_es=3)
    for msg in res.report["received"]:
        if msg["type"] == "train":
            mods = {k.split(".")[0] for k in msg["records"]["arrays"]["items"]}
            assert len(mods) == 1 and mods <= set(MODULES)


@pytest.mark.slow
def test_simulation_runtime_matches_inprocess(sc, optimal, run_a) -> None:
    """Flower's simulation runtime (Ray, one CPU per ES actor) gives the same weights as the
    in-process runtime, bit for bit."""
    res = construct(optimal, sc, tiny(runtime="simulation", num_cpus=2), FrameworkConfig(), 3)
    assert res.report["weights_sha256"] == run_a.report["weights_sha256"]
    assert (res.report["runtime"], run_a.report["runtime"]) == ("simulation", "inprocess")
    same = {k: v for k, v in res.report.items() if k != "runtime"}
    assert strip_measurements(same) == strip_measurements(
        {k: v for k, v in run_a.report.items() if k != "runtime"}
    )

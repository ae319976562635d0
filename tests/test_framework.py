"""The federated AI agent construction simulator (docs/framework.md)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from helpers import random_scenario

from dyncontract.config import ConfigError, build_config, parse_set
from dyncontract.framework import (
    DECLINE,
    FrameworkConfig,
    choice_tables,
    sample_types,
    simulate,
)
from dyncontract.model import Contract, Scenario, check_feasibility, expected_profit
from dyncontract.solvers import solve_dynamic


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return Scenario.default()


@pytest.fixture(scope="module")
def optimal(sc: Scenario) -> Contract:
    res = solve_dynamic(sc)
    assert res.optimal
    return res.contract


@pytest.fixture(scope="module")
def sc_ex() -> Scenario:
    return Scenario.default(participation="ex_ante")


@pytest.fixture(scope="module")
def optimal_ex(sc_ex: Scenario) -> Contract:
    res = solve_dynamic(sc_ex)
    assert res.optimal
    return res.contract


def _with(c: Contract, **arrays: np.ndarray) -> Contract:
    d = {"T1": c.T1, "R1": c.R1, "T2": c.T2, "R2": c.R2}
    d.update(arrays)
    return Contract(**d)


# ---------------------------------------------------------------------------------------------
# Acceptance: the optimal contract is followed, and its profit is realised
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["per_period", "ex_ante"])
def test_optimal_contract_no_deviation_profit_within_3se(mode, sc, optimal, sc_ex, optimal_ex):
    scen, c = (sc, optimal) if mode == "per_period" else (sc_ex, optimal_ex)
    s = simulate(c, scen, n_es=20_000, seed=2024).summary
    assert s["deviations"] == 0
    assert s["declined"] == 0
    assert s["expected_profit_per_es"] == pytest.approx(solve_dynamic(scen).profit, rel=1e-9)
    se = s["realized_profit_se"]
    assert 0 < se < 0.05  # 20 000 ESs make the check tight
    assert abs(s["realized_profit_per_es"] - s["expected_profit_per_es"]) <= 3 * se
    # every ES got what the contract promises its type, on average (within 4 SE per type)
    k1 = simulate(c, scen, n_es=20_000, seed=2024).es
    for k, v in enumerate(s["es_utility_expected"]):
        u = k1["utility"][k1["type1"] == k]
        assert abs(u.mean() - v) <= 4 * u.std(ddof=1) / math.sqrt(u.size) + 1e-12


def test_random_optimal_contracts_are_followed_truthfully() -> None:
    """Optimal contracts bind IC/IR constraints (ESs exactly indifferent): ties must go to
    the truthful item, on random scenarios and in both participation modes."""
    for seed in range(8):
        rng = np.random.default_rng(1000 + seed)
        mode = "ex_ante" if seed % 2 else "per_period"
        scen = random_scenario(rng, participation=mode)
        res = solve_dynamic(scen)
        assert res.optimal
        assert check_feasibility(res.contract, scen).feasible
        s = simulate(res.contract, scen, n_es=3000, seed=seed).summary
        assert (s["deviations"], s["declined"]) == (0, 0), (seed, s["deviation_table"])


def test_without_tie_tolerance_indifferent_ess_may_lie(sc, optimal) -> None:
    """The tolerance matters: at exact ties with tolerance 0 some type leaves the truthful
    item of the optimal contract (so the zero-deviation result is not vacuous)."""
    tight = choice_tables(optimal, sc, tie_tolerance=0.0)
    loose = choice_tables(optimal, sc)
    K = sc.K
    assert (loose.period1 == np.arange(K)).all()
    assert (loose.period2 == np.arange(K)[None, :]).all()
    truthful = (tight.period1 == np.arange(K)).all() and (
        tight.period2 == np.arange(K)[None, :]
    ).all()
    # the optimal contract pools T2[0, 0] = T2[0, 1]: an exact tie that tolerance 0 breaks
    # toward the lowest index
    assert np.isclose(optimal.T2[0, 0], optimal.T2[0, 1])
    assert not truthful


# ---------------------------------------------------------------------------------------------
# Acceptance: infeasible contracts show deviations / declines and the profit lost
# ---------------------------------------------------------------------------------------------
def test_underpaid_top_type_mimics_lower_type(sc, optimal) -> None:
    K = sc.K
    R1 = optimal.R1.copy()
    R1[K - 1] -= 0.5  # the most willing type is now paid too little to report truthfully
    bad = _with(optimal, R1=R1)
    rep = check_feasibility(bad, sc)
    assert not rep.feasible and "IC1" in rep.by_constraint()
    res = simulate(bad, sc, n_es=20_000, seed=5)
    s, es = res.summary, res.es
    assert s["deviations"] > 0 and s["declined"] == 0
    assert s["deviations_by_period"]["2"] == 0
    liars = es["report1"] != es["type1"]
    # exactly the top type lies, all of them, by reporting a lower type
    assert (es["type1"][liars] == K - 1).all()
    assert liars.sum() == (es["type1"] == K - 1).sum() == s["deviations"]
    assert (es["report1"][liars] < K - 1).all()
    # lying pays the ES: more than the contract's promise V for its type
    promised = s["es_utility_expected"][K - 1]
    assert es["utility"][liars].mean() > promised + 0.1
    # and costs the CS: the contract promised more (computed as if everybody were truthful)
    se = s["realized_profit_se"]
    assert s["realized_profit_per_es"] < s["expected_profit_per_es"] - 3 * se
    assert s["expected_profit_per_es"] == pytest.approx(expected_profit(bad, sc))
    assert s["profit_lost_per_es"] > 0.05
    row = s["deviation_table"][0]
    assert row["period"] == 1 and row["true_type"] == K - 1 and row["count"] == liars.sum()
    assert row["es_utility_gain"] > 0 and row["cs_profit_change"] < 0
    # the realised profit matches what the behaviour implies
    diff = s["realized_profit_per_es"] - s["expected_profit_per_es_behavioural"]
    assert abs(diff) <= 3 * se


def test_period2_reward_below_cost_makes_lowest_type_walk_away(sc, optimal) -> None:
    R2 = optimal.R2.copy()
    R2[2, 0] -= 0.5  # after report 3, the lowest period-2 type is now paid below its cost
    bad = _with(optimal, R2=R2)
    rep = check_feasibility(bad, sc)
    assert not rep.feasible and "IR2" in rep.by_constraint()
    res = simulate(bad, sc, n_es=20_000, seed=9)
    s, es = res.summary, res.es
    assert s["declined"] > 0 and s["declined_by_period"]["1"] == 0
    walked = (es["report1"] != DECLINE) & (es["report2"] == DECLINE)
    assert walked.sum() == s["declined"]
    assert (es["report1"][walked] == 2).all() and (es["type2"][walked] == 0).all()
    # a walk-away builds nothing in period 2, is paid nothing and spends no energy
    assert (es["energy2"][walked] == 0).all() and (es["profit2"][walked] == 0).all()
    assert (es["utility2"][walked] == 0).all()
    se = s["realized_profit_se"]
    assert s["realized_profit_per_es"] < s["expected_profit_per_es"] - 3 * se
    assert s["profit_lost_per_es"] > 0
    assert s["construction"]["modules_built"] == 2 * 20_000 - s["declined"]


def test_ex_ante_es_cannot_walk_away_in_period2(sc_ex, optimal_ex) -> None:
    R2 = optimal_ex.R2.copy()
    R2[2, 0] -= 0.5
    bad = _with(optimal_ex, R2=R2)
    s = simulate(bad, sc_ex, n_es=5000, seed=1).summary
    assert s["declined_by_period"]["2"] == 0  # committed at signing
    # the same contract under per_period (forward-looking signing, since U1 < 0 for the low
    # types of an ex_ante contract): the lowest type now walks away after report 3
    scen_pp = sc_ex.replace(participation="per_period")
    fwd = FrameworkConfig(period1_acceptance="forward_looking")
    s_pp = simulate(bad, scen_pp, fwd, n_es=5000, seed=1).summary
    assert s_pp["declined_by_period"]["2"] > 0


def test_period1_acceptance_rules(sc, optimal) -> None:
    """U1 < 0 < V for the lowest type: own_period (per_period default) refuses to sign,
    forward_looking signs truthfully; ex_ante signs too."""
    R1 = optimal.R1.copy()
    u1_0 = 0.0  # U1 of the lowest type is 0 in the optimal per_period contract
    R1[0] -= 0.1
    bad = _with(optimal, R1=R1)
    V0 = check_feasibility(bad, sc, participation="ex_ante")
    assert V0.feasible or "IR1" not in V0.by_constraint()  # V_0 stays >= 0
    assert u1_0 - 0.1 < 0
    own = simulate(bad, sc, FrameworkConfig(), n_es=5000, seed=3)
    fwd = simulate(
        bad, sc, FrameworkConfig(period1_acceptance="forward_looking"), n_es=5000, seed=3
    )
    n0 = int((own.es["type1"] == 0).sum())
    assert own.summary["declined_by_period"]["1"] + own.summary["deviations"] >= n0 > 0
    assert fwd.summary["declined"] == 0 and fwd.summary["deviations"] == 0
    ex = simulate(bad, sc.replace(participation="ex_ante"), n_es=5000, seed=3).summary
    assert ex["declined"] == 0


def test_nobody_signs_a_contract_that_pays_nothing(sc, optimal) -> None:
    zero = _with(optimal, R1=np.zeros(sc.K), R2=np.zeros((sc.K, sc.K)))
    s = simulate(zero, sc, n_es=1000, seed=0).summary
    assert s["declined"] == 1000 and s["declined_by_period"]["1"] == 1000
    assert s["realized_profit_per_es"] == 0.0 and s["energy_j_total"] == 0.0
    assert s["integration"]["agents"] == {"1": 0, "2": 0}
    assert s["latency_ms"]["edge"]["p50"] is None  # no agent to serve from the edge
    assert s["deployment"]["edge_available"] is False
    assert s["latency_ms"]["cloud"]["p50"] > 0


def test_unbuildable_item_is_never_picked(sc, optimal) -> None:
    """An item above T_max needs f > f_max: no ES can build it, whatever it pays."""
    K = sc.K
    T1, R1 = optimal.T1.copy(), optimal.R1.copy()
    T1[K - 1] = sc.t_max * 1.01
    R1[K - 1] = 1e3
    s = simulate(_with(optimal, T1=T1, R1=R1), sc, n_es=4000, seed=0)
    assert (s.es["report1"] != K - 1).all()
    assert s.summary["construction"]["cpu_ghz_max"] <= sc.f_max


# ---------------------------------------------------------------------------------------------
# Independent brute force: a plain loop over ESs, explicit enumeration of the options
# ---------------------------------------------------------------------------------------------
def _brute_force(c: Contract, scen: Scenario, k1, k2, acceptance: str, tol_rel: float):
    """Per ES: enumerate every period-1 report (and declining), and for each the period-2
    options, straight from model.md's formulas, with the documented tie / decline rule."""
    K = scen.K
    th, Q, d = list(scen.theta), scen.transition.tolist(), scen.discount
    kap, tau, xi, al, be, tmax = (
        scen.kappa,
        scen.tau,
        scen.energy_price,
        scen.alpha,
        scen.beta,
        scen.f_max * scen.tau,
    )
    T1, R1, T2, R2 = c.T1.tolist(), c.R1.tolist(), c.T2.tolist(), c.R2.tolist()
    tol = tol_rel * max([1.0] + [abs(x) for x in R1] + [abs(x) for row in R2 for x in row])
    per_period = scen.participation == "per_period"

    def C(theta, T):
        return xi * kap * T**3 / tau**2 / theta

    def G(T):
        return al * math.log(1 + be * T)

    def ok(T):
        return 0 <= T <= tmax * (1 + 1e-12)

    def pick(options, truthful):
        """options: list of (report, value, acceptable); returns (report, value)."""
        acc = [(r, v) for r, v, a in options if a]
        if not acc:
            return DECLINE, 0.0
        best = max(v for _, v in acc)
        for r, v in acc:
            if r == truthful and v >= best - tol:
                return r, v
        for r, v in acc:
            if v == best:
                return r, v
        raise AssertionError

    def period2(l, i):
        opts = []
        for m in range(K):
            if not ok(T2[l][m]):
                continue
            u = R2[l][m] - C(th[i], T2[l][m])
            opts.append((m, u, u >= -tol if per_period else True))
        return pick(opts, i)

    out = []
    for k, i in zip(k1.tolist(), k2.tolist(), strict=True):
        opts = []
        for l in range(K):
            if not ok(T1[l]):
                continue
            u1 = R1[l] - C(th[k], T1[l])
            w = u1 + d * sum(Q[k][j] * period2(l, j)[1] for j in range(K))
            if per_period and acceptance == "own_period":
                acceptable = u1 >= -tol
            else:
                acceptable = w >= -tol
            opts.append((l, w, acceptable))
        l, _ = pick(opts, k)
        if l == DECLINE:
            out.append((DECLINE, DECLINE, 0.0, 0.0))
            continue
        m, u2 = period2(l, i)
        p1 = G(T1[l]) - R1[l]
        p2 = 0.0 if m == DECLINE else G(T2[l][m]) - R2[l][m]
        u1 = R1[l] - C(th[k], T1[l])
        out.append((l, m, p1 + d * p2, u1 + d * u2))
    return out


@pytest.mark.parametrize(
    "case", ["optimal", "underpaid_top", "r2_cut", "ex_ante_r2_cut", "random", "forward"]
)
def test_vectorised_matches_brute_force(case, sc, optimal, sc_ex, optimal_ex) -> None:
    fw = FrameworkConfig()
    scen, c = sc, optimal
    if case == "underpaid_top":
        R1 = optimal.R1.copy()
        R1[-1] -= 0.5
        c = _with(optimal, R1=R1)
    elif case in ("r2_cut", "ex_ante_r2_cut"):
        scen, c = (sc, optimal) if case == "r2_cut" else (sc_ex, optimal_ex)
        R2 = c.R2.copy()
        R2[2, 0] -= 0.5
        R2[0, 3] += 0.3  # also tempt lower types to over-report after history 1
        c = _with(c, R2=R2)
    elif case in ("random", "forward"):
        rng = np.random.default_rng(77)
        # a random, mostly infeasible contract: random workloads, noisy least-cost rewards
        T1 = rng.uniform(0, sc.t_max, sc.K)
        T2 = rng.uniform(0, sc.t_max, (sc.K, sc.K))
        R1 = sc.energy_price * T1**3 / sc.tau**2 / sc.theta.mean() + rng.normal(0, 0.3, sc.K)
        R2 = sc.energy_price * T2**3 / sc.tau**2 / sc.theta.mean() + rng.normal(0, 0.3, T2.shape)
        c = Contract(T1, R1, T2, R2)
        if case == "forward":
            fw = FrameworkConfig(period1_acceptance="forward_looking")
    res = simulate(c, scen, fw, n_es=400, seed=11)
    es = res.es
    bf = _brute_force(c, scen, es["type1"], es["type2"], fw.period1_acceptance, fw.tie_tolerance)
    l_bf = np.array([x[0] for x in bf])
    m_bf = np.array([x[1] for x in bf])
    np.testing.assert_array_equal(es["report1"], l_bf)
    np.testing.assert_array_equal(es["report2"], m_bf)
    np.testing.assert_allclose(es["profit"], [x[2] for x in bf], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(es["utility"], [x[3] for x in bf], rtol=1e-12, atol=1e-12)
    if case in ("random", "forward"):  # the random contract does exercise the choice rules
        assert res.summary["deviations"] + res.summary["declined"] > 0


# ---------------------------------------------------------------------------------------------
# Sampling, reproducibility, construction, integration, deployment
# ---------------------------------------------------------------------------------------------
def test_types_follow_prior_and_transition() -> None:
    scen = Scenario.default(prior=[0.1, 0.2, 0.3, 0.25, 0.15], persistence=0.5)
    n = 50_000
    k1, k2 = sample_types(scen, n, np.random.default_rng(0))
    freq = np.bincount(k1, minlength=scen.K) / n
    se = np.sqrt(scen.prior * (1 - scen.prior) / n)
    assert np.all(np.abs(freq - scen.prior) <= 4 * se)
    for k in range(scen.K):
        rows = k2[k1 == k]
        f = np.bincount(rows, minlength=scen.K) / rows.size
        q = scen.transition[k]
        assert np.all(np.abs(f - q) <= 4 * np.sqrt(q * (1 - q) / rows.size) + 1e-12)


def test_same_seed_same_result_and_seed_matters(sc, optimal) -> None:
    a = simulate(optimal, sc, n_es=3000, seed=42).summary
    b = simulate(optimal, sc, n_es=3000, seed=42).summary
    c = simulate(optimal, sc, n_es=3000, seed=43).summary
    for d in (a, b, c):
        d.pop("simulate_seconds")
    assert a == b
    assert a["realized_profit_per_es"] != c["realized_profit_per_es"]
    assert a["latency_ms"] != c["latency_ms"]


def test_construction_respects_the_machine(sc, optimal) -> None:
    s = simulate(optimal, sc, n_es=5000, seed=0)
    es, summ = s.es, s.summary
    assert summ["construction"]["cpu_ghz_max"] <= sc.f_max + 1e-12
    assert summ["construction"]["construction_time_s"] == sc.tau
    # more willing types build (weakly) more and spend more energy (Lemma 1)
    e = summ["energy_j_mean_by_type"]
    assert all(b > a for a, b in zip(e, e[1:], strict=False))
    # energy of a 10 s build at 2 GHz is kappa f^2 T = 1 * 4 * 20 = 80 J: the scale is right
    assert 10 < summ["energy_j_total"] / (2 * 5000) < 1000
    assert summ["construction"]["modules_built"] == 10_000
    kinds = summ["construction"]["modules_by_kind"]
    assert set(kinds) == {"perception", "memory", "planning", "action"}
    assert all(abs(v / 10_000 - 0.25) < 0.03 for v in kinds.values())
    # the CS's books: value - payments = realised profit (undiscounted periods)
    cons = summ["construction"]
    undiscounted = es["profit1"].sum() + es["profit2"].sum()
    assert cons["cs_value_total"] - cons["cs_payments_total"] == pytest.approx(undiscounted)


def test_integration_one_module_of_each_kind(sc, optimal) -> None:
    fw_mean = FrameworkConfig()
    fw_min = FrameworkConfig(agent_quality="min")
    a = simulate(optimal, sc, fw_mean, n_es=4000, seed=8).summary["integration"]
    b = simulate(optimal, sc, fw_min, n_es=4000, seed=8).summary["integration"]
    res = simulate(optimal, sc, fw_mean, n_es=4000, seed=8)
    for t in ("1", "2"):
        kinds = res.es[f"kind{t}"]
        assert a["agents"][t] == min(np.count_nonzero(kinds == j) for j in range(4))
        assert a["agents"][t] * 4 + a["unused_modules"][t] == np.count_nonzero(kinds >= 0)
        assert b["agent_quality_mean"][t] < a["agent_quality_mean"][t]  # weakest link
    skewed = FrameworkConfig(
        module_shares={"perception": 0.7, "memory": 0.1, "planning": 0.1, "action": 0.1}
    )
    c = simulate(optimal, sc, skewed, n_es=4000, seed=8).summary["integration"]
    assert c["agents"]["1"] < a["agents"]["1"]  # memory/planning/action are now scarce


def test_edge_beats_cloud_and_no_raw_data_leaves_the_edge(sc, optimal) -> None:
    s = simulate(optimal, sc, n_es=2000, seed=0).summary
    lat = s["latency_ms"]
    assert lat["edge"]["p50"] < lat["cloud"]["p50"]
    assert lat["edge"]["p95"] < lat["cloud"]["p95"]
    assert s["raw_bytes_uploaded"]["federated"] == 0
    assert s["raw_bytes_uploaded"]["centralized"] > 0
    # slower edge links / faster cloud can flip it: the model is not hard-wired
    fw = FrameworkConfig(latency={"edge_rtt_ms": 200.0, "cloud_rtt_ms": 5.0})
    s2 = simulate(optimal, sc, fw, n_es=2000, seed=0).summary
    assert s2["latency_ms"]["edge"]["p50"] > s2["latency_ms"]["cloud"]["p50"]


def test_hundred_thousand_ess_in_seconds(sc, optimal) -> None:
    t0 = time.perf_counter()
    s = simulate(optimal, sc, n_es=100_000, seed=0).summary
    assert time.perf_counter() - t0 < 10.0
    assert s["n_es"] == 100_000 and s["deviations"] == 0


# ---------------------------------------------------------------------------------------------
# The framework: config section
# ---------------------------------------------------------------------------------------------
def test_framework_config_section_defaults_and_overrides() -> None:
    cfg = build_config({}, parse_set(["framework.n_es=123", "framework.latency.cloud_rtt_ms=99"]))
    assert cfg.framework.n_es == 123 and cfg.framework.latency.cloud_rtt_ms == 99
    assert build_config({}).framework == FrameworkConfig()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("framework.n_es=0", "framework.n_es"),
        ("framework.seed=-1", "framework.seed"),
        ("framework.tie_tolerance=0.5", "framework.tie_tolerance"),
        ("framework.latency.edge_rtt_ms=-3", "framework.latency.edge_rtt_ms"),
        ("framework.latency.n_requests=0", "framework.latency.n_requests"),
        ("framework.module_shares.action=0.9", "framework.module_shares"),
        ("framework.module_shares.action=0", "framework.module_shares.action"),
        ("framework.agent_quality=best", "framework.agent_quality"),
        ("framework.period1_acceptance=maybe", "framework.period1_acceptance"),
        ("framework.latency.speed=1", "framework.latency.speed"),
        ("framework.latency.rtt_sigma=.nan", "framework.latency.rtt_sigma"),
    ],
)
def test_framework_config_rejects_bad_values(override: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_config({}, parse_set([override]))
    msg = str(err.value)
    assert msg.startswith(f"{field}: "), msg
    assert "\n" not in msg


# ---------------------------------------------------------------------------------------------
# Menu mode: the tie tolerance is a scale of the scenario, and no contract beats the optimum
# ---------------------------------------------------------------------------------------------
def _huge_unbuildable_item_contract(sc: Scenario) -> Contract:
    """Pays nothing for T_max, plus one unbuildable item that pays 1e8."""
    K = sc.K
    T2, R2 = np.full((K, K), sc.t_max), np.zeros((K, K))
    T2[0, 0], R2[0, 0] = 2 * sc.t_max, 1e8
    return Contract(T1=np.full(K, sc.t_max), R1=np.zeros(K), T2=T2, R2=R2)


def test_huge_unbuildable_item_does_not_inflate_the_tolerance(sc, optimal) -> None:
    bad = _huge_unbuildable_item_contract(sc)
    res = simulate(bad, sc, n_es=5000, seed=1)
    s = res.summary
    # the tolerance is 1e-6 * alpha ln(1 + beta T_max) whatever the menu pays
    assert s["tie_tolerance_abs"] == pytest.approx(1e-6 * sc.alpha * np.log1p(sc.beta * sc.t_max))
    assert choice_tables(optimal, sc).tol == s["tie_tolerance_abs"]
    # every ES declines an item that loses it money (before: ratio 1.33 of the optimum)
    assert s["declined_by_period"]["1"] == 5000
    assert s["realized_profit_per_es"] == 0.0
    assert s["realized_profit_per_es"] <= solve_dynamic(sc).profit


@pytest.mark.parametrize("mode", ["per_period", "ex_ante"])
def test_simulated_profit_never_beats_the_optimum(mode, sc, sc_ex) -> None:
    """Random and adversarial contracts: the simulator's exact behavioural profit and its
    realised profit (within 4 SE) stay below the exact optimum (1e-5 relative)."""
    from dyncontract.model.choice import reference_participation

    scen = sc if mode == "per_period" else sc_ex
    rng = np.random.default_rng(7)
    opt = solve_dynamic(scen)
    c = opt.contract
    tol = 1e-6 * scen.alpha * np.log1p(scen.beta * scen.t_max)
    menus = [_huge_unbuildable_item_contract(scen)]
    menus += [_with(c, R1=c.R1 - m * tol, R2=c.R2 - m * tol) for m in (0.5, 1.0, 3.0)]
    for _ in range(60):
        s = 10.0 ** rng.uniform(-6, 0)
        menus.append(
            Contract(
                T1=np.clip(c.T1 + rng.normal(0, 10 * s, sc.K), 0, sc.t_max),
                R1=c.R1 + rng.normal(0, s, sc.K),
                T2=np.clip(c.T2 + rng.normal(0, 10 * s, (sc.K, sc.K)), 0, sc.t_max),
                R2=c.R2 + rng.normal(0, s, (sc.K, sc.K)),
            )
        )
    for acc in ("own_period", "forward_looking"):
        ref = solve_dynamic(scen.replace(participation=reference_participation(mode, acc)))
        fw = FrameworkConfig(period1_acceptance=acc)
        for m in menus:
            r = simulate(m, scen, fw, n_es=2000, seed=3).summary
            assert r["expected_profit_per_es_behavioural"] <= ref.profit * (1 + 1e-5)
            se = r["realized_profit_se"]
            assert r["realized_profit_per_es"] <= ref.profit * (1 + 1e-5) + 4 * se
    # the optimum itself is realised exactly in expectation (ties go to the truthful item)
    r = simulate(c, scen, n_es=2000, seed=3).summary
    assert r["expected_profit_per_es_behavioural"] == pytest.approx(opt.profit, rel=1e-6)

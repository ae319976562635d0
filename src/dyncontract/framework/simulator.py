"""Monte-Carlo simulation of the federated AI agent construction framework.

One call simulates a population of ESs under one dynamic contract over both periods
(docs/framework.md): types are drawn from the prior and the transition rows, each ES picks
its items (:mod:`dyncontract.framework.behaviour`), builds one module per period with the
contracted workload, the CS pays and values it, assembles agents from the modules, deploys
them at the edge and serves a stream of user requests (:mod:`.deployment`). Everything is
vectorised over ESs; a numpy Generator seeded by ``seed`` makes a run reproducible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dyncontract.framework.behaviour import DECLINE, ChoiceTables, choice_tables, picks
from dyncontract.framework.config import MODULE_KINDS, FrameworkConfig
from dyncontract.framework.deployment import AgentBatch, assemble_agents, serve_requests
from dyncontract.model.choice import Choices, expected_profit_under_choice
from dyncontract.model.contract import Contract, expected_profit, utilities
from dyncontract.model.economics import cost, cpu_frequency, energy, value
from dyncontract.model.feasibility import check_feasibility
from dyncontract.model.scenario import Scenario


@dataclass
class SimulationResult:
    """``summary`` is the JSON-ready report; ``es`` holds per-ES arrays (length n_es):

    ``type1, type2`` true types; ``report1, report2`` reports (-1 = declined / left);
    ``T1, T2, R1, R2`` items actually taken (0 when not taken); ``profit1, profit2`` the
    CS's per-period profit (undiscounted); ``profit`` = profit1 + delta profit2;
    ``truthful_profit`` the same for truthful reports and full participation;
    ``utility1, utility2, utility`` the ES's; ``energy1, energy2`` (J); ``kind1, kind2``
    module kinds (-1 = none built); ``quality1, quality2`` module qualities.
    """

    summary: dict[str, Any]
    tables: ChoiceTables
    es: dict[str, np.ndarray]
    edge_ms: np.ndarray | None
    cloud_ms: np.ndarray
    agents: tuple[AgentBatch, AgentBatch]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _sample_categorical(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)


def sample_types(sc: Scenario, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Period-1 types from the prior, period-2 types from the transition row of each."""
    k1 = _sample_categorical(rng, sc.prior, n)
    u = rng.random(n)
    k2 = np.empty(n, dtype=int)
    cdf = np.cumsum(sc.transition, axis=1)
    cdf[:, -1] = 1.0
    for k in range(sc.K):
        m = k1 == k
        k2[m] = np.minimum(np.searchsorted(cdf[k], u[m], side="right"), sc.K - 1)
    return k1, k2


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _pct(x: np.ndarray | None) -> dict[str, float | None]:
    if x is None or x.size == 0:
        return {"p50": None, "p95": None, "mean": None}
    p50, p95 = np.percentile(x, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "mean": float(x.mean())}


def behavioural_expected_profit(tables: ChoiceTables, c: Contract, sc: Scenario) -> float:
    """Exact expected CS profit per ES under the behaviour in ``tables`` (not assuming truth).

    Computed by :func:`dyncontract.model.choice.expected_profit_under_choice`, the function
    the learning environment's menu mode uses.
    """
    f = lambda x: torch.as_tensor(np.asarray(x, float))[None]  # noqa: E731
    ch = Choices(
        period1=torch.as_tensor(tables.period1, dtype=torch.int64)[None],
        period2=torch.as_tensor(tables.period2, dtype=torch.int64)[None],
        u1=f(tables.u1),
        u2=f(tables.u2),
        cont=f(tables.cont),
        W=f(tables.W),
        tol=tables.tol,
    )
    prof = expected_profit_under_choice(
        ch, f(c.T1), f(c.R1), f(c.T2), f(c.R2), f(sc.prior), f(sc.transition), sc
    )
    return float(prof[0])


def simulate(
    c: Contract,
    sc: Scenario,
    fw: FrameworkConfig | None = None,
    *,
    n_es: int | None = None,
    seed: int | None = None,
) -> SimulationResult:
    """Simulate ``n_es`` ESs (default ``fw.n_es``) under contract ``c`` with ``seed``."""
    t0 = time.perf_counter()
    fw = fw or FrameworkConfig()
    n = int(fw.n_es if n_es is None else n_es)
    seed = int(fw.seed if seed is None else seed)
    if n < 1:
        raise ValueError(f"n_es: must be >= 1, got {n}")
    if c.K != sc.K:
        raise ValueError(f"contract has K={c.K} types, the scenario has K={sc.K}")
    tables = choice_tables(c, sc, tie_tolerance=fw.tie_tolerance, acceptance=fw.period1_acceptance)
    rng_types, rng_modules, rng_serve = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    d, theta = sc.discount, sc.theta

    # ----- types and choices -----------------------------------------------------------------
    k1, k2 = sample_types(sc, n, rng_types)
    pk = picks(tables, c, k1, k2)
    r1, r2, in1, in2 = pk.r1, pk.r2, pk.in1, pk.in2

    # ----- construction: workload, energy, payments -------------------------------------------
    T1, R1, T2, R2 = pk.T1, pk.R1, pk.T2, pk.R2
    profit1 = np.where(in1, value(T1, sc) - R1, 0.0)
    profit2 = np.where(in2, value(T2, sc) - R2, 0.0)
    profit = profit1 + d * profit2
    truthful = value(c.T1[k1], sc) - c.R1[k1] + d * (value(c.T2[k1, k2], sc) - c.R2[k1, k2])
    util1 = np.where(in1, R1 - cost(theta[k1], T1, sc), 0.0)
    util2 = np.where(in2, R2 - cost(theta[k2], T2, sc), 0.0)
    utility = util1 + d * util2
    energy1 = np.where(in1, energy(T1, sc), 0.0)
    energy2 = np.where(in2, energy(T2, sc), 0.0)

    # ----- modules ---------------------------------------------------------------------------
    shares = np.asarray(fw.module_shares.as_tuple())
    kind1 = np.where(in1, _sample_categorical(rng_modules, shares, n), -1)
    kind2 = np.where(in2, _sample_categorical(rng_modules, shares, n), -1)
    quality1 = np.where(in1, np.log1p(sc.beta * T1), 0.0)
    quality2 = np.where(in2, np.log1p(sc.beta * T2), 0.0)

    # ----- integration, deployment, serving --------------------------------------------------
    agents1 = assemble_agents(kind1[in1], quality1[in1], rng_modules, fw.agent_quality)
    agents2 = assemble_agents(kind2[in2], quality2[in2], rng_modules, fw.agent_quality)
    if agents2.n_agents > 0:
        coverage = float(np.count_nonzero(in2)) / n
    elif agents1.n_agents > 0:
        coverage = float(np.count_nonzero(in1)) / n
    else:
        coverage = 0.0
    serving = serve_requests(
        fw.latency, coverage, agents1.n_agents + agents2.n_agents > 0, rng_serve
    )

    # ----- deviations and declines -----------------------------------------------------------
    dev1 = in1 & (r1 != k1)
    dev2 = in2 & (r2 != k2)
    decl1 = ~in1
    decl2 = in1 & ~in2
    es = {
        "type1": k1,
        "type2": k2,
        "report1": r1,
        "report2": r2,
        "T1": T1,
        "T2": T2,
        "R1": R1,
        "R2": R2,
        "profit1": profit1,
        "profit2": profit2,
        "profit": profit,
        "truthful_profit": truthful,
        "utility1": util1,
        "utility2": util2,
        "utility": utility,
        "energy1": energy1,
        "energy2": energy2,
        "kind1": kind1,
        "kind2": kind2,
        "quality1": quality1,
        "quality2": quality2,
    }
    summary = _summary(
        c, sc, fw, n, seed, tables, es, (dev1, dev2, decl1, decl2), (agents1, agents2), serving
    )
    seconds = time.perf_counter() - t0
    summary["simulate_seconds"] = seconds
    return SimulationResult(
        summary=summary,
        tables=tables,
        es=es,
        edge_ms=serving.edge_ms,
        cloud_ms=serving.cloud_ms,
        agents=(agents1, agents2),
        seconds=seconds,
    )


def _deviation(
    period: int, history: int | None, true_type: int, report: int, count: int, gain, change
) -> dict[str, Any]:
    """One row of the deviation table (``report`` DECLINE: the ES declines)."""
    return {
        "period": period,
        "history": history,
        "true_type": true_type,
        "report": None if report == DECLINE else int(report),
        "action": "decline" if report == DECLINE else "misreport",
        "count": count,
        "es_utility_gain": _finite(gain),
        "cs_profit_change": float(change),
    }


def _deviation_table(
    c: Contract, sc: Scenario, tables: ChoiceTables, es: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """One row per (period, history, true type, report) pattern that is not truthful."""
    rows: list[dict[str, Any]] = []
    k1, k2, r1 = es["type1"], es["type2"], es["report1"]
    pi2 = value(c.T2, sc) - c.R2
    for k in range(sc.K):
        l = int(tables.period1[k])
        if l == k:
            continue
        mask = k1 == k
        count = int(np.count_nonzero(mask))
        if count == 0:
            continue
        gain = (tables.W[k, l] if l != DECLINE else 0.0) - tables.W[k, k]
        change = np.sum(es["profit"][mask] - es["truthful_profit"][mask])
        rows.append(_deviation(1, None, k, l, count, gain, change))
    for l in range(sc.K):
        for i in range(sc.K):
            mm = int(tables.period2[l, i])
            if mm == i:
                continue
            mask = (r1 == l) & (k2 == i)
            count = int(np.count_nonzero(mask))
            if count == 0:
                continue
            taken = tables.cont[l, i]
            gain = taken - tables.u2[l, i, i]
            change = sc.discount * ((pi2[l, mm] if mm != DECLINE else 0.0) - pi2[l, i]) * count
            rows.append(_deviation(2, l, i, mm, count, gain, change))
    return rows


def _summary(
    c: Contract,
    sc: Scenario,
    fw: FrameworkConfig,
    n: int,
    seed: int,
    tables: ChoiceTables,
    es: dict[str, np.ndarray],
    flags: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    agents: tuple[AgentBatch, AgentBatch],
    serving: Any,
) -> dict[str, Any]:
    dev1, dev2, decl1, decl2 = flags
    K = sc.K
    profit = es["profit"]
    mean = float(profit.mean())
    se = float(profit.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    exp_profit = expected_profit(c, sc)
    k1 = es["type1"]
    counts = np.bincount(k1, minlength=K)
    with np.errstate(invalid="ignore", divide="ignore"):
        u_by_type = np.bincount(k1, weights=es["utility"], minlength=K) / counts
        e_by_type = np.bincount(k1, weights=es["energy1"] + es["energy2"], minlength=K) / counts
    u = utilities(c, sc)
    built1 = es["kind1"] >= 0
    built2 = es["kind2"] >= 0
    n_modules = int(np.count_nonzero(built1) + np.count_nonzero(built2))
    workload_total = float(es["T1"].sum() + es["T2"].sum())
    freq = np.concatenate(
        [cpu_frequency(es["T1"][built1], sc), cpu_frequency(es["T2"][built2], sc)]
    )
    quality = np.concatenate([es["quality1"][built1], es["quality2"][built2]])
    kinds = np.concatenate([es["kind1"][built1], es["kind2"][built2]])
    lat = fw.latency
    centralized = workload_total * fw.data_bytes_per_gcycle + lat.n_requests * lat.request_bytes
    rep = check_feasibility(c, sc)
    a1, a2 = agents
    n_dev1, n_dev2 = int(dev1.sum()), int(dev2.sum())
    n_decl1, n_decl2 = int(decl1.sum()), int(decl2.sum())
    return {
        "n_es": n,
        "seed": seed,
        "K": K,
        "participation": sc.participation,
        "period1_acceptance": fw.period1_acceptance,
        "tie_tolerance_abs": tables.tol,
        "contract_feasible": rep.feasible,
        "contract_violations": rep.by_constraint(),
        "contract_max_violation": rep.max_violation,
        "expected_profit_per_es": exp_profit,
        "expected_profit_per_es_behavioural": behavioural_expected_profit(tables, c, sc),
        "realized_profit_per_es": mean,
        "realized_profit_se": _finite(se),
        "realized_minus_expected_in_se": _finite((mean - exp_profit) / se) if se > 0 else None,
        "realized_profit_period1_per_es": float(es["profit1"].mean()),
        "realized_profit_period2_per_es": float(es["profit2"].mean()),
        "truthful_profit_per_es": float(es["truthful_profit"].mean()),
        "profit_lost_per_es": float(es["truthful_profit"].mean() - mean),
        "total_realized_profit": float(profit.sum()),
        "deviations": n_dev1 + n_dev2,
        "deviations_by_period": {"1": n_dev1, "2": n_dev2},
        "deviating_es": int(np.count_nonzero(dev1 | dev2)),
        "declined": n_decl1 + n_decl2,
        "declined_by_period": {"1": n_decl1, "2": n_decl2},
        "deviation_table": _deviation_table(c, sc, tables, es),
        "choices": {
            "period1": tables.period1.tolist(),
            "period2": tables.period2.tolist(),
        },
        "theta": sc.theta.tolist(),
        "es_count_by_type": counts.tolist(),
        "es_utility": [_finite(x) for x in u_by_type],
        "es_utility_expected": u.V.tolist(),
        "energy_j_total": float(es["energy1"].sum() + es["energy2"].sum()),
        "energy_j_by_period": {"1": float(es["energy1"].sum()), "2": float(es["energy2"].sum())},
        "energy_j_mean_by_type": [_finite(x) for x in e_by_type],
        "construction": {
            "modules_built": n_modules,
            "modules_by_kind": {
                name: int(np.count_nonzero(kinds == j)) for j, name in enumerate(MODULE_KINDS)
            },
            "workload_gcycles_total": workload_total,
            "cpu_ghz_mean": float(freq.mean()) if freq.size else None,
            "cpu_ghz_max": float(freq.max()) if freq.size else None,
            "construction_time_s": sc.tau,
            "module_quality_mean": float(quality.mean()) if quality.size else None,
            "cs_value_total": float(
                value(es["T1"][built1], sc).sum() + value(es["T2"][built2], sc).sum()
            ),
            "cs_payments_total": float(es["R1"].sum() + es["R2"].sum()),
        },
        "integration": {
            "agent_quality_rule": fw.agent_quality,
            "agents": {"1": a1.n_agents, "2": a2.n_agents},
            "agent_quality_mean": {
                "1": float(a1.quality.mean()) if a1.n_agents else None,
                "2": float(a2.quality.mean()) if a2.n_agents else None,
            },
            "unused_modules": {"1": a1.unused_modules, "2": a2.unused_modules},
        },
        "deployment": {
            "edge_coverage": serving.edge_coverage,
            "n_requests": lat.n_requests,
            "forwarded_requests": serving.forwarded,
            "edge_available": serving.edge_ms is not None,
        },
        "latency_ms": {"edge": _pct(serving.edge_ms), "cloud": _pct(serving.cloud_ms)},
        "raw_bytes_uploaded": {"federated": 0, "centralized": int(round(centralized))},
        "module_bytes_uploaded": int(round(n_modules * fw.module_bytes)),
    }

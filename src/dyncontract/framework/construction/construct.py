"""A construction from contract to agents: market draws, the Flower run, the accounting.

1. **Market.** N ESs draw period-1 types from p and period-2 types from Q; each picks its
   item or declines by the rules of :mod:`dyncontract.model.choice` (the same tables and
   :func:`~dyncontract.framework.behaviour.picks` as ``simulate``). ``enforced`` assignment
   (the complete-information benchmark) gives every ES its own type's item instead.
2. **Work.** An item's workload T (Gcycles) becomes ``round(T / g)`` training steps, with g
   the measured Gcycles per step (:mod:`.calibration`), spread over the period's rounds.
3. **Flower.** The CS (ServerApp) runs the job on the chosen runtime.
4. **Accounting** (model.md §8). An ES is paid its item's reward for a period only when it
   completed every step it was ordered in that period; its modelled energy and cost are
   those of the work it did (E = kappa T_done^3 / tau^2, C = xi E / theta); the CS's
   realised profit in period t is ``V q_t - payments_t`` with q_t the agent's measured
   success rate, discounted by delta as in model.md §5. The model's prediction for the
   same picks, ``sum_ES G(T) - R``, is reported beside it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from dyncontract.framework.behaviour import DECLINE, Picks, choice_tables, picks
from dyncontract.framework.config import FrameworkConfig
from dyncontract.framework.construction.agent import MODULES
from dyncontract.framework.construction.config import ConstructionConfig
from dyncontract.framework.construction.plan import Job, make_job
from dyncontract.framework.construction.server_app import Outcome, Progress
from dyncontract.framework.simulator import behavioural_expected_profit, sample_types
from dyncontract.model.contract import Contract, expected_profit
from dyncontract.model.economics import cost, energy, value
from dyncontract.model.scenario import Scenario, ScenarioConfig

Assignment = Literal["self_selection", "enforced"]


def value_per_quality(cfg: ConstructionConfig, sc: Scenario, n_es: int) -> float:
    """V: ``construction.value_per_quality``, else N alpha ln(1 + beta T_max)."""
    if cfg.value_per_quality is not None:
        return float(cfg.value_per_quality)
    return float(n_es * value(sc.t_max, sc))


def draw_picks(
    c: Contract, sc: Scenario, fw: FrameworkConfig, n_es: int, seed: int, assignment: Assignment
) -> tuple[Picks, float]:
    """The market: types and picks of ``n_es`` ESs (see the module docstring), and the
    model's expected profit per ES under the same behaviour."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    k1, k2 = sample_types(sc, n_es, rng)
    if assignment == "enforced":
        h, m = k1, k2
        ones = np.ones(n_es, dtype=bool)
        pk = Picks(k1, k2, k1, k2, ones, ones, c.T1[h], c.R1[h], c.T2[h, m], c.R2[h, m])
        return pk, float(expected_profit(c, sc))
    tables = choice_tables(c, sc, tie_tolerance=fw.tie_tolerance, acceptance=fw.period1_acceptance)
    return picks(tables, c, k1, k2), behavioural_expected_profit(tables, c, sc)


def module_assignment(cfg: ConstructionConfig, n_es: int) -> list[list[str]]:
    if cfg.module_assignment == "all":
        return [list(MODULES) for _ in range(n_es)]
    return [[MODULES[e % len(MODULES)]] for e in range(n_es)]


def steps_of(T: np.ndarray, g: float, sc: Scenario) -> np.ndarray:
    """Training steps of workloads ``T`` (Gcycles): round(T / g); 0 for T <= 0."""
    T = np.asarray(T, dtype=float)
    if np.any(T > sc.t_max * (1 + 1e-9)):
        raise ValueError(f"a workload exceeds T_max = {sc.t_max:g} Gcycles")
    return np.where(T > 0, np.rint(T / g), 0).astype(np.int64)


@dataclass
class Prepared:
    """Everything decided before Flower starts."""

    picks: Picks
    gcycles_per_step: float
    calibration: dict[str, Any]
    steps: np.ndarray  # (2, n_es) contracted steps per period
    job: Job
    expected_profit_per_es: float  # the model's, under the ESs' behaviour


def prepare(
    c: Contract,
    sc: Scenario,
    cfg: ConstructionConfig,
    fw: FrameworkConfig,
    n_es: int,
    assignment: Assignment = "self_selection",
    g: float | None = None,
    calibration: dict[str, Any] | None = None,
    workload: float | None = None,
) -> Prepared:
    """Market draws and the job. ``workload`` (Gcycles) replaces the contract's items: every
    ES does that work in both periods (the quality-vs-workload sweep)."""
    from dyncontract.framework.construction import calibration as cal

    if g is None:
        g, calibration = cal.gcycles_per_step(cfg)
    pk, expected = draw_picks(c, sc, fw, n_es, cfg.seed, assignment)
    if workload is not None:
        T = np.full(n_es, float(workload))
        ones = np.ones(n_es, dtype=bool)
        zeros = np.zeros(n_es)
        pk = Picks(pk.k1, pk.k2, pk.k1, pk.k2, ones, ones, T, zeros, T.copy(), zeros.copy())
    steps = np.stack([steps_of(pk.T1, g, sc), steps_of(pk.T2, g, sc)])
    job = make_job(cfg, [steps[0].tolist(), steps[1].tolist()], module_assignment(cfg, n_es))
    return Prepared(pk, float(g), calibration or {}, steps, job, expected)


def run_flower(job: Job, progress: Progress | None = None) -> Outcome:
    from dyncontract.framework.construction import runtime

    if job.config.runtime == "inprocess":
        return runtime.run_inprocess(job, progress)
    return runtime.run_simulation_runtime(job, job.config.num_cpus, progress)


def weights_digest(weights: OrderedDict[str, np.ndarray]) -> str:
    """SHA-256 of the agent's arrays (names, shapes, dtypes, bytes) in state-dict order."""
    h = hashlib.sha256()
    for k, v in weights.items():
        h.update(k.encode())
        h.update(str((v.shape, str(v.dtype))).encode())
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


@dataclass
class Construction:
    """A finished construction: the report (JSON-ready) and the agents' weights."""

    report: dict[str, Any]
    weights: list[OrderedDict[str, np.ndarray]] = field(default_factory=list)


def account(
    prep: Prepared,
    out: Outcome,
    c: Contract,
    sc: Scenario,
    cfg: ConstructionConfig,
    fw: FrameworkConfig,
    wall_s: float,
) -> dict[str, Any]:
    """The report of a construction (see the module docstring for the rules)."""
    pk, g, n = prep.picks, prep.gcycles_per_step, prep.picks.k1.shape[0]
    V = value_per_quality(cfg, sc, n)
    reports = (pk.r1, pk.r2)
    types = (pk.k1, pk.k2)
    items_T = (pk.T1, pk.T2)
    items_R = (pk.R1, pk.R2)
    es_rows: list[dict[str, Any]] = []
    periods: list[dict[str, Any]] = []
    cpu_train = np.zeros((2, n))
    cpu_data = np.zeros(n)
    for p in range(2):
        done = np.zeros(n, dtype=np.int64)
        failed: dict[int, list[str]] = {}
        for rnd in out.rounds[p]:
            for m in rnd["replies"]:
                e = int(m["es"])
                done[e] += int(m["steps"])
                cpu_train[p, e] += m["cpu_train_s"]
                cpu_data[e] += m["cpu_data_s"]
            for f in rnd["failures"]:
                failed.setdefault(int(f["es"]), []).append(f"round {rnd['round']}: {f['reason']}")
        contracted = prep.steps[p]
        completed = (done >= contracted) & (reports[p] != DECLINE)
        paid = np.where(completed, items_R[p], 0.0)
        T_done = done * g
        theta = sc.theta[types[p]]
        e_j = energy(T_done, sc)
        c_es = cost(theta, T_done, sc)
        util = paid - c_es
        q = out.evaluations[p]["success_rate"]
        payments = float(paid.sum())
        predicted = float(
            np.sum(np.where(reports[p] != DECLINE, value(items_T[p], sc), 0.0) - items_R[p])
        )
        periods.append(
            {
                "period": p + 1,
                "success_rate": q,
                "success_se": out.evaluations[p]["success_se"],
                "mean_episode_length": out.evaluations[p]["mean_length"],
                "eval_missions": out.evaluations[p]["episodes"],
                "participants": int(np.count_nonzero(reports[p] != DECLINE)),
                "completed": int(np.count_nonzero(completed)),
                "failed_es": sorted(failed),
                "workload_contracted_gcycles": float(items_T[p].sum()),
                "workload_done_gcycles": float(T_done.sum()),
                "steps_contracted": int(contracted.sum()),
                "steps_done": int(done.sum()),
                "cpu_train_s": float(cpu_train[p].sum()),
                "payments": payments,
                "value": V * q,
                "realised_profit": V * q - payments,
                "predicted_profit": predicted,
                "rounds": [
                    {"round": r["round"], "wall_s": r["wall_s"], "failures": r["failures"]}
                    for r in out.rounds[p]
                ],
            }
        )
        for e in range(n):
            es_rows.append(
                {
                    "period": p + 1,
                    "es": e,
                    "type": int(types[p][e]) + 1,
                    "theta": float(sc.theta[types[p][e]]),
                    "item": None if reports[p][e] == DECLINE else int(reports[p][e]) + 1,
                    "declined": bool(reports[p][e] == DECLINE),
                    "truthful": bool(reports[p][e] == types[p][e]),
                    "workload_contracted_gcycles": float(items_T[p][e]),
                    "steps_contracted": int(contracted[e]),
                    "steps_done": int(done[e]),
                    "workload_done_gcycles": float(T_done[e]),
                    "completed": bool(completed[e]),
                    "failures": failed.get(e, []),
                    "cpu_train_s": float(cpu_train[p, e]),
                    "cpu_data_s": float(cpu_data[e]) if p == 0 else 0.0,
                    "energy_j": float(e_j[e]),
                    "cost": float(c_es[e]),
                    "payment": float(paid[e]),
                    "utility": float(util[e]),
                }
            )
    d = sc.discount
    realised = periods[0]["realised_profit"] + d * periods[1]["realised_profit"]
    predicted = periods[0]["predicted_profit"] + d * periods[1]["predicted_profit"]
    es_cpu = float(cpu_train.sum() + cpu_data.sum())
    util_es = np.zeros(n)
    for row in es_rows:
        util_es[row["es"]] += row["utility"] * (1.0 if row["period"] == 1 else d)
    lat = out.deployment
    rtt_edge, rtt_cloud = fw.latency.edge_rtt_ms, fw.latency.cloud_rtt_ms
    deployment = {}
    if lat:
        steps_ep = lat["episode_steps_mean"]
        deployment = {
            **lat,
            "edge_rtt_ms": rtt_edge,
            "cloud_rtt_ms": rtt_cloud,
            "edge_step_ms_p50": lat["step_ms_p50"] + rtt_edge,
            "edge_step_ms_p95": lat["step_ms_p95"] + rtt_edge,
            "cloud_step_ms_p50": lat["step_ms_p50"] + rtt_cloud,
            "cloud_step_ms_p95": lat["step_ms_p95"] + rtt_cloud,
            "edge_episode_ms_mean": lat["episode_ms_mean"] + rtt_edge * steps_ep,
            "cloud_episode_ms_mean": lat["episode_ms_mean"] + rtt_cloud * steps_ep,
        }
    return {
        "n_es": n,
        "seed": cfg.seed,
        "levels": list(cfg.levels),
        "value_per_quality": V,
        "discount": d,
        "gcycles_per_step": g,
        "expected_profit_model": float(n * prep.expected_profit_per_es),
        "periods": periods,
        "references": out.references,
        "totals": {
            "realised_profit": realised,
            "predicted_profit": predicted,
            "payments": periods[0]["payments"] + d * periods[1]["payments"],
            "mean_es_utility": float(util_es.mean()),
            "deviations": int(sum(1 for r in es_rows if not r["declined"] and not r["truthful"])),
            "declines": int(sum(1 for r in es_rows if r["declined"])),
        },
        "es": es_rows,
        "deployment": deployment,
        "weights_sha256": [weights_digest(w) for w in out.weights],
        "measured": {
            "wall_s": wall_s,
            "es_cpu_s": es_cpu,
            "es_cpu_train_s": float(cpu_train.sum()),
            "es_cpu_data_s": float(cpu_data.sum()),
            "overhead_fraction": (wall_s - es_cpu) / wall_s if wall_s > 0 else None,
            **out.timings,
            "eval_wall_s": [e.get("eval_wall_s") for e in out.evaluations],
        },
    }


def construct(
    c: Contract,
    sc: Scenario,
    cfg: ConstructionConfig,
    fw: FrameworkConfig,
    n_es: int,
    assignment: Assignment = "self_selection",
    progress: Progress | None = None,
    workload: float | None = None,
    g: float | None = None,
    grid: Any = None,
) -> Construction:
    """Run one construction (see the module docstring). ``grid``: a Flower Grid to run on
    (Flower's deployment runtime hands one to the ServerApp); by default the runtime of
    ``cfg.runtime`` is started here."""
    t0 = time.perf_counter()
    prep = prepare(c, sc, cfg, fw, n_es, assignment, g=g, workload=workload)
    if grid is None:
        out = run_flower(prep.job, progress)
    else:
        from dyncontract.framework.construction.server_app import run_job

        out = run_job(grid, prep.job, progress)
    report = account(prep, out, c, sc, cfg, fw, time.perf_counter() - t0)
    report["calibration"] = prep.calibration
    report["assignment"] = assignment
    report["workload_override"] = workload
    report["runtime"] = cfg.runtime if grid is None else "deployment"
    report["received"] = out.received
    return Construction(report, out.weights)


class Bundle(BaseModel):
    """Everything a construction needs, as one JSON file (``dyncontract construct --export``):
    what Flower's deployment runtime hands to the ServerApp (docs/construction.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: ScenarioConfig
    framework: FrameworkConfig
    construction: ConstructionConfig
    contract: dict[str, list]
    contract_source: str
    n_es: int
    assignment: Assignment = "self_selection"
    workload: float | None = None
    #: Gcycles per step, fixed when the bundle is made (the SuperLink may run elsewhere)
    gcycles_per_step: float
    calibration: dict[str, Any] = {}


def run_bundle(b: Bundle, grid: Any = None, progress: Progress | None = None) -> Construction:
    """Run the construction a bundle describes (on ``grid`` when given)."""
    res = construct(
        Contract.from_dict(b.contract),
        b.scenario.to_scenario(),
        b.construction,
        b.framework,
        b.n_es,
        b.assignment,
        progress=progress,
        workload=b.workload,
        g=b.gcycles_per_step,
        grid=grid,
    )
    res.report["calibration"] = b.calibration
    res.report["contract_source"] = b.contract_source
    return res

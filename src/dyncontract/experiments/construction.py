"""The construct experiment: what the contract's valuation is worth once modules are built.

Two parts, each a list of independent constructions (``dyncontract construct`` runs, on the
in-process runtime so that one construction is one CPU and ``--workers`` run side by side):

* **sweep** — quality vs workload: every ES does the same workload T in both periods (no
  contract, nobody is paid), for a grid of T, of ES counts N and of seeds; plus the IID data
  split at a few (T, N) points. Each run records the agent's success rate after period 1
  (work T from scratch) and after period 2 (2T in all).
* **compare** — contracts judged by the agents they buy: on one scenario (the calibrated one),
  the exact dynamic contract, the best static menu, the flat contract, the first best
  (complete information, enforced) and the contracts of learned policies, each with several
  seeds (a seed draws the market and everything after it).

Every run folder is ``OUT/<experiment>/construct/<part>/<name>/`` (the run folder of
:mod:`dyncontract.framework.construction.report`); a part is resumable (finished runs are
skipped). The whole experiment uses one Gcycles-per-step figure, fixed when it starts and
recorded in ``OUT/<experiment>/construct/provenance.json``, so that every run turns a workload
into the same number of steps.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from dyncontract._io import write_json_atomic
from dyncontract.config import (
    DyncontractConfig,
    build_config,
    dump_config,
    load_config,
    merge,
    nest,
)
from dyncontract.solvers.reference import NAMED

_FROZEN = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

#: Contract sources of the comparison: solver methods of ``dyncontract construct --method``
#: and learned policies (trained on the comparison's scenario, then asked for its contract).
SOLVED = NAMED
LEARNED = ("direct", "edmsac")


class SweepSpec(BaseModel):
    """Quality vs workload (see the module docstring)."""

    model_config = _FROZEN

    workloads: list[float] = [0.0, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0]
    n_es: list[int] = [5, 20]
    seeds: list[int] = [0, 1, 2]
    #: (T, N) points also run with IID data (``construction.concentration: null``)
    iid_points: list[tuple[float, int]] = [(5.0, 20), (20.0, 20)]


class LearnedSpec(BaseModel):
    """How a learned policy is trained before its contract is read off."""

    model_config = _FROZEN

    steps: int = Field(default=300_000, ge=1)
    max_minutes: float | None = Field(default=10.0, gt=0)
    seed: int = 0


class CompareSpec(BaseModel):
    """Contracts judged by real outcomes (see the module docstring)."""

    model_config = _FROZEN

    #: the scenario the contracts are designed for (a config file; null = the experiment's)
    config: str | None = "configs/calibrated-GoToLocal.yaml"
    methods: list[str] = ["exact", "static_best", "complete_info", "flat", "direct", "edmsac"]
    seeds: list[int] = [0, 1, 2]
    n_es: int | None = None
    learned: dict[str, LearnedSpec] = {"direct": LearnedSpec(), "edmsac": LearnedSpec()}


class ConstructExperiment(BaseModel):
    """The ``construct:`` section of an experiment spec."""

    model_config = _FROZEN

    #: overrides of the project config for every construction ("section.key" or nested)
    config: dict[str, Any] = {}
    sweep: SweepSpec | None = SweepSpec()
    compare: CompareSpec | None = CompareSpec()


@dataclass(frozen=True)
class Job:
    """One construction of the experiment."""

    part: Literal["sweep", "compare"]
    name: str
    seed: int
    n_es: int
    config: dict[str, Any] = field(default_factory=dict)  # nested overrides
    source: str = "exact"  # a solver method, a learned policy, or "workload"
    workload: float | None = None
    meta: tuple[tuple[str, Any], ...] = ()

    def run_dir(self, root: Path) -> Path:
        return root / self.part / self.name


def _name(*parts: Any) -> str:
    return "-".join(str(p).replace(".", "p") for p in parts)


def jobs(exp: ConstructExperiment, base_n_es: int) -> list[Job]:
    """Every construction of the experiment (sweep first, cheapest first)."""
    base = nest(exp.config)
    out: list[Job] = []
    if exp.sweep is not None:
        sw = exp.sweep
        points = [(T, n, False) for n in sw.n_es for T in sw.workloads]
        points += [(T, n, True) for T, n in sw.iid_points]
        points.sort(key=lambda p: p[0] * p[1])
        for T, n, iid in points:
            cfg = merge(base, {"construction": {"concentration": None}}) if iid else base
            for s in sw.seeds:
                out.append(
                    Job(
                        "sweep",
                        _name("T", T, "N", n, "iid" if iid else "noniid", "s", s),
                        s,
                        n,
                        cfg,
                        "workload",
                        T,
                        (("workload", T), ("n_es", n), ("split", "iid" if iid else "non-iid")),
                    )
                )
    if exp.compare is not None:
        cp = exp.compare
        n = cp.n_es or base_n_es
        for m in cp.methods:
            for s in cp.seeds:
                out.append(Job("compare", _name(m, "s", s), s, n, base, m, None, (("method", m),)))
    return out


def _job_config(job: Job, root: Path, compare_config: str | None) -> DyncontractConfig:
    overrides = merge(
        job.config,
        {
            "construction": {
                "seed": job.seed,
                "runtime": "inprocess",
                "references": False,
                "data_cache": str(root / "data-cache"),
            }
        },
    )
    if job.part == "compare" and compare_config:
        return load_config(compare_config, overrides)
    return build_config({}, overrides)


def run_job(job: Job, root: str, g: float, compare_config: str | None) -> dict[str, Any]:
    """One construction (in a worker process)."""
    import torch

    torch.set_num_threads(1)
    from dyncontract.framework.construction.construct import construct
    from dyncontract.framework.construction.report import write_run

    rootp = Path(root)
    d = job.run_dir(rootp)
    if (d / "report.json").exists():
        return {"job": job.name, "status": "skipped"}
    t0 = time.perf_counter()
    cfg = _job_config(job, rootp, compare_config)
    sc = cfg.scenario_obj()
    c, assignment = contract_of(job.source, cfg, rootp)
    res = construct(
        c, sc, cfg.construction, cfg.framework, job.n_es, assignment, workload=job.workload, g=g
    )
    res.report["contract_source"] = job.source
    res.report["job"] = {"part": job.part, "name": job.name, **dict(job.meta)}
    write_run(d, res, c.to_dict(), dump_config(cfg))
    return {"job": job.name, "status": "done", "wall_s": time.perf_counter() - t0}


def contract_of(source: str, cfg: DyncontractConfig, root: Path) -> tuple[Any, str]:
    """The contract a job builds under, and how ESs get their items."""
    from dyncontract.model.contract import Contract

    sc = cfg.scenario_obj()
    if source == "workload":
        from dyncontract.solvers.exact import solve_dynamic

        return solve_dynamic(sc).contract, "self_selection"  # replaced by the workload
    if source in SOLVED:
        from dyncontract.solvers.exact import OPTIMAL
        from dyncontract.solvers.reference import solve_named

        res = solve_named(source, sc)
        if res.contract is None or res.status != OPTIMAL:
            raise RuntimeError(f"{source}: solver status {res.status}: no optimal contract")
        return res.contract, "enforced" if source == "complete_info" else "self_selection"
    if source in LEARNED:
        path = root / "learned" / source / "contract.json"
        if not path.exists():
            raise RuntimeError(f"no contract for {source}: train it first ({path})")
        return Contract.load(path), "self_selection"
    raise ValueError(f"unknown contract source {source!r}")


def _safe(job: Job, root: str, g: float, compare_config: str | None) -> dict[str, Any]:
    try:
        return run_job(job, root, g, compare_config)
    except Exception as exc:  # reported; the other constructions go on
        return {
            "job": job.name,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }


def gcycles_figure(root: Path, cfg: DyncontractConfig) -> tuple[float, dict[str, Any]]:
    """The experiment's Gcycles per step: fixed at its first start (provenance.json)."""
    from dyncontract.framework.construction import calibration

    prov = root / "provenance.json"
    if prov.exists():
        p = json.loads(prov.read_text())
        return float(p["gcycles_per_step"]), p
    g, rec = calibration.gcycles_per_step(cfg.construction)
    p = {"gcycles_per_step": g, "calibration": rec, "started": time.time()}
    write_json_atomic(prov, p)
    return g, p


def execute(
    exp: ConstructExperiment,
    out: str | os.PathLike,
    experiment: str,
    workers: int = 2,
    progress: bool = True,
    log: Callable[[str], None] = print,
    parts: tuple[str, ...] = ("sweep", "compare"),
) -> list[dict[str, Any]]:
    """Run every unfinished construction of ``exp`` (learned contracts are trained first)."""
    root = Path(out) / experiment / "construct"
    root.mkdir(parents=True, exist_ok=True)
    base = build_config({}, nest(exp.config))
    g, _ = gcycles_figure(root, base)
    cc = exp.compare.config if exp.compare is not None else None
    if exp.compare is not None and "compare" in parts:
        scfg = load_config(cc, nest(exp.config)) if cc else base
        for m in exp.compare.methods:
            if m in LEARNED:
                learn_contract(m, exp.compare.learned.get(m, LearnedSpec()), scfg, root, log)
    todo = [
        j
        for j in jobs(exp, base.scenario.n_es)
        if j.part in parts and not (j.run_dir(root) / "report.json").exists()
    ]
    log(f"{experiment}: {len(todo)} constructions to run ({g:.4f} Gcycles per step)")
    results: list[dict[str, Any]] = []
    bar = tqdm(total=len(todo), desc="constructions", disable=not progress, unit="run")
    try:
        if workers <= 1:
            for j in todo:
                results.append(_safe(j, str(root), g, cc))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futs = [pool.submit(_safe, j, str(root), g, cc) for j in todo]
                for f in as_completed(futs):
                    r = f.result()
                    results.append(r)
                    bar.update(1)
                    if r["status"] == "failed":
                        log(f"construction {r['job']} failed: {r['error']}")
    finally:
        bar.close()
    return results


def learn_contract(
    method: str,
    spec: LearnedSpec,
    cfg: DyncontractConfig,
    root: Path,
    log: Callable[[str], None] = print,
) -> Path:
    """Train ``method`` (direct or edmsac) on ``cfg``'s scenario distribution and write the
    contract its policy gives for ``cfg``'s own scenario (``learned/<method>/contract.json``)."""
    from dyncontract.experiments.composition import learned_contract

    d = root / "learned" / method
    path = d / "contract.json"
    if path.exists():
        return path
    d.mkdir(parents=True, exist_ok=True)
    log(f"training {method} on the comparison's scenario ({spec.max_minutes} min max)")
    c, info = learned_contract(method, cfg, d, spec.steps, spec.max_minutes, spec.seed)
    (d / "config.yaml").write_text(dump_config(cfg))
    write_json_atomic(d / "train.json", info)
    c.save(path)
    return path

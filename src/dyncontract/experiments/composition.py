"""Composition: the one place where the root config becomes an env, an evaluator and a
learner. ``dyncontract train`` / ``evaluate`` and the experiment runner all call it.

* :func:`contract_setting` — the batched contract env, its held-out states with exact optima
  and the evaluator that scores policies on them;
* :func:`build_trainer` / :func:`train_run` — an (E)DMSAC trainer on the contract env or on
  any gymnasium env with a Box action space (``rl.env_id``);
* :func:`load_run`, :func:`evaluate_run`, :func:`policy_profit`, :func:`amortisation` —
  what a finished run directory yields.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyncontract import CONTRACT_ENV_ID
from dyncontract.config import DyncontractConfig, dump_config, load_config
from dyncontract.env import (
    BatchedContractEnv,
    ContractEvaluator,
    HeldOutSet,
    actor_policy,
    best_feasible,
    contract_eval_policy,
)
from dyncontract.model.contract import Contract
from dyncontract.model.scenario import Scenario, persistence_of
from dyncontract.rl.budget import Budget
from dyncontract.rl.collectors import BatchedBanditCollector, GymCollector, gym_maker
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.evaluation import (
    actor_act_fn,
    actor_from_checkpoint,
    compact_diff,
    default_eval_policy,
    denoise_ms,
    load_actor,
)
from dyncontract.rl.evaluators import GymEvaluator
from dyncontract.rl.pruning import (
    compact_actor,
    deployment_pruning,
    pruning_ratio,
    strip_masks,
)
from dyncontract.rl.rundir import RunDir, RunError
from dyncontract.rl.trainer import Trainer, progress_enabled, resolve_device
from dyncontract.solvers.exact import solve_dynamic


def env_id(cfg: DyncontractConfig) -> str:
    """The gymnasium id a config trains on (``rl.env_id``, default the contract env)."""
    return cfg.rl.env_id or CONTRACT_ENV_ID


def is_contract(cfg: DyncontractConfig) -> bool:
    return env_id(cfg) == CONTRACT_ENV_ID


@dataclass
class ContractSetting:
    """The batched contract env, the held-out states and the evaluator on them."""

    env: BatchedContractEnv
    held: HeldOutSet
    evaluator: ContractEvaluator


def contract_setting(
    cfg: DyncontractConfig,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    n_states: int | None = None,
    progress: bool = False,
    split: str = "validation",
) -> ContractSetting:
    """Env + held-out states of ``split`` (exact optima, cached) + evaluator for ``cfg``.

    ``validation`` states serve learning curves and any tuning or selection; ``test`` states
    only the final tables.
    """
    device = torch.device(device)
    base = cfg.scenario_obj()
    env = BatchedContractEnv(base, cfg.env, device=device)
    held = HeldOutSet.build(
        base, cfg.env, n=n_states, cache_dir=cache_dir, progress=progress, split=split
    )
    return ContractSetting(env, held, ContractEvaluator(env, held, device))


class TestCurveEvaluator:
    """The validation evaluator's metrics (learning curve, any selection) plus the test
    states' single-action metrics as ``test_<metric>``: sample-efficiency curves on the test
    states, which nothing selects on (no checkpoint choice, no early stopping)."""

    primary = "ratio_single"

    def __init__(self, validation: ContractEvaluator, test: ContractEvaluator) -> None:
        self.validation = validation
        self.test = test

    def __call__(self, policy: Any) -> dict[str, float]:
        out = self.validation(policy)
        test = self.test.score_actions(policy(self.test.obs))
        out.update({f"test_{k}": v for k, v in test.items()})
        return out


def test_curve_evaluator(
    setting: ContractSetting,
    cfg: DyncontractConfig,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
) -> TestCurveEvaluator:
    """:class:`TestCurveEvaluator` of ``setting`` (its env, scored without counting samples)."""
    held = HeldOutSet.build(cfg.scenario_obj(), cfg.env, cache_dir=cache_dir, split="test")
    return TestCurveEvaluator(setting.evaluator, ContractEvaluator(setting.env, held, device))


def default_budget(
    cfg: DyncontractConfig, steps: int | None = None, max_minutes: float | None = None
) -> Budget:
    """The budget of a run: the given caps, else ``rl.total_steps``; ``rl.eval_every_steps``."""
    if steps is None and max_minutes is None:
        steps = cfg.rl.total_steps
    return Budget(steps=steps, max_minutes=max_minutes, eval_every_steps=cfg.rl.eval_every_steps)


def build_trainer(
    cfg: DyncontractConfig,
    run_dir: str | os.PathLike,
    budget: Budget,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
    cache_dir: str | os.PathLike | None = None,
    tensorboard: str | os.PathLike | None = None,
    test_curve: bool = False,
) -> Trainer:
    """An (E)DMSAC trainer for ``cfg`` writing to ``run_dir`` (and TensorBoard events to
    ``tensorboard``, default ``cfg.logging.tensorboard``). ``test_curve``: every metrics row
    also scores the test states (:class:`TestCurveEvaluator`; contract env only)."""
    rl = cfg.rl
    dev = resolve_device(device)
    eid = env_id(cfg)
    if is_contract(cfg):
        setting = contract_setting(cfg, dev, cache_dir, progress=progress_enabled(quiet))
        collector: Any = BatchedBanditCollector(setting.env, rl.num_envs, dev, rl.actions_per_state)
        evaluator: Any = setting.evaluator
        if test_curve:
            evaluator = test_curve_evaluator(setting, cfg, dev, cache_dir)
        eval_policy: Any = actor_policy  # the scoring protocol: single + best_of_n

    else:
        make = gym_maker(eid)
        try:
            collector = GymCollector(make, rl.vector_envs, seed, dev)
            evaluator = GymEvaluator(make, rl.eval_episodes, 10_000 + seed)
        except ValueError as exc:
            raise RunError(str(exc)) from None
        eval_policy = None
    return Trainer(
        rl,
        collector,
        evaluator,
        RunDir(run_dir),
        budget,
        seed=seed,
        device=dev,
        eval_policy=eval_policy,
        meta={"env_id": eid},
        quiet=quiet,
        tensorboard=tensorboard if tensorboard is not None else cfg.logging.tensorboard,
    )


def tensorboard_dir(run_dir: str | os.PathLike) -> Path:
    """Where an experiment run ``OUT/<experiment>/<group>/<seed>`` writes TensorBoard events:
    ``OUT/<experiment>/tensorboard/<group>/<seed>`` (one ``tensorboard --logdir`` for all)."""
    d = Path(run_dir)
    return d.parent.parent / "tensorboard" / d.parent.name / d.name


def train_run(
    cfg: DyncontractConfig,
    run_dir: str | os.PathLike,
    budget: Budget,
    *,
    resume: bool = False,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Train (or resume) a run; writes config.yaml for a new run. ``kwargs``: those of
    :func:`build_trainer` (seed, device, quiet, cache_dir, tensorboard). Returns the metrics
    rows."""
    trainer = build_trainer(cfg, run_dir, budget, **kwargs)
    if not resume:
        trainer.run.path.mkdir(parents=True, exist_ok=True)
        trainer.run.write_config(dump_config(cfg))
    return trainer.train(resume=resume)


def load_run(run_dir: str | os.PathLike) -> tuple[DyncontractConfig, dict[str, Any]]:
    """The resolved config and run.json of a run directory."""
    run = RunDir(run_dir)
    if not run.config.is_file():
        raise RunError(f"run directory: {run.path} has no config.yaml (not a training run)")
    meta = run.read_meta()
    return load_config(run.config), meta


def final_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row as a final result (NaN -> None)."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _deploy_ms(env: BatchedContractEnv, dense, compact, device: str) -> dict[str, Any]:
    """Milliseconds per 1 000 market states of the deployed policy: the actor (full-width
    dense vs compacted) *and* the env's action -> contract map (the least-payment map in the
    structured mode), on ``device`` (CUDA when asked for and present)."""
    obs = env.sample_states(1000, np.random.default_rng(0))

    def to_contract(o: torch.Tensor, a: torch.Tensor) -> None:
        env.contracts(o, a)

    return {
        "dense": denoise_ms(dense, obs=obs, then=to_contract),
        "compact": denoise_ms(compact, obs=obs, then=to_contract),
        "device": str(next(compact.parameters()).device),
    }


def evaluate_run(
    run_dir: str | os.PathLike,
    states: int = 256,
    episodes: int | None = None,
    device: str = "cpu",
    timing: bool = True,
    cache_dir: str | os.PathLike | None = None,
    eval_action: str | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """The metrics of ``dyncontract evaluate`` for a run directory, on ``split`` states."""
    cfg, meta = load_run(run_dir)
    ck = RunDir(run_dir).load_checkpoint(map_location=device)  # read once
    actor = actor_from_checkpoint(ck, device)
    rl = cfg.rl
    act = actor_act_fn(actor, device)
    out: dict[str, Any] = {
        "run_dir": str(run_dir),
        "env_id": env_id(cfg),
        "algo": rl.algo,
        "pruning_ratio": pruning_ratio(actor) if isinstance(actor, DiffusionActor) else 0.0,
    }
    if isinstance(actor, DiffusionActor):  # what pruning the deployed actor really got
        info = deployment_pruning(actor, ck["agent"].get("pruner"))
        out["ever_pruned"], out["pruning_note"] = info["ever_pruned"], info["note"]
    if is_contract(cfg):
        setting = contract_setting(cfg, device, cache_dir, n_states=states, split=split)
        if not setting.held.all_optimal:
            raise RunError("held-out set: the exact solver did not reach 'optimal' on every state")
        res = setting.evaluator(actor_policy(act))
        res.pop("eval_reward", None)
        if eval_action is not None:  # an extra deployment rule, reported beside the protocol
            pol = contract_eval_policy(act, eval_action, rl.eval_samples, setting.env)
            res.update(setting.evaluator.score_actions(pol(setting.evaluator.obs), eval_action))
        out["states"] = states
        out["split"] = split
        out.update(final_metrics(res))
        if isinstance(actor, DiffusionActor):
            small = compact_actor(actor)
            out["compact_max_abs_diff"] = compact_diff(actor, small, setting.evaluator.obs)
            out["hidden_widths"] = {
                "dense": actor.denoiser.widths,
                "compact": small.denoiser.widths,
            }
            if timing:
                dense = strip_masks(actor)  # the full-width network, every neuron computed
                out["denoise_ms_per_1k_states"] = {
                    "dense": denoise_ms(dense),
                    "compact": denoise_ms(small),
                }
                out["deploy_ms_per_1k_states"] = _deploy_ms(setting.env, dense, small, device)
        else:  # nothing to compact (gsac): the actor as is, in both columns
            out["compact_max_abs_diff"] = 0.0
            out["hidden_widths"] = {"dense": actor.widths, "compact": actor.widths}
            if timing:
                ms = denoise_ms(actor)
                out["denoise_ms_per_1k_states"] = {"dense": ms, "compact": ms}
                out["deploy_ms_per_1k_states"] = _deploy_ms(setting.env, actor, actor, device)
    else:
        n = episodes or rl.eval_episodes
        ev = GymEvaluator(gym_maker(env_id(cfg)), n, 10_000 + int(meta.get("seed", 0)))
        res = ev(default_eval_policy(act, eval_action or rl.eval_action, rl.eval_samples))
        out["episodes"] = n
        out["return_mean"] = res["return_mean"]
    return out


def policy_profit(run_dir: str | os.PathLike, sc: Scenario) -> float | None:
    """Expected CS profit of a trained policy's contract for scenario ``sc`` (None when the
    run's environment cannot express ``sc``, NaN when the contract is infeasible)."""
    cfg, _ = load_run(run_dir)
    base = cfg.scenario_obj()
    if base.K != sc.K or not np.isclose(base.discount, sc.discount):
        return None
    env = BatchedContractEnv(base, cfg.env)
    obs = env.dist.encode(prior=sc.prior, rho=persistence_of(sc.transition), xi=sc.energy_price)
    obs_t = torch.as_tensor(obs)[None]
    act = actor_act_fn(load_actor(run_dir), "cpu")
    policy = contract_eval_policy(act, cfg.rl.eval_action, cfg.rl.eval_samples, env)
    with torch.no_grad():
        out = env.step(obs_t, policy(obs_t))
    return float(out["profit"][0]) if bool(out["feasible"][0]) else math.nan


def amortisation(actor: Any, cfg: DyncontractConfig, n: int = 1024) -> dict[str, float]:
    """Contracts per second of the deployed policy end to end — the actor, the payment map
    and (best of 16) the scoring of every candidate and the selection — on ``n`` states, vs
    the exact solver (timed on a sample of them)."""
    base = cfg.scenario_obj()
    env = BatchedContractEnv(base, cfg.env)
    obs = env.sample_states(n, torch.Generator().manual_seed(0))
    policy = actor_policy(actor_act_fn(actor, "cpu"))
    out: dict[str, float] = {}
    with torch.no_grad():
        for name, deploy in (
            ("single", lambda: env.step(obs, policy(obs))),
            (
                "best_of_16",
                lambda: env.step(
                    obs,
                    best_feasible(env, obs, torch.cat([policy(obs)[None], policy.sample(obs, 15)])),
                ),
            ),
        ):
            deploy()  # warm-up
            t = time.perf_counter()
            deploy()
            out[f"policy_{name}_contracts_per_s"] = n / (time.perf_counter() - t)
    scen = env.dist.scenarios(obs.numpy()[: min(n, 32)])
    t = time.perf_counter()
    for sc in scen:
        solve_dynamic(sc)
    out["solver_contracts_per_s"] = len(scen) / (time.perf_counter() - t)
    out["speedup_single"] = out["policy_single_contracts_per_s"] / out["solver_contracts_per_s"]
    return out


def learned_contract(
    method: str,
    cfg: DyncontractConfig,
    run_dir: str | os.PathLike,
    steps: int,
    max_minutes: float | None,
    seed: int = 0,
) -> tuple[Contract, dict[str, Any]]:
    """Train ``method`` (``direct``: gradient ascent on the known profit; ``edmsac``) on the
    scenario distribution of ``cfg`` and return the contract its policy gives for ``cfg``'s
    own scenario, with what training used and how that contract scores under the model.

    ``direct`` deploys its deterministic output; EDMSAC deploys as the benchmark scores it
    (``rl.eval_action``, best feasible of the mean, the noise-free chain and samples)."""
    sc = cfg.scenario_obj()
    env = BatchedContractEnv(sc, cfg.env)
    obs = torch.as_tensor(
        env.dist.encode(prior=sc.prior, rho=persistence_of(sc.transition), xi=sc.energy_price)
    )[None]
    t0 = time.perf_counter()
    if method == "direct":
        from dyncontract.experiments.amortised import train_direct

        pol = train_direct(env, seed, steps, max_minutes)
        policy: Any = pol
        used = {"samples": pol.budget.samples, "updates": pol.budget.updates}
    elif method == "edmsac":
        run = Path(run_dir) / "run"
        rows = train_run(
            cfg, run, Budget(steps=steps, max_minutes=max_minutes), seed=seed, quiet=True
        )
        act = actor_act_fn(load_actor(run), "cpu")
        policy = contract_eval_policy(act, cfg.rl.eval_action, cfg.rl.eval_samples, env)
        used = {"samples": rows[-1].get("samples"), "updates": rows[-1].get("updates")}
    else:
        raise ValueError(f"unknown learned method {method!r} (direct or edmsac)")
    with torch.no_grad():
        a = policy(obs)
        ct = env.contracts(obs, a)
        out = env.step(obs, a)
    c = Contract(
        T1=ct["T1"][0].double().numpy(),
        R1=ct["R1"][0].double().numpy(),
        T2=ct["T2"][0].double().numpy(),
        R2=ct["R2"][0].double().numpy(),
    )
    exact = solve_dynamic(sc)
    profit = float(out["profit"][0])
    info = {
        "method": method,
        "seed": seed,
        "steps": steps,
        "max_minutes": max_minutes,
        "train_wall_s": time.perf_counter() - t0,
        **used,
        "feasible": bool(out["feasible"][0]),
        "expected_profit": profit,
        "exact_profit": float(exact.objective),
        "ratio": profit / float(exact.objective),
    }
    return c, info

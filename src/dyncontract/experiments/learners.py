"""The diffusion learners (EDMSAC, DMSAC) inside an experiment: train, evaluate, reuse."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyncontract.config import DyncontractConfig
from dyncontract.model.scenario import Scenario


def train_and_evaluate(
    cfg: DyncontractConfig,
    run_dir: Path,
    seed: int,
    steps: int | None,
    max_minutes: float | None,
    cache_dir: Path,
) -> dict[str, Any]:
    """Train (resuming from a checkpoint if one is there), then evaluate like ``evaluate``."""
    from dyncontract.rl.evaluation import as_json_safe, evaluate_run
    from dyncontract.rl.trainer import CHECKPOINT, RunSpec, Trainer

    resume = (run_dir / CHECKPOINT).exists()
    spec = RunSpec(seed=seed, device="cpu", steps=steps, max_minutes=max_minutes)
    trainer = Trainer(cfg, run_dir, spec, quiet=True, heldout_cache_dir=cache_dir)
    rows = trainer.train(resume=resume)
    ev = evaluate_run(run_dir, states=cfg.env.held_out_states)
    last = rows[-1]
    ev["steps"] = int(last["step"])
    upd = last.get("updates") or 0
    ev["ms_per_update"] = 1000.0 * float(last["wall_s"]) / upd if upd else math.nan
    return as_json_safe(ev)


def policy_profit(run_dir: Path, sc: Scenario) -> float | None:
    """Expected CS profit of a trained policy's contract for scenario ``sc`` (None when the
    run's environment cannot express ``sc``, NaN when the contract is infeasible)."""
    from dyncontract.env import BatchedContractEnv
    from dyncontract.rl.envs import make_eval_policy
    from dyncontract.rl.evaluation import load_actor
    from dyncontract.rl.trainer import load_run

    cfg, _ = load_run(run_dir)
    base = cfg.scenario_obj()
    if base.K != sc.K or not np.isclose(base.discount, sc.discount):
        return None
    env = BatchedContractEnv(base, cfg.env)
    Q = sc.transition
    rho = float(Q[0, 0] - Q[0, 1]) if sc.K > 1 else None
    obs = torch.as_tensor(env.dist.encode(prior=sc.prior, rho=rho, xi=sc.energy_price))[None]
    actor = load_actor(run_dir)
    gen = torch.Generator().manual_seed(777)
    policy = make_eval_policy(
        lambda o, mode, n: actor.act(o, gen, mode=mode, n=n),
        cfg.rl.eval_action,
        cfg.rl.eval_samples,
        env,
    )
    with torch.no_grad():
        out = env.step(obs, policy(obs))
    return float(out["profit"][0]) if bool(out["feasible"][0]) else math.nan

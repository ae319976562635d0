"""Scoring a trained run: load its actor, evaluate it, time dense vs compacted denoising."""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyncontract.config import DyncontractConfig
from dyncontract.rl.checkpoint import load_checkpoint
from dyncontract.rl.config import CONTRACT_ENV_ID
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.envs import ContractEvaluator, GymEvaluator, make_eval_policy
from dyncontract.rl.pruning import attach_masks, compact_actor, pruning_ratio, strip_masks
from dyncontract.rl.trainer import CHECKPOINT, RunError, gym_maker, load_run


def load_actor(run_dir: str | Path, device: str | torch.device = "cpu") -> DiffusionActor:
    """The (masked) actor of a run's latest checkpoint, in eval mode."""
    ck = load_checkpoint(Path(run_dir) / CHECKPOINT, map_location=device)
    actor = DiffusionActor(**ck["actor_arch"]).to(device)
    state = ck["agent"]["actor"]
    if any(k.endswith("weight_orig") for k in state):
        attach_masks(actor)
    actor.load_state_dict(state)
    return actor.eval()


@torch.no_grad()
def denoise_ms(
    actor: DiffusionActor, n_states: int = 1000, reps: int = 7, mode: str = "deterministic"
) -> float:
    """Median wall milliseconds to produce actions for ``n_states`` random states."""
    dev = next(actor.parameters()).device
    obs = torch.rand(n_states, actor.obs_dim, generator=torch.Generator().manual_seed(0))
    obs = (2 * obs - 1).to(dev)
    gen = torch.Generator(device=dev).manual_seed(0)
    times = []
    for i in range(reps + 2):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        actor.act(obs, gen, mode=mode)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:  # warm-up
            times.append((time.perf_counter() - t) * 1000.0)
    return float(statistics.median(times))


@torch.no_grad()
def compact_diff(actor: DiffusionActor, small: DiffusionActor, obs: torch.Tensor) -> float:
    """max |masked - compact| over deterministic and (same-noise) sampled actions."""
    dev = obs.device
    diff = 0.0
    for mode in ("deterministic", "sample"):
        a = actor.act(obs, torch.Generator(device=dev).manual_seed(1), mode=mode)
        b = small.act(obs, torch.Generator(device=dev).manual_seed(1), mode=mode)
        diff = max(diff, float((a - b).abs().max().item()))
    return diff


def evaluate_run(
    run_dir: str | Path,
    states: int = 256,
    episodes: int | None = None,
    device: str = "cpu",
    timing: bool = True,
    heldout_cache_dir: str | Path | None = None,
    eval_action: str | None = None,
) -> dict[str, Any]:
    """The metrics of ``dyncontract evaluate`` for a run directory (held-out optima cached in
    ``heldout_cache_dir``, default the env layer's cache)."""
    cfg, meta = load_run(run_dir)
    actor = load_actor(run_dir, device)
    rl = cfg.rl
    gen = torch.Generator(device=device).manual_seed(777)

    def act(obs: torch.Tensor, mode: str, n: int) -> torch.Tensor:
        return actor.act(obs.to(device), gen, mode=mode, n=n)

    env = None
    if rl.env_id == CONTRACT_ENV_ID:
        from dyncontract.env import BatchedContractEnv

        env = BatchedContractEnv(cfg.scenario_obj(), cfg.env, device=device)
    mode = eval_action or rl.eval_action
    policy = make_eval_policy(act, mode, rl.eval_samples, env)

    out: dict[str, Any] = {
        "run_dir": str(run_dir),
        "env_id": rl.env_id,
        "algo": rl.algo,
        "eval_action": mode,
        "pruning_ratio": pruning_ratio(actor),
    }
    if rl.env_id == CONTRACT_ENV_ID:
        res, obs = _contract_metrics(cfg, states, device, policy, heldout_cache_dir)
        out["states"] = states
        out.update(res)
        small = compact_actor(actor)
        out["compact_max_abs_diff"] = compact_diff(actor, small, obs)
        out["hidden_widths"] = {"dense": actor.denoiser.widths, "compact": small.denoiser.widths}
        if timing:
            out["denoise_ms_per_1k_states"] = {
                "dense": denoise_ms(strip_masks(actor)),  # full width (masked runs kept-only)
                "compact": denoise_ms(small),
            }
    else:
        n = episodes or rl.eval_episodes
        ev = GymEvaluator(gym_maker(rl.env_id), n, 10_000 + int(meta.get("seed", 0)))
        res = ev(policy)
        out["episodes"] = n
        out["return_mean"] = res["return_mean"]
    return out


def _contract_metrics(
    cfg: DyncontractConfig, states: int, device: str, policy, cache_dir: str | Path | None
) -> tuple[dict[str, float], torch.Tensor]:
    from dyncontract.env import BatchedContractEnv, HeldOutSet

    base = cfg.scenario_obj()
    env = BatchedContractEnv(base, cfg.env, device=device)
    held = HeldOutSet.build(base, cfg.env, n=states, cache_dir=cache_dir)
    if not held.all_optimal:
        raise RunError("held-out set: the exact solver did not reach 'optimal' on every state")
    ev = ContractEvaluator(env, held, torch.device(device))
    res = ev(policy)
    res.pop("eval_reward", None)
    res["optimality_ratio_mean"] = res.pop("optimality_ratio")
    res = {k: (v if not (isinstance(v, float) and math.isnan(v)) else None) for k, v in res.items()}
    return res, ev.obs


def amortisation(actor: DiffusionActor, cfg: DyncontractConfig, n: int = 1024) -> dict[str, float]:
    """Contracts per second: the policy on ``n`` states vs the exact solver (a sample of them)."""
    from dyncontract.env import BatchedContractEnv, ScenarioDistribution
    from dyncontract.solvers.exact import solve_dynamic

    base = cfg.scenario_obj()
    env = BatchedContractEnv(base, cfg.env)
    obs = env.sample_states(n, torch.Generator().manual_seed(0))
    t = time.perf_counter()
    with torch.no_grad():
        act = actor.act(obs, None, mode="deterministic")
        env.contracts(obs, act)
    policy_s = time.perf_counter() - t
    dist = ScenarioDistribution(base, cfg.env)
    scen = dist.scenarios(obs.numpy()[: min(n, 32)])
    t = time.perf_counter()
    for sc in scen:
        solve_dynamic(sc)
    solver_s = (time.perf_counter() - t) / len(scen)
    return {
        "policy_contracts_per_s": n / policy_s,
        "solver_contracts_per_s": 1.0 / solver_s,
        "speedup": (n / policy_s) * solver_s,
    }


def as_json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: as_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_json_safe(v) for v in obj]
    if isinstance(obj, np.floating | np.integer):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

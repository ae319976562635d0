"""A trained actor after training: load it, act with it, time it, compact it.

Nothing here knows the environment; scoring a run on an application's states is the
application's job (dyncontract: :mod:`dyncontract.experiments.composition`).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyncontract.rl.collectors import Policy
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.gaussian import GaussianActor
from dyncontract.rl.pruning import attach_masks
from dyncontract.rl.rundir import RunDir, RunError

#: ``act(obs, mode, n) -> actions``: the actor's output in a mode (see DiffusionActor.forward).
ActFn = Callable[[torch.Tensor, str, int], torch.Tensor]

#: Seed of the policy noise at evaluation (a fresh generator each time: evaluating never moves
#: the training generators, and two evaluations of one actor give the same actions).
EVAL_SEED = 777


def actor_act_fn(
    actor: DiffusionActor, device: torch.device | str = "cpu", seed: int = EVAL_SEED
) -> ActFn:
    """``act(obs, mode, n)`` of ``actor`` with its own seeded noise generator."""
    gen = torch.Generator(device=device).manual_seed(seed)

    def act(obs: torch.Tensor, mode: str, n: int) -> torch.Tensor:
        return actor.act(obs.to(device), gen, mode=mode, n=n)

    return act


def default_eval_policy(act: ActFn, mode: str, n: int) -> Policy:
    """The actor's output in ``mode``; a selection mode the library does not know (an
    application's, e.g. ``best_feasible``) falls back to ``mean``."""
    if mode not in ("deterministic", "mean", "sample"):
        mode = "mean"
    return lambda obs: act(obs, mode, n)


#: ``actor_arch["kind"]`` -> the actor class (a checkpoint without ``kind`` is a diffusion one).
ACTOR_KINDS: dict[str, type[DiffusionActor] | type[GaussianActor]] = {
    "diffusion": DiffusionActor,
    "gaussian": GaussianActor,
}


def build_actor(arch: dict[str, Any]) -> DiffusionActor | GaussianActor:
    """An untrained actor of the architecture ``arch`` (an actor's ``arch`` dict)."""
    arch = dict(arch)
    kind = arch.setdefault("kind", "diffusion")
    if kind not in ACTOR_KINDS:
        raise RunError(f"checkpoint: unknown actor kind {kind!r} (known: {sorted(ACTOR_KINDS)})")
    return ACTOR_KINDS[kind](**arch)


def load_actor(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> DiffusionActor | GaussianActor:
    """The (masked) actor of a run's latest checkpoint, in eval mode."""
    return actor_from_checkpoint(RunDir(run_dir).load_checkpoint(map_location=device), device)


def actor_from_checkpoint(
    ck: dict, device: str | torch.device = "cpu"
) -> DiffusionActor | GaussianActor:
    """The (masked) deployed actor of a loaded checkpoint (``RunDir.load_checkpoint``): the
    trained actor, or its Polyak average with ``rl.eval_actor: ema``; in eval mode."""
    actor = build_actor(ck["actor_arch"]).to(device)
    state = ck["agent"][ck.get("deployed_actor", "actor")]
    if any(k.endswith("weight_orig") for k in state):
        attach_masks(actor)
    actor.load_state_dict(state)
    return actor.eval()


@torch.no_grad()
def denoise_ms(
    actor: DiffusionActor | GaussianActor,
    n_states: int = 1000,
    reps: int = 7,
    mode: str = "deterministic",
    obs: torch.Tensor | None = None,
    then: Callable[[torch.Tensor, torch.Tensor], Any] | None = None,
) -> float:
    """Median wall milliseconds to produce actions for ``n_states`` random states in
    [-1, 1] (or for ``obs``); with ``then(obs, actions)``, the time includes that step too
    (e.g. an application turning actions into what it deploys)."""
    dev = next(actor.parameters()).device
    if obs is None:
        obs = torch.rand(n_states, actor.obs_dim, generator=torch.Generator().manual_seed(0))
        obs = 2 * obs - 1
    obs = obs.to(dev)
    gen = torch.Generator(device=dev).manual_seed(0)
    times = []
    for i in range(reps + 2):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a = actor.act(obs, gen, mode=mode)
        if then is not None:
            then(obs, a)
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


def as_json_safe(obj: Any) -> Any:
    """Numpy scalars -> Python numbers, NaN/inf -> None, recursively."""
    if isinstance(obj, dict):
        return {k: as_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_json_safe(v) for v in obj]
    if isinstance(obj, np.floating | np.integer):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

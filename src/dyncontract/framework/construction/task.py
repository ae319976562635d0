"""Task code of the construction (what Flower's examples call ``task.py``): local training
by behaviour cloning, evaluation on held-out missions, and the agent's weights as arrays.

Everything here is plain torch + minigrid; the Flower apps call it. Training and evaluation
run on one thread (``torch.set_num_threads(1)``): each ES is one CPU, and one thread makes
seeded runs bit-identical.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dyncontract.framework.construction.agent import MODULES, START, Agent, AgentSpec
from dyncontract.framework.construction.data import Episodes, _quiet, tokenize


def module_of(name: str) -> str:
    """The module a state-dict entry belongs to (``"planning.film.0.weight"`` → planning)."""
    return name.split(".", 1)[0]


def get_weights(agent: Agent, modules: Iterable[str] = MODULES) -> OrderedDict[str, np.ndarray]:
    """The agent's parameters of ``modules`` as numpy arrays (state-dict order, copies)."""
    keep = set(modules)
    return OrderedDict(
        (k, v.detach().cpu().numpy().copy())
        for k, v in agent.state_dict().items()
        if module_of(k) in keep
    )


def set_weights(agent: Agent, weights: dict[str, np.ndarray]) -> None:
    """Load (some of) the agent's parameters from numpy arrays (shapes must match)."""
    sd = agent.state_dict()
    for k, v in weights.items():
        if k not in sd:
            raise KeyError(f"unknown parameter {k!r}")
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f"{k}: shape {tuple(v.shape)} != {tuple(sd[k].shape)}")
        sd[k] = torch.as_tensor(np.asarray(v))
    agent.load_state_dict(sd)


def new_agent(spec: AgentSpec, seed: int) -> Agent:
    """The untrained agent (initial weights drawn from ``seed``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return Agent(spec)


@dataclass(frozen=True)
class TrainResult:
    """What one local training call did."""

    steps: int
    loss: float  # mean cross-entropy over the steps
    cpu_s: float  # this thread's CPU time for the steps


def _batch(eps: Episodes, idx: np.ndarray) -> dict[str, torch.Tensor]:
    starts, ends = eps.offsets[idx], eps.offsets[idx + 1]
    frames = np.concatenate([eps.frames[starts[j] : ends[j]] for j in range(len(idx))])
    dirs = np.concatenate([eps.directions[starts[j] : ends[j]] for j in range(len(idx))])
    actions = np.concatenate([eps.actions[starts[j] : ends[j]] for j in range(len(idx))])
    return {
        "frames": torch.from_numpy(frames),
        "directions": torch.from_numpy(dirs),
        "actions": torch.from_numpy(actions),
        "offsets": torch.from_numpy(np.concatenate([[0], np.cumsum(ends - starts)])),
        "missions": torch.from_numpy(eps.missions[idx]),
    }


def bc_loss(agent: Agent, eps: Episodes, idx: np.ndarray) -> torch.Tensor:
    """Mean cross-entropy of the agent's actions against the expert's on episodes ``idx``."""
    b = _batch(eps, idx)
    return F.cross_entropy(agent.episode_logits(**b), b["actions"])


def train_bc(
    agent: Agent,
    optimizer: torch.optim.Optimizer,
    eps: Episodes,
    steps: int,
    batch_episodes: int,
    rng: np.random.Generator,
    params: Sequence[torch.nn.Parameter] | None = None,
    max_grad_norm: float = 1.0,
) -> TrainResult:
    """``steps`` behaviour-cloning steps on minibatches of ``batch_episodes`` whole episodes
    drawn without replacement within an epoch. Gradients are clipped to ``max_grad_norm``
    (over ``params``, default all)."""
    torch.set_num_threads(1)
    params = list(params) if params is not None else list(agent.parameters())
    t0 = time.thread_time()
    n = eps.n_episodes
    b = min(int(batch_episodes), n)
    order = rng.permutation(n)
    pos = 0
    total = 0.0
    agent.train()
    for _ in range(int(steps)):
        if pos + b > n:
            order, pos = rng.permutation(n), 0
        idx = np.sort(order[pos : pos + b])
        pos += b
        loss = bc_loss(agent, eps, idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        total += float(loss.detach())
    return TrainResult(int(steps), total / max(1, int(steps)), time.thread_time() - t0)


# ----- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalResult:
    """An agent on held-out missions."""

    episodes: int
    success_rate: float
    mean_length: float  # mean episode length (steps), failures at the step limit included
    success_se: float  # binomial standard error of the success rate

    def to_dict(self) -> dict[str, float | int]:
        return {
            "episodes": self.episodes,
            "success_rate": self.success_rate,
            "success_se": self.success_se,
            "mean_length": self.mean_length,
        }


def _result(success: np.ndarray, lengths: np.ndarray) -> EvalResult:
    n = int(success.size)
    p = float(success.mean()) if n else float("nan")
    se = float(np.sqrt(p * (1 - p) / n)) if n else float("nan")
    return EvalResult(n, p, float(lengths.mean()) if n else float("nan"), se)


_ENV_POOL: dict[str, list] = {}


def _envs(level: str, n: int) -> list:
    import gymnasium as gym
    import minigrid  # noqa: F401

    _quiet()
    pool = _ENV_POOL.setdefault(level, [])
    while len(pool) < n:
        pool.append(gym.make(level, disable_env_checker=True).unwrapped)
    return pool[:n]


def _reset(env, seed: int):
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        obs, _ = env.reset(seed=int(seed))
    return obs


def _levels_of(levels: Sequence[str], n: int) -> list[str]:
    """Held-out mission j is on level ``levels[j % len(levels)]``."""
    return [levels[j % len(levels)] for j in range(n)]


def evaluate_policy(
    policy: str | Agent,
    levels: Sequence[str],
    seeds: np.ndarray,
    chunk: int = 128,
    rng_seed: int = 0,
    temperature: float = 0.0,
) -> EvalResult:
    """Success rate and mean episode length of ``policy`` on the missions of ``seeds``.

    ``policy``: an :class:`Agent` (``temperature`` 0: its most likely action, else an action
    drawn from ``softmax(logits / temperature)`` with ``rng_seed``), ``"random"`` (uniform
    over the 7 actions, drawn from ``rng_seed``) or ``"bot"`` (minigrid's expert). Missions
    run in lockstep chunks of ``chunk`` environments (one batched forward per step).
    """
    torch.set_num_threads(1)
    seeds = np.asarray(seeds, dtype=np.int64)
    lv = _levels_of(levels, seeds.size)
    success = np.zeros(seeds.size, dtype=bool)
    lengths = np.zeros(seeds.size, dtype=np.int64)
    rng = np.random.default_rng(rng_seed)
    by_level: dict[str, list[int]] = {}
    for j, name in enumerate(lv):
        by_level.setdefault(name, []).append(j)
    for name, idx_all in by_level.items():
        for s in range(0, len(idx_all), chunk):
            idx = idx_all[s : s + chunk]
            envs = _envs(name, len(idx))
            obs = [_reset(e, seeds[j]) for e, j in zip(envs, idx, strict=True)]
            ok, ln = _run_chunk(policy, envs, obs, rng, temperature)
            success[idx] = ok
            lengths[idx] = ln
    return _result(success, lengths)


def _choose(logits: torch.Tensor, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Actions (B,) from logits (B, 7): the argmax at temperature 0, else a draw from
    ``softmax(logits / temperature)`` (numpy ``rng``, so runs are reproducible)."""
    if temperature <= 0:
        return logits.argmax(dim=1).numpy()
    p = torch.softmax(logits.double() / temperature, dim=1).numpy()
    return np.array([rng.choice(p.shape[1], p=row / row.sum()) for row in p])


def _run_chunk(
    policy: str | Agent,
    envs: list,
    obs: list,
    rng: np.random.Generator,
    temperature: float = 0.0,
):
    n = len(envs)
    done = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    ln = np.zeros(n, dtype=np.int64)
    if isinstance(policy, Agent):
        policy.eval()
        tokens = [tokenize(o["mission"]) for o in obs]
        width = max(1, max(len(t) for t in tokens))
        mission = torch.zeros(n, width, dtype=torch.long)
        for i, t in enumerate(tokens):
            mission[i, : len(t)] = torch.tensor(t, dtype=torch.long)
        with torch.no_grad():
            instr = policy.planning.encode(mission)
        h = policy.initial_state(n)
        previous = torch.full((n,), START, dtype=torch.long)
    elif policy == "bot":
        from minigrid.utils.baby_ai_bot import BabyAIBot

        bots = [BabyAIBot(e) for e in envs]
    elif policy != "random":
        raise ValueError(f"unknown policy {policy!r}")
    while not done.all():
        live = np.flatnonzero(~done)
        if isinstance(policy, Agent):
            views = torch.from_numpy(np.stack([obs[i]["image"] for i in live]))
            dirs = torch.tensor([int(obs[i]["direction"]) for i in live])
            logits, h_new = policy.act(views, dirs, previous[live], instr[live], h[live])
            h[live] = h_new
            acts = _choose(logits, temperature, rng)
            previous[live] = torch.as_tensor(acts, dtype=torch.long)
        elif policy == "bot":
            acts = np.array([int(bots[i].replan()) for i in live])
        else:
            acts = rng.integers(0, 7, size=live.size)
        for a, i in zip(acts, live, strict=True):
            o, r, term, trunc, _ = envs[i].step(int(a))
            obs[i] = o
            ln[i] += 1
            if term or trunc:
                done[i] = True
                ok[i] = r > 0
    return ok, ln


# ----- edge deployment ----------------------------------------------------------------------


def measure_latency(
    agent: Agent,
    levels: Sequence[str],
    episodes: int,
    rng: np.random.Generator,
    temperature: float = 0.0,
) -> dict[str, float]:
    """Serve ``agent`` to one user at a time on ``episodes`` missions (seeds from ``rng``,
    below the held-out range) and time every step: observation to tensor, instruction
    encoding (first step), forward pass, action. Milliseconds of wall time."""
    from dyncontract.framework.construction.data import EVAL_SEED_BASE

    torch.set_num_threads(1)
    agent.eval()
    step_ms: list[float] = []
    episode_ms: list[float] = []
    episode_steps: list[int] = []
    for j in range(int(episodes)):
        env = _envs(levels[j % len(levels)], 1)[0]
        obs = _reset(env, int(rng.integers(EVAL_SEED_BASE)))
        h = agent.initial_state(1)
        previous = torch.full((1,), START, dtype=torch.long)
        total, n, done, instr = 0.0, 0, False, None
        while not done:
            t0 = time.perf_counter()
            with torch.no_grad():
                if instr is None:
                    tokens = torch.tensor([tokenize(obs["mission"]) or [1]], dtype=torch.long)
                    instr = agent.planning.encode(tokens)
                view = torch.from_numpy(obs["image"][None].copy())
                direction = torch.tensor([int(obs["direction"])])
                logits, h = agent.act(view, direction, previous, instr, h)
                a = int(_choose(logits, temperature, rng)[0])
                previous = torch.tensor([a])
            dt = (time.perf_counter() - t0) * 1e3
            step_ms.append(dt)
            total += dt
            n += 1
            obs, _, term, trunc, _ = env.step(a)
            done = term or trunc
        episode_ms.append(total)
        episode_steps.append(n)
    s, e = np.asarray(step_ms), np.asarray(episode_ms)
    return {
        "steps": float(s.size),
        "episodes": float(e.size),
        "step_ms_p50": float(np.percentile(s, 50)),
        "step_ms_p95": float(np.percentile(s, 95)),
        "step_ms_mean": float(s.mean()),
        "episode_ms_p50": float(np.percentile(e, 50)),
        "episode_ms_p95": float(np.percentile(e, 95)),
        "episode_ms_mean": float(e.mean()),
        "episode_steps_mean": float(np.mean(episode_steps)),
    }

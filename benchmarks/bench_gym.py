"""DMSAC, EDMSAC and SB3 SAC on gymnasium control tasks: mean return and updates per second.

Usage::

    .venv/bin/python benchmarks/bench_gym.py [--envs Pendulum-v1,MountainCarContinuous-v0]
        [--algos dmsac,edmsac,sac] [--seeds 3] [--steps N] [--config configs/edmsac-gym.yaml]
        [--eval-episodes 10] [--threads 1] [--set rl.key=value ...] [--json OUT]
    .venv/bin/python benchmarks/bench_gym.py --speed-ratio [--set ...] [--json OUT]

Budgets (env steps, equal for every algorithm): Pendulum-v1 20 000, MountainCarContinuous-v0
50 000 (``--steps`` overrides both). DMSAC/EDMSAC train with ``dyncontract``'s Trainer and
``--config`` (``--algo`` sets rl.algo); SAC is stable-baselines3's with its defaults. Every
final policy is scored the same way: the mean undiscounted return of ``--eval-episodes``
deterministic episodes (env seeds 10 000 + seed + k, the trainer's evaluator). Updates per
second = gradient updates / seconds spent inside the update calls (timed around
``EDMSAC.update`` and ``SAC.train``); wall seconds of the whole run are reported too. Runs are
sequential, so updates/s of different algorithms are only comparable on an otherwise idle
machine. The JSON holds the command, the git revision and one record per run plus a
summary (mean and std over seeds). ``--speed-ratio`` instead measures DMSAC's updates per second
relative to SB3 SAC's, interleaved in one process (see :func:`speed_ratio`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dyncontract.experiments.results_doc import git_revision

BUDGET = {"Pendulum-v1": 20_000, "MountainCarContinuous-v0": 50_000}


def run_dmsac(
    algo: str, env_id: str, steps: int, seed: int, config: str, episodes: int, extra: list[str]
) -> dict:
    from dyncontract.config import load_config, merge, parse_set
    from dyncontract.experiments.composition import build_trainer
    from dyncontract.rl.budget import Budget
    from dyncontract.rl.collectors import gym_maker
    from dyncontract.rl.evaluators import GymEvaluator

    rl: dict = {"algo": algo, "env_id": env_id, "eval_every_steps": steps}
    if algo == "dmsac":
        rl["prune_target"] = 0
    cfg = load_config(config, merge({"rl": rl}, parse_set(extra)))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        budget = Budget(steps=steps, eval_every_steps=steps)
        tr = build_trainer(cfg, d, budget, seed=seed, quiet=True)
        inner = tr.agent.update
        spent = [0.0]

        def timed(*a, **k):
            t = time.perf_counter()
            out = inner(*a, **k)
            spent[0] += time.perf_counter() - t
            return out

        tr.agent.update = timed  # type: ignore[method-assign]
        tr.train()
        wall = time.perf_counter() - t0
        ev = GymEvaluator(gym_maker(env_id), episodes, 10_000 + seed)
        ret = ev(tr.eval_policy())["return_mean"]
        n = tr.agent.n_updates
    return {"return_mean": ret, "updates": n, "update_s": spent[0], "wall_s": wall}


def run_sac(env_id: str, steps: int, seed: int, episodes: int) -> dict:
    import gymnasium as gym
    from stable_baselines3 import SAC

    t0 = time.perf_counter()
    model = SAC("MlpPolicy", gym.make(env_id), seed=seed, device="cpu", verbose=0)
    inner = model.train
    spent = [0.0]
    count = [0]

    def timed(gradient_steps: int, batch_size: int = 64) -> None:
        t = time.perf_counter()
        inner(gradient_steps=gradient_steps, batch_size=batch_size)
        spent[0] += time.perf_counter() - t
        count[0] += gradient_steps

    model.train = timed  # type: ignore[method-assign]
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - t0
    env = gym.make(env_id)
    rets = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed + ep)
        total, done = 0.0, False
        while not done:
            a, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, _ = env.step(a)
            total += float(r)
            done = term or trunc
        rets.append(total)
    return {
        "return_mean": float(np.mean(rets)),
        "updates": count[0],
        "update_s": spent[0],
        "wall_s": wall,
    }


def speed_ratio(config: str, overrides: list[str], reps: int = 6, block: int = 50) -> dict:
    """DMSAC updates per second relative to SB3 SAC's, measured interleaved in this process
    (``block`` DMSAC updates, then ``block`` SAC gradient steps, ``reps`` times; batch 256,
    Pendulum-v1 shapes, a filled replay buffer): valid on a loaded machine, unlike separate
    wall-clock timings."""
    import gymnasium as gym
    from stable_baselines3 import SAC

    from dyncontract.config import load_config, merge, parse_set
    from dyncontract.rl.buffer import Batch, ReplayBuffer
    from dyncontract.rl.edmsac import EDMSAC

    cfg = load_config(config, merge({"rl": {"algo": "dmsac"}}, parse_set(overrides))).rl
    torch.manual_seed(0)
    agent = EDMSAC(cfg, 3, 1, group=1)
    buf = ReplayBuffer(10_000, 3, 1, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    n = 5000
    buf.add(
        Batch(
            torch.randn(n, 3),
            torch.rand(n, 1) * 2 - 1,
            -torch.rand(n) * 10,
            torch.randn(n, 3),
            torch.zeros(n),
        )
    )
    sac = SAC("MlpPolicy", gym.make("Pendulum-v1"), verbose=0, seed=0, device="cpu")
    sac.learn(600)  # fills SAC's buffer

    def dm(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            agent.update(buf.sample(256, g), g, 0.5)
        return time.perf_counter() - t

    def sb(k: int) -> float:
        t = time.perf_counter()
        sac.train(gradient_steps=k, batch_size=256)
        return time.perf_counter() - t

    dm(10), sb(10)  # warm-up
    td = ts = 0.0
    for _ in range(reps):
        td += dm(block)
        ts += sb(block)
    k = reps * block
    return {"dmsac_updates_per_s": k / td, "sac_updates_per_s": k / ts, "ratio": ts / td}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default=",".join(BUDGET))
    ap.add_argument("--algos", default="dmsac,edmsac,sac")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    ap.add_argument("--seed-list", default=None, help="explicit comma-separated seeds")
    ap.add_argument("--steps", type=int, default=None, help="env steps for every env")
    ap.add_argument("--config", default="configs/edmsac-gym.yaml")
    ap.add_argument("--eval-episodes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--speed-ratio",
        action="store_true",
        help="only measure DMSAC/SAC updates per second interleaved (no training)",
    )
    ap.add_argument("--set", action="append", default=[], help="rl config overrides")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.speed_ratio:
        res = speed_ratio(args.config, args.set)
        res.update(
            command=" ".join([Path(sys.executable).name, *sys.argv]),
            git_revision=git_revision(Path(__file__).parent),
        )
        print(json.dumps(res))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        return
    seeds = (
        [int(s) for s in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    )
    runs = []
    for env_id in args.envs.split(","):
        steps = args.steps or BUDGET.get(env_id, 20_000)
        for algo in args.algos.split(","):
            for seed in seeds:
                if algo == "sac":
                    res = run_sac(env_id, steps, seed, args.eval_episodes)
                else:
                    res = run_dmsac(
                        algo, env_id, steps, seed, args.config, args.eval_episodes, args.set
                    )
                res.update(env=env_id, algo=algo, seed=seed, steps=steps)
                res["updates_per_s"] = res["updates"] / res["update_s"] if res["update_s"] else 0.0
                runs.append(res)
                print(json.dumps(res), flush=True)
    summary = []
    for env_id in args.envs.split(","):
        for algo in args.algos.split(","):
            rs = [r for r in runs if r["env"] == env_id and r["algo"] == algo]
            ret = [r["return_mean"] for r in rs]
            ups = [r["updates_per_s"] for r in rs]
            summary.append(
                {
                    "env": env_id,
                    "algo": algo,
                    "seeds": len(rs),
                    "return_mean": float(np.mean(ret)),
                    "return_std": float(np.std(ret)),
                    "return_min": float(np.min(ret)),
                    "return_max": float(np.max(ret)),
                    "updates_per_s": float(np.mean(ups)),
                }
            )
            print(json.dumps(summary[-1]), flush=True)
    out = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(Path(__file__).parent),
        "torch_threads": torch.get_num_threads(),
        "config": args.config,
        "runs": runs,
        "summary": summary,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Pendulum-v1 diagnostics of a trained DMSAC run (docs/edmsac.md, multi-step environments).

    python diag.py episodes RUN SEED N   # N deterministic episodes, env seeds 10000 + SEED + k
    python diag.py trajectory RUN EP     # one episode (env seed 10000 + EP): theta, theta', a
    python diag.py upright RUN           # actions at rest near the top: noise-free chain vs
                                         # 512 policy samples, and the torque that holds there

Actions are in [-1, 1] (torque / 2). Pendulum-v1: theta'' = 15 sin(theta) + 3 torque, so the
action that holds the pendulum still at theta is -15 sin(theta) / 6 ("hold").
"""

import sys

import gymnasium as gym
import numpy as np
import torch

from dyncontract.rl.evaluation import load_actor


def act(actor, obs: np.ndarray) -> np.ndarray:
    x = torch.as_tensor(obs[None], dtype=torch.float32)
    return actor.act(x, None, mode="deterministic", n=1)[0].numpy()


def episodes(actor, seed: int, n: int) -> None:
    env = gym.make("Pendulum-v1")
    rets = []
    for ep in range(n):
        obs, _ = env.reset(seed=10_000 + seed + ep)
        th0, thd0 = np.arctan2(obs[1], obs[0]), obs[2]
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step((2 * act(actor, obs)).astype(np.float32))
            total += float(r)
            done = term or trunc
        rets.append(total)
        print(f"{ep:2d} th0={th0:+.2f} thd0={thd0:+.2f} ret={total:8.1f}")
    print("mean", np.mean(rets))


def trajectory(actor, ep: int) -> None:
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=10_000 + ep)
    for t in range(200):
        a = act(actor, obs)
        if t % 8 == 0 or t < 12:
            th = np.arctan2(obs[1], obs[0])
            print(t, f"th={th:+.3f} thd={obs[2]:+.3f} a={a[0]:+.3f}")
        obs, *_ = env.step((2 * a).astype(np.float32))


def upright(actor) -> None:
    for th in [-0.3, -0.176, -0.1, 0.0, 0.1, 0.176, 0.3]:
        obs = torch.tensor([[np.cos(th), np.sin(th), 0.0]], dtype=torch.float32)
        det = actor.act(obs, None, mode="deterministic", n=1)[0, 0].item()
        gen = torch.Generator().manual_seed(0)
        s = actor(obs.repeat(512, 1), gen, mode="sample").action[:, 0]
        print(
            f"th={th:+.3f} det={det:+.3f} sample mean={s.mean():+.3f} "
            f"median={s.median():+.3f} std={s.std():.3f}  hold={-15 * np.sin(th) / 6:+.3f}"
        )


if __name__ == "__main__":
    what, run, *rest = sys.argv[1:]
    actor = load_actor(run)
    if what == "episodes":
        episodes(actor, int(rest[0]), int(rest[1]))
    elif what == "trajectory":
        trajectory(actor, int(rest[0]))
    else:
        upright(actor)

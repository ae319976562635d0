"""Single-coordinate scans from the policy's action: the best gain of moving one coordinate
(81 values in [-1, 1]) and of moving one period-1 item's (T1_k, R1_k) pair (41 x 41 grid).

Usage: PYTHONPATH=src python docs/data/menu_tuning/scan.py RUN
"""

import sys

import torch

from dyncontract.experiments.composition import contract_setting, load_run
from dyncontract.rl.evaluation import load_actor


def coordinate_names(K: int) -> list[str]:
    T2 = [f"T2_{l}{i}" for l in range(K) for i in range(K)]
    R2 = [f"R2_{l}{i}" for l in range(K) for i in range(K)]
    return [f"T1_{k}" for k in range(K)] + T2 + [f"R1_{k}" for k in range(K)] + R2


def main(run: str) -> None:
    cfg, _ = load_run(run)
    st = contract_setting(cfg)
    env, K = st.env, st.env.K
    actor = load_actor(run)
    names = coordinate_names(K)
    for s in range(3):
        obs = torch.as_tensor(st.held.obs[s : s + 1], dtype=torch.float32)
        opt = st.held.optimal_profit[s]

        def ratio(A: torch.Tensor, obs=obs, opt=opt) -> torch.Tensor:
            return env.step(obs.repeat(len(A), 1), A.float())["profit"] / opt

        a0 = actor.act(obs, mode="deterministic")[0].double()
        base = float(ratio(a0[None])[0])
        vals = torch.linspace(-1, 1, 81, dtype=torch.float64)
        A = a0.repeat(len(a0) * len(vals), 1)
        for d in range(len(a0)):
            A[d * len(vals) : (d + 1) * len(vals), d] = vals
        best = ratio(A).view(len(a0), len(vals)).max(1)
        gains = best.values - base
        top = [
            (names[i], round(float(gains[i]), 4), round(float(vals[best.indices[i]]), 2))
            for i in torch.argsort(gains, descending=True)[:6]
        ]
        print(f"state {s}: base {base:.4f}; best single-dim moves (name, gain, value):", top)
        g = torch.linspace(-1, 1, 41, dtype=torch.float64)
        TT, RR = torch.meshgrid(g, g, indexing="ij")
        best_pair = (0.0, None)
        for k in range(1, K):
            A2 = a0.repeat(41 * 41, 1)
            A2[:, k], A2[:, K + K * K + k] = TT.flatten(), RR.flatten()
            gain = float(ratio(A2).max()) - base
            if gain > best_pair[0]:
                best_pair = (gain, k)
        print("   best (T1_k, R1_k) pair move (gain, k):", best_pair)


if __name__ == "__main__":
    main(sys.argv[1])

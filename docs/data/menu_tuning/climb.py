"""Coordinate-wise hill climbing from the policy's action: 6 sweeps over all coordinates in
random order, 41 values each, keep the best; prints the ratio after each sweep.

Usage: PYTHONPATH=src python docs/data/menu_tuning/climb.py RUN
"""

import sys

import numpy as np
import torch

from dyncontract.experiments.composition import contract_setting, load_run
from dyncontract.rl.evaluation import load_actor


def main(run: str) -> None:
    cfg, _ = load_run(run)
    st = contract_setting(cfg)
    env = st.env
    actor = load_actor(run)
    rng = np.random.default_rng(0)
    vals = torch.linspace(-1, 1, 41, dtype=torch.float64)
    for s in range(4):
        obs = torch.as_tensor(st.held.obs[s : s + 1], dtype=torch.float32)
        opt = st.held.optimal_profit[s]

        def ratio(A: torch.Tensor, obs=obs, opt=opt) -> torch.Tensor:
            return env.step(obs.repeat(len(A), 1), A.float())["profit"].double() / opt

        a = actor.act(obs, mode="deterministic")[0].double()
        cur = float(ratio(a[None])[0])
        hist = [round(cur, 4)]
        for _ in range(6):
            for d in rng.permutation(len(a)):
                A = a.repeat(len(vals), 1)
                A[:, d] = vals
                p = ratio(A)
                j = int(p.argmax())
                if float(p[j]) > cur:
                    a, cur = A[j].clone(), float(p[j])
            hist.append(round(cur, 4))
        truthful = float(env.step(obs, a[None].float())["truthful_rate"][0])
        print(s, hist, "truthful", truthful)


if __name__ == "__main__":
    main(sys.argv[1])

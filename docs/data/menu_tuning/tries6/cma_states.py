"""Per-state CMA-ES (the package's ``cma`` baseline, env/menu_smooth.cma_search) on the first
``--states`` validation states with ``--evals`` hard-choice evaluations each.

usage (repository root, PYTHONPATH=src):
  python docs/data/menu_tuning/tries6/cma_states.py --payments rent --evals 20000
"""

import argparse

import numpy as np
import torch

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.distribution import EnvConfig
from dyncontract.env.heldout import HeldOutSet
from dyncontract.env.menu_smooth import cma_search
from dyncontract.model.scenario import Scenario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", default="rent")
    ap.add_argument("--evals", type=int, default=20_000)
    ap.add_argument("--states", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = Scenario.default()
    ho = HeldOutSet.build(base, EnvConfig(action_mode="menu"), split="validation")
    benv = BatchedContractEnv(base, EnvConfig(action_mode="menu", menu_payments=args.payments))
    S = args.states
    obs = torch.as_tensor(ho.obs[:S]).double()
    res = cma_search(benv, obs, evals=args.evals)
    ratio = res["profit"] / ho.optimal_profit[:S]
    out = benv.step(obs, res["actions"])
    static = ho.static_best_profit[:S] / ho.optimal_profit[:S]
    print(
        f"cma payments={args.payments} evals/state {args.evals} states {S}: ratio mean "
        f"{ratio.mean():.4f} p05 {np.percentile(ratio, 5):.4f} median {np.median(ratio):.4f} "
        f"min {ratio.min():.4f} truthful_rate {float(out['truthful_rate'].mean()):.3f} "
        f"beats_static_best {(ratio > static).mean():.3f} (static_best on these states: mean "
        f"{static.mean():.4f}, median {np.median(static):.4f})",
        flush=True,
    )


if __name__ == "__main__":
    main()

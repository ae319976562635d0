"""Per-state, model-free local search on the hard-choice profit: evolution strategies (ES).

For each of the first ``--states`` validation states, one menu action z (d = 60) is improved
by Adam on the antithetic ES estimate of the gradient of the Gaussian-smoothed profit,
g = mean_j (f(a + sigma e_j) - mean f) e_j / sigma, with ``--pairs`` pairs (+e, -e) per step.
Nothing but the env's reward (profit / optimum) of perturbed actions is used: the best a
model-free learner could do with a *perfect* local gradient estimate, without amortisation.
sigma and the learning rate go geometrically from their start to their end value.

usage (repository root, PYTHONPATH=src):
  python docs/data/menu_tuning/tries6/es_search.py --sigma0 0.1 --sigma1 0.01 --lr1 5e-4
"""

import argparse

import numpy as np
import torch

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.distribution import EnvConfig
from dyncontract.env.heldout import HeldOutSet
from dyncontract.env.menu_smooth import hard_profit
from dyncontract.model.scenario import Scenario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigma0", type=float, default=0.1)
    ap.add_argument("--sigma1", type=float, default=None, help="end sigma (default: sigma0)")
    ap.add_argument("--lr0", type=float, default=0.02)
    ap.add_argument("--lr1", type=float, default=None, help="end learning rate (default: lr0)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--start", type=float, default=0.0, help="initial payment coordinates")
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--payments", default="rent")
    args = ap.parse_args()
    s1 = args.sigma0 if args.sigma1 is None else args.sigma1
    l1 = args.lr0 if args.lr1 is None else args.lr1
    torch.set_num_threads(1)
    base = Scenario.default()
    ho = HeldOutSet.build(base, EnvConfig(action_mode="menu"), split="validation")
    benv = BatchedContractEnv(base, EnvConfig(action_mode="menu", menu_payments=args.payments))
    S, K, d = args.states, benv.K, benv.act_dim
    obs = torch.as_tensor(ho.obs[:S]).double()
    opt = torch.as_tensor(ho.optimal_profit[:S])
    z = torch.zeros(S, d, dtype=torch.float64)
    z[:, K + K * K :] = args.start
    z.requires_grad_(True)
    adam = torch.optim.Adam([z], lr=args.lr0)
    gen = torch.Generator().manual_seed(0)
    obs_rep = obs.repeat_interleave(2 * args.pairs, 0)
    curve = []
    for it in range(args.steps + 1):
        frac = it / args.steps
        sigma = args.sigma0 * (s1 / args.sigma0) ** frac
        with torch.no_grad():
            a = z.clamp(-1.0, 1.0)
            if it % (args.steps // 10) == 0:
                curve.append(float((hard_profit(benv, obs, a) / opt).mean()))
            if it == args.steps:
                break
            eps = torch.randn(S, args.pairs, d, generator=gen, dtype=torch.float64)
            eps = torch.cat([eps, -eps], 1)
            A = (a[:, None, :] + sigma * eps).clamp(-1.0, 1.0).reshape(-1, d)
            f = hard_profit(benv, obs_rep, A).view(S, -1) / opt[:, None]
            grad = ((f - f.mean(1, keepdim=True))[..., None] * eps).mean(1) / sigma
        for group in adam.param_groups:
            group["lr"] = args.lr0 * (l1 / args.lr0) ** frac
        z.grad = -grad
        adam.step()
    with torch.no_grad():
        a = z.clamp(-1.0, 1.0)
        ratio = (hard_profit(benv, obs, a) / opt).numpy()
        out = benv.step(obs, a)
    static = ho.static_best_profit[:S] / ho.optimal_profit[:S]
    print(
        f"es payments={args.payments} sigma {args.sigma0}->{s1} lr {args.lr0}->{l1} "
        f"steps {args.steps} evals/state {args.steps * 2 * args.pairs} start {args.start}: "
        f"ratio mean {ratio.mean():.4f} p05 {np.percentile(ratio, 5):.4f} median "
        f"{np.median(ratio):.4f} truthful_rate {float(out['truthful_rate'].mean()):.3f} "
        f"beats_static_best {(ratio > static).mean():.3f} "
        f"curve {' '.join(f'{c:.3f}' for c in curve)}",
        flush=True,
    )


if __name__ == "__main__":
    main()

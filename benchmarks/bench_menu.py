"""Menu-mode reference numbers (numbers go to docs/env.md).

Usage:  .venv/bin/python benchmarks/bench_menu.py WHAT [--payments rent|free] [options]

WHAT: ``ref`` (the exact optimum and the static contract offered as menus, best of N random
menus), ``perstate`` (direct_smooth, one action per state, restarts), ``amortised``
(direct_smooth, an MLP), ``cma`` (CMA-ES per state). Ratios are menu profit / exact
optimum on 32 default market states (seed 777), scored with the hard choice rule.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dyncontract.env import BatchedContractEnv, EnvConfig
from dyncontract.env.menu_smooth import cma_search, direct_smooth, hard_profit
from dyncontract.model import Scenario
from dyncontract.model.choice import expected_profit_np
from dyncontract.solvers import solve_dynamic, static_contract


def report(name: str, prof: np.ndarray, opt: np.ndarray, extra: str = "") -> None:
    r = prof / opt[: prof.size]
    q = np.percentile(r, 5)
    print(f"{name}: mean {r.mean():.4f} p05 {q:.4f} min {r.min():.4f} {extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["ref", "perstate", "amortised", "cma"])
    ap.add_argument("--payments", default="rent", choices=["rent", "free"])
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--updates", type=int, default=1500)
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--evals", type=int, default=20_000)
    ap.add_argument("--random", type=int, default=20_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    benv = BatchedContractEnv(
        Scenario.default(), EnvConfig(action_mode="menu", menu_payments=args.payments)
    )
    rng = np.random.default_rng(777)
    obs = torch.as_tensor(benv.dist.sample(32, rng))[: args.states]
    scs = benv.dist.scenarios(obs.numpy())
    res = [solve_dynamic(s) for s in scs]
    opt = np.array([r.profit for r in res])
    n = obs.shape[0]
    t = time.perf_counter()
    if args.what == "ref":
        for name, cs in (("optimum", [r.contract for r in res]), ("static", None)):
            if cs is None:
                cs = [static_contract(s).contract for s in scs]
            vals = [
                expected_profit_np(c.T1, c.R1, c.T2, c.R2, s) for c, s in zip(cs, scs, strict=True)
            ]
            report(f"{name} as a menu", np.array(vals), opt)
        best = np.full(n, -np.inf)
        chunk = 2000
        for _ in range(max(1, args.random // chunk)):
            A = torch.as_tensor(rng.uniform(-1, 1, (n * chunk, benv.act_dim)))
            pr = hard_profit(benv, obs.repeat_interleave(chunk, 0), A).numpy()
            best = np.maximum(best, pr.reshape(n, chunk).max(1))
        report(f"random, best of {args.random} ({args.payments})", best, opt)
    elif args.what == "perstate":
        r = args.restarts
        out = direct_smooth(
            benv, max_updates=args.updates, amortised=False, states=obs.repeat(r, 1),
            lr=args.lr or 0.02, eval_every=10,
        )  # fmt: skip
        pr = hard_profit(benv, obs.repeat(r, 1), out.act(obs)).numpy().reshape(r, n).max(0)
        extra = f"({out.updates} updates, {out.seconds:.1f} s for {n} states x {r} restarts)"
        report(f"direct_smooth per state ({args.payments})", pr, opt, extra)
    elif args.what == "amortised":
        out = direct_smooth(benv, max_updates=args.updates, lr=args.lr or 1e-3)
        st = benv.step(obs, out.act(obs))
        extra = (
            f"(truthful_rate {st['truthful_rate'].mean():.3f}, {out.updates} updates, "
            f"{out.samples} samples, {out.seconds:.0f} s)"
        )
        report(f"direct_smooth amortised ({args.payments})", st["profit"].numpy(), opt, extra)
    else:
        out = cma_search(benv, obs, evals=args.evals)
        extra = f"({args.evals} evals, {out['seconds'].mean():.1f} s per state)"
        report(f"cma ({args.payments})", out["profit"], opt, extra)
    print(f"[{time.perf_counter() - t:.0f} s]")


if __name__ == "__main__":
    main()

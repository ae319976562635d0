"""Scoring contract policies on held-out market states, and choosing among candidates.

* :class:`ContractEvaluator` — optimality ratio of a policy's contracts on a
  :class:`~dyncontract.env.heldout.HeldOutSet` (an infeasible contract scores ratio 0);
* :func:`best_feasible` — per state, the most profitable feasible contract among candidates
  (the CS knows its own profit and the IR/IC constraints);
* :func:`contract_eval_policy` — the deployment policy of a diffusion actor on the contract
  env for each ``rl.eval_action`` (``best_feasible`` adds the candidate selection above).

A policy maps observations (n, obs_dim) to actions (n, act_dim) in [-1, 1] (torch tensors).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.heldout import HeldOutSet

Policy = Callable[[torch.Tensor], torch.Tensor]
#: ``act(obs, mode, n)``: an actor's output in a mode (deterministic | mean | sample).
ActFn = Callable[[torch.Tensor, str, int], torch.Tensor]


@torch.no_grad()
def best_feasible(
    env: BatchedContractEnv, obs: torch.Tensor, candidates: torch.Tensor
) -> torch.Tensor:
    """Per state, the candidate contract with the highest profit among the feasible ones (the
    one with the smallest violation when none is). candidates (C, B, A) -> actions (B, A)."""
    C, B, A = candidates.shape
    out = env.step(obs.repeat(C, 1), candidates.reshape(C * B, A))
    profit = out["profit"].view(C, B).to(torch.float64)
    feasible = out["feasible"].view(C, B)
    violation = out["max_violation"].view(C, B).to(torch.float64)
    score = torch.where(feasible, profit, -1e12 - violation)
    idx = score.argmax(dim=0)
    return candidates[idx, torch.arange(B, device=candidates.device)]


def contract_eval_policy(act: ActFn, mode: str, n: int, env: BatchedContractEnv) -> Policy:
    """The deployment policy for ``rl.eval_action = mode``.

    ``best_feasible``: among the mean action, the noise-free chain and ``n`` sampled contracts,
    the feasible one with the highest CS profit. Other modes: the actor's output.
    """
    if mode != "best_feasible":
        return lambda obs: act(obs, mode, n)

    def policy(obs: torch.Tensor) -> torch.Tensor:
        cands = [act(obs, "mean", n), act(obs, "deterministic", n)]
        cands += [act(obs, "sample", n) for _ in range(n)]
        return best_feasible(env, obs, torch.stack(cands))

    return policy


class ContractEvaluator:
    """Optimality ratio of the policy's contracts on a fixed held-out set of market states."""

    def __init__(self, env: BatchedContractEnv, held: HeldOutSet, device: torch.device) -> None:
        self.env = env
        self.held = held
        self.obs = torch.as_tensor(held.obs, dtype=torch.float32, device=device)

    @torch.no_grad()
    def __call__(self, policy: Policy) -> dict[str, float]:
        return self.score_actions(policy(self.obs))

    @torch.no_grad()
    def score_actions(self, act: torch.Tensor) -> dict[str, float]:
        """Metrics of the actions (n_states, act_dim) taken on the held-out states."""
        out = self.env.step(self.obs, act)
        profit = out["profit"].detach().cpu().numpy()
        feasible = out["feasible"].detach().cpu().numpy()
        opt = np.asarray(self.held.optimal_profit, float)
        stat = np.asarray(self.held.static_profit, float)
        # an infeasible contract earns nothing it can claim: its ratio counts as 0
        ratio = np.where(feasible, profit / opt, 0.0)
        return {
            "optimality_ratio": float(ratio.mean()),
            "optimality_ratio_p05": float(np.quantile(ratio, 0.05)),
            "feasible_rate": float(feasible.mean()),
            "profit_mean": float(profit[feasible].mean()) if feasible.any() else float("nan"),
            "beats_static_rate": float((feasible & (profit > stat)).mean()),
            "eval_reward": float(out["reward"].mean().item()),
        }

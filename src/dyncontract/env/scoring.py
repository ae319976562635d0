"""The scoring protocol every method is scored by, on held-out market states, in one place.

A method hands the evaluator a :class:`ScoredPolicy`:

* ``single(obs) -> actions`` — one action per state, the method's own deterministic output
  (diffusion learners: the noise-free chain; SB3: ``predict(deterministic=True)``; non-RL
  baselines: their output). This is the **primary** number everywhere.
* ``sample(obs, n) -> candidates (n, B, A)`` — the method's own sampling (diffusion chains;
  SAC's Gaussian; the single action plus Gaussian noise for deterministic methods). For
  ``best_of_n`` the single action and ``BEST_OF_N - 1`` samples are each scored with the
  model and the most profitable feasible one is deployed (:func:`best_feasible`): a second
  column, never the only one.

**One rule for an infeasible contract** (IR/IC violated, or workloads the least-payment map
cannot implement): it earns nothing the CS can claim — ratio 0 and profit 0 — and every
average is over **all** states. In menu mode every menu's profit counts: it is what the ESs'
own choices bring; the share of types that pick their own item is ``truthful_*``.
``beats_static_best`` is the share of states where the
contract is feasible and earns more than the best static contract of that state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.heldout import HeldOutSet

Policy = Callable[[torch.Tensor], torch.Tensor]
Sampler = Callable[[torch.Tensor, int], torch.Tensor]
#: ``act(obs, mode, n)``: an actor's output in a mode (deterministic | mean | sample).
ActFn = Callable[[torch.Tensor, str, int], torch.Tensor]

#: Candidates per state in ``best_of_n`` (the single action + 15 samples).
BEST_OF_N = 16
#: Gaussian noise (in the [-1, 1] action box) of the samples of deterministic methods.
NOISE_STD = 0.1


@dataclass
class ScoredPolicy:
    """A method's policy as the protocol scores it (see the module docstring)."""

    single: Policy
    sample: Sampler | None = None

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.single(obs)


def noisy_sampler(single: Policy, std: float = NOISE_STD, seed: int = 0) -> Sampler:
    """Samples of a deterministic method: its action plus N(0, std^2) noise, clipped."""
    gen = torch.Generator().manual_seed(seed)

    def sample(obs: torch.Tensor, n: int) -> torch.Tensor:
        a = single(obs).to(torch.float64).cpu()
        z = torch.randn((n, *a.shape), generator=gen, dtype=torch.float64)
        return (a[None] + std * z).clamp(-1.0, 1.0)

    return sample


def actor_policy(act: ActFn, samples_mode: str = "sample") -> ScoredPolicy:
    """A stochastic actor (diffusion or Gaussian): single = noise-free output; samples = its
    own samples."""
    return ScoredPolicy(
        single=lambda obs: act(obs, "deterministic", 1),
        sample=lambda obs, n: torch.stack([act(obs, samples_mode, 1) for _ in range(n)]),
    )


@torch.no_grad()
def best_feasible(
    env: BatchedContractEnv, obs: torch.Tensor, candidates: torch.Tensor
) -> torch.Tensor:
    """Per state, the candidate contract with the highest profit among the feasible ones (the
    one with the smallest violation when none is). candidates (C, B, A) -> actions (B, A)."""
    C, B, A = candidates.shape
    out = env.step(obs.repeat(C, 1), candidates.reshape(C * B, A), count=False)
    profit = out["profit"].view(C, B).to(torch.float64)
    feasible = _counts(env, out).view(C, B)
    violation = out["max_violation"].view(C, B).to(torch.float64)
    score = torch.where(feasible, profit, -1e12 - violation)
    idx = score.argmax(dim=0)
    return candidates[idx, torch.arange(B, device=candidates.device)]


def _counts(env: BatchedContractEnv, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """Whether each contract's profit counts: a feasible contract in the structured and raw
    modes; every menu in menu mode, whose profit already follows the ESs' own choices (a
    non-truthful menu still earns what the choices bring)."""
    if env.mode == "menu":
        return torch.ones_like(out["feasible"], dtype=torch.bool)
    return out["feasible"]


def contract_eval_policy(act: ActFn, mode: str, n: int, env: BatchedContractEnv) -> Policy:
    """A deployment policy by ``rl.eval_action``: the actor's output, or (``best_feasible``)
    the most profitable feasible contract among the mean action, the noise-free chain and
    ``n`` sampled contracts (used by ``evaluate --eval-action`` and the F3 points)."""
    if mode != "best_feasible":
        return lambda obs: act(obs, mode, n)

    def policy(obs: torch.Tensor) -> torch.Tensor:
        cands = [act(obs, "mean", n), act(obs, "deterministic", n)]
        cands += [act(obs, "sample", n) for _ in range(n)]
        return best_feasible(env, obs, torch.stack(cands))

    return policy


def score_profits(
    profit: np.ndarray, feasible: np.ndarray, held: HeldOutSet, suffix: str
) -> dict[str, float]:
    """The protocol's metrics of per-state profits (infeasible: ratio 0, profit 0)."""
    profit = np.where(feasible, np.asarray(profit, float), 0.0)
    ratio = profit / np.asarray(held.optimal_profit, float)
    out = {
        f"ratio_{suffix}": float(ratio.mean()),
        f"ratio_{suffix}_p05": float(np.quantile(ratio, 0.05)),
        f"ratio_{suffix}_median": float(np.median(ratio)),
        f"feasible_{suffix}": float(np.mean(feasible)),
        f"profit_{suffix}": float(profit.mean()),
    }
    if held.static_best_profit is not None:
        beats = feasible & (profit > np.asarray(held.static_best_profit) + 1e-9)
        out[f"beats_static_best_{suffix}"] = float(beats.mean())
    return out


class ContractEvaluator:
    """Scores a policy on the held-out states by the protocol (module docstring)."""

    #: the metric progress bars and summaries lead with
    primary = "ratio_single"

    def __init__(
        self,
        env: BatchedContractEnv,
        held: HeldOutSet,
        device: torch.device | str = "cpu",
        best_of: int = BEST_OF_N,
    ) -> None:
        self.env = env
        self.held = held
        self.best_of = best_of
        self.obs = torch.as_tensor(held.obs, dtype=torch.float32, device=device)

    @torch.no_grad()
    def __call__(self, policy: Policy) -> dict[str, float]:
        single = policy(self.obs)
        res = self.score_actions(single, "single")
        sampler = getattr(policy, "sample", None)
        if sampler is not None and self.best_of > 1:
            cands = sampler(self.obs, self.best_of - 1).to(single.device, single.dtype)
            chosen = best_feasible(self.env, self.obs, torch.cat([single[None], cands]))
            res.update(self.score_actions(chosen, "best_of_n"))
        out = self.env.step(self.obs, single, count=False)
        res["eval_reward"] = float(out["reward"].mean().item())
        return res

    @torch.no_grad()
    def score_actions(self, act: torch.Tensor, suffix: str = "single") -> dict[str, float]:
        """Metrics of the actions (n_states, act_dim) taken on the held-out states."""
        out = self.env.step(self.obs, act, count=False)
        profit = out["profit"].detach().cpu().numpy()
        res = score_profits(profit, _counts(self.env, out).cpu().numpy(), self.held, suffix)
        if "truthful_rate" in out:  # menu mode: who picks their own item, reported apart
            res[f"truthful_{suffix}"] = float(out["truthful_rate"].float().mean().item())
            # "feasible" in menu mode: every type picks its own item and nobody declines
            res[f"feasible_{suffix}"] = float(out["feasible"].float().mean().item())
        return res

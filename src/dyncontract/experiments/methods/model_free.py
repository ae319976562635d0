"""The model-free menu setting: a CS that does not know the market's types.

Defined once here; every method of the model-free benchmark (registry names ending in
``_free``, and ``estimate_solve``) runs in it, and it is what ``docs/experiments.md`` calls
"the model-free setting":

* **what the CS posts**: a whole menu per market state (``env.action_mode: menu``), payments
  set directly in money (``env.menu_payments: free``: R = R_max (a + 1) / 2, R_max the CS's
  own largest valuation of a module). The ``rent`` payments of the other menu-mode rows price
  each item at its intended type's true cost, i.e. they hand the policy θ; here nothing does.
* **what it observes**: the market state (p, Q, ξ) and, for each posted menu, the outcome of
  ``env.menu_population`` ESs (default ``scenario.n_es`` = 20) drawn from p and Q: the
  realised average profit (``env.menu_reward: sampled``, the reward of the learners) and,
  where a method uses them, the items each sampled ES took or that it declined (the env's
  ``picks``). Not their types.
* **what it does not know**: θ (the types' willingness) and so each type's cost; the energy
  accounting (κ, τ, the workload → energy map) and its own valuation are known.
* **sample accounting**: one posted menu to a population of ``env.menu_population`` ESs = one
  sample, for every method; the env counts them itself
  (:attr:`~dyncontract.env.batched.BatchedContractEnv.samples`); scoring on held-out states
  does not count.
* **scoring**: as every method of the project — the exact expected profit under the hard
  choice rule on the 256 test states, over the exact optimum (which the CS never sees).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dyncontract.env import ScoredPolicy
from dyncontract.experiments.methods.base import MethodContext

#: the config overrides that make the model-free setting (merged into each method's config)
MODEL_FREE: dict[str, Any] = {
    "env": {"action_mode": "menu", "menu_payments": "free", "menu_reward": "sampled"}
}

#: the sample budgets at which the non-learning model-free methods report a curve point
#: (learners report every ``eval_every_steps`` samples); capped by the run's budget
CURVE_BUDGETS = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_200_000)


def free(algo: str | None = None) -> dict[str, Any]:
    """Config overrides of a model-free method (with ``rl.algo`` for the learners)."""
    cfg: dict[str, Any] = {"env": dict(MODEL_FREE["env"])}
    if algo is not None:
        cfg["rl"] = {"algo": algo}
    return cfg


def curve_budgets(total: int | None, budgets: tuple[int, ...] = CURVE_BUDGETS) -> list[int]:
    """The curve's budgets up to ``total`` samples (``total`` itself included last)."""
    if total is None:
        return list(budgets)
    out = [b for b in budgets if b < total]
    return [*out, int(total)]


def start_action(act_dim: int, K: int, payment: float = -0.8) -> np.ndarray:
    """The searches' starting menu: every workload T_max / 2 (action 0) and every payment at
    action ``payment`` (-0.8: R = 0.1 R_max), the start of the ``cma`` baseline too."""
    x0 = np.zeros(act_dim)
    x0[K + K * K :] = payment
    return x0


def test_row(
    ctx: MethodContext, samples: int, t0: float, actions: torch.Tensor, **extra: Any
) -> dict[str, Any]:
    """A curve row: the test states' single-action metrics of ``actions`` (one per test
    state) as ``test_<metric>``, at ``samples`` samples (scored without counting)."""
    ev = ctx.test.evaluator.score_actions(actions)
    return {
        "step": int(samples),
        "wall_s": time.perf_counter() - t0,
        "samples": int(samples),
        "updates": 0,
        **{f"test_{k}": v for k, v in ev.items()},
        **extra,
    }


def finish_per_state(ctx: MethodContext, actions: torch.Tensor) -> None:
    """Final scores of a method that answers the test states one by one (no best of N: its
    candidates would be selected with the model, which the CS does not have)."""

    def single(o: torch.Tensor) -> torch.Tensor:
        assert o.shape[0] == actions.shape[0], "scored on the states it answered"
        return actions

    ctx.finish(ScoredPolicy(single))
